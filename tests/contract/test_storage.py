"""Storage controllers, drives, disk and ISO images and COM ports of a VM,
through ``winstackers.cim``: one refused and one accepted call per rule,
the result read back from the host."""

from __future__ import annotations

import pytest

from winstackers.cim import CimError, InvalidParameter, InvalidState, NotSupported, Session, call
from winstackers.emulator.hyperv.faults import FaultPlan
from winstackers.emulator.hyperv.host import EmulatedHost

from .helpers import OFF, RUNNING, SAVED, Host, unique
from .storage_helpers import DISK_DRIVE, DVD_DISK, HARD_DISK, IDE, RASD, SASD, SCSI, SERIAL, Storage

verified = pytest.mark.hyperv_verified
GIB = 1024 ** 3


@pytest.fixture
def disks(host: Host) -> Storage:
    return Storage(host)


def new_vhdx(session: Session) -> str:
    path = f"C:\\winstackers-test\\{unique()}.vhdx"
    settings = session.new_instance("Msvm_VirtualHardDiskSettingData", {
        "Path": path, "Format": 3, "Type": 3, "MaxInternalSize": GIB})
    image_service = session.query("SELECT * FROM Msvm_ImageManagementService")[0].path
    assert image_service is not None
    call(session, image_service, "CreateVirtualHardDisk", {"VirtualDiskSettingData": settings})
    return path


def new_iso(emulated_host: EmulatedHost) -> str:
    path = f"C:\\winstackers-test\\{unique()}.iso"
    emulated_host.add_file(path, "iso", 1024 * 1024)
    return path


def code_of(error: pytest.ExceptionInfo[CimError]) -> int | None:
    return error.value.code


# -- what a new VM has ------------------------------------------------------------------
@verified
def test_a_generation_1_vm_has_two_ide_controllers(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=1)
    controllers = disks.devices(vm, RASD, IDE)
    assert sorted(c["Address"] for c in controllers) == ["0", "1"]
    assert {c["ResourceType"] for c in controllers} == {5}


