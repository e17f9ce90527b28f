"""Fault tolerance: the real ``neutron-hyperv-agent`` under faults, against
the run's real neutron-server, MariaDB and RabbitMQ.

Each test runs its own agent on its own emulated host (served over
WS-Management, as in :mod:`.scenarios`) and proves that whatever went
wrong, the agent ends where a fault-free agent would:

1. a host failing 5 % of its jobs and 1 % of its calls while ports are
   created and deleted;
2. the agent killed with SIGKILL three times during a convergence;
3. RabbitMQ restarted (in CI, emulated on the server's vhost only:
   :func:`rabbitmq_outage`), then neutron's RPC server restarted;
4. the host unreachable for a while.

"Where a fault-free agent would" is checked on the host, for every port:
neutron lists it ACTIVE; its switch port equals the one of a reference
port of the same network and security group that a fault-free agent
wired, except for the port's own addresses (:func:`normalized`); no
feature setting is there twice (:func:`duplicates`, read from the raw
host objects, since a :class:`PortState` holds a set of ACLs); deleted
ports are disconnected; no connected switch port belongs to a port
neutron does not have.

Faults are injected into the agent's host calls only: a
:class:`AgentFaults` plan leaves the calls of the test's own thread alone
(what nova does, plugging vNICs, and the test's reads of the host), so
the test sees the host as it is.

Sizes: CI by default (about two minutes for the module on two busy
cores, the server's start included); with
``--soak`` or ``WINSTACKERS_SOAK=1`` the issue's sizes (200 ports created
and 50 deleted, a 60 s host outage) and a real RabbitMQ restart
(``rabbitmqctl stop_app`` / ``start_app``: it cuts every vhost of the
node, so run soak on a machine of its own).  Figures (convergence time,
resyncs, restarts, log lines) are printed: ``pytest -s`` shows them.

What they found, fixed in the agent (unit tests in
``tests/neutron_agent/test_agent_faults.py``): notifications cast while a
restarted broker had lost the agent's queues were lost for good (the agent
now resyncs after each reconnection); the first RPC timeout raised
``NoSuchOptError`` (``rpc_response_max_timeout`` was not registered); a
failed iteration's log line repeated its error (logged inside the
exception handler, which oslo.log summarises again).
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from winstackers.cim.api import Session
from winstackers.cim.transports.emulated import EmulatedSession
from winstackers.emulator.hyperv.faults import READ_METHODS, READ_OPERATIONS, FaultPlan
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.wsman.fixtures import DEFAULT_USER, make_tls_files, session_url
from winstackers.emulator.wsman.server import WsmanServer, serve
from winstackers.hyperv import portfeatures as pf
from winstackers.hyperv.hostcalls import NIC, is_template
from winstackers.hyperv.portstate import PortState
from winstackers.neutron import fixtures as nf
from winstackers.neutron.fixtures import AgentProcess, NeutronClient, NeutronServer, wait_for
from winstackers.neutron.fixtures.agents import find_agent, start_again
from winstackers.neutron.fixtures.process import stop
from winstackers.neutron.fixtures.rabbitmq import rabbitmqctl

from .conftest import EmulatorEndpoint, agent_sections, emulated_host_config
from .scenarios import (
    FROM_INSIDE,
    INSIDE,
    RESYNC,
    Scenario,
    add_rule,
    bound_port,
    log_size,
    plug,
    plug_vnic,
    running_scenario,
    scenario_unavailable,
    tcp_in,
    until,
    vlan_network,
    wait_active,
)

#: Seeds the faults: a run fails the same calls given the same calls.
SEED = 20240611
#: The test agents' ``report_interval`` and ``polling_interval``
#: (:func:`.conftest.agent_sections`).
REPORT_INTERVAL = 5.0
POLLING_INTERVAL = 1.0
#: What the agent logs for a failed iteration (:meth:`HyperVAgent._failed`).
WILL_RESYNC = "will resync"
#: A port without connection nor settings (what a deleted port must be).
DISCONNECTED = PortState(switch=None)
#: The agent logs these for a failed host call of one port.
PER_PORT_COMPLAINTS = ("applying port", "could not be programmed", "reporting it down")


@dataclass(frozen=True)
class Size:
    """How much each test does."""

    #: ports created and deleted under faults (besides the reference port)
    created: int
    deleted: int
    #: ports created for the SIGKILL test, and changed while it is dead
    killed_ports: int
    #: seconds the host is unreachable
    unreachable: float
    #: seconds RabbitMQ is stopped in soak mode (0: CI's emulation on the vhost)
    rabbit_outage: float
    #: seconds to wait for a convergence
    converge_timeout: float
    rules: int = 20
    kills: int = 3


CI_SIZE = Size(created=60, deleted=15, killed_ports=30, unreachable=15, rabbit_outage=0,
               converge_timeout=120)
SOAK_SIZE = Size(created=200, deleted=50, killed_ports=200, unreachable=60, rabbit_outage=20,
                 converge_timeout=600)


def soak_mode(config: pytest.Config) -> bool:
    """Whether the run asked for the soak sizes."""
    return bool(config.getoption("--soak", False)) or os.environ.get(
        "WINSTACKERS_SOAK", "") not in ("", "0")


@pytest.fixture(scope="module")
def soak(request: pytest.FixtureRequest) -> bool:
    """Whether this is a soak run (``--soak`` or ``WINSTACKERS_SOAK=1``)."""
    return soak_mode(request.config)


@pytest.fixture(scope="module")
def size(soak: bool) -> Size:
    """The sizes of this run."""
    return SOAK_SIZE if soak else CI_SIZE


def report(what: str, **figures: Any) -> None:
    """Print the figures of a test (shown with ``pytest -s``)."""
    values = " ".join(f"{key}={value:.1f}" if isinstance(value, float) else f"{key}={value}"
                      for key, value in figures.items())
    print(f"\n[faults] {what}: {values}")


# -- faults for the agent's calls only -------------------------------------------------
class AgentFaults(FaultPlan):
    """A :class:`FaultPlan` for every call but those of the thread that made
    it (the test's: plugging vNICs as nova would, reading the host), which
    also counts what it injected and the agent's write calls."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.exempt = threading.get_ident()
        self.injected: Counter[str] = Counter()
        self.writes = 0
        self._lock = threading.Lock()

    def _agent(self) -> bool:
        return threading.get_ident() != self.exempt

    def before_call(self, host: str, operation: str) -> None:
        if not self._agent():
            return
        if operation not in READ_OPERATIONS and operation not in READ_METHODS:
            with self._lock:
                self.writes += 1
        try:
            super().before_call(host, operation)
        except Exception:
            with self._lock:
                self.injected["transport_errors"] += 1
            raise

    def job_fails(self) -> bool:
        fails = self._agent() and super().job_fails()
        if fails:
            with self._lock:
                self.injected["job_failures"] += 1
        return fails


# -- agents ------------------------------------------------------------------------------
@contextmanager
def agent_on(neutron: NeutronServer, endpoint: EmulatorEndpoint,
             host: EmulatedHost) -> Iterator[Scenario]:
    """An agent of its own on *host*, served at the session's endpoint."""
    reason = scenario_unavailable(endpoint)
    if reason:
        pytest.skip(reason)
    with running_scenario(neutron, endpoint, host,
                          f"hv-fault-{secrets.token_hex(4)}") as scenario:
        yield scenario


class RestartableEndpoint:
    """A host served over WS-Management (HTTPS) on a port of its own, that
    can stop answering (connections refused, as from a host that is down)
    and come back on the same port with the same certificate."""

    def __init__(self, host: EmulatedHost, folder: Path) -> None:
        self.host = host
        self.files = make_tls_files(folder)
        self.password = secrets.token_urlsafe(18)
        self.server: WsmanServer = self._serve(0)
        self.port = self.server.port
        self.url = session_url(self.server, DEFAULT_USER, self.files)

    def _serve(self, port: int) -> WsmanServer:
        return serve(self.host, ("127.0.0.1", port), username=DEFAULT_USER,
                     password=self.password, tls_cert=str(self.files.cert),
                     tls_key=str(self.files.key))

    @property
    def endpoint(self) -> EmulatorEndpoint:
        """What :func:`.conftest.agent_sections` takes."""
        return EmulatorEndpoint(self.url, self.password)

    def down(self) -> None:
        """Stop listening and cut the open connections."""
        self.server.stop()

    def up(self) -> None:
        """Listen again on the same port."""
        self.server = self._serve(self.port)

    def close(self) -> None:
        """Stop for good."""
        self.server.stop()


# -- neutron -----------------------------------------------------------------------------
def rule_bodies(count: int) -> list[dict[str, Any]]:
    """*count* distinct IPv4 rules: TCP ranges from prefixes, UDP ports from
    prefixes, ICMP echo, egress HTTPS to hosts, TCP from anywhere (no
    remote-group rule: every port of the group then has the same rules,
    whatever the other members' addresses)."""
    rules: list[dict[str, Any]] = []
    for i in range(count):
        net = f"{(i // 256) % 256}.{i % 256}"
        kind = i % 5
        if kind == 0:
            rule: dict[str, Any] = {"direction": "ingress", "protocol": "tcp",
                                    "port_range_min": 1000 + 10 * i,
                                    "port_range_max": 1009 + 10 * i,
                                    "remote_ip_prefix": f"10.{net}.0/24"}
        elif kind == 1:
            rule = {"direction": "ingress", "protocol": "udp", "port_range_min": 2000 + i,
                    "port_range_max": 2000 + i, "remote_ip_prefix": f"172.{16 + i % 16}.0.0/16"}
        elif kind == 2:
            rule = {"direction": "ingress", "protocol": "icmp", "port_range_min": 8,
                    "port_range_max": 0, "remote_ip_prefix": f"192.{net}.0/24"}
        elif kind == 3:
            rule = {"direction": "egress", "protocol": "tcp", "port_range_min": 443,
                    "port_range_max": 443, "remote_ip_prefix": f"100.{net}.7/32"}
        else:
            rule = {"direction": "ingress", "protocol": "tcp", "port_range_min": 3000 + i,
                    "port_range_max": 3000 + i}
        rules.append(rule)
    return rules


def create_ports(client: NeutronClient, scenario: Scenario, network: dict[str, Any],
                 group_id: str, count: int, prefix: str = "fault") -> list[dict[str, Any]]:
    """*count* ports of *network* in *group_id* bound to the agent's host,
    created in bulk (not plugged), two requests at a time (the test API
    has two processes)."""
    bodies = [{"network_id": network["id"], "name": f"{prefix}-{i:03d}",
               "security_groups": [group_id], "binding:host_id": scenario.host_name}
              for i in range(count)]
    chunks = [bodies[i:i + 25] for i in range(0, count, 25)]
    other = NeutronClient(client.url)
    try:
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(
                lambda job: job[0].request("POST", "ports", {"ports": job[1]})["ports"],
                [(other if n % 2 else client, chunk) for n, chunk in enumerate(chunks)]))
    finally:
        other.close()
    ports = [port for answer in answers for port in answer]
    unbound = [p["id"] for p in ports if p["binding:vif_type"] != "hyperv"]
    assert not unbound, f"ports not bound by the hyperv driver: {unbound}"
    return ports


