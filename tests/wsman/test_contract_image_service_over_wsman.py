"""``tests/contract/test_image_service.py`` over WS-Management (fixtures: conftest.py)."""

from tests.contract.test_image_service import *  # noqa: F403
