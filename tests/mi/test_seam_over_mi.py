"""The contract tests of tests/contract/test_seam.py, through the PyMI transport."""

from tests.contract.test_seam import *  # noqa: F403
