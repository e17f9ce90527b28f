"""A neutron port as the desired state of its Hyper-V switch port (pure).

:func:`bind` turns what neutron says of a port (:class:`PortInfo`, its
security groups, its QoS rules) and what the agent knows of the host into a
:class:`Binding`: the :class:`~winstackers.hyperv.portstate.PortState` to
apply, or why the port cannot be wired.  No host or RPC calls: the agent
does those.

The rules, from neutron's networking guide
(https://docs.openstack.org/neutron/latest/admin/intro-network-components.html,
https://docs.openstack.org/neutron/latest/admin/config-sriov.html,
https://docs.openstack.org/neutron/latest/admin/config-trunking.html):

- the vSwitch: ``local`` networks use ``[AGENT] local_network_vswitch``;
  ``flat`` and ``vlan`` networks the vSwitch their physical network maps to
  (exact name, then ``*`` patterns: :mod:`winstackers.neutron.configurations`,
  the rule the mechanism driver uses too); other types are not wired here;
- VLAN: untagged for ``flat`` and ``local``, access mode on the segmentation
  id for ``vlan``; a trunk parent whose port dict lists its subports gets
  trunk mode with the subports' VLAN ids, the parent's own VLAN (if any)
  native.  Hyper-V does no VLAN translation, so a subport's segmentation id
  must be its network's VLAN (``inherit``) for traffic to arrive;
- ``vnic_type=direct``: SR-IOV offload, only on a vSwitch created with
  SR-IOV; elsewhere the port is not wired and reported down;
- port security and security groups: :func:`secgroups.port_security`;
- QoS: :func:`winstackers.neutron.agent.qos.bandwidth`;
- ``admin_state_up`` false: the port is disconnected (no traffic at all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from winstackers.hyperv.errors import InvalidDesiredState
from winstackers.hyperv.hostinfo import HostInfo
from winstackers.hyperv.portstate import PortState, Sriov, Vlan
from winstackers.neutron.agent import qos, secgroups
from winstackers.neutron.agent.portinfo import DIRECT, PortInfo, SecurityInfo
from winstackers.neutron.configurations import AgentConfigurations

FLAT, VLAN, LOCAL = "flat", "vlan", "local"
_PREFIX_KEY = {"ingress": "source_ip_prefix", "egress": "dest_ip_prefix"}


@dataclass(frozen=True)
class Binding:
    """What to do with one port.

    ``state`` None means: keep the port disconnected.  ``problem`` says why
    a port cannot be wired (the agent logs it as an error and reports the
    device down); ``notes`` what was left out of an otherwise wired port.
    """

    port_id: str
    state: PortState | None
    up: bool
    problem: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class HostView:
    """What binding needs to know of the agent and its host."""

    configurations: AgentConfigurations
    host: HostInfo


def _refused(port: PortInfo, problem: str) -> Binding:
    return Binding(port.port_id, None, up=False, problem=f"port {port.port_id}: {problem}")


def bind(port: PortInfo, view: HostView, security: SecurityInfo,
         qos_rules: Sequence[Mapping[str, Any]] | None = None) -> Binding:
    """The binding of *port* (see the module documentation)."""
    if not port.admin_state_up:
        return Binding(port.port_id, None, up=False, notes=("admin_state_up is false: "
                                                            "the port is disconnected",))
    vswitch = view.configurations.vswitch_for_segment(port.network_type, port.physical_network)
    if vswitch is None:
        return _refused(port, _unreachable(port, view.configurations))
    refusal = view.configurations.vnic_refusal(port.vnic_type, vswitch)
    if refusal is not None:
        return _refused(port, refusal)
    try:
        return _wired(port, vswitch, view, security, qos_rules)
    except (InvalidDesiredState, ValueError) as exc:
        return _refused(port, f"cannot be expressed on Hyper-V: {exc}")


def _unreachable(port: PortInfo, conf: AgentConfigurations) -> str:
    if port.network_type == LOCAL:
        return "local network, and [AGENT] local_network_vswitch is not set"
    if port.network_type in (FLAT, VLAN):
        return (f"physical network {port.physical_network!r} maps to no vSwitch "
                f"([AGENT] physical_network_vswitch_mappings: {dict(conf.vswitch_mappings)})")
    return f"network type {port.network_type!r} is not wired by this agent"


def _wired(port: PortInfo, vswitch: str, view: HostView, security: SecurityInfo,
           qos_rules: Sequence[Mapping[str, Any]] | None) -> Binding:
    vlan, notes = vlan_of(port)
    protection = secgroups.port_security(*security_inputs(port, security))
    bandwidth, qos_notes = qos.bandwidth(qos_rules or (), view.host.switch(vswitch))
    sriov = Sriov() if port.vnic_type == DIRECT else None
    if sriov is not None and port.port_security_enabled:
        notes += ("SR-IOV traffic bypasses the vSwitch, so its ACLs hold only while the "
                  "VM uses the synthetic path",)
    state = PortState(switch=vswitch, vlan=vlan, acls=protection.acls,
                      allow_mac_spoofing=protection.allow_mac_spoofing,
                      dhcp_guard=protection.dhcp_guard, router_guard=protection.router_guard,
                      sriov=sriov, bandwidth=bandwidth)
    notes += tuple(protection.notes) + qos_notes
    return Binding(port.port_id, state, up=True, notes=notes)


def vlan_of(port: PortInfo) -> tuple[Vlan, tuple[str, ...]]:
    """The port's VLAN setting and notes on what was left out."""
    own = port.segmentation_id if port.network_type == VLAN else None
    if port.trunk_vlans:
        return Vlan.trunk(port.trunk_vlans, native_id=own or 0), ()
    notes: tuple[str, ...] = ()
    if port.trunk_vlans is not None:
        notes = ("trunk parent without VLAN subports: its own network only",)
    if own is None:
        return Vlan(), notes
    return Vlan.access(own), notes


