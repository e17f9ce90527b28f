"""Msvm_ImageManagementService through ``winstackers.cim``: create, read and
resize virtual hard disk files, one refused and one accepted call per rule.

These create files, which WMI cannot delete, so none is marked
``hyperv_verified``: they run on the emulator only.
"""

from __future__ import annotations

from typing import Any

import pytest

from winstackers.cim import (
    Instance,
    InvalidParameter,
    InvalidState,
    JobFailed,
    NotFound,
    NotSupported,
    Reference,
    Session,
    call,
    embedded,
)
from winstackers.emulator.hyperv.faults import FaultPlan
from winstackers.emulator.hyperv.host import EmulatedHost

from .helpers import OFF, RUNNING, Host, unique
from .storage_helpers import Storage

VHDSD = "Msvm_VirtualHardDiskSettingData"
GIB = 1024 ** 3
FIXED, DYNAMIC, DIFFERENCING = 2, 3, 4
VHD, VHDX = 2, 3


def service(session: Session) -> Reference:
    path = session.query("SELECT * FROM Msvm_ImageManagementService")[0].path
    assert path is not None
    return path


def new_path(extension: str = "vhdx") -> str:
    return f"C:\\winstackers-test\\{unique()}.{extension}"


def create(session: Session, path: str, fmt: int = VHDX, disk_type: int = DYNAMIC,
           size: int = GIB, **more: Any) -> str:
    settings = session.new_instance(VHDSD, {"Path": path, "Format": fmt, "Type": disk_type,
                                            "MaxInternalSize": size, **more})
    call(session, service(session), "CreateVirtualHardDisk", {"VirtualDiskSettingData": settings})
    return path


def info(session: Session, path: str) -> Instance:
    out = call(session, service(session), "GetVirtualHardDiskSettingData", {"Path": path})
    return embedded.from_text(out["SettingData"])


def resize(session: Session, path: str, size: int) -> None:
    call(session, service(session), "ResizeVirtualHardDisk",
         {"Path": path, "MaxInternalSize": size})


# -- CreateVirtualHardDisk ------------------------------------------------------------
def test_create_a_dynamic_vhdx_and_read_it_back(session: Session) -> None:
    path = create(session, new_path(), size=10 * GIB)
    disk = info(session, path.upper())  # paths compare without regard to case
    assert (disk["Path"], disk["Format"], disk["Type"]) == (path, VHDX, DYNAMIC)
    assert disk["MaxInternalSize"] == 10 * GIB
    assert disk["ParentPath"] == "" and disk["VirtualDiskId"]
    assert (disk["LogicalSectorSize"], disk["PhysicalSectorSize"]) == (512, 4096)


def test_create_rounds_the_size_up_to_a_whole_sector(session: Session) -> None:
    path = create(session, new_path("vhd"), fmt=VHD, disk_type=FIXED, size=1000)
    assert info(session, path)["MaxInternalSize"] == 1024


def test_create_runs_as_a_job(session: Session) -> None:
    settings = session.new_instance(VHDSD, {"Path": new_path(), "Format": VHDX, "Type": DYNAMIC,
                                            "MaxInternalSize": GIB})
    result = session.invoke(service(session), "CreateVirtualHardDisk",
                            {"VirtualDiskSettingData": settings})
    assert result.return_value == 4096
    assert isinstance(result.out["Job"], Reference)


