"""A VM's storage devices and serial ports: what they are and how they hang together.

Hyper-V describes storage as a chain of device settings, each naming the
one above it in ``Parent`` (an object path) and its place there in
``AddressOnParent``:

- a controller (``Msvm_ResourceAllocationSettingData``, ResourceType 5 IDE
  Controller or 6 Parallel SCSI HBA);
- a drive on a controller slot (the same class, ResourceType 17 Disk Drive
  or 16 DVD drive);
- an image in a drive (``Msvm_StorageAllocationSettingData``, ResourceType
  31 Logical Disk, ResourceSubType ``Microsoft:Hyper-V:Virtual Hard Disk``
  or ``Microsoft:Hyper-V:Virtual CD/DVD Disk``), whose HostResource names
  the file.

Sources: the ResourceType values and the image subtypes are on
https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-resourceallocationsettingdata
and
https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-storageallocationsettingdata.
Serial ports are ``Msvm_SerialPortSettingData``, ResourceType 21,
ResourceSubType ``Microsoft:Hyper-V:Serial Port`` (same RASD page); a VM
has two ("Serial (COM) ports: 2",
https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/plan/plan-hyper-v-scalability-in-windows-server).
Microsoft's pages do not give the controller and drive subtypes; the
emulator uses the ones public Hyper-V code uses (os-win,
https://github.com/openstack/os-win/blob/master/os_win/utils/compute/vmutils.py):
``Microsoft:Hyper-V:Emulated IDE Controller``, ``...:Synthetic SCSI
Controller``, ``...:Synthetic Disk Drive``, ``...:Synthetic DVD Drive``.

What a new VM has: generation 1, two IDE controllers (Address ``0`` and
``1``: "IDE controller" is a generation 1 device, replaced by the SCSI
controller in generation 2:
https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/plan/should-i-create-a-generation-1-or-2-virtual-machine-in-hyper-v);
both generations, COM 1 and COM 2 with an empty Connection.  Microsoft
does not say whether DefineSystem gives a VM a SCSI controller; the
emulator gives none (code that assumes one fails here, code that adds one
works on either), so one is added with AddResourceSettings.

Limits: 4 SCSI controllers of 64 slots, 2 IDE controllers of 2 slots
(scalability page above: "Virtual SCSI controllers: 4", "Each SCSI
controller supports up to 64 disks", "Virtual IDE disks: 4").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from winstackers.cim.values import Reference
from winstackers.emulator.hyperv import model

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost

RASD = "Msvm_ResourceAllocationSettingData"
SASD = "Msvm_StorageAllocationSettingData"
SERIAL = "Msvm_SerialPortSettingData"
IDE = "Microsoft:Hyper-V:Emulated IDE Controller"
SCSI = "Microsoft:Hyper-V:Synthetic SCSI Controller"
DISK_DRIVE = "Microsoft:Hyper-V:Synthetic Disk Drive"
DVD_DRIVE = "Microsoft:Hyper-V:Synthetic DVD Drive"
HARD_DISK = "Microsoft:Hyper-V:Virtual Hard Disk"
DVD_DISK = "Microsoft:Hyper-V:Virtual CD/DVD Disk"
SERIAL_PORT = "Microsoft:Hyper-V:Serial Port"
CONTROLLERS = (IDE, SCSI)
DRIVES = (DISK_DRIVE, DVD_DRIVE)
IMAGES = (HARD_DISK, DVD_DISK)
MAX_SCSI_CONTROLLERS = 4


@dataclass(frozen=True)
class Kind:
    """One kind of storage setting: its class and fixed values.

    :ivar slots: slots of a controller (0 for other kinds).
    :ivar holds: for a drive, the image subtype it takes; for an image,
        the drive subtype it goes in; for an image, also the file kinds.
    """

    class_name: str
    subtype: str
    resource_type: int
    element_name: str
    slots: int = 0
    holds: str = ""
    files: tuple[str, ...] = field(default=())

    def defaults(self) -> dict[str, Any]:
        """The fixed values of a setting of this kind."""
        return {"ResourceType": self.resource_type, "ResourceSubType": self.subtype,
                "ElementName": self.element_name}


KINDS: dict[str, Kind] = {k.subtype: k for k in (
    Kind(RASD, IDE, 5, "IDE Controller", slots=2),
    Kind(RASD, SCSI, 6, "SCSI Controller", slots=64),
    Kind(RASD, DISK_DRIVE, 17, "Hard Drive", holds=HARD_DISK),
    Kind(RASD, DVD_DRIVE, 16, "DVD Drive", holds=DVD_DISK),
    Kind(SASD, HARD_DISK, 31, "Hard Disk Image", holds=DISK_DRIVE, files=("vhd", "vhdx")),
    Kind(SASD, DVD_DISK, 31, "ISO Disk Image", holds=DVD_DRIVE, files=("iso",)),
    Kind(SERIAL, SERIAL_PORT, 21, "COM 1"),
)}
STORAGE_CLASSES = frozenset(name.lower() for name in (RASD, SASD, SERIAL))


def is_storage(class_name: str) -> bool:
    """Whether *class_name* is one of the classes this module describes."""
    return class_name.lower() in STORAGE_CLASSES


def kind_of(record: dict[str, Any]) -> Kind | None:
    """The kind of a stored or proposed setting, from its subtype."""
    return KINDS.get(str(record.get("ResourceSubType") or ""))


def populate_defaults(host: EmulatedHost) -> None:
    """Give the host a ``...\\Default`` setting of each kind but serial
    ports (which a VM has from the start and cannot add)."""
    for index, kind in enumerate(KINDS.values()):
        if kind.class_name != SERIAL:
            host.store.add(kind.class_name, {
                **kind.defaults(),
                "InstanceID": f"Microsoft:Definition\\{index:08X}-5707-0000-0000-"
                              f"000000000000\\Default"})


def create_fixed_devices(host: EmulatedHost, vssd: Reference, guid: str, generation: int) -> None:
    """Give a new VM its IDE controllers (generation 1) and COM ports."""
    settings: list[tuple[str, dict[str, Any]]] = []
    if generation == 1:
        settings += [(RASD, {**KINDS[IDE].defaults(), "Address": str(n),
                             "ElementName": f"IDE Controller {n}"}) for n in (0, 1)]
    settings += [(SERIAL, {**KINDS[SERIAL_PORT].defaults(), "ElementName": f"COM {n}",
                           "Connection": []}) for n in (1, 2)]
    for class_name, values in settings:
        ref = host.store.add(class_name, {**values,
                                          "InstanceID": f"Microsoft:{guid}\\{model.new_guid()}"})
        host.store.associate("Msvm_VirtualSystemSettingDataComponent", GroupComponent=vssd,
                             PartComponent=ref)


def children(host: EmulatedHost, vssd: Reference, parent: Reference,
             class_name: str) -> list[tuple[Reference, dict[str, Any]]]:
    """The settings of one VM whose Parent is *parent*."""
    found = []
    for ref in model.devices_of(host.store, vssd, class_name):
        record = host.store.get(ref)
        if model.parse_path(host.store, record.get("Parent")) == parent:
            found.append((ref, record))
    return found


def controller_subtype(host: EmulatedHost, setting: dict[str, Any]) -> str | None:
    """The controller subtype a drive or image hangs from (itself for a
    controller); None when the chain is broken."""
    current: dict[str, Any] | None = setting
    for _ in range(3):
        if current is None:
            return None
        kind = kind_of(current)
        if kind is not None and kind.subtype in CONTROLLERS:
            return kind.subtype
        parent = model.parse_path(host.store, current.get("Parent"))
        current = host.store.find(parent) if parent is not None else None
    return None


def attachments(host: EmulatedHost, path: str) -> list[tuple[Reference, dict[str, Any]]]:
    """The images (of any VM) whose HostResource names the file *path*."""
    return [(ref, record) for ref, record in host.store.instances(SASD)
            if any(str(p).lower() == path.lower() for p in record.get("HostResource") or [])
            and not str(record.get("InstanceID")).endswith("\\Default")]