def statuses(client: NeutronClient, network_id: str) -> dict[str, str]:
    """Status of every port of the network."""
    return {p["id"]: p["status"]
            for p in client.list("ports", network_id=network_id, fields=["id", "status"])}


def count_active(client: NeutronClient, network: dict[str, Any]) -> int:
    """How many ports of *network* neutron lists ACTIVE."""
    return sum(1 for status in statuses(client, network["id"]).values() if status == "ACTIVE")


def heartbeat(client: NeutronClient, agent: AgentProcess) -> datetime.datetime:
    """When neutron last recorded a heartbeat of *agent* (UTC, naive)."""
    row = agent.row(client)
    assert row is not None, f"neutron does not list the agent of {agent.host}"
    return datetime.datetime.fromisoformat(str(row["heartbeat_timestamp"]).split(".")[0])


def utc_now() -> datetime.datetime:
    """The time as neutron records heartbeats (UTC, naive, whole seconds)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)


def reports_again(client: NeutronClient, agent: AgentProcess, since: datetime.datetime,
                  timeout: float) -> float:
    """Seconds until neutron records a heartbeat of *agent* after *since*
    and lists it alive."""
    return until(lambda: heartbeat(client, agent) > since
                 and find_agent(client, agent.host, agent.agent_type, alive=True) is not None,
                 f"a heartbeat of the agent on {agent.host} after {since}", timeout)


# -- the host, as a fault-free agent would leave it ---------------------------------------
def own_addresses(port: dict[str, Any]) -> dict[str, str]:
    """The port's own addresses as ACLs write them: fixed IPs and the
    link-local address made from its MAC (EUI-64), each to a placeholder."""
    found = {}
    for entry in port["fixed_ips"]:
        address = ipaddress.ip_address(entry["ip_address"])
        found[f"{address}/{address.max_prefixlen}"] = f"SELF-IPv{address.version}"
    octets = [int(part, 16) for part in port["mac_address"].split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    link_local = ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + bytes(eui))
    found[f"{link_local}/128"] = "SELF-LINK-LOCAL"
    return found


def normalized(state: PortState, port: dict[str, Any]) -> tuple[PortState, frozenset[Any]]:
    """*state* with the port's own addresses replaced by placeholders: the
    same for every port of a network and security group."""
    own = own_addresses(port)
    acls = frozenset(
        tuple(sorted({**dataclasses.asdict(rule), "name": "",
                      "local_address": own.get(rule.local_address, rule.local_address),
                      "remote_address": own.get(rule.remote_address, rule.remote_address)
                      }.items()))
        for rule in state.acls)
    return dataclasses.replace(state, acls=frozenset()), acls


def duplicates(session: Session) -> dict[str, list[str]]:
    """Switch ports with a feature setting twice (the same ACL rule twice,
    two settings of a single-valued class) or two connections, from the
    raw host objects (a :class:`PortState` would hide them in its set)."""
    nics = {n["InstanceID"]: n["ElementName"]
            for n in session.query(f"SELECT InstanceID, ElementName FROM {NIC}")
            if n.get("ElementName") and not is_template(n)}
    connections = session.query("SELECT * FROM Msvm_EthernetPortAllocationSettingData")
    # Connections of VM adapters (not the vSwitches' own external and internal ports).
    owner = {c.path: nics[c["InstanceID"].rsplit("\\", 1)[0]] for c in connections
             if c["InstanceID"].rsplit("\\", 1)[0] in nics}
    found: dict[str, Counter[str]] = {}
    for name in owner.values():
        found.setdefault(name, Counter())["connection"] += 1
    features = {f.path: f for cls in pf.FEATURE_CLASSES
                for f in session.query(f"SELECT * FROM {cls}")}
    for link in session.query("SELECT * FROM Msvm_EthernetPortSettingDataComponent"):
        feature = features.get(link["PartComponent"])
        if feature is None or link["GroupComponent"] not in owner:
            continue
        key = (repr(pf.acl_rule(feature)) if feature.class_name == pf.ACL
               else feature.class_name)
        found.setdefault(owner[link["GroupComponent"]], Counter())[key] += 1
    return {name: sorted(key for key, n in counts.items() if n > 1)
            for name, counts in found.items() if any(n > 1 for n in counts.values())}


@dataclass
class Workload:
    """Ports of one network and group on one agent's host, and what the
    host must look like for them."""

    client: NeutronClient
    scenario: Scenario
    network: dict[str, Any]
    group: dict[str, Any]
    #: a port a fault-free agent wired: what every port's state must equal
    reference: dict[str, Any]
    reference_state: PortState
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    @classmethod
    def start(cls, client: NeutronClient, scenario: Scenario, network: dict[str, Any],
              group: dict[str, Any]) -> Workload:
        """Plug the reference port (the host must be fault-free meanwhile)."""
        reference = plug(client, scenario, network, security_groups=[group["id"]])
        work = cls(client, scenario, network, group, reference, scenario.read(reference["id"]))
        work.live[reference["id"]] = reference
        assert work.reference_state.acls, "the reference port has no ACLs"
        return work

    def add(self, count: int, prefix: str = "fault") -> list[dict[str, Any]]:
        """Create *count* ports bound to the host (vNICs not plugged yet)."""
        ports = create_ports(self.client, self.scenario, self.network, self.group["id"],
                             count, prefix)
        self.live.update((p["id"], p) for p in ports)
        return ports

    def delete(self, port_id: str) -> None:
        """Delete a port in neutron (its vNIC stays: only its connection must go)."""
        self.client.delete("ports", port_id)
        del self.live[port_id]
        self.deleted.add(port_id)

    def problems(self, *, status_too: bool = True) -> list[str]:
        """How the host and neutron differ from the converged state (empty
        when converged); only on the host without *status_too*."""
        found: list[str] = []
        status = statuses(self.client, self.network["id"]) if status_too else {}
        not_active = sorted(pid for pid in self.live if status.get(pid) != "ACTIVE")
        if not_active and status_too:
            # Reading the host is not free (the served host runs in this
            # process): not before neutron says every port is up.
            return [f"{len(not_active)} ports not ACTIVE, e.g. {not_active[0]} "
                    f"({status.get(not_active[0])})"]
        states = self.scenario.switch_ports.read_all()
        expected = normalized(self.reference_state, self.reference)
        wrong = sorted(pid for pid, port in self.live.items()
                       if pid not in states or normalized(states[pid], port) != expected)
        if wrong:
            found.append(f"{len(wrong)} ports differ from the reference port, e.g. "
                         f"{wrong[0]}: {self._difference(states.get(wrong[0]), wrong[0])}")
        connected = sorted(pid for pid in self.deleted
                           if pid in states and states[pid] != DISCONNECTED)
        if connected:
            found.append(f"{len(connected)} deleted ports still configured, e.g. "
                         f"{connected[0]}: {states[connected[0]]}")
        leaked = sorted(name for name, state in states.items()
                        if state.switch is not None and name not in self.live)
        if leaked:
            found.append(f"{len(leaked)} connected switch ports of no live neutron port: "
                         f"{leaked[:3]}")
        doubled = duplicates(self.scenario.session)
        if doubled:
            name = sorted(doubled)[0]
            found.append(f"{len(doubled)} ports have duplicated settings, e.g. {name}: "
                         f"{doubled[name]}")
        return found

    def _difference(self, state: PortState | None, port_id: str) -> str:
        if state is None:
            return "no switch port"
        have, acls = normalized(state, self.live[port_id])
        want, wanted_acls = normalized(self.reference_state, self.reference)
        if have != want:
            return f"{have} instead of {want}"
        return (f"{len(acls - wanted_acls)} ACLs too many, {len(wanted_acls - acls)} missing "
                f"(of {len(wanted_acls)})")

    def converge(self, timeout: float) -> float:
        """Seconds until :meth:`problems` is empty (fails naming them)."""
        started = time.monotonic()
        last: list[str] = []

        def done() -> bool:
            assert self.scenario.process.process.running(), "the agent process exited"
            last[:] = self.problems()
            return not last

        try:
            wait_for(lambda: done() or None, "convergence", timeout, interval=1.0)
        except TimeoutError as exc:
            raise AssertionError(f"not converged after {timeout:.0f} s: {last}") from exc
        return time.monotonic() - started

    def assert_stays_converged(self, faults: AgentFaults) -> None:
        """Two more polling intervals change nothing on the host: no write
        (no flapping), the same state.  (Not neutron's statuses: each
        resync, which a fault may cause, asks neutron for every port's
        details, and neutron sets a port it is asked about to BUILD until
        the agent reports it up again, as for every L2 agent.)"""
        writes = faults.writes
        time.sleep(2 * POLLING_INTERVAL)
        assert self.problems(status_too=False) == []
        assert faults.writes == writes, "the agent wrote to a converged host"


def agent_log(agent: AgentProcess, offset: int = 0) -> str:
    """The agent's log after byte *offset*."""
    with agent.process.log.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


