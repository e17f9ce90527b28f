"""Unit tests for winstackers.emulator.hyperv.packets (extended port ACLs)."""

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from winstackers.emulator.hyperv.packets import (
    INBOUND,
    OUTBOUND,
    FlowTable,
    Packet,
    Verdict,
    evaluate,
)

VM = "10.0.0.5"
PEER = "192.168.1.20"
VM6 = "fd00::5"
PEER6 = "2001:db8::20"

IN_DIR = 1
OUT_DIR = 2
ALLOW = 1
DENY = 2


Num = int | str


def rule(direction: Num, action: Num, weight: Num, **props: Any) -> dict[str, Any]:
    """Build an extended ACL rule mapping with WMI property names."""
    return {"Direction": direction, "Action": action, "Weight": weight, **props}


def tcp_in(local_port: int = 22, remote_port: int = 40000, remote: str = PEER) -> Packet:
    return Packet(INBOUND, "tcp", VM, remote, local_port, remote_port)


def tcp_out(local_port: int = 40000, remote_port: int = 443) -> Packet:
    return Packet(OUTBOUND, "tcp", VM, PEER, local_port, remote_port)


def tcp_reply(local_port: int = 40000, remote_port: int = 443) -> Packet:
    """The inbound answer to tcp_out(): same VM-relative tuple."""
    return Packet(INBOUND, "tcp", VM, PEER, local_port, remote_port)


def icmp_in(remote: str = PEER) -> Packet:
    return Packet(INBOUND, "icmp", VM, remote)


def allowed(rules: Sequence[Mapping[str, Any]], packet: Packet) -> bool:
    return evaluate(rules, packet).allowed


# --- single rules ----------------------------------------------------------


def test_single_allow_rule_allows_and_reports_it() -> None:
    r = rule(IN_DIR, ALLOW, 10, LocalPort="22", Protocol="TCP")
    verdict = evaluate([r], tcp_in())
    assert verdict == Verdict(True, r, "rule weight 10 Allow")
    assert verdict.rule is r


def test_single_deny_rule_denies_and_reports_it() -> None:
    r = rule(IN_DIR, DENY, 7, RemoteIPAddress=PEER)
    verdict = evaluate([r], tcp_in())
    assert not verdict.allowed
    assert verdict.rule is r
    assert verdict.reason == "rule weight 7 Deny"


def test_no_rules_passes() -> None:
    verdict = evaluate([], tcp_in())
    assert verdict == Verdict(True, None, "no rule matched: passes")


def test_non_matching_deny_rule_passes() -> None:
    verdict = evaluate([rule(IN_DIR, DENY, 10, LocalPort="80")], tcp_in(local_port=22))
    assert verdict.allowed
    assert verdict.rule is None
    assert verdict.reason == "no rule matched: passes"


def test_rules_accept_generator_and_string_numbers() -> None:
    rules = (rule(d, a, w) for d, a, w in [("1", "2", "5")])
    assert not evaluate(rules, tcp_in()).allowed


# --- weights ----------------------------------------------------------------


def test_high_weight_allow_beats_low_weight_deny_catch_all() -> None:
    deny_all = rule(IN_DIR, DENY, 1)
    ssh = rule(IN_DIR, ALLOW, 100, LocalPort="22", Protocol="TCP")
    verdict = evaluate([deny_all, ssh], tcp_in(local_port=22))
    assert verdict.allowed and verdict.rule is ssh
    assert not allowed([deny_all, ssh], tcp_in(local_port=23))


def test_high_weight_deny_beats_lower_allow() -> None:
    allow_all = rule(IN_DIR, ALLOW, 10)
    deny_peer = rule(IN_DIR, DENY, 20, RemoteIPAddress=PEER)
    verdict = evaluate([allow_all, deny_peer], tcp_in())
    assert not verdict.allowed and verdict.rule is deny_peer
    assert allowed([allow_all, deny_peer], tcp_in(remote="192.168.1.21"))


