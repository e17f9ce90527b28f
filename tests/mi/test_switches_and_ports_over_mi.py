"""The contract tests of tests/contract/test_switches_and_ports.py, through the PyMI transport."""

from tests.contract.test_switches_and_ports import *  # noqa: F403
