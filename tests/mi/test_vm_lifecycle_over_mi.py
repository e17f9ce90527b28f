"""The contract tests of tests/contract/test_vm_lifecycle.py, through the PyMI transport."""

from tests.contract.test_vm_lifecycle import *  # noqa: F403