def test_order_of_rules_does_not_matter_for_weights() -> None:
    low = rule(IN_DIR, DENY, 1)
    high = rule(IN_DIR, ALLOW, 2)
    assert allowed([low, high], tcp_in()) and allowed([high, low], tcp_in())


def test_weight_tie_deny_wins_in_either_order() -> None:
    a = rule(IN_DIR, ALLOW, 50, Name="a")
    d = rule(IN_DIR, DENY, 50, Name="d")
    for rules in ([a, d], [d, a]):
        verdict = evaluate(rules, tcp_in())
        assert not verdict.allowed
        assert verdict.rule is d


# --- direction ---------------------------------------------------------------


def test_rules_of_other_direction_are_ignored() -> None:
    deny_out = rule(OUT_DIR, DENY, 10)
    assert allowed([deny_out], tcp_in())
    assert not allowed([deny_out], tcp_out())


def test_direction_picks_rule_with_local_meaning_vm_side() -> None:
    # Outbound: local is the VM's source port, remote the server's port.
    r = rule(OUT_DIR, DENY, 10, RemotePort="443", LocalIPAddress=VM)
    assert not allowed([r], tcp_out(remote_port=443))
    assert allowed([r], tcp_out(remote_port=80))


# --- addresses ---------------------------------------------------------------


def test_cidr_subnet_matches_inside_only() -> None:
    r = rule(IN_DIR, DENY, 10, RemoteIPAddress="192.168.1.0/24")
    assert not allowed([r], tcp_in(remote="192.168.1.200"))
    assert allowed([r], tcp_in(remote="192.168.2.1"))


def test_non_strict_cidr_is_accepted() -> None:
    r = rule(IN_DIR, DENY, 10, RemoteIPAddress="192.168.1.77/24")
    assert not allowed([r], tcp_in(remote="192.168.1.3"))


def test_host_address_matches_exactly() -> None:
    r = rule(IN_DIR, DENY, 10, RemoteIPAddress="192.168.1.20")
    assert not allowed([r], tcp_in(remote="192.168.1.20"))
    assert allowed([r], tcp_in(remote="192.168.1.21"))


def test_local_address_is_checked_against_vm_side() -> None:
    r = rule(IN_DIR, DENY, 10, LocalIPAddress="10.0.0.0/30")
    assert allowed([r], tcp_in())  # VM is 10.0.0.5, outside /30
    assert not allowed([rule(IN_DIR, DENY, 10, LocalIPAddress="10.0.0.4/30")], tcp_in())


def test_ipv4_all_does_not_match_ipv6() -> None:
    r = rule(IN_DIR, DENY, 10, RemoteIPAddress="0.0.0.0/0")
    assert not allowed([r], icmp_in())
    assert allowed([r], Packet(INBOUND, "icmpv6", VM6, PEER6))


def test_ipv6_all_does_not_match_ipv4() -> None:
    r = rule(IN_DIR, DENY, 10, RemoteIPAddress="::/0")
    assert not allowed([r], Packet(INBOUND, "icmpv6", VM6, PEER6))
    assert allowed([r], icmp_in())


def test_any_address_matches_both_families_case_insensitive() -> None:
    for value in ("ANY", "any", "", None):
        r = rule(IN_DIR, DENY, 10, LocalIPAddress=value, RemoteIPAddress=value)
        assert not allowed([r], icmp_in())
        assert not allowed([r], Packet(INBOUND, "icmpv6", VM6, PEER6))


def test_ipv6_subnet_and_canonical_forms() -> None:
    r = rule(IN_DIR, DENY, 10, RemoteIPAddress="2001:DB8::/32")
    assert not allowed([r], Packet(INBOUND, "udp", VM6, "2001:db8:0:0::99", 53, 53))
    assert allowed([r], Packet(INBOUND, "udp", VM6, "2001:db9::1", 53, 53))


# --- ports -------------------------------------------------------------------


def test_single_port() -> None:
    r = rule(IN_DIR, DENY, 10, LocalPort="80")
    assert not allowed([r], tcp_in(local_port=80))
    assert allowed([r], tcp_in(local_port=81))


