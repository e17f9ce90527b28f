"""A private Samba server for tests: one share of a local directory, on a
free loopback port, with its own configuration, state and user database.

Shipped with the package (as :mod:`winstackers.emulator.wsman.fixtures`)
so that test suites can reach an emulated host's files over SMB, as the
compute driver reaches a real host's::

    from winstackers.files.samba import private_samba

    with private_samba("/tmp/host/C/OpenStack/Instances", user="root") as smb:
        channel = SmbChannel(smb.share, "C:\\\\OpenStack\\\\Instances",
                             username=smb.user, password=smb.password, port=smb.port)

It runs Debian's ``smbd`` (package ``samba``) in the foreground as a child
process (``--foreground --no-process-group``) in a session of its own
(smbd signals its whole process group when it stops, which would otherwise
be the caller's), with every directory it
writes (lock, state, cache, private, pid, logs) in a temporary directory,
``smb ports`` a free port, listening on 127.0.0.1 only.  The user is added
to the private password database with ``smbpasswd -c CONF -a``; it must be
a user of this machine (Samba maps SMB users to system users), ``root``
by default.  Nothing outside the temporary directory is changed; the server
is stopped and the directory removed on exit.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SMBD, SMBPASSWD = "smbd", "smbpasswd"


class SambaUnavailable(RuntimeError):
    """smbd is not installed, or did not start; says why."""


@dataclass(frozen=True)
class SambaServer:
    """A running private smbd and how to reach its share."""

    share: str
    port: int
    user: str
    password: str
    directory: Path
    log: Path


def find_smbd() -> str | None:
    """The path of smbd (often in /usr/sbin, not on a user's PATH), or None."""
    return shutil.which(SMBD) or shutil.which(SMBD, path="/usr/sbin:/usr/local/sbin")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(work: Path, directory: Path, share_name: str, user: str, port: int) -> str:
    dirs = {name: work / name for name in ("lock", "state", "cache", "private", "pid", "rpc")}
    for folder in dirs.values():
        folder.mkdir(mode=0o700)
    return "\n".join([
        "[global]",
        "server role = standalone server",
        f"smb ports = {port}",
        "interfaces = 127.0.0.1",
        "bind interfaces only = yes",
        "disable netbios = yes",
        "server min protocol = SMB2_10",
        f"lock directory = {dirs['lock']}",
        f"state directory = {dirs['state']}",
        f"cache directory = {dirs['cache']}",
        f"private dir = {dirs['private']}",
        f"pid directory = {dirs['pid']}",
        f"ncalrpc dir = {dirs['rpc']}",
        f"passdb backend = tdbsam:{dirs['private'] / 'passdb.tdb'}",
        f"log file = {work / 'smbd.log'}",
        "log level = 1",
        "load printers = no",
        "printcap name = /dev/null",
        "disable spoolss = yes",
        "map to guest = never",
        "usershare path =",
        "",
        f"[{share_name}]",
        f"path = {directory}",
        "read only = no",
        f"valid users = {user}",
        "",
    ])


@contextmanager
def private_samba(directory: str | os.PathLike[str], *, share_name: str = "Instances",
                  user: str = "root", password: str | None = None,
                  start_timeout: float = 20.0) -> Iterator[SambaServer]:
    """Serve *directory* as ``\\\\127.0.0.1\\SHARE_NAME`` (see the module).

    :raises SambaUnavailable: smbd is missing or did not start listening
        within *start_timeout* seconds (its log is in the message).
    """
    smbd = find_smbd()
    smbpasswd = shutil.which(SMBPASSWD) or shutil.which(SMBPASSWD, path="/usr/sbin")
    if smbd is None or smbpasswd is None:
        raise SambaUnavailable("smbd is not installed (Debian package samba; "
                               "tools/setup.sh installs it)")
    if os.geteuid() != 0:
        raise SambaUnavailable("smbd runs as root only (it switches to each user it serves)")
    password = password or secrets.token_urlsafe(18)
    with tempfile.TemporaryDirectory(prefix="winstackers-smbd-") as folder:
        work, port = Path(folder), _free_port()
        conf = work / "smb.conf"
        conf.write_text(_config(work, Path(directory).resolve(), share_name, user, port))
        added = subprocess.run([smbpasswd, "-c", str(conf), "-a", "-s", user],
                               input=f"{password}\n{password}\n", capture_output=True,
                               text=True, check=False)
        if added.returncode != 0:
            raise SambaUnavailable(f"smbpasswd -a {user} failed: "
                                   f"{(added.stderr or added.stdout).strip()}")
        log = work / "smbd.stdout"
        with open(log, "wb") as output:
            process = subprocess.Popen([smbd, "--foreground", "--no-process-group",
                                        "--configfile", str(conf)],
                                       stdout=output, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            _wait_listening(process, port, start_timeout, work)
            yield SambaServer(f"\\\\127.0.0.1\\{share_name}", port, user, password,
                              Path(directory), work / "smbd.log")
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop smbd and the children it forked (its own process group)."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_listening(process: subprocess.Popen[bytes], port: int, timeout: float,
                    work: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    logs = " | ".join(p.read_text(errors="replace").strip()[-800:]
                      for p in (work / "smbd.stdout", work / "smbd.log") if p.exists())
    _stop(process)
    raise SambaUnavailable(f"smbd did not listen on 127.0.0.1:{port} within {timeout} s "
                           f"(exit status {process.returncode}): {logs}")
