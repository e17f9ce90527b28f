"""Helpers of the end-to-end scenarios: neutron's REST API, the real
``neutron-hyperv-agent`` and the served emulated host it manages.

A :class:`Scenario` is one agent process and the in-process emulated host
behind the served emulator; the module-scoped ``scenario`` fixture
(``conftest.py``) gives each test module one.  :func:`plug` does what nova
would: creates a neutron port bound to the agent's host, then a VM with a
vNIC named after the port id (carrying its MAC), and waits for the port to
become ACTIVE.  What the agent programmed is then read on the host
(:meth:`Scenario.read`, :class:`SwitchPorts`) and judged by packets
(:meth:`Scenario.allowed`, the emulator's evaluation of the port's
extended ACLs, from the VM's point of view).

Everything asynchronous is polled with a timeout (:func:`until`,
:func:`wait_for`), never slept on.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from winstackers.cim.transports.emulated import EmulatedSession
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.hyperv.packets import INBOUND, Packet
from winstackers.hyperv.ports import SwitchPorts
from winstackers.hyperv.portstate import PortState
from winstackers.hyperv.vms import VMs
from winstackers.hyperv.vmstate import VMSpec
from winstackers.hyperv.vnics import VNics
from winstackers.neutron import fixtures as nf
from winstackers.neutron.constants import VIF_TYPE_HYPERV
from winstackers.neutron.fixtures import AgentProcess, NeutronClient, NeutronServer, wait_for

from .conftest import (
    MECH_DRIVER_BUILT,
    NOT_BUILT,
    PHYSNET,
    VLAN_RANGES,
    EmulatorEndpoint,
    HyperVAgentOnHost,
    agent_sections,
)

#: The VLAN ids of the test physnet (the server's network_vlan_ranges).
VLAN_RANGE = VLAN_RANGES[PHYSNET]
#: Seconds to wait for a port to become ACTIVE once its vNIC is on the host.
ACTIVE_TIMEOUT = 30.0
#: Seconds the host's ACLs may take to follow a change made through the API.
FOLLOW_TIMEOUT = 10.0

CIDR = "10.20.0.0/24"
INSIDE = "203.0.113.0/24"  # the prefix SSH is allowed from
FROM_INSIDE = "203.0.113.7"
FROM_OUTSIDE = "198.51.100.7"
SPOOFED_IP = "10.20.0.250"  # in the subnet, not the port's

#: The agent logs this after each resync (:meth:`HyperVAgent.resync`).
RESYNC = "resync: "


@dataclass
class Scenario:
    """An agent, its emulated host and a session on that host."""

    agent: HyperVAgentOnHost
    host: EmulatedHost
    session: EmulatedSession
    switch_ports: SwitchPorts
    vms: VMs
    vnics: VNics

    @classmethod
    def of(cls, agent: AgentProcess, host: EmulatedHost,
           session: EmulatedSession) -> Scenario:
        """The scenario of *agent* managing *host* (seen through *session*)."""
        return cls(HyperVAgentOnHost(agent, host), host, session, SwitchPorts(session),
                   VMs(session), VNics(session))

    @property
    def process(self) -> AgentProcess:
        """The agent process."""
        return self.agent.agent

    @property
    def host_name(self) -> str:
        """The neutron host name the agent reports as."""
        return self.agent.agent.host

    def read(self, port_id: str) -> PortState:
        """The host port's state now."""
        return self.switch_ports.read(port_id)

    def allowed(self, port_id: str, packet: Packet) -> bool:
        """Whether *packet* passes the host port of *port_id*."""
        return self.host.evaluate_packet(port_id, packet).allowed

    def log_lines(self, containing: str, offset: int = 0) -> list[str]:
        """Lines of the agent's log after byte *offset* that contain *containing*."""
        return log_lines(self.process, containing, offset)


def scenario_unavailable(endpoint: EmulatorEndpoint) -> str | None:
    """Why a scenario cannot run here (the reason to skip), or None."""
    if not MECH_DRIVER_BUILT:
        return NOT_BUILT
    missing = nf.agents.hyperv_agent_missing()
    if missing:
        return f"agent not built yet: {missing}"
    if endpoint.install is None:
        return ("the served emulator (winstackers.emulator.wsman) is not built: "
                "the agent's host is not visible to the tests")
    return None