# -- 1. a faulty host ------------------------------------------------------------------------
def test_faulty_host_converges_to_exactly_neutrons_state(
        neutron: NeutronServer, client: NeutronClient, emulator_endpoint: EmulatorEndpoint,
        make_network: Any, make_group: Any, size: Size) -> None:
    """5 % of the agent's jobs fail and 1 % of its calls get a transport
    error while ports are created, plugged and deleted: every port still
    ends ACTIVE with exactly the reference port's settings, deleted ports
    are disconnected, nothing is duplicated or leaked.  The faults stay on
    until the end: the agent must converge through them, not after them."""
    host = EmulatedHost(emulated_host_config())
    with agent_on(neutron, emulator_endpoint, host) as scenario:
        network, _ = vlan_network(client, make_network)
        group = make_group(*rule_bodies(size.rules))
        work = Workload.start(client, scenario, network, group)
        offset = log_size(scenario.process)
        faults = AgentFaults(job_failure_rate=0.05, transport_error_rate=0.01, seed=SEED)
        host.faults = faults

        ports = work.add(size.created)
        started = time.monotonic()
        victims = iter(ports[::4])
        for index, port in enumerate(ports, 1):
            plug_vnic(scenario, port)
            if index % 4 == 0 and len(work.deleted) < size.deleted:
                work.delete(next(victims)["id"])  # wired or not yet: either way
        churn = time.monotonic() - started
        took = work.converge(size.converge_timeout) + churn
        work.assert_stays_converged(faults)

        log = agent_log(scenario.process, offset)
        report("faulty host", ports=len(work.live), deleted=len(work.deleted),
               seconds_to_converge=took, seconds_creating_and_deleting=churn,
               resyncs=log.count(RESYNC), will_resync_lines=log.count(WILL_RESYNC),
               port_retries=log.count("retrying:"), agent_writes=faults.writes,
               **faults.injected)
        assert sum(faults.injected.values()) > 0, "no fault was injected"
        assert "Traceback" not in log


