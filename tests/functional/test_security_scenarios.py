"""End to end: neutron's security group semantics on Hyper-V ports, by packets.

Through neutron's REST API, the real ``neutron-hyperv-agent`` and the
served emulated host (:mod:`.scenarios`), judged by the emulator's
evaluation of each port's extended ACLs (``EmulatedHost.evaluate_packet``,
from the VM's point of view; every probe of a denial is a new flow):

- remote security groups: ingress allowed from the fixed IPs of the
  remote group's members only; a port created in the group, or moved into
  it, is admitted, and one moved out is refused, within a few seconds
  (neutron's ``security_groups_member_updated`` notification);
- address groups (``remote_address_group_id``): the group's prefixes are
  admitted, others refused, and changes made with ``add_addresses`` /
  ``remove_addresses`` reach the host (pushed ``AddressGroup`` objects);
- ``stateful: false`` groups: the same rules as a stateful group admit the
  first packet of a flow, but not its replies, which a stateful group lets
  through; a stateless group needs a rule for the replies;
- anti-spoofing: the VM sends from its fixed IPs (IPv4 and IPv6) and its
  allowed address pairs (IPs and CIDRs, followed when changed through the
  API), not from any other address; a pair with another MAC is not
  allowed (deviation N6 of ``secgroups``: narrower);
- the built-ins of ``sg_builtins``: DHCP and DHCPv6 client traffic out
  (discover from 0.0.0.0, solicit from the link-local address) and server
  answers in, whatever the group says; the VM acting as a DHCP(v6) server
  refused both ways, even when the group allows all egress and UDP in to
  the server ports (N7); ICMPv6 within the link scope (W1) and not beyond;
  DHCP and router guards set.

One agent serves the module; its tests share one network with an IPv4 and
an IPv6 subnet whose allocation pools leave room for spoofed addresses.
"""

from __future__ import annotations

import ipaddress
import itertools
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from winstackers.emulator.hyperv.packets import INBOUND, OUTBOUND, Packet
from winstackers.neutron.fixtures import NeutronClient, NeutronServer

from .conftest import PHYSNET
from .scenarios import FROM_OUTSIDE, Scenario, add_rule, fixed_ip, plug, tcp_in, until

CIDR4 = "10.30.0.0/24"
POOL4 = {"start": "10.30.0.10", "end": "10.30.0.99"}
CIDR6 = "2001:db8:30::/64"
POOL6 = {"start": "2001:db8:30::10", "end": "2001:db8:30::ff"}
#: Addresses in the subnets but outside their pools: never a port's fixed IP.
FREE4 = ("10.30.0.200", "10.30.0.201", "10.30.0.202", "10.30.0.203")
PAIR_CIDR, IN_PAIR_CIDR = "10.30.0.128/28", "10.30.0.130"
FREE6 = "2001:db8:30::dead"
DHCP_SERVER4, DHCP_SERVER6 = "10.30.0.2", "fe80::f816:3eff:fe00:2"
OFF_LINK6 = "2001:db8:ff::1"
FOREIGN_MAC = "fa:16:3e:00:99:99"

#: Remote ports of probes: each probe of a denial is a new flow.
_ports = itertools.count(50000)


def fresh() -> int:
    """A remote port no probe used before (a new flow)."""
    return next(_ports)


@pytest.fixture(scope="module")
def network(neutron: NeutronServer, scenario: Scenario) -> Iterator[dict[str, Any]]:
    """The module's vlan network, with IPv4 and IPv6 subnets (no DHCP agent
    to provision; pools that leave :data:`FREE4` and :data:`FREE6` unused)."""
    client = neutron.client
    network = client.create("networks", name=f"net-sg-{secrets.token_hex(3)}", **{
        "provider:network_type": "vlan", "provider:physical_network": PHYSNET})
    client.create("subnets", network_id=network["id"], ip_version=4, cidr=CIDR4,
                  enable_dhcp=False, allocation_pools=[POOL4])
    client.create("subnets", network_id=network["id"], ip_version=6, cidr=CIDR6,
                  enable_dhcp=False, allocation_pools=[POOL6])
    yield network
    for port in client.list("ports", network_id=network["id"]):
        client.delete("ports", port["id"])
    client.delete("networks", network["id"])


