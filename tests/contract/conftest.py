"""Contract tests: host behaviour, written once against ``winstackers.cim``.

Every test here takes the ``session`` fixture and talks to a host only
through the CIM seam.  By default the session is an in-process emulated
host.  When ``WINSTACKERS_TEST_HOST`` names a real Hyper-V host (a
connection URL, see :func:`winstackers.cim.connect`), every test marked
``hyperv_verified`` also runs against it, which is how anyone with Windows
checks the emulator's fidelity.  Tests that need what only the emulator has
(fault injection, call counters, packet evaluation) take ``emulated_host``
and are skipped on a real host.

Tests leave a real host as they found it: everything they create is named
``winstackers-test-*`` and destroyed at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from winstackers.cim import Session, connect
from winstackers.emulator.hyperv.host import EmulatedHost

from .helpers import Host

REAL_HOST = os.environ.get("WINSTACKERS_TEST_HOST")


TARGETS = ["emulator", "real"] if REAL_HOST else ["emulator"]


@pytest.fixture(params=TARGETS)
def session(request: pytest.FixtureRequest) -> Iterator[Session]:
    """A CIM session: the in-process emulator, or the real host.

    The real host only runs tests that carry the ``hyperv_verified`` mark
    themselves (on the function, class or module).
    """
    if request.param == "real":
        if request.node.get_closest_marker("hyperv_verified") is None:
            pytest.skip("not marked hyperv_verified: emulator-only test")
        sess = connect(REAL_HOST or "", password=os.environ.get("WINSTACKERS_TEST_PASSWORD"))
    else:
        sess = connect("emulator://")
    yield sess
    sess.close()


@pytest.fixture
def host(session: Session) -> Iterator[Host]:
    """Helpers bound to the session; destroys what the test created."""
    helper = Host(session)
    yield helper
    helper.cleanup()


@pytest.fixture
def emulated_host(session: Session) -> EmulatedHost:
    """The emulator behind the session (skips on a real host)."""
    emulated = getattr(session, "emulated_host", None)
    if emulated is None:
        pytest.skip("needs the emulator (fault injection, counters or packets)")
    return emulated
