"""``tests/hyperv/test_vnics.py`` over WS-Management (fixtures: conftest.py)."""

from tests.hyperv.test_vnics import *  # noqa: F403
