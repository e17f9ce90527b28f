"""The file channel: what the compute driver needs of a Hyper-V host's files.

Hyper-V's WMI API has no way to copy a file onto the host or to remove one
(``Msvm_ImageManagementService`` creates virtual hard disks in place, but a
Glance image or a config drive has to arrive as bytes, and an instance's
folder has to go when it is destroyed).  A :class:`FileChannel` does that,
beside the CIM session, which it is not: the host library
(:mod:`winstackers.hyperv`) never imports it.

Paths are the host's own (``C:\\OpenStack\\Instances\\x\\root.vhdx``); each
channel maps them to where it can reach them (:mod:`.local`, :mod:`.smb`),
and :func:`winstackers.files.open_channel` picks the channel for a host URL.
"""

from __future__ import annotations

import abc

#: Bytes read and written at a time by uploads and copies.
CHUNK = 4 * 1024 * 1024


class FileChannelError(Exception):
    """A file operation on the host failed; names the path and why."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path = path
        self.detail = detail


class FileChannel(abc.ABC):
    """A Hyper-V host's files, by their paths on the host.

    Every method raises :class:`FileChannelError` naming the path when the
    host refuses or cannot be reached.
    """

    #: Where the files are, for messages (a share, a directory).
    where: str = ""

    @abc.abstractmethod
    def exists(self, path: str) -> bool:
        """Whether *path* is a file or a folder."""

    @abc.abstractmethod
    def size(self, path: str) -> int:
        """The size of the file *path* in bytes."""

    @abc.abstractmethod
    def makedirs(self, path: str) -> None:
        """Make the folder *path* and its parents (existing ones are fine)."""

    @abc.abstractmethod
    def upload(self, local_path: str, path: str) -> None:
        """Copy the local file *local_path* to *path*, :data:`CHUNK` bytes at a
        time, under a temporary name renamed to *path* at the end (a reader
        never sees half a file; *path* is replaced if it exists)."""

    @abc.abstractmethod
    def copy(self, source: str, path: str) -> None:
        """Copy the host's file *source* to *path* on the host (as
        :meth:`upload`, without the bytes leaving the host where the channel
        allows)."""

    @abc.abstractmethod
    def rename(self, source: str, path: str) -> None:
        """Rename the host's file *source* to *path* (replaced if it exists)."""

    @abc.abstractmethod
    def remove(self, path: str) -> None:
        """Remove the file or the folder *path* with all it holds; nothing
        when it does not exist."""

    @abc.abstractmethod
    def listdir(self, path: str) -> list[str]:
        """The names in the folder *path*."""

    def close(self) -> None:  # noqa: B027 - most channels hold nothing
        """Release connections (the channel may be used again after)."""


class Unavailable(FileChannel):
    """No channel to the host's files: every operation fails, saying why
    (an emulated host keeping its files in memory, for instance)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.where = "nowhere"

    def _fail(self, path: str) -> FileChannelError:
        return FileChannelError(path, self.reason)

    def exists(self, path: str) -> bool:
        raise self._fail(path)

    def size(self, path: str) -> int:
        raise self._fail(path)

    def makedirs(self, path: str) -> None:
        raise self._fail(path)

    def upload(self, local_path: str, path: str) -> None:
        raise self._fail(path)

    def copy(self, source: str, path: str) -> None:
        raise self._fail(path)

    def rename(self, source: str, path: str) -> None:
        raise self._fail(path)

    def remove(self, path: str) -> None:
        raise self._fail(path)

    def listdir(self, path: str) -> list[str]:
        raise self._fail(path)
