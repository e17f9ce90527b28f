"""Msvm_VirtualSystemManagementService: Add/Modify/RemoveResourceSettings.

Emulated devices: synthetic network adapters
(Msvm_SyntheticEthernetPortSettingData: ResourceType 10, Address = the MAC,
StaticMacAddress), their switch connections
(Msvm_EthernetPortAllocationSettingData: ResourceType 33, Parent = the
adapter's object path, HostResource = the vSwitch's object path), and the
memory and processor settings every VM has.

Rules, with sources (hyperv_v2 pages on Microsoft Learn unless noted):

- Network adapters can be added and removed while a VM runs only for
  generation 2 VMs (Windows Server 2016 and later; "What's new in Hyper-V").
  Hot-adding to a running generation 1 VM is refused with 1 (Not Supported),
  removing with 5 (Invalid State).
- A static MAC must be 12 hex digits, unicast and not all zeros; with
  StaticMacAddress false the host assigns one from its pool (00-15-5D...).
  Microsoft does not document the accepted forms: the emulator takes the
  12-digit form Hyper-V returns, with or without ``-`` or ``:`` separators.
- A connection's Parent must be a network adapter of the same VM, its
  HostResource an existing vSwitch; one connection per adapter.
- A VM has exactly one memory and one processor setting: adding or removing
  one is refused (4).  ResourceType, ResourceSubType, Parent and InstanceID
  are read-only.

Storage controllers, drives, disk and ISO images and serial ports follow
the rules of :mod:`.storage_rules`.

Not emulated: legacy adapters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from winstackers.cim.errors import NotSupported
from winstackers.cim.values import Instance, Reference
from winstackers.emulator.hyperv import model, storage
from winstackers.emulator.hyperv.methods import (
    INVALID_PARAMETER,
    INVALID_STATE,
    NOT_SUPPORTED,
    Outcome,
    method,
)
from winstackers.emulator.hyperv.providers import compute, storage_rules, switches
from winstackers.emulator.hyperv.providers.common import (
    by_instance_id,
    changed,
    existing,
    owner_or_refuse,
    refuse,
    refuse_read_only,
    require,
    vm_of_settings,
)
from winstackers.emulator.hyperv.seed import DEFAULTS

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost

SERVICE = "Msvm_VirtualSystemManagementService"
_MAC = re.compile(r"^[0-9A-F]{12}$")
_READ_ONLY = ("ResourceType", "ResourceSubType", "Parent", "InstanceID")


def _vm_context(host: EmulatedHost, vssd: Reference) -> tuple[Reference, dict[str, Any], int]:
    vm, vm_record = vm_of_settings(host, vssd)
    return vm, vm_record, model.generation(host.store.get(vssd))


def _check_hot_plug(vm_record: dict[str, Any], gen: int, code: int, what: str) -> None:
    state = vm_record["EnabledState"]
    if state == model.OFF:
        return
    if gen == 1 or state != model.RUNNING:
        refuse(code, f"cannot {what} network adapters of VM {vm_record['ElementName']!r} in "
               f"EnabledState {state}: only running generation 2 VMs support hot add/remove")


def normalise_mac(address: Any, where: str) -> str:
    """A static MAC in Hyper-V's 12-hex-digit form, or a refusal (4)."""
    text = re.sub(r"[-:]", "", str(address or "")).upper()
    if not _MAC.match(text):
        refuse(INVALID_PARAMETER, f"{where}: MAC address {address!r} is not 12 hex digits")
    if text == "0" * 12 or int(text[1], 16) & 1:
        refuse(INVALID_PARAMETER, f"{where}: MAC address {address!r} is not a unicast address")
    return text


@method(SERVICE, "AddResourceSettings")
def add_resource_settings(host: EmulatedHost, target: Reference,
                          args: Mapping[str, Any]) -> Outcome:
    """Add network adapters and their switch connections, SCSI controllers,
    disk and DVD drives and their images to a VM."""
    vssd = require(args["AffectedConfiguration"], "AffectedConfiguration", "AddResourceSettings")
    existing(host, vssd, "AddResourceSettings(AffectedConfiguration)")
    if host.store.get(vssd).get("VirtualSystemType") != model.REALIZED:
        refuse(INVALID_PARAMETER, "AddResourceSettings: AffectedConfiguration is not the "
               "settings of a virtual machine")
    plan = _Plan(host, vssd)
    for rasd in require(args["ResourceSettings"], "ResourceSettings", "AddResourceSettings"):
        plan.add(rasd)
    out: dict[str, Any] = {"ResultingResourceSettings": plan.refs}
    return Outcome(out, plan.apply)


