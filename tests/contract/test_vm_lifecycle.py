"""A VM's life through ``winstackers.cim``: define, change, power, network, destroy.

Every strict rule is shown twice: one call the host refuses (with the typed
error, Hyper-V's return code and a message naming what is at fault) and one
it accepts (with the change read back from the host).
"""

from __future__ import annotations

from typing import Any

import pytest

from winstackers.cim import (
    CimError,
    Instance,
    InvalidParameter,
    InvalidState,
    NotFound,
    NotSupported,
    Reference,
    call,
)

from .helpers import GEN1, GEN2, NIC, OFF, PAUSED, RUNNING, SAVED, VLAN, VSSD, Host, unique

MEMORY = "Msvm_MemorySettingData"
PROCESSOR = "Msvm_ProcessorSettingData"
COMPONENT = "Msvm_VirtualSystemSettingDataComponent"
REBOOT, RESET, SHUT_DOWN = 10, 11, 4
TEMPLATES = ("MicrosoftWindows", "MicrosoftUEFICertificateAuthority")

verified = pytest.mark.hyperv_verified


# -- small steps ---------------------------------------------------------------
def devices(host: Host, vm: Reference, class_name: str) -> list[Instance]:
    """The device settings of *vm* of one class."""
    return host.session.associators(host.settings(vm).path, assoc_class=COMPONENT,
                                    result_class=class_name)


def device(host: Host, vm: Reference, class_name: str) -> Instance:
    """The one device setting of *vm* of *class_name*."""
    found = devices(host, vm, class_name)
    assert len(found) == 1, f"{len(found)} {class_name} on the VM"
    return found[0]


def define(host: Host, *resources: Instance, **settings: Any) -> Reference:
    """DefineSystem with explicit device settings; the VM is cleaned up."""
    vssd = host.session.new_instance(VSSD, {"ElementName": unique(),
                                            "VirtualSystemSubType": GEN2, **settings})
    vm = host.call("DefineSystem", SystemSettings=vssd,
                   ResourceSettings=list(resources))["ResultingSystem"]
    host.vms.append(vm)
    return vm


def modify_vm(host: Host, vm: Reference, **changes: Any) -> None:
    """ModifySystemSettings with *changes* to the VM's settings."""
    host.call("ModifySystemSettings", SystemSettings=host.settings(vm).replace(**changes))


def modify_device(host: Host, vm: Reference, class_name: str, **changes: Any) -> None:
    """ModifyResourceSettings with *changes* to one device of the VM."""
    setting = device(host, vm, class_name).replace(**changes)
    host.call("ModifyResourceSettings", ResourceSettings=[setting])


def template_id(host: Host, name: str) -> str:
    """The SecureBootTemplateId of a secure boot template, found by name."""
    found = host.session.query(f"SELECT * FROM {VSSD} WHERE ElementName = '{name}'")
    assert len(found) == 1, f"{len(found)} templates named {name}"
    return str(found[0]["SecureBootTemplateId"])


def state(host: Host, vm: Reference) -> int:
    return int(host.session.get(vm)["EnabledState"])


def running_vm(host: Host, generation: int = 2) -> Reference:
    vm = host.define_vm(generation=generation)
    host.set_state(vm, RUNNING)
    return vm


def assert_refusal(error: CimError, code: int, *named: str) -> None:
    """The error carries *code* and its message names each of *named*."""
    assert error.code == code, str(error)
    for name in named:
        assert name in str(error), f"{name!r} not in {error}"


# -- DefineSystem ----------------------------------------------------------------
@verified
@pytest.mark.parametrize("generation, subtype", [(1, GEN1), (2, GEN2)])
def test_define_system_creates_an_off_vm_of_the_generation(
        host: Host, generation: int, subtype: str) -> None:
    name = unique()
    vm = host.define_vm(name, generation=generation)
    assert host.session.get(vm)["ElementName"] == name
    assert state(host, vm) == OFF
    assert host.settings(vm)["VirtualSystemSubType"] == subtype


@verified
def test_new_vm_has_1024_mb_and_one_processor(host: Host) -> None:
    vm = host.define_vm()
    assert device(host, vm, MEMORY)["VirtualQuantity"] == 1024
    assert device(host, vm, PROCESSOR)["VirtualQuantity"] == 1


