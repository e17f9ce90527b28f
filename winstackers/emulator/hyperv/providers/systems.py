"""Msvm_VirtualSystemManagementService: DefineSystem, DestroySystem,
ModifySystemSettings.

Sources: the method pages
(https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/definesystem-msvm-virtualsystemmanagementservice,
.../destroysystem-..., .../modifysystemsettings-...) and the
Msvm_VirtualSystemSettingData page: VirtualSystemSubType is
``Microsoft:Hyper-V:SubType:1`` (generation 1) or ``...:2`` (generation 2)
and read-only; "Secure boot can only be enabled for generation 2 VMs".

Not emulated: ReferenceConfiguration (defining from a template), devices
other than memory and processor in DefineSystem's ResourceSettings, the
files Hyper-V writes (ConfigurationDataRoot), VM versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from winstackers.cim.errors import NotSupported
from winstackers.cim.values import Instance, Reference
from winstackers.emulator.hyperv import model, seed, storage
from winstackers.emulator.hyperv.methods import INVALID_PARAMETER, INVALID_STATE, Outcome, method
from winstackers.emulator.hyperv.providers import compute, shutdown
from winstackers.emulator.hyperv.providers.common import (
    by_instance_id,
    changed,
    existing,
    expect_class,
    refuse,
    refuse_read_only,
    require,
    vm_of_settings,
)

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost

SERVICE = "Msvm_VirtualSystemManagementService"
_TEMPLATE_IDS = {guid.upper() for guid in seed.SECURE_BOOT_TEMPLATES.values()}
_MODIFIABLE = ("ElementName", "Notes", "SecureBootEnabled", "SecureBootTemplateId",
               "AutomaticStartupAction", "AutomaticShutdownAction", "Caption", "Description")


def check_secure_boot(settings: Mapping[str, Any], where: str) -> None:
    """Refuse secure boot on generation 1 and unknown templates (code 4)."""
    subtype = settings.get("VirtualSystemSubType")
    if subtype not in (model.GEN1, model.GEN2):
        refuse(INVALID_PARAMETER, f"{where}: VirtualSystemSubType {subtype!r} is not "
               f"{model.GEN1!r} or {model.GEN2!r}")
    if settings.get("SecureBootEnabled") and subtype != model.GEN2:
        refuse(INVALID_PARAMETER, f"{where}: secure boot can only be enabled for "
               "generation 2 virtual machines")
    template = settings.get("SecureBootTemplateId")
    if template and template.strip("{}").upper() not in _TEMPLATE_IDS:
        refuse(INVALID_PARAMETER, f"{where}: SecureBootTemplateId {template!r} is not a "
               "secure boot template of this host")


@method(SERVICE, "DefineSystem")
def define_system(host: EmulatedHost, target: Reference, args: Mapping[str, Any]) -> Outcome:
    """Create a VM (off) with default memory (1024 MB) and one processor,
    changed by any memory/processor settings in ResourceSettings, two COM
    ports and, on generation 1, two IDE controllers (see ``storage``).
    Duplicate names are allowed, as in Hyper-V; the VM's GUID is unique."""
    settings = require(args["SystemSettings"], "SystemSettings", "DefineSystem")
    expect_class(host, settings, model.VSSD, "DefineSystem(SystemSettings)")
    if args["ReferenceConfiguration"] is not None:
        raise NotSupported(where="DefineSystem with ReferenceConfiguration", detail="not emulated")
    values = {**host.store.schema.get(model.VSSD).defaults(),
              **{k: v for k, v in settings.properties.items() if v is not None}}
    values["VirtualSystemSubType"] = values.get("VirtualSystemSubType") or model.GEN1
    check_secure_boot(values, "DefineSystem")
    devices = _initial_devices(host, args["ResourceSettings"] or [])
    out: dict[str, Any] = {}

    def apply() -> None:
        out["ResultingSystem"] = _create_vm(host, values, devices)

    return Outcome(out, apply)


def _initial_devices(host: EmulatedHost, given: list[Instance]) -> dict[str, dict[str, Any]]:
    devices = {cls: {**host.store.get(_default_ref(host, cls))} for cls in
               (compute.MEMORY, compute.PROCESSOR)}
    for rasd in given:
        if rasd.class_name not in devices:
            raise NotSupported(where=f"DefineSystem with a {rasd.class_name}",
                               detail="not emulated: add it with AddResourceSettings")
        devices[rasd.class_name].update({k: v for k, v in rasd.properties.items()
                                         if v is not None and k != "InstanceID"})
    compute.check_memory(devices[compute.MEMORY], None, running=False)
    compute.check_processor(host, devices[compute.PROCESSOR], None, running=False)
    return devices


