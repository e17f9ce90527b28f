"""``tests/hyperv/test_disks.py`` over WS-Management (fixtures: conftest.py)."""

from tests.hyperv.test_disks import *  # noqa: F403
