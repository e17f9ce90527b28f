"""Storage steps for contract tests, through ``winstackers.cim`` only: clone
the ``...\\Default`` controller, drive or image setting of a subtype, point
it at its parent, add it (as Hyper-V management code does)."""

from __future__ import annotations

from typing import Any

from winstackers.cim import Instance, Reference

from .helpers import Host

RASD = "Msvm_ResourceAllocationSettingData"
SASD = "Msvm_StorageAllocationSettingData"
SERIAL = "Msvm_SerialPortSettingData"
IDE = "Microsoft:Hyper-V:Emulated IDE Controller"
SCSI = "Microsoft:Hyper-V:Synthetic SCSI Controller"
DISK_DRIVE = "Microsoft:Hyper-V:Synthetic Disk Drive"
DVD_DRIVE = "Microsoft:Hyper-V:Synthetic DVD Drive"
HARD_DISK = "Microsoft:Hyper-V:Virtual Hard Disk"
DVD_DISK = "Microsoft:Hyper-V:Virtual CD/DVD Disk"
COMPONENT = "Msvm_VirtualSystemSettingDataComponent"


class Storage:
    """Storage steps on the VMs of one :class:`Host` helper."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.session = host.session

    def default(self, class_name: str, subtype: str) -> Instance:
        """The ``...\\Default`` setting of one subtype."""
        found = self.session.query(
            f"SELECT * FROM {class_name} WHERE ResourceSubType = '{subtype}' AND "
            "InstanceID LIKE '%\\\\Default'")
        assert len(found) == 1, f"{len(found)} defaults of {subtype}"
        return found[0]

    def devices(self, vm: Reference, class_name: str = RASD,
                subtype: str | None = None) -> list[Instance]:
        """The VM's settings of *class_name* (and *subtype*)."""
        found = self.session.associators(self.host.settings(vm).path, assoc_class=COMPONENT,
                                         result_class=class_name)
        return [d for d in found if subtype is None or d["ResourceSubType"] == subtype]

    def add(self, vm: Reference, *settings: Instance) -> list[Reference]:
        """AddResourceSettings of *settings* to *vm*, in one call."""
        return self.host.call("AddResourceSettings", AffectedConfiguration=self.host.settings(
            vm).path, ResourceSettings=list(settings))["ResultingResourceSettings"]

    def controller(self, vm: Reference) -> Reference:
        """A new SCSI controller on *vm*."""
        return self.add(vm, self.default(RASD, SCSI))[0]

    def drive(self, parent: Any, slot: Any = "0", subtype: str = DISK_DRIVE) -> Instance:
        """A drive setting for slot *slot* of controller *parent*."""
        return self.default(RASD, subtype).replace(
            Parent=parent.path if isinstance(parent, Reference) else parent,
            AddressOnParent=slot)

    def image(self, drive: Any, path: str, subtype: str = HARD_DISK) -> Instance:
        """An image setting for file *path* in drive *drive*."""
        return self.default(SASD, subtype).replace(
            Parent=drive.path if isinstance(drive, Reference) else drive, HostResource=[path])

    def attach(self, vm: Reference, path: str, controller: Reference | None = None,
               slot: str = "0", dvd: bool = False) -> tuple[Reference, Reference]:
        """Attach *path* on a (new) SCSI controller: (drive, image)."""
        controller = controller or self.controller(vm)
        drive = self.add(vm, self.drive(controller, slot, DVD_DRIVE if dvd else DISK_DRIVE))[0]
        image = self.add(vm, self.image(drive, path, DVD_DISK if dvd else HARD_DISK))[0]
        return drive, image

    def ide(self, vm: Reference, number: int) -> Reference:
        """IDE controller *number* of a generation 1 VM."""
        found = [c for c in self.devices(vm, RASD, IDE) if c["Address"] == str(number)]
        assert len(found) == 1
        assert found[0].path is not None
        return found[0].path
