"""End to end: the Hyper-V agent killed, restarted and stopped.

Through neutron's REST API, the real ``neutron-hyperv-agent`` and the
served emulated host (:mod:`.scenarios`), with an agent this module starts
and stops itself (same host name, same emulated host):

- killed with SIGKILL and started again over three ACTIVE ports with a
  security group, the agent resyncs from a bulk read and writes nothing:
  the emulated host counts 0 write calls, every port's state (VLAN, ACL
  set, guards) and the host's number of ACL objects are exactly as before
  (no duplicates), the ports are ACTIVE again and their ACLs still hold;
- a port deleted in neutron while the agent is down (its delete
  notification lost) is disconnected on the host once the agent is back,
  and only that port;
- on SIGTERM the agent exits by itself (status 0) within the fixture's
  stop timeout, without being killed; the time it takes is printed.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from winstackers.cim.transports.emulated import EmulatedSession
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.hyperv.portstate import PortState, Vlan
from winstackers.neutron import fixtures as nf
from winstackers.neutron.fixtures import NeutronClient, NeutronServer, wait_for

from .conftest import EmulatorEndpoint, agent_sections, emulated_host_config
from .scenarios import (
    ACTIVE_TIMEOUT,
    FROM_INSIDE,
    FROM_OUTSIDE,
    INSIDE,
    RESYNC,
    Scenario,
    log_size,
    plug,
    scenario_unavailable,
    tcp_in,
    until,
    vlan_network,
    wait_active,
)

#: Seconds the fixture gives the agent after SIGTERM before it kills it
#: (``winstackers.neutron.fixtures.hyperv_agent``'s default).
STOP_TIMEOUT = 10.0
ACL_CLASS = "Msvm_EthernetSwitchPortExtendedAclSettingData"
RESYNC_LINE = re.compile(r"resync: (\d+) vNICs, (\d+) ports up, (\d+) host writes")
STATS_WRITES = re.compile(r"stats: .*\bhost_writes=(\d+)")


class RestartableAgent:
    """``neutron-hyperv-agent`` for one host name and one emulated host,
    started, killed and stopped at will."""

    def __init__(self, neutron: NeutronServer, endpoint: EmulatorEndpoint,
                 host: EmulatedHost) -> None:
        self.neutron, self.endpoint, self.host = neutron, endpoint, host
        self.session = EmulatedSession(host)
        self.host_name = f"hv-restart-{secrets.token_hex(4)}"
        self.current: Scenario | None = None
        #: Where the running process's lines start in the log; its resync line.
        self.offset, self.resync_line = 0, ""
        self._stack: ExitStack | None = None

    def start(self) -> Scenario:
        """Start the agent; returns once it has resynced (its log says so:
        neutron may still list the previous process alive)."""
        assert self.current is None, "the agent runs already"
        log = self.neutron.files.directory / f"hyperv-agent-{self.host_name}" / \
            f"{nf.agents.HYPERV_AGENT}.log"
        offset = log.stat().st_size if log.exists() else 0
        stack = ExitStack()
        agent = stack.enter_context(nf.hyperv_agent(
            self.neutron, self.host_name, agent_sections(self.endpoint),
            stop_timeout=STOP_TIMEOUT))
        self._stack, self.current = stack, Scenario.of(agent, self.host, self.session)
        self.offset = offset
        self.resync_line = self.wait_line(RESYNC, "the agent to log its first resync")
        return self.current

    def wait_line(self, containing: str, what: str) -> str:
        """The running process's first log line (since its start) with
        *containing*, once it is there.

        :raises ServiceFailed: naming the log if the process exits meanwhile.
        """
        assert self.current is not None
        process = self.current.process.process

        def probe() -> str | None:
            process.check(f"waiting for it to log {containing!r}")
            found = self.own_lines(containing, self.offset)
            return found[0] if found else None

        return wait_for(probe, what, ACTIVE_TIMEOUT)

    def own_lines(self, containing: str, offset: int = 0) -> list[str]:
        """Lines of the running process's log (after *offset*) with *containing*."""
        assert self.current is not None
        pid = f" {self.current.process.process.pid} "
        return [line for line in self.current.log_lines(containing, offset) if pid in line]

    def running(self) -> Scenario:
        """The running agent's scenario (started if it is not running)."""
        return self.current or self.start()

    def kill(self) -> None:
        """SIGKILL the agent's process group, as a crash would end it."""
        assert self.current is not None and self._stack is not None
        process = self.current.process.process
        os.killpg(process.pid, signal.SIGKILL)
        process.popen.wait()
        self._stack.close()  # nothing left to stop
        self.current = self._stack = None

    def stop(self) -> tuple[float, int]:
        """Stop the agent as the fixture does (SIGTERM, SIGKILL after
        :data:`STOP_TIMEOUT` s); the seconds it took and its exit status
        (negative: killed by that signal)."""
        assert self.current is not None and self._stack is not None
        popen = self.current.process.process.popen
        started = time.monotonic()
        self._stack.close()
        seconds = time.monotonic() - started
        self.current = self._stack = None
        return seconds, popen.returncode

    def close(self) -> None:
        """Stop the agent if it runs; close the session."""
        if self.current is not None:
            self.stop()
        self.session.close()


