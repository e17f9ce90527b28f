"""Options of the whole test suite (options must be added by a conftest at
the tests' root, which pytest loads before it parses the command line)."""

from __future__ import annotations

from typing import Any


def pytest_addoption(parser: Any) -> None:
    """``--soak``: the long sizes of tests that have them (the fault
    tolerance tests, ``tests/functional/test_faults.py``); the environment
    variable ``WINSTACKERS_SOAK=1`` does the same."""
    parser.addoption("--soak", action="store_true", default=False,
                     help="run tests that have a soak size at that size (long; "
                          "also WINSTACKERS_SOAK=1)")
