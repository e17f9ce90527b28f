"""``tests/contract/test_smoke.py`` over WS-Management (fixtures: conftest.py)."""

from tests.contract.test_smoke import *  # noqa: F403
