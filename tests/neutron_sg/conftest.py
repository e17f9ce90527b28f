"""Fixtures: a fresh in-process emulated host for each test that asks
(the same as the host library's tests use)."""

from tests.hyperv.conftest import emulated_host, session

__all__ = ["emulated_host", "session"]
