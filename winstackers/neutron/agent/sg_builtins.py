"""Neutron's built-in allowances and protections, as extended ACL drafts.

What neutron adds to every port with port security
(https://docs.openstack.org/neutron/latest/admin/intro-os-networking.html,
"Security groups"; the flows in
https://docs.openstack.org/neutron/latest/contributor/internals/openvswitch_firewall.html),
and how it is expressed here (the deviations are listed in :mod:`.secgroups`):

- default deny in both directions: a Deny of any packet at weight 1;
- DHCP client: egress UDP 68->67 from the port's sources and 0.0.0.0,
  ingress UDP 67->68 from anywhere;
- DHCPv6 client: egress UDP 546->547 from the port's IPv6 sources (its
  link-local address included), ingress UDP 547->546 from anywhere;
- no DHCP(v6) server: egress UDP 67->68 and 547->546 denied above every
  rule (Hyper-V's DHCP guard is set too);
- client-to-server DHCP(v6) towards the port (ingress UDP 68->67, 546->547)
  denied, so that no flow can ever admit a server reply (see secgroups);
- ICMPv6 neighbour discovery, MLD and router advertisements: all ICMPv6
  within the link scope (Hyper-V cannot match ICMPv6 types); router
  advertisements and redirects from the VM are dropped by router guard.
"""

from __future__ import annotations

from winstackers.hyperv.portstate import IN, OUT
from winstackers.neutron.agent.sg_acl import BUILTIN, DEFAULT, PROTECT, Draft, allow, deny
from winstackers.neutron.agent.sg_addresses import (
    IPV4_ANY,
    IPV6_ANY,
    LINK_LOCAL,
    LINK_MULTICAST,
    UNSPECIFIED4,
    UNSPECIFIED6,
    PortAddresses,
)

UDP, ICMPV6 = 17, 58
DHCP_SERVER, DHCP_CLIENT = "67", "68"
DHCP6_SERVER, DHCP6_CLIENT = "547", "546"


def builtin_drafts(addresses: PortAddresses) -> list[Draft]:
    """Every built-in draft of a port with port security."""
    return (default_deny() + protections() + dhcp(addresses) + dhcp6(addresses)
            + icmpv6(addresses))


def default_deny() -> list[Draft]:
    """Deny whatever no other rule allows, in both directions."""
    return [deny(DEFAULT, IN), deny(DEFAULT, OUT)]


def protections() -> list[Draft]:
    """No DHCP(v6) server on the port, in either direction of a flow."""
    server_v4 = (DHCP_SERVER, DHCP_CLIENT)
    server_v6 = (DHCP6_SERVER, DHCP6_CLIENT)
    return [deny(PROTECT, direction, UDP, family_any, family_any, ports)
            for direction in (IN, OUT)
            for family_any, ports in ((IPV4_ANY, server_v4), (IPV6_ANY, server_v6))]


def dhcp(addresses: PortAddresses) -> list[Draft]:
    """DHCP client: discover/request out (from 0.0.0.0 too), offers in."""
    sources = addresses.sources4 + (UNSPECIFIED4,)
    out = [allow(BUILTIN, OUT, UDP, source, IPV4_ANY, (DHCP_CLIENT, DHCP_SERVER))
           for source in sources]
    return out + [allow(BUILTIN, IN, UDP, IPV4_ANY, IPV4_ANY, (DHCP_CLIENT, DHCP_SERVER))]


def dhcp6(addresses: PortAddresses) -> list[Draft]:
    """DHCPv6 client: solicit/request out, advertise/reply in."""
    out = [allow(BUILTIN, OUT, UDP, source, IPV6_ANY, (DHCP6_CLIENT, DHCP6_SERVER))
           for source in addresses.sources6]
    return out + [allow(BUILTIN, IN, UDP, IPV6_ANY, IPV6_ANY, (DHCP6_CLIENT, DHCP6_SERVER))]


def icmpv6(addresses: PortAddresses) -> list[Draft]:
    """ICMPv6 within the link scope: neighbour discovery, MLD, router
    advertisements (and, unavoidably, every other ICMPv6 type there)."""
    scope = (LINK_LOCAL, LINK_MULTICAST) + addresses.onlink6
    out = [allow(BUILTIN, OUT, ICMPV6, source, remote)
           for source in addresses.sources6 for remote in scope]
    out.append(allow(BUILTIN, OUT, ICMPV6, UNSPECIFIED6, LINK_MULTICAST))
    inbound = [allow(BUILTIN, IN, ICMPV6, IPV6_ANY, remote)
               for remote in (LINK_LOCAL, UNSPECIFIED6) + addresses.onlink6]
    inbound.append(allow(BUILTIN, IN, ICMPV6, LINK_MULTICAST, IPV6_ANY))
    return out + inbound
