"""Msvm_ImageManagementService: CreateVirtualHardDisk, GetVirtualHardDiskSettingData,
ResizeVirtualHardDisk, over the host's files (:mod:`..imagefiles`).

Sources (hyperv_v2 pages on Microsoft Learn):

- The three methods return 0, 4096 (job started), 32768-32778 and 32779
  File not found
  (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/createvirtualharddisk-msvm-imagemanagementservice,
  .../getvirtualharddisksettingdata-..., .../resizevirtualharddisk-...).
  Create and Resize run as jobs; Get answers at once (its page allows both).
- CreateVirtualHardDisk takes an embedded Msvm_VirtualHardDiskSettingData:
  Type 2 Fixed, 3 Dynamic, 4 Differencing; Format 2 VHD, 3 VHDX, 4 VHDSet;
  Path and ParentPath fully qualified; MaxInternalSize in bytes, "rounded
  up to the next largest multiple of the sector size"
  (msvm-virtualharddisksettingdata).  Capacity is at most 2040 GB (VHD) or
  64 TB (VHDX) (the Hyper-V scalability page).
- GetVirtualHardDiskSettingData returns that class, embedded, for a file.
- ResizeVirtualHardDisk: "The virtual hard disk must be offline"; the new
  MaxInternalSize must be at least DiskSize + 512 - (DiskSize mod 512),
  DiskSize being the file's size, else 32773; growing works for fixed and
  dynamic VHD and VHDX and differencing VHDX, shrinking for fixed, dynamic
  and differencing VHDX only.

Where Microsoft is silent the emulator refuses with 32773 unless noted: a
path not fully qualified, an existing path, an extension other than
``.vhd``/``.vhdx`` matching Format; a differencing disk without ParentPath
(a missing parent is 32779), with a parent of another format, or with a
MaxInternalSize other than 0 or its parent's; ParentPath on another type;
LogicalSectorSize other than 512 (or 4096 on VHDX); PhysicalSectorSize
other than 512 or 4096; a VHDX BlockSize that is not a power of two from
1 MB to 256 MB (the [MS-VHDX] file format's rule,
https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-vhdx/ec0e9d25-69e4-439e-806a-e0c23f0e1ae6);
a missing file is 32779 and an ISO
given to Get or Resize 32773.  With a files root (:mod:`..filesroot`),
a Path whose folder does not exist is refused with 32773 (Microsoft does
not say whether Hyper-V makes the folder; the emulator takes the stricter:
the caller makes it).  Resizing refuses with 32775 a disk that an
image of a VM not off names (Microsoft's generation 2 page says a boot
VHDX can be resized while the VM runs; the method's page says offline:
the emulator takes the stricter) and a disk that is the parent of a
differencing disk (that would corrupt the child); the types the Remarks
leave out return 32770.  Format 4 (VHD Set) and a VHD BlockSize other than
the default are not emulated (32770).

Not emulated: the other methods of the class, VHD Sets, data alignment and
persistent memory settings (accepted, not kept).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from winstackers.cim import embedded
from winstackers.cim.values import Instance, Reference
from winstackers.emulator.hyperv import imagefiles, model, storage
from winstackers.emulator.hyperv.imagefiles import (
    DIFFERENCING,
    FIXED,
    MAX_SIZE,
    MIB,
    VHD,
    VHDX,
    ImageFile,
)
from winstackers.emulator.hyperv.methods import Outcome, method
from winstackers.emulator.hyperv.providers.common import expect_class, refuse

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost

SERVICE = "Msvm_ImageManagementService"
VHDSD = "Msvm_VirtualHardDiskSettingData"
NOT_SUPPORTED_32K, INVALID_PARAMETER_32K, INVALID_STATE_32K, FILE_NOT_FOUND = \
    32770, 32773, 32775, 32779
_EXTENSION = {VHD: ".vhd", VHDX: ".vhdx"}
_GUID = re.compile(r"^\{?[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}?$")


def _bad(detail: str) -> NoReturn:
    refuse(INVALID_PARAMETER_32K, detail)


def _disk(host: EmulatedHost, path: Any, where: str) -> ImageFile:
    if not path or not isinstance(path, str):
        _bad(f"{where}: parameter Path is required")
    found = host.files.find(path)
    if found is None:
        refuse(FILE_NOT_FOUND, f"{where}: the file {path!r} does not exist")
    if found.format is None:
        _bad(f"{where}: {path!r} is not a virtual hard disk")
    return found


@method(SERVICE, "CreateVirtualHardDisk")
def create_virtual_hard_disk(host: EmulatedHost, target: Reference,
                             args: Mapping[str, Any]) -> Outcome:
    """Create a fixed, dynamic or differencing VHD or VHDX file, as a job."""
    settings = args["VirtualDiskSettingData"]
    if settings is None:
        _bad("CreateVirtualHardDisk: parameter VirtualDiskSettingData is required")
    expect_class(host, settings, VHDSD, "CreateVirtualHardDisk(VirtualDiskSettingData)")
    image = _new_image(host, settings)
    return Outcome({}, lambda: host.files.add(image))


def _new_image(host: EmulatedHost, settings: Instance) -> ImageFile:
    where = "CreateVirtualHardDisk"
    fmt, disk_type, path = settings.get("Format"), settings.get("Type"), settings.get("Path")
    if fmt == 4:
        refuse(NOT_SUPPORTED_32K, f"{where}: Format 4 (VHD Set) is not emulated")
    if fmt not in (VHD, VHDX):
        _bad(f"{where}: Format {fmt!r} is not 2 (VHD) or 3 (VHDX)")
    if disk_type not in (FIXED, imagefiles.DYNAMIC, DIFFERENCING):
        _bad(f"{where}: Type {disk_type!r} is not 2 (Fixed), 3 (Dynamic) or 4 (Differencing)")
    if not isinstance(path, str) or not imagefiles.is_fully_qualified(path):
        _bad(f"{where}: Path {path!r} is not a fully qualified path")
    if not path.lower().endswith(_EXTENSION[fmt]):
        _bad(f"{where}: Path {path!r} does not end in {_EXTENSION[fmt]} (Format {fmt})")
    if host.files.find(path) is not None:
        _bad(f"{where}: the file {path!r} exists")
    if not host.files.folder_exists(path):
        _bad(f"{where}: the folder of {path!r} does not exist")
    logical, physical, block = _geometry(settings, fmt, where)
    size, parent = _size_and_parent(host, settings, fmt, disk_type, logical, where)
    disk_id = settings.get("VirtualDiskId") or model.new_guid()
    if not _GUID.match(disk_id) or set(disk_id) <= set("0-{}"):
        _bad(f"{where}: VirtualDiskId {disk_id!r} is not a GUID")
    return ImageFile(path, imagefiles.KIND_OF_FORMAT[fmt],
                     imagefiles.initial_file_size(fmt, disk_type, size), disk_type, size,
                     parent.path if parent else None, disk_id.strip("{}").upper(), block,
                     logical, physical)


def _geometry(settings: Instance, fmt: int, where: str) -> tuple[int, int, int]:
    logical = settings.get("LogicalSectorSize") or 512
    physical = settings.get("PhysicalSectorSize") or imagefiles.DEFAULT_PHYSICAL_SECTOR[fmt]
    block = settings.get("BlockSize") or imagefiles.DEFAULT_BLOCK[fmt]
    if logical not in ((512, 4096) if fmt == VHDX else (512,)):
        _bad(f"{where}: LogicalSectorSize {logical} is not supported for Format {fmt}")
    if physical not in (512, 4096):
        _bad(f"{where}: PhysicalSectorSize {physical} is not 512 or 4096")
    if fmt == VHD and block != imagefiles.DEFAULT_BLOCK[VHD]:
        refuse(NOT_SUPPORTED_32K, f"{where}: a VHD BlockSize other than 2 MB is not emulated")
    if fmt == VHDX and (block & (block - 1) or not MIB <= block <= 256 * MIB):
        _bad(f"{where}: BlockSize {block} is not a power of two from 1 MB to 256 MB")
    return logical, physical, block


def _size_and_parent(host: EmulatedHost, settings: Instance, fmt: int, disk_type: int,
                     sector: int, where: str) -> tuple[int, ImageFile | None]:
    size, parent_path = settings.get("MaxInternalSize") or 0, settings.get("ParentPath")
    if disk_type != DIFFERENCING:
        if parent_path:
            _bad(f"{where}: ParentPath is only for a differencing disk (Type 4)")
        if not 0 < size <= MAX_SIZE[fmt]:
            _bad(f"{where}: MaxInternalSize {size} is out of 1-{MAX_SIZE[fmt]} bytes "
                 f"for Format {fmt}")
        return imagefiles.round_to_sector(size, sector), None
    if not parent_path:
        _bad(f"{where}: a differencing disk needs ParentPath")
    parent = _disk(host, parent_path, where)
    if parent.format != fmt:
        _bad(f"{where}: parent {parent.path!r} is Format {parent.format}, not {fmt}")
    if size not in (0, parent.max_internal_size):
        _bad(f"{where}: a differencing disk takes its parent's size "
             f"({parent.max_internal_size}), not {size}")
    return parent.max_internal_size, parent


@method(SERVICE, "GetVirtualHardDiskSettingData")
def get_virtual_hard_disk_setting_data(host: EmulatedHost, target: Reference,
                                       args: Mapping[str, Any]) -> Outcome:
    """A file's Msvm_VirtualHardDiskSettingData, embedded; returns 0 at once."""
    image = _disk(host, args["Path"], "GetVirtualHardDiskSettingData")
    return Outcome({"SettingData": embedded.to_text(setting_data(host, image))}, as_job=False)


