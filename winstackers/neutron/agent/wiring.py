"""Wiring ports: from neutron's answers to host writes and status reports.

For a batch of vNIC names (neutron port ids) :class:`Wiring` asks neutron
for device details, security group information and QoS rules (a constant
number of RPC calls per batch, plus one per distinct QoS policy), builds
each port's :class:`~winstackers.neutron.agent.binding.Binding`, programs
the ports in the agent's bounded thread pool and reports them up or down
in one ``update_device_list``.

With the host's current state at hand (a resync read it in bulk), a port
whose state is already right costs no host call at all; else
:meth:`SwitchPorts.apply` reads the port and writes only the difference.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from winstackers.cim.errors import CimError
from winstackers.hyperv.errors import PortNotFound, SwitchNotFound
from winstackers.hyperv.ports import RETRYABLE, SwitchPorts, batches
from winstackers.hyperv.portstate import PortState
from winstackers.neutron.agent.binding import Binding, HostView, bind
from winstackers.neutron.agent.portinfo import NO_ACTIVE_BINDING, PortInfo, SecurityInfo, is_bound
from winstackers.neutron.agent.rpc import PluginRpc
from winstackers.neutron.agent.tracker import PortTracker, Tracked

LOG = logging.getLogger(__name__)
#: Ports per ``security_group_info_for_devices`` call of a security-only
#: refresh (:meth:`Wiring.refresh_security`).
SECURITY_BATCH = 200
#: How secgroups.port_security starts the notes about a group's rules.
GROUP_NOTE = "security group "
GROUP_SCOPE = ""


class RpcFailed(Exception):
    """A call to neutron failed (the agent resyncs)."""

    def __init__(self, method: str, cause: Exception) -> None:
        super().__init__(f"RPC {method} failed: {type(cause).__name__}: {cause}")


class HostCallsFailed(Exception):
    """Host calls failed for some ports (the agent resyncs)."""

    def __init__(self, failed: Sequence[tuple[str, Exception]]) -> None:
        self.failed = list(failed)
        port, first = failed[0]
        super().__init__(f"{len(failed)} port(s) could not be programmed; first: "
                         f"port {port}: {first}")


@dataclass(frozen=True)
class Outcome:
    """What happened to one port: ``up`` True/False to report, None when
    there is nothing to report (the vNIC went away meanwhile)."""

    port_id: str
    up: bool | None
    writes: int = 0
    failure: Exception | None = None
    problem: str | None = None


def is_host_failure(exc: CimError) -> bool:
    """Whether *exc* says the host could not be reached or did not finish
    (worth a resync), rather than that it refused this port's state (which
    retrying will not change: the port is reported down instead)."""
    return isinstance(exc, RETRYABLE) or isinstance(exc.__cause__, RETRYABLE)


def is_port_id(name: str) -> bool:
    """Whether a vNIC name can be a neutron port id (a UUID)."""
    try:
        uuid.UUID(name)
    except ValueError:
        return False
    return True


class Wiring:
    """Programs batches of ports; shared by the loop and the resync."""

    def __init__(self, plugin: PluginRpc, ports: SwitchPorts, pool: Executor,
                 tracker: PortTracker, view: HostView, batch_size: int) -> None:
        self.plugin, self.ports, self.pool = plugin, ports, pool
        self.tracker, self.view, self.batch_size = tracker, view, batch_size
        self._said: dict[str, set[str]] = {}
        #: What neutron last said of each wired port, and its QoS rules:
        #: a security-only change re-binds from these (:meth:`refresh_security`).
        self._infos: dict[str, PortInfo] = {}
        self._rules: dict[str, list[dict[str, Any]] | None] = {}
        #: RPC calls made, by method (``report_state`` counted by the agent).
        self.rpc_calls: Counter[str] = Counter()
        #: Host writes made (switch port changes).
        self.host_writes = 0
        self._lock = threading.Lock()

    def rpc(self, method: str, *args: Any) -> Any:
        """Call *method* of the plugin (counted in :attr:`rpc_calls`).

        :raises RpcFailed: naming the method, whatever went wrong.
        """
        with self._lock:
            self.rpc_calls[method] += 1
        try:
            return getattr(self.plugin, method)(*args)
        except Exception as exc:
            raise RpcFailed(method, exc) from exc

    # -- the batch ------------------------------------------------------------
    def wire(self, names: Iterable[str], current: Mapping[str, PortState] | None = None) -> int:
        """Wire the ports *names*; returns the host writes made.  With
        *current* (a resync), ports neutron no longer knows are disconnected
        when Winstackers connected them (:meth:`SwitchPorts.connected_here`,
        asked only when there are such ports); others were connected by
        hand, and are reported and left alone.

        :raises RpcFailed: when neutron cannot be asked or told (the batches
            after it are left for the resync).
        :raises HostCallsFailed: when host calls failed for some ports, once
            every batch was tried: a port that keeps failing does not keep
            the ports after it from being wired.
        """
        writes = 0
        failed: list[tuple[str, Exception]] = []
        for batch in batches(sorted(set(names)), self.batch_size):
            try:
                writes += self._wire_batch(batch, current)
            except HostCallsFailed as exc:
                failed += exc.failed
        if failed:
            raise HostCallsFailed(failed)
        return writes

    def _wire_batch(self, batch: Sequence[str], current: Mapping[str, PortState] | None) -> int:
        details = self.rpc("get_devices_details_list", batch)
        bound = [d for d in details if is_bound(d)]
        security = SecurityInfo.from_rpc(self.rpc(
            "security_group_info_for_devices", [d["port_id"] for d in bound]) if bound else None)
        infos = [PortInfo.from_rpc(d, security.port(d["port_id"])) for d in bound]
        rules = self._qos_rules(infos)
        jobs: list[Callable[[], Outcome]] = []
        tracked: dict[str, Tracked] = {}
        for info in infos:
            self._infos[info.port_id] = info
            self._rules[info.port_id] = rules.get(info.qos_policy_id or "")
            binding = bind(info, self.view, security, rules.get(info.qos_policy_id or ""))
            self._say(binding)
            tracked[info.port_id] = Tracked(
                info.network_id, security.groups_of(info.port_id), info.qos_policy_id,
                trunk_id=info.trunk_id, subports=self.tracker.get(info.port_id).subports)
            jobs.append(partial(self._apply, binding, current))
        if current is not None:
            stale = self._stale(details, current)
            connected_here = self.ports.connected_here() if stale else frozenset()
            for name in sorted(set(stale) - connected_here):
                if self._first_time(name, "connected by hand"):
                    LOG.warning("vNIC %s is named like a neutron port that neutron does not "
                                "know, and its switch port was not connected by Winstackers: "
                                "left as it is", name)
            jobs += [partial(self._disconnect_stale, name, current)
                     for name in stale if name in connected_here]
        outcomes = self._run(jobs)
        trunks = [(info, o) for info in infos for o in outcomes
                  if o.port_id == info.port_id and info.trunk_id]
        subports_up, subports_down = self._sync_trunks(trunks, tracked)
        return self._finish(tracked, outcomes, subports_up, subports_down)

    def refresh_security(self, names: Iterable[str]) -> int:
        """Recompute the ACLs of ports whose security groups' rules or
        members changed; returns the host writes made.

        Neutron is asked only ``security_group_info_for_devices`` (one call
        per :data:`SECURITY_BATCH` ports): the rest of what it said of each port is the same, so
        the port is not re-bound (which would set it BUILD until reported
        up again) and nothing is reported unless a port's up/down changes.
        A port whose ACLs come out the same costs reads only.  Ports not
        wired yet go the full way (:meth:`wire`).

        :raises RpcFailed: when neutron cannot be asked or told.
        :raises HostCallsFailed: when host calls failed for some ports.
        """
        wanted = sorted(set(names))
        known = [name for name in wanted if name in self._infos]
        writes = self.wire(set(wanted) - set(known)) if len(known) < len(wanted) else 0
        failed: list[tuple[str, Exception]] = []
        # Larger batches than for wiring: the answer carries each group's
        # rules and members once, however many of its ports are asked about.
        for batch in batches(known, max(self.batch_size, SECURITY_BATCH)):
            security = SecurityInfo.from_rpc(self.rpc("security_group_info_for_devices",
                                                      list(batch)))
            bindings = [bind(self._infos[name], self.view, security, self._rules.get(name))
                        for name in batch]
            for binding in bindings:
                self._say(binding)
            outcomes = self._run([partial(self._apply, binding, None) for binding in bindings])
            up: list[str] = []
            down: list[str] = []
            for outcome in outcomes:
                if outcome.problem:
                    self._say_problem(outcome.port_id, outcome.problem)
                if outcome.up is None:
                    continue
                was = self.tracker.get(outcome.port_id)
                self.tracker.record(outcome.port_id, replace(
                    was, groups=security.groups_of(outcome.port_id), up=outcome.up))
                if outcome.up != was.up:
                    (up if outcome.up else down).append(outcome.port_id)
            self.report(up, down)
            writes += sum(o.writes for o in outcomes)
            failed += [(o.port_id, o.failure) for o in outcomes if o.failure is not None]
        if failed:
            raise HostCallsFailed(failed)
        return writes

    def _qos_rules(self, infos: Sequence[PortInfo]) -> dict[str, list[dict[str, Any]]]:
        policies = {info.qos_policy_id for info in infos if info.qos_policy_id}
        found = {pid: self.rpc("get_qos_rules", pid) for pid in sorted(policies)}
        return {pid: rules for pid, rules in found.items() if rules is not None}

    def _stale(self, details: Sequence[Mapping[str, Any]],
               current: Mapping[str, PortState]) -> list[str]:
        # Unknown to neutron, named like a port, connected to one of our
        # vSwitches: its port was deleted while the agent was away.
        conf = self.view.configurations
        ours = set(conf.vswitch_mappings.values()) | (
            {conf.local_vswitch} if conf.local_vswitch else set())
        return [d["device"] for d in details
                if not is_bound(d) and NO_ACTIVE_BINDING not in d and is_port_id(d["device"])
                and d["device"] in current and current[d["device"]].switch in ours]

    # -- host calls (in the pool) -----------------------------------------------
    def _run(self, jobs: Sequence[Callable[[], Outcome]]) -> list[Outcome]:
        outcomes = [future.result() for future in [self.pool.submit(job) for job in jobs]]
        self.host_writes += sum(o.writes for o in outcomes)
        return outcomes

    def _apply(self, binding: Binding, current: Mapping[str, PortState] | None) -> Outcome:
        name, state = binding.port_id, binding.state
        try:
            if state is None:
                return Outcome(name, False, self._disconnect(name, current))
            if current is not None and current.get(name) == state:
                return Outcome(name, binding.up)
            return Outcome(name, binding.up, self.ports.apply(name, state))
        except PortNotFound:
            return Outcome(name, None)
        except SwitchNotFound as exc:
            return Outcome(name, False, problem=f"port {name}: {exc}")
        except CimError as exc:
            if is_host_failure(exc):
                return Outcome(name, None, failure=exc)
            return Outcome(name, False, problem=f"port {name}: the host refused its "
                                                f"state: {exc}")

    def _disconnect(self, name: str, current: Mapping[str, PortState] | None) -> int:
        if current is not None and name in current and current[name].switch is None:
            return 0
        return self.ports.remove(name)

    def _disconnect_stale(self, name: str, current: Mapping[str, PortState]) -> Outcome:
        LOG.info("port %s is not known to neutron any more: disconnecting its vNIC", name)
        outcome = self._apply(Binding(name, None, up=False), current)
        return Outcome(name, None, outcome.writes, outcome.failure)

    def disconnect(self, names: Iterable[str]) -> int:
        """Disconnect ports whose neutron ports were deleted (no report:
        neutron has forgotten them).

        :raises HostCallsFailed: when host calls failed.
        """
        jobs = [partial(self._apply, Binding(name, None, up=False), None) for name in names]
        outcomes = self._run(jobs)
        for outcome in outcomes:
            if outcome.up is not None and outcome.failure is None:
                LOG.info("port %s was deleted in neutron: vNIC disconnected", outcome.port_id)
                self.tracker.record(outcome.port_id, Tracked())
        self._raise_failures(outcomes)
        return sum(o.writes for o in outcomes)

    # -- trunks -----------------------------------------------------------------------
    def _sync_trunks(self, trunks: Sequence[tuple[PortInfo, Outcome]],
                     tracked: dict[str, Tracked]) -> tuple[list[str], list[str]]:
        """What a trunk driver owes neutron once trunk parents are wired:
        bind the new subports to this host, set the trunk's status, and the
        subports to report up and down (with their parent; subports dropped
        from the trunk go down).  A subport that did not bind is retried the
        next time its parent is wired.

        Status (neutron's trunk states,
        https://docs.openstack.org/neutron/latest/admin/config-trunking.html):
        ACTIVE when the parent is wired and every subport bound; DEGRADED
        when some subports did not bind; ERROR when none of the new ones
        did (neutron has set ERROR itself then) or the parent cannot be
        wired; DOWN when the parent is disconnected on purpose
        (admin_state_up false).
        """
        up: list[str] = []
        down: list[str] = []
        for info, outcome in trunks:
            if outcome.up is None or info.trunk_id is None:
                continue  # the vNIC went away, or the host failed: next time
            wanted = frozenset(info.subports)
            before = tracked[info.port_id].subports
            down += sorted(before - wanted)
            if not outcome.up:
                down += sorted(before & wanted)
                status = "ERROR" if outcome.problem else "DOWN"
                bound = before & wanted
            else:
                bound, status = self._bind_subports(info.trunk_id, wanted, before & wanted)
                up += sorted(bound)
            tracked[info.port_id] = replace(tracked[info.port_id], subports=bound)
            self.rpc("update_trunk_status", info.trunk_id, status)
            LOG.debug("trunk %s of port %s: %s, subports bound %s", info.trunk_id,
                      info.port_id, status, sorted(bound))
        return up, down

    def _bind_subports(self, trunk_id: str, wanted: frozenset[str],
                       bound: frozenset[str]) -> tuple[frozenset[str], str]:
        new = sorted(wanted - bound)
        if new:
            answer = self.rpc("update_subport_bindings",
                              [{"trunk_id": trunk_id, "port_id": pid} for pid in new])
            done = {str(port["id"]) for port in (answer or {}).get(trunk_id) or ()}
            if not done:
                LOG.error("trunk %s: neutron bound none of its subports %s to this host",
                          trunk_id, new)
                return bound, "ERROR"
            bound |= done & wanted
        if bound != wanted:
            LOG.warning("trunk %s: subports %s are not bound; it is DEGRADED", trunk_id,
                        sorted(wanted - bound))
            return bound, "DEGRADED"
        return bound, "ACTIVE"

    # -- reporting -------------------------------------------------------------------
    def _finish(self, tracked: Mapping[str, Tracked], outcomes: Sequence[Outcome],
                also_up: Sequence[str] = (), also_down: Sequence[str] = ()) -> int:
        for outcome in outcomes:
            if outcome.problem:
                self._say_problem(outcome.port_id, outcome.problem)
            if outcome.port_id in tracked:
                self.tracker.record(outcome.port_id,
                                    replace(tracked[outcome.port_id], up=bool(outcome.up)))
        self.report([o.port_id for o in outcomes if o.up and o.port_id in tracked]
                    + list(also_up),
                    [o.port_id for o in outcomes if o.up is False and o.port_id in tracked]
                    + list(also_down))
        self._raise_failures(outcomes)
        return sum(o.writes for o in outcomes)

    def report(self, up: Sequence[str], down: Sequence[str]) -> None:
        """Tell neutron which devices are up and down; failed ones are
        retried at the next iteration.

        :raises RpcFailed: when neutron cannot be told.
        """
        if not up and not down:
            return
        answer = self.rpc("update_device_list", list(up), list(down)) or {}
        failed = list(answer.get("failed_devices_up") or ()) + list(
            answer.get("failed_devices_down") or ())
        if failed:
            LOG.warning("neutron could not update devices %s; retrying", sorted(failed))
            self.tracker.mark_updated(failed)

    @staticmethod
    def _raise_failures(outcomes: Sequence[Outcome]) -> None:
        failed = [(o.port_id, o.failure) for o in outcomes if o.failure is not None]
        if failed:
            raise HostCallsFailed(failed)

    # -- logs, once per port and text ---------------------------------------------------
    def _say(self, binding: Binding) -> None:
        if binding.problem:
            self._say_problem(binding.port_id, binding.problem)
        for note in binding.notes:
            # A security group's rule reads the same for every port in the
            # group: say it once for them all.
            scope = GROUP_SCOPE if note.startswith(GROUP_NOTE) else binding.port_id
            if self._first_time(scope, note):
                LOG.info("port %s: %s", binding.port_id, note)

    def _say_problem(self, port_id: str, problem: str) -> None:
        if self._first_time(port_id, problem):
            LOG.error("%s; reporting it down", problem)

    def _first_time(self, scope: str, text: str) -> bool:
        said = self._said.setdefault(scope, set())
        if text in said:
            return False
        said.add(text)
        return True

    def forget(self, port_ids: Iterable[str]) -> None:
        """Forget what was logged and learnt of ports that are gone."""
        for pid in port_ids:
            self._said.pop(pid, None)
            self._infos.pop(pid, None)
            self._rules.pop(pid, None)
