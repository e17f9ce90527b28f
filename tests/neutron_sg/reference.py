"""A reference evaluator of neutron's security-group semantics.

Written from neutron's documentation, independently of the translation in
``winstackers.neutron.agent``:

[INTRO] https://docs.openstack.org/neutron/latest/admin/intro-os-networking.html
        ("Security groups": default deny, additive groups, stateful rules,
        the basic and anti-spoofing rules)
[API]   https://docs.openstack.org/api-ref/network/v2/#security-group-rules-security-group-rules
        (fields of a rule; port_range_min/max are the ICMP type/code for
        ICMP; the ``stateful`` attribute of a group, default true)
[OVSFW] https://docs.openstack.org/neutron/latest/contributor/internals/openvswitch_firewall.html
        (order of the checks: built-in ICMPv6/DHCP, anti-spoofing, then
        conntrack, then the rules; the ICMPv6 types allowed)

Connection tracking is modelled at the level the documents describe it: a
packet allowed by a rule of a stateful group starts a flow, and later
packets of that flow (replies included) and ICMP errors about it pass.  ICMP
flows are echo request/reply pairs.  Timeouts and TCP states are not
modelled.

Rules neutron's API refuses (unknown protocol, an IPv6-only protocol on an
IPv4 rule, a port range on a protocol without ports, a remote prefix of the
other family) never reach an agent, so they are left out here.

One documented deviation of the translation is encoded as part of the
expected behaviour, as its documentation says (``secgroups`` W1): ICMPv6
within the link scope passes whatever its type (:meth:`NeutronPort.
icmpv6_in_scope`).  The narrower deviations are *not* encoded: the property
test checks each disagreement against their documented list.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from tests.neutron_sg.packets import ECHO, EGRESS, ICMP, ICMPV6, INGRESS, PORTED, UDP, FlowKey, Pkt
from winstackers.neutron.agent.secgroups import SgPort, SgRule

_Net = ipaddress.IPv4Network | ipaddress.IPv6Network
NAMES = {"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1,
         "igmp": 2, "ip": 0, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44,
         "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60,
         "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6,
         "udp": 17, "udplite": 136, "vrrp": 112}
IPV6_ONLY = {41, 43, 44, 58, 59, 60}
NDP_EGRESS = {130, 131, 132, 133, 135, 136, 143}   # MLD, RS, NS, NA [INTRO, OVSFW]
NDP_INGRESS = {130, 131, 132, 134, 135, 136, 143}  # MLD, RA, NS, NA [INTRO, OVSFW]
DAD_TYPES = {131, 135, 143}                         # from :: [INTRO]
ICMP_ERRORS = {ICMP: {3, 11, 12}, ICMPV6: {1, 2, 3, 4}}
LINK_LOCAL = ipaddress.ip_network("fe80::/10")
LINK_MULTICAST = ipaddress.ip_network("ff02::/16")


def eui64_link_local(mac: str) -> str:
    """fe80::/64 plus the modified EUI-64 interface id of *mac*."""
    value = int(mac.replace(":", "").replace("-", ""), 16) ^ 0x020000000000
    interface = ((value >> 24) << 40) | (0xFFFE << 24) | (value & 0xFFFFFF)
    return str(ipaddress.IPv6Address((0xFE80 << 112) | interface))


def _inside(ip: str, nets: Collection[_Net]) -> bool:
    address = ipaddress.ip_address(ip)
    return any(address.version == net.version and address in net for net in nets)


@dataclass(frozen=True)
class RefRule:
    """A rule as neutron stores it, ready to match packets."""

    source: SgRule
    stateful: bool
    direction: str
    family: int
    protocol: int | None
    low: int | None
    high: int | None
    remotes: tuple[_Net, ...] | None  # None = anywhere

    def matches(self, pkt: Pkt) -> bool:
        return (self.direction == pkt.direction and self.family == pkt.family
                and self.protocol in (None, pkt.protocol) and self._ports(pkt)
                and (self.remotes is None or _inside(pkt.remote_ip, self.remotes)))

    def _ports(self, pkt: Pkt) -> bool:
        if self.low is None and self.high is None:
            return True
        if self.protocol in ECHO:  # ICMP type and code [API]
            return pkt.icmp_type == self.low and self.high in (None, pkt.icmp_code)
        port = pkt.local_port if pkt.direction == INGRESS else pkt.remote_port
        low = self.low if self.low is not None else self.high
        high = self.high if self.high is not None else self.low
        if port is None or low is None or high is None:
            return False
        return low <= port <= high


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str
    rules: tuple[RefRule, ...] = ()
    committed: bool = False


def compile_rule(rule: SgRule, stateful: bool, members: Mapping[str, Collection[str]],
                 address_groups: Mapping[str, Collection[str]]) -> RefRule | None:
    """The rule as neutron would keep it, or None if the API refuses it."""
    family = {"IPv4": 4, "IPv6": 6}[rule.ethertype]
    protocol = _protocol(rule.protocol, family)
    if protocol == -1 or not _ports_valid(rule, protocol):
        return None
    remotes = _remotes(rule, family, members, address_groups)
    if rule.remote_ip_prefix and not remotes:
        return None  # a prefix of the other family: refused
    return RefRule(rule, stateful, rule.direction, family, protocol, rule.port_range_min,
                   rule.port_range_max, remotes)


def _protocol(value: str | None, family: int) -> int | None:
    """The protocol number, None for any, -1 when refused."""
    if value is None or value.lower() == "any":
        return None
    number = NAMES[value.lower()] if value.lower() in NAMES else int(value)
    if family == 6 and number == ICMP:
        return ICMPV6
    return -1 if family == 4 and number in IPV6_ONLY else number


def _ports_valid(rule: SgRule, protocol: int | None) -> bool:
    if rule.port_range_min is None and rule.port_range_max is None:
        return True
    if protocol in ECHO:
        return rule.port_range_min is not None
    return protocol in PORTED


def _remotes(rule: SgRule, family: int, members: Mapping[str, Collection[str]],
             address_groups: Mapping[str, Collection[str]]) -> tuple[_Net, ...] | None:
    if rule.remote_ip_prefix:
        net = ipaddress.ip_network(rule.remote_ip_prefix, strict=False)
        return (net,) if net.version == family else ()
    values: Collection[str] | None = None
    if rule.remote_group_id:
        values = members.get(rule.remote_group_id, ())
    elif rule.remote_address_group_id:
        values = address_groups.get(rule.remote_address_group_id, ())
    if values is None:
        return None
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


class NeutronPort:
    """One port with port security, as neutron's reference firewall treats it."""

    def __init__(self, port: SgPort, rules: Mapping[str, Sequence[SgRule]],
                 stateful: Mapping[str, bool], members: Mapping[str, Collection[str]],
                 address_groups: Mapping[str, Collection[str]]) -> None:
        self.mac = port.mac.lower()
        self.pairs = self._pairs(port)
        self.onlink = [ipaddress.ip_network(f"{ip}/64", strict=False) for ip in port.fixed_ips
                       if ipaddress.ip_address(ip).version == 6]
        self.rules = [compiled for group in dict.fromkeys(port.security_groups)
                      for rule in rules.get(group, ())
                      if (compiled := compile_rule(rule, stateful.get(group, True), members,
                                                   address_groups)) is not None]
        self.flows: dict[FlowKey, str] = {}

    def _pairs(self, port: SgPort) -> dict[str, list[_Net]]:
        """MAC -> the addresses it may send from [INTRO, first bullet]."""
        pairs: dict[str, list[_Net]] = {self.mac: [ipaddress.ip_network(ip)
                                                   for ip in port.fixed_ips]}
        for address, mac in port.allowed_address_pairs:
            pairs.setdefault((mac or self.mac).lower(), []).append(
                ipaddress.ip_network(address, strict=False))
        for mac, nets in pairs.items():
            nets.append(ipaddress.ip_network(eui64_link_local(mac)))
        return pairs

    def pair_ok(self, pkt: Pkt) -> bool:
        return _inside(pkt.local_ip, self.pairs.get(pkt.mac.lower(), []))

    def verdict(self, pkt: Pkt) -> Verdict:
        """Whether *pkt* passes; flows advance."""
        return self._egress(pkt) if pkt.direction == EGRESS else self._ingress(pkt)

    def icmpv6_in_scope(self, pkt: Pkt) -> bool:
        """The documented deviation W1: ICMPv6 within the link scope."""
        if pkt.protocol != ICMPV6 or pkt.mac.lower() != self.mac:
            return False
        if pkt.direction == INGRESS:
            return (_inside(pkt.remote_ip, [LINK_LOCAL, ipaddress.ip_network("::/128")]
                            + self.onlink) or _inside(pkt.local_ip, [LINK_MULTICAST]))
        if pkt.icmp_type in (134, 137):
            return False
        if pkt.local_ip == "::":
            return _inside(pkt.remote_ip, [LINK_MULTICAST])
        return self.pair_ok(pkt) and _inside(pkt.remote_ip,
                                             [LINK_LOCAL, LINK_MULTICAST] + self.onlink)

    def _egress(self, pkt: Pkt) -> Verdict:
        builtin = self._egress_builtin(pkt)
        if builtin is not None:
            return builtin
        if not self.pair_ok(pkt):
            return Verdict(False, "spoof")
        return self._tracked(pkt)

    def _egress_builtin(self, pkt: Pkt) -> Verdict | None:
        udp = (pkt.family, pkt.local_port, pkt.remote_port) if pkt.protocol == UDP else None
        if self.icmpv6_in_scope(pkt):
            return Verdict(True, "w1-icmpv6")
        if pkt.protocol == ICMPV6 and pkt.icmp_type in NDP_EGRESS and self.pair_ok(pkt):
            return Verdict(True, "builtin-ndp")
        if pkt.protocol == ICMPV6 and pkt.icmp_type in DAD_TYPES and pkt.local_ip == "::" \
                and pkt.mac.lower() == self.mac:
            return Verdict(True, "builtin-ndp")
        if udp == (4, 68, 67) and (self.pair_ok(pkt) or (
                pkt.local_ip == "0.0.0.0" and pkt.mac.lower() == self.mac)):
            return Verdict(True, "builtin-dhcp")
        if udp == (6, 546, 547) and self.pair_ok(pkt):
            return Verdict(True, "builtin-dhcp")
        if udp in ((4, 67, 68), (6, 547, 546)):
            return Verdict(False, "dhcp-server")
        if pkt.protocol == ICMPV6 and pkt.icmp_type == 134:
            return Verdict(False, "router-advertisement")
        return None

    def _ingress(self, pkt: Pkt) -> Verdict:
        if pkt.mac.lower() not in self.pairs:
            return Verdict(False, "not-delivered")
        if self.icmpv6_in_scope(pkt):
            return Verdict(True, "w1-icmpv6")
        if pkt.protocol == ICMPV6 and pkt.icmp_type in NDP_INGRESS:
            return Verdict(True, "builtin-ndp")
        udp = (pkt.family, pkt.local_port, pkt.remote_port) if pkt.protocol == UDP else None
        if udp in ((4, 68, 67), (6, 546, 547)):
            return Verdict(True, "builtin-dhcp")
        return self._tracked(pkt)

    def _tracked(self, pkt: Pkt) -> Verdict:
        """Connection tracking, then the rules [OVSFW tables 72/82]."""
        if self._in_flow(pkt):
            return Verdict(True, "flow")
        if pkt.about is not None and pkt.about in self.flows \
                and pkt.icmp_type in ICMP_ERRORS.get(pkt.protocol, ()):
            return Verdict(True, "related")
        matching = tuple(rule for rule in self.rules if rule.matches(pkt))
        if not matching:
            return Verdict(False, "no-rule")
        commit = any(rule.stateful for rule in matching) and self._starts_flow(pkt)
        if commit:
            self.flows[pkt.key()] = pkt.direction
        return Verdict(True, "rule", matching, commit)

    def _in_flow(self, pkt: Pkt) -> bool:
        origin = self.flows.get(pkt.key())
        if origin is None:
            return False
        if not pkt.is_icmp:
            return True
        request, reply = ECHO[pkt.protocol]
        return pkt.icmp_type == (request if pkt.direction == origin else reply)

    @staticmethod
    def _starts_flow(pkt: Pkt) -> bool:
        return not pkt.is_icmp or pkt.icmp_type == ECHO[pkt.protocol][0]
