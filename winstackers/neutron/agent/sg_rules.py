"""One neutron security group rule as extended ACL drafts.

The semantics and the deviations are stated in :mod:`.secgroups`; this
module implements the per-rule part: protocol names and numbers, port ranges
and ICMP type/code, remote prefix / group / address group, and the
decomposition of stateful rules into what Hyper-V can keep state for.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from winstackers.hyperv.portstate import ANY, IN, OUT
from winstackers.neutron.agent.sg_acl import STATEFUL, STATELESS, Draft, allow
from winstackers.neutron.agent.sg_addresses import (
    FAMILY_ANY,
    PortAddresses,
    collapse,
    parse_networks,
)

if TYPE_CHECKING:
    from winstackers.neutron.agent.secgroups import SgRule

#: The protocol names neutron's API accepts (neutron-lib IP_PROTOCOL_MAP).
PROTOCOL_NUMBERS: Mapping[str, int] = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1,
    "igmp": 2, "ip": 0, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
    "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89,
    "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}
TCP, UDP, ICMP, ICMPV6 = 6, 17, 1, 58
#: Protocols whose port range neutron matches, and those Hyper-V can match.
NEUTRON_PORTED = frozenset({6, 17, 33, 132, 136})
HYPERV_PORTED = frozenset({TCP, UDP})
#: Protocols neutron refuses on an IPv4 rule (ipv6-encap, -route, -frag,
#: -icmp, -nonxt, -opts).
IPV6_ONLY = frozenset({41, 43, 44, 58, 59, 60})
_FAMILIES = {"ipv4": 4, "ipv6": 6}
NO_REPLIES = ("replies are not allowed back for protocols other than TCP and UDP "
              "(Hyper-V keeps flow state for TCP and UDP only): narrower")


class _Skip(ValueError):
    """The rule cannot be applied as given; the message says why."""


@dataclass(frozen=True)
class Context:
    """What a rule's translation needs besides the rule."""

    addresses: PortAddresses
    group_members: Mapping[str, Collection[str]]
    address_groups: Mapping[str, Collection[str]]


def rule_drafts(rule: SgRule, stateful: bool, ctx: Context) -> tuple[list[Draft], list[str]]:
    """The drafts expressing *rule*, and notes on anything not expressed."""
    try:
        direction, family = _direction(rule.direction), _family(rule.ethertype)
        protocol = protocol_number(rule.protocol, family)
        ports = _ports(rule, protocol)
        remotes = _remotes(rule, family, ctx)
    except _Skip as skip:
        return [], [f"{describe(rule)}: {skip}"]
    drafts = _expand(direction, family, protocol, ports, remotes, stateful, ctx.addresses)
    narrower = stateful and protocol not in HYPERV_PORTED and bool(drafts)
    return drafts, [f"{describe(rule)}: {NO_REPLIES}"] if narrower else []


def describe(rule: SgRule) -> str:
    """A short human-readable form of *rule* for notes and logs."""
    ports = ("" if rule.port_range_min is None and rule.port_range_max is None
             else f" ports {rule.port_range_min}-{rule.port_range_max}")
    remote = (rule.remote_ip_prefix or (rule.remote_group_id and f"group {rule.remote_group_id}")
              or (rule.remote_address_group_id
                  and f"address group {rule.remote_address_group_id}") or "anywhere")
    return (f"rule {rule.direction} {rule.ethertype} protocol {rule.protocol or 'any'}"
            f"{ports} remote {remote}")


def protocol_number(value: str | int | None, family: int) -> int | None:
    """The IP protocol number of a neutron protocol (None = any).

    Neutron stores ``icmp``/``icmpv6``/``1`` of an IPv6 rule as ``ipv6-icmp``
    (58), and refuses IPv6-only protocols on IPv4 rules.  Protocol 0
    (``ip``/``hopopt``) is not applied: iptables reads it as any protocol,
    Open vSwitch as protocol 0, and Microsoft does not say what
    ``Protocol=0`` means.

    :raises _Skip: when the rule cannot be applied (the message says why).
    """
    text = "" if value is None else str(value).strip().lower()
    if text in ("", "any"):
        return None
    number = PROTOCOL_NUMBERS.get(text)
    if number is None:
        if not (text.isascii() and text.isdigit() and int(text) <= 255):
            raise _Skip(f"unknown protocol {value!r}: not applied")
        number = int(text)
    if number == ICMP and family == 6:
        number = ICMPV6
    if number in IPV6_ONLY and family == 4:
        raise _Skip(f"protocol {value} is IPv6-only and the rule is IPv4: not applied")
    if number == 0:
        raise _Skip("protocol 0 means any protocol to iptables and protocol 0 to Open "
                    "vSwitch; Hyper-V does not document it: not applied (narrower)")
    return number


