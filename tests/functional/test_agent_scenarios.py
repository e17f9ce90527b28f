"""End to end: neutron's REST API, the real ``neutron-hyperv-agent`` and
the emulated host it manages.

Each test does what nova would: creates a neutron port with
``binding:host_id`` set to the agent's host, then a VM with a vNIC named
after the port id (and carrying its MAC) on the emulated host, and waits
for the port to become ACTIVE.  What the agent programmed is then checked
on the host: the switch port's state (:class:`SwitchPorts.read`) and
packets judged by the emulator's evaluator of the port's extended ACLs
(:meth:`EmulatedHost.evaluate_packet`, from the VM's point of view).

One agent, on one emulated host, serves the whole module (starting one
costs a few seconds); every test makes its own network, ports and VM.
Everything asynchronous is polled with a timeout, never slept on.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from winstackers.cim.transports.emulated import EmulatedSession
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.hyperv.packets import INBOUND, OUTBOUND, Packet
from winstackers.hyperv.ports import SwitchPorts
from winstackers.hyperv.portstate import PortState, Vlan
from winstackers.hyperv.vms import VMs
from winstackers.hyperv.vmstate import VMSpec
from winstackers.hyperv.vnics import VNics
from winstackers.neutron import fixtures as nf
from winstackers.neutron.constants import VIF_TYPE_HYPERV
from winstackers.neutron.fixtures import NeutronClient, NeutronServer, wait_for

from .conftest import (
    MECH_DRIVER_BUILT,
    NOT_BUILT,
    PHYSNET,
    VSWITCH,
    EmulatorEndpoint,
    HyperVAgentOnHost,
    agent_sections,
    emulated_host_config,
)

VLAN_RANGE = range(100, 201)  # physnet1:100:200, the server's network_vlan_ranges
#: Seconds to wait for a port to become ACTIVE once its vNIC is on the host.
ACTIVE_TIMEOUT = 30.0
#: Seconds the host's ACLs may take to follow a change made through the API.
FOLLOW_TIMEOUT = 10.0

CIDR = "10.20.0.0/24"
INSIDE = "203.0.113.0/24"  # the prefix SSH is allowed from
FROM_INSIDE = "203.0.113.7"
FROM_OUTSIDE = "198.51.100.7"
SPOOFED_IP = "10.20.0.250"  # in the subnet, not the port's


@dataclass
class Scenario:
    """The module's agent, its host and a session on that host."""

    agent: HyperVAgentOnHost
    host: EmulatedHost
    switch_ports: SwitchPorts
    vms: VMs
    vnics: VNics

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


@pytest.fixture(scope="module")
def scenario(neutron: NeutronServer,
             emulator_endpoint: EmulatorEndpoint) -> Iterator[Scenario]:
    """One ``neutron-hyperv-agent`` on a fresh served emulated host, for the module."""
    if not MECH_DRIVER_BUILT:
        pytest.skip(NOT_BUILT)
    missing = nf.agents.hyperv_agent_missing()
    if missing:
        pytest.skip(f"agent not built yet: {missing}")
    if emulator_endpoint.install is None:
        pytest.skip("the served emulator (winstackers.emulator.wsman) is not built: "
                    "the agent's host is not visible to the tests")
    host = EmulatedHost(emulated_host_config())
    emulator_endpoint.install(host)
    session = EmulatedSession(host)
    host_name = f"hv-scn-{secrets.token_hex(4)}"
    with nf.hyperv_agent(neutron, host_name, agent_sections(emulator_endpoint)) as agent:
        yield Scenario(HyperVAgentOnHost(agent, host), host, SwitchPorts(session),
                       VMs(session), VNics(session))
    session.close()


@pytest.fixture
def make_group(client: NeutronClient) -> Iterator[Callable[..., dict[str, Any]]]:
    """Create security groups (``make_group(*rules)``, each rule a dict of
    attributes); deleted after the test, once the ports using them are."""
    made: list[str] = []

    def make(*rules: dict[str, Any]) -> dict[str, Any]:
        group: dict[str, Any] = client.request("POST", "security-groups", {"security_group": {
            "name": f"sg-{secrets.token_hex(3)}"}})["security_group"]
        made.append(group["id"])
        for rule in rules:
            add_rule(client, group["id"], **rule)
        return group

    yield make
    for group_id in made:
        for port in client.list("ports", security_groups=group_id):
            client.delete("ports", port["id"])
        client.request("DELETE", f"security-groups/{group_id}")