def setting_data(host: EmulatedHost, image: ImageFile) -> Instance:
    """The Msvm_VirtualHardDiskSettingData describing *image*."""
    cls = host.schema.get(VHDSD)
    parent = host.files.find(image.parent) if image.parent else None
    values = {**cls.defaults(), "Type": image.disk_type, "Format": image.format,
              "Path": image.path, "ParentPath": image.parent or "",
              "ParentIdentifier": parent.disk_id if parent else "",
              "MaxInternalSize": image.max_internal_size, "BlockSize": image.block_size,
              "LogicalSectorSize": image.logical_sector_size,
              "PhysicalSectorSize": image.physical_sector_size,
              "VirtualDiskId": image.disk_id, "DataAlignment": 0,
              "PmemAddressAbstractionType": 0, "IsPmemCompatible": False}
    return Instance(cls.name, values, None, cls.types())


@method(SERVICE, "ResizeVirtualHardDisk")
def resize_virtual_hard_disk(host: EmulatedHost, target: Reference,
                             args: Mapping[str, Any]) -> Outcome:
    """Grow or shrink a virtual hard disk that no running VM uses, as a job."""
    where = "ResizeVirtualHardDisk"
    image = _disk(host, args["Path"], where)
    wanted = args["MaxInternalSize"]
    if wanted is None:
        _bad(f"{where}: parameter MaxInternalSize is required")
    _check_resizable(host, image, wanted, where)
    new_size = imagefiles.round_to_sector(wanted, image.logical_sector_size)
    return Outcome({}, lambda: host.files.resize(image, new_size))