def test_a_generation_2_vm_has_no_storage_controller(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    assert disks.devices(vm, RASD) == []


@verified
@pytest.mark.parametrize("generation", [1, 2])
def test_every_vm_has_com_1_and_com_2_unconnected(host: Host, disks: Storage,
                                                  generation: int) -> None:
    ports = disks.devices(host.define_vm(generation=generation), SERIAL)
    assert sorted(p["ElementName"] for p in ports) == ["COM 1", "COM 2"]
    assert all(p["ResourceType"] == 21 and not any(p["Connection"] or []) for p in ports)


# -- controllers --------------------------------------------------------------------------
def test_scsi_controllers_are_added_while_off_up_to_four(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    for _ in range(4):
        disks.controller(vm)
    assert len(disks.devices(vm, RASD, SCSI)) == 4
    with pytest.raises(InvalidParameter, match="already has 4 SCSI controllers") as caught:
        disks.controller(vm)
    assert code_of(caught) == 4


def test_a_scsi_controller_cannot_be_added_to_a_running_vm(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    host.set_state(vm, RUNNING)
    with pytest.raises(InvalidState, match="only while it is off") as caught:
        disks.controller(vm)
    assert code_of(caught) == 5


def test_ide_controllers_cannot_be_added(host: Host, disks: Storage) -> None:
    with pytest.raises(NotSupported, match="generation 2 VMs have no IDE") as caught:
        disks.add(host.define_vm(generation=2), disks.default(RASD, IDE))
    assert code_of(caught) == 1
    with pytest.raises(InvalidParameter, match="exactly two IDE controllers"):
        disks.add(host.define_vm(generation=1), disks.default(RASD, IDE))


# -- drives ---------------------------------------------------------------------------------
def test_a_drive_goes_in_a_free_slot_of_a_controller_of_its_vm(host: Host,
                                                              disks: Storage) -> None:
    vm = host.define_vm(generation=1)
    ide1 = disks.ide(vm, 1)
    [drive] = disks.add(vm, disks.drive(ide1, "1"))
    stored = host.session.get(drive)
    assert (stored["ResourceType"], stored["ResourceSubType"]) == (17, DISK_DRIVE)
    assert (stored["Parent"], stored["AddressOnParent"]) == (ide1.path, "1")


@pytest.mark.parametrize(("slot", "text"), [("2", "not a slot"), ("", "not a slot"),
                                            ("0", "taken")])
def test_ide_slots_are_0_and_1_and_taken_once(host: Host, disks: Storage, slot: str,
                                              text: str) -> None:
    vm = host.define_vm(generation=1)
    disks.add(vm, disks.drive(disks.ide(vm, 0), "0"))
    with pytest.raises(InvalidParameter, match=text):
        disks.add(vm, disks.drive(disks.ide(vm, 0), slot))


def test_scsi_slots_are_0_to_63(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    controller = disks.controller(vm)
    disks.add(vm, disks.drive(controller, "63"))
    with pytest.raises(InvalidParameter, match=r"0-63"):
        disks.add(vm, disks.drive(controller, "64"))


def test_a_drive_needs_a_controller_of_the_same_vm(host: Host, disks: Storage) -> None:
    vm, other = host.define_vm(generation=2), host.define_vm(generation=2)
    controller = disks.controller(other)
    with pytest.raises(InvalidParameter, match="not an existing controller"):
        disks.add(vm, disks.drive(controller))
    with pytest.raises(InvalidParameter, match="belongs to no virtual machine"):
        disks.add(vm, disks.drive(disks.default(RASD, SCSI).path))


def test_a_drive_and_its_image_cannot_share_a_call(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    controller = disks.controller(vm)
    drive = disks.drive(controller)
    with pytest.raises(InvalidParameter, match="no path yet"):
        disks.add(vm, drive, disks.image("(not yet)", new_vhdx(host.session)))
    assert disks.devices(vm, RASD, DISK_DRIVE) == []


# -- images ----------------------------------------------------------------------------
def test_a_disk_image_names_its_drive_and_file(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    path = new_vhdx(host.session)
    drive, image = disks.attach(vm, path)
    stored = host.session.get(image)
    assert (stored["ResourceType"], stored["ResourceSubType"]) == (31, HARD_DISK)
    assert (stored["Parent"], stored["HostResource"]) == (drive.path, [path])


def test_an_image_needs_an_existing_file_of_its_kind(host: Host, disks: Storage,
                                                     emulated_host: EmulatedHost) -> None:
    vm = host.define_vm(generation=2)
    [drive] = disks.add(vm, disks.drive(disks.controller(vm)))
    with pytest.raises(InvalidParameter, match="not an existing vhd/vhdx file"):
        disks.add(vm, disks.image(drive, "C:\\winstackers-test\\missing.vhdx"))
    with pytest.raises(InvalidParameter, match="not an existing vhd/vhdx file"):
        disks.add(vm, disks.image(drive, new_iso(emulated_host)))
    with pytest.raises(InvalidParameter, match="must name one file"):
        disks.add(vm, disks.image(drive, "").replace(HostResource=[]))


def test_an_iso_goes_in_a_dvd_drive_only(host: Host, disks: Storage,
                                         emulated_host: EmulatedHost) -> None:
    vm = host.define_vm(generation=2)
    controller = disks.controller(vm)
    [disk_drive] = disks.add(vm, disks.drive(controller, "0"))
    iso = new_iso(emulated_host)
    with pytest.raises(InvalidParameter, match="not an existing .*DVD Drive"):
        disks.add(vm, disks.image(disk_drive, iso, DVD_DISK))
    _, image = disks.attach(vm, iso, controller, "1", dvd=True)
    assert host.session.get(image)["ResourceSubType"] == DVD_DISK


def test_a_drive_holds_one_image(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    drive, _ = disks.attach(vm, new_vhdx(host.session))
    with pytest.raises(InvalidParameter, match="already holds an image"):
        disks.add(vm, disks.image(drive, new_vhdx(host.session)))


def test_a_disk_is_attached_once_but_an_iso_may_be_shared(host: Host, disks: Storage,
                                                          emulated_host: EmulatedHost) -> None:
    vm, other = host.define_vm(generation=2), host.define_vm(generation=2)
    path, iso = new_vhdx(host.session), new_iso(emulated_host)
    disks.attach(vm, path)
    with pytest.raises(InvalidParameter, match="attached already"):
        disks.attach(other, path)
    disks.attach(vm, iso, slot="1", controller=disks.devices(vm, RASD, SCSI)[0].path, dvd=True)
    disks.attach(other, iso, dvd=True)
    assert len(disks.devices(other, SASD, DVD_DISK)) == 1


def test_a_parent_of_a_differencing_disk_cannot_be_attached(host: Host, disks: Storage) -> None:
    parent = new_vhdx(host.session)
    child = parent.replace(".vhdx", "-child.vhdx")
    image_service = host.session.query("SELECT * FROM Msvm_ImageManagementService")[0].path
    assert image_service is not None
    call(host.session, image_service, "CreateVirtualHardDisk", {
        "VirtualDiskSettingData": host.session.new_instance("Msvm_VirtualHardDiskSettingData", {
            "Path": child, "Format": 3, "Type": 4, "ParentPath": parent})})
    vm = host.define_vm(generation=2)
    with pytest.raises(InvalidParameter, match="parent of a differencing disk"):
        disks.attach(vm, parent)
    disks.attach(vm, child)


# -- hot plug ----------------------------------------------------------------------------
def test_scsi_disks_come_and_go_while_the_vm_runs(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    controller = disks.controller(vm)
    host.set_state(vm, RUNNING)
    drive, image = disks.attach(vm, new_vhdx(host.session), controller)
    host.call("RemoveResourceSettings", ResourceSettings=[image, drive])
    assert disks.devices(vm, RASD, DISK_DRIVE) == []


def test_ide_disks_change_only_while_the_vm_is_off(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=1)
    drive, image = disks.attach(vm, new_vhdx(host.session), disks.ide(vm, 0))
    host.set_state(vm, RUNNING)
    with pytest.raises(InvalidState, match="IDE controller") as caught:
        disks.add(vm, disks.drive(disks.ide(vm, 0), "1"))
    assert code_of(caught) == 5
    with pytest.raises(InvalidState, match="IDE controller"):
        host.call("RemoveResourceSettings", ResourceSettings=[image, drive])


def test_a_saved_vm_takes_no_scsi_disk(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    controller = disks.controller(vm)
    host.set_state(vm, RUNNING)
    host.set_state(vm, SAVED)
    with pytest.raises(InvalidState, match="EnabledState 6"):
        disks.add(vm, disks.drive(controller))


# -- modify -------------------------------------------------------------------------------
def test_an_images_file_can_be_changed(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    _, image = disks.attach(vm, new_vhdx(host.session))
    other = new_vhdx(host.session)
    host.call("ModifyResourceSettings",
              ResourceSettings=[host.session.get(image).replace(HostResource=[other])])
    assert host.session.get(image)["HostResource"] == [other]
    with pytest.raises(InvalidParameter, match="not an existing"):
        host.call("ModifyResourceSettings", ResourceSettings=[
            host.session.get(image).replace(HostResource=["C:\\winstackers-test\\none.vhdx"])])


def test_other_image_properties_are_read_only(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    _, image = disks.attach(vm, new_vhdx(host.session))
    with pytest.raises(InvalidParameter, match="ElementName is read-only"):
        host.call("ModifyResourceSettings", ResourceSettings=[
            host.session.get(image).replace(ElementName="renamed")])


def test_iops_limit_is_not_below_the_reservation(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    _, image = disks.attach(vm, new_vhdx(host.session))
    with pytest.raises(InvalidParameter, match="below IOPSReservation"):
        host.call("ModifyResourceSettings", ResourceSettings=[
            host.session.get(image).replace(IOPSLimit=100, IOPSReservation=200)])
    host.call("ModifyResourceSettings", ResourceSettings=[
        host.session.get(image).replace(IOPSLimit=200, IOPSReservation=100)])
    assert host.session.get(image)["IOPSLimit"] == 200


@verified
def test_a_com_port_connects_to_a_named_pipe(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    [com1] = [p for p in disks.devices(vm, SERIAL) if p["ElementName"] == "COM 1"]
    pipe = f"\\\\.\\pipe\\{unique()}"
    host.call("ModifyResourceSettings", ResourceSettings=[com1.replace(Connection=[pipe])])
    assert host.session.get(com1.path)["Connection"] == [pipe]


@pytest.mark.parametrize("connection", [["C:\\console.log"], ["COM1"],
                                        ["\\\\.\\pipe\\a", "\\\\.\\pipe\\b"]])
def test_a_com_port_connects_to_nothing_but_one_pipe(host: Host, disks: Storage,
                                                     connection: list[str]) -> None:
    vm = host.define_vm(generation=2)
    com1 = disks.devices(vm, SERIAL)[0]
    with pytest.raises(InvalidParameter, match="not one named pipe"):
        host.call("ModifyResourceSettings", ResourceSettings=[com1.replace(Connection=connection)])


def test_a_com_port_changes_only_while_the_vm_is_off(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    host.set_state(vm, RUNNING)
    com1 = disks.devices(vm, SERIAL)[0]
    with pytest.raises(InvalidState, match="only while it is off"):
        host.call("ModifyResourceSettings",
                  ResourceSettings=[com1.replace(Connection=["\\\\.\\pipe\\x"])])


# -- remove -------------------------------------------------------------------------------
def test_a_drive_goes_after_its_image_in_the_same_call(host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    drive, image = disks.attach(vm, new_vhdx(host.session))
    with pytest.raises(InvalidParameter, match="still holds"):
        host.call("RemoveResourceSettings", ResourceSettings=[drive])
    with pytest.raises(InvalidParameter, match="still holds"):
        host.call("RemoveResourceSettings", ResourceSettings=[drive, image])
    host.call("RemoveResourceSettings", ResourceSettings=[image, drive])
    assert disks.devices(vm, SASD) == [] and disks.devices(vm, RASD, DISK_DRIVE) == []


def test_a_scsi_controller_goes_once_empty_while_the_vm_is_off(host: Host,
                                                               disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    controller = disks.controller(vm)
    [drive] = disks.add(vm, disks.drive(controller))
    with pytest.raises(InvalidParameter, match="still holds"):
        host.call("RemoveResourceSettings", ResourceSettings=[controller])
    host.call("RemoveResourceSettings", ResourceSettings=[drive, controller])
    assert disks.devices(vm, RASD) == []


@pytest.mark.parametrize("what", ["ide", "serial"])
def test_fixed_devices_cannot_be_removed(host: Host, disks: Storage, what: str) -> None:
    vm = host.define_vm(generation=1)
    target = disks.ide(vm, 0) if what == "ide" else disks.devices(vm, SERIAL)[0].path
    with pytest.raises(InvalidParameter, match="fixed device"):
        host.call("RemoveResourceSettings", ResourceSettings=[target])


def test_destroying_a_vm_removes_its_storage_settings_but_not_the_files(
        host: Host, disks: Storage) -> None:
    vm = host.define_vm(generation=2)
    path = new_vhdx(host.session)
    _, image = disks.attach(vm, path)
    host.call("DestroySystem", AffectedSystem=vm)
    host.vms.remove(vm)
    assert not [i for i in host.session.query(f"SELECT * FROM {SASD}")
                if i["HostResource"] == [path]]
    disks.attach(host.define_vm(generation=2), path)  # the file is free again


# -- calls, counters, faults ---------------------------------------------------------------
def test_attaching_counts_one_write_per_setting(host: Host, disks: Storage,
                                                emulated_host: EmulatedHost) -> None:
    vm = host.define_vm(generation=2)
    controller = disks.controller(vm)
    path = new_vhdx(host.session)
    emulated_host.counters.reset()
    disks.attach(vm, path, controller)
    assert emulated_host.counters.by_operation()["invoke:AddResourceSettings"] == 2


def test_a_failed_job_adds_no_drive(host: Host, disks: Storage,
                                    emulated_host: EmulatedHost) -> None:
    vm = host.define_vm(generation=2)
    controller = disks.controller(vm)
    emulated_host.faults = FaultPlan(job_failure_rate=1.0)
    with pytest.raises(CimError, match="injected"):
        disks.add(vm, disks.drive(controller))
    emulated_host.faults = FaultPlan()
    assert disks.devices(vm, RASD, DISK_DRIVE) == []
    assert host.session.get(vm)["EnabledState"] == OFF
