"""``tests/contract/test_port_features.py`` over WS-Management (fixtures: conftest.py)."""

from tests.contract.test_port_features import *  # noqa: F403