@verified
def test_duplicate_vm_names_are_allowed_with_distinct_ids(host: Host) -> None:
    name = unique()
    first, second = host.define_vm(name), host.define_vm(name)
    assert first.key("Name") != second.key("Name")
    found = host.session.query(
        f"SELECT * FROM Msvm_ComputerSystem WHERE ElementName = '{name}'")
    assert sorted(vm["Name"] for vm in found) == sorted([first.key("Name"),
                                                         second.key("Name")])


@verified
def test_define_system_refuses_an_unknown_subtype(host: Host) -> None:
    name = unique()
    with pytest.raises(InvalidParameter) as err:
        define(host, ElementName=name, VirtualSystemSubType="Microsoft:Hyper-V:SubType:3")
    assert_refusal(err.value, 4, "DefineSystem", "Microsoft:Hyper-V:SubType:3")
    assert host.session.query(
        f"SELECT * FROM Msvm_ComputerSystem WHERE ElementName = '{name}'") == []


@verified
def test_secure_boot_is_refused_on_generation_1(host: Host) -> None:
    with pytest.raises(InvalidParameter) as err:
        host.define_vm(generation=1, SecureBootEnabled=True)
    assert_refusal(err.value, 4, "secure boot")


@verified
@pytest.mark.parametrize("template", TEMPLATES)
def test_secure_boot_on_generation_2_with_a_template(host: Host, template: str) -> None:
    guid = template_id(host, template)
    vm = host.define_vm(generation=2, SecureBootEnabled=True, SecureBootTemplateId=guid)
    settings = host.settings(vm)
    assert settings["SecureBootEnabled"] is True
    assert settings["SecureBootTemplateId"].strip("{}").upper() == guid.strip("{}").upper()


@verified
def test_define_system_refuses_an_unknown_secure_boot_template(host: Host) -> None:
    bogus = "00000000-1111-2222-3333-444444444444"
    with pytest.raises(InvalidParameter) as err:
        host.define_vm(generation=2, SecureBootEnabled=True, SecureBootTemplateId=bogus)
    assert_refusal(err.value, 4, bogus)


def test_define_system_refuses_an_unknown_property(host: Host) -> None:
    settings = host.session.new_instance(VSSD, {"ElementName": unique()})
    with_typo = Instance(VSSD, {**settings.properties, "SecureBootEnabeld": True},
                         None, settings.cim_types)
    with pytest.raises(InvalidParameter) as err:
        host.call("DefineSystem", SystemSettings=with_typo)
    assert_refusal(err.value, 4, "SecureBootEnabeld")


@verified
def test_memory_must_be_a_multiple_of_2_mb(host: Host) -> None:
    memory = host.default(MEMORY)
    with pytest.raises(InvalidParameter) as err:
        define(host, memory.replace(VirtualQuantity=1025))
    assert_refusal(err.value, 4, "1025")
    vm = define(host, memory.replace(VirtualQuantity=2050))
    assert device(host, vm, MEMORY)["VirtualQuantity"] == 2050


def test_virtual_processors_are_limited_by_the_host(host: Host) -> None:
    processor = host.default(PROCESSOR)  # the emulated host has 16 logical processors
    with pytest.raises(InvalidParameter) as err:
        define(host, processor.replace(VirtualQuantity=17))
    assert_refusal(err.value, 4, "17", "16")
    vm = define(host, processor.replace(VirtualQuantity=16))
    assert device(host, vm, PROCESSOR)["VirtualQuantity"] == 16


# -- ModifySystemSettings -----------------------------------------------------------
@verified
def test_rename_a_vm(host: Host) -> None:
    vm = host.define_vm()
    new_name = unique()
    modify_vm(host, vm, ElementName=new_name)
    assert host.session.get(vm)["ElementName"] == new_name
    assert host.settings(vm)["ElementName"] == new_name


@verified
def test_subtype_is_read_only(host: Host) -> None:
    vm = host.define_vm(generation=2)
    with pytest.raises(InvalidParameter) as err:
        modify_vm(host, vm, VirtualSystemSubType=GEN1)
    assert_refusal(err.value, 4, "VirtualSystemSubType")
    assert host.settings(vm)["VirtualSystemSubType"] == GEN2


@verified
def test_secure_boot_cannot_change_while_running(host: Host) -> None:
    vm = running_vm(host)
    with pytest.raises(InvalidState) as err:
        modify_vm(host, vm, SecureBootEnabled=True,
                  SecureBootTemplateId=template_id(host, TEMPLATES[0]))
    assert_refusal(err.value, 5, "secure boot")
    assert host.settings(vm)["SecureBootEnabled"] is False


