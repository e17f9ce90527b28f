"""Fixtures for the WS-Management tests: one HTTPS listener for the whole
run (a throw-away CA, Basic auth on loopback), and a fresh emulated host
behind it for every test.

The ``session``, ``host`` and ``emulated_host`` fixtures have the names and
meaning of ``tests/contract``'s and ``tests/hyperv``'s, so their test
modules re-run here unchanged (``test_*_over_wsman.py``), every call going
through :mod:`winstackers.cim.transports.wsman` and the served emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hyperv.vm_fixtures import vms  # noqa: F401  (shared fixture)
from winstackers.cim import Session, connect
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.wsman.fixtures import ServedHost, TlsFiles, make_tls_files, served_host
from winstackers.emulator.wsman.server import WsmanServer

from ..contract.helpers import Host


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A CA and a server certificate for 127.0.0.1, for the whole run."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def served(tls_files: TlsFiles) -> Iterator[ServedHost]:
    """The HTTPS listener shared by the run (its host is replaced per test)."""
    with served_host(tls_files=tls_files) as served:
        yield served


@pytest.fixture
def wsman_server(served: ServedHost) -> WsmanServer:
    """The listener, serving a new emulated host for this test."""
    served.server.host = EmulatedHost()
    return served.server


@pytest.fixture
def ca_path(tls_files: TlsFiles) -> Path:
    """The CA certificate that signed the listener's certificate."""
    return tls_files.ca


@pytest.fixture
def session(wsman_server: WsmanServer, served: ServedHost) -> Iterator[Session]:
    """A WS-Management session on this test's served emulated host."""
    sess = connect(served.url, password=served.password)
    yield sess
    sess.close()


@pytest.fixture
def emulated_host(wsman_server: WsmanServer, session: Session) -> EmulatedHost:
    """The in-process host behind the listener (faults, counters, packets)."""
    return wsman_server.host


@pytest.fixture
def host(session: Session) -> Iterator[Host]:
    """Contract-test helpers bound to the WS-Management session."""
    helper = Host(session)
    yield helper
    helper.cleanup()
