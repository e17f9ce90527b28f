"""An emulated Hyper-V host with VMs, the in-memory plugin, and agents on them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.contract.helpers import Host
from tests.neutron_agent.fakes import FakePlugin
from winstackers.cim import connect
from winstackers.cim.connect import forget_shared_hosts
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.hyperv.packets import Packet
from winstackers.hyperv.hostinfo import HostInfo
from winstackers.hyperv.ports import SwitchPorts
from winstackers.hyperv.portstate import PortState
from winstackers.hyperv.vms import VMs
from winstackers.hyperv.vmstate import VMSpec
from winstackers.hyperv.vnics import VNics
from winstackers.neutron.agent.agent import HyperVAgent
from winstackers.neutron.agent.config import AgentSettings
from winstackers.neutron.agent.rpc import AgentRpcCallbacks

MAPPINGS = {"physnet1": "vSwitch-physnet1", "sriov*": "vSwitch-sriov"}


def port_id() -> str:
    """A new neutron-like port id."""
    return str(uuid.uuid4())


class Lab:
    """One emulated host (shared by name, so each agent gets its own
    session), one VM, and the plugin the agents talk to."""

    def __init__(self) -> None:
        self.url = f"emulator://agent-test-{uuid.uuid4().hex[:8]}"
        self.session = connect(self.url)
        host = getattr(self.session, "emulated_host", None)
        assert isinstance(host, EmulatedHost)
        self.host = host
        self.plugin = FakePlugin()
        Host(self.session).define_switch("vSwitch-private")
        VMs(self.session).ensure(VMSpec("vm1"))
        self.vnics = VNics(self.session)
        self.agents: list[HyperVAgent] = []

    def agent(self, host_info: HostInfo | None = None, **changes: Any) -> HyperVAgent:
        """A new agent on the host (no heartbeat thread unless asked)."""
        base: dict[str, Any] = {
            "vswitch_mappings": MAPPINGS, "local_vswitch": "vSwitch-private",
            "polling_interval": 0.05, "report_interval": 0.0, "worker_count": 4,
            "url": self.url, "password": None, "host": "hv1"}
        agent = HyperVAgent(AgentSettings(**{**base, **changes}), connect(self.url),
                            self.plugin, host_info=host_info, batch_size=3)
        self.agents.append(agent)
        return agent

    def callbacks(self, agent: HyperVAgent) -> AgentRpcCallbacks:
        """The RPC endpoint neutron's notifications reach."""
        return AgentRpcCallbacks(agent.tracker, agent.settings.host)

    def plug(self, **port: Any) -> str:
        """A neutron port bound here and its vNIC on vm1; returns its id."""
        pid = port_id()
        self.plugin.add_port(pid, **port)
        self.vnics.add("vm1", pid, port.get("mac", "fa:16:3e:00:00:05"))
        return pid

    def state(self, pid: str) -> PortState:
        """The port's state on the host."""
        return SwitchPorts(self.session).read(pid)

    def allows(self, pid: str, direction: str, protocol: str, local_ip: str, remote_ip: str,
               local_port: int | None = None, remote_port: int | None = None) -> bool:
        """Whether the host lets this packet through the port."""
        packet = Packet(direction, protocol, local_ip, remote_ip, local_port, remote_port)
        return self.host.evaluate_packet(pid, packet).allowed

    def writes_during(self, action: Any) -> int:
        """Host writes made by *action()*."""
        before = self.host.counters.writes
        action()
        return self.host.counters.writes - before

    def close(self) -> None:
        for agent in self.agents:
            agent.stop()
            agent.close()
        self.session.close()


@pytest.fixture
def lab() -> Iterator[Lab]:
    made = Lab()
    yield made
    made.close()
    forget_shared_hosts()
