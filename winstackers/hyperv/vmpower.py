"""The VM power state machine and the guest shutdown, as Winstackers drives them.

Power changes are ``Msvm_ComputerSystem.RequestStateChange``
(https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/requeststatechange-msvm-computersystem):
2 start, 3 turn off, 6 save, 9 pause, 11 reset.  Microsoft draws the valid
transitions only as a diagram, so Winstackers requests only these and
refuses the rest before any host call
(:class:`~winstackers.hyperv.errors.InvalidDesiredState`):

=========  ==============  ==============================
action     requests        from
=========  ==============  ==============================
start      2               off, saved, paused
turn off   3               running, saved, paused
save       6               running, paused
pause      9               running
resume     2               paused, saved
reboot     11 (reset)      running
=========  ==============  ==============================

Asking for the state the VM is already in (start a running VM, turn off
an off one) makes no write.  Reboot is a reset, as os-win did
(https://github.com/openstack/os-win/blob/master/os_win/utils/compute/vmutils.py);
the guest is not asked.

A graceful shutdown is
``Msvm_ShutdownComponent.InitiateShutdown(Force, Reason)``
(https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-shutdowncomponent-initiateshutdown),
the component being found by its SystemName, the VM's id.  Its return
codes 32780 (not ready), 32781 (locked, needs Force) and 32782 (a shutdown
is already in progress) come from the guest's integration services.  The
guest may also accept the request and never act on it, so Winstackers
waits for the VM to be off, at most the timeout, and the caller turns it
off after that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from winstackers.cim import call
from winstackers.cim.errors import CimError, Timeout
from winstackers.cim.values import Instance, Reference
from winstackers.hyperv.errors import InvalidDesiredState
from winstackers.hyperv.hostcalls import HostCalls, path_of, wql_string
from winstackers.hyperv.vmstate import PowerState

LOG = logging.getLogger(__name__)
SHUTDOWN_COMPONENT = "Msvm_ShutdownComponent"
SHUTDOWN_IN_PROGRESS = 32782
START, TURN_OFF, SAVE, PAUSE, RESET = 2, 3, 6, 9, 11
_OFF, _RUNNING, _SAVED, _PAUSED = (PowerState.OFF, PowerState.RUNNING, PowerState.SAVED,
                                   PowerState.PAUSED)


@dataclass(frozen=True)
class Transition:
    """One action: what it requests, where it leads, where it may start."""

    requested: int
    target: PowerState
    allowed_from: frozenset[PowerState]
    #: Whether the action changes a VM already in *target* (a reboot does).
    always: bool = False


TRANSITIONS = {
    "start": Transition(START, _RUNNING, frozenset({_OFF, _SAVED, _PAUSED})),
    "turn off": Transition(TURN_OFF, _OFF, frozenset({_RUNNING, _SAVED, _PAUSED})),
    "save": Transition(SAVE, _SAVED, frozenset({_RUNNING, _PAUSED})),
    "pause": Transition(PAUSE, _PAUSED, frozenset({_RUNNING})),
    "resume": Transition(START, _RUNNING, frozenset({_PAUSED, _SAVED})),
    "reboot": Transition(RESET, _RUNNING, frozenset({_RUNNING}), always=True),
}


def request_for(action: str, vm_name: str, state: PowerState) -> int | None:
    """The RequestedState that performs *action* on a VM in *state*, or
    None when the VM is already where the action leads.

    :raises InvalidDesiredState: when the action is not valid from *state*.
    """
    transition = TRANSITIONS[action]
    if state == transition.target and not transition.always:
        return None
    if state not in transition.allowed_from:
        raise InvalidDesiredState(field="power state", detail=(
            f"cannot {action} VM {vm_name!r}: it is {state.name.lower().replace('_', ' ')}"))
    return transition.requested


@dataclass
class GuestShutdown:
    """Asks a running VM's guest to shut down and waits for the VM to be off."""

    calls: HostCalls
    clock: Callable[[], float]
    sleep: Callable[[float], None]

    def run(self, vm: Instance, *, timeout: float, force: bool, reason: str) -> bool:
        """Whether the VM is off within *timeout* seconds, by the guest's
        own shutdown (False: no shutdown component, a refused request, or
        a guest that did not act in time)."""
        deadline = self.clock() + timeout
        component = self._component(vm)
        if component is None:
            LOG.warning("VM %s has no shutdown component (integration services off?)",
                        vm.get("ElementName"))
            return False
        if not self._initiate(vm, component, timeout, force, reason):
            return False
        return self._wait_off(path_of(vm), deadline)

    def _component(self, vm: Instance) -> Instance | None:
        found = self.calls.session.query(f"SELECT * FROM {SHUTDOWN_COMPONENT} WHERE SystemName "
                                         f"= {wql_string(str(vm.get('Name')))}")
        return found[0] if found else None

    def _initiate(self, vm: Instance, component: Instance, timeout: float, force: bool,
                  reason: str) -> bool:
        try:
            call(self.calls.session, path_of(component), "InitiateShutdown",
                 {"Force": force, "Reason": reason}, timeout=timeout)
        except Timeout:
            return True  # the job runs on; the wait below is bounded by the same deadline
        except CimError as exc:
            if exc.code == SHUTDOWN_IN_PROGRESS:
                return True
            LOG.warning("the guest of VM %s refused to shut down: %s", vm.get("ElementName"), exc)
            return False
        return True

    def _wait_off(self, vm: Reference, deadline: float) -> bool:
        interval = 0.01
        while True:
            if PowerState.of(self.calls.session.get(vm).get("EnabledState")) == _OFF:
                return True
            remaining = deadline - self.clock()
            if remaining <= 0:
                return False
            self.sleep(min(interval, remaining))
            interval = min(interval * 2, 1.0)