@pytest.mark.parametrize(("changes", "error", "code", "text"), [
    ({"Format": 5}, InvalidParameter, 32773, "Format 5"),
    ({"Format": 4}, NotSupported, 32770, "VHD Set"),
    ({"Type": 7}, InvalidParameter, 32773, "Type 7"),
    ({"Path": "winstackers-test.vhdx"}, InvalidParameter, 32773, "fully qualified"),
    ({"Path": "C:\\winstackers-test\\disk.vhd"}, InvalidParameter, 32773, "does not end in"),
    ({"MaxInternalSize": 0}, InvalidParameter, 32773, "MaxInternalSize 0"),
    ({"Format": VHD, "Path": "C:\\winstackers-test\\big.vhd", "MaxInternalSize": 2041 * GIB},
     InvalidParameter, 32773, "out of"),
    ({"LogicalSectorSize": 1024}, InvalidParameter, 32773, "LogicalSectorSize"),
    ({"BlockSize": 3 * 1024 * 1024}, InvalidParameter, 32773, "power of two"),
    ({"ParentPath": "C:\\winstackers-test\\parent.vhdx"}, InvalidParameter, 32773,
     "only for a differencing"),
])
def test_create_refuses_bad_settings(session: Session, changes: dict[str, Any],
                                     error: type[Exception], code: int, text: str) -> None:
    settings = session.new_instance(VHDSD, {"Path": new_path(), "Format": VHDX, "Type": DYNAMIC,
                                            "MaxInternalSize": GIB, **changes})
    with pytest.raises(error, match=text) as caught:
        call(session, service(session), "CreateVirtualHardDisk",
             {"VirtualDiskSettingData": settings})
    assert caught.value.code == code  # type: ignore[attr-defined]


def test_create_refuses_an_existing_path(session: Session) -> None:
    path = create(session, new_path())
    with pytest.raises(InvalidParameter, match="exists") as caught:
        create(session, path.upper())
    assert caught.value.code == 32773


def test_differencing_disk_takes_its_parents_size(session: Session) -> None:
    parent = create(session, new_path(), size=20 * GIB)
    child = create(session, new_path(), disk_type=DIFFERENCING, size=0, ParentPath=parent)
    disk = info(session, child)
    assert (disk["Type"], disk["ParentPath"]) == (DIFFERENCING, parent)
    assert disk["MaxInternalSize"] == 20 * GIB
    assert disk["ParentIdentifier"] == info(session, parent)["VirtualDiskId"]


@pytest.mark.parametrize(("parent_kind", "changes", "error", "code", "text"), [
    (None, {}, InvalidParameter, 32773, "needs ParentPath"),
    ("missing", {}, NotFound, 32779, "does not exist"),
    ("vhd", {}, InvalidParameter, 32773, "Format 2, not 3"),
    ("vhdx", {"MaxInternalSize": 5 * GIB}, InvalidParameter, 32773, "parent's size"),
])
def test_differencing_disk_refusals(session: Session, parent_kind: str | None,
                                    changes: dict[str, Any], error: type[Exception], code: int,
                                    text: str) -> None:
    parent = ""
    if parent_kind == "missing":
        parent = new_path()
    elif parent_kind == "vhd":
        parent = create(session, new_path("vhd"), fmt=VHD)
    elif parent_kind == "vhdx":
        parent = create(session, new_path())
    with pytest.raises(error, match=text) as caught:
        create(session, new_path(), disk_type=DIFFERENCING,
               size=changes.get("MaxInternalSize", 0), ParentPath=parent)
    assert caught.value.code == code  # type: ignore[attr-defined]


# -- GetVirtualHardDiskSettingData ----------------------------------------------------
def test_get_of_a_missing_file_is_file_not_found(session: Session) -> None:
    missing = new_path()
    with pytest.raises(NotFound, match="does not exist") as caught:
        info(session, missing)
    assert caught.value.code == 32779


def test_get_of_an_iso_is_refused(session: Session, emulated_host: EmulatedHost) -> None:
    iso = new_path("iso")
    emulated_host.add_file(iso, "iso", 4 * 1024 * 1024)
    with pytest.raises(InvalidParameter, match="not a virtual hard disk"):
        info(session, iso)


def test_get_answers_at_once_and_counts_as_a_read(session: Session,
                                                  emulated_host: EmulatedHost) -> None:
    path = create(session, new_path())
    emulated_host.counters.reset()
    result = session.invoke(service(session), "GetVirtualHardDiskSettingData", {"Path": path})
    assert result.return_value == 0
    assert emulated_host.counters.writes == 0
    assert emulated_host.counters.by_operation()["invoke:GetVirtualHardDiskSettingData"] == 1


