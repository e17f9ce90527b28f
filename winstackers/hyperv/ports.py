"""Switch ports as desired state, with as few host calls as Hyper-V allows.

A port is named by its network adapter's ElementName (Winstackers names
adapters after the neutron port id).  :meth:`SwitchPorts.apply` reads the
port's current settings (three reads), computes the difference from the
desired :class:`~winstackers.hyperv.portstate.PortState`, and writes it with
at most one call of each kind:

1. ``AddResourceSettings`` (connect) or ``ModifyResourceSettings`` (move
   to another vSwitch) for the connection, when needed;
2. ``ModifyFeatureSettings`` with every single setting that changed and
   every stale ACL rule rewritten in place into a new one;
3. ``AddFeatureSettings`` with the new settings left (one call carries many:
   https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/addfeaturesettings-msvm-virtualsystemmanagementservice);
4. ``RemoveFeatureSettings`` with the stale settings left.

So a new port is connected and configured in two writes, applying the same
state again makes none, and adding or removing one ACL rule makes one.
A call carries at most :data:`MAX_SETTINGS_PER_CALL` settings: WinRM
refuses a request larger than its ``MaxEnvelopeSizekb`` (500 KB by
default: https://learn.microsoft.com/en-us/windows/win32/winrm/installation-and-configuration-for-windows-remote-management),
and an ACL rule is about 1.3 KB on the wire, so a port with hundreds of
rules is written in several calls of each kind.
Rewriting in place first means a port never goes without both a rule and
the one replacing it (removing before adding left a moment where the port
allowed less than either rule set); a new rule takes over the stale rule
of its own direction and weight when there is one, so (direction, weight)
stays unique at every step.  Microsoft documents ModifyFeatureSettings for
feature settings in general; that it rewrites an extended ACL's every
property is what the emulator does, not yet verified on a host.
:meth:`apply` is idempotent, which makes retrying it safe: a
failed job or a transport error is retried a bounded number of times.

Reads: a port's connection is found by InstanceID prefix (a connection's
InstanceID extends its adapter's, the shape Hyper-V uses and the emulator
follows) and its features through the documented
``Msvm_EthernetPortSettingDataComponent`` association.
:meth:`SwitchPorts.read_all` reads every port of the host in a constant
number of queries (one per class), whatever the number of ports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from winstackers.cim import call
from winstackers.cim.api import Session
from winstackers.cim.errors import CimError, JobFailed, Timeout, TransportError
from winstackers.cim.values import Instance, Reference
from winstackers.hyperv import portfeatures as pf
from winstackers.hyperv.errors import OperationFailed, PortNotFound, SwitchNotFound
from winstackers.hyperv.hostcalls import NIC, HostCalls, adapters_named, is_template, wql_string
from winstackers.hyperv.portstate import AclRule, PortState

LOG = logging.getLogger(__name__)
CONNECTION = "Msvm_EthernetPortAllocationSettingData"
SWITCH = "Msvm_VirtualEthernetSwitch"
RETRYABLE = (JobFailed, TransportError, Timeout)


@dataclass
class PortView:
    """What the host has for one port: adapter, connection, features."""

    name: str
    nic: Instance
    connection: Instance | None
    features: list[Instance] = field(default_factory=list)


#: Settings sent in one Add/Modify/RemoveFeatureSettings call (about
#: 130 KB of ACL rules: a quarter of WinRM's default envelope limit).
MAX_SETTINGS_PER_CALL = 100


def batches(items: list[Any], size: int = MAX_SETTINGS_PER_CALL) -> list[list[Any]]:
    """*items* in calls of at most *size* (at least one each)."""
    step = max(1, size)
    return [items[start:start + step] for start in range(0, len(items), step)]


@dataclass
class Plan:
    """The writes that take a port from its current to its desired state."""

    remove: list[Reference] = field(default_factory=list)
    connect: Reference | None = None
    reconnect: bool = False
    modify: list[Instance] = field(default_factory=list)
    add: list[Instance] = field(default_factory=list)

    @property
    def writes(self) -> int:
        """How many host write calls the plan makes."""
        connection = 1 if self.connect is not None or self.reconnect else 0
        return connection + sum(len(batches(part)) for part in (self.remove, self.modify,
                                                                self.add))


class SwitchPorts:
    """Read and set the switch ports of one host."""

    def __init__(self, session: Session, *, retries: int = 3, job_timeout: float = 120.0) -> None:
        self.session = session
        self.retries = retries
        self.calls = HostCalls(session, job_timeout)
        self._switches: dict[str, Reference] = {}

    # -- reading ------------------------------------------------------------
    def view(self, port: str) -> PortView:
        """The host's objects for *port*.

        :raises PortNotFound: when no network adapter has that name.
        """
        nics = adapters_named(self.session, port)
        if not nics:
            raise PortNotFound(port=port, host=self.session.host)
        nic = nics[0]
        prefix = wql_string(nic["InstanceID"] + "\\%")
        found = self.session.query(f"SELECT * FROM {CONNECTION} WHERE InstanceID LIKE {prefix}")
        connection = found[0] if found else None
        features = [] if connection is None else self._features(connection)
        return PortView(port, nic, connection, features)

    def _features(self, connection: Instance) -> list[Instance]:
        assert connection.path is not None
        return self.session.associators(connection.path,
                                        assoc_class="Msvm_EthernetPortSettingDataComponent",
                                        role="GroupComponent")

    def read(self, port: str) -> PortState:
        """The current state of *port*.

        :raises PortNotFound: when no network adapter has that name.
        """
        view = self.view(port)
        return pf.state_from(self._switch_name(view.connection), view.features)

    def _switch_name(self, connection: Instance | None) -> str | None:
        if connection is None or not connection.get("HostResource"):
            return None
        path = Reference.parse(connection["HostResource"][0], self.session.namespace)
        for name, ref in self._switch_map().items():
            if ref == path:
                return name
        last_known: str | None = connection.get("LastKnownSwitchName")
        return last_known

    def read_all(self) -> dict[str, PortState]:
        """The state of every port of the host, in one query per class.

        Adapters without a name are skipped (Winstackers always names them).
        """
        nics = self.session.query(f"SELECT InstanceID, ElementName FROM {NIC}")
        connections = self.session.query(f"SELECT * FROM {CONNECTION}")
        links = self.session.query("SELECT * FROM Msvm_EthernetPortSettingDataComponent")
        features = {f.path: f for cls in pf.FEATURE_CLASSES
                    for f in self.session.query(f"SELECT * FROM {cls}")}
        by_connection: dict[Reference, list[Instance]] = {}
        for link in links:
            if link["PartComponent"] in features:
                by_connection.setdefault(link["GroupComponent"], []).append(
                    features[link["PartComponent"]])
        by_nic = {c["InstanceID"].rsplit("\\", 1)[0]: c for c in connections}
        states = {}
        for nic in nics:
            if not nic.get("ElementName") or is_template(nic):
                continue
            conn = by_nic.get(nic["InstanceID"])
            feats = by_connection.get(conn.path, []) if conn is not None and conn.path else []
            states[nic["ElementName"]] = pf.state_from(self._switch_name(conn), feats)
        return states

    def connected_here(self) -> frozenset[str]:
        """Names of the ports whose connection Winstackers made (two queries).

        :meth:`apply` names a connection after its adapter; a connection
        made otherwise (Hyper-V Manager, ``Connect-VMNetworkAdapter``)
        keeps the name of the default connection settings, "Dynamic
        Ethernet Switch Port" on the hosts we know: an inference, as
        Microsoft documents no such rule.
        """
        nics = {n["InstanceID"]: n.get("ElementName") for n in self.session.query(
            f"SELECT InstanceID, ElementName FROM {NIC}")}
        return frozenset(
            str(c.get("ElementName")) for c in self.session.query(
                f"SELECT InstanceID, ElementName FROM {CONNECTION}")
            if c.get("ElementName")
            and nics.get(str(c["InstanceID"]).rsplit("\\", 1)[0]) == c.get("ElementName"))

    # -- planning -----------------------------------------------------------
    def plan(self, view: PortView, desired: PortState) -> Plan:
        """The writes that take *view* to *desired* (no host writes)."""
        plan = Plan()
        self._plan_connection(plan, view, desired)
        current = {f.class_name: f for f in view.features if f.class_name in pf.SINGLES}
        for class_name, wanted in pf.wanted_singles(desired).items():
            feature = current.pop(class_name, None)
            if feature is None:
                plan.add.append(self._default(class_name).replace(**wanted))
            elif changes := pf.differs(feature, wanted):
                plan.modify.append(feature.replace(**changes))
        plan.remove += [f.path for f in current.values() if f.path is not None]
        self._plan_acls(plan, view, desired)
        return plan

    def _plan_connection(self, plan: Plan, view: PortView, desired: PortState) -> None:
        switch = None if desired.switch is None else self.switch(desired.switch).path
        if view.connection is None:
            plan.connect = self.switch(desired.switch) if desired.switch else None
            return
        hosted = list(view.connection.get("HostResource") or [])
        if [Reference.parse(p, self.session.namespace) for p in hosted] != (
                [Reference.parse(switch, self.session.namespace)] if switch else []):
            plan.reconnect = True

    def _plan_acls(self, plan: Plan, view: PortView, desired: PortState) -> None:
        """Stale rules are rewritten in place into new ones (one
        ModifyFeatureSettings, checked by Hyper-V against the port as it is
        after the whole call), so the port never lacks both the old and the
        new rule; only what is left over is added, or removed.  A stale rule
        becomes, first, the new rule of its own direction and weight, which
        keeps (direction, weight) unique at every step."""
        present = {pf.acl_rule(f): f for f in view.features if f.class_name == pf.ACL}
        stale = {rule: f for rule, f in present.items()
                 if rule not in desired.acls and f.path is not None}
        new = sorted(desired.acls - present.keys(), key=lambda r: (r.direction, r.weight))
        by_slot = {(rule.direction, rule.weight): rule for rule in stale}
        pairs: list[tuple[AclRule, AclRule]] = []
        unpaired: list[AclRule] = []
        for rule in new:
            old = by_slot.pop((rule.direction, rule.weight), None)
            if old is not None:
                pairs.append((old, rule))
            else:
                unpaired.append(rule)
        left = sorted(by_slot.values(), key=lambda r: (r.direction, r.weight))
        reused = min(len(left), len(unpaired))  # then only adds, or only removes, remain
        pairs += list(zip(left[:reused], unpaired[:reused], strict=True))
        plan.modify += [stale[old].replace(**pf.acl_props(rule)) for old, rule in pairs]
        template = self._default(pf.ACL)
        plan.add += [template.replace(**pf.acl_props(rule)) for rule in unpaired[reused:]]
        plan.remove += [path for old in left[reused:] if (path := stale[old].path) is not None]

    # -- writing ------------------------------------------------------------
    def apply(self, port: str, desired: PortState) -> int:
        """Make *port* look like *desired*; returns the host writes made.

        :raises PortNotFound: when no network adapter has that name.
        :raises SwitchNotFound: when the desired vSwitch does not exist.
        :raises OperationFailed: when the host refuses, or keeps failing
            after the retries; says which port and what was being done.
        """
        for attempt in range(1, self.retries + 1):
            try:
                return self._apply_once(port, desired)
            except RETRYABLE as exc:
                if attempt == self.retries:
                    raise OperationFailed(operation=f"applying port {port}",
                                          cause=f"{exc} (after {attempt} attempts)") from exc
                LOG.warning("applying port %s failed (attempt %d of %d), retrying: %s",
                            port, attempt, self.retries, exc)
        raise AssertionError("unreachable")

    def _apply_once(self, port: str, desired: PortState) -> int:
        view = self.view(port)
        plan = self.plan(view, desired)
        try:
            self._write(view, plan, desired)
        except (PortNotFound, SwitchNotFound, *RETRYABLE):
            raise
        except CimError as exc:
            raise OperationFailed(operation=f"applying port {port}", cause=str(exc)) from exc
        return plan.writes

    def _write(self, view: PortView, plan: Plan, desired: PortState) -> None:
        connection = view.connection
        if plan.connect is not None:
            connection = self._connect(view.nic, plan.connect, view.name)
        elif plan.reconnect and connection is not None:
            target = self.switch(desired.switch).path if desired.switch else None
            moved = connection.replace(HostResource=[target] if target else [])
            self._call("ModifyResourceSettings", ResourceSettings=[moved])
        for batch in batches(plan.modify):
            self._call("ModifyFeatureSettings", FeatureSettings=batch)
        if plan.add and (connection is None or connection.path is None):
            raise OperationFailed(operation=f"configuring port {view.name}",
                                  cause="the port is not connected to a vSwitch")
        for batch in batches(plan.add):
            assert connection is not None
            self._call("AddFeatureSettings", AffectedConfiguration=connection.path,
                       FeatureSettings=batch)
        for batch in batches(plan.remove):
            self._call("RemoveFeatureSettings", FeatureSettings=batch)

    def _connect(self, nic: Instance, switch: Reference, name: str) -> Instance:
        assert nic.path is not None
        vssd = self.session.query(
            "SELECT * FROM Msvm_VirtualSystemSettingData WHERE InstanceID = "
            + wql_string(nic["InstanceID"].rsplit("\\", 1)[0]))[0]
        connection = self._default(CONNECTION).replace(
            ElementName=name, Parent=nic.path.path, HostResource=[switch.path])
        out = self._call("AddResourceSettings", AffectedConfiguration=vssd.path,
                         ResourceSettings=[connection])
        ref = out["ResultingResourceSettings"][0]
        return Instance(CONNECTION, {"InstanceID": ref.key("InstanceID")}, ref)

    def remove(self, port: str) -> int:
        """Disconnect *port* and delete every feature setting it has (one
        write: removing the connection removes its features).  Returns the
        writes made: 0 when the port was not connected.

        :raises PortNotFound: when no network adapter has that name.
        """
        view = self.view(port)
        if view.connection is None or view.connection.path is None:
            return 0
        self._call("RemoveResourceSettings", ResourceSettings=[view.connection.path])
        return 1

    # -- host lookups, cached -----------------------------------------------
    def _call(self, method: str, **params: Any) -> Mapping[str, Any]:
        # Not HostCalls.invoke: apply() must tell retryable failures apart.
        return call(self.session, self.calls.service(), method, params,
                    timeout=self.calls.job_timeout)

    def _default(self, class_name: str) -> Instance:
        return self.calls.default(class_name)

    def _switch_map(self, refresh: bool = False) -> dict[str, Reference]:
        if refresh or not self._switches:
            self._switches = {s["ElementName"]: s.path
                              for s in self.session.query(f"SELECT * FROM {SWITCH}")
                              if s.path is not None}
        return self._switches

    def switch(self, name: str) -> Reference:
        """The vSwitch named *name* (cached; refreshed on a miss).

        :raises SwitchNotFound: naming it.
        """
        if name not in self._switch_map():
            self._switch_map(refresh=True)
        try:
            return self._switch_map()[name]
        except KeyError:
            raise SwitchNotFound(switch=name, host=self.session.host) from None
