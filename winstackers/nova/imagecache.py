"""The image cache on the Hyper-V host.

Instances' root disks are differencing disks over their Glance image, kept
once per host in ``<instances_path>\\_base\\<image id>.vhdx`` (or ``.vhd``,
from the image's ``disk_format``).  An image is downloaded once with nova's
image API into a local temporary file (``TMPDIR``), then uploaded to the
host through the file channel (:mod:`winstackers.files`) under a temporary
name and renamed, so the cache never holds half an image; a lock per image
id keeps two spawns from downloading it twice.

Only ``vhd`` and ``vhdx`` images are accepted (Hyper-V boots nothing else;
``qemu-img convert -O vhdx`` converts a qcow2 or raw image): any other
``disk_format`` is refused with ``ImageUnacceptable`` before anything is
made.

A differencing VHD cannot grow (ResizeVirtualHardDisk's Remarks:
https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/resizevirtualharddisk-msvm-imagemanagementservice),
so for a ``vhd`` image and a flavor whose root disk is larger, the cache
also keeps a copy grown to that size, ``<image id>_<root_gb>.vhd`` (made on
the host: a server-side copy over SMB), as the retired Hyper-V driver did.
"""

from __future__ import annotations

import logging
import ntpath
import os
import tempfile
from dataclasses import dataclass
from typing import Any

from nova import exception
from oslo_concurrency import lockutils

from winstackers.files import FileChannel
from winstackers.hyperv.diskinfo import DiskFormat
from winstackers.hyperv.disks import Images

LOG = logging.getLogger(__name__)
BASE_FOLDER = "_base"
GIB = 1024 ** 3
#: The Glance disk formats Hyper-V boots, and what they are on the host.
FORMATS = {"vhd": DiskFormat.VHD, "vhdx": DiskFormat.VHDX}


def disk_format_of(image_meta: Any) -> str:
    """The image's ``disk_format``, ``vhd`` or ``vhdx``.

    :raises ImageUnacceptable: naming the format otherwise.
    """
    fmt = image_meta.disk_format if image_meta.obj_attr_is_set("disk_format") else None
    if fmt not in FORMATS:
        raise exception.ImageUnacceptable(
            image_id=getattr(image_meta, "id", "?"),
            reason=f"disk_format {fmt!r}: the Hyper-V driver boots vhd and vhdx images only "
                   "(qemu-img convert -O vhdx converts others)")
    return str(fmt)


@dataclass(frozen=True)
class CachedImage:
    """An image in the host's cache: its id, host path and format (``vhd``
    or ``vhdx``), and whether this call fetched it."""

    image_id: str
    path: str
    format: str
    fetched: bool


class ImageCache:
    """Glance images as virtual hard disks in the host's ``_base`` folder."""

    def __init__(self, channel: FileChannel, images: Images, instances_path: str,
                 image_api: Any = None) -> None:
        self.channel = channel
        self.images = images
        self.folder = ntpath.join(instances_path, BASE_FOLDER)
        self._image_api = image_api

    @property
    def image_api(self) -> Any:
        """nova's image API (Glance), made on first use."""
        if self._image_api is None:
            from nova.image import glance
            self._image_api = glance.API()
        return self._image_api

    def path_of(self, image_id: str, fmt: str) -> str:
        """Where the image is cached on the host."""
        return ntpath.join(self.folder, f"{image_id}.{fmt}")

    def fetch(self, context: Any, image_meta: Any) -> CachedImage:
        """The image in the cache, downloaded and uploaded unless it is
        there already.

        :raises ImageUnacceptable: a format other than vhd/vhdx, or no data.
        :raises FileChannelError: when the host's files cannot be reached.
        """
        fmt = disk_format_of(image_meta)
        path = self.path_of(image_meta.id, fmt)
        with lockutils.lock(f"winstackers-image-{image_meta.id}"):
            if self.channel.exists(path):
                return CachedImage(image_meta.id, path, fmt, fetched=False)
            self.channel.makedirs(self.folder)
            with tempfile.TemporaryDirectory(prefix="winstackers-image-") as tmp:
                local = os.path.join(tmp, f"image.{fmt}")
                LOG.info("downloading image %s for the host's cache %s", image_meta.id, path)
                self.image_api.download(context, image_meta.id, dest_path=local)
                if not os.path.isfile(local) or os.path.getsize(local) == 0:
                    raise exception.ImageUnacceptable(image_id=image_meta.id,
                                                      reason="the image has no data")
                self.channel.upload(local, path)
        return CachedImage(image_meta.id, path, fmt, fetched=True)

    def grown(self, image: CachedImage, root_gb: int) -> str:
        """A copy of the cached VHD *image* grown to *root_gb* (made once).

        :raises FileChannelError, CimError: when the host refuses.
        """
        grown = ntpath.join(self.folder, f"{image.image_id}_{root_gb}.vhd")
        with lockutils.lock(f"winstackers-image-{image.image_id}-{root_gb}"):
            if not self.channel.exists(grown):
                partial = f"{grown[:-len('.vhd')]}.part.vhd"
                self.channel.copy(image.path, partial)
                try:
                    self.images.resize(partial, root_gb * GIB)
                    self.channel.rename(partial, grown)
                finally:
                    self.channel.remove(partial)
        return grown