# -- ResizeVirtualHardDisk ------------------------------------------------------------
@pytest.mark.parametrize("new_size", [30 * GIB, GIB // 2])
def test_resize_grows_and_shrinks_a_dynamic_vhdx(session: Session, new_size: int) -> None:
    path = create(session, new_path(), size=10 * GIB)
    resize(session, path, new_size)
    assert info(session, path)["MaxInternalSize"] == new_size


def test_resize_below_the_minimum_is_refused(session: Session) -> None:
    path = create(session, new_path(), size=10 * GIB)  # the file takes 4 MiB
    with pytest.raises(InvalidParameter, match="below the minimum") as caught:
        resize(session, path, 1024 * 1024)
    assert caught.value.code == 32773
    assert info(session, path)["MaxInternalSize"] == 10 * GIB


def test_shrinking_a_vhd_is_not_supported(session: Session) -> None:
    path = create(session, new_path("vhd"), fmt=VHD, size=10 * GIB)
    with pytest.raises(NotSupported, match="shrinking a dynamic VHD") as caught:
        resize(session, path, 5 * GIB)
    assert caught.value.code == 32770
    resize(session, path, 20 * GIB)
    assert info(session, path)["MaxInternalSize"] == 20 * GIB


def test_growing_a_differencing_vhd_is_not_supported(session: Session) -> None:
    parent = create(session, new_path("vhd"), fmt=VHD)
    child = create(session, new_path("vhd"), fmt=VHD, disk_type=DIFFERENCING, size=0,
                   ParentPath=parent)
    with pytest.raises(NotSupported, match="growing a differencing VHD"):
        resize(session, child, 2 * GIB)


def test_resizing_a_parent_of_a_differencing_disk_is_refused(session: Session) -> None:
    parent = create(session, new_path())
    child = create(session, new_path(), disk_type=DIFFERENCING, size=0, ParentPath=parent)
    with pytest.raises(InvalidState, match="parent of a differencing") as caught:
        resize(session, parent, 2 * GIB)
    assert caught.value.code == 32775
    resize(session, child, 2 * GIB)
    assert info(session, child)["MaxInternalSize"] == 2 * GIB


def test_resize_of_a_missing_file_is_file_not_found(session: Session) -> None:
    with pytest.raises(NotFound) as caught:
        resize(session, new_path(), GIB)
    assert caught.value.code == 32779


def test_a_disk_in_use_by_a_vm_that_is_not_off_cannot_be_resized(session: Session,
                                                                  host: Host) -> None:
    disks = Storage(host)
    vm = host.define_vm(generation=2)
    path = create(session, new_path())
    disks.attach(vm, path)
    host.set_state(vm, RUNNING)
    with pytest.raises(InvalidState, match="must be offline") as caught:
        resize(session, path, 2 * GIB)
    assert caught.value.code == 32775
    host.set_state(vm, OFF)
    resize(session, path, 2 * GIB)
    assert info(session, path)["MaxInternalSize"] == 2 * GIB


# -- faults, files, persistence -------------------------------------------------------
def test_a_failed_create_job_leaves_no_file(session: Session,
                                            emulated_host: EmulatedHost) -> None:
    emulated_host.faults = FaultPlan(job_failure_rate=1.0)
    path = new_path()
    with pytest.raises(JobFailed, match="injected"):
        create(session, path)
    emulated_host.faults = FaultPlan()
    with pytest.raises(NotFound):
        info(session, path)


def test_add_file_refuses_a_taken_path_and_unknown_kinds(emulated_host: EmulatedHost) -> None:
    path = new_path("iso")
    emulated_host.add_file(path, "iso", 1024)
    with pytest.raises(InvalidParameter, match="exists"):
        emulated_host.add_file(path.upper(), "iso", 1024)
    with pytest.raises(InvalidParameter, match="kind"):
        emulated_host.add_file(new_path("img"), "floppy", 1024)
    with pytest.raises(InvalidParameter, match="fully qualified"):
        emulated_host.add_file("disk.iso", "iso", 1024)


def test_files_survive_save_and_load(session: Session, emulated_host: EmulatedHost,
                                     tmp_path: Any) -> None:
    path = create(session, new_path(), size=3 * GIB)
    state = tmp_path / "host.json"
    emulated_host.save(state)
    loaded = EmulatedHost.load(state)
    found = loaded.files.find(path)
    assert found is not None and found.max_internal_size == 3 * GIB
