"""``tests/contract/test_packets_on_host.py`` over WS-Management (fixtures: conftest.py)."""

from tests.contract.test_packets_on_host import *  # noqa: F403
