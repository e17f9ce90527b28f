"""What the emulated host accepts in each switch-port feature setting.

Every rule names its source; where Microsoft is silent the emulator refuses
(the stricter choice), and the docstring says so.  A refusal is return
code 4 (Invalid Parameter) with a text naming the class and property.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from winstackers.cim.values import Reference
from winstackers.emulator.hyperv import model, packets
from winstackers.emulator.hyperv.methods import INVALID_PARAMETER
from winstackers.emulator.hyperv.providers.common import refuse

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost

VLAN = "Msvm_EthernetSwitchPortVlanSettingData"
SECURITY = "Msvm_EthernetSwitchPortSecuritySettingData"
ACL = "Msvm_EthernetSwitchPortExtendedAclSettingData"
OFFLOAD = "Msvm_EthernetSwitchPortOffloadSettingData"
BANDWIDTH = "Msvm_EthernetSwitchPortBandwidthSettingData"
PROFILE = "Msvm_EthernetSwitchPortProfileSettingData"
#: Features a port has at most one of (Set-VMNetworkAdapter* cmdlets change
#: "the" setting; only ACLs are added as many).
SINGLE = (VLAN, SECURITY, OFFLOAD, BANDWIDTH, PROFILE)

_GUID = re.compile(r"^\{?[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}?$")

Check = Callable[["EmulatedHost", dict[str, Any], "Port"], None]


class Port:
    """The connection a feature is for: its switch and its other features."""

    def __init__(self, host: EmulatedHost, alloc: Reference) -> None:
        self.alloc = alloc
        record = host.store.get(alloc)
        self.switch = model.switch_of(host.store, record)
        self.features = model.port_features(host.store, alloc)

    def others(self, class_name: str, exclude: str | None = None) -> list[dict[str, Any]]:
        """This port's features of *class_name*, except InstanceID *exclude*."""
        return [rec for ref, rec in self.features
                if ref.class_name.lower() == class_name.lower() and rec["InstanceID"] != exclude]


def _bad(cls: str, prop: str, value: Any, why: str) -> None:
    refuse(INVALID_PARAMETER, f"{cls}.{prop} = {value!r}: {why}")


def _vlan_id(prop: str, value: Any) -> None:
    # Msvm_EthernetSwitchPortVlanSettingData does not give the range; IEEE
    # 802.1Q reserves 0 and 4095, and the emulator refuses them (stricter).
    if not isinstance(value, int) or not 1 <= value <= 4094:
        _bad(VLAN, prop, value, "a VLAN id must be 1-4094")


def check_vlan(host: EmulatedHost, rec: dict[str, Any], port: Port) -> None:
    """OperationMode 1 Access, 2 Trunk, 3 Private; modes are mutually
    exclusive (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-ethernetswitchportvlansettingdata,
    https://learn.microsoft.com/en-us/powershell/module/hyper-v/set-vmnetworkadaptervlan).
    Mode 0 is not in the documented enumeration and is refused; a trunk
    needs a non-empty TrunkVlanIdArray.  VLAN and network virtualization
    (a security setting's VirtualSubnetId) on one port is refused: Microsoft
    says configuring both "incorrectly configure[s]" the port."""
    mode = rec.get("OperationMode")
    trunk = rec.get("TrunkVlanIdArray") or []
    if mode == 1:
        _vlan_id("AccessVlanId", rec.get("AccessVlanId"))
        if trunk:
            _bad(VLAN, "TrunkVlanIdArray", trunk, "not allowed in access mode")
    elif mode == 2:
        if not trunk:
            _bad(VLAN, "TrunkVlanIdArray", trunk, "trunk mode needs a list of VLAN ids")
        for vlan in trunk:
            _vlan_id("TrunkVlanIdArray", vlan)
        if rec.get("NativeVlanId"):
            _vlan_id("NativeVlanId", rec.get("NativeVlanId"))
    elif mode == 3:
        _check_private(rec)
    else:
        _bad(VLAN, "OperationMode", mode, "must be 1 (Access), 2 (Trunk) or 3 (Private)")
    if any(sec.get("VirtualSubnetId") for sec in port.others(SECURITY)):
        _bad(VLAN, "OperationMode", mode, "the port has a VirtualSubnetId (isolation); "
             "VLAN and isolation cannot both be set")


