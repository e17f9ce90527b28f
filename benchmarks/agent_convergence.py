"""End to end: how fast ``neutron-hyperv-agent`` brings N new ports ACTIVE,
and what it costs in host calls, RPC calls, memory and CPU.

Starts a real neutron-server 29 (fresh MariaDB database and RabbitMQ
vhost, mechanism driver ``hyperv``), an emulated Hyper-V host served over
WS-Management (HTTPS) with ``--latency-ms`` of emulated latency per CIM call
the agent makes, and the real ``neutron-hyperv-agent`` process.  Then, as
nova would: a vlan network and subnet, one security group of ``--rules``
rules (TCP/UDP port ranges, ICMP, prefixes, one remote-group rule; besides
the group's two default egress rules), N ports bound to the agent's host
(created in bulk through the REST API), and for each a VM with a vNIC named
after the port and carrying its MAC, made directly on the emulated host.

Fixed IPs: by default the benchmark gives the ports consecutive addresses
(``--fixed-ips sequential``), so the remote-group rule, which the agent
expands to one ACL per merged prefix of the group's members, stays a few
prefixes.  ``--fixed-ips neutron`` lets neutron's IPAM choose (at random
among its first 1,000 free addresses): then each port carries about three
ACLs per member, and past roughly 100 ports one port's ACLs no longer fit in
one WS-Management request (``MaxEnvelopeSizekb``, 500 KiB; the served
emulator answers 413 as Windows does) and the ports never become ACTIVE.

The benchmark's own host calls (the VMs and vNICs it makes) are neither
counted nor slowed: the host's counters and latency skip calls made from
the benchmark's thread, so every counted call is one the agent made over
WS-Management.  The VMs exist before the ports; the vNICs are added after
all ports exist, in one burst (``seconds_adding_vnics``).

Prints progress to stderr and one JSON object as the last line of stdout:

- ``seconds_to_active``: from when the LAST vNIC exists until neutron lists
  all N ports ACTIVE (``GET /v2.0/ports?network_id=..&status=DOWN&status=
  BUILD..``, the ports not yet ACTIVE, polled every 0.5 s, 1 s for 1,000
  ports); ``seconds_to_active_from_first_vnic`` counts from the first vNIC;
- ``ports_active``: ports neutron listed ACTIVE at the end;
- ``cim_writes_per_port`` / ``cim_calls_per_port``: the agent's host writes
  (every method that may change state: ``AddResourceSettings`` connecting
  a port, ``Add/Modify/RemoveFeatureSettings``, ...) and all its host calls
  (reads included: vNIC polls, port reads) from the first vNIC until all
  ports were ACTIVE, per port; ``cim_writes_after_active``: writes in the
  ``SETTLE`` seconds after that (expected 0); ``cim_calls_by_operation``;
- ``rpc_calls_per_port``: the agent's RPC calls to neutron, heartbeats
  excluded (``agent_heartbeats`` has those), per port, from the agent's
  last ``stats:`` log line (logged at exit, after SIGTERM); it covers the
  agent's whole life, which is the convergence since there were no vNICs
  before; ``agent_host_writes``: the writes the agent counted itself;
- ``agent_peak_rss_mib`` (VmHWM) and ``agent_cpu_seconds`` (user + system,
  whole life), read from /proc just before SIGTERM; CPU seconds during the
  convergence (first vNIC to all ACTIVE) of the agent
  (``agent_cpu_seconds_converging``), of neutron's API and RPC server
  (``neutron_api_cpu_seconds``, which includes the benchmark's polling of
  the port list, and ``neutron_rpc_cpu_seconds``: their process groups),
  and of this process (``harness_cpu_seconds``: the emulated host, its
  WS-Management server, the benchmark);
- restart (skipped with ``--no-restart``): SIGTERM the agent, start it
  again; ``restart_seconds_to_up`` from the new process's start until its
  log's ``stats:`` line says ``ports_up=N`` (the agent's view; neutron
  meanwhile shows each port BUILD, from the agent's device-details call,
  then ACTIVE again), ``restart_cim_writes`` (target 0) and
  ``restart_cim_calls`` until then plus ``SETTLE`` seconds,
  ``restart_rpc_calls`` (heartbeats excluded, from its exit stats line),
  ``restart_ports_active`` (ACTIVE in neutron at the end);
- member churn (skipped with ``--no-churn``; runs with the restarted agent,
  or a new one with ``--no-restart``): one more port joins the security
  group, whose remote-group rule every port has, so every port must admit
  the new member.  ``churn_seconds_to_current`` from the port's creation
  until the host admits a packet from the new member on every port (checked
  by the emulator's evaluation of each port's ACLs),
  ``churn_ports_changed`` (ports whose ACLs changed), ``churn_cim_writes``
  and ``churn_max_writes_per_changed_port`` (writes over changed ports,
  rounded up: target at most 2), ``churn_rpc_calls`` (the agent's RPC calls
  meanwhile, from its stats lines; no device-details call, no status flip).

    python benchmarks/agent_convergence.py --ports 200 --latency-ms 20 --rules 20

Everything is torn down at the end; on a failure the message says what
failed and the logs (neutron's, the agent's) stay in the work directory it
names (``--workdir`` chooses it; ``--keep`` keeps it after a success too).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from winstackers.cim.transports.emulated import EmulatedSession
from winstackers.emulator.hyperv.config import HostConfig, SwitchSpec
from winstackers.emulator.hyperv.faults import CallCounters, FaultPlan
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.hyperv.packets import INBOUND, Packet
from winstackers.emulator.wsman.fixtures import served_host
from winstackers.hyperv.ports import SwitchPorts
from winstackers.hyperv.vms import VMs
from winstackers.hyperv.vmstate import VMSpec
from winstackers.hyperv.vnics import VNics
from winstackers.neutron import fixtures as nf
from winstackers.neutron.fixtures import AgentProcess, NeutronClient, NeutronServer
from winstackers.neutron.fixtures.process import Process

#: The physical network of the server's VLAN ranges, and the vSwitches
#: (as the functional tests' conftest has them).
PHYSNET = "physnet1"
VSWITCH = "vSwitch-physnet1"
LOCAL_VSWITCH = "vSwitch-private"
#: The agent's polling interval (seconds).
POLLING_INTERVAL = 1
#: Seconds to wait after convergence for late host writes.
SETTLE = 2.0
#: Seconds between two port listings while waiting for ACTIVE (at least).
POLL = 0.5
#: Port statuses other than ACTIVE (neutron lists any of several values given).
NOT_ACTIVE = ["DOWN", "BUILD", "ERROR", "N/A"]
#: Ports per bulk ``POST /v2.0/ports``.
BULK = 50
#: No quota on ports and security group rules (neutron's defaults: 500 and 100).
UNLIMITED = {"quotas": {"quota_port": "-1", "quota_security_group_rule": "-1"}}
#: The subnet, and the offset of the first sequential fixed IP in it.
CIDR = "10.128.0.0/16"
FIRST_HOST = 10
STATS = re.compile(r"stats: ((?:\w+=\d+\s*)+)")
COMPLAINT = re.compile(r"^\S+ \S+ \d+ (WARNING|ERROR) (?!amqp|pypsrp).*$", re.MULTILINE)
STARTED = time.monotonic()


def say(message: str) -> None:
    """A progress line on stderr."""
    print(f"[{time.monotonic() - STARTED:7.1f} s] {message}", file=sys.stderr, flush=True)


# -- the host: latency and counters for the agent's calls only ---------------------------
_HARNESS = threading.local()


def _harness_call() -> bool:
    return bool(getattr(_HARNESS, "active", False))


@contextmanager
def harness() -> Iterator[None]:
    """Host calls made meanwhile by this thread are neither counted nor slowed."""
    _HARNESS.active = True
    try:
        yield
    finally:
        _HARNESS.active = False


class AgentCounters(CallCounters):
    """The host's call counters, skipping the benchmark's own calls."""

    def record(self, operation: str, method: str | None = None) -> None:
        if not _harness_call():
            super().record(operation, method)


class AgentLatency(FaultPlan):
    """The host's latency, for every call but the benchmark's own."""

    def before_call(self, host: str, operation: str) -> None:
        if not _harness_call():
            super().before_call(host, operation)


def writes_of(counts: dict[str, int]) -> int:
    """Write calls in a ``by_operation`` dict."""
    return sum(n for op, n in counts.items() if not CallCounters.is_read(op))


def since(counters: CallCounters, before: dict[str, int]) -> dict[str, int]:
    """Calls by operation since the snapshot *before*."""
    now = counters.by_operation()
    return {op: n - before.get(op, 0) for op, n in sorted(now.items()) if n - before.get(op, 0)}


# -- processes -------------------------------------------------------------------------
def _stat_fields(pid: int | str) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text.rpartition(")")[2].split()  # fields from the 3rd (state) on


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process *pid* (all its threads)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of the live processes of group *pgid*."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(entry.name)
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """VmHWM of process *pid*, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


