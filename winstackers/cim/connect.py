"""One setting to reach a host: a URL, turned into a :class:`Session`.

=====================================  =====================================
URL                                    session
=====================================  =====================================
``emulator://``                        a new, private in-process emulated host
``emulator://NAME``                    the in-process emulated host NAME,
                                       shared by every session of the process
``emulator:///path/state.json``        an emulated host kept in that file:
                                       loaded when it exists, saved after
                                       every change
``https://USER@HOST[:5986][/wsman]``   WS-Management over HTTPS (remote)
``http://USER@HOST[:5985][/wsman]``    WS-Management over HTTP: only with an
                                       encrypting ``auth`` or ``insecure=1``
``local://`` (or ``mi://``)            WMI on this Windows host through PyMI
=====================================  =====================================

Query parameters tune the emulator: ``latency``, ``job_delay``,
``job_failure_rate``, ``transport_error_rate`` (floats) and ``seed`` (int),
e.g. ``emulator://lab?job_delay=0.05``; ``files=DIR`` keeps the host's
disk and ISO files as real files in the local directory DIR (see
:mod:`winstackers.emulator.hyperv.filesroot`; for a shared or saved host,
the first session's ``files`` wins).  For WS-Management: ``auth``
(``negotiate`` (default), ``ntlm``, ``kerberos``, ``credssp``, ``basic``;
client certificates are not supported yet), ``verify`` (``true``
(default), ``false``, or the path of a CA bundle), ``insecure`` (allow
unencrypted HTTP), ``max_concurrency``.
The password is given separately (``connect(url, password=...)``), never
in the URL; :func:`redact` strips credentials from URLs that are logged.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

from winstackers.cim.api import Session
from winstackers.cim.errors import InvalidParameter, NotSupported

_SHARED: dict[str, Any] = {}
_SHARED_LOCK = threading.Lock()
_FAULT_OPTIONS = {"latency": float, "job_delay": float, "job_failure_rate": float,
                  "transport_error_rate": float, "seed": int}


def redact(url: str) -> str:
    """*url* without any user name or password, for logs and errors."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url.split("#", 1)[0]  # nothing to hide; keep "emulator://" whole
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def connect(url: str, *, password: str | None = None) -> Session:
    """A session for *url* (see the module documentation).

    :param password: the password for a WS-Management URL's user.
    :raises InvalidParameter: naming the URL (redacted) and what is wrong
        with it: unknown scheme, unknown or malformed option, a password
        inside the URL.
    :raises NotSupported: for a transport that is not built yet.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "emulator":
        return _connect_emulator(url, parts.netloc, parts.path, parts.query)
    if scheme in ("https", "http"):
        return _connect_wsman(url, password)
    if scheme in ("mi", "local"):
        return _connect_local(url)
    raise InvalidParameter(where=f"host URL {redact(url)}",
                           detail="the scheme must be emulator://, https:// or mi://")


def fault_plan_options(url: str, query: str) -> dict[str, Any]:
    """The emulator options in a URL's query string, converted."""
    options: dict[str, Any] = {}
    for name, values in parse_qs(query, keep_blank_values=True).items():
        if name not in _FAULT_OPTIONS:
            raise InvalidParameter(where=f"host URL {redact(url)}",
                                   detail=f"unknown option {name!r}; known: "
                                          f"{', '.join(sorted(_FAULT_OPTIONS))}, files")
        try:
            options[name] = _FAULT_OPTIONS[name](values[-1])
        except ValueError:
            raise InvalidParameter(where=f"host URL {redact(url)}",
                                   detail=f"option {name}={values[-1]!r} is not a number") \
                from None
    return options


_WSMAN_OPTIONS = ("auth", "verify", "insecure", "max_concurrency")


def _connect_wsman(url: str, password: str | None) -> Session:
    from winstackers.cim.mof import MofCatalog
    from winstackers.cim.transports.wsman import WsmanSession

    parts = urlsplit(url)
    where = f"host URL {redact(url)}"
    if parts.password:
        raise InvalidParameter(where=where, detail="put the password in the password "
                                                   "setting, not in the URL")
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(options) - set(_WSMAN_OPTIONS)
    if unknown or not parts.hostname:
        raise InvalidParameter(where=where, detail=f"unknown option(s) {sorted(unknown)}; "
                               f"known: {', '.join(_WSMAN_OPTIONS)}" if unknown else "no host")
    verify_text = options.get("verify", "true")
    verify: bool | str = {"true": True, "false": False}.get(verify_text.lower(), verify_text)
    https = parts.scheme.lower() == "https"
    return WsmanSession(parts.hostname or "", port=parts.port or (5986 if https else 5985),
                        ssl=https, path=parts.path.strip("/") or "wsman",
                        username=parts.username, password=password,
                        auth=options.get("auth", "negotiate"), verify=verify,
                        insecure=options.get("insecure", "0").lower() in ("1", "true", "yes"),
                        catalog=MofCatalog(),
                        max_concurrency=int(options.get("max_concurrency", "4")))


def _connect_local(url: str) -> Session:
    """The local host through PyMI (``mi``), which only exists on Windows."""
    import importlib

    try:
        mi = importlib.import_module("mi")
    except ImportError:
        raise NotSupported(where=f"host URL {redact(url)}",
                           detail="local:// needs PyMI (pip install PyMI), which runs on "
                                  "Windows only; from Linux use https://") from None
    from winstackers.cim.transports.mi import MiSession

    return MiSession(mi)


def _connect_emulator(url: str, name: str, path: str, query: str) -> Session:
    from pathlib import Path

    from winstackers.cim.transports.emulated import EmulatedSession
    from winstackers.emulator.hyperv.config import HostConfig
    from winstackers.emulator.hyperv.faults import FaultPlan
    from winstackers.emulator.hyperv.host import EmulatedHost

    files, query = _files_option(url, query)
    try:
        faults = FaultPlan(**fault_plan_options(url, query))
    except ValueError as exc:
        raise InvalidParameter(where=f"host URL {redact(url)}", detail=str(exc)) from None
    config = HostConfig(files_root=files)
    if path and path != "/":
        key = f"file:{Path(path).resolve()}"
        with _SHARED_LOCK:
            if key not in _SHARED:
                _SHARED[key] = (EmulatedHost.load(path, faults, autosave=True, files_root=files)
                                if Path(path).exists() else
                                EmulatedHost(config, faults=faults, state_file=path))
            return EmulatedSession(_SHARED[key])
    if not name:
        return EmulatedSession(EmulatedHost(config, faults=faults))
    with _SHARED_LOCK:
        if name not in _SHARED:
            _SHARED[name] = EmulatedHost(config, faults=faults)
        return EmulatedSession(_SHARED[name])


def _files_option(url: str, query: str) -> tuple[str | None, str]:
    """The ``files`` option of an emulator URL (an existing directory, made
    absolute) and the query without it."""
    from pathlib import Path
    from urllib.parse import urlencode

    pairs = parse_qsl(query, keep_blank_values=True)
    given = [value for key, value in pairs if key == "files"]
    rest = urlencode([(key, value) for key, value in pairs if key != "files"])
    if not given:
        return None, rest
    if not given[-1] or not Path(given[-1]).is_dir():
        raise InvalidParameter(where=f"host URL {redact(url)}",
                               detail=f"option files={given[-1]!r} is not an existing directory")
    return str(Path(given[-1]).resolve()), rest


def forget_shared_hosts() -> None:
    """Drop the process's shared emulated hosts (tests use this)."""
    with _SHARED_LOCK:
        _SHARED.clear()