def add_rule(client: NeutronClient, group_id: str, **attrs: Any) -> dict[str, Any]:
    """Add a rule to a security group (IPv4 unless *attrs* say otherwise)."""
    body = {"security_group_id": group_id, "ethertype": "IPv4", **attrs}
    rule: dict[str, Any] = client.request(
        "POST", "security-group-rules", {"security_group_rule": body})["security_group_rule"]
    return rule


def vlan_network(client: NeutronClient, make_network: Any) -> tuple[dict[str, Any], str]:
    """A vlan network on the test physnet with an IPv4 subnet (no DHCP:
    there is no DHCP agent to provision), and the subnet id."""
    network = make_network(**{"provider:network_type": "vlan",
                              "provider:physical_network": PHYSNET})
    subnet = client.create("subnets", network_id=network["id"], ip_version=4, cidr=CIDR,
                           enable_dhcp=False)
    return network, subnet["id"]


def plug(client: NeutronClient, scenario: Scenario, network: dict[str, Any],
         **attrs: Any) -> dict[str, Any]:
    """What nova does: a port bound to the agent's host, then a VM whose
    vNIC is named after the port and has its MAC; returns the port once
    neutron says it is ACTIVE."""
    port = client.create("ports", network_id=network["id"],
                         **{"binding:host_id": scenario.host_name, **attrs})
    assert port["binding:vif_type"] == VIF_TYPE_HYPERV, port
    vm_name = f"vm-{port['id'][:8]}"
    scenario.vms.ensure(VMSpec(name=vm_name, memory_mb=512))
    scenario.vnics.add(vm_name, port["id"], mac=port["mac_address"])
    return wait_for(lambda: active(client, port["id"]),
                    f"port {port['id']} to become ACTIVE", ACTIVE_TIMEOUT)


def active(client: NeutronClient, port_id: str) -> dict[str, Any] | None:
    port = client.show("ports", port_id)
    return port if port["status"] == "ACTIVE" else None


def fixed_ip(port: dict[str, Any]) -> str:
    address: str = port["fixed_ips"][0]["ip_address"]
    return address


def tcp_in(port: dict[str, Any], local_port: int, remote_ip: str,
           remote_port: int = 40000) -> Packet:
    """A TCP packet to the port's VM, on *local_port*, from *remote_ip*."""
    return Packet(INBOUND, "tcp", fixed_ip(port), remote_ip, local_port, remote_port)


def until(probe: Callable[[], bool], what: str, timeout: float = FOLLOW_TIMEOUT) -> float:
    """Poll *probe* until it holds; the seconds it took."""
    started = time.monotonic()
    wait_for(lambda: probe() or None, what, timeout, interval=0.2)
    return time.monotonic() - started


# -- 1. a port on a vlan network --------------------------------------------------------
def test_vlan_port_becomes_active_with_its_vlan_on_the_host(
        client: NeutronClient, scenario: Scenario, make_network: Any) -> None:
    network, _ = vlan_network(client, make_network)
    vlan_id = network["provider:segmentation_id"]
    assert vlan_id in VLAN_RANGE

    port = plug(client, scenario, network)

    assert port["binding:vif_type"] == VIF_TYPE_HYPERV
    assert port["binding:host_id"] == scenario.host_name
    state = scenario.read(port["id"])
    assert state.switch == VSWITCH
    assert state.vlan == Vlan.access(vlan_id)
    assert state.allow_mac_spoofing is False


