"""The contract tests of tests/contract/test_storage.py, through the PyMI transport."""

from tests.contract.test_storage import *  # noqa: F403
