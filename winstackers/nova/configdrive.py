"""Config drives: nova's metadata as an ISO 9660 image attached as a DVD.

Built locally with nova's own ``ConfigDriveBuilder`` (which runs
``[DEFAULT] mkisofs_cmd``, ``genisoimage`` by default: Debian's
``genisoimage`` package), then uploaded to the instance's folder on the
host through the file channel and attached to the VM's DVD drive.  Only
``[DEFAULT] config_drive_format = iso9660`` is supported: nova's ``vfat``
drive is made by mounting a loop device as root, and Hyper-V would need it
as a virtual hard disk.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from nova import exception
from nova.api.metadata import base as instance_metadata
from nova.conf import CONF
from nova.virt import configdrive

from winstackers.files import FileChannel

FILE_NAME = "configdrive.iso"


def required(instance: Any) -> bool:
    """Whether the instance gets a config drive (nova's rule:
    ``config_drive``, ``force_config_drive``, ``img_config_drive``)."""
    return bool(configdrive.required_by(instance))


def check_format() -> None:
    """:raises ConfigDriveUnsupportedFormat: for anything but iso9660."""
    if CONF.config_drive_format != "iso9660":
        raise exception.ConfigDriveUnsupportedFormat(format=CONF.config_drive_format)


def upload(context: Any, instance: Any, channel: FileChannel, path: str, *,
           injected_files: Any, admin_password: Any, network_info: Any) -> None:
    """Build the instance's config drive and upload it to the host's *path*.

    :raises ConfigDriveUnsupportedFormat: see :func:`check_format`.
    :raises ProcessExecutionError: when mkisofs fails.
    :raises FileChannelError: when the upload fails.
    """
    check_format()
    extra_md = {"admin_pass": admin_password} if admin_password else {}
    metadata = instance_metadata.InstanceMetadata(
        instance, content=injected_files, extra_md=extra_md, network_info=network_info)
    with tempfile.TemporaryDirectory(prefix="winstackers-configdrive-") as tmp:
        local = os.path.join(tmp, FILE_NAME)
        with configdrive.ConfigDriveBuilder(instance_md=metadata) as builder:
            builder.make_drive(local)
        channel.upload(local, path)
