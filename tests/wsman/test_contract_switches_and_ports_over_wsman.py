"""``tests/contract/test_switches_and_ports.py`` over WS-Management (fixtures: conftest.py)."""

from tests.contract.test_switches_and_ports import *  # noqa: F403