@pytest.fixture(scope="module")
def agent(neutron: NeutronServer,
          emulator_endpoint: EmulatorEndpoint) -> Iterator[RestartableAgent]:
    """The module's restartable agent, on a fresh served emulated host."""
    reason = scenario_unavailable(emulator_endpoint)
    if reason:
        pytest.skip(reason)
    assert emulator_endpoint.install is not None
    host = EmulatedHost(emulated_host_config())
    emulator_endpoint.install(host)
    restartable = RestartableAgent(neutron, emulator_endpoint, host)
    yield restartable
    restartable.close()


def acl_objects(scenario: Scenario) -> int:
    """How many extended ACL settings the host's ports hold, all together
    (the class's ``...\\Default`` template is not a port's)."""
    found = scenario.session.query(f"SELECT InstanceID FROM {ACL_CLASS}")
    return sum(1 for acl in found if not str(acl["InstanceID"]).endswith("\\Default"))


def ssh_group(make_group: Any) -> dict[str, Any]:
    group: dict[str, Any] = make_group({"direction": "ingress", "protocol": "tcp",
                                        "port_range_min": 22, "port_range_max": 22,
                                        "remote_ip_prefix": INSIDE})
    return group


def test_restart_after_sigkill_writes_nothing_and_keeps_every_port(
        client: NeutronClient, agent: RestartableAgent, make_network: Any,
        make_group: Any) -> None:
    scenario = agent.running()
    network, _ = vlan_network(client, make_network)
    group = ssh_group(make_group)
    ports = [plug(client, scenario, network, security_groups=[group["id"]]) for _ in range(3)]
    before: dict[str, PortState] = {port["id"]: scenario.read(port["id"]) for port in ports}
    every_port_before = scenario.switch_ports.read_all()
    objects_before = acl_objects(scenario)
    assert all(state.acls and state.vlan.mode == "access" for state in before.values())
    assert objects_before == sum(len(state.acls) for state in every_port_before.values())

    agent.kill()
    agent.host.counters.reset()
    started = time.monotonic()
    scenario = agent.start()
    vnics, up, writes = map(int, RESYNC_LINE.findall(agent.resync_line)[0])
    for port in ports:
        wait_active(client, port["id"])
    print(f"restarted agent resynced {vnics} vNICs, {up} ports up, in "
          f"{time.monotonic() - started:.1f} s")

    assert (vnics, up, writes) == (3, 3, 0), agent.resync_line
    stats = agent.wait_line("stats: ", "the restarted agent to log its stats")
    logged = STATS_WRITES.search(stats)
    assert logged is not None and logged[1] == "0", stats
    assert agent.host.counters.writes == 0, agent.host.counters.by_operation()
    assert {pid: scenario.read(pid) for pid in before} == before
    assert scenario.switch_ports.read_all() == every_port_before
    assert acl_objects(scenario) == objects_before, "no duplicate ACL objects"
    for port in ports:
        assert scenario.allowed(port["id"], tcp_in(port, 22, FROM_INSIDE, 43000))
        assert not scenario.allowed(port["id"], tcp_in(port, 22, FROM_OUTSIDE, 43001))
    assert agent.host.counters.writes == 0, agent.host.counters.by_operation()


def test_port_deleted_while_the_agent_is_down_is_disconnected_after_restart(
        client: NeutronClient, agent: RestartableAgent, make_network: Any,
        make_group: Any) -> None:
    scenario = agent.running()
    network, _ = vlan_network(client, make_network)
    group = ssh_group(make_group)
    kept, doomed = (plug(client, scenario, network, security_groups=[group["id"]])
                    for _ in range(2))
    kept_state = scenario.read(kept["id"])
    assert scenario.read(doomed["id"]).switch is not None

    agent.kill()
    client.delete("ports", doomed["id"])  # its port_delete notification reaches no one
    scenario = agent.start()

    until(lambda: scenario.read(doomed["id"]).switch is None,
          "the port deleted while the agent was down to be disconnected", ACTIVE_TIMEOUT)
    gone = scenario.read(doomed["id"])
    assert (gone.acls, gone.vlan) == (frozenset(), Vlan())
    assert agent.own_lines(f"port {doomed['id']} is not known to neutron any more")
    wait_active(client, kept["id"])
    assert scenario.read(kept["id"]) == kept_state
    assert scenario.vnics.get(doomed["id"]).name == doomed["id"]  # only its connection goes


def test_sigterm_ends_the_agent_by_itself_within_the_stop_timeout(
        agent: RestartableAgent) -> None:
    scenario = agent.running()
    pid = scenario.process.process.pid
    offset = log_size(scenario.process)

    seconds, status = agent.stop()

    print(f"neutron-hyperv-agent exited {seconds:.1f} s after SIGTERM "
          f"(the fixture kills it after {STOP_TIMEOUT:.0f} s)")
    assert status == 0, f"exit status {status}: killed after {seconds:.1f} s, not exited"
    stopped = [line for line in scenario.log_lines("Hyper-V agent stopped", offset)
               if f" {pid} " in line]
    assert stopped, "the agent logs its exit"
