"""A switch port's desired configuration, as one immutable value.

A :class:`PortState` says everything Winstackers sets on a port: the
vSwitch, VLAN, MAC spoofing, extended ACL rules, SR-IOV, bandwidth and the
port profile.  Values are checked when they are built, so an invalid state
is refused before any host call, with the field named
(:class:`~winstackers.hyperv.errors.InvalidDesiredState`).

Facts (Microsoft Learn, hyperv_v2 and the Hyper-V PowerShell module):

- Security: MAC spoofing, DHCP guard ("blocks DHCP offers" from the VM)
  and router guard (router advertisements and redirects), all off by default
  (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-ethernetswitchportsecuritysettingdata).
- VLAN: access mode tags the port with one id; trunk mode passes the
  allowed ids and carries the native VLAN untagged
  (https://learn.microsoft.com/en-us/powershell/module/hyper-v/set-vmnetworkadaptervlan).
  Valid ids are not documented; 1-4094 (IEEE 802.1Q) are accepted.
- Extended ACLs: direction from the VM's point of view, allow/deny, the
  larger weight applies first, stateful rules allow the reply of a flow
  (https://learn.microsoft.com/en-us/powershell/module/hyper-v/add-vmnetworkadapterextendedacl).
  Protocol is ANY, TCP, UDP or an IP protocol number.
- SR-IOV: IOVOffloadWeight 0-100 (0 off), IOVQueuePairsRequested >= 1
  (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-ethernetswitchportoffloadsettingdata).
- Bandwidth: the cmdlets speak bits per second
  (https://learn.microsoft.com/en-us/powershell/module/hyper-v/set-vmnetworkadapter);
  the WMI page gives no unit, and Winstackers writes bits per second.
  A reservation below 10 MiB/s is refused, as the retired os-win did
  (Microsoft documents no minimum).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from winstackers.hyperv.errors import InvalidDesiredState

IN, OUT = "in", "out"
ALLOW, DENY = "allow", "deny"
UNTAGGED, ACCESS, TRUNK = "untagged", "access", "trunk"
ANY = "ANY"
MIN_RESERVATION_BPS = 10 * 1024 * 1024
_GUID = re.compile(r"^\{?[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}?$")


def _refuse(name: str, value: Any, why: str) -> None:
    raise InvalidDesiredState(field=name, detail=f"{value!r}: {why}")


def _vlan_id(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4094:
        _refuse(name, value, "a VLAN id is 1-4094")


@dataclass(frozen=True)
class Vlan:
    """Untagged (the default), access with one id, or trunk."""

    mode: str = UNTAGGED
    access_id: int = 0
    native_id: int = 0
    allowed: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.mode == ACCESS:
            _vlan_id("vlan.access_id", self.access_id)
        elif self.mode == TRUNK:
            if not self.allowed:
                _refuse("vlan.allowed", self.allowed, "a trunk needs allowed VLAN ids")
            for vlan in self.allowed:
                _vlan_id("vlan.allowed", vlan)
            if self.native_id:
                _vlan_id("vlan.native_id", self.native_id)
            object.__setattr__(self, "allowed", tuple(sorted(set(self.allowed))))
        elif self.mode != UNTAGGED:
            _refuse("vlan.mode", self.mode, "must be untagged, access or trunk")

    @classmethod
    def access(cls, vlan_id: int) -> Vlan:
        """Access mode on *vlan_id*."""
        return cls(ACCESS, access_id=vlan_id)

    @classmethod
    def trunk(cls, allowed: tuple[int, ...] | list[int], native_id: int = 0) -> Vlan:
        """Trunk mode passing *allowed*, *native_id* untagged."""
        return cls(TRUNK, native_id=native_id, allowed=tuple(allowed))


def _address(name: str, value: str) -> str:
    if value.upper() == ANY:
        return ANY
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        _refuse(name, value, "must be ANY, an IP address or a CIDR prefix")
    raise AssertionError  # unreachable: _refuse raises


def _ports(name: str, value: str) -> str:
    if value.upper() == ANY:
        return ANY
    match = re.fullmatch(r"(\d{1,5})(?:-(\d{1,5}))?", value.strip())
    if not match:
        _refuse(name, value, "must be ANY, a port or a range low-high")
    assert match is not None
    low, high = int(match.group(1)), int(match.group(2) or match.group(1))
    if not 0 <= low <= high <= 65535:
        _refuse(name, value, "ports are 0-65535, low <= high")
    return str(low) if low == high else f"{low}-{high}"


def _protocol(value: str | int) -> str:
    text = str(value).strip().upper()
    if text in (ANY, "TCP", "UDP"):
        return text
    if text.isdigit() and 0 <= int(text) <= 255:
        return {"6": "TCP", "17": "UDP"}.get(str(int(text)), str(int(text)))
    _refuse("acl.protocol", value, "must be ANY, TCP, UDP or an IP protocol number 0-255")
    raise AssertionError  # unreachable


@dataclass(frozen=True)
class AclRule:
    """One extended ACL rule.  Addresses, ports and protocol are normalised
    (``tcp`` -> ``TCP``, ``6`` -> ``TCP``, ``10.0.0.5/24`` -> ``10.0.0.0/24``),
    so equal rules compare equal however they were written."""

    direction: str
    action: str
    weight: int
    protocol: str = ANY
    local_address: str = ANY
    remote_address: str = ANY
    local_ports: str = ANY
    remote_ports: str = ANY
    stateful: bool = False
    idle_timeout: int = 255
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.direction not in (IN, OUT):
            _refuse("acl.direction", self.direction, "must be 'in' or 'out'")
        if self.action not in (ALLOW, DENY):
            _refuse("acl.action", self.action, "must be 'allow' or 'deny'")
        if isinstance(self.weight, bool) or not 1 <= self.weight <= 65535:
            _refuse("acl.weight", self.weight, "must be 1-65535")
        norm = {"protocol": _protocol(self.protocol),
                "local_address": _address("acl.local_address", self.local_address),
                "remote_address": _address("acl.remote_address", self.remote_address),
                "local_ports": _ports("acl.local_ports", self.local_ports),
                "remote_ports": _ports("acl.remote_ports", self.remote_ports)}
        for key, value in norm.items():
            object.__setattr__(self, key, value)
        self._check_ports_and_state()

    def _check_ports_and_state(self) -> None:
        ported = self.protocol in ("TCP", "UDP")
        if not ported and (self.local_ports, self.remote_ports) != (ANY, ANY):
            _refuse("acl.local_ports", self.local_ports, f"ports need TCP or UDP, not "
                    f"{self.protocol}")
        if self.stateful and (self.action != ALLOW or not ported):
            _refuse("acl.stateful", True, "stateful rules must allow TCP or UDP")
        if not 0 <= self.idle_timeout <= 65535:
            _refuse("acl.idle_timeout", self.idle_timeout, "must be 0-65535 seconds")
        if len(self.name) > 64:
            _refuse("acl.name", self.name, "at most 64 characters")


@dataclass(frozen=True)
class Sriov:
    """SR-IOV offload: weight 1-100 (0 would mean off: use ``sriov=None``)."""

    offload_weight: int = 100
    queue_pairs: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.offload_weight <= 100:
            _refuse("sriov.offload_weight", self.offload_weight, "must be 1-100")
        if self.queue_pairs < 1:
            _refuse("sriov.queue_pairs", self.queue_pairs, "must be at least 1")


@dataclass(frozen=True)
class Bandwidth:
    """Limits in bits per second; burst size in bytes."""

    limit_bps: int = 0
    burst_limit_bps: int = 0
    burst_size_bytes: int = 0
    reservation_bps: int = 0

    def __post_init__(self) -> None:
        for name in ("limit_bps", "burst_limit_bps", "burst_size_bytes", "reservation_bps"):
            if getattr(self, name) < 0:
                _refuse(f"bandwidth.{name}", getattr(self, name), "must not be negative")
        if 0 < self.reservation_bps < MIN_RESERVATION_BPS:
            _refuse("bandwidth.reservation_bps", self.reservation_bps,
                    f"below the minimum of {MIN_RESERVATION_BPS} bit/s")
        if self.burst_limit_bps and self.burst_limit_bps < self.limit_bps:
            _refuse("bandwidth.burst_limit_bps", self.burst_limit_bps, "below limit_bps")


@dataclass(frozen=True)
class Profile:
    """A port profile (HNV uses ProfileId and ProfileData)."""

    profile_id: str
    profile_data: int = 1
    profile_name: str = ""
    vendor_id: str = "{00000000-0000-0000-0000-000000000000}"
    vendor_name: str = ""

    def __post_init__(self) -> None:
        for name in ("profile_id", "vendor_id"):
            if not _GUID.match(getattr(self, name)):
                _refuse(f"profile.{name}", getattr(self, name), "must be a GUID")
        if len(self.profile_name) > 127 or len(self.vendor_name) > 127:
            _refuse("profile.profile_name", self.profile_name, "at most 127 characters")


@dataclass(frozen=True)
class PortState:
    """Everything Winstackers sets on one switch port.

    ``switch`` is the vSwitch's name, or None for a disconnected port.
    Rules are a set: their order on the host is their weights.
    """

    switch: str | None
    vlan: Vlan = Vlan()
    allow_mac_spoofing: bool = False
    acls: frozenset[AclRule] = frozenset()
    #: Drop DHCP server messages from the VM (EnableDhcpGuard).
    dhcp_guard: bool = False
    #: Drop router advertisements and redirects from the VM (EnableRouterGuard).
    router_guard: bool = False
    sriov: Sriov | None = None
    bandwidth: Bandwidth | None = None
    profile: Profile | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "acls", frozenset(self.acls))
        seen: dict[tuple[str, int], AclRule] = {}
        for rule in self.acls:
            key = (rule.direction, rule.weight)
            if key in seen:
                _refuse("acls", rule, f"another rule has direction {rule.direction} and "
                        f"weight {rule.weight}; a port's rules need distinct weights per direction")
            seen[key] = rule
