"""Between a :class:`PortState` and the port's feature settings.

Each part of a port's state is one Hyper-V feature setting class
(https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/, one page each):

=================  ================================================  =========
part               class                                             how many
=================  ================================================  =========
vlan               Msvm_EthernetSwitchPortVlanSettingData            0 or 1
mac spoof, guards  Msvm_EthernetSwitchPortSecuritySettingData        0 or 1
acls               Msvm_EthernetSwitchPortExtendedAclSettingData     one a rule
sriov              Msvm_EthernetSwitchPortOffloadSettingData         0 or 1
bandwidth          Msvm_EthernetSwitchPortBandwidthSettingData       0 or 1
profile            Msvm_EthernetSwitchPortProfileSettingData         0 or 1
=================  ================================================  =========

A part at its default (untagged, no MAC spoofing, no SR-IOV, ...) has no
setting: that is how a new Hyper-V port looks, and it costs no host call.
For each single setting, :func:`wanted_singles` gives only the properties
Winstackers owns; the diff compares those and leaves others alone.
"""

from __future__ import annotations

from typing import Any

from winstackers.cim.values import Instance
from winstackers.hyperv.portstate import (
    ACCESS,
    ALLOW,
    ANY,
    IN,
    TRUNK,
    UNTAGGED,
    AclRule,
    Bandwidth,
    PortState,
    Profile,
    Sriov,
    Vlan,
)

VLAN = "Msvm_EthernetSwitchPortVlanSettingData"
SECURITY = "Msvm_EthernetSwitchPortSecuritySettingData"
ACL = "Msvm_EthernetSwitchPortExtendedAclSettingData"
OFFLOAD = "Msvm_EthernetSwitchPortOffloadSettingData"
BANDWIDTH = "Msvm_EthernetSwitchPortBandwidthSettingData"
PROFILE = "Msvm_EthernetSwitchPortProfileSettingData"
SINGLES = (VLAN, SECURITY, OFFLOAD, BANDWIDTH, PROFILE)
FEATURE_CLASSES = (*SINGLES, ACL)

_MODES = {ACCESS: 1, TRUNK: 2}


def wanted_singles(state: PortState) -> dict[str, dict[str, Any]]:
    """The single feature settings *state* needs, by class: only the
    properties Winstackers owns."""
    wanted: dict[str, dict[str, Any]] = {}
    if state.vlan.mode != UNTAGGED:
        wanted[VLAN] = {"OperationMode": _MODES[state.vlan.mode],
                        "AccessVlanId": state.vlan.access_id,
                        "NativeVlanId": state.vlan.native_id,
                        "TrunkVlanIdArray": list(state.vlan.allowed)}
    if state.allow_mac_spoofing or state.dhcp_guard or state.router_guard:
        wanted[SECURITY] = {"AllowMacSpoofing": state.allow_mac_spoofing,
                            "EnableDhcpGuard": state.dhcp_guard,
                            "EnableRouterGuard": state.router_guard}
    if state.sriov is not None:
        wanted[OFFLOAD] = {"IOVOffloadWeight": state.sriov.offload_weight,
                           "IOVQueuePairsRequested": state.sriov.queue_pairs}
    if state.bandwidth is not None:
        wanted[BANDWIDTH] = _bandwidth_props(state.bandwidth)
    if state.profile is not None:
        wanted[PROFILE] = {"ProfileId": state.profile.profile_id,
                           "ProfileData": state.profile.profile_data,
                           "ProfileName": state.profile.profile_name,
                           "VendorId": state.profile.vendor_id,
                           "VendorName": state.profile.vendor_name}
    return wanted


def _bandwidth_props(bandwidth: Bandwidth) -> dict[str, Any]:
    return {"Limit": bandwidth.limit_bps, "BurstLimit": bandwidth.burst_limit_bps,
            "BurstSize": bandwidth.burst_size_bytes, "Reservation": bandwidth.reservation_bps}


