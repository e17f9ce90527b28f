"""Msvm_ComputerSystem.RequestStateChange: the VM power state machine.

https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/requeststatechange-msvm-computersystem
documents the requested states (2 start, 3 turn off, 6 save, 9 pause,
10 reboot, 11 reset; 4 shut down is "valid in V1 only") and the return
codes (4096 transition started, 32775 "Invalid state for this operation").
Microsoft gives the valid transitions only as a diagram; the emulator
allows exactly these (anything else returns 32775):

=================  ==========================================
requested          allowed from EnabledState
=================  ==========================================
2 start / resume   3 off, 6 saved, 9 paused
3 turn off         2 running, 6 saved, 9 paused
6 save             2 running, 9 paused
9 pause            2 running
10 reboot, 11 reset  2 running
=================  ==========================================

While the job runs a starting VM shows EnabledState 10 (Starting) and a
stopping one 4 (Shutting Down); a second request meanwhile returns 32775.
RequestedState shows the request until the job ends, then 12 (Not
Applicable).  The host's own computer system refuses every request (32775).
A guest shutdown is Msvm_ShutdownComponent's (``providers/shutdown.py``).
Not emulated: TimeoutPeriod.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from winstackers.cim.values import Reference
from winstackers.emulator.hyperv import model
from winstackers.emulator.hyperv.methods import INVALID_STATE_32K, Outcome, method
from winstackers.emulator.hyperv.providers.common import refuse

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost

NOT_SUPPORTED_32K = 32770
_ALLOWED = {
    2: {model.OFF, model.SAVED, model.PAUSED},
    3: {model.RUNNING, model.SAVED, model.PAUSED},
    6: {model.RUNNING, model.PAUSED},
    9: {model.RUNNING},
    10: {model.RUNNING},
    11: {model.RUNNING},
}
#: requested state -> (state shown while the job runs, final state)
_STATES = {2: (model.STARTING, model.RUNNING), 3: (model.SHUTTING_DOWN, model.OFF),
           6: (model.SAVED, model.SAVED), 9: (model.PAUSED, model.PAUSED),
           10: (model.RUNNING, model.RUNNING), 11: (model.RUNNING, model.RUNNING)}


@method("Msvm_ComputerSystem", "RequestStateChange")
def request_state_change(host: EmulatedHost, target: Reference,
                         args: Mapping[str, Any]) -> Outcome:
    """Start, turn off, save, pause, reboot or reset a VM, as a job."""
    record = host.store.get(target)
    requested = args["RequestedState"]
    name = record.get("ElementName")
    if record.get("Caption") != "Virtual Machine":
        refuse(INVALID_STATE_32K, f"RequestStateChange: {name!r} is the host, not a VM")
    if requested == 4:
        refuse(NOT_SUPPORTED_32K, "RequestStateChange: state 4 (Shut Down) is valid in the V1 "
               "namespace only; use Msvm_ShutdownComponent")
    state = record.get("EnabledState")
    if requested not in _ALLOWED or state not in _ALLOWED[requested]:
        refuse(INVALID_STATE_32K, f"RequestStateChange: VM {name!r} cannot go to state "
               f"{requested} from EnabledState {state}")
    during, final = _STATES[requested]

    def apply() -> None:
        host.store.update(target, {"EnabledState": during, "RequestedState": requested})

    def complete() -> None:
        changes: dict[str, Any] = {"EnabledState": final, "RequestedState": 12}
        if final == model.RUNNING and state != model.PAUSED or requested in (10, 11):
            changes["OnTimeInMilliseconds"] = 0
            host.started_at[target] = host.clock()
        if final in (model.OFF, model.SAVED):
            host.started_at.pop(target, None)
        host.store.update(target, changes)

    return Outcome({}, apply, on_complete=complete)
