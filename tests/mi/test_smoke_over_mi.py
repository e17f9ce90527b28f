"""The contract tests of tests/contract/test_smoke.py, through the PyMI transport."""

from tests.contract.test_smoke import *  # noqa: F403
