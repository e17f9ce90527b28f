"""Msvm_ShutdownComponent.InitiateShutdown: a guest shutdown.

https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-shutdowncomponent-initiateshutdown:
``InitiateShutdown(boolean Force, string Reason)`` "initiates an operating
system shutdown" of the VM; it returns 0, 4096 (job started), 32768-32779
(the usual meanings), 32780 "the system is not ready", 32781 "the machine
is locked and cannot be shut down without the force option" and 32782 "a
system shutdown is in progress".  The class
(https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-shutdowncomponent)
is a logical device of the VM: one per VM, associated with it through
Msvm_SystemDevice, SystemName being the VM's Name.

Emulated: a running VM's guest shuts down while the job runs; the VM shows
EnabledState 2 (Running) until the job ends, then 3 (Off), as a guest that
powers the VM off when it is done.  Meanwhile a second request returns
32782.  Where Microsoft is silent the emulator refuses: a VM that is off
or saved returns 32775 (no guest to shut down); one that is paused,
starting or stopping returns 32780 (its guest cannot act now); a missing
Force returns 32773 (Microsoft does not say it is optional).  A turn-off
while the guest shuts down wins: the job then ends without changing the
VM again.

Emulator-only: with ``FaultPlan.guest_ignores_shutdown`` the request is
accepted and its job completes, but the VM stays running, as a guest
that does not act on shutdown requests (no integration services, a hung
OS); callers must fall back to turning the VM off.

Not emulated: InitiateReboot, Force=False on a locked machine (32781),
the Reason text (accepted, not kept).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from winstackers.cim.values import Reference
from winstackers.emulator.hyperv import model
from winstackers.emulator.hyperv.methods import INVALID_STATE_32K, Outcome, method
from winstackers.emulator.hyperv.providers.common import refuse

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost

COMPONENT = "Msvm_ShutdownComponent"
INVALID_PARAMETER_32K = 32773
NOT_READY = 32780
IN_PROGRESS = 32782
_NOT_READY_STATES = (model.PAUSED, model.STARTING, model.SHUTTING_DOWN)

#: The VMs whose guest is shutting down, per host (a running job is not
#: saved with the host state, so neither is this).
_SHUTTING_DOWN: weakref.WeakKeyDictionary[EmulatedHost, set[Reference]] = \
    weakref.WeakKeyDictionary()


def create_component(host: EmulatedHost, vm: Reference, guid: str) -> None:
    """Give the new VM *vm* (of GUID *guid*) its shutdown component."""
    component = host.store.add(COMPONENT, {
        "CreationClassName": COMPONENT, "DeviceID": f"Microsoft:{guid}\\{model.new_guid()}",
        "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": guid,
        "Name": "Shutdown", "ElementName": "Shutdown", "Caption": "Shutdown",
        "Description": "Microsoft Shutdown Service"})
    host.store.associate("Msvm_SystemDevice", GroupComponent=vm, PartComponent=component)


def components_of(host: EmulatedHost, vm: Reference) -> list[Reference]:
    """The shutdown components of *vm* (one)."""
    return host.store.associators(vm, "Msvm_SystemDevice", result_class=COMPONENT,
                                  role="GroupComponent")


@method(COMPONENT, "InitiateShutdown")
def initiate_shutdown(host: EmulatedHost, target: Reference, args: Mapping[str, Any]) -> Outcome:
    """Shut the guest down, as a job; the VM is off when the job ends."""
    found = host.store.associators(target, "Msvm_SystemDevice", role="PartComponent")
    if not found:
        refuse(INVALID_STATE_32K, "InitiateShutdown: the component belongs to no VM")
    vm = found[0]
    record = host.store.get(vm)
    name, state = record.get("ElementName"), record.get("EnabledState")
    if args["Force"] is None:
        refuse(INVALID_PARAMETER_32K, "InitiateShutdown: parameter Force is required")
    in_progress = _SHUTTING_DOWN.setdefault(host, set())
    if vm in in_progress:
        refuse(IN_PROGRESS, f"InitiateShutdown: VM {name!r} is already shutting down")
    if state in _NOT_READY_STATES:
        refuse(NOT_READY, f"InitiateShutdown: the guest of VM {name!r} is not ready "
               f"(EnabledState {state})")
    if state != model.RUNNING:
        refuse(INVALID_STATE_32K, f"InitiateShutdown: VM {name!r} is not running "
               f"(EnabledState {state})")
    if host.faults.guest_ignores_shutdown:
        return Outcome({})

    def complete() -> None:
        in_progress.discard(vm)
        current = host.store.find(vm)
        if current is not None and current.get("EnabledState") == model.RUNNING:
            host.store.update(vm, {"EnabledState": model.OFF, "RequestedState": 12})
            host.started_at.pop(vm, None)

    return Outcome({}, lambda: in_progress.add(vm), on_complete=complete)