@pytest.fixture
def make_address_group(client: NeutronClient) -> Iterator[Callable[..., dict[str, Any]]]:
    """Create address groups (``make_address_group(*addresses)``); deleted
    after the test with the security group rules naming them."""
    made: list[str] = []

    def make(*addresses: str) -> dict[str, Any]:
        group: dict[str, Any] = client.request("POST", "address-groups", {"address_group": {
            "name": f"ag-{secrets.token_hex(3)}", "addresses": list(addresses)}})[
            "address_group"]
        made.append(group["id"])
        return group

    yield make
    for group_id in made:
        for rule in client.list("security-group-rules", remote_address_group_id=group_id):
            client.request("DELETE", f"security-group-rules/{rule['id']}")
        client.request("DELETE", f"address-groups/{group_id}")


def link_local(mac: str) -> str:
    """The EUI-64 IPv6 link-local address of *mac* (RFC 4291, appendix A)."""
    octets = bytes.fromhex(mac.replace(":", ""))
    interface = bytes([octets[0] ^ 0x02]) + octets[1:3] + b"\xff\xfe" + octets[3:]
    return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + interface))


def tcp_out(source: str, remote: str = FROM_OUTSIDE, remote_port: int = 443) -> Packet:
    """A new TCP connection from the VM, sent from *source*."""
    return Packet(OUTBOUND, "tcp", source, remote, fresh(), remote_port)


def udp(direction: str, local: str, remote: str, local_port: int, remote_port: int) -> Packet:
    """A UDP packet; *local* is the VM's side whatever the direction."""
    return Packet(direction, "udp", local, remote, local_port, remote_port)


# -- remote security groups ---------------------------------------------------------------
def test_remote_group_admits_its_members_and_follows_membership(
        client: NeutronClient, scenario: Scenario, network: dict[str, Any],
        make_group: Any) -> None:
    members = make_group()
    others = make_group()
    web = make_group({"direction": "ingress", "protocol": "tcp", "port_range_min": 80,
                      "port_range_max": 80, "remote_group_id": members["id"]})
    # Members need not be on this host: their addresses come from neutron.
    member = client.create("ports", network_id=network["id"], security_groups=[members["id"]])
    outsider = client.create("ports", network_id=network["id"], security_groups=[others["id"]])
    server = plug(client, scenario, network, security_groups=[web["id"]])
    sid = server["id"]

    def http_from(port: dict[str, Any]) -> bool:
        return scenario.allowed(sid, tcp_in(server, 80, fixed_ip(port), fresh()))

    assert http_from(member), "a member of the remote group"
    assert not http_from(outsider), "a port outside the remote group"
    assert not scenario.allowed(sid, tcp_in(server, 22, fixed_ip(member), fresh())), \
        "only the rule's port is open to members"

    # A new member: a port created in the remote group.
    newcomer = client.create("ports", network_id=network["id"],
                             security_groups=[members["id"]])
    took = until(lambda: http_from(newcomer), "a new member of the remote group to be admitted")
    print(f"new remote group member admitted after {took:.1f} s")

    # A port moved into the group, and one moved out.
    client.update("ports", outsider["id"], security_groups=[members["id"]])
    client.update("ports", member["id"], security_groups=[others["id"]])
    until(lambda: http_from(outsider) and not http_from(member),
          "the remote group's ACLs to follow ports moved in and out of it")
    assert http_from(newcomer)


# -- address groups -----------------------------------------------------------------------
def test_address_group_prefixes_are_admitted_and_follow_updates(
        client: NeutronClient, scenario: Scenario, network: dict[str, Any],
        make_address_group: Any, make_group: Any) -> None:
    partners = make_address_group("192.0.2.0/28")
    group = make_group({"direction": "ingress", "protocol": "tcp", "port_range_min": 443,
                        "port_range_max": 443, "remote_address_group_id": partners["id"]})
    port = plug(client, scenario, network, security_groups=[group["id"]])
    pid = port["id"]

    def https_from(address: str) -> bool:
        return scenario.allowed(pid, tcp_in(port, 443, address, fresh()))

    assert https_from("192.0.2.5")
    assert not https_from("192.0.2.20"), "outside the group's /28"
    assert not https_from(FROM_OUTSIDE)

    client.request("PUT", f"address-groups/{partners['id']}/add_addresses",
                   {"addresses": ["198.51.100.0/24"]})
    until(lambda: https_from(FROM_OUTSIDE), "an address added to the group to be admitted")
    assert https_from("192.0.2.5")

    client.request("PUT", f"address-groups/{partners['id']}/remove_addresses",
                   {"addresses": ["192.0.2.0/28"]})
    until(lambda: not https_from("192.0.2.5") and https_from(FROM_OUTSIDE),
          "an address removed from the group to be refused")
    assert not https_from("192.0.2.20")