def wrote(faults: AgentFaults, writes: int) -> bool:
    """Whether the agent has made *writes* host writes in all."""
    return faults.writes >= writes


# -- 2. SIGKILL during convergence --------------------------------------------------------------
def test_agent_killed_during_convergence_converges_after_restart(
        neutron: NeutronServer, client: NeutronClient, emulator_endpoint: EmulatorEndpoint,
        make_network: Any, make_group: Any, size: Size) -> None:
    """The agent is killed (SIGKILL) three times while it wires ports, and
    ports are created and deleted while it is dead; after each kill an
    identical process is started (as an init system would).  The end is
    the same as without the kills: every port ACTIVE and exactly like the
    reference, deleted ones disconnected, nothing duplicated or leaked."""
    host = EmulatedHost(emulated_host_config())
    with agent_on(neutron, emulator_endpoint, host) as scenario:
        network, _ = vlan_network(client, make_network)
        group = make_group(*rule_bodies(size.rules))
        work = Workload.start(client, scenario, network, group)
        # Slow host calls so that a kill lands in the middle of the wiring.
        faults = AgentFaults(latency=0.02, seed=SEED)
        host.faults = faults
        first = scenario.process
        started_again: list[AgentProcess] = []
        kills: list[dict[str, float | int]] = []
        try:
            for port in work.add(size.killed_ports):
                plug_vnic(scenario, port)
            started = time.monotonic()
            for kill in range(size.kills):
                agent = scenario.process
                # Killed once it has written to the host (the second time,
                # once it has reported a third of the ports up too), before
                # all is wired.
                waited = until(partial(wrote, faults, faults.writes + 5),
                               "the agent to write to the host", 60)
                if kill == 1:
                    waited += until(lambda: count_active(client, network) >= len(work.live) / 3,
                                    "a third of the ports to be ACTIVE", 60)
                os.kill(agent.process.pid, signal.SIGKILL)
                # Dead, not reaped: its pid is not reused before stop() reaps it.
                os.waitid(os.P_PID, agent.process.pid, os.WEXITED | os.WNOWAIT)
                active = count_active(client, network)
                assert active < len(work.live), f"kill {kill + 1} came after convergence"
                # While it is dead: a port deleted, a new one plugged.
                work.delete(next(p for p in work.live if p != work.reference["id"]))
                plug_vnic(scenario, work.add(1, prefix=f"while-dead-{kill}")[0])
                restart = start_again(agent)
                started_again.append(restart)
                scenario.agent.agent = restart
                kills.append({"after_s": waited, "ports_active": active})
            took = work.converge(size.converge_timeout)
            total = time.monotonic() - started
            work.assert_stays_converged(faults)
        finally:
            scenario.agent.agent = first
            stop([restarted.process for restarted in started_again], timeout=10.0)
        log = agent_log(first)
        report("SIGKILL x3", ports=len(work.live), deleted=len(work.deleted),
               seconds_total=total, seconds_to_converge_after_last_restart=took,
               resyncs=log.count(RESYNC), agent_writes=faults.writes,
               kills="; ".join(f"{k['ports_active']} ACTIVE after {k['after_s']:.1f} s"
                               for k in kills))