@verified
def test_secure_boot_changes_while_off(host: Host) -> None:
    vm = host.define_vm(generation=2)
    modify_vm(host, vm, SecureBootEnabled=True,
              SecureBootTemplateId=template_id(host, TEMPLATES[1]))
    assert host.settings(vm)["SecureBootEnabled"] is True


# -- ModifyResourceSettings ---------------------------------------------------------
@verified
def test_static_memory_changes_while_running(host: Host) -> None:
    vm = running_vm(host)
    modify_device(host, vm, MEMORY, VirtualQuantity=2048)
    assert device(host, vm, MEMORY)["VirtualQuantity"] == 2048


DYNAMIC_ON = {"DynamicMemoryEnabled": True, "Reservation": 512, "Limit": 4096}


@verified
def test_dynamic_memory_cannot_be_turned_on_while_running(host: Host) -> None:
    vm = running_vm(host)
    with pytest.raises(InvalidState) as err:
        modify_device(host, vm, MEMORY, **DYNAMIC_ON)
    assert_refusal(err.value, 5, "Dynamic Memory")
    assert device(host, vm, MEMORY)["DynamicMemoryEnabled"] is False


@verified
def test_dynamic_memory_cannot_be_turned_off_while_running(host: Host) -> None:
    vm = host.define_vm()
    modify_device(host, vm, MEMORY, **DYNAMIC_ON)
    host.set_state(vm, RUNNING)
    with pytest.raises(InvalidState) as err:
        modify_device(host, vm, MEMORY, DynamicMemoryEnabled=False)
    assert_refusal(err.value, 5, "Dynamic Memory")
    assert device(host, vm, MEMORY)["DynamicMemoryEnabled"] is True


@verified
@pytest.mark.parametrize("reservation, limit", [(512, 4096), (1024, 1024)])
def test_dynamic_memory_turns_on_while_off(host: Host, reservation: int, limit: int) -> None:
    vm = host.define_vm()
    modify_device(host, vm, MEMORY, DynamicMemoryEnabled=True, Reservation=reservation,
                  Limit=limit)
    memory = device(host, vm, MEMORY)
    assert (memory["DynamicMemoryEnabled"], memory["Reservation"], memory["Limit"]) == \
        (True, reservation, limit)


@verified
@pytest.mark.parametrize("reservation, limit", [(2048, 4096), (512, 512), (0, 4096)],
                         ids=["minimum-above-startup", "maximum-below-startup", "no-minimum"])
def test_dynamic_memory_needs_minimum_startup_maximum_in_order(
        host: Host, reservation: int, limit: int) -> None:
    vm = host.define_vm()  # startup memory (VirtualQuantity) is 1024 MB
    with pytest.raises(InvalidParameter) as err:
        modify_device(host, vm, MEMORY, DynamicMemoryEnabled=True, Reservation=reservation,
                      Limit=limit)
    assert_refusal(err.value, 4, "Reservation", "Limit")
    assert device(host, vm, MEMORY)["DynamicMemoryEnabled"] is False


@verified
def test_processor_count_cannot_change_while_running(host: Host) -> None:
    vm = running_vm(host)
    with pytest.raises(InvalidState) as err:
        modify_device(host, vm, PROCESSOR, VirtualQuantity=2)
    assert_refusal(err.value, 5, "processors")
    assert device(host, vm, PROCESSOR)["VirtualQuantity"] == 1


@verified
def test_processor_count_changes_while_off(host: Host) -> None:
    vm = host.define_vm()
    modify_device(host, vm, PROCESSOR, VirtualQuantity=2)
    assert device(host, vm, PROCESSOR)["VirtualQuantity"] == 2


@verified
@pytest.mark.parametrize("class_name, changes", [
    (PROCESSOR, {"VirtualQuantity": 2}), (MEMORY, {"VirtualQuantity": 2048})])
def test_hardware_cannot_change_while_saved(host: Host, class_name: str,
                                            changes: dict[str, Any]) -> None:
    vm = running_vm(host)
    host.set_state(vm, SAVED)
    with pytest.raises(InvalidState) as err:
        modify_device(host, vm, class_name, **changes)
    assert_refusal(err.value, 5)


