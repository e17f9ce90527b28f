"""The compute driver's disks, judged by what they leave on the emulated
host and in its files root: the image cache (downloaded once), the root
disk (a differencing child of the cached image, grown to the flavor's
root_gb), the ephemeral disk, the config drive ISO, the instance folder
removed by destroy; a qcow2 image refused before anything is made.  The
last tests go through SMB: a private smbd exports the emulated host's
instances folder, as a Windows host's share would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fixtures
import nova.test
import pytest
from nova import exception, objects
from nova.conf import CONF
from nova.network import model as network_model
from nova.tests.unit import utils as test_utils
from nova.virt import fake
from sqlalchemy.exc import SADeprecationWarning

from winstackers.cim import connect
from winstackers.cim.connect import forget_shared_hosts
from winstackers.files import SmbChannel
from winstackers.files.samba import SambaServer, SambaUnavailable, private_samba
from winstackers.hyperv.diskinfo import Controller, DiskFormat, DiskType, Media
from winstackers.hyperv.disks import Images, VmStorage
from winstackers.nova.driver import HyperVDriver

from .images import GIB, Glance
from .test_driver import Lab, vif

INSTANCES = "C:\\OpenStack\\Instances"
REQUIRED = os.environ.get("WINSTACKERS_REQUIRE_FUNCTIONAL", "") not in ("", "0")


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    made = Lab(tmp_path, monkeypatch)
    yield made
    made.close()


def on_disk(root: Path, host_path: str) -> Path:
    """Where the emulated host keeps *host_path* in its files root."""
    drive, rest = host_path.split(":\\", 1)
    return root.joinpath(drive, *rest.split("\\"))


def folder_of(instance: Any) -> str:
    return f"{INSTANCES}\\{instance.uuid}"


# -- the image cache ---------------------------------------------------------------------
def test_an_image_is_downloaded_once_and_shared_by_instances(lab: Lab) -> None:
    image = lab.glance.add("vhdx", size=2 * GIB)
    first, second = lab.instance(), lab.instance()
    lab.spawn(first, image=image)
    lab.spawn(second, image=image)

    assert lab.glance.downloads == [image.id]
    cached = f"{INSTANCES}\\_base\\{image.id}.vhdx"
    assert on_disk(lab.files_root, cached).is_file()
    images = Images(lab.session)
    for instance in (first, second):
        root = images.info(f"{folder_of(instance)}\\root.vhdx")
        assert (root.type, root.parent, root.size_bytes) == (DiskType.DIFFERENCING, cached,
                                                             2 * GIB)


def test_concurrent_spawns_of_one_image_download_it_once(lab: Lab,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    image = lab.glance.add("vhdx")
    real = lab.glance.fixture.download

    def slow(context: Any, image_id: str, **kwargs: Any) -> Any:
        time.sleep(0.3)  # both spawns reach the cache while the first downloads
        return real(context, image_id, **kwargs)

    monkeypatch.setattr(lab.glance.fixture, "download", slow)
    instances = [lab.instance(), lab.instance()]
    errors: list[BaseException] = []

    def spawn(instance: Any) -> None:
        try:
            lab.spawn(instance, image=image)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=spawn, args=(i,)) for i in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert lab.glance.downloads == [image.id]
    assert sorted(lab.driver.list_instance_uuids()) == sorted(i.uuid for i in instances)


def test_cache_image_precaches_once(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    image = lab.glance.add("vhdx")
    monkeypatch.setattr("nova.image.glance.API.get",
                        lambda api, context, image_id: lab.glance.fixture.show(context, image_id))
    assert lab.driver.cache_image(None, image.id) is True
    assert lab.driver.cache_image(None, image.id) is False
    lab.spawn(lab.instance(), image=image)
    assert lab.glance.downloads == [image.id]


@pytest.mark.parametrize("disk_format", ["qcow2", "raw", "ami", None])
def test_an_image_that_is_not_vhd_or_vhdx_is_refused_before_anything_is_made(
        lab: Lab, disk_format: str | None) -> None:
    image = lab.glance.add(disk_format or "qcow2")
    if disk_format is None:
        image.obj_reset_changes()
        delattr(image, "disk_format")
    instance = lab.instance()
    with pytest.raises(exception.ImageUnacceptable,
                       match=f"disk_format {disk_format!r}: the Hyper-V driver boots vhd and "
                             "vhdx images only"):
        lab.spawn(instance, image=image)
    assert lab.glance.downloads == []
    assert lab.driver.list_instances() == []
    assert not (lab.files_root / "C").exists()


# -- the root disk --------------------------------------------------------------------------
@pytest.mark.parametrize(("machine", "controller"), [("hyperv-gen2", Controller.SCSI),
                                                       ("hyperv-gen1", Controller.IDE)])
def test_the_root_disk_is_grown_to_root_gb_and_attached_first(
        lab: Lab, machine: str, controller: Controller) -> None:
    image = lab.glance.add("vhdx", size=GIB, properties={"hw_machine_type": machine})
    instance = lab.instance(root_gb=10)
    lab.spawn(instance, image=image, power_on=False)

    root = f"{folder_of(instance)}\\root.vhdx"
    info = Images(lab.session).info(root)
    assert (info.format, info.type, info.size_bytes) == (DiskFormat.VHDX, DiskType.DIFFERENCING,
                                                         10 * GIB)
    [disk] = VmStorage(lab.session).list_all(instance.name)
    assert (disk.path, disk.media, disk.controller, disk.controller_number, disk.slot) == (
        root, Media.DISK, controller, 0, 0)
    assert on_disk(lab.files_root, root).is_file()


def test_a_vhd_image_grows_through_a_grown_copy_of_its_base(lab: Lab) -> None:
    """A differencing VHD cannot grow: the cache keeps the base grown."""
    image = lab.glance.add("vhd", size=GIB)
    small, large = lab.instance(root_gb=0), lab.instance(root_gb=5)
    lab.spawn(small, image=image)
    lab.spawn(large, image=image)

    images = Images(lab.session)
    base = f"{INSTANCES}\\_base\\{image.id}"
    small_root = images.info(f"{folder_of(small)}\\root.vhd")
    large_root = images.info(f"{folder_of(large)}\\root.vhd")
    assert (small_root.format, small_root.parent, small_root.size_bytes) == (
        DiskFormat.VHD, f"{base}.vhd", GIB)
    assert (large_root.parent, large_root.size_bytes) == (f"{base}_5.vhd", 5 * GIB)
    assert sorted(p.name for p in on_disk(lab.files_root, f"{INSTANCES}\\_base").iterdir()) == [
        f"{image.id}.vhd", f"{image.id}_5.vhd"]
    assert lab.glance.downloads == [image.id]


def test_a_root_gb_smaller_than_the_image_is_refused_and_nothing_is_left(lab: Lab) -> None:
    image = lab.glance.add("vhdx", size=20 * GIB)
    instance = lab.instance(root_gb=10)
    with pytest.raises(exception.FlavorDiskSmallerThanImage):
        lab.spawn(instance, image=image, vifs=[vif()])
    assert lab.driver.list_instances() == []
    assert not on_disk(lab.files_root, folder_of(instance)).exists()
    assert on_disk(lab.files_root, f"{INSTANCES}\\_base\\{image.id}.vhdx").is_file()


# -- ephemeral disk, destroy -------------------------------------------------------------------
def test_the_ephemeral_disk_is_a_dynamic_vhdx_of_ephemeral_gb(lab: Lab) -> None:
    instance = lab.instance(root_gb=5, ephemeral_gb=20)
    lab.spawn(instance)
    ephemeral = f"{folder_of(instance)}\\ephemeral.vhdx"
    info = Images(lab.session).info(ephemeral)
    assert (info.format, info.type, info.size_bytes, info.parent) == (
        DiskFormat.VHDX, DiskType.DYNAMIC, 20 * GIB, None)
    disks = VmStorage(lab.session).list_all(instance.name)
    assert [(d.path.rsplit("\\", 1)[1], d.slot) for d in disks] == [
        ("root.vhdx", 0), ("ephemeral.vhdx", 1)]


def test_destroy_removes_the_instance_folder_but_keeps_the_cache(lab: Lab) -> None:
    instance = lab.instance(root_gb=5, ephemeral_gb=1)
    lab.spawn(instance)
    folder = on_disk(lab.files_root, folder_of(instance))
    assert sorted(p.name for p in folder.iterdir()) == ["ephemeral.vhdx", "root.vhdx"]

    lab.driver.destroy(None, instance, [], destroy_disks=True)
    assert not folder.exists()
    assert lab.driver.list_instances() == []
    assert len(list(on_disk(lab.files_root, f"{INSTANCES}\\_base").iterdir())) == 1
    lab.driver.destroy(None, instance, [])  # gone already: fine


def test_destroy_without_destroy_disks_keeps_the_folder(lab: Lab) -> None:
    instance = lab.instance()
    lab.spawn(instance)
    lab.driver.destroy(None, instance, [], destroy_disks=False)
    assert on_disk(lab.files_root, folder_of(instance)).is_dir()
    lab.driver.cleanup(None, instance, [], destroy_disks=True)
    assert not on_disk(lab.files_root, folder_of(instance)).exists()


def test_an_emulated_host_without_files_root_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    CONF.set_override("url", f"emulator://nova-nofiles-{uuid.uuid4().hex[:8]}",
                      group="hyperv_host")
    glance = Glance(monkeypatch)
    driver = HyperVDriver(fake.FakeVirtAPI())
    try:
        driver.init_host("compute1")
        flavor = objects.Flavor(vcpus=1, memory_mb=512, root_gb=0, ephemeral_gb=0, swap=0,
                                extra_specs={}, name="m1.tiny")
        instance = objects.Instance(id=1, uuid=str(uuid.uuid4()), flavor=flavor,
                                    config_drive="", system_metadata={}, launched_at=None)
        with pytest.raises(exception.NovaException, match="keeps its files in memory"):
            driver.spawn(None, instance, glance.add(), [], None, {})
        assert driver.list_instances() == []
    finally:
        driver.cleanup_host("compute1")
        glance.close()
        CONF.clear_override("url", group="hyperv_host")
        forget_shared_hosts()


def test_a_remote_host_without_instances_share_stops_init_host() -> None:
    CONF.set_override("url", "https://admin@hv01.example.com:5986/wsman", group="hyperv_host")
    driver = HyperVDriver(fake.FakeVirtAPI())
    try:
        with pytest.raises(exception.InvalidConfiguration, match="instances_share"):
            driver.channel  # noqa: B018 - what init_host opens after reading the host
    finally:
        CONF.clear_override("url", group="hyperv_host")


# -- config drive (nova's metadata needs its database: a nova TestCase) ---------------------------
class ConfigDriveOnHost(nova.test.TestCase):  # type: ignore[misc]
    """The config drive: built with nova's ConfigDriveBuilder, attached as a DVD."""

    def setUp(self) -> None:
        super().setUp()
        # nova 34's instance queries use noload(), which the SQLAlchemy
        # installed beside it deprecates; nova's TestCase makes that an error
        warnings.filterwarnings("ignore", message="The noload", category=SADeprecationWarning)
        files = self.useFixture(fixtures.TempDir()).path
        self.files_root = Path(files)
        self.flags(url=f"emulator://nova-cd-{uuid.uuid4().hex[:8]}?files={files}",
                   group="hyperv_host")
        self.addCleanup(forget_shared_hosts)
        self.glance = self.useFixture(nova.tests.fixtures.GlanceFixture(self))
        # neutron is not here: the metadata's security groups are none
        self.stub_out("nova.network.security_group_api.get_instances_security_groups_bindings",
                      lambda *args, **kwargs: {})
        self.ctxt = test_utils.get_test_admin_context()
        self.driver = HyperVDriver(fake.FakeVirtAPI())
        self.driver.init_host("compute1")
        self.addCleanup(self.driver.cleanup_host, "compute1")

    def _spawn(self, config_drive: str, **flags: Any) -> tuple[Any, list[Any]]:
        import io

        from winstackers.emulator.hyperv.filesroot import image_bytes

        data = image_bytes("vhdx", GIB)
        image = self.glance.create(self.ctxt, {"disk_format": "vhdx", "container_format": "bare",
                                               "properties": {}}, data=io.BytesIO(data))
        instance = test_utils.get_test_instance(self.ctxt, obj=True)
        instance.config_drive = config_drive
        instance.image_ref = image["id"]
        # what nova-compute's instances have and the harness's lacks
        instance.metadata, instance.hostname = {"role": "test"}, "vm-config-drive"
        for name, value in flags.items():
            self.flags(**{name: value})
        self.driver.spawn(self.ctxt, instance, objects.ImageMeta.from_dict(image), [], "s3cret",
                          {}, network_info=network_model.NetworkInfo([]))
        session = connect(CONF.hyperv_host.url)
        return instance, VmStorage(session).list_all(instance.name)

    def test_a_config_drive_is_an_iso_in_a_dvd_drive(self) -> None:
        instance, disks = self._spawn("True")
        iso = f"{folder_of(instance)}\\configdrive.iso"
        self.assertEqual([(d.path.rsplit("\\", 1)[1], d.media) for d in disks],
                         [("root.vhdx", Media.DISK), ("ephemeral.vhdx", Media.DISK),
                          ("configdrive.iso", Media.ISO)])
        data = on_disk(self.files_root, iso).read_bytes()
        self.assertEqual(data[0x8001:0x8006], b"CD001")  # an ISO 9660 volume descriptor
        self.assertIn(b"config-2", data[0x8000:0x8100])

    def test_no_config_drive_unless_asked(self) -> None:
        instance, disks = self._spawn("")
        self.assertEqual([d.media for d in disks], [Media.DISK, Media.DISK])

    def test_a_vfat_config_drive_is_refused(self) -> None:
        with self.assertRaises(exception.ConfigDriveUnsupportedFormat):
            self._spawn("True", config_drive_format="vfat")