def test_port_range_inclusive() -> None:
    r = rule(IN_DIR, DENY, 10, RemotePort="49152-49182")
    for port, expected in [(49151, True), (49152, False), (49170, False),
                           (49182, False), (49183, True)]:
        assert allowed([r], tcp_in(remote_port=port)) is expected, port


def test_any_port_matches_every_port() -> None:
    r = rule(IN_DIR, DENY, 10, LocalPort="ANY", RemotePort="any")
    assert not allowed([r], tcp_in(local_port=1, remote_port=65535))


def test_port_rule_matches_udp_too_when_protocol_any() -> None:
    r = rule(IN_DIR, DENY, 10, LocalPort="53")
    assert not allowed([r], Packet(INBOUND, "udp", VM, PEER, 53, 5353))


def test_tcp_packet_without_ports_does_not_match_port_rule() -> None:
    r = rule(IN_DIR, DENY, 10, LocalPort="80")
    assert allowed([r], Packet(INBOUND, "tcp", VM, PEER))
    assert not allowed([rule(IN_DIR, DENY, 10)], Packet(INBOUND, "tcp", VM, PEER))


# --- ICMP and protocols --------------------------------------------------------


def test_icmp_not_matched_by_port_rule() -> None:
    r = rule(IN_DIR, DENY, 10, LocalPort="22")
    assert allowed([r], icmp_in())
    assert not allowed([r], tcp_in(local_port=22))


def test_icmp_matched_by_protocol_and_ports_any() -> None:
    assert not allowed([rule(IN_DIR, DENY, 10)], icmp_in())
    assert not allowed([rule(IN_DIR, DENY, 10, Protocol="ANY")], icmp_in())


def test_icmp_deny_with_allow_all_below() -> None:
    rules = [rule(IN_DIR, ALLOW, 1), rule(IN_DIR, DENY, 5, Protocol="1")]
    assert not allowed(rules, icmp_in())
    assert allowed(rules, tcp_in())


@pytest.mark.parametrize(
    ("rule_protocol", "packet_protocol"),
    [("TCP", "tcp"), ("tcp", "6"), ("6", "TCP"), ("UDP", "17"), ("17", "udp"),
     ("1", "icmp"), ("ICMP", "1"), ("58", "icmpv6"), ("ICMPv6", "58"), ("47", "47")],
)
def test_protocol_names_equal_numbers(rule_protocol: str, packet_protocol: str) -> None:
    r = rule(IN_DIR, DENY, 10, Protocol=rule_protocol)
    v6 = packet_protocol.lower() in ("icmpv6", "58")
    packet = Packet(INBOUND, packet_protocol, VM6 if v6 else VM, PEER6 if v6 else PEER)
    assert not allowed([r], packet)


def test_protocol_mismatch_does_not_match() -> None:
    r = rule(IN_DIR, DENY, 10, Protocol="UDP")
    assert allowed([r], tcp_in())
    assert allowed([rule(IN_DIR, DENY, 10, Protocol="6")], Packet(INBOUND, "udp", VM, PEER, 1, 2))


# --- stateful flows --------------------------------------------------------------


def stateful_rules(stateful: bool = True, timeout: int | None = None) -> list[dict[str, Any]]:
    """Outbound stateful allow to 443, and inbound/outbound deny-all."""
    allow = rule(OUT_DIR, ALLOW, 100, RemotePort="443", Protocol="TCP", Stateful=stateful)
    if timeout is not None:
        allow["IdleSessionTimeout"] = timeout
    return [allow, rule(IN_DIR, DENY, 1), rule(OUT_DIR, DENY, 1)]


def test_stateful_reply_is_allowed_despite_inbound_deny_all() -> None:
    rules, flows = stateful_rules(), FlowTable()
    out = evaluate(rules, tcp_out(), flows, now=0.0)
    assert out.allowed and out.rule is rules[0]
    assert len(flows) == 1
    reply = evaluate(rules, tcp_reply(), flows, now=1.0)
    assert reply == Verdict(True, None, "established stateful flow")


