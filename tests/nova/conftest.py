"""The compute driver's tests: nova 34 and its own test harness.

nova's test fixtures monkey-patch eventlet when imported (as nova's own
unit tests run), which cannot happen in a process where the threaded
neutron tests already imported eventlet's users; so these tests run in a
pytest process of their own: ``pytest tests/nova`` (``tools/test.sh`` runs
it after the rest).  In a run that already imported eventlet they are not
collected, and the summary says so.

nova's ``nova.test.TestCase`` deletes a test's public attributes when it
ends (``_clear_attrs``), the test method pytest then looks up included;
that cleanup only saves memory, so it is turned off here.  Importing
``nova.tests.unit`` first registers nova's objects as its harness expects.
When nova is not installed (the ``nova`` extra) these tests are not
collected either.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

if importlib.util.find_spec("nova") is None:
    WHY_NOT: str | None = "nova is not installed (pip install -e '.[nova]')"
elif "eventlet" in sys.modules:
    WHY_NOT = ("they run in a pytest process of their own (nova's fixtures monkey-patch "
               "eventlet): pytest tests/nova")
else:
    WHY_NOT = None
collect_ignore_glob = ["test_*.py"] if WHY_NOT else []

if WHY_NOT is None:
    import nova.test
    import nova.tests.unit  # noqa: F401  (registers nova's objects)

    nova.test.TestCase._clear_attrs = lambda self: None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say why the compute driver's tests did not run here, if they did not."""
    if WHY_NOT:
        terminalreporter.write_line(f"tests/nova not collected: {WHY_NOT}")