def acl_props(rule: AclRule) -> dict[str, Any]:
    """The Msvm_EthernetSwitchPortExtendedAclSettingData values of *rule*."""
    return {"Name": rule.name, "Direction": 1 if rule.direction == IN else 2,
            "Action": 1 if rule.action == ALLOW else 2, "Weight": rule.weight,
            "Protocol": rule.protocol, "LocalIPAddress": rule.local_address,
            "RemoteIPAddress": rule.remote_address, "LocalPort": rule.local_ports,
            "RemotePort": rule.remote_ports, "Stateful": rule.stateful,
            "IdleSessionTimeout": rule.idle_timeout}


def acl_rule(feature: Instance) -> AclRule:
    """The rule an extended ACL setting holds."""
    return AclRule(
        direction=IN if feature["Direction"] == 1 else "out",
        action=ALLOW if feature["Action"] == 1 else "deny", weight=feature["Weight"],
        protocol=feature.get("Protocol") or ANY,
        local_address=feature.get("LocalIPAddress") or ANY,
        remote_address=feature.get("RemoteIPAddress") or ANY,
        local_ports=feature.get("LocalPort") or ANY,
        remote_ports=feature.get("RemotePort") or ANY,
        stateful=bool(feature.get("Stateful")),
        idle_timeout=feature.get("IdleSessionTimeout") or 0,
        name=feature.get("Name") or "")


def differs(feature: Instance, wanted: dict[str, Any]) -> dict[str, Any]:
    """The owned properties whose host value differs from *wanted*."""
    return {name: value for name, value in wanted.items() if _norm(feature.get(name)) != value}


def _norm(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def state_from(switch: str | None, features: list[Instance]) -> PortState:
    """The :class:`PortState` a port's settings describe."""
    by_class = {f.class_name: f for f in features if f.class_name in SINGLES}
    rules = frozenset(acl_rule(f) for f in features if f.class_name == ACL)
    return PortState(switch=switch, vlan=_vlan(by_class.get(VLAN)),
                     allow_mac_spoofing=_flag(by_class.get(SECURITY), "AllowMacSpoofing"),
                     dhcp_guard=_flag(by_class.get(SECURITY), "EnableDhcpGuard"),
                     router_guard=_flag(by_class.get(SECURITY), "EnableRouterGuard"),
                     acls=rules, sriov=_sriov(by_class.get(OFFLOAD)),
                     bandwidth=_bandwidth(by_class.get(BANDWIDTH)),
                     profile=_profile(by_class.get(PROFILE)))


def _flag(feature: Instance | None, name: str) -> bool:
    return feature is not None and bool(feature.get(name))


def _vlan(feature: Instance | None) -> Vlan:
    if feature is None:
        return Vlan()
    if feature["OperationMode"] == 1:
        return Vlan.access(feature["AccessVlanId"])
    if feature["OperationMode"] == 2:
        return Vlan.trunk(tuple(feature["TrunkVlanIdArray"] or ()), feature["NativeVlanId"])
    return Vlan()


def _sriov(feature: Instance | None) -> Sriov | None:
    if feature is None or not feature.get("IOVOffloadWeight"):
        return None
    return Sriov(feature["IOVOffloadWeight"], feature.get("IOVQueuePairsRequested") or 1)


def _bandwidth(feature: Instance | None) -> Bandwidth | None:
    if feature is None:
        return None
    return Bandwidth(feature.get("Limit") or 0, feature.get("BurstLimit") or 0,
                     feature.get("BurstSize") or 0, feature.get("Reservation") or 0)


def _profile(feature: Instance | None) -> Profile | None:
    if feature is None or not feature.get("ProfileId"):
        return None
    return Profile(feature["ProfileId"], feature.get("ProfileData") or 0,
                   feature.get("ProfileName") or "", feature.get("VendorId") or "",
                   feature.get("VendorName") or "")
