"""The CIM seam itself: WQL, lookups, errors, instances, references, watching.

Tests that take ``host`` or ``session`` run against every host (the ones
marked ``hyperv_verified`` on a real one too); the rest check
``winstackers.cim`` values and mappings without a host.
"""

from __future__ import annotations

from typing import Any

import pytest

from winstackers.cim import (
    HYPERV_NAMESPACE,
    AccessDenied,
    CimError,
    Instance,
    InstanceWatcher,
    InvalidParameter,
    InvalidQuery,
    InvalidState,
    MethodFailed,
    NotFound,
    NotSupported,
    Reference,
    Session,
    embedded,
    returncodes,
)

from .helpers import NIC, OFF, VSSD, Host, unique

verified = pytest.mark.hyperv_verified
COMPONENT = "Msvm_VirtualSystemSettingDataComponent"


def names(instances: list[Instance]) -> set[str]:
    return {inst["ElementName"] for inst in instances}


def paths(instances: list[Instance]) -> set[Reference | None]:
    return {inst.path for inst in instances}


# -- WQL ----------------------------------------------------------------------------
@verified
def test_select_list_returns_only_those_properties(host: Host) -> None:
    name = unique()
    host.define_vm(name)
    [vm] = host.session.query(
        f"SELECT ElementName, EnabledState FROM Msvm_ComputerSystem WHERE ElementName = '{name}'")
    assert dict(vm.properties) == {"ElementName": name, "EnabledState": OFF}


@verified
def test_where_with_and_or_like(host: Host) -> None:
    prefix = unique()
    first, second = f"{prefix}-a", f"{prefix}-b"
    host.set_state(host.define_vm(first), 2)
    host.define_vm(second)
    select = "SELECT * FROM Msvm_ComputerSystem WHERE "
    assert names(host.session.query(f"{select}ElementName LIKE '{prefix}-%'")) == \
        {first, second}
    assert names(host.session.query(
        f"{select}ElementName LIKE '{prefix}%' AND EnabledState = 2")) == {first}
    assert names(host.session.query(
        f"{select}ElementName = '{first}' OR ElementName = '{second}'")) == {first, second}


@verified
def test_unknown_class_is_an_invalid_query(session: Session) -> None:
    with pytest.raises(InvalidQuery, match="Msvm_NoSuchClass"):
        session.query("SELECT * FROM Msvm_NoSuchClass")


@verified
@pytest.mark.parametrize("wql", [
    "SELECT * FROM Msvm_ComputerSystem WHERE NoSuchProperty = 1",
    "SELECT Name, NoSuchProperty FROM Msvm_ComputerSystem",
], ids=["where", "select-list"])
def test_unknown_property_is_an_invalid_query_naming_it(session: Session, wql: str) -> None:
    with pytest.raises(InvalidQuery, match="NoSuchProperty"):
        session.query(wql)


@verified
def test_enumerating_a_superclass_returns_subclass_instances(host: Host) -> None:
    vm = host.define_vm()
    host.add_nic(vm)
    vssd = host.settings(vm).path
    assert vssd is not None
    parts = host.session.associators(vssd, assoc_class=COMPONENT)
    everything = host.session.query("SELECT * FROM CIM_ResourceAllocationSettingData")
    assert paths(parts) <= paths(everything)
    assert {"Msvm_MemorySettingData", "Msvm_ProcessorSettingData", NIC} <= \
        {inst.class_name for inst in parts}


@verified
def test_associators_of_query_equals_associators(host: Host) -> None:
    vm = host.define_vm()
    by_query = host.session.query(f"ASSOCIATORS OF {{{vm.path}}} WHERE "
                                  f"AssocClass = Msvm_SettingsDefineState ResultClass = {VSSD}")
    by_call = host.session.associators(vm, assoc_class="Msvm_SettingsDefineState",
                                       result_class=VSSD)
    assert len(by_call) == 1
    assert paths(by_query) == paths(by_call)


@verified
def test_references_of_query_equals_references(host: Host) -> None:
    vm = host.define_vm()
    host.add_nic(vm)
    vssd = host.settings(vm).path
    assert vssd is not None
    by_query = host.session.query(f"REFERENCES OF {{{vssd.path}}} WHERE ResultClass = {COMPONENT}")
    by_call = host.session.references(vssd, result_class=COMPONENT)
    assert len(by_call) >= 3  # memory, processor, network adapter
    assert paths(by_query) == paths(by_call)


# -- lookups and invocations -----------------------------------------------------------
@verified
def test_get_of_a_missing_instance_names_it(session: Session) -> None:
    missing = Reference.build(session.namespace, "Msvm_ComputerSystem", {
        "CreationClassName": "Msvm_ComputerSystem", "Name": "NO-SUCH-VM-GUID"})
    with pytest.raises(NotFound, match="NO-SUCH-VM-GUID"):
        session.get(missing)


