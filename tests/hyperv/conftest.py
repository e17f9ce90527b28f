"""Fixtures for the host library's tests: a fresh emulated host each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hyperv.vm_fixtures import vms  # noqa: F401  (shared fixture)
from winstackers.cim import Session, connect
from winstackers.emulator.hyperv.host import EmulatedHost


@pytest.fixture
def session() -> Iterator[Session]:
    """A session on a new in-process emulated host."""
    sess = connect("emulator://")
    yield sess
    sess.close()


@pytest.fixture
def emulated_host(session: Session) -> EmulatedHost:
    """The emulator behind ``session`` (for counters, faults and packets)."""
    host = getattr(session, "emulated_host", None)
    assert isinstance(host, EmulatedHost)
    return host
