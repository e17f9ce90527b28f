"""Disks, images and serial ports as immutable values, and how the host's
settings read as them.

A VM's storage is a chain of settings, each naming the one above it in
``Parent`` (an object path) and its slot there in ``AddressOnParent``: a
controller, a drive on one of its slots, an image in the drive whose
HostResource is the file's path.  Values and subtypes, with sources:

- ResourceType 5 IDE controller, 6 SCSI, 16 DVD drive, 17 disk drive,
  21 serial port, 31 logical disk (an image)
  (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-resourceallocationsettingdata);
  image subtypes ``Microsoft:Hyper-V:Virtual Hard Disk`` and
  ``Microsoft:Hyper-V:Virtual CD/DVD Disk``
  (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-storageallocationsettingdata);
  serial ports ``Microsoft:Hyper-V:Serial Port``, whose Connection names a
  pipe (RASD page above).  The controller and drive subtypes are not on
  Microsoft's pages; these are the ones os-win used
  (https://github.com/openstack/os-win/blob/master/os_win/utils/compute/vmutils.py).
- Virtual hard disks: Type 2 fixed, 3 dynamic, 4 differencing; Format 2
  VHD, 3 VHDX
  (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-virtualharddisksettingdata).
- Slots: 2 per IDE controller (two controllers), 64 per SCSI controller
  (up to four)
  (https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/plan/plan-hyper-v-scalability-in-windows-server).
- A pipe is ``\\\\.\\pipe\\name`` (local) or ``\\\\server\\pipe\\name``
  (https://learn.microsoft.com/en-us/powershell/module/hyper-v/set-vmcomport).

IDE controllers are numbered by their Address (``0``, ``1``: os-win finds
them so); SCSI controllers in the order the host lists them, as os-win
took the first one it was given: Microsoft documents no number for them.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from winstackers.cim.values import Instance, Reference
from winstackers.hyperv.errors import InvalidDesiredState

RASD = "Msvm_ResourceAllocationSettingData"
SASD = "Msvm_StorageAllocationSettingData"
SERIAL = "Msvm_SerialPortSettingData"
IDE_SUBTYPE = "Microsoft:Hyper-V:Emulated IDE Controller"
SCSI_SUBTYPE = "Microsoft:Hyper-V:Synthetic SCSI Controller"
SERIAL_SUBTYPE = "Microsoft:Hyper-V:Serial Port"
_PIPE = re.compile(r"^\\\\[^\\]+\\pipe\\[^\\]+$", re.IGNORECASE)
_QUALIFIED = re.compile(r"^([A-Za-z]:\\|\\\\[^\\]+\\[^\\]+\\)[^\\]")


class DiskFormat(enum.IntEnum):
    """A virtual hard disk's Format."""

    VHD = 2
    VHDX = 3


class DiskType(enum.IntEnum):
    """A virtual hard disk's Type."""

    FIXED = 2
    DYNAMIC = 3
    DIFFERENCING = 4


class Controller(enum.Enum):
    """A kind of storage controller, with its subtype and slots."""

    IDE = "ide"
    SCSI = "scsi"

    @property
    def subtype(self) -> str:
        """Its ResourceSubType."""
        return IDE_SUBTYPE if self is Controller.IDE else SCSI_SUBTYPE

    @property
    def slots(self) -> int:
        """Slots per controller."""
        return 2 if self is Controller.IDE else 64


class Media(enum.Enum):
    """What a drive holds: its drive and image subtypes."""

    DISK = "disk"
    ISO = "iso"

    @property
    def drive_subtype(self) -> str:
        """The drive's ResourceSubType."""
        return "Microsoft:Hyper-V:Synthetic " + ("Disk" if self is Media.DISK else "DVD") + \
            " Drive"

    @property
    def image_subtype(self) -> str:
        """The image's ResourceSubType."""
        return "Microsoft:Hyper-V:" + ("Virtual Hard Disk" if self is Media.DISK
                                       else "Virtual CD/DVD Disk")


@dataclass(frozen=True)
class ImageInfo:
    """A virtual hard disk file as the host describes it.

    ``size_bytes`` is what the guest sees (MaxInternalSize); ``parent`` the
    parent's path of a differencing disk.
    """

    path: str
    format: DiskFormat
    type: DiskType
    size_bytes: int
    parent: str | None
    disk_id: str
    block_size: int
    logical_sector_size: int
    physical_sector_size: int

    @classmethod
    def from_setting(cls, vhd: Instance) -> ImageInfo:
        """The info of one Msvm_VirtualHardDiskSettingData."""
        return cls(path=str(vhd.get("Path")), format=DiskFormat(int(vhd.get("Format"))),
                   type=DiskType(int(vhd.get("Type"))),
                   size_bytes=int(vhd.get("MaxInternalSize") or 0),
                   parent=vhd.get("ParentPath") or None,
                   disk_id=str(vhd.get("VirtualDiskId") or ""),
                   block_size=int(vhd.get("BlockSize") or 0),
                   logical_sector_size=int(vhd.get("LogicalSectorSize") or 0),
                   physical_sector_size=int(vhd.get("PhysicalSectorSize") or 0))