# -- through SMB, as from Linux to a Windows host -----------------------------------------------
@pytest.fixture(scope="module")
def samba(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SambaServer, Path]]:
    """A private smbd exporting the instances folder of a files root."""
    root = tmp_path_factory.mktemp("hyperv-files")
    share = on_disk(root, INSTANCES)
    share.mkdir(parents=True)
    try:
        with private_samba(share) as server:
            yield server, root
    except SambaUnavailable as exc:
        if REQUIRED:
            pytest.fail(f"WINSTACKERS_REQUIRE_FUNCTIONAL is set but {exc}", pytrace=False)
        pytest.skip(f"SMB tests skipped: {exc}")


def test_a_file_uploaded_over_smb_is_a_disk_of_the_emulated_host(
        samba: tuple[SambaServer, Path], tmp_path: Path) -> None:
    server, root = samba
    from winstackers.emulator.hyperv.filesroot import image_bytes

    session = connect(f"emulator://?files={root}")
    channel = SmbChannel(server.share, INSTANCES, username=server.user,
                         password=server.password, port=server.port)
    local = tmp_path / "image.vhdx"
    local.write_bytes(image_bytes("vhdx", 3 * GIB))
    name = uuid.uuid4().hex
    try:
        channel.makedirs(f"{INSTANCES}\\{name}")
        channel.upload(str(local), f"{INSTANCES}\\{name}\\base.vhdx")
        images = Images(session)
        assert images.info(f"{INSTANCES}\\{name}\\base.vhdx").size_bytes == 3 * GIB
        child = images.create(f"{INSTANCES}\\{name}\\child.vhdx",
                              parent=f"{INSTANCES}\\{name}\\base.vhdx", format=DiskFormat.VHDX)
        assert child.parent == f"{INSTANCES}\\{name}\\base.vhdx"
        assert channel.listdir(f"{INSTANCES}\\{name}") == ["base.vhdx", "child.vhdx"]
    finally:
        channel.remove(f"{INSTANCES}\\{name}")
        channel.close()
    assert not (root / "C" / "OpenStack" / "Instances" / name).exists()