def sg_rule(rule: Mapping[str, Any]) -> secgroups.SgRule:
    """One rule dict of the security group RPC answer as an SgRule (the
    RPC names the remote prefix by direction: see :mod:`.portinfo`)."""
    direction = rule["direction"]
    prefix = rule.get(_PREFIX_KEY.get(direction, ""), rule.get("remote_ip_prefix"))
    protocol = rule.get("protocol")
    return secgroups.SgRule(
        direction=direction, ethertype=rule["ethertype"],
        protocol=None if protocol is None else str(protocol),
        port_range_min=rule.get("port_range_min"), port_range_max=rule.get("port_range_max"),
        remote_ip_prefix=prefix, remote_group_id=rule.get("remote_group_id"),
        remote_address_group_id=rule.get("remote_address_group_id"))


def security_inputs(port: PortInfo, security: SecurityInfo) -> tuple[
        secgroups.SgPort, dict[str, list[secgroups.SgRule]], dict[str, bool],
        dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """The arguments of :func:`secgroups.port_security` for *port*: the
    port, its groups' rules, their stateful flags, and the addresses of the
    remote groups and address groups those rules name."""
    groups = {sg: security.rules.get(sg, ()) for sg in port.security_groups}
    rules = {sg: [sg_rule(rule) for rule in found] for sg, found in groups.items()}
    stateful = {sg: all(rule.get("stateful", True) for rule in found)
                for sg, found in groups.items()}
    remote = {r.remote_group_id for found in rules.values() for r in found}
    address = {r.remote_address_group_id for found in rules.values() for r in found}
    members = {gid: security.member_ips.get(gid, frozenset()) for gid in remote if gid}
    addresses = {gid: security.member_ips.get(gid, frozenset()) for gid in address if gid}
    sg_port = secgroups.SgPort(
        fixed_ips=port.fixed_ips, mac=port.mac, allowed_address_pairs=port.allowed_address_pairs,
        security_groups=port.security_groups, port_security_enabled=port.port_security_enabled)
    return sg_port, rules, stateful, members, addresses
