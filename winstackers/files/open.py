"""Which file channel reaches a host: chosen from its URL's scheme.

===============================  ==========================================
``[hyperv_host] url``            channel
===============================  ==========================================
``local://`` (``mi://``)         :class:`.LocalChannel`: host paths are
                                 local paths
``https://``, ``http://``        :class:`.SmbChannel` through
                                 ``[hyperv_compute] instances_share``, with
                                 the URL's user and ``[hyperv_host]
                                 password``
``emulator://...``               :class:`.DirectoryChannel` into the
                                 emulated host's files root (``files=DIR``);
                                 :class:`.Unavailable` when it keeps its
                                 files in memory
===============================  ==========================================
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from winstackers.files.api import FileChannel, FileChannelError, Unavailable
from winstackers.files.local import DirectoryChannel, LocalChannel
from winstackers.files.smb import SmbChannel


def open_channel(url: str, *, session: Any = None, password: str | None = None,
                 instances_path: str = "", share: str | None = None,
                 share_port: int = 445) -> FileChannel:
    """The file channel to the host of *url* (see the module).

    :param session: the host's CIM session (an emulated host's files root
        is read from it).
    :raises FileChannelError: naming what is missing (no share for a remote
        host, a share that is not ``\\\\SERVER\\SHARE``).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("local", "mi"):
        return LocalChannel()
    if scheme in ("https", "http"):
        if not share:
            raise FileChannelError(instances_path, "a remote host needs [hyperv_compute] "
                                   "instances_share: the SMB share (\\\\HOST\\SHARE) that "
                                   "exports [hyperv_compute] instances_path")
        try:
            return SmbChannel(share, instances_path, port=share_port, password=password,
                              username=unquote(parts.username) if parts.username else None)
        except ValueError as exc:
            raise FileChannelError(share, f"[hyperv_compute] instances_share: {exc}") from None
    if scheme == "emulator":
        files = getattr(getattr(session, "emulated_host", None), "files", None)
        if files is None or files.root is None:
            return Unavailable("the emulated host keeps its files in memory: give it a "
                               "files root (emulator://...?files=DIR)")
        return DirectoryChannel(files.local_path, str(files.root))
    raise FileChannelError(url, f"no file channel for the scheme {scheme!r}")