def stats_lines(log: Path, offset: int = 0) -> list[dict[str, int]]:
    """The agent's ``stats:`` lines in *log* after byte *offset*, in order."""
    text = log.read_bytes()[offset:].decode(errors="replace")
    return [{key: int(value) for key, value in
             (pair.split("=") for pair in match.group(1).split())}
            for match in STATS.finditer(text)]


def last_complaint(log: Path, limit: int = 600) -> str:
    """The agent's last WARNING or ERROR line (but amqp's and pypsrp's), as
    ``last complaint: ...; `` (empty when there is none)."""
    lines = [m.group(0) for m in COMPLAINT.finditer(log.read_text(errors="replace"))]
    return f"last agent complaint: {lines[-1][:limit]}; " if lines else ""


# -- neutron ---------------------------------------------------------------------------
def sg_rule_bodies(group_id: str, count: int) -> list[dict[str, Any]]:
    """*count* distinct IPv4 rules: one remote-group rule, then TCP ranges from
    prefixes, UDP ports, ICMP echo, egress TCP to hosts, TCP from anywhere."""
    rules: list[dict[str, Any]] = []
    for i in range(count):
        net = f"{(i // 256) % 256}.{i % 256}"
        if i == 0:
            rule: dict[str, Any] = {"direction": "ingress", "remote_group_id": group_id}
        elif i % 5 == 1:
            rule = {"direction": "ingress", "protocol": "tcp", "port_range_min": 1000 + 10 * i,
                    "port_range_max": 1009 + 10 * i, "remote_ip_prefix": f"10.{net}.0/24"}
        elif i % 5 == 2:
            rule = {"direction": "ingress", "protocol": "udp", "port_range_min": 2000 + i,
                    "port_range_max": 2000 + i, "remote_ip_prefix": f"172.{16 + i % 16}.0.0/16"}
        elif i % 5 == 3:
            rule = {"direction": "ingress", "protocol": "icmp", "port_range_min": 8,
                    "port_range_max": 0, "remote_ip_prefix": f"192.{net}.0/24"}
        elif i % 5 == 4:
            rule = {"direction": "egress", "protocol": "tcp", "port_range_min": 443,
                    "port_range_max": 443, "remote_ip_prefix": f"100.{net}.7/32"}
        else:
            rule = {"direction": "ingress", "protocol": "tcp", "port_range_min": 3000 + i,
                    "port_range_max": 3000 + i}
        rules.append({"security_group_id": group_id, "ethertype": "IPv4", **rule})
    return rules


