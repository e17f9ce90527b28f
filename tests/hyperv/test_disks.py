"""Disk images, their attachment to VMs, ISOs and COM ports: host state read
back after each operation, and the host calls counted."""

from __future__ import annotations

import pytest

from winstackers.cim import Instance, Session
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.hyperv.diskinfo import (
    Controller,
    DiskFormat,
    DiskInfo,
    DiskType,
    Media,
    SerialPortInfo,
)
from winstackers.hyperv.disks import Images, VmStorage
from winstackers.hyperv.errors import (
    DiskNotFound,
    ImageNotFound,
    InvalidDesiredState,
    OperationFailed,
    VMNotFound,
)
from winstackers.hyperv.vms import VMs

GIB = 1024 ** 3
DIR = "C:\\winstackers-test"
PIPE = "\\\\.\\pipe\\vm-2-console"


@pytest.fixture
def images(session: Session) -> Images:
    return Images(session)


@pytest.fixture
def storage(session: Session, vms: VMs) -> VmStorage:
    return VmStorage(session)


def writes(emulated_host: EmulatedHost) -> dict[str, int]:
    return {op: n for op, n in emulated_host.counters.by_operation().items()
            if not emulated_host.counters.is_read(op)}


def settings_of(session: Session, vm_name: str, class_name: str) -> list[Instance]:
    [vssd] = session.query("SELECT * FROM Msvm_VirtualSystemSettingData WHERE "
                           f"ElementName = '{vm_name}'")
    assert vssd.path is not None
    return session.associators(vssd.path, assoc_class="Msvm_VirtualSystemSettingDataComponent",
                               result_class=class_name)


def images_on(session: Session, vm_name: str) -> list[str]:
    return sorted(str(i["HostResource"][0])
                  for i in settings_of(session, vm_name, "Msvm_StorageAllocationSettingData"))


def disk(images: Images, name: str, size: int = GIB) -> str:
    path = f"{DIR}\\{name}.vhdx"
    images.create(path, size)
    return path


# -- images -----------------------------------------------------------------------------------
def test_create_a_dynamic_vhdx_in_one_write(images: Images,
                                            emulated_host: EmulatedHost) -> None:
    emulated_host.counters.reset()
    info = images.create(f"{DIR}\\root.vhdx", 10 * GIB)
    assert writes(emulated_host) == {"invoke:CreateVirtualHardDisk": 1}
    assert (info.format, info.type, info.size_bytes) == (DiskFormat.VHDX, DiskType.DYNAMIC,
                                                        10 * GIB)
    assert info.parent is None and info.disk_id
    assert images.info(f"{DIR}\\ROOT.VHDX") == info


def test_create_a_fixed_vhd(images: Images) -> None:
    info = images.create(f"{DIR}\\data.vhd", 1000, format=DiskFormat.VHD, type=DiskType.FIXED)
    assert (info.format, info.type, info.size_bytes) == (DiskFormat.VHD, DiskType.FIXED, 1024)


def test_a_differencing_disk_takes_its_parents_size(images: Images) -> None:
    base = disk(images, "base", 20 * GIB)
    child = images.create(f"{DIR}\\child.vhdx", parent=base)
    assert (child.type, child.parent, child.size_bytes) == (DiskType.DIFFERENCING, base,
                                                            20 * GIB)


@pytest.mark.parametrize(("args", "field"), [
    (("disk.vhdx", GIB), "path"),
    ((f"{DIR}\\a.vhdx", 0), "size_bytes"),
    ((f"{DIR}\\a.vhdx", None), "size_bytes"),
    ((f"{DIR}\\a.vhdx", GIB, f"{DIR}\\base.vhdx"), "parent"),
])
def test_create_refuses_before_any_call(images: Images, emulated_host: EmulatedHost,
                                        args: tuple[object, ...], field: str) -> None:
    emulated_host.counters.reset()
    path, size, *parent = args
    with pytest.raises(InvalidDesiredState, match=field):
        images.create(path, size, parent=parent[0] if parent else None)  # type: ignore[arg-type]
    assert emulated_host.counters.by_operation() == {}


def test_create_over_an_existing_file_names_it(images: Images) -> None:
    path = disk(images, "root")
    with pytest.raises(OperationFailed, match=r"creating virtual hard disk .*root\.vhdx.*exists"):
        images.create(path, GIB)


def test_a_missing_parent_or_file_is_image_not_found(images: Images) -> None:
    with pytest.raises(ImageNotFound, match=r"base\.vhdx"):
        images.create(f"{DIR}\\child.vhdx", parent=f"{DIR}\\base.vhdx")
    with pytest.raises(ImageNotFound, match=r"nothing\.vhdx not found on "):
        images.info(f"{DIR}\\nothing.vhdx")
    with pytest.raises(ImageNotFound):
        images.resize(f"{DIR}\\nothing.vhdx", GIB)


def test_resize_grows_a_disk_in_one_write(images: Images, emulated_host: EmulatedHost) -> None:
    path = disk(images, "root")
    emulated_host.counters.reset()
    assert images.resize(path, 40 * GIB).size_bytes == 40 * GIB
    assert writes(emulated_host) == {"invoke:ResizeVirtualHardDisk": 1}
    assert images.info(path).size_bytes == 40 * GIB


