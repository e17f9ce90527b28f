"""``tests/contract/test_storage.py`` over WS-Management (fixtures: conftest.py)."""

from tests.contract.test_storage import *  # noqa: F403