def make_network(client: NeutronClient, rules: int) -> tuple[str, str, str]:
    """A vlan network with a /16 subnet (no DHCP) and a security group of
    *rules* rules; (network id, subnet id, group id)."""
    network = client.create("networks", name="bench-net", **{
        "provider:network_type": "vlan", "provider:physical_network": PHYSNET})
    subnet = client.create("subnets", network_id=network["id"], ip_version=4, cidr=CIDR,
                           enable_dhcp=False)
    group = client.request("POST", "security-groups",
                           {"security_group": {"name": "bench-sg"}})["security_group"]
    for body in sg_rule_bodies(group["id"], rules):
        client.request("POST", "security-group-rules", {"security_group_rule": body})
    return network["id"], subnet["id"], group["id"]


def sequential_ip(index: int) -> str:
    """The fixed IP of port *index* with ``--fixed-ips sequential``."""
    return str(ipaddress.ip_network(CIDR)[FIRST_HOST + index])


def make_ports(client: NeutronClient, network_id: str, subnet_id: str, group_id: str,
               host: str, count: int, sequential: bool) -> list[dict[str, Any]]:
    """*count* ports bound to *host*, created in bulk; with *sequential*,
    with consecutive fixed IPs (else neutron's IPAM picks them)."""
    ports: list[dict[str, Any]] = []
    while len(ports) < count:
        indexes = range(len(ports), len(ports) + min(BULK, count - len(ports)))
        bodies = [{"network_id": network_id, "name": f"bench-port-{i:04d}",
                   "security_groups": [group_id], "binding:host_id": host,
                   **({"fixed_ips": [{"subnet_id": subnet_id, "ip_address": sequential_ip(i)}]}
                      if sequential else {})}
                  for i in indexes]
        ports += client.request("POST", "ports", {"ports": bodies})["ports"]
    unbound = [p["id"] for p in ports if p["binding:vif_type"] != "hyperv"]
    if unbound:
        raise RuntimeError(f"{len(unbound)} ports were not bound by the hyperv driver "
                           f"(binding:vif_type), e.g. {unbound[0]}")
    return ports