def test_reply_denied_without_stateful() -> None:
    rules, flows = stateful_rules(stateful=False), FlowTable()
    assert evaluate(rules, tcp_out(), flows, now=0.0).allowed
    assert len(flows) == 0
    reply = evaluate(rules, tcp_reply(), flows, now=1.0)
    assert not reply.allowed and reply.rule is rules[1]


def test_reply_denied_without_flow_table() -> None:
    rules = stateful_rules()
    assert evaluate(rules, tcp_out(), now=0.0).allowed
    assert not evaluate(rules, tcp_reply(), now=1.0).allowed


def test_flow_only_admits_same_tuple_and_protocol() -> None:
    rules, flows = stateful_rules(), FlowTable()
    evaluate(rules, tcp_out(local_port=40000), flows, now=0.0)
    assert not evaluate(rules, tcp_reply(local_port=40001), flows, now=1.0).allowed
    assert not evaluate(rules, tcp_in(local_port=40000, remote_port=443,
                                      remote="192.168.1.21"), flows, now=1.0).allowed
    udp = Packet(INBOUND, "udp", VM, PEER, 40000, 443)
    assert not evaluate(rules, udp, flows, now=1.0).allowed


def test_flow_expires_after_idle_session_timeout() -> None:
    rules, flows = stateful_rules(timeout=10), FlowTable()
    evaluate(rules, tcp_out(), flows, now=100.0)
    assert evaluate(rules, tcp_reply(), flows, now=109.5).allowed
    assert len(flows) == 1
    late = evaluate(rules, tcp_reply(), flows, now=119.5)  # idle exactly 10 s
    assert not late.allowed and late.rule is rules[1]
    assert len(flows) == 0


def test_default_idle_session_timeout_is_255() -> None:
    rules, flows = stateful_rules(), FlowTable()
    evaluate(rules, tcp_out(), flows, now=0.0)
    assert evaluate(rules, tcp_reply(), flows, now=254.0).allowed
    assert not evaluate(rules, tcp_reply(), flows, now=254.0 + 255.0).allowed


def test_flow_refreshed_on_use_in_either_direction() -> None:
    rules, flows = stateful_rules(timeout=10), FlowTable()
    evaluate(rules, tcp_out(), flows, now=0.0)
    assert evaluate(rules, tcp_reply(), flows, now=8.0).allowed
    assert evaluate(rules, tcp_reply(), flows, now=16.0).allowed
    assert evaluate(rules, tcp_out(), flows, now=24.0).reason == "established stateful flow"
    assert evaluate(rules, tcp_reply(), flows, now=33.0).allowed
    assert not evaluate(rules, tcp_reply(), flows, now=43.0).allowed


def test_expired_flow_restarted_by_new_outbound_packet() -> None:
    rules, flows = stateful_rules(timeout=5), FlowTable()
    evaluate(rules, tcp_out(), flows, now=0.0)
    assert not evaluate(rules, tcp_reply(), flows, now=10.0).allowed
    out = evaluate(rules, tcp_out(), flows, now=11.0)
    assert out.rule is rules[0]
    assert evaluate(rules, tcp_reply(), flows, now=12.0).allowed


def test_flow_table_len_drops_idle_flows_lazily() -> None:
    rules, flows = stateful_rules(timeout=10), FlowTable()
    evaluate(rules, tcp_out(local_port=1000), flows, now=0.0)
    evaluate(rules, tcp_out(local_port=2000), flows, now=5.0)
    assert len(flows) == 2
    evaluate(rules, icmp_in(), flows, now=12.0)  # advances the table's clock
    assert len(flows) == 1


def test_flow_ignores_ip_spelling() -> None:
    rules, flows = stateful_rules(), FlowTable()
    rules[0]["RemoteIPAddress"] = "2001:db8::/32"
    evaluate(rules, Packet(OUTBOUND, "tcp", VM6, "2001:db8::20", 40000, 443), flows, now=0.0)
    reply = Packet(INBOUND, "tcp", "FD00:0::5", "2001:DB8:0::20", 40000, 443)
    assert evaluate(rules, reply, flows, now=1.0).allowed