def _check_private(rec: dict[str, Any]) -> None:
    pvlan = rec.get("PvlanMode")
    if pvlan not in (1, 2, 3):
        _bad(VLAN, "PvlanMode", pvlan, "must be 1 (Isolated), 2 (Community) or 3 (Promiscuous)")
    _vlan_id("PrimaryVlanId", rec.get("PrimaryVlanId"))
    if pvlan == 3:
        for vlan in rec.get("SecondaryVlanIdArray") or [None]:
            _vlan_id("SecondaryVlanIdArray", vlan)
    else:
        _vlan_id("SecondaryVlanId", rec.get("SecondaryVlanId"))


def check_security(host: EmulatedHost, rec: dict[str, Any], port: Port) -> None:
    """MonitorMode 0-2; VirtualSubnetId 0 or 4096-16777215 (the class page
    gives 0-16777215, Set-VMNetworkAdapter 4096-16777215 plus 0 to clear:
    https://learn.microsoft.com/en-us/powershell/module/hyper-v/set-vmnetworkadapter)."""
    if rec.get("MonitorMode") not in (0, 1, 2):
        _bad(SECURITY, "MonitorMode", rec.get("MonitorMode"), "must be 0, 1 or 2")
    subnet = rec.get("VirtualSubnetId") or 0
    if subnet and not 4096 <= subnet <= 16777215:
        _bad(SECURITY, "VirtualSubnetId", subnet, "must be 0 or 4096-16777215")
    if subnet and port.others(VLAN):
        _bad(SECURITY, "VirtualSubnetId", subnet, "the port has a VLAN setting; VLAN and "
             "isolation cannot both be set")


def check_acl(host: EmulatedHost, rec: dict[str, Any], port: Port) -> None:
    """Extended ACL (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-ethernetswitchportextendedaclsettingdata,
    https://learn.microsoft.com/en-us/powershell/module/hyper-v/add-vmnetworkadapterextendedacl):
    Direction 1/2 and Action 1/2 are required (no Meter); addresses are
    ANY, a host or a CIDR subnet; ports ANY, one port or a range; Protocol
    ANY, TCP, UDP or an IP protocol number ("use 1 for ICMP": names such as
    ICMP are refused).  String lengths follow the MOF MaxLen qualifiers.
    Stricter than documented: Weight 0 is refused (VMM gives 1-65535);
    stateful rules must allow (stateful rules "always allow traffic") and
    be TCP or UDP; two rules of one port with the same Direction and Weight
    are refused (Remove-VMNetworkAdapterExtendedAcl identifies a rule by
    exactly those two)."""
    for prop, limit in (("Name", 64), ("LocalIPAddress", 40), ("RemoteIPAddress", 40),
                        ("LocalPort", 21), ("RemotePort", 21), ("Protocol", 15)):
        if len(str(rec.get(prop) or "")) > limit:
            _bad(ACL, prop, rec.get(prop), f"longer than {limit} characters")
    protocol = str(rec.get("Protocol") or "ANY").upper()
    if protocol not in ("ANY", "TCP", "UDP") and not protocol.isdigit():
        _bad(ACL, "Protocol", rec.get("Protocol"), "must be ANY, TCP, UDP or a protocol number")
    try:
        packets.validate_rule(rec)
    except ValueError as exc:
        refuse(INVALID_PARAMETER, f"{ACL}: {exc}")
    _check_acl_policy(rec, protocol, port)


def _check_acl_policy(rec: dict[str, Any], protocol: str, port: Port) -> None:
    if not rec.get("Weight"):
        _bad(ACL, "Weight", rec.get("Weight"), "must be 1-65535")
    if rec.get("Stateful") and protocol not in ("TCP", "UDP", "6", "17"):
        _bad(ACL, "Stateful", True, "stateful rules must be TCP or UDP")
    for other in port.others(ACL, rec.get("InstanceID")):
        if (other["Direction"], other["Weight"]) == (rec["Direction"], rec["Weight"]):
            _bad(ACL, "Weight", rec["Weight"], f"the port already has a rule with Direction "
                 f"{rec['Direction']} and this Weight ({other.get('Name') or other['InstanceID']})")


