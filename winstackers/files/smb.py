"""The remote file channel: SMB, through the ``smbprotocol`` package's
``smbclient`` (pure Python, maintained; SMB 2 and 3 with signing, and
encryption when the share asks for it).

Why SMB: a Hyper-V host is a Windows server, and Windows serves files over
SMB out of the box (``New-SmbShare``); WinRM, the channel the CIM session
already uses, has no file transfer of its own (copying over PowerShell
remoting base64-encodes the bytes through the shell, slowly).  SMB is also
how Hyper-V itself reaches files on other machines.

The share exports the host's instances folder (``[hyperv_compute]
instances_path``): a host path under that folder maps to the same relative
path under the share, e.g. with ``instances_share = \\\\hv01\\Instances``
``C:\\OpenStack\\Instances\\x\\root.vhdx`` is
``\\\\hv01\\Instances\\x\\root.vhdx``.  A path outside that folder is
refused.  The user and password are the WinRM ones (``[hyperv_host]``).
"""

from __future__ import annotations

import errno
import ntpath
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from winstackers.files.api import CHUNK, FileChannel, FileChannelError


@contextmanager
def _errors(path: str) -> Iterator[None]:
    from smbprotocol.exceptions import SMBException

    try:
        yield
    except FileChannelError:
        raise
    except (OSError, SMBException, ValueError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise FileChannelError(path, detail) from exc


def _missing(exc: OSError) -> bool:
    """Whether *exc* says the file or folder does not exist (smbclient
    raises SMBOSError with ENOENT, not FileNotFoundError)."""
    return exc.errno == errno.ENOENT


def parse_share(share: str) -> tuple[str, str]:
    """(server, share path) of ``\\\\SERVER\\SHARE[\\folder...]``.

    :raises ValueError: for anything else.
    """
    parts = share.replace("/", "\\").strip("\\").split("\\") if share.startswith(
        ("\\\\", "//")) else []
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"{share!r} is not an SMB share (\\\\SERVER\\SHARE)")
    return parts[0], "\\\\" + "\\".join(parts)


class SmbChannel(FileChannel):
    """A host's instances folder through the SMB share that exports it."""

    def __init__(self, share: str, instances_path: str, *, username: str | None,
                 password: str | None, port: int = 445) -> None:
        self.server, self.share = parse_share(share)
        self.instances_path = ntpath.normpath(instances_path).rstrip("\\")
        self.where = self.share
        self._credentials: dict[str, Any] = {"username": username, "password": password,
                                             "port": port}
        self._cache: dict[str, Any] = {}

    def _kwargs(self) -> dict[str, Any]:
        return {**self._credentials, "connection_cache": self._cache}

    def remote(self, path: str) -> str:
        """The share path of the host's *path*.

        :raises FileChannelError: when *path* is not under the instances path.
        """
        normal = ntpath.normpath(path)
        prefix = self.instances_path + "\\"
        if normal.lower() == self.instances_path.lower():
            return self.share
        if not normal.lower().startswith(prefix.lower()):
            raise FileChannelError(path, f"not under {self.instances_path}, the folder "
                                   f"{self.share} exports ([hyperv_compute] instances_path)")
        return self.share + "\\" + normal[len(prefix):]

    def exists(self, path: str) -> bool:
        import smbclient

        with _errors(path):
            try:
                smbclient.stat(self.remote(path), **self._kwargs())
            except OSError as exc:
                if _missing(exc):
                    return False
                raise
            return True

    def size(self, path: str) -> int:
        import smbclient

        with _errors(path):
            return int(smbclient.stat(self.remote(path), **self._kwargs()).st_size)

    def makedirs(self, path: str) -> None:
        import smbclient

        with _errors(path):
            smbclient.makedirs(self.remote(path), exist_ok=True, **self._kwargs())

    def upload(self, local_path: str, path: str) -> None:
        with _errors(path), open(local_path, "rb") as source:
            self._write(source, path)

    def copy(self, source: str, path: str) -> None:
        """Server-side copy (SMB's copy-chunk: the bytes stay on the host)."""
        import smbclient

        with _errors(path):
            self._to(path, lambda tmp: smbclient.copyfile(self.remote(source), tmp,
                                                          **self._kwargs()))

    def _write(self, source: BinaryIO, path: str) -> None:
        import smbclient

        def write(tmp: str) -> None:
            with smbclient.open_file(tmp, "wb", **self._kwargs()) as sink:
                while chunk := source.read(CHUNK):
                    sink.write(chunk)

        self._to(path, write)

    def _to(self, path: str, make: Callable[[str], object]) -> None:
        """Make *path* with *make* under a temporary name, then rename it."""
        import smbclient

        target = self.remote(path)
        tmp = f"{target}.part-{uuid.uuid4().hex[:8]}"
        try:
            make(tmp)
            smbclient.replace(tmp, target, **self._kwargs())
        except BaseException:
            try:
                smbclient.remove(tmp, **self._kwargs())
            except (OSError, ValueError):
                pass
            raise

    def rename(self, source: str, path: str) -> None:
        import smbclient

        with _errors(path):
            smbclient.replace(self.remote(source), self.remote(path), **self._kwargs())

    def remove(self, path: str) -> None:
        import smbclient
        import smbclient.shutil

        with _errors(path):
            target = self.remote(path)
            try:
                if smbclient.path.isdir(target, **self._kwargs()):
                    smbclient.shutil.rmtree(target, **self._kwargs())
                else:
                    smbclient.remove(target, **self._kwargs())
            except OSError as exc:
                if not _missing(exc):
                    raise

    def listdir(self, path: str) -> list[str]:
        import smbclient

        with _errors(path):
            return sorted(smbclient.listdir(self.remote(path), **self._kwargs()))

    def close(self) -> None:
        import smbclient

        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=self._cache)
