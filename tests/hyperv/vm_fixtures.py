"""A fixture the host library's VM-device tests share, here and in their
WS-Management twins (both folders' conftest.py import it)."""

from __future__ import annotations

import pytest

from winstackers.cim import Session
from winstackers.hyperv.vms import VMs
from winstackers.hyperv.vmstate import VMSpec


@pytest.fixture
def vms(session: Session) -> VMs:
    """Two VMs: ``vm-2`` generation 2 and ``vm-1`` generation 1."""
    vms = VMs(session)
    vms.ensure(VMSpec("vm-2", generation=2))
    vms.ensure(VMSpec("vm-1", generation=1))
    return vms
