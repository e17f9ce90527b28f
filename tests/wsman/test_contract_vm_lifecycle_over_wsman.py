"""``tests/contract/test_vm_lifecycle.py`` over WS-Management (fixtures: conftest.py)."""

from tests.contract.test_vm_lifecycle import *  # noqa: F403
