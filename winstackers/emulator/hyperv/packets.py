"""Decide whether a packet passes a Hyper-V virtual switch port's extended ACLs.

The emulated host uses this module to answer "would this packet get through?"
for a port carrying ``Msvm_EthernetSwitchPortExtendedAclSettingData`` rules.
Rules arrive as plain mappings of their WMI properties; packets are
:class:`Packet` values; :func:`evaluate` returns a :class:`Verdict`.

Semantics implemented, and where each comes from
------------------------------------------------

[CLASS] https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-ethernetswitchportextendedaclsettingdata
[CMDLET] https://learn.microsoft.com/en-us/powershell/module/hyper-v/add-vmnetworkadapterextendedacl
[POLICY] https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v-virtual-switch/create-security-policies-with-extended-port-access-control-lists

* Properties and their MOF defaults [CLASS]: ``Direction`` (uint8, 1 Incoming,
  2 Outgoing, default 0 = unknown), ``Action`` (uint8, 1 Allow, 2 Deny,
  default 0 = unknown), ``LocalIPAddress`` / ``RemoteIPAddress`` (a host or a
  CIDR subnet, ``0.0.0.0/0`` all IPv4, ``::/0`` all IPv6, default ``ANY`` for
  both families), ``LocalPort`` / ``RemotePort`` (``"80"`` or
  ``"49152-49182"``, default ``ANY``), ``Protocol`` (``TCP``, ``UDP`` or an IP
  protocol number such as ``"1"``, default ``ANY``), ``Weight`` (uint16,
  default 0), ``Stateful`` (default FALSE) and ``IdleSessionTimeout`` (uint16
  seconds, default 255).  A property that is absent or ``None`` takes its MOF
  default; an empty string address/port/protocol is read as ``ANY`` (the
  unset value WMI clients commonly render).
* Direction is from the VM's point of view [CMDLET]: *local* is the VM side
  (destination of an inbound packet, source of an outbound one) and *remote*
  the other side.  :class:`Packet` is already expressed that way.  Rules whose
  Direction differs from the packet's are ignored.
* "Larger weight values apply first, and once an ACL entry applies to a
  packet, other entries are no longer relevant for that packet." [CMDLET]
* Stateful rules always allow traffic; once a stateful Allow rule matches,
  "all subsequent packets in both directions of the same flow are allowed",
  until the flow sees no traffic in either direction for IdleSessionTimeout
  seconds [POLICY].  A flow is the protocol plus the VM-relative tuple
  (local_ip, local_port, remote_ip, remote_port), so the reply matches it.  A
  flow is live while ``now - last_seen < IdleSessionTimeout``; each admitted
  packet refreshes ``last_seen``.

Choices where Microsoft is silent
---------------------------------

* No matching rule: the packet **passes**.  Microsoft's examples [POLICY]
  build default-deny out of an explicit low-weight Deny rule, so the code
  under test must program its own default deny.
* Two matching rules with the same weight: **Deny wins** (least forgiving).
  Among equal weight and equal action the first rule given decides.
* A rule naming a specific LocalPort/RemotePort only matches packets that
  carry ports (TCP/UDP); ICMP and other protocols never match it.  A
  Protocol/ports ``ANY`` rule matches every protocol.
* IPv4 rule addresses never match IPv6 packets and vice versa; ``ANY``
  matches both.  Protocol names are case-insensitive and equal to their
  numbers (``TCP`` = 6, ``UDP`` = 17, ``ICMP`` = 1, ``ICMPv6`` = 58).
* A Stateful rule whose Action is Deny is rejected as bad rule data, because
  stateful rules "always allow" [POLICY].  Every rule is validated on every
  call, whether or not it matches; bad data raises :class:`ValueError` naming
  the rule (its ``Name``, else its ``InstanceID``) and the property.

Not emulated
------------

* The legacy ``Msvm_EthernetSwitchPortAclSettingData`` (MAC/IP-only ACLs).
* ``IsolationID`` filtering (the property is ignored).
* ICMP type/code matching, per-rule counters, metering and rate limiting.
* TCP state tracking (SYN/FIN): a flow is only the tuple and its idle timer.
"""

import ipaddress
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

INBOUND = "inbound"
OUTBOUND = "outbound"

_T = TypeVar("_T")
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_PortRange = tuple[int, int]
_FlowKey = tuple[int, str, int | None, str, int | None]