def _direction(value: str) -> str:
    if value not in ("ingress", "egress"):
        raise _Skip(f"direction {value!r} is not ingress or egress: not applied")
    return IN if value == "ingress" else OUT


def _family(ethertype: str) -> int:
    family = _FAMILIES.get(str(ethertype).lower())
    if family is None:
        raise _Skip(f"ethertype {ethertype!r} is not IPv4 or IPv6: not applied")
    return family


def _ports(rule: SgRule, protocol: int | None) -> str:
    """The ACL port text of the rule's range (ANY when it has none)."""
    low, high = rule.port_range_min, rule.port_range_max
    if low is None and high is None:
        return ANY
    if protocol in (ICMP, ICMPV6):
        raise _Skip("Hyper-V ACLs cannot match an ICMP type or code: not applied (narrower)")
    if protocol in HYPERV_PORTED:
        return _range(low if low is not None else high, high if high is not None else low)
    if protocol in NEUTRON_PORTED:
        raise _Skip("Hyper-V ACLs match ports of TCP and UDP only: not applied (narrower)")
    raise _Skip(f"a port range needs TCP, UDP, SCTP, DCCP or UDP-Lite, not protocol "
                f"{rule.protocol or 'any'}: not applied")


def _range(low: int | None, high: int | None) -> str:
    assert low is not None and high is not None
    if not 0 <= low <= high <= 65535:
        raise _Skip(f"port range {low}-{high} is not within 0-65535: not applied")
    return str(low) if low == high else f"{low}-{high}"


def _remotes(rule: SgRule, family: int, ctx: Context) -> tuple[str, ...]:
    """The remote networks the rule matches (empty: it matches nothing)."""
    given = [r for r in (rule.remote_ip_prefix, rule.remote_group_id,
                         rule.remote_address_group_id) if r]
    if len(given) > 1:
        raise _Skip("more than one of remote_ip_prefix, remote_group_id and "
                    "remote_address_group_id: not applied")
    if rule.remote_ip_prefix:
        return _prefix(rule.remote_ip_prefix, family)
    if rule.remote_group_id:
        return _members(ctx.group_members.get(rule.remote_group_id, ()), family)
    if rule.remote_address_group_id:
        return _members(ctx.address_groups.get(rule.remote_address_group_id, ()), family)
    return (FAMILY_ANY[family],)


def _prefix(prefix: str, family: int) -> tuple[str, ...]:
    nets, bad = parse_networks([prefix])
    if bad:
        raise _Skip(f"remote_ip_prefix {prefix!r} is not a CIDR: not applied")
    if nets[0].version != family:
        raise _Skip(f"remote_ip_prefix {prefix} is not IPv{family}: matches nothing")
    return collapse(nets, family)


def _members(values: Iterable[str], family: int) -> tuple[str, ...]:
    """Member addresses/prefixes of *family*; entries that do not parse are
    left out (narrower)."""
    nets, _ = parse_networks(values)
    return collapse(nets, family)


def _expand(direction: str, family: int, protocol: int | None, ports: str,
            remotes: tuple[str, ...], stateful: bool, addresses: PortAddresses) -> list[Draft]:
    """Allow drafts for every (local, remote) pair of the rule.

    Egress rules are sent from the port's own addresses only (anti-spoofing).
    A stateful rule keeps state for TCP and UDP, only towards the port's
    own addresses (so a flow never lets a spoofed reply out); a stateless
    draft below it admits the rest of what the rule matches, without state.
    """
    own = addresses.sources(family)
    stateless_locals = (FAMILY_ANY[family],) if direction == IN else own
    drafts: list[Draft] = []
    if stateful:
        for proto in _stateful_protocols(protocol):
            drafts += _product(STATEFUL, direction, proto, own, remotes, ports)
    if not stateful or protocol not in HYPERV_PORTED or direction == IN:
        drafts += _product(STATELESS, direction, protocol, stateless_locals, remotes, ports)
    return drafts


def _stateful_protocols(protocol: int | None) -> tuple[int, ...]:
    if protocol is None:
        return (TCP, UDP)
    return (protocol,) if protocol in HYPERV_PORTED else ()


def _product(tier: int, direction: str, protocol: int | None, locals_: Iterable[str],
             remotes: tuple[str, ...], ports: str) -> list[Draft]:
    pair = (ports, ANY) if direction == IN else (ANY, ports)
    if protocol not in HYPERV_PORTED:
        pair = (ANY, ANY)
    return [allow(tier, direction, protocol, local, remote, pair, stateful=tier == STATEFUL)
            for local in locals_ for remote in remotes]
