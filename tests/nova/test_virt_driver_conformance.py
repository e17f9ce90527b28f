"""nova 34's own virt driver harness (``_VirtDriverTestCase``) on our driver.

The harness is a smoke test of the ``ComputeDriver`` interface: each test
calls driver methods with nova's test objects, and a ``NotImplementedError``
is only logged (``catch_notimplementederror``).  It runs against a fresh
emulated Hyper-V host per test.  The harness's network info is an Open
vSwitch VIF; the driver plugs only ``hyperv`` VIFs (what neutron's hyperv
mechanism driver binds), so the running instance it makes is given a
``hyperv`` VIF instead.  What the driver does to the host is checked in
``test_driver.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

import nova.test
from nova.tests.unit import utils as test_utils
from nova.tests.unit.virt import test_virt_drivers as tvd

from winstackers.cim.connect import forget_shared_hosts


class HyperVDriverConformance(tvd._VirtDriverTestCase, nova.test.TestCase):  # type: ignore[misc]
    """nova's driver tests, on an emulated Hyper-V host."""

    def setUp(self) -> None:
        self.driver_module = "winstackers.nova.driver.HyperVDriver"
        super().setUp()
        self.flags(url=f"emulator://nova-{uuid.uuid4().hex[:8]}", group="hyperv_host")
        self.addCleanup(forget_shared_hosts)
        self.addCleanup(self.connection.cleanup_host, "myhostname")

    def _get_running_instance(self, obj: bool = True) -> tuple[Any, Any]:
        instance_ref = test_utils.get_test_instance(obj=obj)
        network_info = test_utils.get_test_network_info()
        for vif in network_info:
            vif["type"] = "hyperv"
        image_meta = test_utils.get_test_image_object(None, instance_ref)
        self.connection.spawn(self.ctxt, instance_ref, image_meta, [], "herp", {},
                              network_info=network_info)
        return instance_ref, network_info

    def test_live_migration(self) -> None:
        self.skipTest("live migration is not implemented by the Hyper-V driver yet "
                      "(nova's own base-driver case skips it too)")

    def test_live_migration_force_complete(self) -> None:
        self.skipTest("live migration is not implemented by the Hyper-V driver yet; the "
                      "harness also reaches into libvirt's active_migrations attribute")
