"""How the emulated host's objects hang together, and how to find them.

The relations follow Hyper-V's association classes:

- a system (VM or vSwitch) and its settings: ``Msvm_SettingsDefineState``
  (ManagedElement = system, SettingData = settings);
- a VM's settings and its devices' settings (RASDs):
  ``Msvm_VirtualSystemSettingDataComponent``;
- a port connection (``Msvm_EthernetPortAllocationSettingData``) and its
  feature settings: ``Msvm_EthernetPortSettingDataComponent``
  (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-ethernetportsettingdatacomponent);
- a vSwitch and its ports: ``Msvm_SystemDevice``; a switch port and the
  connection that created it: ``Msvm_ElementSettingData``.

InstanceIDs follow Hyper-V's ``Microsoft:<VM GUID>\\<device GUID>`` shape
(the default in the Msvm_EthernetPortAllocationSettingData MOF is
``"Microsoft:GUID\\DeviceSpecificData"``); a connection's InstanceID
extends its vNIC's and a feature's extends its connection's, so a prefix
query (``InstanceID LIKE '<connection>%'``) finds a port's features, as
Hyper-V management code does.
"""

from __future__ import annotations

import uuid
from typing import Any

from winstackers.cim.errors import NotFound
from winstackers.cim.values import Reference
from winstackers.emulator.hyperv.store import Store

VSSD = "Msvm_VirtualSystemSettingData"
SEPSD = "Msvm_SyntheticEthernetPortSettingData"
EPASD = "Msvm_EthernetPortAllocationSettingData"
SWITCH = "Msvm_VirtualEthernetSwitch"
SWITCH_SETTINGS = "Msvm_VirtualEthernetSwitchSettingData"
GEN1 = "Microsoft:Hyper-V:SubType:1"
GEN2 = "Microsoft:Hyper-V:SubType:2"
REALIZED = "Microsoft:Hyper-V:System:Realized"

# EnabledState values (Msvm_ComputerSystem).
RUNNING, OFF, SHUTTING_DOWN, SAVED, PAUSED, STARTING = 2, 3, 4, 6, 9, 10


def new_guid() -> str:
    """A GUID in Hyper-V's upper-case form."""
    return str(uuid.uuid4()).upper()


def system_ref(store: Store, class_name: str, name: str) -> Reference:
    """The reference of a system (VM, host or vSwitch) by its Name."""
    return Reference.build(store.namespace, class_name,
                           {"CreationClassName": class_name, "Name": name})


def settings_of(store: Store, system: Reference) -> Reference:
    """The settings instance defining *system*."""
    found = store.associators(system, "Msvm_SettingsDefineState", role="ManagedElement")
    if not found:
        raise NotFound(what=f"settings of {system}")
    return found[0]


def system_of(store: Store, settings: Reference) -> Reference:
    """The system that *settings* define."""
    found = store.associators(settings, "Msvm_SettingsDefineState", role="SettingData")
    if not found:
        raise NotFound(what=f"system defined by {settings}")
    return found[0]


def devices_of(store: Store, vssd: Reference, class_name: str | None = None) -> list[Reference]:
    """The device settings (RASDs) of a VM's settings."""
    return store.associators(vssd, "Msvm_VirtualSystemSettingDataComponent",
                             result_class=class_name, role="GroupComponent")


def owner_of(store: Store, rasd: Reference) -> Reference:
    """The VM settings a device setting belongs to."""
    found = store.associators(rasd, "Msvm_VirtualSystemSettingDataComponent",
                              role="PartComponent")
    if not found:
        raise NotFound(what=f"virtual machine owning {rasd}")
    return found[0]


def port_features(store: Store, alloc: Reference,
                  class_name: str | None = None) -> list[tuple[Reference, dict[str, Any]]]:
    """The feature settings of a port connection."""
    refs = store.associators(alloc, "Msvm_EthernetPortSettingDataComponent",
                             result_class=class_name, role="GroupComponent")
    return [(ref, store.get(ref)) for ref in refs]


def instance_ref(store: Store, class_name: str, instance_id: str) -> Reference:
    """The reference of a setting by its InstanceID."""
    return Reference.build(store.namespace, class_name, {"InstanceID": instance_id})


def parse_path(store: Store, path: Any) -> Reference | None:
    """A string object path as a reference, or None when it is not one."""
    if not isinstance(path, str) or not path:
        return None
    try:
        return Reference.parse(path, store.namespace)
    except Exception:  # noqa: BLE001 - any unparsable text is simply "no reference"
        return None


def switch_of(store: Store, alloc_record: dict[str, Any]) -> Reference | None:
    """The vSwitch a connection's HostResource names, if it exists."""
    for path in alloc_record.get("HostResource") or []:
        ref = parse_path(store, path)
        if ref is not None and store.find(ref) is not None:
            return ref
    return None


def switch_iov_enabled(store: Store, switch: Reference) -> bool:
    """Whether a vSwitch was created with SR-IOV."""
    return bool(store.get(settings_of(store, switch)).get("IOVPreferred"))


def switch_port_of(store: Store, alloc: Reference) -> Reference | None:
    """The Msvm_EthernetSwitchPort a connection created, if any."""
    found = store.associators(alloc, "Msvm_ElementSettingData", role="SettingData",
                              result_class="Msvm_EthernetSwitchPort")
    return found[0] if found else None


def find_port_allocation(store: Store, port: str) -> Reference:
    """A connection by its InstanceID, or by its vNIC's ElementName.

    :raises NotFound: when neither matches.
    """
    for ref, record in store.instances(EPASD):
        if record["InstanceID"] == port:
            return ref
    for nic_ref, nic in store.instances(SEPSD):
        if nic.get("ElementName") == port:
            for ref, record in store.instances(EPASD):
                if parse_path(store, record.get("Parent")) == nic_ref:
                    return ref
    raise NotFound(what=f"switch port {port!r}")


def generation(vssd_record: dict[str, Any]) -> int:
    """1 or 2, from VirtualSystemSubType."""
    return 2 if vssd_record.get("VirtualSystemSubType") == GEN2 else 1