# -- stateless security groups ---------------------------------------------------------------
def test_stateless_group_does_not_admit_replies_a_stateful_group_does(
        client: NeutronClient, scenario: Scenario, network: dict[str, Any],
        make_group: Any) -> None:
    rules = ({"direction": "ingress", "protocol": "tcp", "port_range_min": 22,
              "port_range_max": 22},
             {"direction": "egress", "protocol": "tcp", "port_range_min": 443,
              "port_range_max": 443})
    stateful = make_group(*rules, default_egress=False)
    stateless = make_group(*rules, stateful=False, default_egress=False)
    assert (stateful["stateful"], stateless["stateful"]) == (True, False)
    with_state = plug(client, scenario, network, security_groups=[stateful["id"]])
    without = plug(client, scenario, network, security_groups=[stateless["id"]])

    def exchange(port: dict[str, Any]) -> dict[str, bool]:
        """A flow each way and its reply, plus a 'reply' to nothing."""
        pid, ip, client_port = port["id"], fixed_ip(port), fresh()
        seen = {"ssh in": scenario.allowed(pid, tcp_in(port, 22, FROM_OUTSIDE, client_port)),
                "ssh reply out": scenario.allowed(pid, Packet(OUTBOUND, "tcp", ip,
                                                              FROM_OUTSIDE, 22, client_port))}
        out = tcp_out(ip)
        seen["https out"] = scenario.allowed(pid, out)
        seen["https reply in"] = scenario.allowed(pid, Packet(
            INBOUND, "tcp", ip, out.remote_ip, out.local_port, out.remote_port))
        seen["unsolicited from 22"] = scenario.allowed(pid, Packet(
            OUTBOUND, "tcp", ip, FROM_OUTSIDE, 22, fresh()))
        return seen

    assert exchange(with_state) == {"ssh in": True, "ssh reply out": True, "https out": True,
                                    "https reply in": True, "unsolicited from 22": False}
    assert exchange(without) == {"ssh in": True, "ssh reply out": False, "https out": True,
                                 "https reply in": False, "unsolicited from 22": False}

    # A stateless group needs rules for the replies: TCP out from any port.
    add_rule(client, stateless["id"], direction="egress", protocol="tcp")
    until(lambda: exchange(without)["ssh reply out"],
          "the stateless group's reply rule to reach the host")
    assert not exchange(without)["https reply in"], "the other direction still has no rule"


# -- anti-spoofing and allowed address pairs --------------------------------------------------
def test_vm_sends_only_from_its_fixed_ips_and_allowed_address_pairs(
        client: NeutronClient, scenario: Scenario, network: dict[str, Any],
        make_group: Any) -> None:
    group = make_group()  # neutron's default egress rules: anything out, IPv4 and IPv6
    pair_ip, other_ip, foreign_ip, spoofed = FREE4
    port = plug(client, scenario, network, security_groups=[group["id"]],
                allowed_address_pairs=[{"ip_address": pair_ip}, {"ip_address": PAIR_CIDR},
                                       {"ip_address": foreign_ip,
                                        "mac_address": FOREIGN_MAC}])
    pid = port["id"]

    def sends_from(source: str) -> bool:
        remote = FROM_OUTSIDE if ipaddress.ip_address(source).version == 4 else OFF_LINK6
        return scenario.allowed(pid, tcp_out(source, remote))

    assert sends_from(fixed_ip(port, 4)) and sends_from(fixed_ip(port, 6))
    assert sends_from(pair_ip) and sends_from(IN_PAIR_CIDR), "allowed address pairs"
    assert not sends_from(spoofed) and not sends_from(FREE6), "not the port's addresses"
    assert not sends_from(foreign_ip), "a pair with another MAC is not allowed (N6)"
    assert scenario.read(pid).allow_mac_spoofing is False

    client.update("ports", pid, allowed_address_pairs=[{"ip_address": other_ip}])
    until(lambda: sends_from(other_ip) and not sends_from(pair_ip),
          "the host to follow the port's new allowed address pairs")
    assert not sends_from(IN_PAIR_CIDR)
    assert sends_from(fixed_ip(port, 4))