# -- 3. RabbitMQ and neutron's RPC server restarted ------------------------------------------------
#: A policy that deletes every queue of the vhost without a consumer
#: (``expires``: unused for 1 ms), as a broker restart loses them.
LOSE_QUEUES = "winstackers-fault-lose-queues"


@contextmanager
def rabbitmq_outage(neutron: NeutronServer, agent: AgentProcess,
                    seconds: float) -> Iterator[None]:
    """RabbitMQ goes away while the body runs, and comes back.

    Soak (*seconds* > 0): the node's application is stopped (``stop_app``)
    for *seconds* and always started again: every client and every
    non-durable queue of the node is lost meanwhile.

    CI (*seconds* 0), on the server's vhost only, what such a restart does
    in its worst order: the agent is paused (SIGSTOP), the broker closes
    every connection of the vhost (``close_all_connections``), the queues
    left without consumers (the agent's) are lost (a policy expiring them),
    neutron-server reconnects first; the body runs then, and the agent
    resumes (SIGCONT) and reconnects last, as a client whose retry
    interval had grown would.
    """
    if seconds:
        rabbitmqctl("stop_app")
        try:
            yield
            time.sleep(seconds)
        finally:
            rabbitmqctl("start_app", timeout=120)
            rabbitmqctl("await_startup", timeout=120)
        return
    vhost = neutron.vhost.name
    os.kill(agent.process.pid, signal.SIGSTOP)
    try:
        rabbitmqctl("close_all_connections", "-p", vhost, "winstackers fault test")
        rabbitmqctl("set_policy", "-p", vhost, "--apply-to", "queues", LOSE_QUEUES, ".*",
                    '{"expires": 1}')
        try:
            until(lambda: not agent_queues(vhost), "the agent's queues to be lost", 30)
        finally:
            rabbitmqctl("clear_policy", "-p", vhost, LOSE_QUEUES)
        yield
    finally:
        os.kill(agent.process.pid, signal.SIGCONT)


