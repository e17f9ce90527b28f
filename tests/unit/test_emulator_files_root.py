"""The emulated host's files root (``HostConfig.files_root``,
``emulator://...?files=DIR``): its disks are real files, and files put in
the directory by another route are disks and ISOs of the host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from winstackers.cim import InvalidParameter, connect
from winstackers.emulator.hyperv.config import HostConfig
from winstackers.emulator.hyperv.filesroot import MAGIC, FilesRoot, image_bytes
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.hyperv.diskinfo import DiskFormat, DiskType
from winstackers.hyperv.disks import Images, VmStorage
from winstackers.hyperv.errors import ImageNotFound, OperationFailed
from winstackers.hyperv.vms import VMs
from winstackers.hyperv.vmstate import VMSpec

GIB = 1024 ** 3
FOLDER = "C:\\Instances\\vm"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path


def test_host_paths_map_into_the_root_without_regard_to_case(root: Path) -> None:
    files = FilesRoot(root)
    assert files.local_path("c:\\Instances\\a.vhdx") == root / "C" / "Instances" / "a.vhdx"
    assert files.local_path("\\\\srv\\share\\a.iso") == root / "UNC" / "srv" / "share" / "a.iso"
    (root / "C" / "OpenStack").mkdir(parents=True)
    assert files.local_path("C:\\OPENSTACK\\x") == root / "C" / "OpenStack" / "x"
    with pytest.raises(ValueError, match="not a drive-letter or UNC path"):
        files.local_path("relative\\x")


def test_created_disks_are_small_files_that_record_the_disk(root: Path) -> None:
    images = Images(connect(f"emulator://?files={root}"))
    with pytest.raises(OperationFailed, match="folder .* does not exist"):
        images.create(f"{FOLDER}\\base.vhdx", 10 * GIB)
    (root / "C" / "Instances" / "vm").mkdir(parents=True)
    images.create(f"{FOLDER}\\base.vhdx", 10 * GIB)
    images.create(f"{FOLDER}\\child.vhdx", parent=f"{FOLDER}\\base.vhdx")
    images.resize(f"{FOLDER}\\child.vhdx", 20 * GIB)

    child = root / "C" / "Instances" / "vm" / "child.vhdx"
    assert child.stat().st_size < 1024
    head, line = child.read_bytes().split(b"\n", 1)
    assert head + b"\n" == MAGIC
    recorded = json.loads(line)
    assert (recorded["max_internal_size"], recorded["parent"], recorded["disk_type"]) == (
        20 * GIB, f"{FOLDER}\\base.vhdx", int(DiskType.DIFFERENCING))


def test_files_put_in_the_root_are_disks_of_the_host(root: Path) -> None:
    session = connect(f"emulator://?files={root}")
    folder = root / "C" / "Instances" / "vm"
    folder.mkdir(parents=True)
    (folder / "uploaded.vhdx").write_bytes(image_bytes("vhdx", 3 * GIB))
    (folder / "plain.vhd").write_bytes(b"x" * 1000)
    (folder / "drive.iso").write_bytes(b"y" * 4096)
    images = Images(session)
    uploaded = images.info(f"{FOLDER}\\uploaded.vhdx")
    assert (uploaded.format, uploaded.type, uploaded.size_bytes) == (
        DiskFormat.VHDX, DiskType.DYNAMIC, 3 * GIB)
    assert images.info(f"{FOLDER}\\plain.vhd").size_bytes == 1024  # its size, in sectors
    child = images.create(f"{FOLDER}\\child.vhdx", parent=f"{FOLDER}\\uploaded.vhdx")
    assert child.size_bytes == 3 * GIB

    VMs(session).ensure(VMSpec("vm", generation=2))
    storage = VmStorage(session)
    storage.attach_disk("vm", f"{FOLDER}\\child.vhdx")
    storage.attach_iso("vm", f"{FOLDER}\\drive.iso")
    assert [d.path for d in storage.list_all("vm")] == [f"{FOLDER}\\child.vhdx",
                                                        f"{FOLDER}\\drive.iso"]


def test_a_header_of_the_other_format_is_ignored(root: Path) -> None:
    folder = root / "C" / "Instances" / "vm"
    folder.mkdir(parents=True)
    data = image_bytes("vhd", 5 * GIB)
    (folder / "mismatch.vhdx").write_bytes(data)
    info = Images(connect(f"emulator://?files={root}")).info(f"{FOLDER}\\mismatch.vhdx")
    assert info.size_bytes == 512 * -(-len(data) // 512)  # read as a plain file


def test_a_file_removed_from_the_root_is_gone_from_the_host(root: Path) -> None:
    session = connect(f"emulator://?files={root}")
    (root / "C" / "Instances" / "vm").mkdir(parents=True)
    images = Images(session)
    images.create(f"{FOLDER}\\a.vhdx", GIB)
    (root / "C" / "Instances" / "vm" / "a.vhdx").unlink()
    with pytest.raises(ImageNotFound):
        images.info(f"{FOLDER}\\a.vhdx")
    images.create(f"{FOLDER}\\a.vhdx", 2 * GIB)  # the path is free again
    assert images.info(f"{FOLDER}\\a.vhdx").size_bytes == 2 * GIB


def test_a_saved_host_keeps_its_files_root(root: Path, tmp_path_factory: pytest.TempPathFactory
                                           ) -> None:
    state = tmp_path_factory.mktemp("state") / "host.json"
    host = EmulatedHost(HostConfig(files_root=str(root)), state_file=state)
    host.add_file(f"{FOLDER}\\cd.iso", "iso", 2048)
    host.save(state)
    again = EmulatedHost.load(state)
    assert again.files.root == root
    assert again.files.find(f"{FOLDER}\\cd.iso") is not None
    (root / "C" / "Instances" / "vm" / "cd.iso").unlink()
    assert again.files.find(f"{FOLDER}\\cd.iso") is None


def test_in_memory_hosts_are_unchanged(root: Path) -> None:
    host = EmulatedHost()
    assert host.files.root is None and host.files.folder_exists("C:\\nowhere\\x.vhdx")
    host.add_file("C:\\nowhere\\x.vhdx", "vhdx", GIB)
    assert list(root.iterdir()) == []


def test_the_files_option_must_name_a_directory(root: Path) -> None:
    with pytest.raises(InvalidParameter, match="files=.* is not an existing directory"):
        connect(f"emulator://?files={root / 'missing'}")
    with pytest.raises(InvalidParameter, match="unknown option 'file'"):
        connect(f"emulator://?file={root}")
    session = connect(f"emulator://?files={root}&latency=0")
    assert session.emulated_host.files.root == root