class _Plan:
    """The devices one AddResourceSettings call will create, validated."""

    def __init__(self, host: EmulatedHost, vssd: Reference) -> None:
        self.host, self.vssd = host, vssd
        self.vm, self.vm_record, self.gen = _vm_context(host, vssd)
        self.guid = host.store.get(vssd)["VirtualSystemIdentifier"]
        self.records: list[tuple[str, dict[str, Any]]] = []
        self.refs: list[Reference] = []

    def add(self, rasd: Instance) -> None:
        if rasd.class_name == model.SEPSD:
            self._add_nic(rasd)
        elif rasd.class_name == model.EPASD:
            self._add_connection(rasd)
        elif rasd.class_name in (compute.MEMORY, compute.PROCESSOR):
            refuse(INVALID_PARAMETER, f"AddResourceSettings: a VM has exactly one "
                   f"{rasd.class_name}; modify it instead")
        elif storage.is_storage(rasd.class_name):
            record = storage_rules.AddPlan(self.host, self.vssd, self.records).record(rasd)
            self.records.append((rasd.class_name, record))
            self.refs.append(model.instance_ref(self.host.store, rasd.class_name,
                                                record["InstanceID"]))
        else:
            raise NotSupported(where=f"AddResourceSettings of {rasd.class_name}",
                               detail="not emulated")

    def _new(self, rasd: Instance, instance_id: str) -> dict[str, Any]:
        record = {**DEFAULTS[rasd.class_name],
                  **{k: v for k, v in rasd.properties.items() if v is not None},
                  "InstanceID": instance_id}
        self.records.append((rasd.class_name, record))
        self.refs.append(model.instance_ref(self.host.store, rasd.class_name, instance_id))
        return record

    def _add_nic(self, rasd: Instance) -> None:
        _check_hot_plug(self.vm_record, self.gen, NOT_SUPPORTED, "add")
        record = self._new(rasd, f"Microsoft:{self.guid}\\{model.new_guid()}")
        if record.get("StaticMacAddress"):
            record["Address"] = normalise_mac(record.get("Address"), "AddResourceSettings")
        else:
            record["Address"] = self.host.next_mac()
        record.setdefault("VirtualSystemIdentifiers", [f"{{{model.new_guid()}}}"])

    def _add_connection(self, rasd: Instance) -> None:
        parent = model.parse_path(self.host.store, rasd.get("Parent"))
        nic = self._find_nic(parent)
        if nic is None:
            refuse(INVALID_PARAMETER, "AddResourceSettings: connection Parent "
                   f"{rasd.get('Parent')!r} is not a network adapter of this VM")
        if self._connection_of(nic) is not None:
            refuse(INVALID_PARAMETER, "AddResourceSettings: the network adapter already has a "
                   "connection; modify it instead")
        switch = _switch_from(self.host, rasd.get("HostResource"), "AddResourceSettings")
        record = self._new(rasd, f"{nic}\\C")
        record["_switch"] = switch

    def _find_nic(self, parent: Reference | None) -> str | None:
        if parent is None or parent.class_name.lower() != model.SEPSD.lower():
            return None
        instance_id = str(parent.key("InstanceID"))
        planned = [r["InstanceID"] for c, r in self.records if c == model.SEPSD]
        stored = [self.host.store.get(ref)["InstanceID"]
                  for ref in model.devices_of(self.host.store, self.vssd, model.SEPSD)]
        return instance_id if instance_id in planned + stored else None

    def _connection_of(self, nic_id: str) -> str | None:
        ids = [r["InstanceID"] for c, r in self.records if c == model.EPASD]
        ids += [rec["InstanceID"] for _, rec in self.host.store.instances(model.EPASD)]
        return next((i for i in ids if i == f"{nic_id}\\C"), None)

    def apply(self) -> None:
        store = self.host.store
        for class_name, record in self.records:
            switch = record.pop("_switch", None)
            ref = store.add(class_name, {**record, "HostResource": []}
                            if class_name == model.EPASD else record)
            store.associate("Msvm_VirtualSystemSettingDataComponent", GroupComponent=self.vssd,
                            PartComponent=ref)
            if switch is not None:
                switches.connect(self.host, ref, switch)


def _switch_from(host: EmulatedHost, host_resource: Any, where: str) -> Reference | None:
    paths = host_resource or []
    if not paths:
        return None
    ref = model.parse_path(host.store, paths[0])
    if len(paths) > 1 or ref is None or ref.class_name.lower() != model.SWITCH.lower() \
            or host.store.find(ref) is None:
        refuse(INVALID_PARAMETER, f"{where}: HostResource {paths!r} is not an existing vSwitch")
    return ref


@method(SERVICE, "ModifyResourceSettings")
def modify_resource_settings(host: EmulatedHost, target: Reference,
                             args: Mapping[str, Any]) -> Outcome:
    """Change memory, processors, a network adapter or its connection, an
    image's file or IOPS limits, a serial port's Connection."""
    steps = []
    refs = []
    for rasd in require(args["ResourceSettings"], "ResourceSettings", "ModifyResourceSettings"):
        ref = by_instance_id(host, rasd, "ModifyResourceSettings")
        steps.append(_modify_step(host, ref, rasd))
        refs.append(ref)

    def apply() -> None:
        for step in steps:
            step()

    return Outcome({"ResultingResourceSettings": refs}, apply)


