"""``tests/contract/test_shutdown.py`` over WS-Management (fixtures: conftest.py)."""

from tests.contract.test_shutdown import *  # noqa: F403