# -- 2. security groups, by packets -------------------------------------------------------
def test_security_group_holds_by_packets_and_follows_rule_changes(
        client: NeutronClient, scenario: Scenario, make_network: Any,
        make_group: Any) -> None:
    network, _ = vlan_network(client, make_network)
    group = make_group({"direction": "ingress", "protocol": "tcp", "port_range_min": 22,
                        "port_range_max": 22, "remote_ip_prefix": INSIDE})
    port = plug(client, scenario, network, security_groups=[group["id"]])
    pid = port["id"]

    assert scenario.allowed(pid, tcp_in(port, 22, FROM_INSIDE)), "SSH from inside the prefix"
    assert not scenario.allowed(pid, tcp_in(port, 22, FROM_OUTSIDE)), "SSH from outside"
    assert not scenario.allowed(pid, tcp_in(port, 25, FROM_INSIDE)), "SMTP from inside"
    # The group's default egress rules let the VM out, from its own address.
    assert scenario.allowed(pid, Packet(OUTBOUND, "tcp", fixed_ip(port), FROM_OUTSIDE,
                                        41000, 443))

    # A rule added through the API: the host's ACLs follow.
    assert not scenario.allowed(pid, tcp_in(port, 80, FROM_OUTSIDE))
    rule = add_rule(client, group["id"], direction="ingress", protocol="tcp",
                    port_range_min=80, port_range_max=80)
    until(lambda: scenario.allowed(pid, tcp_in(port, 80, FROM_OUTSIDE)),
          "HTTP to be allowed after the rule was added")

    # ... and removed.  Each probe is a new connection (a new source port):
    # a connection the rule let in stays established, as on Hyper-V.
    client.request("DELETE", f"security-group-rules/{rule['id']}")
    source_ports = itertools.count(41001)
    until(lambda: not scenario.allowed(pid, tcp_in(port, 80, FROM_OUTSIDE, next(source_ports))),
          "HTTP to be denied after the rule was removed")

    # The rest still holds.
    assert not scenario.allowed(pid, tcp_in(port, 22, FROM_OUTSIDE, 42001))
    assert scenario.allowed(pid, tcp_in(port, 22, FROM_INSIDE, 42002))
    assert not scenario.allowed(pid, tcp_in(port, 25, FROM_INSIDE, 42003))


# -- 3. port security disabled ---------------------------------------------------------------
def test_port_security_disabled_lets_everything_pass(
        client: NeutronClient, scenario: Scenario, make_network: Any,
        make_group: Any) -> None:
    network, _ = vlan_network(client, make_network)
    group = make_group({"direction": "ingress", "protocol": "tcp", "port_range_min": 22,
                        "port_range_max": 22, "remote_ip_prefix": INSIDE})
    port = plug(client, scenario, network, security_groups=[group["id"]])
    pid = port["id"]
    spoofed_out = Packet(OUTBOUND, "tcp", SPOOFED_IP, FROM_OUTSIDE, 41000, 443)
    # Filtered while port security is on: SMTP in, a spoofed source out, MAC spoofing.
    assert not scenario.allowed(pid, tcp_in(port, 25, FROM_OUTSIDE))
    assert not scenario.allowed(pid, spoofed_out)
    assert scenario.read(pid).allow_mac_spoofing is False

    client.update("ports", pid, port_security_enabled=False, security_groups=[])
    until(lambda: scenario.read(pid).allow_mac_spoofing,
          "MAC spoofing to be allowed once port security is disabled")

    state = scenario.read(pid)
    assert state.acls == frozenset()
    assert state.switch == VSWITCH
    assert scenario.allowed(pid, tcp_in(port, 25, FROM_OUTSIDE, 40001))
    assert scenario.allowed(pid, Packet(INBOUND, "udp", fixed_ip(port), FROM_OUTSIDE,
                                        53, 40002))
    assert scenario.allowed(pid, spoofed_out)
    # The update sets the port to BUILD until the agent reports it up again.
    wait_for(lambda: active(client, pid), f"port {pid} to be ACTIVE again", ACTIVE_TIMEOUT)


def test_port_created_without_port_security_passes_everything(
        client: NeutronClient, scenario: Scenario, make_network: Any) -> None:
    network, _ = vlan_network(client, make_network)
    port = plug(client, scenario, network, port_security_enabled=False)
    pid = port["id"]

    state = scenario.read(pid)
    assert state.allow_mac_spoofing is True
    assert state.acls == frozenset()
    assert scenario.allowed(pid, tcp_in(port, 25, FROM_OUTSIDE))
    assert scenario.allowed(pid, Packet(OUTBOUND, "tcp", SPOOFED_IP, FROM_OUTSIDE, 41000, 443))


# -- 4. port delete ------------------------------------------------------------------------
def test_port_delete_disconnects_the_host_port(
        client: NeutronClient, scenario: Scenario, make_network: Any) -> None:
    network, _ = vlan_network(client, make_network)
    port = plug(client, scenario, network)
    pid = port["id"]
    assert scenario.read(pid).switch == VSWITCH

    client.delete("ports", pid)
    until(lambda: scenario.read(pid).switch is None,
          "the host port to be disconnected after the port was deleted")

    state = scenario.read(pid)
    assert state.acls == frozenset()
    assert state.vlan == Vlan()
    assert scenario.vnics.get(pid).name == pid  # the vNIC stays: only its connection goes
