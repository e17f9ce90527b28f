"""The contract tests of tests/contract/test_packets_on_host.py, through the PyMI transport."""

from tests.contract.test_packets_on_host import *  # noqa: F403
