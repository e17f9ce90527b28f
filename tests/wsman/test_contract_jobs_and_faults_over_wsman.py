"""``tests/contract/test_jobs_and_faults.py`` over WS-Management (fixtures: conftest.py)."""

from tests.contract.test_jobs_and_faults import *  # noqa: F403