def check_offload(host: EmulatedHost, rec: dict[str, Any], port: Port) -> None:
    """VMQOffloadWeight and IOVOffloadWeight 0-100 (Set-VMNetworkAdapter),
    IOVQueuePairsRequested at least 1, IOVInterruptModeration one of 0, 1, 2,
    100, 200, 300
    (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-ethernetswitchportoffloadsettingdata).
    IOV on a port of a vSwitch created without SR-IOV is refused: the mode
    is chosen when the switch is created and cannot be changed."""
    for prop in ("VMQOffloadWeight", "IOVOffloadWeight"):
        if not 0 <= (rec.get(prop) or 0) <= 100:
            _bad(OFFLOAD, prop, rec.get(prop), "must be 0-100")
    if (rec.get("IOVQueuePairsRequested") or 0) < 1:
        _bad(OFFLOAD, "IOVQueuePairsRequested", rec.get("IOVQueuePairsRequested"),
             "must be at least 1")
    if rec.get("IOVInterruptModeration") not in (0, 1, 2, 100, 200, 300):
        _bad(OFFLOAD, "IOVInterruptModeration", rec.get("IOVInterruptModeration"),
             "must be 0, 1, 2, 100, 200 or 300")
    if rec.get("IOVOffloadWeight") and not (
            port.switch is not None and model.switch_iov_enabled(host.store, port.switch)):
        _bad(OFFLOAD, "IOVOffloadWeight", rec.get("IOVOffloadWeight"),
             "the port's vSwitch was not created with SR-IOV")


def check_bandwidth(host: EmulatedHost, rec: dict[str, Any], port: Port) -> None:
    """Minimum bandwidth follows the switch's BandwidthReservationMode
    (0 Default = Weight, or None on an SR-IOV switch; 1 Weight; 2 Absolute;
    3 None: https://learn.microsoft.com/en-us/powershell/module/hyper-v/new-vmswitch):
    Reservation needs Absolute, Weight (0-100) needs Weight mode.  A
    BurstLimit below Limit is refused (undocumented; stricter)."""
    reservation, weight = rec.get("Reservation") or 0, rec.get("Weight") or 0
    if weight > 100:
        _bad(BANDWIDTH, "Weight", weight, "must be 0-100")
    mode = _bandwidth_mode(host, port)
    if reservation and mode != 2:
        _bad(BANDWIDTH, "Reservation", reservation, "the vSwitch's BandwidthReservationMode "
             "is not Absolute (2)")
    if weight and mode != 1:
        _bad(BANDWIDTH, "Weight", weight, "the vSwitch's BandwidthReservationMode is not Weight")
    burst, limit = rec.get("BurstLimit") or 0, rec.get("Limit") or 0
    if burst and burst < limit:
        _bad(BANDWIDTH, "BurstLimit", burst, f"below Limit ({limit})")


def _bandwidth_mode(host: EmulatedHost, port: Port) -> int:
    if port.switch is None:
        return 3
    settings = host.store.get(model.settings_of(host.store, port.switch))
    mode = settings.get("BandwidthReservationMode") or 0
    if mode == 0:
        return 3 if settings.get("IOVPreferred") else 1
    return int(mode)


def check_profile(host: EmulatedHost, rec: dict[str, Any], port: Port) -> None:
    """ProfileId, VendorId and NetCfgInstanceId are GUIDs (MaxLen 38);
    ProfileName, VendorName, CdnLabelString at most 127 characters
    (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-ethernetswitchportprofilesettingdata)."""
    for prop in ("ProfileId", "VendorId", "NetCfgInstanceId"):
        value = rec.get(prop)
        if value and not _GUID.match(value):
            _bad(PROFILE, prop, value, "must be a GUID")
    for prop in ("ProfileName", "VendorName", "CdnLabelString"):
        if len(rec.get(prop) or "") > 127:
            _bad(PROFILE, prop, rec.get(prop), "longer than 127 characters")


CHECKS: dict[str, Check] = {VLAN: check_vlan, SECURITY: check_security, ACL: check_acl,
                            OFFLOAD: check_offload, BANDWIDTH: check_bandwidth,
                            PROFILE: check_profile}

