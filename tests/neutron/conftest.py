"""Tests of the server-side neutron parts, on neutron's own test harness.

neutron 29 ships its test helpers in the wheel (``neutron.tests``); they need
``oslotest``, ``testtools`` and ``WebTest`` (the ``test`` extra) and no
services: the ML2 plugin tests run on in-memory SQLite.  Without neutron
installed (the ``neutron`` extra) these tests are skipped, not failed.
"""

from __future__ import annotations

import importlib.util

import pytest

collect_ignore_glob: list[str] = []
if importlib.util.find_spec("neutron") is None:  # pragma: no cover - depends on the venv
    collect_ignore_glob.append("test_*.py")

# neutron 29's import chain still touches eventlet, cgi and oslo modules it
# deprecates itself; those warnings say nothing about Winstackers.
_THIRD_PARTY_DEPRECATIONS = (
    r"ignore:\s*Eventlet is deprecated",
    r"ignore:'cgi' is deprecated:DeprecationWarning",
    r"ignore:eventletutils module is deprecated:DeprecationWarning",
    r"ignore:The 'oslo_service.sslutils' module:DeprecationWarning",
)


def pytest_configure(config: pytest.Config) -> None:
    for line in _THIRD_PARTY_DEPRECATIONS:
        config.addinivalue_line("filterwarnings", line)
