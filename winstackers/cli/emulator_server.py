"""``winstackers emulator hyperv``: an emulated Hyper-V host served over
WS-Management, as a WinRM listener serves WMI, so that several processes
(agents, nova-compute, tests) share one host::

    WINSTACKERS_EMULATOR_PASSWORD=... winstackers emulator hyperv \\
        --listen 127.0.0.1:5986 --state /var/lib/winstackers/host.json \\
        --tls-cert server.pem --tls-key server-key.pem --user winstackers

Clients connect with ``https://winstackers@127.0.0.1:5986/wsman?auth=basic``
(plus ``verify=<CA file>`` for a private CA).  Without ``--tls-cert`` the
listener is plain HTTP (clients need ``insecure=1``): for loopback only.

The password is read from ``--password-file`` (its first line) or the
``WINSTACKERS_EMULATOR_PASSWORD`` environment variable, never from the
command line, where other users could read it.  ``--state FILE`` loads the
host from FILE when it exists and saves every change to it.  ``--files DIR``
keeps the host's disk and ISO files as real files in DIR (see
:mod:`winstackers.emulator.hyperv.filesroot`), e.g. for a Samba share to
export, as a Windows host's share exports its instances folder.  SIGTERM and
SIGINT stop the listener cleanly (connections closed, state saved).  The
admin endpoint (``/winstackers/counters``, ``/winstackers/faults``) is
described in :mod:`winstackers.emulator.wsman.admin`.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from winstackers.cim.errors import InvalidParameter
from winstackers.emulator.hyperv.config import HostConfig
from winstackers.emulator.hyperv.host import EmulatedHost

PASSWORD_VARIABLE = "WINSTACKERS_EMULATOR_PASSWORD"


def add_parser(commands: Any) -> None:
    """Add the ``hyperv`` subcommand to the ``emulator`` subcommands."""
    what = "serve an emulated Hyper-V host over WS-Management (WinRM)"
    parser = commands.add_parser("hyperv", help=what, description=what[0].upper() + what[1:])
    parser.add_argument("--listen", default="127.0.0.1:5985", metavar="ADDRESS:PORT",
                        help="address and port to listen on (default 127.0.0.1:5985)")
    parser.add_argument("--state", metavar="FILE",
                        help="keep the host in FILE: loaded if it exists, saved on every change")
    parser.add_argument("--files", metavar="DIR",
                        help="keep the host's disk and ISO files as real files in DIR")
    parser.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    parser.add_argument("--user", default="winstackers", help="Basic auth user name")
    parser.add_argument("--password-file", metavar="FILE",
                        help=f"file holding the password (default: ${PASSWORD_VARIABLE})")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT; returns the exit status.

    :raises InvalidParameter: naming the option that is wrong.
    """
    from winstackers.emulator.wsman.server import serve

    if args.tls_key and not args.tls_cert:
        raise InvalidParameter(where="--tls-key", detail="needs --tls-cert")
    password = read_password(args.password_file, os.environ)
    listen = parse_listen(args.listen)
    if args.files and not Path(args.files).is_dir():
        raise InvalidParameter(where=f"--files {args.files}", detail="not an existing directory")
    host = load_host(args.state, str(Path(args.files).resolve()) if args.files else None)
    try:
        server = serve(host, listen, username=args.user, password=password,
                       tls_cert=args.tls_cert, tls_key=args.tls_key)
    except OSError as exc:
        raise InvalidParameter(where=f"--listen {args.listen}", detail=str(exc)) from None
    print(f"winstackers: serving emulated Hyper-V host {host.name} at {server.url} "
          f"(user {args.user})", flush=True)
    try:
        wait_for_stop_signal()
    finally:
        server.stop()
        if args.state:
            host.save(args.state)
    print("winstackers: stopped", flush=True)
    return 0


def parse_listen(text: str) -> tuple[str, int]:
    """``ADDRESS:PORT`` (``[::1]:PORT`` for IPv6) as a (host, port) pair.

    :raises InvalidParameter: naming ``--listen``.
    """
    address, _, port = text.rpartition(":")
    address = address.strip("[]")
    if not address or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidParameter(where=f"--listen {text!r}", detail="expected ADDRESS:PORT, "
                               "e.g. 127.0.0.1:5986")
    return address, int(port)


def read_password(path: str | None, environ: Mapping[str, str]) -> str:
    """The password from *path* (first line) or the environment.

    :raises InvalidParameter: when neither gives a non-empty password.
    """
    if path:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as exc:
            raise InvalidParameter(where=f"--password-file {path}", detail=exc.strerror or
                                   type(exc).__name__) from None
        password = lines[0] if lines else ""
        where = f"--password-file {path}"
    else:
        password = environ.get(PASSWORD_VARIABLE, "")
        where = PASSWORD_VARIABLE
    if not password:
        raise InvalidParameter(where=where, detail="no password given (use --password-file "
                               f"or set {PASSWORD_VARIABLE})")
    return password


def load_host(state: str | None, files: str | None = None) -> EmulatedHost:
    """The host kept in *state* (new when the file does not exist yet), its
    files in the directory *files* when given."""
    if state and Path(state).exists():
        return EmulatedHost.load(state, autosave=True, files_root=files)
    return EmulatedHost(HostConfig(files_root=files), state_file=state or None)


def wait_for_stop_signal() -> None:
    """Block until SIGTERM or SIGINT (handlers restored afterwards)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
