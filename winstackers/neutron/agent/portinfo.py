"""What neutron tells the agent about its ports, as read-only values.

Two RPC answers describe a port (neutron 29, ``neutron/plugins/ml2/rpc.py``
and ``neutron/db/securitygroups_rpc_base.py``; the RPC API is described in
https://docs.openstack.org/neutron/latest/contributor/internals/rpc_api.html):

- ``get_devices_details_list``: one dict per device.  A bound port has
  ``port_id``, ``network_id``, ``network_type``, ``physical_network``,
  ``segmentation_id``, ``admin_state_up``, ``mac_address``, ``fixed_ips``
  (``[{subnet_id, ip_address}]``), ``allowed_address_pairs``,
  ``port_security_enabled``, ``device_owner``, ``qos_policy_id`` and
  ``qos_network_policy_id``; an unknown or unbound port only ``device``
  (plus ``no_active_binding`` when it is bound to another host).
- ``security_group_info_for_devices`` (version 1.3): ``devices`` (the full
  port dicts, which also carry ``binding:vnic_type`` and, with the trunk
  plugin, ``trunk_details``), ``security_groups`` (rule dicts by group, each
  with ``stateful``; the rule's remote prefix is ``source_ip_prefix`` for
  ingress and ``dest_ip_prefix`` for egress) and ``sg_member_ips`` (by
  remote group *and* remote address group id: ``{ethertype: [[ip, mac]]}``).

Device details carry no vnic_type and no trunk subports, so both are read
from the port dict of the security group answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

NORMAL, DIRECT = "normal", "direct"
VNIC_TYPE = "binding:vnic_type"
NO_ACTIVE_BINDING = "no_active_binding"
NETWORK_OWNER_PREFIX = "network:"
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def is_bound(details: Mapping[str, Any]) -> bool:
    """Whether a device-details answer describes a port bound to this host."""
    return "port_id" in details and "network_type" in details


def _pairs(value: Any) -> tuple[tuple[str, str | None], ...]:
    return tuple((str(p["ip_address"]), p.get("mac_address")) for p in value or ())


def _ips(value: Any) -> tuple[str, ...]:
    return tuple(str(ip["ip_address"] if isinstance(ip, Mapping) else ip) for ip in value or ())


def _vlan_subports(port: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    trunk = port.get("trunk_details") or _EMPTY
    return [sub for sub in trunk.get("sub_ports") or ()
            if sub.get("segmentation_type", "vlan") == "vlan"]


def _trunk_vlans(port: Mapping[str, Any]) -> tuple[int, ...] | None:
    if not port.get("trunk_details"):
        return None
    return tuple(sorted({int(sub["segmentation_id"]) for sub in _vlan_subports(port)}))


@dataclass(frozen=True)
class PortInfo:
    """One bound port, from its device details and its port dict.

    ``trunk_vlans`` is None when the port is not a trunk parent (or neutron
    did not say); ``qos_policy_id`` the policy in force: the port's own, else
    its network's (which neutron applies to every port not owned by
    ``network:*``: https://docs.openstack.org/neutron/latest/admin/config-qos.html).
    A trunk parent also has ``trunk_id`` and ``subports`` (the port ids of
    its VLAN subports), from the port dict's ``trunk_details``
    (https://docs.openstack.org/api-ref/network/v2/#trunk-details-extended-attributes).
    """

    port_id: str
    network_id: str
    network_type: str
    physical_network: str | None
    segmentation_id: int | None
    admin_state_up: bool
    mac: str
    fixed_ips: tuple[str, ...]
    allowed_address_pairs: tuple[tuple[str, str | None], ...]
    port_security_enabled: bool
    security_groups: tuple[str, ...]
    vnic_type: str = NORMAL
    qos_policy_id: str | None = None
    trunk_vlans: tuple[int, ...] | None = None
    device_owner: str = ""
    trunk_id: str | None = None
    subports: tuple[str, ...] = ()

    @classmethod
    def from_rpc(cls, details: Mapping[str, Any],
                 port: Mapping[str, Any] | None = None) -> PortInfo:
        """A port from its device details and (optionally) its port dict."""
        port = port or _EMPTY
        owner = str(details.get("device_owner") or "")
        policy = details.get("qos_policy_id") or (
            None if owner.startswith(NETWORK_OWNER_PREFIX)
            else details.get("qos_network_policy_id"))
        segmentation = details.get("segmentation_id")
        return cls(
            port_id=details["port_id"], network_id=details["network_id"],
            network_type=details["network_type"],
            physical_network=details.get("physical_network"),
            segmentation_id=None if segmentation is None else int(segmentation),
            admin_state_up=bool(details.get("admin_state_up", True)),
            mac=str(details.get("mac_address") or port.get("mac_address") or ""),
            fixed_ips=_ips(details.get("fixed_ips")),
            allowed_address_pairs=_pairs(details.get("allowed_address_pairs")),
            port_security_enabled=bool(details.get("port_security_enabled", True)),
            security_groups=tuple(port.get("security_groups") or ()),
            vnic_type=str(port.get(VNIC_TYPE) or NORMAL), qos_policy_id=policy,
            trunk_vlans=_trunk_vlans(port), device_owner=owner,
            trunk_id=(port.get("trunk_details") or _EMPTY).get("trunk_id"),
            subports=tuple(sorted(str(sub["port_id"]) for sub in _vlan_subports(port))))


@dataclass(frozen=True)
class SecurityInfo:
    """The answer of ``security_group_info_for_devices``.

    ``rules`` are neutron's rule dicts by security group; ``member_ips`` the
    addresses of each remote security group and remote address group (one
    namespace: neutron keys both by their UUIDs); ``ports`` the port dicts.
    """

    rules: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    member_ips: Mapping[str, frozenset[str]] = field(default_factory=dict)
    ports: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_rpc(cls, answer: Mapping[str, Any] | None) -> SecurityInfo:
        """Read the RPC answer (sets arrive as lists of ``[ip, mac]``)."""
        answer = answer or _EMPTY
        rules = {sg: tuple(found) for sg, found in (answer.get("security_groups") or {}).items()}
        members = {gid: frozenset(_member_ip(m) for ips in by_type.values() for m in ips or ())
                   for gid, by_type in (answer.get("sg_member_ips") or {}).items()}
        return cls(rules, members, dict(answer.get("devices") or {}))

    def port(self, port_id: str) -> Mapping[str, Any]:
        """The port dict of *port_id* (empty when neutron sent none)."""
        return self.ports.get(port_id) or _EMPTY

    def groups_of(self, port_id: str) -> frozenset[str]:
        """Every security group and address group whose change affects the
        port: its own groups and the remote groups their rules name."""
        port = self.port(port_id)
        own = {str(sg) for sg in port.get("security_groups") or ()}
        remote = {str(rule[key]) for sg in own for rule in self.rules.get(sg, ())
                  for key in ("remote_group_id", "remote_address_group_id") if rule.get(key)}
        return frozenset(own | remote)


def _member_ip(member: Any) -> str:
    return str(member[0] if isinstance(member, Sequence) and not isinstance(member, str)
               else member)
