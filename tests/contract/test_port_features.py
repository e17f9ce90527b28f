"""Contract: switch-port feature settings (Add/Modify/RemoveFeatureSettings).

The rules are the ones ``winstackers/emulator/hyperv/providers/feature_rules.py``
states, each with its Microsoft source.  Every rule is checked with a
refused call (Invalid Parameter, code 4, message naming the class and
property at fault, nothing stored) and an accepted call (read back).

Tests and cases marked ``hyperv_verified`` follow documented Hyper-V
behaviour.  The unmarked ones check a choice the emulator makes where
Microsoft is silent (it refuses: the stricter choice) or use the
emulator's seeded vSwitches: they are emulator-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from winstackers.cim import HYPERV_NAMESPACE, Instance, InvalidParameter, Reference
from winstackers.emulator.hyperv.host import EmulatedHost

from .helpers import ACL, BANDWIDTH, CONNECTION, OFFLOAD, PROFILE, SECURITY, VLAN, Host

VERIFIED = pytest.mark.hyperv_verified
INVALID_PARAMETER = 4
GUID = "{6E5A3F1C-2B7D-4C9E-8F01-23456789ABCD}"
ACCESS = {"OperationMode": 1, "AccessVlanId": 100}
TRUNK = {"OperationMode": 2, "TrunkVlanIdArray": [10, 20], "NativeVlanId": 10}
ISOLATED = {"OperationMode": 3, "PvlanMode": 1, "PrimaryVlanId": 10, "SecondaryVlanId": 20}
RULE = {"Direction": 1, "Action": 1, "Weight": 10}
STATEFUL = {**RULE, "Protocol": "TCP", "Stateful": True}


@contextmanager
def refused(*names: str) -> Iterator[pytest.ExceptionInfo[InvalidParameter]]:
    """Expect Invalid Parameter (4) with a message naming each of *names*."""
    with pytest.raises(InvalidParameter) as info:
        yield info
    assert info.value.code == INVALID_PARAMETER
    for name in names:
        assert name in str(info.value)


@pytest.fixture
def port(host: Host) -> Reference:
    """A connection on a new private vSwitch."""
    return host.port()[2]


def values_of(feature: Instance, wanted: dict[str, Any]) -> dict[str, Any]:
    return {name: feature[name] for name in wanted}


def modify(host: Host, feature: Instance, **changes: Any) -> None:
    host.call("ModifyFeatureSettings", FeatureSettings=[feature.replace(**changes)])


# -- the connection a feature is for ---------------------------------------

@pytest.mark.hyperv_verified
def test_feature_on_a_connection_that_does_not_exist(host: Host, port: Reference) -> None:
    made_up = Reference.build(HYPERV_NAMESPACE, CONNECTION, {
        "InstanceID": "Microsoft:00000000-0000-0000-0000-000000000001\\"
                      "00000000-0000-0000-0000-000000000002\\C"})
    with refused(CONNECTION):
        host.add_features(made_up, host.feature(VLAN, **ACCESS))
    host.add_features(port, host.feature(VLAN, **ACCESS))
    assert len(host.features(port, VLAN)) == 1


@pytest.mark.hyperv_verified
def test_affected_configuration_must_be_a_connection(host: Host) -> None:
    vm, _, connection = host.port()
    vm_settings = host.settings(vm).path
    assert vm_settings is not None
    with refused("AffectedConfiguration"):
        host.add_features(vm_settings, host.feature(VLAN, **ACCESS))
    host.add_features(connection, host.feature(VLAN, **ACCESS))
    assert len(host.features(connection, VLAN)) == 1


# -- value rules: one refused and one accepted value per rule ----------------

def case(name: str, cls: str, bad: dict[str, Any], ok: dict[str, Any], prop: str,
         verified: bool = False) -> Any:
    return pytest.param(cls, bad, ok, prop, id=name, marks=[VERIFIED] if verified else [])


VALUE_RULES = [
    case("vlan-access-0", VLAN, {**ACCESS, "AccessVlanId": 0}, ACCESS, "AccessVlanId"),
    case("vlan-access-4095", VLAN, {**ACCESS, "AccessVlanId": 4095}, ACCESS, "AccessVlanId"),
    case("vlan-access-5000", VLAN, {**ACCESS, "AccessVlanId": 5000}, ACCESS, "AccessVlanId",
         verified=True),
    case("vlan-mode-0", VLAN, {**ACCESS, "OperationMode": 0}, ACCESS, "OperationMode"),
    case("vlan-trunk-without-ids", VLAN, {"OperationMode": 2, "NativeVlanId": 10}, TRUNK,
         "TrunkVlanIdArray"),
    case("vlan-access-with-trunk-ids", VLAN, {**ACCESS, "TrunkVlanIdArray": [10, 20]}, ACCESS,
         "TrunkVlanIdArray"),
    case("vlan-isolated-without-secondary", VLAN, {**ISOLATED, "SecondaryVlanId": 0}, ISOLATED,
         "SecondaryVlanId"),
    case("vlan-uint16-overflow", VLAN, {**ACCESS, "AccessVlanId": 70000}, ACCESS,
         "AccessVlanId", verified=True),
    case("security-monitor-mode-3", SECURITY, {"MonitorMode": 3}, {"MonitorMode": 2},
         "MonitorMode", verified=True),
    case("security-virtual-subnet-100", SECURITY, {"VirtualSubnetId": 100},
         {"VirtualSubnetId": 5000}, "VirtualSubnetId", verified=True),
    case("acl-direction-0", ACL, {**RULE, "Direction": 0}, RULE, "Direction", verified=True),
    case("acl-action-0", ACL, {**RULE, "Action": 0}, RULE, "Action", verified=True),
    case("acl-action-meter", ACL, {**RULE, "Action": 3}, {**RULE, "Action": 2}, "Action",
         verified=True),
    case("acl-bad-address", ACL, {**RULE, "RemoteIPAddress": "10.0.0.300"},
         {**RULE, "RemoteIPAddress": "10.0.0.0/24"}, "RemoteIPAddress", verified=True),
    case("acl-bad-local-address", ACL, {**RULE, "LocalIPAddress": "10.0.0.300"},
         {**RULE, "LocalIPAddress": "ANY"}, "LocalIPAddress", verified=True),
    case("acl-reversed-port-range", ACL, {**RULE, "RemotePort": "2000-1000"},
         {**RULE, "RemotePort": "1000-2000"}, "RemotePort"),
    case("acl-protocol-name-icmp", ACL, {**RULE, "Protocol": "ICMP"}, {**RULE, "Protocol": "1"},
         "Protocol", verified=True),
    case("acl-weight-0", ACL, {**RULE, "Weight": 0}, RULE, "Weight"),
    case("acl-stateful-deny", ACL, {**STATEFUL, "Action": 2}, STATEFUL, "Stateful"),
    case("acl-stateful-icmp", ACL, {**STATEFUL, "Protocol": "1"}, STATEFUL, "Stateful"),
    case("acl-name-too-long", ACL, {**RULE, "Name": "n" * 65}, {**RULE, "Name": "n" * 64},
         "Name", verified=True),
    case("offload-vmq-weight-101", OFFLOAD, {"VMQOffloadWeight": 101}, {"VMQOffloadWeight": 0},
         "VMQOffloadWeight", verified=True),
    case("offload-interrupt-moderation-3", OFFLOAD, {"IOVInterruptModeration": 3},
         {"IOVInterruptModeration": 300}, "IOVInterruptModeration", verified=True),
    case("profile-id-not-a-guid", PROFILE, {"ProfileId": "not-a-guid"}, {"ProfileId": GUID},
         "ProfileId", verified=True),
    case("profile-name-128", PROFILE, {"ProfileName": "p" * 128}, {"ProfileName": "p" * 127},
         "ProfileName", verified=True),
]


@pytest.mark.parametrize("cls, bad, ok, prop", VALUE_RULES)
def test_value_rule(host: Host, port: Reference, cls: str, bad: dict[str, Any],
                    ok: dict[str, Any], prop: str) -> None:
    with refused(cls, prop):
        host.add_features(port, host.feature(cls, **bad))
    assert host.features(port, cls) == []
    host.add_features(port, host.feature(cls, **ok))
    [stored] = host.features(port, cls)
    assert values_of(stored, ok) == ok


@pytest.mark.hyperv_verified
@pytest.mark.parametrize("protocol", ["TCP", "UDP", "6", "17", "1", "ANY"])
def test_acl_protocols_accepted(host: Host, port: Reference, protocol: str) -> None:
    host.add_features(port, host.acl(1, 1, 10, Protocol=protocol))
    assert [f["Protocol"] for f in host.features(port, ACL)] == [protocol]


@pytest.mark.hyperv_verified
def test_mac_spoofing_is_read_back(host: Host, port: Reference) -> None:
    host.add_features(port, host.feature(SECURITY, AllowMacSpoofing=True))
    assert [f["AllowMacSpoofing"] for f in host.features(port, SECURITY)] == [True]


@pytest.mark.hyperv_verified
def test_embedded_feature_with_unknown_property_is_refused(host: Host, port: Reference) -> None:
    vlan = host.feature(VLAN, **ACCESS)
    bogus = Instance(VLAN, {**vlan.properties, "NoSuchProperty": 1}, None, vlan.cim_types)
    with refused(VLAN, "NoSuchProperty"):
        host.add_features(port, bogus)
    assert host.features(port) == []
    host.add_features(port, vlan)
    assert len(host.features(port, VLAN)) == 1


# -- VLAN: one per port, modify, and no VLAN with isolation --------------------

@pytest.mark.hyperv_verified
def test_a_port_has_one_vlan_setting(host: Host, port: Reference) -> None:
    host.add_features(port, host.feature(VLAN, **ACCESS))
    with refused(VLAN):
        host.add_features(port, host.feature(VLAN, **{**ACCESS, "AccessVlanId": 200}))
    assert [f["AccessVlanId"] for f in host.features(port, VLAN)] == [100]


def test_modify_vlan_is_checked_like_add(host: Host, port: Reference) -> None:
    host.add_features(port, host.feature(VLAN, **ACCESS))
    modify(host, host.features(port, VLAN)[0], AccessVlanId=200)
    assert [f["AccessVlanId"] for f in host.features(port, VLAN)] == [200]
    with refused(VLAN, "AccessVlanId"):
        modify(host, host.features(port, VLAN)[0], AccessVlanId=0)
    assert [f["AccessVlanId"] for f in host.features(port, VLAN)] == [200]


@pytest.mark.parametrize("first, second", [(VLAN, SECURITY), (SECURITY, VLAN)])
def test_vlan_and_virtual_subnet_exclude_each_other(host: Host, port: Reference, first: str,
                                                    second: str) -> None:
    settings = {VLAN: ACCESS, SECURITY: {"VirtualSubnetId": 5000}}
    host.add_features(port, host.feature(first, **settings[first]))
    with refused(second, "VirtualSubnetId"):
        host.add_features(port, host.feature(second, **settings[second]))
    assert host.features(port, second) == []


def test_vlan_with_security_but_no_virtual_subnet_is_accepted(host: Host,
                                                              port: Reference) -> None:
    host.add_features(port, host.feature(VLAN, **ACCESS),
                      host.feature(SECURITY, AllowMacSpoofing=True))
    assert len(host.features(port)) == 2


# -- extended ACLs ---------------------------------------------------------------

def test_direction_and_weight_identify_a_rule(host: Host, port: Reference) -> None:
    host.add_features(port, host.acl(1, 1, 10))
    with refused(ACL, "Weight"):
        host.add_features(port, host.acl(1, 2, 10))
    host.add_features(port, host.acl(2, 1, 10))
    assert sorted((f["Direction"], f["Weight"]) for f in host.features(port, ACL)) == \
        [(1, 10), (2, 10)]


def test_duplicate_weight_within_one_call_is_refused(host: Host, port: Reference) -> None:
    with refused(ACL, "Weight"):
        host.add_features(port, host.acl(1, 1, 10), host.acl(1, 2, 10))
    assert host.features(port, ACL) == []
    host.add_features(port, host.acl(1, 1, 10), host.acl(1, 2, 11))
    assert len(host.features(port, ACL)) == 2


def test_many_acls_in_one_call_are_one_write(host: Host, port: Reference,
                                             emulated_host: EmulatedHost) -> None:
    rules = [host.acl(1 + i % 2, 1, 100 + i, Name=f"rule-{i}") for i in range(20)]
    emulated_host.counters.reset()
    host.add_features(port, *rules)
    assert emulated_host.counters.writes == 1
    assert emulated_host.counters.by_operation()["invoke:AddFeatureSettings"] == 1
    assert len(host.features(port, ACL)) == 20


@pytest.mark.hyperv_verified
def test_remove_one_rule_leaves_the_others(host: Host, port: Reference) -> None:
    refs = host.add_features(port, host.acl(1, 2, 1), host.acl(2, 2, 1),
                             host.acl(1, 1, 100, Protocol="TCP", LocalPort="22"))
    host.call("RemoveFeatureSettings", FeatureSettings=[refs[2]])
    assert sorted((f["Direction"], f["Weight"]) for f in host.features(port, ACL)) == \
        [(1, 1), (2, 1)]
    with refused(ACL):
        host.call("RemoveFeatureSettings", FeatureSettings=[refs[2]])
    assert len(host.features(port, ACL)) == 2


def test_modify_cannot_give_two_rules_one_weight(host: Host, port: Reference) -> None:
    first, second = (host.session.get(ref) for ref in
                     host.add_features(port, host.acl(1, 1, 10), host.acl(1, 1, 20)))
    host.call("ModifyFeatureSettings", FeatureSettings=[first.replace(Weight=30),
                                                        second.replace(Weight=40)])
    with refused(ACL, "Weight"):
        host.call("ModifyFeatureSettings", FeatureSettings=[first.replace(Weight=50),
                                                            second.replace(Weight=50)])
    assert sorted(f["Weight"] for f in host.features(port, ACL)) == [30, 40]


# -- offload: SR-IOV needs an SR-IOV vSwitch (emulator's seeded switches) -----

def test_iov_offload_needs_an_sriov_switch(host: Host) -> None:
    _, _, sriov = host.port(switch=host.switch("vSwitch-sriov"))
    _, _, plain = host.port(switch=host.switch("vSwitch-physnet1"))
    host.add_features(sriov, host.feature(OFFLOAD, IOVOffloadWeight=100))
    assert [f["IOVOffloadWeight"] for f in host.features(sriov, OFFLOAD)] == [100]
    with refused(OFFLOAD, "IOVOffloadWeight", "SR-IOV"):
        host.add_features(plain, host.feature(OFFLOAD, IOVOffloadWeight=100))
    assert host.features(plain, OFFLOAD) == []


# -- bandwidth: minimum bandwidth follows the vSwitch's reservation mode -------

def bandwidth_port(host: Host, mode: int) -> Reference:
    return host.port(switch=host.define_switch(bandwidth_mode=mode))[2]


@pytest.mark.hyperv_verified
def test_limit_on_a_default_switch(host: Host, port: Reference) -> None:
    host.add_features(port, host.feature(BANDWIDTH, Limit=100_000_000))
    assert [f["Limit"] for f in host.features(port, BANDWIDTH)] == [100_000_000]


@pytest.mark.hyperv_verified
@pytest.mark.parametrize("mode", [0, 1])
def test_reservation_needs_absolute_mode(host: Host, mode: int) -> None:
    weighted = bandwidth_port(host, mode)
    with refused(BANDWIDTH, "Reservation"):
        host.add_features(weighted, host.feature(BANDWIDTH, Reservation=10_000_000))
    assert host.features(weighted, BANDWIDTH) == []
    absolute = bandwidth_port(host, 2)
    host.add_features(absolute, host.feature(BANDWIDTH, Reservation=10_000_000))
    assert [f["Reservation"] for f in host.features(absolute, BANDWIDTH)] == [10_000_000]


@pytest.mark.hyperv_verified
def test_weight_is_0_to_100_on_a_weight_mode_switch(host: Host) -> None:
    weighted = bandwidth_port(host, 1)
    with refused(BANDWIDTH, "Weight"):
        host.add_features(weighted, host.feature(BANDWIDTH, Weight=101))
    host.add_features(weighted, host.feature(BANDWIDTH, Weight=50))
    assert [f["Weight"] for f in host.features(weighted, BANDWIDTH)] == [50]


def test_burst_limit_below_limit_is_refused(host: Host, port: Reference) -> None:
    with refused(BANDWIDTH, "BurstLimit"):
        host.add_features(port, host.feature(BANDWIDTH, Limit=2_000_000, BurstLimit=1_000_000))
    host.add_features(port, host.feature(BANDWIDTH, Limit=2_000_000, BurstLimit=4_000_000))
    assert [f["BurstLimit"] for f in host.features(port, BANDWIDTH)] == [4_000_000]


# -- the ...\Default templates are not a port's settings ----------------------

def test_features_cannot_be_added_to_the_default_connection(host: Host,
                                                            port: Reference) -> None:
    template = host.default(CONNECTION).path
    assert template is not None
    with refused(CONNECTION):
        host.add_features(template, host.feature(VLAN, **ACCESS))
    assert host.features(template) == []
    host.add_features(port, host.feature(VLAN, **ACCESS))
    assert len(host.features(port, VLAN)) == 1


def test_the_default_feature_cannot_be_modified(host: Host, port: Reference) -> None:
    host.add_features(port, host.feature(VLAN, **ACCESS))
    modify(host, host.features(port, VLAN)[0], AccessVlanId=200)
    with refused(VLAN):
        modify(host, host.default(VLAN), OperationMode=1, AccessVlanId=300)
    assert host.default(VLAN)["OperationMode"] == 0


def test_the_default_feature_cannot_be_removed(host: Host, port: Reference) -> None:
    [mine] = host.add_features(port, host.feature(VLAN, **ACCESS))
    host.call("RemoveFeatureSettings", FeatureSettings=[mine])
    assert host.features(port, VLAN) == []
    template = host.default(VLAN).path
    with refused(VLAN):
        host.call("RemoveFeatureSettings", FeatureSettings=[template])
    assert host.default(VLAN).path == template


# -- atomicity -----------------------------------------------------------------

def test_refused_add_stores_none_of_its_features(host: Host, port: Reference) -> None:
    good = [host.feature(VLAN, **ACCESS), host.feature(SECURITY, AllowMacSpoofing=True),
            host.acl(1, 1, 10)]
    with refused(ACL, "Direction"):
        host.add_features(port, *good, host.acl(0, 1, 20))
    assert host.features(port) == []
    host.add_features(port, *good)
    assert len(host.features(port)) == 3
