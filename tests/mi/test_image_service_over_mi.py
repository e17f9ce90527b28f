"""The contract tests of tests/contract/test_image_service.py, through the PyMI transport."""

from tests.contract.test_image_service import *  # noqa: F403
