"""Packets as the security-group tests see them, and a Hyper-V port model.

:class:`Pkt` carries what neutron's semantics need (ICMP type/code, MACs,
the flow an ICMP error is about), more than the emulator's
:class:`~winstackers.emulator.hyperv.packets.Packet`.  :class:`HyperVPort`
decides a packet the way a Hyper-V port with a
:class:`~winstackers.neutron.agent.secgroups.PortSecurity` would: the port
security settings first (modelled here from Microsoft's descriptions, see
below), then the emulator's extended ACL evaluator with its flow table.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from winstackers.emulator.hyperv.packets import (
    INBOUND,
    OUTBOUND,
    FlowTable,
    Packet,
    evaluate,
    validate_rule,
)
from winstackers.hyperv.portfeatures import acl_props
from winstackers.neutron.agent.secgroups import PortSecurity

INGRESS, EGRESS = "ingress", "egress"
TCP, UDP, ICMP, ICMPV6 = 6, 17, 1, 58
PORTED = frozenset({6, 17, 33, 132, 136})
ECHO = {ICMP: (8, 0), ICMPV6: (128, 129)}
FlowKey = tuple[int, str, int | None, str, int | None]


@dataclass(frozen=True)
class Pkt:
    """One packet at the port, from the VM's side (local = the VM's end).

    ``mac`` is the source MAC of an egress frame and the destination MAC of
    an ingress one.  ``about`` is, for an ICMP error, the flow it reports on.
    """

    direction: str
    protocol: int
    local_ip: str
    remote_ip: str
    local_port: int | None = None
    remote_port: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    mac: str = "fa:16:3e:00:00:01"
    about: FlowKey | None = None

    @property
    def family(self) -> int:
        return ipaddress.ip_address(self.local_ip).version

    @property
    def is_icmp(self) -> bool:
        return self.protocol in ECHO

    def key(self) -> FlowKey:
        """The 5-tuple (ports only for protocols that have them)."""
        ported = self.protocol in PORTED
        return (self.protocol, self.local_ip, self.local_port if ported else None,
                self.remote_ip, self.remote_port if ported else None)

    def reply(self) -> Pkt:
        """The answer to this packet (an echo reply answers an echo request)."""
        flipped = EGRESS if self.direction == INGRESS else INGRESS
        icmp_type = self.icmp_type
        if self.is_icmp and icmp_type == ECHO[self.protocol][0]:
            icmp_type = ECHO[self.protocol][1]
        return replace(self, direction=flipped, icmp_type=icmp_type, about=None)

    def error(self) -> Pkt:
        """An ICMP error about this packet's flow, sent back by the remote."""
        protocol = ICMP if self.family == 4 else ICMPV6
        flipped = EGRESS if self.direction == INGRESS else INGRESS
        return Pkt(flipped, protocol, self.local_ip, self.remote_ip,
                   icmp_type=3 if protocol == ICMP else 1, icmp_code=0, mac=self.mac,
                   about=self.key())


def emulator_packet(pkt: Pkt) -> Packet:
    """The emulator's view: no MAC, no ICMP type, ports for TCP/UDP only."""
    ported = pkt.protocol in (TCP, UDP)
    return Packet(INBOUND if pkt.direction == INGRESS else OUTBOUND, str(pkt.protocol),
                  pkt.local_ip, pkt.remote_ip, pkt.local_port if ported else None,
                  pkt.remote_port if ported else None)


def _family_fits(raw: dict[str, object], family: int) -> bool:
    """Whether the rule's addresses can hold an address of *family*."""
    for prop in ("LocalIPAddress", "RemoteIPAddress"):
        value = str(raw[prop])
        if value.upper() != "ANY" and ipaddress.ip_network(value).version != family:
            return False
    return True


class HyperVPort:
    """A Hyper-V switch port carrying *security*, for port MAC *mac*.

    Port security settings, as Microsoft describes them
    (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-ethernetswitchportsecuritysettingdata,
    Set-VMNetworkAdapter -DhcpGuard/-RouterGuard):

    - MAC spoofing off: frames from the VM with another source MAC are
      dropped, and frames for another MAC are not delivered to it;
    - DHCP guard: DHCP server messages (UDP 67->68) from the VM are dropped
      (DHCPv6 is not assumed: Microsoft does not say);
    - router guard: ICMPv6 router advertisements (134) and redirects (137)
      from the VM are dropped.

    Then the extended ACLs decide, through the emulator's evaluator.
    """

    def __init__(self, security: PortSecurity, mac: str) -> None:
        self.security = security
        self.mac = mac.lower()
        self.rules = [acl_props(rule) for rule in security.acls]
        for raw in self.rules:
            validate_rule(raw)
        # The evaluator reads every rule of every call; rules of the other
        # direction or address family cannot match, so leave them out.
        self._by_kind = {(direction, family): [r for r in self.rules
                                               if r["Direction"] == number
                                               and _family_fits(r, family)]
                         for direction, number in ((INGRESS, 1), (EGRESS, 2))
                         for family in (4, 6)}
        self.flows = FlowTable()

    def allowed(self, pkt: Pkt) -> bool:
        """Whether *pkt* gets through (flows advance as on the host)."""
        if self._guarded(pkt):
            return False
        rules = self._by_kind[(pkt.direction, pkt.family)]
        return evaluate(rules, emulator_packet(pkt), self.flows, now=0.0).allowed

    def _guarded(self, pkt: Pkt) -> bool:
        sec = self.security
        if not sec.allow_mac_spoofing and pkt.mac.lower() != self.mac:
            return True
        if pkt.direction != EGRESS:
            return False
        dhcp_offer = (pkt.protocol, pkt.family, pkt.local_port, pkt.remote_port) == (
            UDP, 4, 67, 68)
        router_msg = pkt.protocol == ICMPV6 and pkt.icmp_type in (134, 137)
        return (sec.dhcp_guard and dhcp_offer) or (sec.router_guard and router_msg)
