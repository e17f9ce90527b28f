"""The emulated host's files in a real directory, its *files root*.

Without one (the default) the emulator keeps its files in memory
(:mod:`.imagefiles`).  With one (``HostConfig.files_root``, or
``emulator://...?files=DIR``) every virtual hard disk and ISO of the host
is also a real file in that directory, so that files copied there by
another route (the compute driver's file channel, an SMB server exporting
part of it) are files of the host, and files the host makes can be seen
and removed from outside.

Layout: the host path ``C:\\OpenStack\\Instances\\x\\root.vhdx`` is
``DIR/C/OpenStack/Instances/x/root.vhdx`` (the drive letter in upper case);
a UNC path ``\\\\server\\share\\a`` is ``DIR/UNC/server/share/a``.  Each
component is matched without regard to case, as Windows matches it; a
component that does not exist yet keeps the case it is given.

What a file is (the emulator's own format, not Hyper-V's; Microsoft's VHD
and VHDX formats are not parsed):

- A file the emulator writes (CreateVirtualHardDisk, ResizeVirtualHardDisk,
  ``EmulatedHost.add_file``) is a small text header: the line
  :data:`MAGIC`, then one line of JSON with the disk's type, size as the
  guest sees it, parent, identifier, geometry and modelled file size
  (:func:`disk_file_bytes`).  The file stays small; its modelled size (the
  ``file_size`` that ResizeVirtualHardDisk's minimum is computed from) is in
  the header.  A copy of such a file (an image uploaded through a file
  channel) is read the same way, so a test can serve an image of any size
  in a few hundred bytes.
- Any other file is known by its extension: ``.vhd``/``.vhdx`` a dynamic
  disk whose size is the file's size rounded up to a whole 512-byte sector
  (512 bytes for an empty file), ``.iso`` an ISO image of its size.  Other
  files are not disks or ISOs of the host.

A header whose format disagrees with the extension is ignored (the file is
then read by its extension).  Folders are real: CreateVirtualHardDisk
refuses a path whose folder does not exist (see
:mod:`.providers.image_service`).
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import asdict
from pathlib import Path
from typing import Any

from winstackers.emulator.hyperv.imagefiles import (
    DEFAULT_BLOCK,
    DEFAULT_PHYSICAL_SECTOR,
    DYNAMIC,
    FORMAT_OF_KIND,
    KINDS,
    ImageFile,
    round_to_sector,
)

MAGIC = b"WINSTACKERS-EMULATED-DISK 1\n"
_DRIVE = re.compile(r"^([A-Za-z]):\\(.*)$")
_UNC = re.compile(r"^\\\\([^\\]+)\\(.*)$")
#: What a header line may hold, besides the file's path (which is where it is).
_FIELDS = ("disk_type", "max_internal_size", "parent", "disk_id", "block_size",
           "logical_sector_size", "physical_sector_size", "file_size", "format")


def kind_of(path: str) -> str | None:
    """``vhd``, ``vhdx`` or ``iso`` from *path*'s extension, or None."""
    extension = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    return extension if extension in KINDS else None


def disk_file_bytes(image: ImageFile) -> bytes:
    """The bytes of the emulator's file for *image* (header only)."""
    fields = {k: v for k, v in asdict(image).items() if k in _FIELDS}
    fields["format"] = image.format
    return MAGIC + json.dumps(fields, sort_keys=True).encode() + b"\n"


def image_bytes(kind: str, size: int, *, disk_type: int = DYNAMIC) -> bytes:
    """A small file the emulator reads as a ``vhd``/``vhdx`` disk of *size*
    bytes (as the guest sees them): an image to serve in tests."""
    fmt = FORMAT_OF_KIND[kind]
    return disk_file_bytes(ImageFile("", kind, 0, disk_type, round_to_sector(size, 512),
                                     block_size=DEFAULT_BLOCK[fmt],
                                     physical_sector_size=DEFAULT_PHYSICAL_SECTOR[fmt]))


class FilesRoot:
    """The directory holding an emulated host's files."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def local_path(self, host_path: str) -> Path:
        """Where the host's *host_path* is in the directory.

        :raises ValueError: when *host_path* is not a drive-letter or UNC path.
        """
        drive, unc = _DRIVE.match(host_path), _UNC.match(host_path)
        if drive:
            parts = [drive.group(1).upper(), *drive.group(2).split("\\")]
        elif unc:
            parts = ["UNC", unc.group(1), *unc.group(2).split("\\")]
        else:
            raise ValueError(f"{host_path!r} is not a drive-letter or UNC path")
        where = self.root
        for part in (p for p in parts if p not in ("", ".")):
            where = where / _existing_case(where, part)
        return where

    def folder_exists(self, host_path: str) -> bool:
        """Whether the folder that would hold *host_path* exists."""
        return self.local_path(host_path).parent.is_dir()

    def stamp(self, host_path: str) -> tuple[int, int] | None:
        """(modification time, size) of the file, or None when there is none."""
        try:
            found = self.local_path(host_path).stat()
        except (OSError, ValueError):
            return None
        return (found.st_mtime_ns, found.st_size) if stat.S_ISREG(found.st_mode) else None

    def write(self, image: ImageFile, *, make_folders: bool) -> None:
        """Write *image*'s file (its folder must exist unless *make_folders*)."""
        where = self.local_path(image.path)
        if make_folders:
            where.parent.mkdir(parents=True, exist_ok=True)
        tmp = where.with_name(where.name + ".tmp-emulator")
        tmp.write_bytes(disk_file_bytes(image))
        os.replace(tmp, where)

    def read(self, host_path: str) -> ImageFile | None:
        """What the file at *host_path* is (see the module), or None."""
        kind = kind_of(host_path)
        where = self.local_path(host_path)
        if kind is None or not where.is_file():
            return None
        size = where.stat().st_size
        header = _header(where)
        if kind == "iso":
            return ImageFile(host_path, kind, int(header.get("file_size") or size))
        fmt = FORMAT_OF_KIND[kind]
        if header.pop("format", None) == fmt and "max_internal_size" in header:
            return ImageFile(host_path, kind, **{"file_size": size, **header})
        return ImageFile(host_path, kind, size, DYNAMIC, max(round_to_sector(size, 512), 512),
                         block_size=DEFAULT_BLOCK[fmt],
                         physical_sector_size=DEFAULT_PHYSICAL_SECTOR[fmt])


def _existing_case(folder: Path, name: str) -> str:
    """*name* as it is spelled in *folder* when some entry matches it
    without regard to case, else *name*."""
    if (folder / name).exists() or not folder.is_dir():
        return name
    lowered = name.lower()
    for entry in os.listdir(folder):
        if entry.lower() == lowered:
            return entry
    return name


def _header(where: Path) -> dict[str, Any]:
    """The header fields of an emulator file, or {} for any other file."""
    with open(where, "rb") as handle:
        if handle.read(len(MAGIC)) != MAGIC:
            return {}
        line = handle.readline(4096)
    try:
        fields = json.loads(line)
    except ValueError:
        return {}
    if not isinstance(fields, dict):
        return {}
    return {k: v for k, v in fields.items() if k in _FIELDS}