_DIRECTIONS = {1: INBOUND, 2: OUTBOUND}
_ALLOW = 1
_DENY = 2
_ACTIONS = {_ALLOW: "Allow", _DENY: "Deny"}
_PROTOCOL_NAMES = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58}
_PORTED_PROTOCOLS = frozenset({6, 17})
_MAX_PORT = 65535
_UINT8_MAX = 255
_UINT16_MAX = 65535

#: MOF defaults of the properties this module reads [CLASS].
_DEFAULTS: Mapping[str, Any] = {
    "Direction": 0,
    "Action": 0,
    "LocalIPAddress": "ANY",
    "RemoteIPAddress": "ANY",
    "LocalPort": "ANY",
    "RemotePort": "ANY",
    "Protocol": "ANY",
    "Weight": 0,
    "Stateful": False,
    "IdleSessionTimeout": 255,
}


# --------------------------------------------------------------------------
# Value parsers shared by packets and rules.  They raise ValueError (or
# TypeError) with a short detail; callers add the field/rule being parsed.
# --------------------------------------------------------------------------


def _protocol_number(text: str) -> int:
    """Map ``tcp``/``udp``/``icmp``/``icmpv6`` or ``"0"``-``"255"`` to a number."""
    name = text.strip().lower()
    if name in _PROTOCOL_NAMES:
        return _PROTOCOL_NAMES[name]
    if not (name.isascii() and name.isdigit()):
        raise ValueError("expected TCP, UDP, ICMP, ICMPv6 or an IP protocol number")
    return _bounded(int(name), _UINT8_MAX)


def _bounded(number: int, maximum: int) -> int:
    """Return ``number`` if it lies in 0..maximum."""
    if not 0 <= number <= maximum:
        raise ValueError(f"{number} is outside 0-{maximum}")
    return number


def _uint(value: Any, maximum: int) -> int:
    """Read an unsigned WMI integer given as ``int`` or a decimal string."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer 0-{maximum}")
    return _bounded(value, maximum)


def _text(value: Any) -> str | None:
    """Return a stripped string, or None for ``ANY`` (any case) and empty."""
    if not isinstance(value, str):
        raise TypeError("expected a string")
    text = value.strip()
    return None if text == "" or text.lower() == "any" else text


def _port(text: str) -> int:
    """Parse one decimal port number."""
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{text!r} is not a port number")
    return _bounded(int(text), _MAX_PORT)


# --------------------------------------------------------------------------
# Packet
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Packet:
    """One packet crossing a switch port, described from the VM's side.

    ``direction`` is :data:`INBOUND` (to the VM) or :data:`OUTBOUND` (from
    the VM).  ``local_ip``/``local_port`` are the VM's end whatever the
    direction [CMDLET].  ``protocol`` is ``tcp``, ``udp``, ``icmp``,
    ``icmpv6`` (any case) or a decimal IP protocol number.  Ports are only
    accepted for TCP and UDP and may be left ``None``.  Invalid values raise
    :class:`ValueError` naming the field at fault.
    """

    direction: str
    protocol: str
    local_ip: str
    remote_ip: str
    local_port: int | None = None
    remote_port: int | None = None

    def __post_init__(self) -> None:
        if self.direction not in (INBOUND, OUTBOUND):
            raise ValueError(
                f"Packet.direction: {self.direction!r} is not {INBOUND!r} or {OUTBOUND!r}"
            )
        number = _packet_field("protocol", self.protocol, _protocol_number)
        local = _packet_field("local_ip", self.local_ip, ipaddress.ip_address)
        remote = _packet_field("remote_ip", self.remote_ip, ipaddress.ip_address)
        if local.version != remote.version:
            raise ValueError("Packet.remote_ip: address family differs from local_ip")
        for name in ("local_port", "remote_port"):
            _check_packet_port(name, getattr(self, name), number)


def _packet_field(name: str, value: Any, parse: Callable[[Any], _T]) -> _T:
    """Parse one Packet field, re-raising errors as ValueError naming it."""
    if not isinstance(value, str):
        raise ValueError(f"Packet.{name}: expected a string, got {value!r}")
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(f"Packet.{name}: {value!r}: {exc}") from None


def _check_packet_port(name: str, value: Any, protocol: int) -> None:
    """Ports must be None or 0-65535, and only TCP/UDP packets have them."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"Packet.{name}: expected an int or None, got {value!r}")
    if not 0 <= value <= _MAX_PORT:
        raise ValueError(f"Packet.{name}: {value} is outside 0-{_MAX_PORT}")
    if protocol not in _PORTED_PROTOCOLS:
        raise ValueError(f"Packet.{name}: protocol {protocol} carries no ports")