@dataclass(frozen=True)
class DiskInfo:
    """A disk or ISO image attached to a VM, and where."""

    vm_name: str
    path: str
    media: Media
    controller: Controller
    controller_number: int
    slot: int


@dataclass(frozen=True)
class SerialPortInfo:
    """A COM port (1 or 2) and the pipe it is connected to, if any."""

    number: int
    pipe: str | None


def check_path(path: str, field: str = "path") -> str:
    """*path* if it is fully qualified (``C:\\...`` or ``\\\\server\\share\\...``).

    :raises InvalidDesiredState: naming *field*.
    """
    if not isinstance(path, str) or not _QUALIFIED.match(path):
        raise InvalidDesiredState(field=field, detail=f"{path!r} is not a fully qualified "
                                  "path (C:\\... or \\\\server\\share\\...)")
    return path


def check_pipe(pipe: str | None) -> str | None:
    """*pipe* if it names a named pipe (or is None: disconnected).

    :raises InvalidDesiredState: naming ``pipe_path``.
    """
    if pipe is not None and not _PIPE.match(pipe):
        raise InvalidDesiredState(field="pipe_path", detail=f"{pipe!r} is not a named pipe "
                                  "(\\\\.\\pipe\\name or \\\\server\\pipe\\name)")
    return pipe


def serial_port_info(port: Instance, number: int) -> SerialPortInfo:
    """The info of one Msvm_SerialPortSettingData."""
    connection = [c for c in port.get("Connection") or [] if c]
    return SerialPortInfo(number, str(connection[0]) if connection else None)


class Layout:
    """A VM's storage settings (from one read of its devices), indexed."""

    def __init__(self, vm_name: str, devices: list[Instance]) -> None:
        self.vm_name = vm_name
        self.controllers: list[tuple[Instance, Controller, int]] = []
        by_kind: dict[Controller, list[Instance]] = {Controller.IDE: [], Controller.SCSI: []}
        self.drives: list[Instance] = []
        self.images: list[Instance] = []
        for device in devices:
            if _is_template(device):
                continue
            subtype = device.get("ResourceSubType")
            if device.class_name.lower() == SASD.lower():
                self.images.append(device)
            elif subtype in (IDE_SUBTYPE, SCSI_SUBTYPE):
                by_kind[Controller.IDE if subtype == IDE_SUBTYPE else Controller.SCSI].append(
                    device)
            elif subtype in (Media.DISK.drive_subtype, Media.ISO.drive_subtype):
                self.drives.append(device)
        ide = sorted(by_kind[Controller.IDE], key=lambda c: str(c.get("Address") or ""))
        for kind, found in ((Controller.IDE, ide), (Controller.SCSI, by_kind[Controller.SCSI])):
            self.controllers += [(c, kind, n) for n, c in enumerate(found)]

    def count(self, kind: Controller) -> int:
        """How many controllers of *kind* the VM has."""
        return sum(1 for _, k, _ in self.controllers if k is kind)

    def _children(self, parent: Instance, among: list[Instance]) -> list[Instance]:
        return [d for d in among if _parent(d) == parent.path]

    def disks(self) -> list[DiskInfo]:
        """Every attached image, in controller and slot order."""
        found = []
        for controller, kind, number in self.controllers:
            for drive in self._children(controller, self.drives):
                for image in self._children(drive, self.images):
                    found.append(self._info(image, drive, kind, number))
        return sorted(found, key=lambda d: (d.controller.value, d.controller_number, d.slot))

    def _info(self, image: Instance, drive: Instance, kind: Controller, number: int) -> DiskInfo:
        media = Media.ISO if image.get("ResourceSubType") == Media.ISO.image_subtype \
            else Media.DISK
        return DiskInfo(self.vm_name, _host_path(image), media, kind, number,
                        int(drive.get("AddressOnParent") or 0))

    def find(self, path: str) -> tuple[Instance, Instance, DiskInfo] | None:
        """(image, drive, info) of the image whose file is *path*."""
        for controller, kind, number in self.controllers:
            for drive in self._children(controller, self.drives):
                for image in self._children(drive, self.images):
                    if _host_path(image).lower() == path.lower():
                        return image, drive, self._info(image, drive, kind, number)
        return None

    def free_place(self, kind: Controller, number: int | None,
                   slot: int | None) -> tuple[Instance, int, int] | None:
        """(controller, number, slot) of the first free slot matching the
        wishes, or None."""
        for controller, ckind, cnumber in self.controllers:
            if ckind is not kind or number not in (None, cnumber):
                continue
            taken = {int(d.get("AddressOnParent") or 0)
                     for d in self._children(controller, self.drives)}
            free = [s for s in range(kind.slots) if s not in taken and slot in (None, s)]
            if free:
                return controller, cnumber, free[0]
        return None


def _is_template(setting: Instance) -> bool:
    return str(setting.get("InstanceID") or "").endswith("\\Default")


def _parent(setting: Instance) -> Reference | None:
    text = setting.get("Parent")
    if not text:
        return None
    try:
        return Reference.parse(str(text))
    except Exception:  # noqa: BLE001 - an unparsable Parent names nothing
        return None


def _host_path(image: Instance) -> str:
    resource: Any = image.get("HostResource") or []
    return str(resource[0]) if resource else ""