def test_a_disk_in_use_by_a_running_vm_is_not_resized(images: Images, storage: VmStorage,
                                                      vms: VMs) -> None:
    path = disk(images, "root")
    storage.attach_disk("vm-2", path)
    vms.start("vm-2")
    with pytest.raises(OperationFailed, match="must be offline"):
        images.resize(path, 2 * GIB)
    assert images.info(path).size_bytes == GIB


# -- attaching ----------------------------------------------------------------------------------
def test_first_disk_of_a_generation_2_vm_brings_a_scsi_controller(
        images: Images, storage: VmStorage, session: Session,
        emulated_host: EmulatedHost) -> None:
    root, data = disk(images, "root"), disk(images, "data")
    emulated_host.counters.reset()
    info = storage.attach_disk("vm-2", root)
    assert info == DiskInfo("vm-2", root, Media.DISK, Controller.SCSI, 0, 0)
    assert writes(emulated_host) == {"invoke:AddResourceSettings": 3}  # controller, drive, image
    emulated_host.counters.reset()
    assert storage.attach_disk("vm-2", data).slot == 1
    assert writes(emulated_host) == {"invoke:AddResourceSettings": 2}  # drive, image
    assert images_on(session, "vm-2") == sorted([root, data])
    [drive0] = [d for d in settings_of(session, "vm-2", "Msvm_ResourceAllocationSettingData")
                if d["AddressOnParent"] == "0"]
    assert drive0["ResourceSubType"] == "Microsoft:Hyper-V:Synthetic Disk Drive"


def test_attaching_what_is_attached_makes_no_write(images: Images, storage: VmStorage,
                                                   emulated_host: EmulatedHost) -> None:
    root = disk(images, "root")
    first = storage.attach_disk("vm-2", root)
    emulated_host.counters.reset()
    assert storage.attach_disk("vm-2", root) == first
    assert writes(emulated_host) == {}
    assert emulated_host.counters.reads == 2  # the settings and the devices


def test_generation_1_fills_ide_slots_in_order(images: Images, storage: VmStorage) -> None:
    places = [storage.attach_disk("vm-1", disk(images, f"d{n}")) for n in range(4)]
    assert [(d.controller, d.controller_number, d.slot) for d in places] == [
        (Controller.IDE, 0, 0), (Controller.IDE, 0, 1), (Controller.IDE, 1, 0),
        (Controller.IDE, 1, 1)]
    with pytest.raises(InvalidDesiredState, match="no free slot on its IDE controllers"):
        storage.attach_disk("vm-1", disk(images, "d4"))


def test_generation_1_may_use_scsi_and_an_asked_slot(images: Images, storage: VmStorage) -> None:
    info = storage.attach_disk("vm-1", disk(images, "data"), controller=Controller.SCSI, slot=5)
    assert (info.controller, info.controller_number, info.slot) == (Controller.SCSI, 0, 5)
    assert storage.list_all("vm-1") == [info]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"controller": Controller.IDE}, "no IDE controller"),
    ({"slot": 64}, "slot"),
    ({"controller_number": 4}, "controller_number"),
])
def test_impossible_places_are_refused_before_any_write(
        images: Images, storage: VmStorage, emulated_host: EmulatedHost,
        kwargs: dict[str, object], field: str) -> None:
    root = disk(images, "root")
    emulated_host.counters.reset()
    with pytest.raises(InvalidDesiredState, match=field):
        storage.attach_disk("vm-2", root, **kwargs)  # type: ignore[arg-type]
    assert writes(emulated_host) == {}


def test_a_running_vm_takes_scsi_disks_but_no_new_controller(
        images: Images, storage: VmStorage, vms: VMs, session: Session) -> None:
    root, data = disk(images, "root"), disk(images, "data")
    vms.start("vm-2")
    with pytest.raises(InvalidDesiredState, match="can be added only while it is off"):
        storage.attach_disk("vm-2", root)
    vms.turn_off("vm-2")
    storage.attach_disk("vm-2", root)
    vms.start("vm-2")
    assert storage.attach_disk("vm-2", data).slot == 1
    assert images_on(session, "vm-2") == sorted([root, data])


def test_ide_disks_wait_for_the_vm_to_be_off(images: Images, storage: VmStorage,
                                             vms: VMs) -> None:
    root = disk(images, "root")
    vms.start("vm-1")
    with pytest.raises(InvalidDesiredState, match="IDE disks change only while it is off"):
        storage.attach_disk("vm-1", root)


def test_a_refused_image_leaves_no_drive_behind(storage: VmStorage, session: Session) -> None:
    with pytest.raises(OperationFailed, match=r"attaching .*missing\.vhdx to VM vm-2"):
        storage.attach_disk("vm-2", f"{DIR}\\missing.vhdx")
    drives = [d for d in settings_of(session, "vm-2", "Msvm_ResourceAllocationSettingData")
              if "Drive" in str(d["ResourceSubType"])]
    assert drives == []


