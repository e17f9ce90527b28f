"""Weightless ACL drafts, and the weights that order them on a port.

The security-group translation first produces :class:`Draft` rules: an
extended ACL rule without its weight, tagged with a *tier*.  :func:`weigh`
then numbers them.  Hyper-V applies the highest matching weight first
(https://learn.microsoft.com/en-us/powershell/module/hyper-v/add-vmnetworkadapterextendedacl),
so the tiers, lowest first, are:

1. ``DEFAULT``: the catch-all Deny of each direction (weight 1), because a
   packet no rule matches passes;
2. ``STATELESS``: security-group allows that keep no state;
3. ``STATEFUL``: security-group allows that start a flow (TCP/UDP), above the
   stateless ones so that a packet both match starts its flow;
4. ``BUILTIN``: neutron's built-in allowances (DHCP, DHCPv6, ICMPv6 on-link);
5. ``PROTECT``: the built-in Denies that no rule may override.

Inside a tier drafts are sorted on their fields, so the same drafts always
get the same weights whatever order they were produced in, and re-applying
a port's state makes no host write.

The two lowest tiers count up from weight 1 and the three highest count down
from 65535, so the weights of the built-in rules never depend on the port's
security group rules: a rule or a remote group member that comes or goes
moves only security-group allows.  That matters while a port is rewritten
in several host calls (rules rewritten in place, then added, then removed:
:meth:`winstackers.hyperv.ports.SwitchPorts.apply`): at no step may the
port lack a built-in Deny while a lower Allow it overrides is there (that
would briefly admit, say, DHCP requests towards the VM).
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from winstackers.hyperv.portstate import ALLOW, ANY, DENY, IN, OUT, AclRule

DEFAULT, STATELESS, STATEFUL, BUILTIN, PROTECT = range(5)
#: The tiers weighed up from 1; the others are weighed down from the top.
_COUNTED_UP = frozenset({DEFAULT, STATELESS})
#: Weights are uint16 and 0 is not a usable weight, so a port holds at most
#: this many rules per direction.
MAX_RULES_PER_DIRECTION = 65535
_NAMES = {DEFAULT: "neutron-default-deny", STATELESS: "neutron-sg",
          STATEFUL: "neutron-sg-stateful", BUILTIN: "neutron-builtin",
          PROTECT: "neutron-protect"}
_PROTOCOLS = {6: "TCP", 17: "UDP"}


def protocol_text(number: int | None) -> str:
    """The ACL Protocol of an IP protocol number (None = any)."""
    if number is None:
        return ANY
    return _PROTOCOLS.get(number, str(number))


def network_text(value: str) -> str:
    """A host or prefix in canonical CIDR form (host bits cleared)."""
    return str(ipaddress.ip_network(value, strict=False))


@dataclass(frozen=True, order=True)
class Draft:
    """An extended ACL rule waiting for its weight.  Addresses are canonical
    CIDR text or ``ANY``, ports ``ANY``/``"n"``/``"lo-hi"``."""

    tier: int
    direction: str
    action: str
    protocol: str = ANY
    local_address: str = ANY
    remote_address: str = ANY
    local_ports: str = ANY
    remote_ports: str = ANY
    stateful: bool = False

    def rule(self, weight: int) -> AclRule:
        """This draft as the host library's rule, at *weight*."""
        return AclRule(self.direction, self.action, weight, self.protocol,
                       self.local_address, self.remote_address, self.local_ports,
                       self.remote_ports, self.stateful, name=_NAMES[self.tier])


def allow(tier: int, direction: str, protocol: int | None, local: str, remote: str,
          ports: tuple[str, str] = (ANY, ANY), stateful: bool = False) -> Draft:
    """An Allow draft; *ports* is (local, remote)."""
    return Draft(tier, direction, ALLOW, protocol_text(protocol), local, remote,
                 ports[0], ports[1], stateful)


def deny(tier: int, direction: str, protocol: int | None = None, local: str = ANY,
         remote: str = ANY, ports: tuple[str, str] = (ANY, ANY)) -> Draft:
    """A Deny draft; *ports* is (local, remote)."""
    return Draft(tier, direction, DENY, protocol_text(protocol), local, remote,
                 ports[0], ports[1])


def weigh(drafts: Iterable[Draft]) -> tuple[frozenset[AclRule], tuple[str, ...]]:
    """Number *drafts* per direction: the default deny and the stateless
    allows from weight 1 up, the built-in denies, the built-in allowances and
    the stateful allows from :data:`MAX_RULES_PER_DIRECTION` down (see the
    module documentation).

    Returns the rules and the notes of anything left out: if a direction
    holds more than :data:`MAX_RULES_PER_DIRECTION` rules, the surplus
    security-group allows (highest sort order first) are dropped, which only
    ever narrows the port.
    """
    unique = set(drafts)
    rules: set[AclRule] = set()
    notes: list[str] = []
    for direction in (IN, OUT):
        kept, dropped = _fit(sorted(d for d in unique if d.direction == direction))
        rules.update(draft.rule(weight) for draft, weight in _weights(kept))
        if dropped:
            notes.append(f"{dropped} security group rule(s) of direction {direction!r} "
                         f"left out: a port holds at most {MAX_RULES_PER_DIRECTION}")
    return frozenset(rules), tuple(notes)


def _weights(ordered: list[Draft]) -> list[tuple[Draft, int]]:
    """Each of one direction's sorted drafts with its weight (at most
    :data:`MAX_RULES_PER_DIRECTION` drafts: the two runs never meet)."""
    up = [draft for draft in ordered if draft.tier in _COUNTED_UP]
    down = sorted((draft for draft in ordered if draft.tier not in _COUNTED_UP),
                  key=lambda draft: -draft.tier)  # stable: field order within a tier
    return [*zip(up, itertools.count(1)),
            *zip(down, itertools.count(MAX_RULES_PER_DIRECTION, -1))]


def _fit(ordered: list[Draft]) -> tuple[list[Draft], int]:
    """Keep every non-rule draft, and as many rule drafts as fit."""
    surplus = len(ordered) - MAX_RULES_PER_DIRECTION
    if surplus <= 0:
        return ordered, 0
    fixed = [d for d in ordered if d.tier not in (STATELESS, STATEFUL)]
    rules = [d for d in ordered if d.tier in (STATELESS, STATEFUL)]
    kept = rules[:len(rules) - surplus]
    return sorted(fixed + kept), len(rules) - len(kept)
