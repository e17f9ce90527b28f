"""Neutron security groups as Hyper-V extended port ACLs: a pure translation.

:func:`port_security` turns one port's security groups (as the agent
receives them over RPC, converted to :class:`SgRule` / :class:`SgPort`) into
a :class:`PortSecurity`: the extended ACL rules, MAC spoofing and the DHCP
and router guards the agent writes to the port
(:class:`~winstackers.hyperv.portstate.PortState`).  It imports nothing of
neutron and has no state: the same input gives the same rules with the same
weights, so re-applying a port's state makes no host write.

Sources
-------

[INTRO]  https://docs.openstack.org/neutron/latest/admin/intro-os-networking.html
         ("Security groups")
[API]    https://docs.openstack.org/api-ref/network/v2/#security-group-rules-security-group-rules
         and the ``stateful`` attribute of security groups (default true)
[OVSFW]  https://docs.openstack.org/neutron/latest/contributor/internals/openvswitch_firewall.html
[ACL]    https://learn.microsoft.com/en-us/powershell/module/hyper-v/add-vmnetworkadapterextendedacl
         and https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v-virtual-switch/create-security-policies-with-extended-port-access-control-lists
[SEC]    https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-ethernetswitchportsecuritysettingdata

Neutron semantics implemented
-----------------------------

* Default deny in both directions; rules only allow; a port's groups add up
  [INTRO].  Hyper-V passes a packet no rule matches [ACL], so a Deny of
  everything is written at weight 1 in each direction.
* A rule matches its direction (ingress = to the VM), ethertype, protocol
  (``any``/None, a name neutron accepts, or a number 0-255; ``icmp``/``1`` of
  an IPv6 rule is ICMPv6), the destination port range of TCP/UDP (ingress:
  the VM's port, egress: the remote's), and its remote: ``remote_ip_prefix``,
  the IPs of every member of ``remote_group_id`` (the port itself
  included), or the prefixes of ``remote_address_group_id`` [API].  Remote
  groups and address groups are expanded to one rule per (merged) prefix.
* Stateful groups (the default) let the replies and further packets of an
  allowed flow through [INTRO: "Security group rules are stateful"];
  stateless groups need a rule for every packet [API].
* Built-ins [INTRO; OVSFW tables 71/81]: egress only from the port's fixed
  IPs, allowed-address-pair IPs/CIDRs and the EUI-64 link-local address of
  its MAC; DHCP discover/request from 0.0.0.0; DHCP and DHCPv6 replies in; no
  DHCP(v6) server replies out (also ``dhcp_guard``); ICMPv6 neighbour
  discovery, MLD and router advertisements in and out; no router
  advertisement out (``router_guard``); MAC anti-spoofing
  (``allow_mac_spoofing=False``).
* Port security disabled: no filtering at all [INTRO]: no rules, MAC
  spoofing allowed, guards off.

Hyper-V rules [ACL]: the highest matching weight decides; weights are
distinct per direction; one protocol, one address and one port range per
side; only Allow rules for TCP or UDP may be stateful, and a flow admits
packets of the same 5-tuple both ways before any rule is read.  Hence:

* egress rules are written once per source address of the port;
* a stateful rule becomes stateful TCP and/or UDP rules towards the port's
  own addresses, plus a stateless rule at a lower weight for the rest of what
  it matches (other protocols, other local addresses); so a flow is only
  ever started on the port's own address, and its reply can never be a
  spoofed packet;
* tiers of weights (:mod:`.sg_acl`): default deny < stateless < stateful <
  built-in allowances < built-in denies.

Deviations (every one; the agent logs the per-port ones from ``notes``)
-----------------------------------------------------------------------

Narrower (the port allows less than neutron would):

N1. A rule on ICMP/ICMPv6 with a type (``port_range_min``) or code is not
    applied: Hyper-V cannot match ICMP types.  Note.
N2. A rule with a port range on SCTP, DCCP or UDP-Lite is not applied:
    Hyper-V matches ports of TCP and UDP only.  Note.
N3. In a stateful group, replies of flows other than TCP and UDP (ICMP echo
    replies, GRE, ESP, SCTP, ...) are not allowed back.  Note.
N4. ICMP errors related to an allowed flow (e.g. Packet Too Big,
    Fragmentation Needed) pass only if a rule allows that ICMP.
N5. A rule on protocol 0 (``ip``/``hopopt``) is not applied: iptables reads
    it as any protocol, Open vSwitch as protocol 0, Microsoft says nothing.
    Note.
N6. An allowed address pair whose MAC is not the port's is not allowed, and
    MAC spoofing stays off: Hyper-V can allow every MAC or none besides the
    port's.  Frames from or to that MAC are dropped.  Note.
N7. Ingress UDP 68->67 and 546->547 (DHCP client to server, towards the VM)
    are dropped even if a rule allows them: the VM may never answer them
    (no DHCP server on a port), and a Hyper-V flow would let the answer out.
N8. ICMPv6 redirects from the VM are dropped (router guard drops
    advertisements and redirects; neutron drops advertisements only).
N9. Neighbour discovery/MLD outside the link scope of W1 (e.g. an MLDv1
    report to a site-scope group, or neighbours outside the fixed IPs' /64s
    on a subnet wider than /64 talking from global addresses) passes only
    if a rule allows ICMPv6.
N10. Flows idle for IdleSessionTimeout (255 s) are forgotten, and their
    later replies dropped (conntrack keeps established TCP far longer).
N11. Input neutron itself refuses (unknown protocol, a prefix that is not a
    CIDR or not of the rule's ethertype, several remotes in one rule, a port
    range without a port protocol) is not applied; more than 65,535 rules
    per direction are cut.  Note.

Wider (decisions, each stated with its reason):

W1. ICMPv6 within the link scope passes whatever its type: ingress from
    ``fe80::/10``, from ``::`` or from the /64 of one of the port's IPv6
    fixed IPs, or to ``ff02::/16``; egress from the port's IPv6 sources to
    ``fe80::/10``, ``ff02::/16`` or those /64s, and from ``::`` to
    ``ff02::/16`` (duplicate address detection).  Egress router
    advertisements and redirects stay dropped (router guard).  Why: Hyper-V
    cannot match ICMPv6 types, and neither extreme is acceptable: no ICMPv6
    breaks IPv6 (no neighbour discovery, no SLAAC), all ICMPv6 would let any
    host on the Internet ping the VM.  Every neighbour discovery, MLD and
    router advertisement exchange stays within this scope (RFC 4861: router
    advertisements come from link-local addresses, solicitations go to
    link-scope multicast, neighbours are on-link), so the widening is
    limited to ICMPv6 (e.g. echo) between the VM and its on-link peers.
W2. Non-IP frames are not filtered by extended ACLs (IP only): neutron's
    ARP filtering (ARP only with the port's IPs) is not reproduced.  MAC
    spoofing is still blocked.
W3. A Hyper-V flow lasts until idle, whatever its TCP state (no FIN/RST
    tracking), and Microsoft does not say whether removing a stateful rule
    ends the flows it started; neutron cuts them.

Outside neutron's semantics: a port in both stateful and stateless groups
(neutron's API refuses it) is handled rule by rule: a packet allowed by a
rule of a stateful group starts a flow.

``tests/neutron_sg`` checks all of this by packets: a reference evaluator
written from [INTRO]/[API]/[OVSFW] (with W1 encoded) against the emulator's
evaluation of these rules, on random rule sets and flows; every
disagreement must be one of N1-N9, and none may be wider.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from winstackers.hyperv.portstate import AclRule
from winstackers.neutron.agent.sg_acl import Draft, weigh
from winstackers.neutron.agent.sg_addresses import port_addresses
from winstackers.neutron.agent.sg_builtins import builtin_drafts
from winstackers.neutron.agent.sg_rules import Context, rule_drafts

__all__ = ["PortSecurity", "SgPort", "SgRule", "port_security"]


@dataclass(frozen=True)
class SgRule:
    """One neutron security group rule, as the agent receives it over RPC.

    ``protocol`` is None or ``any`` for any protocol, a name neutron accepts
    (``tcp``, ``udp``, ``icmp``, ``ipv6-icmp``, ``icmpv6``, ``sctp``, ``gre``,
    ...) or a number ``"0"``-``"255"``.  For ICMP the port range fields are
    the ICMP type and code [API].
    """

    direction: str
    ethertype: str
    protocol: str | None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    remote_address_group_id: str | None = None


@dataclass(frozen=True)
class SgPort:
    """The parts of a neutron port the translation reads.

    ``allowed_address_pairs`` holds (IP or CIDR, MAC or None = the port's).
    """

    fixed_ips: tuple[str, ...]
    mac: str
    allowed_address_pairs: tuple[tuple[str, str | None], ...] = ()
    security_groups: tuple[str, ...] = ()
    port_security_enabled: bool = True


@dataclass(frozen=True)
class PortSecurity:
    """What the agent applies to the port.

    ``dhcp_guard``: Hyper-V EnableDhcpGuard, drop DHCP server messages from
    the VM.  ``router_guard``: EnableRouterGuard, drop router advertisements
    and redirects from the VM [SEC].  ``notes``: each neutron rule (or
    allowed address pair) that could not be expressed exactly, and what was
    done instead (never wider).
    """

    acls: frozenset[AclRule]
    allow_mac_spoofing: bool
    dhcp_guard: bool
    router_guard: bool
    notes: tuple[str, ...]


#: A port without port security: nothing filtered.
UNFILTERED = PortSecurity(frozenset(), allow_mac_spoofing=True, dhcp_guard=False,
                          router_guard=False, notes=())


def port_security(port: SgPort, rules: Mapping[str, Sequence[SgRule]],
                  stateful: Mapping[str, bool],
                  group_members: Mapping[str, Collection[str]],
                  address_groups: Mapping[str, Collection[str]]) -> PortSecurity:
    """Translate the security groups of *port* into Hyper-V port security.

    :param rules: the rules of each security group, by group id.
    :param stateful: whether each group is stateful (missing: stateful, the
        API's default).
    :param group_members: member IPs (or CIDRs) of each group, for
        ``remote_group_id``.
    :param address_groups: the prefixes of each address group.
    :raises ValueError: if the port's own MAC is not a MAC address.
    """
    if not port.port_security_enabled:
        return UNFILTERED
    addresses = port_addresses(port.fixed_ips, port.mac, port.allowed_address_pairs)
    ctx = Context(addresses, group_members, address_groups)
    drafts: list[Draft] = builtin_drafts(addresses)
    notes = list(addresses.notes)
    for group in dict.fromkeys(port.security_groups):
        for rule in rules.get(group, ()):
            found, why = rule_drafts(rule, stateful.get(group, True), ctx)
            drafts += found
            notes += [f"security group {group}: {note}" for note in why]
    acls, cut = weigh(drafts)
    return PortSecurity(acls, allow_mac_spoofing=False, dhcp_guard=True, router_guard=True,
                        notes=tuple(dict.fromkeys(notes + list(cut))))