# -- built-ins: DHCP, DHCPv6, ICMPv6 on the link -----------------------------------------------
def test_dhcp_client_is_allowed_and_a_dhcp_server_on_the_vm_is_not(
        client: NeutronClient, scenario: Scenario, network: dict[str, Any],
        make_group: Any) -> None:
    # All egress (neutron's default rules); UDP in on ports that include the
    # DHCP and DHCPv6 server ports, not the client ports.
    group = make_group({"direction": "ingress", "protocol": "udp", "port_range_min": 53,
                        "port_range_max": 67},
                       {"direction": "ingress", "protocol": "udp", "ethertype": "IPv6",
                        "port_range_min": 547, "port_range_max": 547})
    port = plug(client, scenario, network, security_groups=[group["id"]])
    pid, ip4, ip6 = port["id"], fixed_ip(port, 4), fixed_ip(port, 6)
    lla = link_local(port["mac_address"])

    def allowed(packet: Packet) -> bool:
        return scenario.allowed(pid, packet)

    state = scenario.read(pid)
    assert state.dhcp_guard and state.router_guard

    # DHCP client: discover from 0.0.0.0, request/renew from its address;
    # offers in (no rule admits UDP to port 68: the built-in does).
    assert allowed(udp(OUTBOUND, "0.0.0.0", "255.255.255.255", 68, 67))
    assert allowed(udp(OUTBOUND, ip4, DHCP_SERVER4, 68, 67))
    assert allowed(udp(INBOUND, "255.255.255.255", DHCP_SERVER4, 68, 67))
    assert allowed(udp(INBOUND, ip4, DHCP_SERVER4, 68, 67))
    assert not allowed(udp(INBOUND, ip4, DHCP_SERVER4, 68, 53)), "only from the server port"
    # A DHCP server on the VM: its answers out refused although all egress is
    # allowed, client requests towards it refused although the rule covers
    # port 67 (N7); the rule holds for the rest.
    assert not allowed(udp(OUTBOUND, ip4, "255.255.255.255", 67, 68))
    assert not allowed(udp(OUTBOUND, ip4, FROM_OUTSIDE, 67, 68))
    assert not allowed(udp(OUTBOUND, "0.0.0.0", "255.255.255.255", 67, 68))
    assert not allowed(udp(INBOUND, ip4, FROM_OUTSIDE, 67, 68))
    assert allowed(udp(INBOUND, ip4, FROM_OUTSIDE, 67, fresh()))
    assert allowed(udp(INBOUND, ip4, FROM_OUTSIDE, 53, fresh()))

    # DHCPv6 client: solicit from the link-local address, requests from the
    # fixed IP; advertise/reply in.
    assert allowed(udp(OUTBOUND, lla, "ff02::1:2", 546, 547))
    assert allowed(udp(OUTBOUND, ip6, "ff02::1:2", 546, 547))
    assert allowed(udp(INBOUND, lla, DHCP_SERVER6, 546, 547))
    assert allowed(udp(INBOUND, ip6, DHCP_SERVER6, 546, 547))
    assert not allowed(udp(OUTBOUND, FREE6, "ff02::1:2", 546, 547)), "not its address"
    # A DHCPv6 server on the VM: refused both ways (N7 in), the rule on 547
    # holds for the rest.
    assert not allowed(udp(OUTBOUND, lla, "fe80::9", 547, 546))
    assert not allowed(udp(OUTBOUND, ip6, OFF_LINK6, 547, 546))
    assert not allowed(udp(INBOUND, ip6, "fe80::9", 547, 546))
    assert allowed(udp(INBOUND, ip6, OFF_LINK6, 547, fresh()))

    # ICMPv6 on the link (neighbour discovery, duplicate address detection):
    # allowed whatever the group; off the link it needs a rule.
    assert allowed(Packet(INBOUND, "icmpv6", ip6, "fe80::9"))
    assert allowed(Packet(INBOUND, "icmpv6", "ff02::1", "fe80::9"))
    assert allowed(Packet(OUTBOUND, "icmpv6", lla, "ff02::1:ff00:10"))
    assert allowed(Packet(OUTBOUND, "icmpv6", "::", "ff02::1:ff00:10"))
    assert not allowed(Packet(INBOUND, "icmpv6", ip6, OFF_LINK6))