def count_active(client: NeutronClient, network_id: str, total: int) -> int:
    """Ports of the network (*total* of them) neutron lists ACTIVE.  Only the
    others are listed: the polling costs neutron less as ports converge."""
    others = client.list("ports", network_id=network_id, status=NOT_ACTIVE, fields=["id"])
    return total - len(others)


def wait_until(probe: Callable[[], bool], what: str, timeout: float, interval: float,
               watch: list[Process], progress: Callable[[], str]) -> float:
    """Poll *probe* until true while *watch* run; the monotonic time it held.

    :raises TimeoutError: naming *what* and the progress made.
    """
    deadline = time.monotonic() + timeout
    last_said = time.monotonic()
    while True:
        for process in watch:
            process.check(f"waiting for {what}")
        if probe():
            return time.monotonic()
        now = time.monotonic()
        if now > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}: {progress()}")
        if now - last_said >= 10:
            say(f"  ... {progress()}")
            last_said = now
        time.sleep(interval)


# -- the run ---------------------------------------------------------------------------
@dataclass
class Bench:
    """What the phases share."""

    args: argparse.Namespace
    server: NeutronServer
    host: EmulatedHost
    counters: AgentCounters
    host_name: str
    sections: dict[str, dict[str, str]]
    result: dict[str, Any]
    network_id: str = ""
    subnet_id: str = ""
    group_id: str = ""
    #: port id -> fixed IP, of the N ports
    ports: dict[str, str] = field(default_factory=dict)

    @property
    def client(self) -> NeutronClient:
        return self.server.client

    def agent(self) -> Any:
        """The agent process's context manager."""
        return nf.hyperv_agent(self.server, self.host_name, self.sections)

    def log(self) -> Path:
        return self.server.files.directory / f"hyperv-agent-{self.host_name}" / \
            "neutron-hyperv-agent.log"

    def ports_up(self, offset: int) -> int:
        lines = stats_lines(self.log(), offset)
        return lines[-1]["ports_up"] if lines else 0


def agent_sections(url: str, password: str, workers: int) -> dict[str, dict[str, str]]:
    """The agent's options (as the functional tests' ``agent_sections``)."""
    return {"DEFAULT": {"debug": "false"},
            "AGENT": {"physical_network_vswitch_mappings": f"{PHYSNET}:{VSWITCH}",
                      "local_network_vswitch": LOCAL_VSWITCH, "worker_count": str(workers),
                      "polling_interval": str(POLLING_INTERVAL), "report_interval": "5"},
            "hyperv_host": {"url": url, "password": password}}