# -- RequestStateChange ------------------------------------------------------------
@verified
@pytest.mark.parametrize("steps", [
    [(RUNNING, RUNNING), (PAUSED, PAUSED), (RUNNING, RUNNING), (OFF, OFF)],
    [(RUNNING, RUNNING), (SAVED, SAVED), (RUNNING, RUNNING), (REBOOT, RUNNING),
     (RESET, RUNNING), (OFF, OFF)],
    [(RUNNING, RUNNING), (PAUSED, PAUSED), (SAVED, SAVED), (OFF, OFF)],
], ids=["pause-resume", "save-restore-reboot-reset", "pause-save-off"])
def test_power_transitions(host: Host, steps: list[tuple[int, int]]) -> None:
    vm = host.define_vm()
    for requested, expected in steps:
        host.set_state(vm, requested)
        assert state(host, vm) == expected, f"after requesting {requested}"


@verified
@pytest.mark.parametrize("start_running, requested", [
    (False, PAUSED), (False, SAVED), (True, RUNNING)],
    ids=["pause-when-off", "save-when-off", "start-when-running"])
def test_disallowed_transitions_are_refused(host: Host, start_running: bool,
                                            requested: int) -> None:
    vm = running_vm(host) if start_running else host.define_vm()
    before = state(host, vm)
    with pytest.raises(InvalidState) as err:
        host.set_state(vm, requested)
    assert_refusal(err.value, 32775, "RequestStateChange", host.session.get(vm)["ElementName"])
    assert state(host, vm) == before


@verified
def test_shut_down_state_4_is_not_supported(host: Host) -> None:
    vm = running_vm(host)
    with pytest.raises(NotSupported) as err:
        host.set_state(vm, SHUT_DOWN)
    assert_refusal(err.value, 32770, "RequestStateChange")
    assert state(host, vm) == RUNNING


def test_the_host_computer_system_refuses_state_changes(host: Host) -> None:
    # Not hyperv_verified: on a real host an accepted request would turn it off.
    found = host.session.query(
        "SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Hosting Computer System'")
    assert len(found) == 1
    computer = found[0].path
    assert computer is not None
    with pytest.raises(InvalidState) as err:
        host.set_state(computer, OFF)
    assert_refusal(err.value, 32775, found[0]["ElementName"])
    assert host.session.get(computer)["EnabledState"] == RUNNING


# -- DestroySystem ---------------------------------------------------------------
@verified
def test_destroy_is_refused_while_running(host: Host) -> None:
    vm = running_vm(host)
    with pytest.raises(InvalidState) as err:
        host.call("DestroySystem", AffectedSystem=vm)
    assert_refusal(err.value, 5, "DestroySystem", host.session.get(vm)["ElementName"])
    assert state(host, vm) == RUNNING


def _everything_of(host: Host, vm: Reference, connection: Reference) -> list[Reference]:
    vssd = host.settings(vm).path
    assert vssd is not None
    ports = host.session.associators(connection, assoc_class="Msvm_ElementSettingData",
                                     result_class="Msvm_EthernetSwitchPort")
    parts = host.session.associators(vssd, assoc_class=COMPONENT)
    features = host.features(connection)
    return [vm, vssd] + [i.path for i in ports + parts + features if i.path is not None]


@verified
def test_destroy_removes_the_vm_and_everything_it_had(host: Host) -> None:
    vm, nic, connection = host.port()
    host.add_features(connection, host.feature(VLAN, OperationMode=1, AccessVlanId=7),
                      host.acl(1, 2, 1))
    owned = _everything_of(host, vm, connection)
    assert nic in owned and len(owned) >= 8  # vm, settings, port, 4 devices, 2 features
    host.call("DestroySystem", AffectedSystem=vm)
    for ref in owned:
        with pytest.raises(NotFound):
            host.session.get(ref)
    assert host.session.query(f"SELECT * FROM {VSSD} WHERE VirtualSystemIdentifier = "
                              f"'{vm.key('Name')}'") == []


# -- GetSummaryInformation -----------------------------------------------------------
REQUESTED = [0, 1, 4, 100, 103]
NOT_REQUESTED = ("ProcessorLoad", "Uptime", "HealthState", "MemoryAvailable")


def summaries(host: Host, *settings: Reference) -> list[Instance]:
    out = call(host.session, host.vsms, "GetSummaryInformation",
               {"SettingData": list(settings), "RequestedInformation": REQUESTED})
    return list(out["SummaryInformation"])


