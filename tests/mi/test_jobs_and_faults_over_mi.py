"""The contract tests of tests/contract/test_jobs_and_faults.py, through the PyMI transport."""

from tests.contract.test_jobs_and_faults import *  # noqa: F403