def agent_queues(vhost: str) -> list[str]:
    """The vhost's queues of agent notifications (``q-agent-notifier-*``,
    ``neutron-vo-*``) without a consumer."""
    queues = [line.split("\t") for line in rabbitmqctl(
        "list_queues", "-p", vhost, "name", "consumers").splitlines()]
    return [fields[0] for fields in queues if len(fields) == 2 and fields[1].strip() == "0"
            and fields[0].startswith(("q-agent-notifier", "neutron-vo-"))]


def in_thread(work: Callable[[], Any]) -> Callable[[float], Any]:
    """Run *work* in a thread (API calls may block while RabbitMQ is away);
    returns a function that joins it and gives its result or raises its error."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised by join
            result["error"] = exc

    thread = threading.Thread(target=run, name="during-outage", daemon=True)
    thread.start()

    def join(timeout: float) -> Any:
        thread.join(timeout)
        assert not thread.is_alive(), f"the work during the outage took over {timeout} s"
        if "error" in result:
            raise result["error"]
        return result["value"]
    return join


def test_rabbitmq_and_rpc_server_restarts_lose_no_update(
        neutron: NeutronServer, client: NeutronClient, emulator_endpoint: EmulatorEndpoint,
        make_network: Any, make_group: Any, size: Size) -> None:
    """RabbitMQ restarts (emulated on the server's vhost in CI, see
    :func:`rabbitmq_outage`; a real restart in soak mode), then neutron's
    RPC server is restarted.  After each, the agent's heartbeat reaches
    neutron again within two report intervals, and what happened during
    the outage is not lost: a security group rule added then reaches the
    host (its notification was lost with the broker's queues: the agent
    resyncs once reconnected); a port created then becomes ACTIVE once
    plugged (RabbitMQ) or was plugged then and becomes ACTIVE once the
    RPC server answers (RPC server)."""
    host = EmulatedHost(emulated_host_config())
    with agent_on(neutron, emulator_endpoint, host) as scenario:
        network, _ = vlan_network(client, make_network)
        group = make_group()
        first = plug(client, scenario, network, security_groups=[group["id"]])
        agent = scenario.process

        def changes(local_port: int, plugged: bool) -> Callable[[], dict[str, Any]]:
            def make() -> dict[str, Any]:
                add_rule(client, group["id"], direction="ingress", protocol="tcp",
                         port_range_min=local_port, port_range_max=local_port,
                         remote_ip_prefix=INSIDE)
                port = bound_port(client, scenario, network, security_groups=[group["id"]])
                if plugged:
                    plug_vnic(scenario, port)
                return port
            return make

        def applied(local_port: int) -> bool:
            return scenario.allowed(first["id"], tcp_in(first, local_port, FROM_INSIDE,
                                                        40000 + local_port))

        # RabbitMQ: only neutron changes meanwhile (nova needs RabbitMQ too).
        assert not applied(2222)
        with rabbitmq_outage(neutron, agent, size.rabbit_outage):
            joined = in_thread(changes(2222, plugged=False))
            if not size.rabbit_outage:
                joined(60)  # made while the agent's queues are gone
        back = utc_now()
        back_at = time.monotonic()
        heartbeat_after = reports_again(client, agent, back, 2 * REPORT_INTERVAL)
        until(lambda: applied(2222), "the rule added during the RabbitMQ outage to reach "
              "the host", 30)
        rule_after = time.monotonic() - back_at
        during_rabbit = joined(120)
        plug_vnic(scenario, during_rabbit)
        wait_active(client, during_rabbit["id"], 30)
        port_after = time.monotonic() - back_at

        # neutron's RPC server: the port is plugged meanwhile, the agent asks
        # about it, its call waits in the queue for the new server.
        assert not applied(3333)
        joined_rpc: list[Callable[[float], Any]] = []

        def while_stopped() -> None:
            joined_rpc.append(in_thread(changes(3333, plugged=True)))
            time.sleep(2 * POLLING_INTERVAL)  # the agent sees the vNIC, asks and waits

        rpc_start = neutron.restart_rpc(while_stopped=while_stopped)
        back = utc_now()
        back_at = time.monotonic()
        rpc_heartbeat_after = reports_again(client, agent, back, 2 * REPORT_INTERVAL)
        during_rpc = joined_rpc[0](60)
        wait_active(client, during_rpc["id"], 30)
        rpc_port_after = time.monotonic() - back_at
        until(lambda: applied(3333), "the rule added while the RPC server was down to "
              "reach the host", 30)
        assert agent.process.running()
        log = agent_log(agent)
        report("RabbitMQ and RPC server restarts",
               rabbit="stop_app" if size.rabbit_outage else "vhost emulation",
               heartbeat_after_rabbit_s=heartbeat_after, rule_on_host_after_rabbit_s=rule_after,
               port_active_after_rabbit_s=port_after, rpc_server_start_s=rpc_start,
               heartbeat_after_rpc_s=rpc_heartbeat_after,
               port_active_after_rpc_s=rpc_port_after, resyncs=log.count(RESYNC),
               reconnect_resyncs=log.count("reconnected to RabbitMQ"))
        assert "NoSuchOptError" not in log


# -- 4. the host unreachable ---------------------------------------------------------------------
def test_unreachable_host_is_said_once_per_interval_and_converges_after(
        neutron: NeutronServer, client: NeutronClient, make_network: Any,
        tmp_path: Path, size: Size) -> None:
    """The host stops answering (connections refused) for a while: the
    agent keeps running and listed alive, says so once per polling interval
    (no trace, no line per port), and once the host is back a port plugged
    and a port deleted during the outage are dealt with."""
    missing = nf.agents.hyperv_agent_missing()
    if missing:
        pytest.skip(f"agent not built yet: {missing}")
    host = EmulatedHost(emulated_host_config())
    served = RestartableEndpoint(host, tmp_path)
    session = EmulatedSession(host)
    try:
        with nf.hyperv_agent(neutron, f"hv-fault-{secrets.token_hex(4)}",
                             agent_sections(served.endpoint)) as agent:
            scenario = Scenario.of(agent, host, session)
            network, _ = vlan_network(client, make_network)
            gone = plug(client, scenario, network)
            offset = log_size(agent)

            served.down()
            down_at = time.monotonic()
            client.delete("ports", gone["id"])
            port = bound_port(client, scenario, network)
            plug_vnic(scenario, port)  # nova reaches the host; the agent does not
            while time.monotonic() - down_at < size.unreachable:
                assert agent.process.running(), "the agent exited while the host was down"
                time.sleep(0.5)
            outage = time.monotonic() - down_at
            assert find_agent(client, agent.host, agent.agent_type, alive=True)
            during = agent_log(agent, offset)
            served.up()
            back_at = time.monotonic()

            wait_active(client, port["id"], 60)
            until(lambda: scenario.read(gone["id"]) == DISCONNECTED,
                  "the port deleted during the outage to be disconnected", 30)
            converged = time.monotonic() - back_at
            assert agent.process.running()
    finally:
        session.close()
        served.close()

    said = [line for line in during.splitlines() if WILL_RESYNC in line]
    report("host unreachable", outage_s=outage, will_resync_lines=len(said),
           intervals=int(outage / POLLING_INTERVAL), converged_after_s=converged,
           log_lines=len(during.splitlines()))
    assert said, "the agent never said the host was unreachable"
    assert all(line.count("transport error talking to") == 1 for line in said), said[0]
    assert len(said) <= outage / POLLING_INTERVAL + 2, said[:3]
    assert "Traceback" not in during
    for complaint in PER_PORT_COMPLAINTS:
        assert complaint not in during, complaint
    assert port["id"] not in "\n".join(said)
