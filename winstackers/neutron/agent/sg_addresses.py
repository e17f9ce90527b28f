"""A port's own addresses, as the security-group translation needs them.

*Sources* are the addresses a port may send from (neutron's anti-spoofing,
https://docs.openstack.org/neutron/latest/admin/intro-os-networking.html):
its fixed IPs, its allowed-address-pair IPs/CIDRs, and the EUI-64 IPv6
link-local address of its MAC.  An allowed address pair whose MAC differs
from the port's is left out: Hyper-V can allow the port's own MAC or every
MAC, nothing in between, and allowing every MAC would widen the port.

*On-link* IPv6 prefixes are the /64s of the port's IPv6 fixed IPs: the
tightest address scope that holds the port's neighbours (a neutron subnet
with SLAAC or DHCPv6-stateless is a /64); see :mod:`.secgroups`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

IPV4_ANY, IPV6_ANY = "0.0.0.0/0", "::/0"
FAMILY_ANY = {4: IPV4_ANY, 6: IPV6_ANY}
UNSPECIFIED4, UNSPECIFIED6 = "0.0.0.0/32", "::/128"
LINK_LOCAL = "fe80::/10"
LINK_MULTICAST = "ff02::/16"
_Net = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class PortAddresses:
    """What one port may send from, and where its IPv6 neighbours are."""

    sources4: tuple[str, ...]
    sources6: tuple[str, ...]
    onlink6: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def sources(self, family: int) -> tuple[str, ...]:
        """The sources of IP version *family*."""
        return self.sources4 if family == 4 else self.sources6


def normal_mac(mac: str) -> str:
    """``fa:16:3e:00:00:01`` from any common MAC spelling.

    :raises ValueError: if *mac* is not a MAC address.
    """
    digits = re.sub(r"[:\-.]", "", mac.strip()).lower()
    if not re.fullmatch(r"[0-9a-f]{12}", digits):
        raise ValueError(f"{mac!r} is not a MAC address")
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def link_local(mac: str) -> str:
    """The EUI-64 IPv6 link-local address of *mac* (RFC 4291 appendix A)."""
    octets = bytearray(bytes.fromhex(normal_mac(mac).replace(":", "")))
    octets[0] ^= 0x02
    interface_id = bytes(octets[:3]) + b"\xff\xfe" + bytes(octets[3:])
    return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + interface_id))


def collapse(nets: Iterable[_Net], family: int) -> tuple[str, ...]:
    """The networks of version *family*, merged and sorted, as CIDR text."""
    nets = list(nets)
    if family == 4:
        v4 = [net for net in nets if isinstance(net, ipaddress.IPv4Network)]
        return tuple(str(net) for net in ipaddress.collapse_addresses(v4))
    v6 = [net for net in nets if isinstance(net, ipaddress.IPv6Network)]
    return tuple(str(net) for net in ipaddress.collapse_addresses(v6))


def parse_networks(values: Iterable[str]) -> tuple[list[_Net], list[str]]:
    """Parse hosts/CIDRs; returns the networks and the values that were not."""
    nets: list[_Net] = []
    bad: list[str] = []
    for value in values:
        try:
            nets.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            bad.append(str(value))
    return nets, bad


def port_addresses(fixed_ips: Iterable[str], mac: str,
                   pairs: Iterable[tuple[str, str | None]]) -> PortAddresses:
    """The sources and on-link prefixes of a port.

    :raises ValueError: if the port's own *mac* is not a MAC address.
    """
    own_mac = normal_mac(mac)
    fixed, bad = parse_networks(fixed_ips)
    notes = [f"fixed IP {value!r} is not an IP address: ignored" for value in bad]
    paired, pair_notes = _pair_networks(pairs, own_mac)
    sources = fixed + paired + [ipaddress.ip_network(link_local(own_mac))]
    onlink = [ipaddress.ip_network(f"{net.network_address}/64", strict=False)
              for net in fixed if net.version == 6 and not net.is_link_local]
    return PortAddresses(collapse(sources, 4), collapse(sources, 6), collapse(onlink, 6),
                         tuple(notes + pair_notes))


def _pair_networks(pairs: Iterable[tuple[str, str | None]],
                   own_mac: str) -> tuple[list[_Net], list[str]]:
    """The allowed-address-pair networks the port may send from, and notes."""
    nets: list[_Net] = []
    notes: list[str] = []
    for address, pair_mac in pairs:
        found, bad = parse_networks([address])
        if bad:
            notes.append(f"allowed address pair {address!r} is not an IP or CIDR: ignored")
        elif pair_mac is None or _same_mac(pair_mac, own_mac):
            nets.extend(found)
        else:
            notes.append(f"allowed address pair {address} with MAC {pair_mac}: Hyper-V "
                         "cannot allow one extra MAC without allowing every MAC, so MAC "
                         "spoofing stays off and this pair is not allowed (narrower)")
    return nets, notes


def _same_mac(mac: str, own_mac: str) -> bool:
    try:
        return normal_mac(mac) == own_mac
    except ValueError:
        return False
