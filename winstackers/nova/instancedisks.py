"""An instance's disks on the Hyper-V host.

Each instance has a folder, ``<instances_path>\\<instance uuid>``, made
through the file channel, holding:

- ``root.vhdx`` (``root.vhd`` for a vhd image): a differencing disk over
  the cached image (:mod:`.imagecache`), grown to the flavor's ``root_gb``
  when that is larger than the image (0 keeps the image's size; smaller is
  refused with ``FlavorDiskSmallerThanImage``);
- ``ephemeral.vhdx``: a dynamic VHDX of the flavor's ``ephemeral_gb``, when
  it is not 0;
- ``configdrive.iso`` when nova asks for a config drive
  (:mod:`.configdrive`).

They are attached in that order (the root disk first: IDE 0:0 on
generation 1, the first SCSI slot on generation 2), the ISO in a DVD drive,
through the host library (:class:`~winstackers.hyperv.disks.VmStorage`),
while the VM is off.  The folder goes with all it holds when the instance
is destroyed with its disks.  Swap and block device mappings (volumes) are
not supported yet: a flavor with swap gets none (logged).
"""

from __future__ import annotations

import logging
import ntpath
from dataclasses import dataclass
from typing import Any

from nova import exception

from winstackers.cim.api import Session
from winstackers.files import FileChannel
from winstackers.hyperv.diskinfo import DiskFormat
from winstackers.hyperv.disks import Images, VmStorage
from winstackers.nova import configdrive
from winstackers.nova.imagecache import FORMATS, GIB, CachedImage, ImageCache

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConfigDriveContent:
    """What goes on a config drive besides the instance's metadata."""

    injected_files: Any
    admin_password: Any
    network_info: Any


class InstanceDisks:
    """The folders and disks of a host's instances."""

    def __init__(self, session: Session, channel: FileChannel, cache: ImageCache,
                 instances_path: str) -> None:
        self.channel = channel
        self.cache = cache
        self.images: Images = cache.images
        self.storage = VmStorage(session)
        self.instances_path = instances_path

    def folder(self, instance: Any) -> str:
        """The instance's folder on the host."""
        return ntpath.join(self.instances_path, instance.uuid)

    def create(self, context: Any, instance: Any, vm_name: str, image: CachedImage,
               content: ConfigDriveContent) -> None:
        """Make and attach the instance's disks (see the module) over the
        cached *image*.

        :raises FlavorDiskSmallerThanImage: root_gb below the image's size.
        :raises FileChannelError, CimError, InvalidDesiredState: from the host.
        """
        folder = self.folder(instance)
        if self.channel.exists(folder):  # left by a spawn that failed half-way
            self.channel.remove(folder)
        self.channel.makedirs(folder)
        root = self._root(instance, folder, image)
        self.storage.attach_disk(vm_name, root)
        flavor = instance.flavor
        if flavor.ephemeral_gb:
            ephemeral = ntpath.join(folder, "ephemeral.vhdx")
            self.images.create(ephemeral, int(flavor.ephemeral_gb) * GIB, format=DiskFormat.VHDX)
            self.storage.attach_disk(vm_name, ephemeral)
        if flavor.swap:
            LOG.warning("instance %s: the flavor's %d MB of swap is not supported on Hyper-V "
                        "yet; the VM has no swap disk", instance.uuid, flavor.swap)
        if configdrive.required(instance):
            iso = ntpath.join(folder, configdrive.FILE_NAME)
            configdrive.upload(context, instance, self.channel, iso,
                               injected_files=content.injected_files,
                               admin_password=content.admin_password,
                               network_info=content.network_info)
            self.storage.attach_iso(vm_name, iso)

    def _root(self, instance: Any, folder: str, image: CachedImage) -> str:
        wanted = int(instance.flavor.root_gb or 0) * GIB
        base = image.path
        # a differencing VHD cannot grow: grow a copy of its parent instead
        if image.format == "vhd" and wanted and wanted > self.images.info(base).size_bytes:
            base = self.cache.grown(image, int(instance.flavor.root_gb))
        root = ntpath.join(folder, f"root.{image.format}")
        info = self.images.create(root, parent=base, format=FORMATS[image.format])
        if wanted and wanted < info.size_bytes:
            raise exception.FlavorDiskSmallerThanImage(flavor_size=wanted,
                                                       image_size=info.size_bytes)
        if wanted > info.size_bytes:
            self.images.resize(root, wanted)
        return root

    def remove(self, instance: Any) -> None:
        """Remove the instance's folder and all it holds (none is fine).

        :raises FileChannelError: when the host refuses.
        """
        self.channel.remove(self.folder(instance))
