"""The emulated host's files: virtual hard disks and ISO images, by path.

Hyper-V keeps no WMI instance for a file: ``Msvm_ImageManagementService``
creates and reads them by path, and a VM's disk or DVD image names one in
its HostResource.  The emulator keeps a table of the files it knows:
virtual hard disks made by CreateVirtualHardDisk, and files put there by
the host model (:func:`register`, ``EmulatedHost.add_file``), as the
operator (or a future file channel) would copy an ISO onto the host.

Paths are fully qualified (``C:\\...`` or ``\\\\server\\share\\...``, as the
image service's pages ask: "the fully qualified path") and compared without
regard to case, as Windows compares them.  Directories are not modelled.

Facts (Microsoft Learn, hyperv_v2 unless noted):

- Type 2 Fixed, 3 Dynamic, 4 Differencing; Format 2 VHD, 3 VHDX
  (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-virtualharddisksettingdata);
  MaxInternalSize is what the guest sees, "rounded up to the next largest
  multiple of the sector size".
- Capacity: 2040 GB for VHD, 64 TB for VHDX
  (https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/plan/plan-hyper-v-scalability-in-windows-server).
- A fixed VHD is its data followed by a 512-byte footer (Microsoft's
  Virtual Hard Disk Image Format Specification).

The emulator's own model, not Hyper-V's figures (Microsoft gives none): a
fixed VHDX takes its data plus 4 MiB, a new dynamic or differencing disk
4 MiB (VHDX) or 64 KiB (VHD) until the guest writes to it (see
``file_size``).  Default sectors: 512 logical for both formats, 4096
physical for VHDX and 512 for VHD; block size 32 MiB (VHDX), 2 MiB (VHD).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from winstackers.cim.errors import InvalidParameter

VHD, VHDX = 2, 3
FIXED, DYNAMIC, DIFFERENCING = 2, 3, 4
KINDS = ("vhd", "vhdx", "iso")
FORMAT_OF_KIND = {"vhd": VHD, "vhdx": VHDX}
KIND_OF_FORMAT = {VHD: "vhd", VHDX: "vhdx"}
GIB, MIB = 1024 ** 3, 1024 ** 2
MAX_SIZE = {VHD: 2040 * GIB, VHDX: 64 * 1024 * GIB}
DEFAULT_BLOCK = {VHD: 2 * MIB, VHDX: 32 * MIB}
DEFAULT_PHYSICAL_SECTOR = {VHD: 512, VHDX: 4096}
_OVERHEAD = {VHD: 512, VHDX: 4 * MIB}
_EMPTY_SPARSE = {VHD: 64 * 1024, VHDX: 4 * MIB}
_QUALIFIED = re.compile(r"^([A-Za-z]:\\|\\\\[^\\]+\\[^\\]+\\)[^\\]")


@dataclass
class ImageFile:
    """One file of the host.

    :ivar kind: ``vhd``, ``vhdx`` or ``iso``.
    :ivar file_size: bytes the file takes on the host.
    :ivar disk_type: 2 fixed, 3 dynamic, 4 differencing (0 for an ISO).
    :ivar max_internal_size: bytes the guest sees (0 for an ISO).
    :ivar parent: the parent's path, for a differencing disk.
    """

    path: str
    kind: str
    file_size: int
    disk_type: int = 0
    max_internal_size: int = 0
    parent: str | None = None
    disk_id: str = ""
    block_size: int = 0
    logical_sector_size: int = 512
    physical_sector_size: int = 512

    @property
    def format(self) -> int | None:
        """2 (VHD) or 3 (VHDX); None for an ISO."""
        return FORMAT_OF_KIND.get(self.kind)

    def resized(self, size: int) -> None:
        """Take a new MaxInternalSize (a fixed disk's file follows it)."""
        self.max_internal_size = size
        if self.disk_type == FIXED and self.format is not None:
            self.file_size = size + _OVERHEAD[self.format]


def is_fully_qualified(path: str) -> bool:
    """Whether *path* is a drive-letter or UNC path naming a file."""
    return bool(_QUALIFIED.match(path))


def initial_file_size(fmt: int, disk_type: int, size: int) -> int:
    """The size of a new disk file (the emulator's model; see the module)."""
    return size + _OVERHEAD[fmt] if disk_type == FIXED else _EMPTY_SPARSE[fmt]


def round_to_sector(size: int, sector: int) -> int:
    """*size* rounded up to a whole number of sectors."""
    return -(-size // sector) * sector


class ImageFiles:
    """The files of one host, by case-insensitive path."""

    def __init__(self) -> None:
        self._files: dict[str, ImageFile] = {}

    def find(self, path: str | None) -> ImageFile | None:
        """The file at *path*, or None."""
        return self._files.get(path.lower()) if path else None

    def add(self, image: ImageFile) -> None:
        """Keep *image*; the caller has checked its path is free."""
        self._files[image.path.lower()] = image

    def children_of(self, path: str) -> list[ImageFile]:
        """The differencing disks whose parent is *path*."""
        return [f for f in self._files.values()
                if f.parent is not None and f.parent.lower() == path.lower()]

    def __len__(self) -> int:
        return len(self._files)

    def dump(self) -> list[dict[str, Any]]:
        """Every file as JSON-able data."""
        return [asdict(f) for f in self._files.values()]

    def load(self, rows: list[dict[str, Any]]) -> None:
        """Replace the files with what :meth:`dump` produced."""
        self._files = {}
        for row in rows:
            self.add(ImageFile(**row))


def register(files: ImageFiles, path: str, kind: str, size: int, *,
             file_size: int | None = None, disk_id: str = "") -> ImageFile:
    """Put a file on the host, as an operator copying it there would.

    An ``iso`` takes *size* bytes; a ``vhd`` or ``vhdx`` is a dynamic disk
    of *size* bytes (MaxInternalSize) whose file takes *file_size* bytes
    (by default, an empty one's).

    :raises InvalidParameter: a path that is not fully qualified or is
        taken, an unknown kind, a size out of range.
    """
    where = f"emulated file {path!r}"
    if not is_fully_qualified(path):
        raise InvalidParameter(where=where, detail="not a fully qualified path")
    if files.find(path) is not None:
        raise InvalidParameter(where=where, detail="the file exists")
    if kind not in KINDS:
        raise InvalidParameter(where=where, detail=f"kind {kind!r} is not one of {KINDS}")
    if kind == "iso":
        if size <= 0:
            raise InvalidParameter(where=where, detail="an ISO needs a positive size")
        image = ImageFile(path, kind, size)
    else:
        fmt = FORMAT_OF_KIND[kind]
        if not 0 < size <= MAX_SIZE[fmt]:
            raise InvalidParameter(where=where, detail=f"size {size} is out of 1-{MAX_SIZE[fmt]}")
        internal = round_to_sector(size, 512)
        image = ImageFile(path, kind, file_size if file_size is not None else
                          initial_file_size(fmt, DYNAMIC, internal), DYNAMIC, internal,
                          disk_id=disk_id or str(uuid.uuid4()).upper(),
                          block_size=DEFAULT_BLOCK[fmt],
                          physical_sector_size=DEFAULT_PHYSICAL_SECTOR[fmt])
    files.add(image)
    return image
