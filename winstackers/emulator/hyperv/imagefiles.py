"""The emulated host's files: virtual hard disks and ISO images, by path.

Hyper-V keeps no WMI instance for a file: ``Msvm_ImageManagementService``
creates and reads them by path, and a VM's disk or DVD image names one in
its HostResource.  The emulator keeps a table of the files it knows:
virtual hard disks made by CreateVirtualHardDisk, and files put there by
the host model (:func:`register`, ``EmulatedHost.add_file``), as the
operator (or the compute driver's file channel) would copy an ISO onto the
host.  With a files root the files are also real files in a directory
(:mod:`.filesroot`, which says how they are laid out and read).

Paths are fully qualified (``C:\\...`` or ``\\\\server\\share\\...``, as the
image service's pages ask: "the fully qualified path") and compared without
regard to case, as Windows compares them.  Directories are not modelled in
memory; with a files root they are real.

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

import os
import re
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from winstackers.cim.errors import InvalidParameter

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.filesroot import FilesRoot

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
    """The files of one host, by case-insensitive path.

    With a *root* directory (:mod:`.filesroot`) each file is also a real
    file there: a file that disappeared from the directory is gone from the
    host, and a file that appeared (or changed) is read from it when looked
    up by path.  Differencing disks are found as children of their parent
    (:meth:`children_of`) once the host knows them: made here, saved with
    the state, or looked up by path.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self._files: dict[str, ImageFile] = {}
        self._stamps: dict[str, tuple[int, int]] = {}
        self._disk: FilesRoot | None = None
        if root is not None:
            from winstackers.emulator.hyperv.filesroot import FilesRoot
            self._disk = FilesRoot(root)

    @property
    def root(self) -> Path | None:
        """The directory holding the files, or None (in memory)."""
        return self._disk.root if self._disk else None

    def local_path(self, path: str) -> Path:
        """Where the host's *path* is in :attr:`root`.

        :raises ValueError: without a root, or for a path that is not
            fully qualified.
        """
        if self._disk is None:
            raise ValueError("the emulated host keeps its files in memory (no files root)")
        return self._disk.local_path(path)

    def folder_exists(self, path: str) -> bool:
        """Whether the folder of *path* exists (always, in memory)."""
        return self._disk is None or self._disk.folder_exists(path)

    def find(self, path: str | None) -> ImageFile | None:
        """The file at *path*, or None."""
        if not path:
            return None
        key = path.lower()
        if self._disk is None:
            return self._files.get(key)
        stamp = self._disk.stamp(path)
        if stamp is None:
            self._files.pop(key, None)
            self._stamps.pop(key, None)
            return None
        if key not in self._files or self._stamps.get(key) != stamp:
            learned = self._disk.read(path)
            if learned is None:
                self._files.pop(key, None)
                return None
            self._files[key], self._stamps[key] = learned, stamp
        return self._files[key]

    def add(self, image: ImageFile, *, make_folders: bool = False) -> None:
        """Keep *image*; the caller has checked its path is free (and, with
        a root, its folder exists unless *make_folders*)."""
        self._files[image.path.lower()] = image
        self._write(image, make_folders)

    def resize(self, image: ImageFile, size: int) -> None:
        """Give *image* a new MaxInternalSize (see :meth:`ImageFile.resized`)."""
        image.resized(size)
        self._write(image, False)

    def _write(self, image: ImageFile, make_folders: bool) -> None:
        if self._disk is not None:
            self._disk.write(image, make_folders=make_folders)
            stamp = self._disk.stamp(image.path)
            if stamp is not None:
                self._stamps[image.path.lower()] = stamp

    def children_of(self, path: str) -> list[ImageFile]:
        """The differencing disks whose parent is *path*."""
        return [f for f in list(self._files.values())
                if f.parent is not None and f.parent.lower() == path.lower()
                and self.find(f.path) is f]

    def __len__(self) -> int:
        return len(self._files)

    def dump(self) -> list[dict[str, Any]]:
        """Every file as JSON-able data."""
        return [asdict(f) for f in self._files.values()]

    def load(self, rows: list[dict[str, Any]]) -> None:
        """Replace the files with what :meth:`dump` produced (with a root,
        a file missing from it is dropped when it is looked up)."""
        self._files, self._stamps = {}, {}
        for row in rows:
            image = ImageFile(**row)
            self._files[image.path.lower()] = image


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
    files.add(image, make_folders=True)
    return image
