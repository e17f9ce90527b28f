"""nova 34's own virt driver harness (``_VirtDriverTestCase``) on our driver.

The harness is a smoke test of the ``ComputeDriver`` interface: each test
calls driver methods with nova's test objects, and a ``NotImplementedError``
is only logged (``catch_notimplementederror``).  It runs against a fresh
emulated Hyper-V host per test.  The harness's network info is an Open
vSwitch VIF; the driver plugs only ``hyperv`` VIFs (what neutron's hyperv
mechanism driver binds), so the running instance it makes is given a
``hyperv`` VIF instead.  The harness's image (GlanceFixture's image4) is
an ``ami`` image, which the driver refuses (Hyper-V boots only vhd and
vhdx): it is replaced, under the same id and name, by a vhdx image of
1 GiB whose data the emulated host reads as such; the refusal of other
formats is checked in ``test_disks.py``.  The host keeps its files in a
temporary directory (``files=``).  What the driver does to the host is
checked in ``test_driver.py`` and ``test_disks.py``.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

import fixtures
import nova.test
from nova import objects
from nova.tests.unit import utils as test_utils
from nova.tests.unit.virt import test_virt_drivers as tvd

from winstackers.cim.connect import forget_shared_hosts
from winstackers.emulator.hyperv.filesroot import image_bytes

#: The harness's image (test_utils.get_test_instance's image_ref).
HARNESS_IMAGE = "cedef40a-ed67-4d10-800e-17455edce175"


class HyperVDriverConformance(tvd._VirtDriverTestCase, nova.test.TestCase):  # type: ignore[misc]
    """nova's driver tests, on an emulated Hyper-V host."""

    def setUp(self) -> None:
        self.driver_module = "winstackers.nova.driver.HyperVDriver"
        super().setUp()
        files = self.useFixture(fixtures.TempDir()).path
        self.flags(url=f"emulator://nova-{uuid.uuid4().hex[:8]}?files={files}",
                   group="hyperv_host")
        self._use_a_vhdx_image(HARNESS_IMAGE)
        self.addCleanup(forget_shared_hosts)
        self.addCleanup(self.connection.cleanup_host, "myhostname")

    def _use_a_vhdx_image(self, image_id: str) -> None:
        """Replace the harness's image by a vhdx one, same id and name."""
        glance = self.image_service
        image = glance.show(self.ctxt, image_id)
        glance.delete(self.ctxt, image_id)
        data = image_bytes("vhdx", 1024 ** 3)
        glance.create(self.ctxt, {**image, "disk_format": "vhdx", "container_format": "bare",
                                  "size": len(data)}, data=io.BytesIO(data))

    def _get_running_instance(self, obj: bool = True) -> tuple[Any, Any]:
        instance_ref = test_utils.get_test_instance(obj=obj)
        network_info = test_utils.get_test_network_info()
        for vif in network_info:
            vif["type"] = "hyperv"
        image_meta = test_utils.get_test_image_object(None, instance_ref)
        self.connection.spawn(self.ctxt, instance_ref, image_meta, [], "herp", {},
                              network_info=network_info)
        return instance_ref, network_info

    @tvd.catch_notimplementederror  # type: ignore[misc]
    def test_unrescue_rescued_instance(self) -> None:
        """The harness's test, without its mock of ``os.unlink`` (for
        libvirt's rescue files), which keeps the driver's temporary image
        download folder from being removed."""
        instance_ref, network_info = self._get_running_instance()
        self.connection.rescue(self.ctxt, instance_ref, network_info,
                               objects.ImageMeta.from_dict({}), "", None,
                               objects.ShareMappingList())
        self.connection.unrescue(self.ctxt, instance_ref)

    def test_live_migration(self) -> None:
        self.skipTest("live migration is not implemented by the Hyper-V driver yet "
                      "(nova's own base-driver case skips it too)")

    def test_live_migration_force_complete(self) -> None:
        self.skipTest("live migration is not implemented by the Hyper-V driver yet; the "
                      "harness also reaches into libvirt's active_migrations attribute")
