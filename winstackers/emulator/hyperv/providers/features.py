"""Msvm_VirtualSystemManagementService: Add/Modify/RemoveFeatureSettings.

Feature settings belong to a port connection
(Msvm_EthernetPortAllocationSettingData, the AffectedConfiguration) through
Msvm_EthernetPortSettingDataComponent.  One AddFeatureSettings call can
carry many features, which is how Winstackers keeps host calls few
(https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/addfeaturesettings-msvm-virtualsystemmanagementservice).
Each feature is checked by :mod:`.feature_rules`; a port has at most one of
each kind except extended ACLs.  RemoveFeatureSettings takes references (the
MOF's ``REF FeatureSettings[]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from winstackers.cim.values import Instance, Reference
from winstackers.emulator.hyperv import model
from winstackers.emulator.hyperv.methods import INVALID_PARAMETER, Outcome, method
from winstackers.emulator.hyperv.providers.common import (
    by_instance_id,
    changed,
    existing,
    owner_or_refuse,
    port_of_feature,
    refuse,
    refuse_read_only,
    require,
)
from winstackers.emulator.hyperv.providers.feature_rules import CHECKS, SINGLE, Port

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost

SERVICE = "Msvm_VirtualSystemManagementService"
FEATURE_BASE = "Msvm_EthernetSwitchPortFeatureSettingData"


def _check(host: EmulatedHost, feature: Mapping[str, Any], class_name: str,
           port: Port) -> None:
    if not host.schema.is_a(class_name, FEATURE_BASE) or class_name == FEATURE_BASE:
        refuse(INVALID_PARAMETER, f"{class_name} is not a switch port feature setting")
    record = {**host.schema.get(class_name).defaults(), **dict(feature)}
    CHECKS[class_name](host, record, port)


@method(SERVICE, "AddFeatureSettings")
def add_feature_settings(host: EmulatedHost, target: Reference,
                         args: Mapping[str, Any]) -> Outcome:
    """Add feature settings to a port connection that exists (else 4)."""
    alloc = require(args["AffectedConfiguration"], "AffectedConfiguration", "AddFeatureSettings")
    if alloc.class_name.lower() != model.EPASD.lower():
        refuse(INVALID_PARAMETER, "AddFeatureSettings: AffectedConfiguration must be a "
               f"{model.EPASD}, not {alloc.class_name}")
    existing(host, alloc, "AddFeatureSettings(AffectedConfiguration): the port")
    owner_or_refuse(host, alloc, "AddFeatureSettings(AffectedConfiguration)")
    port = Port(host, alloc)
    planned: list[tuple[str, dict[str, Any]]] = []
    for feature in require(args["FeatureSettings"], "FeatureSettings", "AddFeatureSettings"):
        record = _planned_record(host, alloc, feature)
        _check(host, record, feature.class_name, port)
        if feature.class_name in SINGLE and port.others(feature.class_name):
            refuse(INVALID_PARAMETER, f"AddFeatureSettings: the port already has a "
                   f"{feature.class_name}; modify it instead")
        planned.append((feature.class_name, record))
        port.features.append((model.instance_ref(host.store, feature.class_name,
                                                 record["InstanceID"]), record))
    refs = [model.instance_ref(host.store, cls, rec["InstanceID"]) for cls, rec in planned]

    def apply() -> None:
        for class_name, record in planned:
            ref = host.store.add(class_name, record)
            host.store.associate("Msvm_EthernetPortSettingDataComponent",
                                 GroupComponent=alloc, PartComponent=ref)

    return Outcome({"ResultingFeatureSettings": refs}, apply)


def _planned_record(host: EmulatedHost, alloc: Reference, feature: Instance) -> dict[str, Any]:
    values = {k: v for k, v in feature.properties.items() if v is not None}
    values["InstanceID"] = f"{alloc.key('InstanceID')}\\{model.new_guid()}"
    return {**host.schema.get(feature.class_name).defaults(), **values}


@method(SERVICE, "ModifyFeatureSettings")
def modify_feature_settings(host: EmulatedHost, target: Reference,
                            args: Mapping[str, Any]) -> Outcome:
    """Change features in place (by InstanceID), checked as when added,
    against the port as it will be after the whole call (so two rules may
    swap weights in one call, and two changes may not collide)."""
    updates: list[tuple[Reference, dict[str, Any], Reference, str]] = []
    for feature in require(args["FeatureSettings"], "FeatureSettings", "ModifyFeatureSettings"):
        ref = by_instance_id(host, feature, "ModifyFeatureSettings")
        changes = changed(host.store.get(ref), feature)
        refuse_read_only(changes, ("InstanceID",), "ModifyFeatureSettings")
        alloc = port_of_feature(host, ref, "ModifyFeatureSettings")
        updates.append((ref, changes, alloc, feature.class_name))
    after = {ref: {**host.store.get(ref), **changes} for ref, changes, _, _ in updates}
    for ref, _, alloc, class_name in updates:
        port = Port(host, alloc)
        port.features = [(r, after.get(r, rec)) for r, rec in port.features]
        _check(host, after[ref], class_name, port)

    def apply() -> None:
        for ref, changes, _, _ in updates:
            host.store.update(ref, changes)

    return Outcome({"ResultingFeatureSettings": [ref for ref, _, _, _ in updates]}, apply)


@method(SERVICE, "RemoveFeatureSettings")
def remove_feature_settings(host: EmulatedHost, target: Reference,
                            args: Mapping[str, Any]) -> Outcome:
    """Remove features; every reference must name an existing feature (else 4)."""
    refs = require(args["FeatureSettings"], "FeatureSettings", "RemoveFeatureSettings")
    for ref in refs:
        existing(host, ref, "RemoveFeatureSettings")
        if not host.schema.is_a(ref.class_name, FEATURE_BASE):
            refuse(INVALID_PARAMETER, f"RemoveFeatureSettings: {ref.class_name} is not a feature")
        port_of_feature(host, ref, "RemoveFeatureSettings")

    def apply() -> None:
        for ref in refs:
            host.store.remove(ref)

    return Outcome({}, apply)