@verified
def test_summary_information_reports_what_was_requested(host: Host) -> None:
    vm = running_vm(host)
    [summary] = summaries(host, host.settings(vm).path)
    assert summary["Name"] == vm.key("Name")
    assert summary["ElementName"] == host.session.get(vm)["ElementName"]
    assert (summary["NumberOfProcessors"], summary["EnabledState"], summary["MemoryUsage"]) == \
        (1, RUNNING, 1024)
    assert [summary[name] for name in NOT_REQUESTED] == [None] * len(NOT_REQUESTED)


@verified
def test_summary_of_a_destroyed_vm_has_an_empty_name(host: Host) -> None:
    vm = host.define_vm()
    vssd = host.settings(vm).path
    assert vssd is not None
    host.call("DestroySystem", AffectedSystem=vm)
    [summary] = summaries(host, vssd)
    assert summary["Name"] == ""


# -- network adapters ----------------------------------------------------------------
def nic_address(host: Host, nic: Reference) -> str:
    return str(host.session.get(nic)["Address"])


@pytest.mark.parametrize("mac", [
    pytest.param("00155DAABB01", marks=verified), "00-15-5D-AA-BB-01", "00:15:5d:aa:bb:01"])
def test_static_mac_is_kept_as_12_upper_hex_digits(host: Host, mac: str) -> None:
    nic = host.add_nic(host.define_vm(), mac=mac)
    assert nic_address(host, nic) == "00155DAABB01"
    assert host.session.get(nic)["StaticMacAddress"] is True


@verified
@pytest.mark.parametrize("mac", ["01005E000001", "000000000000", "00155DAABB", "00155DAABBZZ"],
                         ids=["multicast", "all-zero", "too-short", "not-hex"])
def test_invalid_static_mac_is_refused(host: Host, mac: str) -> None:
    vm = host.define_vm()
    with pytest.raises(InvalidParameter) as err:
        host.add_nic(vm, mac=mac)
    assert_refusal(err.value, 4, mac)
    assert devices(host, vm, NIC) == []


def test_dynamic_macs_come_from_the_hyperv_pool_and_differ(host: Host) -> None:
    # Not hyperv_verified: Hyper-V assigns a dynamic MAC when the VM starts,
    # from a pool whose prefix depends on the host.
    vm = host.define_vm()
    first, second = (nic_address(host, host.add_nic(vm)) for _ in range(2))
    assert first.startswith("00155D") and second.startswith("00155D")
    assert len(first) == len(second) == 12
    assert first != second


@verified
def test_hot_add_nic_to_a_running_generation_2_vm(host: Host) -> None:
    vm = running_vm(host, generation=2)
    nic = host.add_nic(vm)
    assert [n.path for n in devices(host, vm, NIC)] == [nic]


@verified
def test_hot_add_nic_to_a_running_generation_1_vm_is_refused(host: Host) -> None:
    vm = running_vm(host, generation=1)
    with pytest.raises(NotSupported) as err:
        host.add_nic(vm)
    assert_refusal(err.value, 1, host.session.get(vm)["ElementName"])
    assert devices(host, vm, NIC) == []


@verified
def test_hot_remove_nic_from_a_running_generation_1_vm_is_refused(host: Host) -> None:
    vm = host.define_vm(generation=1)
    nic = host.add_nic(vm)
    host.set_state(vm, RUNNING)
    with pytest.raises(InvalidState) as err:
        host.call("RemoveResourceSettings", ResourceSettings=[nic])
    assert_refusal(err.value, 5, host.session.get(vm)["ElementName"])
    assert host.session.get(nic)["InstanceID"] == nic.key("InstanceID")


@verified
def test_hot_remove_nic_from_a_running_generation_2_vm(host: Host) -> None:
    vm = host.define_vm(generation=2)
    nic = host.add_nic(vm)
    host.set_state(vm, RUNNING)
    host.call("RemoveResourceSettings", ResourceSettings=[nic])
    assert devices(host, vm, NIC) == []


@verified
def test_removing_a_nic_removes_its_connection_port_and_features(host: Host) -> None:
    vm, nic, connection = host.port()
    features = host.add_features(connection, host.feature(VLAN, OperationMode=1,
                                                          AccessVlanId=9), host.acl(1, 2, 1))
    ports = host.session.associators(connection, assoc_class="Msvm_ElementSettingData",
                                     result_class="Msvm_EthernetSwitchPort")
    assert len(ports) == 1
    host.call("RemoveResourceSettings", ResourceSettings=[nic])
    for ref in [nic, connection, ports[0].path, *features]:
        assert ref is not None
        with pytest.raises(NotFound):
            host.session.get(ref)
    assert devices(host, vm, NIC) == []
