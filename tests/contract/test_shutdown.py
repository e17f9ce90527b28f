"""A guest shutdown through ``winstackers.cim``: Msvm_ShutdownComponent.InitiateShutdown.

Each rule is shown by a call the host accepts (with the VM's state read
back) and one it refuses (with Hyper-V's return code and the VM named).
"""

from __future__ import annotations

import time

import pytest

from winstackers.cim import CimError, Instance, InvalidParameter, InvalidState, Reference, call
from winstackers.emulator.hyperv.host import EmulatedHost

from .helpers import OFF, PAUSED, RUNNING, Host

COMPONENT = "Msvm_ShutdownComponent"
NOT_READY, IN_PROGRESS = 32780, 32782
PAUSE = 9
REASON = "winstackers contract test"

verified = pytest.mark.hyperv_verified


def component(host: Host, vm: Reference) -> Instance:
    """The VM's shutdown component, through Msvm_SystemDevice."""
    found = host.session.associators(vm, assoc_class="Msvm_SystemDevice",
                                     result_class=COMPONENT)
    assert len(found) == 1, f"{len(found)} shutdown components"
    return found[0]


def shut_down(host: Host, vm: Reference, force: bool | None = True) -> None:
    """InitiateShutdown on the VM's component, waiting for its job."""
    target = component(host, vm).path
    assert target is not None
    call(host.session, target, "InitiateShutdown", {"Force": force, "Reason": REASON})


def state(host: Host, vm: Reference) -> int:
    return int(host.session.get(vm)["EnabledState"])


def running_vm(host: Host) -> Reference:
    vm = host.define_vm()
    host.set_state(vm, RUNNING)
    return vm


@verified
def test_a_vm_has_one_shutdown_component_named_after_it(host: Host) -> None:
    vm = running_vm(host)
    found = component(host, vm)
    assert found["SystemName"] == vm.key("Name")
    by_query = host.session.query(
        f"SELECT * FROM {COMPONENT} WHERE SystemName = '{vm.key('Name')}'")
    assert [c.path for c in by_query] == [found.path]


@verified
def test_shutdown_turns_a_running_vm_off(host: Host) -> None:
    vm = running_vm(host)
    shut_down(host, vm)
    deadline = time.monotonic() + 60
    while state(host, vm) != OFF and time.monotonic() < deadline:
        time.sleep(0.5)
    assert state(host, vm) == OFF


def test_shutdown_of_an_off_vm_is_refused_as_invalid_state(host: Host) -> None:
    vm = host.define_vm()
    with pytest.raises(InvalidState) as err:
        shut_down(host, vm)
    assert err.value.code == 32775
    assert "InitiateShutdown" in str(err.value)
    assert state(host, vm) == OFF


def test_shutdown_of_a_paused_vm_is_refused_as_not_ready(host: Host) -> None:
    vm = running_vm(host)
    host.set_state(vm, PAUSE)
    with pytest.raises(CimError) as err:
        shut_down(host, vm)
    assert err.value.code == NOT_READY
    assert state(host, vm) == PAUSED


def test_shutdown_without_force_is_refused(host: Host) -> None:
    vm = running_vm(host)
    with pytest.raises(InvalidParameter) as err:
        shut_down(host, vm, force=None)
    assert err.value.code == 32773
    assert "Force" in str(err.value)
    assert state(host, vm) == RUNNING


def test_a_second_shutdown_while_one_runs_is_refused_and_the_vm_runs_meanwhile(
        host: Host, emulated_host: EmulatedHost) -> None:
    vm = running_vm(host)
    emulated_host.faults.job_delay = 5.0
    target = component(host, vm).path
    assert target is not None
    first = host.session.invoke(target, "InitiateShutdown", {"Force": True, "Reason": REASON})
    assert first.return_value == 4096
    assert state(host, vm) == RUNNING
    second = host.session.invoke(target, "InitiateShutdown", {"Force": True, "Reason": REASON})
    assert second.return_value == IN_PROGRESS
    assert "already shutting down" in (second.error_description or "")
    emulated_host.faults.job_delay = 0.0  # the clean-up need not wait


def test_turning_off_during_a_guest_shutdown_wins(host: Host,
                                                  emulated_host: EmulatedHost) -> None:
    vm = running_vm(host)
    emulated_host.faults.job_delay = 0.2
    target = component(host, vm).path
    assert target is not None
    job = host.session.invoke(target, "InitiateShutdown", {"Force": True, "Reason": REASON})
    emulated_host.faults.job_delay = 0.0
    host.set_state(vm, OFF)
    time.sleep(0.25)
    assert host.session.get(job.out["Job"])["JobState"] == 7
    assert state(host, vm) == OFF


def test_a_guest_that_ignores_shutdown_keeps_running(host: Host,
                                                     emulated_host: EmulatedHost) -> None:
    vm = running_vm(host)
    emulated_host.faults.guest_ignores_shutdown = True
    shut_down(host, vm)
    assert state(host, vm) == RUNNING
    shut_down(host, vm)  # nothing is in progress: the guest simply did not act
    assert state(host, vm) == RUNNING


def test_destroying_a_vm_removes_its_shutdown_component(host: Host) -> None:
    vm = host.define_vm()
    name = vm.key("Name")
    host.call("DestroySystem", AffectedSystem=vm)
    assert host.session.query(f"SELECT * FROM {COMPONENT} WHERE SystemName = '{name}'") == []
