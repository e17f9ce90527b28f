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
``https://HOST:5986/wsman``            WS-Management (remote): not built yet
``mi://`` or ``local://``              PyMI on the Windows host: not built yet
=====================================  =====================================

Query parameters tune the emulator: ``latency``, ``job_delay``,
``job_failure_rate``, ``transport_error_rate`` (floats) and ``seed`` (int),
e.g. ``emulator://lab?job_delay=0.05``.  Credentials never appear in URLs
that Winstackers logs: :func:`redact` removes them.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from winstackers.cim.api import Session
from winstackers.cim.errors import InvalidParameter, NotSupported

_SHARED: dict[str, Any] = {}
_SHARED_LOCK = threading.Lock()
_FAULT_OPTIONS = {"latency": float, "job_delay": float, "job_failure_rate": float,
                  "transport_error_rate": float, "seed": int}


def redact(url: str) -> str:
    """*url* without any user name or password, for logs and errors."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def connect(url: str) -> Session:
    """A session for *url* (see the module documentation).

    :raises InvalidParameter: naming the URL (redacted) and what is wrong
        with it: unknown scheme, unknown or malformed option.
    :raises NotSupported: for a transport that is not built yet.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "emulator":
        return _connect_emulator(url, parts.netloc, parts.path, parts.query)
    if scheme in ("https", "http", "wsman"):
        raise NotSupported(where=f"host URL {redact(url)}",
                           detail="the WS-Management transport is not built yet")
    if scheme in ("mi", "local"):
        raise NotSupported(where=f"host URL {redact(url)}",
                           detail="the local PyMI transport is not built yet")
    raise InvalidParameter(where=f"host URL {redact(url)}",
                           detail="the scheme must be emulator://, https:// or mi://")


def fault_plan_options(url: str, query: str) -> dict[str, Any]:
    """The emulator options in a URL's query string, converted."""
    options: dict[str, Any] = {}
    for name, values in parse_qs(query, keep_blank_values=True).items():
        if name not in _FAULT_OPTIONS:
            raise InvalidParameter(where=f"host URL {redact(url)}",
                                   detail=f"unknown option {name!r}; known: "
                                          f"{', '.join(sorted(_FAULT_OPTIONS))}")
        try:
            options[name] = _FAULT_OPTIONS[name](values[-1])
        except ValueError:
            raise InvalidParameter(where=f"host URL {redact(url)}",
                                   detail=f"option {name}={values[-1]!r} is not a number") \
                from None
    return options


def _connect_emulator(url: str, name: str, path: str, query: str) -> Session:
    from pathlib import Path

    from winstackers.cim.transports.emulated import EmulatedSession
    from winstackers.emulator.hyperv.faults import FaultPlan
    from winstackers.emulator.hyperv.host import EmulatedHost

    try:
        faults = FaultPlan(**fault_plan_options(url, query))
    except ValueError as exc:
        raise InvalidParameter(where=f"host URL {redact(url)}", detail=str(exc)) from None
    if path and path != "/":
        key = f"file:{Path(path).resolve()}"
        with _SHARED_LOCK:
            if key not in _SHARED:
                _SHARED[key] = (EmulatedHost.load(path, faults, autosave=True)
                                if Path(path).exists() else
                                EmulatedHost(faults=faults, state_file=path))
            return EmulatedSession(_SHARED[key])
    if not name:
        return EmulatedSession(EmulatedHost(faults=faults))
    with _SHARED_LOCK:
        if name not in _SHARED:
            _SHARED[name] = EmulatedHost(faults=faults)
        return EmulatedSession(_SHARED[name])


def forget_shared_hosts() -> None:
    """Drop the process's shared emulated hosts (tests use this)."""
    with _SHARED_LOCK:
        _SHARED.clear()
