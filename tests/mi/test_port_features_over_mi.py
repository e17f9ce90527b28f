"""The contract tests of tests/contract/test_port_features.py, through the PyMI transport."""

from tests.contract.test_port_features import *  # noqa: F403
