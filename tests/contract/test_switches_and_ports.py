"""Contract: vSwitches, switch connections and the switch ports they create.

Rules under test (their sources are in the emulator's docstrings):
``providers/switches.py`` (DefineSystem/DestroySystem of a vSwitch) and
``providers/resources.py`` (a connection's Parent, HostResource and
EnabledState), plus the InstanceID shape described in ``model.py``.

Tests marked ``hyperv_verified`` state documented Hyper-V behaviour; the
others check the emulator's own seed or a choice it makes where Microsoft
is silent: they are emulator-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from winstackers.cim import Instance, InvalidParameter, NotFound, Reference

from .helpers import BANDWIDTH, CONNECTION, NIC, VLAN, Host

SWITCH_SETTINGS = "Msvm_VirtualEthernetSwitchSettingData"
SWITCH_PORT = "Msvm_EthernetSwitchPort"
INVALID_PARAMETER = 4


@contextmanager
def refused(*names: str) -> Iterator[pytest.ExceptionInfo[InvalidParameter]]:
    """Expect Invalid Parameter (4) with a message naming each of *names*."""
    with pytest.raises(InvalidParameter) as info:
        yield info
    assert info.value.code == INVALID_PARAMETER
    for name in names:
        assert name in str(info.value)


def new_switch_settings(host: Host, **values: object) -> Instance:
    return host.session.new_instance(SWITCH_SETTINGS, values)


def switch_port(host: Host, connection: Reference) -> Reference:
    """The one Msvm_EthernetSwitchPort a connection created."""
    [port] = host.session.associators(connection, assoc_class="Msvm_ElementSettingData",
                                      result_class=SWITCH_PORT)
    assert port.path is not None
    return port.path


def wql_literal(value: str) -> str:
    """*value* inside a WQL string literal: each backslash doubled."""
    return value.replace("\\", "\\\\")


# -- switches ------------------------------------------------------------------

def test_seeded_switches_and_iov_support(host: Host) -> None:
    switches = host.session.query("SELECT * FROM Msvm_VirtualEthernetSwitch")
    names = {s["ElementName"] for s in switches}
    assert {"vSwitch-physnet1", "vSwitch-sriov"} <= names
    assert host.settings(host.switch("vSwitch-physnet1"))["IOVPreferred"] is False
    assert host.settings(host.switch("vSwitch-sriov"))["IOVPreferred"] is True
    [caps] = host.session.query(
        "SELECT * FROM Msvm_VirtualEthernetSwitchManagementCapabilities")
    assert caps["IOVSupport"] is True


@pytest.mark.hyperv_verified
def test_define_private_switch_and_read_its_settings(host: Host) -> None:
    switch = host.define_switch(bandwidth_mode=2)
    settings = host.settings(switch)
    assert settings["IOVPreferred"] is False
    assert settings["BandwidthReservationMode"] == 2
    assert settings["ElementName"] == host.session.get(switch)["ElementName"]


def test_switch_without_a_name_is_refused(host: Host) -> None:
    with refused("ElementName"):
        host.call("DefineSystem", host.switch_service,
                  SystemSettings=new_switch_settings(host, ElementName=""))
    assert host.settings(host.define_switch())["ElementName"].startswith("winstackers-test")


@pytest.mark.hyperv_verified
def test_bandwidth_reservation_mode_outside_enum_is_refused(host: Host) -> None:
    before = len(host.session.query("SELECT * FROM Msvm_VirtualEthernetSwitch"))
    with refused("BandwidthReservationMode"):
        host.call("DefineSystem", host.switch_service, SystemSettings=new_switch_settings(
            host, ElementName="winstackers-test-bw7", BandwidthReservationMode=7))
    assert len(host.session.query("SELECT * FROM Msvm_VirtualEthernetSwitch")) == before
    assert host.settings(host.define_switch(bandwidth_mode=3))["BandwidthReservationMode"] == 3


@pytest.mark.hyperv_verified
def test_destroying_a_switch_leaves_its_connections_disconnected(host: Host) -> None:
    switch = host.define_switch()
    _, _, connection = host.port(switch=switch)
    port = switch_port(host, connection)
    host.call("DestroySystem", host.switch_service, AffectedSystem=switch)
    assert host.session.get(connection)["HostResource"] in ([], None)
    with pytest.raises(NotFound):
        host.session.get(port)
    with pytest.raises(NotFound):
        host.session.get(switch)


# -- connecting ----------------------------------------------------------------

@pytest.mark.hyperv_verified
def test_connection_parent_must_be_a_nic_of_that_vm(host: Host) -> None:
    switch = host.define_switch()
    vm, other_vm = host.define_vm(), host.define_vm()
    nic = host.add_nic(vm)
    with refused("Parent"):
        host.connect(other_vm, nic, switch)
    assert host.session.get(host.connect(vm, nic, switch))["Parent"] == nic.path


@pytest.mark.hyperv_verified
def test_connection_to_a_switch_that_does_not_exist_is_refused(host: Host) -> None:
    vm = host.define_vm()
    nic = host.add_nic(vm)
    missing = Reference.build(host.session.namespace, "Msvm_VirtualEthernetSwitch", {
        "CreationClassName": "Msvm_VirtualEthernetSwitch",
        "Name": "00000000-0000-0000-0000-0000DEADBEEF"})
    with refused("HostResource"):
        host.connect(vm, nic, missing)
    switch = host.define_switch()
    assert host.session.get(host.connect(vm, nic, switch))["HostResource"] == [switch.path]


@pytest.mark.hyperv_verified
def test_a_nic_has_at_most_one_connection(host: Host) -> None:
    vm, nic, connection = host.port()
    with refused("connection"):
        host.connect(vm, nic, host.define_switch())
    vm_settings = host.settings(vm).path
    assert vm_settings is not None
    connections = host.session.associators(vm_settings, result_class=CONNECTION)
    assert [c.path for c in connections] == [connection]


@pytest.mark.hyperv_verified
def test_connection_creates_one_switch_port(host: Host) -> None:
    switch = host.define_switch()
    _, _, connection = host.port(switch=switch)
    port = switch_port(host, connection)
    on_switch = host.session.associators(switch, assoc_class="Msvm_SystemDevice",
                                         result_class=SWITCH_PORT)
    assert [p.path for p in on_switch] == [port]
    assert host.session.get(port)["SystemName"] == host.session.get(switch)["Name"]


@pytest.mark.hyperv_verified
def test_moving_a_connection_moves_its_port_and_keeps_features(host: Host) -> None:
    first, second = host.define_switch(), host.define_switch()
    _, _, connection = host.port(switch=first)
    host.add_features(connection, host.feature(VLAN, OperationMode=1, AccessVlanId=100))
    moved = host.session.get(connection).replace(HostResource=[second.path])
    host.call("ModifyResourceSettings", ResourceSettings=[moved])
    assert host.session.get(switch_port(host, connection))["SystemName"] == \
        host.session.get(second)["Name"]
    assert host.session.associators(first, assoc_class="Msvm_SystemDevice",
                                    result_class=SWITCH_PORT) == []
    assert [f["AccessVlanId"] for f in host.features(connection, VLAN)] == [100]


def test_connection_enabled_state_must_be_enabled_or_disabled(host: Host) -> None:
    _, _, connection = host.port()
    current = host.session.get(connection)
    with refused("EnabledState"):
        host.call("ModifyResourceSettings", ResourceSettings=[current.replace(EnabledState=5)])
    assert host.session.get(connection)["EnabledState"] == 2
    host.call("ModifyResourceSettings", ResourceSettings=[current.replace(EnabledState=3)])
    assert host.session.get(connection)["EnabledState"] == 3


def test_the_default_connection_cannot_be_modified(host: Host) -> None:
    template = host.default(CONNECTION)
    with refused(CONNECTION):
        host.call("ModifyResourceSettings", ResourceSettings=[template.replace(EnabledState=3)])
    assert host.default(CONNECTION)["EnabledState"] == 2


@pytest.mark.parametrize("values, accepted_on, refused_on", [
    ({"Reservation": 10_000_000}, 2, 1),  # Absolute only
    ({"Weight": 50}, 1, 2),  # Weight mode only
])
def test_moving_a_connection_checks_its_features_on_the_new_switch(
        host: Host, values: dict[str, int], accepted_on: int, refused_on: int) -> None:
    source = host.define_switch(bandwidth_mode=accepted_on)
    target = host.define_switch(bandwidth_mode=refused_on)
    _, _, connection = host.port(switch=source)
    host.add_features(connection, host.feature(BANDWIDTH, **values))
    moved = host.session.get(connection).replace(HostResource=[target.path])
    with refused(BANDWIDTH):
        host.call("ModifyResourceSettings", ResourceSettings=[moved])
    assert host.session.get(connection)["HostResource"] == [source.path]


# -- InstanceID prefixes -------------------------------------------------------

@pytest.mark.hyperv_verified
def test_instance_ids_nest_so_prefix_queries_find_a_ports_settings(host: Host) -> None:
    _, nic, connection = host.port()
    _, _, other = host.port()
    host.add_features(other, host.feature(VLAN, OperationMode=1, AccessVlanId=7))
    [feature] = host.add_features(connection, host.feature(VLAN, OperationMode=1,
                                                           AccessVlanId=100))
    nic_id, conn_id = nic.key("InstanceID"), connection.key("InstanceID")
    assert conn_id.startswith(nic_id)
    assert feature.key("InstanceID").startswith(conn_id)
    found = host.session.query(
        f"SELECT * FROM {CONNECTION} WHERE InstanceID LIKE '{wql_literal(nic_id)}%'")
    assert [c.path for c in found] == [connection]
    found = host.session.query(
        f"SELECT * FROM {VLAN} WHERE InstanceID LIKE '{wql_literal(conn_id)}%'")
    assert [(f.path, f["AccessVlanId"]) for f in found] == [(feature, 100)]
    assert host.session.query(f"SELECT * FROM {NIC} WHERE InstanceID LIKE "
                              f"'{wql_literal(nic_id)}%'")[0].path == nic
