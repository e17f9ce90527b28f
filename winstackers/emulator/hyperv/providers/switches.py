"""Msvm_VirtualEthernetSwitchManagementService: DefineSystem, DestroySystem.

https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-virtualethernetswitchmanagementservice

Emulated: private vSwitches (no external or internal port bindings), the
IOVPreferred and BandwidthReservationMode choices made at creation.
Not emulated: ResourceSettings (binding a physical NIC), ReferenceConfiguration,
switch-level features and extensions, and changing a switch after creation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from winstackers.cim.errors import NotSupported
from winstackers.cim.values import Reference
from winstackers.emulator.hyperv import model
from winstackers.emulator.hyperv.methods import INVALID_PARAMETER, Outcome, method
from winstackers.emulator.hyperv.providers.common import existing, expect_class, refuse, require

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost

SERVICE = "Msvm_VirtualEthernetSwitchManagementService"


def create_switch(host: EmulatedHost, name: str, iov: bool,
                  bandwidth_mode: int = 0, uplink: str | None = None) -> Reference:
    """Create a vSwitch and its settings, bound to the physical adapter
    *uplink* when given; returns the switch reference."""
    store = host.store
    guid = model.new_guid()
    switch = store.add(model.SWITCH, {"CreationClassName": model.SWITCH, "Name": guid,
                                      "ElementName": name, "Caption": "Virtual Switch"})
    settings = store.add(model.SWITCH_SETTINGS, {
        "InstanceID": f"Microsoft:{guid}", "ElementName": name, "VirtualSystemIdentifier": guid,
        "IOVPreferred": iov, "BandwidthReservationMode": bandwidth_mode})
    store.associate("Msvm_SettingsDefineState", ManagedElement=switch, SettingData=settings)
    if uplink is not None:
        from winstackers.emulator.hyperv import hostfacts
        hostfacts.bind_uplink(host, settings, guid, uplink)
    return switch


@method(SERVICE, "DefineSystem")
def define_switch(host: EmulatedHost, target: Reference, args: Mapping[str, Any]) -> Outcome:
    """Create a private vSwitch.

    Refused (4): a missing or empty ElementName; IOVPreferred on a host whose
    Msvm_VirtualEthernetSwitchManagementCapabilities.IOVSupport is false;
    BandwidthReservationMode outside 0-3 (Default, Weight, Absolute, None;
    https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-virtualethernetswitchsettingdata).
    """
    settings = require(args["SystemSettings"], "SystemSettings", "DefineSystem")
    expect_class(host, settings, model.SWITCH_SETTINGS, "DefineSystem(SystemSettings)")
    if args["ResourceSettings"] or args["ReferenceConfiguration"]:
        raise NotSupported(where="DefineSystem of a vSwitch with ResourceSettings or "
                                 "ReferenceConfiguration", detail="not emulated")
    name = settings.get("ElementName")
    if not name:
        refuse(INVALID_PARAMETER, "DefineSystem: the vSwitch needs an ElementName")
    iov = bool(settings.get("IOVPreferred"))
    if iov and not host.config.iov_support:
        refuse(INVALID_PARAMETER, f"DefineSystem: cannot create vSwitch {name!r} with SR-IOV: "
               "the host does not support SR-IOV (IOVSupport is false)")
    mode = settings.get("BandwidthReservationMode") or 0
    if mode not in (0, 1, 2, 3):
        refuse(INVALID_PARAMETER, f"DefineSystem: BandwidthReservationMode {mode} is not 0-3")
    out: dict[str, Any] = {}

    def apply() -> None:
        out["ResultingSystem"] = create_switch(host, name, iov, mode)

    outcome = Outcome(out, apply)
    return outcome


@method(SERVICE, "DestroySystem")
def destroy_switch(host: EmulatedHost, target: Reference, args: Mapping[str, Any]) -> Outcome:
    """Delete a vSwitch.  Connections to it stay, disconnected (HostResource
    emptied), as Remove-VMSwitch leaves the VMs' network adapters."""
    switch = require(args["AffectedSystem"], "AffectedSystem", "DestroySystem")
    existing(host, switch, "DestroySystem(AffectedSystem)")
    if not host.schema.is_a(switch.class_name, model.SWITCH):
        refuse(INVALID_PARAMETER, "DestroySystem: AffectedSystem is not a vSwitch")

    def apply() -> None:
        store = host.store
        for alloc, record in list(store.instances(model.EPASD)):
            if model.switch_of(store, record) == switch:
                disconnect(host, alloc)
        store.remove(model.settings_of(store, switch))
        store.remove(switch)

    return Outcome({}, apply)


def disconnect(host: EmulatedHost, alloc: Reference) -> None:
    """Detach a connection from its vSwitch, removing the switch port."""
    port = model.switch_port_of(host.store, alloc)
    if port is not None:
        host.store.remove(port)
    host.store.update(alloc, {"HostResource": []})


def connect(host: EmulatedHost, alloc: Reference, switch: Reference) -> None:
    """Create the switch port of a connection on *switch*."""
    store = host.store
    record = store.get(alloc)
    switch_record = store.get(switch)
    port = store.add("Msvm_EthernetSwitchPort", {
        "CreationClassName": "Msvm_EthernetSwitchPort", "Name": model.new_guid(),
        "SystemCreationClassName": model.SWITCH, "SystemName": switch_record["Name"],
        "ElementName": record.get("ElementName") or "Dynamic Ethernet Switch Port"})
    store.associate("Msvm_SystemDevice", GroupComponent=switch, PartComponent=port)
    store.associate("Msvm_ElementSettingData", ManagedElement=port, SettingData=alloc)
    store.update(alloc, {"HostResource": [switch.path],
                         "LastKnownSwitchName": switch_record["ElementName"]})
