"""``tests/hyperv/test_ports.py`` over WS-Management (fixtures: conftest.py)."""

from tests.hyperv.test_ports import *  # noqa: F403