def _default_ref(host: EmulatedHost, class_name: str) -> Reference:
    for ref, record in host.store.instances(class_name):
        if record["InstanceID"].endswith("\\Default"):
            return ref
    raise LookupError(f"no default {class_name}")  # the seed always creates one


def _create_vm(host: EmulatedHost, values: dict[str, Any],
               devices: dict[str, dict[str, Any]]) -> Reference:
    store = host.store
    guid = model.new_guid()
    name = values.get("ElementName") or "New Virtual Machine"
    vm = store.add("Msvm_ComputerSystem", {
        "CreationClassName": "Msvm_ComputerSystem", "Name": guid, "ElementName": name,
        "Caption": "Virtual Machine", "Description": "Microsoft Virtual Machine",
        "EnabledState": model.OFF})
    vssd = store.add(model.VSSD, {**values, "InstanceID": f"Microsoft:{guid}",
                                  "ElementName": name, "VirtualSystemIdentifier": guid,
                                  "ConfigurationID": guid, "VirtualSystemType": model.REALIZED})
    store.associate("Msvm_SettingsDefineState", ManagedElement=vm, SettingData=vssd)
    for cls, record in devices.items():
        rasd = store.add(cls, {**record, "InstanceID": f"Microsoft:{guid}\\{model.new_guid()}"})
        store.associate("Msvm_VirtualSystemSettingDataComponent", GroupComponent=vssd,
                        PartComponent=rasd)
    storage.create_fixed_devices(host, vssd, guid, model.generation(values))
    shutdown.create_component(host, vm, guid)
    return vm


@method(SERVICE, "DestroySystem")
def destroy_system(host: EmulatedHost, target: Reference, args: Mapping[str, Any]) -> Outcome:
    """Delete a VM with all its settings, devices, ports and features.
    The VM "must be in the powered off or saved state" (else 5)."""
    vm = require(args["AffectedSystem"], "AffectedSystem", "DestroySystem")
    record = existing(host, vm, "DestroySystem(AffectedSystem)")
    if record.get("Caption") != "Virtual Machine":
        refuse(INVALID_PARAMETER, "DestroySystem: AffectedSystem is not a virtual machine")
    if record.get("EnabledState") not in (model.OFF, model.SAVED):
        refuse(INVALID_STATE, f"DestroySystem: VM {record['ElementName']!r} is in EnabledState "
               f"{record['EnabledState']}; it must be off or saved")

    def apply() -> None:
        from winstackers.emulator.hyperv.providers.resources import remove_device
        vssd = model.settings_of(host.store, vm)
        for rasd in model.devices_of(host.store, vssd):
            if host.store.find(rasd) is not None:
                remove_device(host, rasd)
        for component in shutdown.components_of(host, vm):
            host.store.remove(component)
        host.store.remove(vssd)
        host.store.remove(vm)

    return Outcome({}, apply)


@method(SERVICE, "ModifySystemSettings")
def modify_system_settings(host: EmulatedHost, target: Reference,
                           args: Mapping[str, Any]) -> Outcome:
    """Change a VM's name, notes, secure boot or automatic actions.

    Refused: read-only properties such as VirtualSystemSubType (4); secure
    boot on generation 1 or an unknown template (4); changing secure boot
    while the VM is not off (5, the firmware is fixed while it runs).
    """
    settings = require(args["SystemSettings"], "SystemSettings", "ModifySystemSettings")
    expect_class(host, settings, model.VSSD, "ModifySystemSettings(SystemSettings)")
    vssd = by_instance_id(host, settings, "ModifySystemSettings")
    record = host.store.get(vssd)
    changes = changed(record, settings)
    refuse_read_only(changes, tuple(n for n in changes if n not in _MODIFIABLE),
                     "ModifySystemSettings")
    check_secure_boot({**record, **changes}, "ModifySystemSettings")
    vm, vm_record = vm_of_settings(host, vssd)
    secure = {"SecureBootEnabled", "SecureBootTemplateId"} & set(changes)
    if secure and vm_record["EnabledState"] != model.OFF:
        refuse(INVALID_STATE, "ModifySystemSettings: secure boot settings can only change "
               "while the VM is off")

    def apply() -> None:
        host.store.update(vssd, changes)
        if "ElementName" in changes:
            host.store.update(vm, {"ElementName": changes["ElementName"]})

    return Outcome({}, apply)
