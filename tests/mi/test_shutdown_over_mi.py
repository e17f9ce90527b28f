"""The contract tests of tests/contract/test_shutdown.py, through the PyMI transport."""

from tests.contract.test_shutdown import *  # noqa: F403