def _check_resizable(host: EmulatedHost, image: ImageFile, wanted: int, where: str) -> None:
    fmt = image.format or VHDX
    if wanted > MAX_SIZE[fmt]:
        _bad(f"{where}: MaxInternalSize {wanted} is above {MAX_SIZE[fmt]} for Format {fmt}")
    minimum = image.file_size + 512 - image.file_size % 512
    if wanted < minimum:
        _bad(f"{where}: MaxInternalSize {wanted} is below the minimum {minimum} "
             f"(file size {image.file_size} + 512 - (file size mod 512))")
    if fmt == VHD and (wanted < image.max_internal_size or image.disk_type == DIFFERENCING):
        change = "shrinking" if wanted < image.max_internal_size else "growing"
        kind = ("fixed", "dynamic", "differencing")[image.disk_type - FIXED]
        refuse(NOT_SUPPORTED_32K, f"{where}: {change} a {kind} VHD is not supported")
    for ref, _ in storage.attachments(host, image.path):
        vm = host.store.get(model.system_of(host.store, model.owner_of(host.store, ref)))
        if vm["EnabledState"] != model.OFF:
            refuse(INVALID_STATE_32K, f"{where}: {image.path!r} is attached to VM "
                   f"{vm['ElementName']!r}, which is not off: the disk must be offline")
    if host.files.children_of(image.path):
        refuse(INVALID_STATE_32K, f"{where}: {image.path!r} is the parent of a differencing "
               "disk")