@contextmanager
def running_scenario(neutron: NeutronServer, endpoint: EmulatorEndpoint,
                     host: EmulatedHost, host_name: str | None = None) -> Iterator[Scenario]:
    """Serve *host* at *endpoint* and run an agent on it until exit."""
    assert endpoint.install is not None
    endpoint.install(host)
    session = EmulatedSession(host)
    name = host_name or f"hv-scn-{secrets.token_hex(4)}"
    try:
        with nf.hyperv_agent(neutron, name, agent_sections(endpoint)) as agent:
            yield Scenario.of(agent, host, session)
    finally:
        session.close()


def log_lines(agent: AgentProcess, containing: str, offset: int = 0) -> list[str]:
    """Lines of *agent*'s log after byte *offset* that contain *containing*."""
    with agent.process.log.open("rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    return [line for line in text.splitlines() if containing in line]


def log_size(agent: AgentProcess) -> int:
    """The agent log's size in bytes now (an offset for :func:`log_lines`)."""
    return agent.process.log.stat().st_size


def add_rule(client: NeutronClient, group_id: str, **attrs: Any) -> dict[str, Any]:
    """Add a rule to a security group (IPv4 unless *attrs* say otherwise)."""
    body = {"security_group_id": group_id, "ethertype": "IPv4", **attrs}
    rule: dict[str, Any] = client.request(
        "POST", "security-group-rules", {"security_group_rule": body})["security_group_rule"]
    return rule


def vlan_network(client: NeutronClient, make_network: Any, *, physnet: str = PHYSNET,
                 cidr: str = CIDR) -> tuple[dict[str, Any], str]:
    """A vlan network on *physnet* with an IPv4 subnet (no DHCP: there is
    no DHCP agent to provision), and the subnet id."""
    network = make_network(**{"provider:network_type": "vlan",
                              "provider:physical_network": physnet})
    subnet = client.create("subnets", network_id=network["id"], ip_version=4, cidr=cidr,
                           enable_dhcp=False)
    return network, subnet["id"]


def bound_port(client: NeutronClient, scenario: Scenario, network: dict[str, Any],
               **attrs: Any) -> dict[str, Any]:
    """A neutron port on *network* bound to the agent's host (not plugged)."""
    return client.create("ports", network_id=network["id"],
                         **{"binding:host_id": scenario.host_name, **attrs})


def plug_vnic(scenario: Scenario, port: dict[str, Any]) -> None:
    """What nova does on the host: a VM with a vNIC named after the port,
    carrying its MAC."""
    vm_name = f"vm-{port['id'][:8]}"
    scenario.vms.ensure(VMSpec(name=vm_name, memory_mb=512))
    scenario.vnics.add(vm_name, port["id"], mac=port["mac_address"])


def plug(client: NeutronClient, scenario: Scenario, network: dict[str, Any],
         **attrs: Any) -> dict[str, Any]:
    """What nova does: a port bound to the agent's host, then a VM whose
    vNIC is named after the port and has its MAC; returns the port once
    neutron says it is ACTIVE."""
    port = bound_port(client, scenario, network, **attrs)
    assert port["binding:vif_type"] == VIF_TYPE_HYPERV, port
    plug_vnic(scenario, port)
    return wait_active(client, port["id"])


def wait_active(client: NeutronClient, port_id: str,
                timeout: float = ACTIVE_TIMEOUT) -> dict[str, Any]:
    """The port once neutron says it is ACTIVE."""
    return wait_for(lambda: active(client, port_id), f"port {port_id} to become ACTIVE",
                    timeout)


def active(client: NeutronClient, port_id: str) -> dict[str, Any] | None:
    """The port if it is ACTIVE, else None."""
    port = client.show("ports", port_id)
    return port if port["status"] == "ACTIVE" else None


def fixed_ip(port: dict[str, Any], version: int = 4) -> str:
    """The port's first fixed IP of IP *version*."""
    for entry in port["fixed_ips"]:
        address: str = entry["ip_address"]
        if ipaddress.ip_address(address).version == version:
            return address
    raise AssertionError(f"port {port['id']} has no IPv{version} fixed IP: {port['fixed_ips']}")


def tcp_in(port: dict[str, Any], local_port: int, remote_ip: str,
           remote_port: int = 40000) -> Packet:
    """A TCP packet to the port's VM, on *local_port*, from *remote_ip*."""
    return Packet(INBOUND, "tcp", fixed_ip(port), remote_ip, local_port, remote_port)


def until(probe: Callable[[], bool], what: str, timeout: float = FOLLOW_TIMEOUT) -> float:
    """Poll *probe* until it holds; the seconds it took."""
    started = time.monotonic()
    wait_for(lambda: probe() or None, what, timeout, interval=0.2)
    return time.monotonic() - started