def _packet_protocol(packet: Packet) -> int:
    return _protocol_number(packet.protocol)


def _flow_key(packet: Packet) -> _FlowKey:
    """Direction-independent flow identity, with IPs in canonical form."""
    local = str(ipaddress.ip_address(packet.local_ip))
    remote = str(ipaddress.ip_address(packet.remote_ip))
    return (_packet_protocol(packet), local, packet.local_port, remote, packet.remote_port)


# --------------------------------------------------------------------------
# Verdict and flow table
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Outcome of :func:`evaluate`.

    ``rule`` is the deciding rule mapping (the very object passed in), or
    ``None`` when an established flow or the absence of any match decided.
    ``reason`` is human readable: ``"rule weight 100 Allow"``,
    ``"established stateful flow"`` or ``"no rule matched: passes"``.
    """

    allowed: bool
    rule: Mapping[str, Any] | None
    reason: str


@dataclass
class _Flow:
    last_seen: float
    timeout: int

    def expired(self, now: float) -> bool:
        """Idle for IdleSessionTimeout seconds or more [POLICY]."""
        return now - self.last_seen >= self.timeout


class FlowTable:
    """Stateful flow entries of one port; thread-safe (threading.Lock).

    Entries are created by :func:`evaluate` when a stateful Allow rule
    decides, and dropped lazily once idle.  The table keeps the latest
    ``now`` it was given; ``len()`` counts entries still live at that time,
    so tests driving an explicit clock see consistent counts.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flows: dict[_FlowKey, _Flow] = {}
        self._clock = float("-inf")

    def __len__(self) -> int:
        with self._lock:
            self._purge()
            return len(self._flows)

    def _admit(self, key: _FlowKey, now: float) -> bool:
        """Return whether ``key`` is a live flow, refreshing it if so."""
        with self._lock:
            self._clock = max(self._clock, now)
            flow = self._flows.get(key)
            if flow is None:
                return False
            if flow.expired(now):
                del self._flows[key]
                return False
            flow.last_seen = now
            return True

    def _record(self, key: _FlowKey, timeout: int, now: float) -> None:
        """Start (or restart) the flow ``key`` with an idle timeout."""
        with self._lock:
            self._clock = max(self._clock, now)
            self._purge()
            self._flows[key] = _Flow(last_seen=now, timeout=timeout)

    def _purge(self) -> None:
        """Drop flows idle at the latest known time; caller holds the lock."""
        dead = [key for key, flow in self._flows.items() if flow.expired(self._clock)]
        for key in dead:
            del self._flows[key]


# --------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    """A validated rule; ``None`` in a match field means ANY."""

    source: Mapping[str, Any]
    direction: str
    action: int
    local_net: _Network | None
    remote_net: _Network | None
    local_ports: _PortRange | None
    remote_ports: _PortRange | None
    protocol: int | None
    weight: int
    stateful: bool
    timeout: int


def _rule_label(raw: Mapping[str, Any]) -> str:
    """Name the rule for error messages: Name, else InstanceID."""
    for prop in ("Name", "InstanceID"):
        if raw.get(prop):
            return repr(raw[prop])
    return "(unnamed)"


def _prop(raw: Mapping[str, Any], name: str, parse: Callable[[Any], _T]) -> _T:
    """Parse property ``name`` (MOF default when absent or None)."""
    value = raw.get(name)
    if value is None:
        value = _DEFAULTS[name]
    try:
        return parse(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"extended ACL rule {_rule_label(raw)}: property {name}={value!r}: {exc}"
        ) from None


def _parse_direction(value: Any) -> str:
    number = _uint(value, _UINT8_MAX)
    if number not in _DIRECTIONS:
        raise ValueError("expected 1 (Incoming) or 2 (Outgoing)")
    return _DIRECTIONS[number]


def _parse_action(value: Any) -> int:
    number = _uint(value, _UINT8_MAX)
    if number not in _ACTIONS:
        raise ValueError("expected 1 (Allow) or 2 (Deny)")
    return number


def _parse_address(value: Any) -> _Network | None:
    """A host (``10.0.0.4``) or subnet (``10.0.0.0/24``); None for ANY."""
    text = _text(value)
    return None if text is None else ipaddress.ip_network(text, strict=False)