def _modify_step(host: EmulatedHost, ref: Reference, rasd: Instance) -> Any:
    record = host.store.get(ref)
    changes = changed(record, rasd)
    refuse_read_only(changes, _READ_ONLY, f"ModifyResourceSettings of {rasd.class_name}")
    owner = owner_or_refuse(host, ref, f"ModifyResourceSettings of {rasd.class_name}")
    _, vm_record, _ = _vm_context(host, owner)
    if storage.is_storage(rasd.class_name):
        return storage_rules.modify_step(host, ref, record, changes, vm_record)
    running = compute.is_running(vm_record["EnabledState"])
    new = {**record, **changes}
    hardware = rasd.class_name in (compute.MEMORY, compute.PROCESSOR)
    if hardware and changes and vm_record["EnabledState"] not in (model.OFF, model.RUNNING):
        refuse(INVALID_STATE, f"ModifyResourceSettings: {rasd.class_name} cannot change while "
               f"the VM is in EnabledState {vm_record['EnabledState']} (saved or paused)")
    if rasd.class_name == compute.MEMORY:
        compute.check_memory(new, record, running)
    elif rasd.class_name == compute.PROCESSOR:
        compute.check_processor(host, new, record, running)
    elif rasd.class_name == model.SEPSD:
        if running and {"Address", "StaticMacAddress"} & set(changes):
            refuse(INVALID_STATE, "ModifyResourceSettings: the MAC address cannot change while "
                   "the VM runs")
        if new.get("StaticMacAddress") and "Address" in changes:
            changes["Address"] = normalise_mac(new.get("Address"), "ModifyResourceSettings")
    elif rasd.class_name == model.EPASD:
        return _modify_connection(host, ref, record, changes)
    return lambda: host.store.update(ref, changes)


def _modify_connection(host: EmulatedHost, ref: Reference, record: dict[str, Any],
                       changes: dict[str, Any]) -> Any:
    if changes.get("EnabledState", 2) not in (2, 3):
        refuse(INVALID_PARAMETER, "ModifyResourceSettings: connection EnabledState must be "
               "2 (Enabled) or 3 (Disabled)")
    if "HostResource" not in changes:
        return lambda: host.store.update(ref, changes)
    switch = _switch_from(host, changes["HostResource"], "ModifyResourceSettings")
    _recheck_features(host, ref, switch)

    def apply() -> None:
        switches.disconnect(host, ref)
        host.store.update(ref, {k: v for k, v in changes.items() if k != "HostResource"})
        if switch is not None:
            switches.connect(host, ref, switch)

    return apply


def _recheck_features(host: EmulatedHost, alloc: Reference, switch: Reference | None) -> None:
    """Check a connection's features against the vSwitch it moves to (the
    bandwidth mode and SR-IOV belong to the switch)."""
    from winstackers.emulator.hyperv.providers.feature_rules import CHECKS, Port

    port = Port(host, alloc)
    port.switch = switch
    for ref, record in port.features:
        CHECKS[ref.class_name](host, dict(record), port)


@method(SERVICE, "RemoveResourceSettings")
def remove_resource_settings(host: EmulatedHost, target: Reference,
                             args: Mapping[str, Any]) -> Outcome:
    """Remove network adapters (with their connection) or connections,
    images, drives and SCSI controllers (in array order)."""
    refs = require(args["ResourceSettings"], "ResourceSettings", "RemoveResourceSettings")
    for index, ref in enumerate(refs):
        existing(host, ref, "RemoveResourceSettings")
        if storage.is_storage(ref.class_name):
            storage_rules.check_remove(host, ref, refs[:index])
        elif ref.class_name.lower() not in (model.SEPSD.lower(), model.EPASD.lower()):
            refuse(INVALID_PARAMETER, f"RemoveResourceSettings: {ref.class_name} cannot be "
                   "removed from a VM")
        owner = owner_or_refuse(host, ref, "RemoveResourceSettings")
        _, vm_record, gen = _vm_context(host, owner)
        if ref.class_name.lower() == model.SEPSD.lower():
            _check_hot_plug(vm_record, gen, INVALID_STATE, "remove")

    def apply() -> None:
        for ref in refs:
            if host.store.find(ref) is not None:
                remove_device(host, ref)

    return Outcome({}, apply)


def remove_device(host: EmulatedHost, ref: Reference) -> None:
    """Delete a device setting, its connection, switch port and features."""
    store = host.store
    if ref.class_name.lower() == model.SEPSD.lower():
        for alloc, record in list(store.instances(model.EPASD)):
            if model.parse_path(store, record.get("Parent")) == ref:
                remove_device(host, alloc)
    if ref.class_name.lower() == model.EPASD.lower():
        switches.disconnect(host, ref)
        for feature, _ in model.port_features(store, ref):
            store.remove(feature)
        host.flows.pop(str(ref.key("InstanceID")), None)
    store.remove(ref)
