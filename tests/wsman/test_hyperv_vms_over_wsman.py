"""``tests/hyperv/test_vms.py`` over WS-Management (fixtures: conftest.py)."""

from tests.hyperv.test_vms import *  # noqa: F403
