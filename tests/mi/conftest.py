"""Run the contract tests through the PyMI transport, on a stand-in ``mi``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.helpers import Host
from winstackers.cim import Session
from winstackers.cim.transports.mi import MiSession
from winstackers.emulator.hyperv.host import EmulatedHost

from . import fake_mi


@pytest.fixture
def emulated_host() -> EmulatedHost:
    """The emulated host behind the stand-in ``mi`` module."""
    return EmulatedHost()


@pytest.fixture
def session(emulated_host: EmulatedHost) -> Iterator[Session]:
    """A PyMI session (stand-in module) on the emulated host."""
    fake_mi.HOST = emulated_host
    sess = MiSession(fake_mi)
    yield sess
    sess.close()
    fake_mi.HOST = None


@pytest.fixture
def host(session: Session) -> Iterator[Host]:
    helper = Host(session)
    yield helper
    helper.cleanup()
