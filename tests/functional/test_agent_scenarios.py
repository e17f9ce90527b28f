"""End to end: neutron's REST API, the real ``neutron-hyperv-agent`` and
the emulated host it manages.

Each test does what nova would: creates a neutron port with
``binding:host_id`` set to the agent's host, then a VM with a vNIC named
after the port id (and carrying its MAC) on the emulated host, and waits
for the port to become ACTIVE.  What the agent programmed is then checked
on the host: the switch port's state (:class:`SwitchPorts.read`) and
packets judged by the emulator's evaluator of the port's extended ACLs
(:meth:`EmulatedHost.evaluate_packet`, from the VM's point of view).

One agent, on one emulated host, serves the whole module (the ``scenario``
fixture; starting one costs a few seconds); every test makes its own
network, ports and VM.  The helpers are in :mod:`.scenarios`.  Everything
asynchronous is polled with a timeout, never slept on.
"""

from __future__ import annotations

import itertools
from typing import Any

from winstackers.emulator.hyperv.packets import INBOUND, OUTBOUND, Packet
from winstackers.hyperv.portstate import Vlan
from winstackers.neutron.constants import VIF_TYPE_HYPERV
from winstackers.neutron.fixtures import NeutronClient, wait_for

from .conftest import VSWITCH
from .scenarios import (
    ACTIVE_TIMEOUT,
    FROM_INSIDE,
    FROM_OUTSIDE,
    INSIDE,
    SPOOFED_IP,
    VLAN_RANGE,
    Scenario,
    active,
    add_rule,
    fixed_ip,
    plug,
    tcp_in,
    until,
    vlan_network,
)


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
    # a connection the rule let in stays established, as on Hyper-V.  The
    # probe also asks that SSH still passes: the rules whose weights moved
    # are rewritten, and SSH must hold throughout.
    client.request("DELETE", f"security-group-rules/{rule['id']}")
    source_ports = itertools.count(41001)
    until(lambda: not scenario.allowed(pid, tcp_in(port, 80, FROM_OUTSIDE, next(source_ports)))
          and scenario.allowed(pid, tcp_in(port, 22, FROM_INSIDE, next(source_ports))),
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