@verified
def test_invoke_of_an_unknown_method_is_not_found(host: Host) -> None:
    with pytest.raises(NotFound, match="NoSuchMethod"):
        host.session.invoke(host.vsms, "NoSuchMethod", {})


def test_invoke_of_a_documented_but_not_emulated_method(host: Host) -> None:
    with pytest.raises(NotSupported, match="ExportSystemDefinition"):
        host.session.invoke(host.vsms, "ExportSystemDefinition", {})


@verified
def test_invoke_with_an_unknown_parameter_names_it(host: Host) -> None:
    settings = host.session.new_instance(VSSD, {"ElementName": unique()})
    with pytest.raises(InvalidParameter, match="SystemSetings"):
        host.session.invoke(host.vsms, "DefineSystem", {"SystemSetings": settings})


@pytest.mark.parametrize("operation", ["create", "modify", "delete"])
def test_intrinsic_writes_are_not_supported(host: Host, operation: str) -> None:
    vm = host.define_vm()
    settings = host.settings(vm)
    attempt = {"create": lambda: host.session.create(settings.replace(ElementName="x")),
               "modify": lambda: host.session.modify(settings.replace(ElementName="x")),
               "delete": lambda: host.session.delete(vm)}[operation]
    with pytest.raises(NotSupported, match=VSSD if operation != "delete" else "ComputerSystem"):
        attempt()
    assert host.settings(vm)["ElementName"] == settings["ElementName"]


# -- new instances --------------------------------------------------------------------
def test_new_instance_has_the_class_defaults(session: Session) -> None:
    nic = session.new_instance(NIC, {"elementname": "eth0"})
    assert nic.path is None
    assert (nic["ElementName"], nic["StaticMacAddress"], nic["Address"]) == ("eth0", False, None)
    assert nic.cim_types["StaticMacAddress"] == "boolean"


@verified
def test_new_instance_refuses_an_unknown_property(session: Session) -> None:
    with pytest.raises(InvalidParameter, match="ElementNmae"):
        session.new_instance(VSSD, {"ElementNmae": "typo"})


@verified
def test_new_instance_of_an_unknown_class_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound, match="Msvm_NoSuchClass"):
        session.new_instance("Msvm_NoSuchClass")


def test_replace_changes_known_properties_and_keeps_the_path() -> None:
    ref = Reference.build(HYPERV_NAMESPACE, "Msvm_Test", {"InstanceID": "a"})
    inst = Instance("Msvm_Test", {"InstanceID": "a", "ElementName": "old"}, ref)
    changed = inst.replace(elementname="new")
    assert (changed["ElementName"], changed.path, inst["ElementName"]) == ("new", ref, "old")


def test_replace_refuses_an_unknown_name() -> None:
    inst = Instance("Msvm_Test", {"ElementName": "x"})
    with pytest.raises(InvalidParameter, match="ElementNmae"):
        inst.replace(ElementNmae="y")


# -- embedded instances ---------------------------------------------------------------
ROUND_TRIP = {
    "Text": "a <b> & \"c\" 'd'", "Empty": "", "Yes": True, "No": False, "Count": 42,
    "Big": 2 ** 40, "Negative": -3, "Names": ["x", "y z"], "Vlans": [1, 4094], "None": None,
    "NoArray": None, "Flags": [True, False], "Nothing": [],
}
TYPES = {"Count": "uint16", "Big": "uint64", "Vlans": "uint16[]", "NoArray": "string[]",
         "Negative": "sint32"}


def test_embedded_text_round_trip() -> None:
    inst = Instance("Msvm_Test", ROUND_TRIP, None, TYPES)
    back = embedded.from_text(embedded.to_text(inst))
    assert back.class_name == "Msvm_Test" and back.path is None
    assert dict(back.properties) == ROUND_TRIP
    assert {name: back.cim_types[name] for name in TYPES} == TYPES


def test_embedded_text_keeps_windows_line_ends() -> None:
    inst = Instance("Msvm_VirtualSystemSettingData", {"Notes": ["line 1\r\nline 2\r"]})
    assert embedded.from_text(embedded.to_text(inst))["Notes"] == ["line 1\r\nline 2\r"]