def converge(bench: Bench) -> None:
    """The first phase: N new ports until ACTIVE."""
    args, client, result = bench.args, bench.client, bench.result
    n: int = args.ports
    session = EmulatedSession(bench.host)
    vms, vnics = VMs(session), VNics(session)
    say(f"defining {n} VMs on the emulated host")
    with harness():
        for i in range(n):
            vms.ensure(VMSpec(name=f"bench-vm-{i:04d}", memory_mb=256))
    started = time.monotonic()
    with bench.agent() as agent:
        result["agent_start_seconds"] = round(time.monotonic() - started, 2)
        say(f"agent {agent.host} is alive (pid {agent.process.pid}); log {agent.process.log}")
        network_id, subnet_id, group_id = make_network(client, args.rules)
        bench.network_id, bench.subnet_id, bench.group_id = network_id, subnet_id, group_id
        started = time.monotonic()
        ports = make_ports(client, network_id, subnet_id, group_id, agent.host, n,
                           args.fixed_ips == "sequential")
        result["seconds_creating_ports"] = round(time.monotonic() - started, 2)
        bench.ports = {p["id"]: p["fixed_ips"][0]["ip_address"] for p in ports}
        say(f"{n} ports bound to {agent.host} in {result['seconds_creating_ports']} s; "
            "adding their vNICs")
        watch = [agent.process, bench.server.api, bench.server.rpc]
        cpu = (cpu_seconds(agent.process.pid), time.process_time(),
               group_cpu_seconds(bench.server.api.pid), group_cpu_seconds(bench.server.rpc.pid))
        before = bench.counters.by_operation()
        first = time.monotonic()
        with harness():
            for i, port in enumerate(ports):
                vnics.add(f"bench-vm-{i:04d}", port["id"], mac=port["mac_address"])
        last = time.monotonic()
        result["seconds_adding_vnics"] = round(last - first, 2)
        say(f"{n} vNICs added in {result['seconds_adding_vnics']} s; waiting for ACTIVE")
        active = [0]

        def all_active() -> bool:
            active[0] = count_active(client, network_id, n)
            return active[0] == n

        done = wait_until(all_active, f"{n} ports to become ACTIVE", args.timeout,
                          max(POLL, n / 1000), watch,
                          lambda: f"{active[0]}/{n} ACTIVE; {last_complaint(agent.process.log)}"
                                  f"agent log {agent.process.log}")
        calls = since(bench.counters, before)
        result.update(
            ports_active=active[0], seconds_to_active=round(done - last, 2),
            seconds_to_active_from_first_vnic=round(done - first, 2),
            cim_writes_per_port=round(writes_of(calls) / n, 3),
            cim_calls_per_port=round(sum(calls.values()) / n, 3),
            cim_calls_by_operation=calls,
            neutron_api_cpu_seconds=round(group_cpu_seconds(bench.server.api.pid) - cpu[2], 2),
            neutron_rpc_cpu_seconds=round(group_cpu_seconds(bench.server.rpc.pid) - cpu[3], 2),
            harness_cpu_seconds=round(time.process_time() - cpu[1], 2),
            agent_cpu_seconds_converging=round(cpu_seconds(agent.process.pid) - cpu[0], 2))
        say(f"all {n} ports ACTIVE {result['seconds_to_active']} s after the last vNIC; "
            f"{result['cim_writes_per_port']} host writes per port")
        wait_until(lambda: bench.ports_up(0) >= n, f"the agent to log ports_up={n}",
                   60, 0.2, watch, lambda: f"ports_up={bench.ports_up(0)}")
        settled = bench.counters.by_operation()
        time.sleep(SETTLE)
        result["cim_writes_after_active"] = writes_of(since(bench.counters, settled))
        result["agent_peak_rss_mib"] = peak_rss_mib(agent.process.pid)
        result["agent_cpu_seconds"] = round(cpu_seconds(agent.process.pid), 2)
        say("stopping the agent (SIGTERM)")
        stopping = time.monotonic()
    result["agent_stop_seconds"] = round(time.monotonic() - stopping, 2)
    exit_stats(bench, agent, 0, "")
    session.close()