def _parse_ports(value: Any) -> _PortRange | None:
    """``"80"`` or ``"49152-49182"``; None for ANY."""
    text = _text(value)
    if text is None:
        return None
    low, sep, high = text.partition("-")
    first = _port(low.strip())
    last = _port(high.strip()) if sep else first
    if first > last:
        raise ValueError(f"range start {first} is above its end {last}")
    return (first, last)


def _parse_protocol(value: Any) -> int | None:
    text = _text(value)
    return None if text is None else _protocol_number(text)


def _parse_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("expected a boolean")
    return value


def _parse_rule(raw: Mapping[str, Any]) -> _Rule:
    """Validate one rule mapping; ValueError names the rule and property."""
    rule = _Rule(
        source=raw,
        direction=_prop(raw, "Direction", _parse_direction),
        action=_prop(raw, "Action", _parse_action),
        local_net=_prop(raw, "LocalIPAddress", _parse_address),
        remote_net=_prop(raw, "RemoteIPAddress", _parse_address),
        local_ports=_prop(raw, "LocalPort", _parse_ports),
        remote_ports=_prop(raw, "RemotePort", _parse_ports),
        protocol=_prop(raw, "Protocol", _parse_protocol),
        weight=_prop(raw, "Weight", lambda v: _uint(v, _UINT16_MAX)),
        stateful=_prop(raw, "Stateful", _parse_bool),
        timeout=_prop(raw, "IdleSessionTimeout", lambda v: _uint(v, _UINT16_MAX)),
    )
    if rule.stateful and rule.action != _ALLOW:
        raise ValueError(
            f"extended ACL rule {_rule_label(raw)}: property Stateful=True: "
            "stateful rules must have Action 1 (Allow)"
        )
    return rule


# --------------------------------------------------------------------------
# Matching and evaluation
# --------------------------------------------------------------------------


def _address_matches(net: _Network | None, ip: str) -> bool:
    """ANY matches both families; otherwise same family and inside net."""
    if net is None:
        return True
    address = ipaddress.ip_address(ip)
    return address.version == net.version and address in net


def _port_matches(ports: _PortRange | None, port: int | None) -> bool:
    """ANY matches anything; a port or range needs a packet port inside it."""
    if ports is None:
        return True
    return port is not None and ports[0] <= port <= ports[1]


def _matches(rule: _Rule, packet: Packet) -> bool:
    return (
        rule.direction == packet.direction
        and rule.protocol in (None, _packet_protocol(packet))
        and _address_matches(rule.local_net, packet.local_ip)
        and _address_matches(rule.remote_net, packet.remote_ip)
        and _port_matches(rule.local_ports, packet.local_port)
        and _port_matches(rule.remote_ports, packet.remote_port)
    )


def _decide(matching: Iterable[_Rule]) -> _Rule | None:
    """Highest weight wins [CMDLET]; on a weight tie Deny wins (our choice)."""
    return max(matching, key=lambda rule: (rule.weight, rule.action == _DENY), default=None)


def evaluate(
    rules: Iterable[Mapping[str, Any]],
    packet: Packet,
    flows: FlowTable | None = None,
    now: float | None = None,
) -> Verdict:
    """Decide whether ``packet`` passes a port carrying ``rules``.

    Every rule is validated first (bad data raises :class:`ValueError`).  A
    live flow in ``flows`` admits the packet and is refreshed.  Otherwise the
    highest-weight matching rule decides; a stateful Allow rule records the
    flow in ``flows`` with its IdleSessionTimeout.  With no match the packet
    passes.  ``now`` (seconds) defaults to :func:`time.monotonic`.
    """
    parsed = [_parse_rule(raw) for raw in rules]
    at = time.monotonic() if now is None else now
    key = _flow_key(packet)
    if flows is not None and flows._admit(key, at):
        return Verdict(True, None, "established stateful flow")
    rule = _decide(candidate for candidate in parsed if _matches(candidate, packet))
    if rule is None:
        return Verdict(True, None, "no rule matched: passes")
    if flows is not None and rule.stateful:
        flows._record(key, rule.timeout, at)
    reason = f"rule weight {rule.weight} {_ACTIONS[rule.action]}"
    return Verdict(rule.action == _ALLOW, rule.source, reason)


def validate_rule(raw: Mapping[str, Any]) -> None:
    """Check that *raw* is a rule this module can evaluate.

    :raises ValueError: naming the rule and the property at fault.
    """
    _parse_rule(raw)