@pytest.mark.parametrize("text, named", [
    ("not xml at all", "not XML"),
    ('<FOO CLASSNAME="X"/>', "FOO"),
    ('<INSTANCE CLASSNAME="X"><PROPERTY NAME="On" TYPE="boolean"><VALUE>maybe</VALUE>'
     "</PROPERTY></INSTANCE>", "X.On"),
    ('<INSTANCE CLASSNAME="X"><PROPERTY NAME="N" TYPE="uint16"><VALUE>ten</VALUE>'
     "</PROPERTY></INSTANCE>", "X.N"),
    ('<INSTANCE CLASSNAME="X"><PROPERTY.REFERENCE NAME="R"/></INSTANCE>', "PROPERTY.REFERENCE"),
], ids=["not-xml", "not-instance", "bad-boolean", "bad-integer", "unsupported-element"])
def test_malformed_embedded_text_is_invalid(text: str, named: str) -> None:
    with pytest.raises(InvalidParameter, match=named.replace(".", r"\.")):
        embedded.from_text(text)


# -- references -----------------------------------------------------------------------
@pytest.mark.parametrize("keys", [
    {"CreationClassName": "Msvm_ComputerSystem", "Name": "3B7A5F1C-0D9E-4C8B-9A1F-5E6D7C8B9A0F"},
    {"InstanceID": "Microsoft:3B7A5F1C\\6A2B\\C"},
    {"InstanceID": 'say "hi", \\\\server\\share\\ = ok\\'},
    {"InstanceID": "5", "Port": 5, "Enabled": True},
], ids=["guid", "backslashes", "quotes-commas-trailing-backslash", "typed-keys"])
def test_reference_path_round_trip(keys: dict[str, Any]) -> None:
    ref = Reference.build(HYPERV_NAMESPACE, "Msvm_Test", keys)
    parsed = Reference.parse(ref.path)
    assert parsed == ref
    assert dict(parsed.keys) == keys


@verified
def test_paths_the_host_hands_out_round_trip(host: Host) -> None:
    _, nic, connection = host.port()
    for ref in (nic, connection, host.vsms, *host.switches):
        assert Reference.parse(ref.path) == ref
        assert host.session.get(Reference.parse(ref.path)).path == ref


def test_reference_with_a_server_prefix() -> None:
    path = (r"\\WIN-HV01\root\virtualization\v2:Msvm_VirtualEthernetSwitch."
            r'CreationClassName="Msvm_VirtualEthernetSwitch",Name="SW-GUID"')
    expected = Reference.build(HYPERV_NAMESPACE, "Msvm_VirtualEthernetSwitch", {
        "CreationClassName": "Msvm_VirtualEthernetSwitch", "Name": "SW-GUID"})
    assert Reference.parse(path) == expected


# -- watching -------------------------------------------------------------------------
@verified
def test_instance_watcher_reports_created_and_deleted_adapters(host: Host) -> None:
    vm = host.define_vm()
    existing = host.add_nic(vm)
    watcher = InstanceWatcher(host.session, NIC,
                              where=f"InstanceID LIKE 'Microsoft:{vm.key('Name')}%'")
    assert paths(watcher.poll().created) == {existing}
    added = host.add_nic(vm)
    changes = watcher.poll()
    assert (paths(changes.created), changes.deleted) == ({added}, [])
    host.call("RemoveResourceSettings", ResourceSettings=[added])
    changes = watcher.poll()
    assert (changes.created, changes.deleted) == ([], [added])
    assert not watcher.poll()


# -- return codes ---------------------------------------------------------------------
@pytest.mark.parametrize("code, error_type", [
    (4, InvalidParameter), (32773, InvalidParameter), (5, InvalidState),
    (32775, InvalidState), (32769, AccessDenied), (1, NotSupported), (32770, NotSupported),
    (2, MethodFailed), (32768, MethodFailed), (32771, MethodFailed), (32774, MethodFailed),
    (32777, MethodFailed), (4097, MethodFailed), (40000, MethodFailed),
])
def test_return_codes_map_to_typed_errors(code: int, error_type: type[CimError]) -> None:
    error = returncodes.error_for(code, "DefineSystem", "Msvm_VirtualSystemManagementService",
                                  None)
    assert type(error) is error_type
    assert error.code == code


@pytest.mark.parametrize("code, meaning", [
    (4, "Invalid Parameter"), (32775, "Invalid state for this operation"),
    (32769, "Access Denied"), (32770, "Not Supported"), (2, "Failed"),
    (4097, "Method Reserved"), (40000, "Vendor Specific"),
])
def test_return_code_errors_name_method_target_and_meaning(code: int, meaning: str) -> None:
    error = returncodes.error_for(code, "RequestStateChange", "Msvm_ComputerSystem(Name=VM1)",
                                  "the VM is busy")
    for text in ("RequestStateChange", "Msvm_ComputerSystem(Name=VM1)", meaning, str(code),
                 "the VM is busy"):
        assert text in str(error)
