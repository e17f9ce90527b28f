"""``tests/contract/test_seam.py`` over WS-Management (fixtures: conftest.py)."""

from tests.contract.test_seam import *  # noqa: F403