def exit_stats(bench: Bench, agent: AgentProcess, offset: int, prefix: str) -> None:
    """Put the agent's last ``stats:`` line (after *offset*) into the result."""
    lines = stats_lines(agent.process.log, offset)
    if not lines:
        raise RuntimeError(f"the agent logged no 'stats:' line; see {agent.process.log}")
    last, n = lines[-1], bench.args.ports
    code = agent.process.popen.returncode
    rpc = last["rpc_calls"] - last["heartbeats"]
    if prefix:
        bench.result.update({f"{prefix}rpc_calls": rpc, f"{prefix}agent_exit_code": code})
    else:
        bench.result.update(rpc_calls_per_port=round(rpc / n, 3),
                            agent_heartbeats=last["heartbeats"],
                            agent_host_writes=last["host_writes"],
                            agent_iterations=last["iterations"], agent_exit_code=code)


def restart(bench: Bench) -> None:
    """The second phase: the agent restarted over N ports already right."""
    n, result = bench.args.ports, bench.result
    offset = bench.log().stat().st_size
    before = bench.counters.by_operation()
    say("starting the agent again")
    started = time.monotonic()
    with bench.agent() as agent:
        watch = [agent.process, bench.server.api, bench.server.rpc]
        up = wait_until(lambda: bench.ports_up(offset) >= n,
                        f"the restarted agent to log ports_up={n}", bench.args.timeout, 0.1,
                        watch, lambda: f"ports_up={bench.ports_up(offset)}")
        result["restart_seconds_to_up"] = round(up - started, 2)
        time.sleep(SETTLE)
        calls = since(bench.counters, before)
        result["restart_cim_writes"] = writes_of(calls)
        result["restart_cim_calls"] = sum(calls.values())
        result["restart_cim_calls_by_operation"] = calls
        result["restart_ports_active"] = count_active(bench.client, bench.network_id, n)
        say(f"restarted agent up in {result['restart_seconds_to_up']} s, "
            f"{result['restart_cim_writes']} host writes")
        if not bench.args.no_churn:
            churn(bench, agent, offset)
        say("stopping the agent")
    exit_stats(bench, agent, offset, "restart_")


def churn_alone(bench: Bench) -> None:
    """The churn phase with a new agent (when the restart phase is skipped)."""
    offset = bench.log().stat().st_size
    with bench.agent() as agent:
        wait_until(lambda: bench.ports_up(offset) >= bench.args.ports,
                   "the agent to be up again", bench.args.timeout, 0.1,
                   [agent.process], lambda: f"ports_up={bench.ports_up(offset)}")
        churn(bench, agent, offset)


