"""Security groups as extended ACLs, checked by packets.

Every test translates neutron rules with ``port_security`` and sends packets
through a Hyper-V port model (the emulator's ACL evaluator plus MAC
spoofing, DHCP guard and router guard, :mod:`tests.neutron_sg.packets`).
Rule shapes are not compared, except where the shape is the point
(determinism, rule counts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from tests.neutron_sg.packets import EGRESS, ICMP, ICMPV6, INGRESS, TCP, UDP, HyperVPort, Pkt
from winstackers.hyperv.portstate import PortState
from winstackers.neutron.agent.secgroups import PortSecurity, SgPort, SgRule, port_security

MAC, OTHER_MAC = "fa:16:3e:00:00:01", "fa:16:3e:00:00:99"
LLA = "fe80::f816:3eff:fe00:1"
VM4, VM6 = "10.0.0.5", "2001:db8::5"
PORT = SgPort((VM4, VM6), MAC, security_groups=("sg",))
GRE, SCTP = 47, 132


def translate(rules: Sequence[SgRule], stateful: bool = True, port: SgPort = PORT,
              members: Mapping[str, list[str]] | None = None,
              address_groups: Mapping[str, list[str]] | None = None) -> PortSecurity:
    return port_security(port, {"sg": list(rules)}, {"sg": stateful}, members or {},
                         address_groups or {})


def hyperv(rules: Sequence[SgRule], stateful: bool = True, port: SgPort = PORT,
           members: Mapping[str, list[str]] | None = None,
           address_groups: Mapping[str, list[str]] | None = None) -> HyperVPort:
    """A Hyper-V port model carrying the translation of *rules*."""
    return HyperVPort(translate(rules, stateful, port, members, address_groups), MAC)


def tcp_in(port: int, remote: str = "192.0.2.9", local: str = VM4) -> Pkt:
    return Pkt(INGRESS, TCP, local, remote, port, 40000)


def tcp_out(port: int, remote: str = "192.0.2.9", local: str = VM4, mac: str = MAC) -> Pkt:
    return Pkt(EGRESS, TCP, local, remote, 40000, port, mac=mac)


def icmp(direction: str, local: str, remote: str, icmp_type: int, mac: str = MAC) -> Pkt:
    protocol = ICMP if ":" not in local else ICMPV6
    return Pkt(direction, protocol, local, remote, icmp_type=icmp_type, icmp_code=0, mac=mac)


def udp(direction: str, local: str, remote: str, local_port: int, remote_port: int) -> Pkt:
    return Pkt(direction, UDP, local, remote, local_port, remote_port)


ALL_EGRESS = [SgRule("egress", "IPv4", None), SgRule("egress", "IPv6", None)]


# -- default deny, rule fields --------------------------------------------------------


def test_with_no_rule_everything_is_denied_both_ways() -> None:
    port = hyperv([])
    assert not port.allowed(tcp_in(22))
    assert not port.allowed(tcp_out(443))
    assert not port.allowed(Pkt(INGRESS, GRE, VM4, "192.0.2.9"))


def test_an_ingress_rule_allows_its_protocol_ethertype_and_port_range_only() -> None:
    port = hyperv([SgRule("ingress", "IPv4", "tcp", 22, 23)])
    assert port.allowed(tcp_in(22)) and port.allowed(tcp_in(23))
    assert not port.allowed(tcp_in(21)) and not port.allowed(tcp_in(24))
    assert not port.allowed(Pkt(INGRESS, UDP, VM4, "192.0.2.9", 22, 40000))
    assert not port.allowed(tcp_in(22, remote="2001:db8:ff::1", local=VM6))
    assert not port.allowed(tcp_out(22))


def test_an_egress_port_range_is_the_remote_port() -> None:
    port = hyperv([SgRule("egress", "IPv4", "tcp", 443, 443)])
    assert port.allowed(tcp_out(443))
    assert not port.allowed(Pkt(EGRESS, TCP, VM4, "192.0.2.9", 443, 40000))


def test_remote_ip_prefix_limits_the_other_end() -> None:
    port = hyperv([SgRule("ingress", "IPv4", "tcp", 22, 22, remote_ip_prefix="10.0.0.0/24")])
    assert port.allowed(tcp_in(22, remote="10.0.0.77"))
    assert not port.allowed(tcp_in(22, remote="10.0.1.77"))


def test_remote_group_is_every_member_the_port_included() -> None:
    rules = [SgRule("ingress", "IPv4", None, remote_group_id="sg"),
             SgRule("ingress", "IPv6", None, remote_group_id="sg")]
    port = hyperv(rules, members={"sg": [VM4, "10.0.0.6", "2001:db8::6"]})
    assert port.allowed(tcp_in(80, remote="10.0.0.6"))
    assert port.allowed(tcp_in(80, remote=VM4))
    assert port.allowed(tcp_in(80, remote="2001:db8::6", local=VM6))
    assert not port.allowed(tcp_in(80, remote="10.0.0.7"))


def test_a_remote_group_without_members_allows_nothing() -> None:
    port = hyperv([SgRule("ingress", "IPv4", None, remote_group_id="empty")])
    assert not port.allowed(tcp_in(80, remote="10.0.0.6"))


def test_address_group_is_its_prefixes() -> None:
    port = hyperv([SgRule("ingress", "IPv4", "udp", 53, 53, remote_address_group_id="ag")],
                  address_groups={"ag": ["198.51.100.0/24", "2001:db8:ff::/48"]})
    assert port.allowed(Pkt(INGRESS, UDP, VM4, "198.51.100.7", 53, 5353))
    assert not port.allowed(Pkt(INGRESS, UDP, VM4, "192.0.2.9", 53, 5353))


@pytest.mark.parametrize("name, number, packet_protocol", [
    ("tcp", "6", TCP), ("gre", "47", GRE), ("sctp", "132", SCTP), ("vrrp", "112", 112)])
def test_protocol_names_and_numbers_mean_the_same(name: str, number: str,
                                                  packet_protocol: int) -> None:
    for protocol in (name, number):
        port = hyperv([SgRule("ingress", "IPv4", protocol)])
        ported = packet_protocol == TCP
        assert port.allowed(Pkt(INGRESS, packet_protocol, VM4, "192.0.2.9",
                                80 if ported else None, 1 if ported else None))
        assert not port.allowed(Pkt(INGRESS, UDP, VM4, "192.0.2.9", 80, 1))


@pytest.mark.parametrize("protocol", ["icmp", "1", "icmpv6", "ipv6-icmp", "58"])
def test_icmp_of_an_ipv6_rule_is_icmpv6(protocol: str) -> None:
    port = hyperv([SgRule("ingress", "IPv6", protocol)])
    assert port.allowed(icmp(INGRESS, VM6, "2001:db8:ff::1", 128))


def test_any_protocol_and_any_remote() -> None:
    port = hyperv([SgRule("ingress", "IPv4", "any")], stateful=False)
    for protocol in (TCP, UDP, ICMP, GRE):
        ported = protocol in (TCP, UDP)
        assert port.allowed(Pkt(INGRESS, protocol, VM4, "203.0.113.1",
                                1 if ported else None, 2 if ported else None))


# -- stateful and stateless ------------------------------------------------------------


def test_a_stateful_group_lets_replies_back_and_nothing_else() -> None:
    port = hyperv([SgRule("ingress", "IPv4", "tcp", 22, 22)])
    request = tcp_in(22)
    assert port.allowed(request)
    assert port.allowed(request.reply())
    assert not port.allowed(tcp_out(22))


def test_a_stateful_egress_rule_lets_its_replies_in() -> None:
    port = hyperv([SgRule("egress", "IPv4", "udp", 53, 53)])
    query = Pkt(EGRESS, UDP, VM4, "192.0.2.53", 5353, 53)
    assert not port.allowed(query.reply())
    assert port.allowed(query) and port.allowed(query.reply())


def test_a_stateless_group_needs_a_rule_for_replies() -> None:
    port = hyperv([SgRule("ingress", "IPv4", "tcp", 22, 22)], stateful=False)
    request = tcp_in(22)
    assert port.allowed(request)
    assert not port.allowed(request.reply())


def test_replies_of_stateful_icmp_are_not_allowed_and_a_note_says_so() -> None:
    rules = [SgRule("egress", "IPv4", "icmp")]
    port = hyperv(rules)
    ping = icmp(EGRESS, VM4, "192.0.2.9", 8)
    assert port.allowed(ping)
    assert not port.allowed(ping.reply())
    assert any("replies are not allowed back" in note for note in translate(rules).notes)


def test_a_flow_starts_only_on_the_port_own_address() -> None:
    port = hyperv([SgRule("ingress", "IPv4", "udp", 5353, 5353)])
    multicast = Pkt(INGRESS, UDP, "224.0.0.251", "10.0.0.9", 5353, 5353)
    assert port.allowed(multicast)
    assert not port.allowed(multicast.reply())  # would be a spoofed source


# -- deviations that narrow, with notes ----------------------------------------------


def test_an_icmp_type_rule_is_not_applied_and_noted() -> None:
    rules = [SgRule("ingress", "IPv4", "icmp", 8, 0)]
    port = hyperv(rules)
    assert not port.allowed(icmp(INGRESS, VM4, "192.0.2.9", 8))
    assert not port.allowed(icmp(INGRESS, VM4, "192.0.2.9", 0))
    assert any("ICMP type" in note for note in translate(rules).notes)


def test_sctp_ports_are_not_applied_but_sctp_without_ports_is() -> None:
    ranged = [SgRule("ingress", "IPv4", "sctp", 3868, 3868)]
    assert not hyperv(ranged).allowed(Pkt(INGRESS, SCTP, VM4, "192.0.2.9"))
    assert any("TCP and UDP only" in note for note in translate(ranged).notes)
    assert hyperv([SgRule("ingress", "IPv4", "sctp")]).allowed(
        Pkt(INGRESS, SCTP, VM4, "192.0.2.9"))


def test_protocol_zero_is_not_applied_and_noted() -> None:
    rules = [SgRule("ingress", "IPv4", "0")]
    assert not hyperv(rules).allowed(Pkt(INGRESS, 0, VM4, "192.0.2.9"))
    assert not hyperv(rules).allowed(tcp_in(22))
    assert any("protocol 0" in note for note in translate(rules).notes)


@pytest.mark.parametrize("rule", [
    SgRule("ingress", "IPv4", "tcp", remote_ip_prefix="2001:db8::/64"),
    SgRule("ingress", "IPv4", "ipv6-icmp"),
    SgRule("ingress", "IPv4", "bogus"),
    SgRule("ingress", "IPv4", "gre", 1, 2),
    SgRule("ingress", "IPv4", None, remote_ip_prefix="10.0.0.0/8", remote_group_id="sg")])
def test_rules_neutron_refuses_are_not_applied_and_noted(rule: SgRule) -> None:
    security = translate([rule])
    assert len(security.notes) == 1
    assert "not applied" in security.notes[0] or "matches nothing" in security.notes[0]
    assert not HyperVPort(security, MAC).allowed(tcp_in(22))


# -- built-in allowances and protections ---------------------------------------------


def test_dhcp_client_works_with_no_rule() -> None:
    port = hyperv([])
    assert port.allowed(udp(EGRESS, "0.0.0.0", "255.255.255.255", 68, 67))
    assert port.allowed(udp(EGRESS, VM4, "10.0.0.2", 68, 67))
    assert port.allowed(udp(INGRESS, VM4, "10.0.0.2", 68, 67))
    assert not port.allowed(udp(EGRESS, "10.0.0.66", "10.0.0.2", 68, 67))


def test_dhcpv6_client_works_with_no_rule() -> None:
    port = hyperv([])
    assert port.allowed(udp(EGRESS, LLA, "ff02::1:2", 546, 547))
    assert port.allowed(udp(EGRESS, VM6, "ff02::1:2", 546, 547))
    assert port.allowed(udp(INGRESS, LLA, "fe80::2", 546, 547))


def test_no_dhcp_server_on_the_port_even_if_rules_allow_it() -> None:
    security = translate(ALL_EGRESS)
    port = HyperVPort(security, MAC)
    assert security.dhcp_guard
    assert not port.allowed(udp(EGRESS, VM4, "10.0.0.9", 67, 68))
    assert not port.allowed(udp(EGRESS, VM6, "fe80::9", 547, 546))
    assert port.allowed(udp(EGRESS, VM4, "10.0.0.9", 5000, 68))


def test_client_to_server_dhcp_towards_the_vm_is_dropped_so_no_flow_lets_a_reply_out() -> None:
    port = hyperv([SgRule("ingress", "IPv6", "udp")])
    solicit = udp(INGRESS, VM6, "fe80::9", 547, 546)
    assert not port.allowed(solicit)
    assert not port.allowed(solicit.reply())
    assert port.allowed(udp(INGRESS, VM6, "fe80::9", 548, 546))


def test_anti_spoofing_egress_only_from_the_port_addresses() -> None:
    pairs = (("10.0.0.7", None), ("10.0.1.0/28", MAC))
    port = hyperv(ALL_EGRESS, port=SgPort((VM4, VM6), MAC, pairs, ("sg",)))
    for source in (VM4, "10.0.0.7", "10.0.1.9", VM6, LLA):
        assert port.allowed(tcp_out(443, local=source,
                                    remote="2001:db8:ff::1" if ":" in source else "192.0.2.9"))
    assert not port.allowed(tcp_out(443, local="10.0.0.66"))
    assert not port.allowed(tcp_out(443, local="10.0.1.17"))
    assert not port.allowed(tcp_out(443, local="2001:db8::66", remote="2001:db8:ff::1"))


def test_a_pair_with_another_mac_is_not_allowed_and_noted() -> None:
    port = SgPort((VM4,), MAC, (("10.0.0.7", OTHER_MAC),), ("sg",))
    security = translate(ALL_EGRESS, port=port)
    model = HyperVPort(security, MAC)
    assert not security.allow_mac_spoofing
    assert not model.allowed(tcp_out(443, local="10.0.0.7", mac=OTHER_MAC))
    assert not model.allowed(tcp_out(443, local="10.0.0.7"))
    assert any("MAC spoofing stays off" in note for note in security.notes)


def test_neighbour_discovery_and_router_advertisements_pass() -> None:
    port = hyperv([])
    assert port.allowed(icmp(EGRESS, LLA, "ff02::1:ff00:1", 135))
    assert port.allowed(icmp(EGRESS, "::", "ff02::1:ff00:5", 135))  # DAD
    assert port.allowed(icmp(EGRESS, VM6, "2001:db8::9", 136))
    assert port.allowed(icmp(EGRESS, LLA, "ff02::2", 133))
    assert port.allowed(icmp(INGRESS, LLA, "fe80::1", 134))
    assert port.allowed(icmp(INGRESS, VM6, "2001:db8::9", 136))
    assert port.allowed(icmp(INGRESS, "ff02::1:ff00:5", "2001:db8::9", 135))


def test_icmpv6_outside_the_link_scope_needs_a_rule() -> None:
    port = hyperv([])
    assert not port.allowed(icmp(INGRESS, VM6, "2001:db8:ff::1", 128))
    assert not port.allowed(icmp(EGRESS, VM6, "2001:db8:ff::1", 128))
    # Documented widening W1: ICMPv6 of any type within the link scope.
    assert port.allowed(icmp(INGRESS, VM6, "2001:db8::9", 128))


def test_router_advertisements_and_redirects_from_the_vm_are_dropped() -> None:
    security = translate(ALL_EGRESS + [SgRule("egress", "IPv6", "ipv6-icmp")])
    port = HyperVPort(security, MAC)
    assert security.router_guard
    assert not port.allowed(icmp(EGRESS, LLA, "ff02::1", 134))
    assert not port.allowed(icmp(EGRESS, LLA, "fe80::9", 137))
    assert port.allowed(icmp(EGRESS, LLA, "fe80::9", 128))


def test_port_security_disabled_filters_nothing() -> None:
    port = SgPort((VM4,), MAC, security_groups=("sg",), port_security_enabled=False)
    security = translate([], port=port)
    assert security.acls == frozenset() and security.allow_mac_spoofing
    assert not security.dhcp_guard and not security.router_guard
    model = HyperVPort(security, MAC)
    assert model.allowed(tcp_in(22)) and model.allowed(tcp_out(25, local="10.9.9.9", mac=OTHER_MAC))


# -- shape: determinism, validity, size ------------------------------------------------


def test_same_input_gives_the_same_rules_and_weights_whatever_the_order() -> None:
    rules = [SgRule("ingress", "IPv4", "tcp", 22, 22), SgRule("ingress", "IPv6", None),
             *ALL_EGRESS]
    first = translate(rules)
    again = translate(list(reversed(rules)))
    as_tuples = [{(r.direction, r.weight, r.name, r.protocol, r.local_address, r.remote_address,
                   r.local_ports, r.remote_ports, r.stateful) for r in s.acls}
                 for s in (first, again)]
    assert as_tuples[0] == as_tuples[1]


def test_built_in_rules_keep_their_weights_whatever_the_group_rules() -> None:
    # A port whose rules change is rewritten in several host calls: built-in
    # rules that never move are never touched, so never missing in between.
    built_in = ("neutron-default-deny", "neutron-builtin", "neutron-protect")
    few = translate(ALL_EGRESS)
    many = translate([*ALL_EGRESS, SgRule("ingress", "IPv4", "udp"),
                      SgRule("ingress", "IPv4", "tcp", 22, 22, "192.0.2.0/24"),
                      SgRule("ingress", "IPv6", None, remote_group_id="sg")],
                     members={"sg": [VM6, "2001:db8::6"]})
    kept = [{rule for rule in security.acls if rule.name in built_in}
            for security in (few, many)]
    assert kept[0] and kept[0] == kept[1]
    assert {rule.weight for rule in kept[0] if rule.name == "neutron-default-deny"} == {1}
    assert {rule.weight for rule in kept[0] if rule.name == "neutron-protect"} == {65534, 65535}


def test_the_default_group_makes_a_valid_port_state_of_reasonable_size() -> None:
    members = {"default": [f"10.0.0.{i}" for i in range(2, 22)]
               + [f"2001:db8::{i:x}" for i in range(2, 22)]}
    rules = {"default": ALL_EGRESS + [SgRule("ingress", "IPv4", None, remote_group_id="default"),
                                      SgRule("ingress", "IPv6", None,
                                             remote_group_id="default")]}
    port = SgPort((VM4, VM6), MAC, security_groups=("default",))
    security = port_security(port, rules, {}, members, {})
    PortState("vSwitch", acls=security.acls, dhcp_guard=True, router_guard=True)
    assert len(security.acls) < 200