@pytest.fixture
def served_emulator(samba: tuple[SambaServer, Path],
                    tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``winstackers emulator hyperv`` as a process, its files in the root
    Samba exports, with Samba's user and password: (URL, password).

    A process, not a thread, and plain HTTP on loopback, not HTTPS: this test
    process runs nova's eventlet monkey patching, under which the in-process
    WS-Management server stalls and Python's ssl recurses without end (ssl
    was imported before the patching).  HTTPS is tested in tests/wsman.
    """
    server, root = samba
    password_file = tmp_path / "password"
    password_file.write_text(server.password + "\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "winstackers.cli.main", "emulator", "hyperv", "--listen",
         "127.0.0.1:0", "--files", str(root), "--user", server.user, "--password-file",
         str(password_file)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"at http://(127\.0\.0\.1:\d+)/wsman", line)
        assert found, line
        yield (f"http://{server.user}@{found.group(1)}/wsman?auth=basic&insecure=1",
               server.password)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_driver_spawns_and_destroys_through_wsman_and_smb(
        samba: tuple[SambaServer, Path], served_emulator: tuple[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """nova-compute on Linux: CIM over WS-Management, files over SMB, with one
    account for both, as with a Windows host."""
    server, root = samba
    url, password = served_emulator
    glance = Glance(monkeypatch)
    overrides = {("url", "hyperv_host"): url, ("password", "hyperv_host"): password,
                 ("instances_share", "hyperv_compute"): server.share,
                 ("instances_share_port", "hyperv_compute"): server.port}
    for (name, group), value in overrides.items():
        CONF.set_override(name, value, group=group)
    driver = HyperVDriver(fake.FakeVirtAPI())
    try:
        driver.init_host("compute1")
        assert driver.channel.where == server.share
        image = glance.add("vhdx", size=GIB)
        flavor = objects.Flavor(vcpus=1, memory_mb=1024, root_gb=4, ephemeral_gb=2, swap=0,
                                extra_specs={}, name="m1.smb")
        instance = objects.Instance(id=1, uuid=str(uuid.uuid4()), flavor=flavor,
                                    config_drive="", system_metadata={}, launched_at=None,
                                    image_ref=image.id)
        driver.spawn(None, instance, image, [], None, {},
                     network_info=network_model.NetworkInfo([vif()]))
        folder = on_disk(root, folder_of(instance))
        assert sorted(p.name for p in folder.iterdir()) == ["ephemeral.vhdx", "root.vhdx"]
        assert on_disk(root, f"{INSTANCES}\\_base\\{image.id}.vhdx").is_file()
        info = Images(connect(url, password=password)).info(f"{folder_of(instance)}\\root.vhdx")
        assert (info.parent, info.size_bytes) == (f"{INSTANCES}\\_base\\{image.id}.vhdx",
                                                  4 * GIB)

        driver.destroy(None, instance, [])
        assert not folder.exists()
        assert driver.list_instances() == []
        assert glance.downloads == [image.id]
    finally:
        driver.cleanup_host("compute1")
        glance.close()
        for name, group in overrides:
            CONF.clear_override(name, group=group)
