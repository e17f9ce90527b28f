"""``tests/hyperv/test_hostinfo.py`` over WS-Management (fixtures: conftest.py)."""

from tests.hyperv.test_hostinfo import *  # noqa: F403