def test_flow_table_is_thread_safe() -> None:
    rules, flows = stateful_rules(), FlowTable()

    def worker(base: int) -> None:
        for port in range(base, base + 200):
            evaluate(rules, tcp_out(local_port=port), flows, now=1.0)

    threads = [threading.Thread(target=worker, args=(1000 + i * 200,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(flows) == 800


# --- validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"direction": "in"}, "direction"),
        ({"protocol": "sctp"}, "protocol"),
        ({"protocol": "256"}, "protocol"),
        ({"local_ip": "10.0.0.300"}, "local_ip"),
        ({"remote_ip": "not-an-ip"}, "remote_ip"),
        ({"remote_ip": PEER6}, "remote_ip"),
        ({"local_port": 70000}, "local_port"),
        ({"remote_port": -1}, "remote_port"),
        ({"local_port": True}, "local_port"),
    ],
)
def test_bad_packet_names_field(kwargs: dict[str, Any], field: str) -> None:
    values: dict[str, Any] = {"direction": INBOUND, "protocol": "tcp", "local_ip": VM,
                              "remote_ip": PEER, "local_port": 1, "remote_port": 2}
    values.update(kwargs)
    with pytest.raises(ValueError, match=rf"Packet\.{field}\b"):
        Packet(**values)


def test_icmp_packet_rejects_ports() -> None:
    with pytest.raises(ValueError, match=r"Packet\.local_port"):
        Packet(INBOUND, "icmp", VM, PEER, local_port=7)


@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ("Direction", 0),
        ("Direction", 3),
        ("Action", 0),
        ("Action", 9),
        ("Action", True),
        ("LocalIPAddress", "10.0.0.999"),
        ("RemoteIPAddress", "10.0.0.0/33"),
        ("LocalPort", "http"),
        ("RemotePort", "100-90"),
        ("RemotePort", "70000"),
        ("Protocol", "GRE"),
        ("Protocol", "300"),
        ("Weight", 70000),
        ("Weight", "heavy"),
        ("Stateful", "yes"),
        ("IdleSessionTimeout", -1),
    ],
)
def test_bad_rule_names_rule_and_property(prop: str, value: Any) -> None:
    bad = rule(IN_DIR, ALLOW, 10, Name="web-in")
    bad[prop] = value
    with pytest.raises(ValueError, match=rf"'web-in'.*property {prop}\b"):
        evaluate([bad], tcp_in())


def test_missing_direction_and_action_are_rejected() -> None:
    with pytest.raises(ValueError, match="property Direction"):
        evaluate([{"Action": ALLOW, "Name": "x"}], tcp_in())
    with pytest.raises(ValueError, match="property Action"):
        evaluate([{"Direction": IN_DIR, "Name": "x"}], tcp_in())


def test_bad_rule_named_by_instance_id_when_name_empty() -> None:
    bad = rule(IN_DIR, 0, 10, Name="", InstanceID="Microsoft:ABC\\123")
    with pytest.raises(ValueError, match=r"ABC.*property Action"):
        evaluate([bad], tcp_in())


def test_bad_rule_raises_even_when_direction_differs_or_flow_hits() -> None:
    rules, flows = stateful_rules(), FlowTable()
    evaluate(rules, tcp_out(), flows, now=0.0)
    bad = rule(OUT_DIR, DENY, 1, Name="broken", LocalPort="x")
    with pytest.raises(ValueError, match="'broken'.*LocalPort"):
        evaluate([*rules, bad], tcp_reply(), flows, now=1.0)


def test_stateful_deny_rule_is_rejected() -> None:
    bad = rule(OUT_DIR, DENY, 10, Name="sd", Stateful=True)
    with pytest.raises(ValueError, match="'sd'.*property Stateful"):
        evaluate([bad], tcp_out())