def churn(bench: Bench, agent: AgentProcess, offset: int) -> None:
    """One new member of the group every port's remote-group rule names."""
    n, result = bench.args.ports, bench.result
    session = EmulatedSession(bench.host)
    with harness():
        before_states = SwitchPorts(session).read_all()
    before = bench.counters.by_operation()
    rpc_before = stats_lines(agent.process.log, offset)[-1]
    member_ip = sequential_ip(n)
    started = time.monotonic()
    port = bench.client.create("ports", network_id=bench.network_id, name="bench-member",
                               security_groups=[bench.group_id],
                               fixed_ips=[{"subnet_id": bench.subnet_id,
                                           "ip_address": member_ip}])
    say(f"port {port['id']} ({member_ip}) joined the group; waiting for every port to admit it")

    def admitted(pid: str, ip: str) -> bool:
        packet = Packet(INBOUND, "tcp", ip, member_ip, 5555, 40000)
        return bench.host.evaluate_packet(pid, packet).allowed

    pending = dict(bench.ports)

    def all_current() -> bool:
        with harness():
            for pid, ip in list(pending.items()):
                if admitted(pid, ip):
                    del pending[pid]
        return not pending

    watch = [agent.process, bench.server.api, bench.server.rpc]
    done = wait_until(all_current, "every port to admit the new member", bench.args.timeout,
                      0.2, watch, lambda: f"{len(pending)} ports not current")
    time.sleep(SETTLE)
    calls = since(bench.counters, before)
    with harness():
        after_states = SwitchPorts(session).read_all()
    changed = sum(1 for pid in bench.ports if before_states.get(pid) != after_states.get(pid))
    writes = writes_of(calls)
    rpc_after = stats_lines(agent.process.log, offset)[-1]
    result.update(
        churn_seconds_to_current=round(done - started, 2), churn_ports_changed=changed,
        churn_cim_writes=writes,
        churn_max_writes_per_changed_port=-(-writes // changed) if changed else 0,
        churn_rpc_calls=(rpc_after["rpc_calls"] - rpc_after["heartbeats"])
        - (rpc_before["rpc_calls"] - rpc_before["heartbeats"]))
    say(f"all {n} ports admit the new member after {result['churn_seconds_to_current']} s: "
        f"{changed} ports changed, {writes} host writes")
    session.close()


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Start everything, run the phases, tear down; the figures."""
    problem = (nf.mariadb.unreachable_reason() or nf.rabbitmq.unreachable_reason()
               or nf.agents.hyperv_agent_missing())
    if problem:
        raise RuntimeError(problem)
    result: dict[str, Any] = {
        "benchmark": "agent_convergence", "ports": args.ports, "latency_ms": args.latency_ms,
        "rules": args.rules, "fixed_ips": args.fixed_ips, "workers": args.workers,
        "polling_interval": POLLING_INTERVAL, "cores": os.cpu_count()}
    with ExitStack() as stack:
        say(f"starting neutron-server (work directory {workdir})")
        server = stack.enter_context(nf.neutron_server(
            nf.NeutronOptions(mechanism_drivers=("hyperv",), neutron_conf=UNLIMITED),
            workdir=workdir / "neutron",
            name=f"winstackers_bench_{secrets.token_hex(4)}"))
        say(f"neutron-server is up: API {server.url}")
        counters = AgentCounters()
        host = EmulatedHost(HostConfig(switches=(*HostConfig().switches,
                                                 SwitchSpec(LOCAL_VSWITCH))),
                            faults=AgentLatency(latency=args.latency_ms / 1000))
        host.counters = counters
        served = stack.enter_context(served_host(host))
        bench = Bench(args, server, host, counters, f"hv-bench-{secrets.token_hex(4)}",
                      agent_sections(served.url, served.password, args.workers), result)
        converge(bench)
        if not args.no_restart:
            restart(bench)
        elif not args.no_churn:
            churn_alone(bench)
        say("tearing down")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ports", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="emulated latency of each CIM call the agent makes")
    parser.add_argument("--rules", type=int, default=20, help="rules of the security group")
    parser.add_argument("--workers", type=int, default=16, help="the agent's worker_count")
    parser.add_argument("--fixed-ips", choices=("sequential", "neutron"), default="sequential",
                        help="consecutive fixed IPs (the default), or neutron's IPAM choice "
                             "(random within its first 1,000 free addresses)")
    parser.add_argument("--no-restart", action="store_true", help="skip the restart phase")
    parser.add_argument("--no-churn", action="store_true",
                        help="skip the member churn phase")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds to wait for convergence (default 120 + 0.5 s per port)")
    parser.add_argument("--workdir", type=Path, help="where configuration and logs go")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if args.ports < 1 or args.rules < 0 or args.latency_ms < 0:
        parser.error("--ports must be positive, --rules and --latency-ms not negative")
    args.timeout = args.timeout or 120 + 0.5 * args.ports
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="winstackers-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        result = run(args, workdir)
    except (nf.FixtureError, TimeoutError, RuntimeError, OSError) as exc:
        print(f"agent_convergence failed: {exc}\nlogs (neutron's, the agent's) are kept "
              f"in {workdir}", file=sys.stderr)
        raise SystemExit(1) from None
    if not (args.keep or args.workdir):
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