def test_attach_an_iso_in_a_dvd_drive(storage: VmStorage, session: Session,
                                      emulated_host: EmulatedHost) -> None:
    iso = f"{DIR}\\configdrive.iso"
    emulated_host.add_file(iso, "iso", 1024 * 1024)
    info = storage.attach_iso("vm-1", iso)
    assert info == DiskInfo("vm-1", iso, Media.ISO, Controller.IDE, 0, 0)
    [image] = settings_of(session, "vm-1", "Msvm_StorageAllocationSettingData")
    assert image["ResourceSubType"] == "Microsoft:Hyper-V:Virtual CD/DVD Disk"
    assert storage.list_all("vm-1") == [info]


def test_an_iso_is_not_attached_again_as_a_disk(storage: VmStorage,
                                                emulated_host: EmulatedHost) -> None:
    iso = f"{DIR}\\configdrive.iso"
    emulated_host.add_file(iso, "iso", 1024 * 1024)
    storage.attach_iso("vm-2", iso)
    with pytest.raises(InvalidDesiredState, match="attached to VM 'vm-2' as iso"):
        storage.attach_disk("vm-2", iso)


def test_an_unknown_vm_is_named(storage: VmStorage) -> None:
    with pytest.raises(VMNotFound, match="nope"):
        storage.attach_disk("nope", f"{DIR}\\root.vhdx")


# -- detaching and listing ------------------------------------------------------------------------
def test_detach_is_one_write_and_frees_the_slot(images: Images, storage: VmStorage,
                                                session: Session,
                                                emulated_host: EmulatedHost) -> None:
    root, data = disk(images, "root"), disk(images, "data")
    storage.attach_disk("vm-2", root)
    storage.attach_disk("vm-2", data)
    emulated_host.counters.reset()
    storage.detach_disk("vm-2", root)
    assert writes(emulated_host) == {"invoke:RemoveResourceSettings": 1}
    assert images_on(session, "vm-2") == [data]
    assert storage.attach_disk("vm-2", root).slot == 0


def test_detach_of_what_is_not_attached_names_it(storage: VmStorage) -> None:
    with pytest.raises(DiskNotFound, match=r"root\.vhdx attached to virtual machine vm-2"):
        storage.detach_disk("vm-2", f"{DIR}\\root.vhdx")


def test_ide_disks_are_not_detached_from_a_running_vm(images: Images, storage: VmStorage,
                                                      vms: VMs, session: Session) -> None:
    root = disk(images, "root")
    storage.attach_disk("vm-1", root)
    vms.start("vm-1")
    with pytest.raises(InvalidDesiredState, match="IDE disks"):
        storage.detach_disk("vm-1", root)
    assert images_on(session, "vm-1") == [root]


def test_list_is_two_reads(images: Images, storage: VmStorage,
                           emulated_host: EmulatedHost) -> None:
    for name in ("a", "b", "c"):
        storage.attach_disk("vm-2", disk(images, name))
    emulated_host.counters.reset()
    found = storage.list_all("vm-2")
    assert [d.slot for d in found] == [0, 1, 2]
    assert emulated_host.counters.reads == 2 and emulated_host.counters.writes == 0


# -- serial ports ----------------------------------------------------------------------------------
def test_com_ports_start_unconnected(storage: VmStorage) -> None:
    assert storage.serial_ports("vm-2") == [SerialPortInfo(1, None), SerialPortInfo(2, None)]


def test_connect_a_com_port_to_a_pipe_in_one_write(storage: VmStorage, session: Session,
                                                   emulated_host: EmulatedHost) -> None:
    emulated_host.counters.reset()
    assert storage.set_serial_pipe("vm-2", 1, PIPE) == SerialPortInfo(1, PIPE)
    assert writes(emulated_host) == {"invoke:ModifyResourceSettings": 1}
    [com1] = [p for p in settings_of(session, "vm-2", "Msvm_SerialPortSettingData")
              if p["ElementName"] == "COM 1"]
    assert com1["Connection"] == [PIPE]
    emulated_host.counters.reset()
    storage.set_serial_pipe("vm-2", 1, PIPE)
    assert writes(emulated_host) == {}
    storage.set_serial_pipe("vm-2", 1, None)
    assert storage.serial_ports("vm-2")[0] == SerialPortInfo(1, None)


@pytest.mark.parametrize(("port", "pipe", "field"), [
    (3, PIPE, "port_number"), (1, "C:\\console.log", "pipe_path"), (2, "COM1", "pipe_path")])
def test_bad_ports_and_pipes_are_refused_before_any_call(
        storage: VmStorage, emulated_host: EmulatedHost, port: int, pipe: str,
        field: str) -> None:
    emulated_host.counters.reset()
    with pytest.raises(InvalidDesiredState, match=field):
        storage.set_serial_pipe("vm-2", port, pipe)
    assert emulated_host.counters.by_operation() == {}


def test_a_com_port_of_a_running_vm_is_refused_by_the_host(storage: VmStorage,
                                                           vms: VMs) -> None:
    vms.start("vm-2")
    with pytest.raises(OperationFailed, match="connecting COM 2 of VM vm-2"):
        storage.set_serial_pipe("vm-2", 2, PIPE)
