"""Small helpers the method providers share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from winstackers.cim.values import Instance, Reference
from winstackers.emulator.hyperv import model
from winstackers.emulator.hyperv.methods import INVALID_PARAMETER, MethodError

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost


def refuse(code: int, description: str) -> NoReturn:
    """Refuse the call with a Hyper-V return code."""
    raise MethodError(code, description)


def require(value: Any, name: str, method: str) -> Any:
    """A required parameter's value, refusing the call when it is missing."""
    if value is None or value == []:
        refuse(INVALID_PARAMETER, f"{method}: parameter {name} is required")
    return value


def expect_class(host: EmulatedHost, instance: Instance, ancestor: str, where: str) -> None:
    """Refuse unless *instance* is of class *ancestor* or a subclass."""
    if not host.schema.is_a(instance.class_name, ancestor):
        refuse(INVALID_PARAMETER, f"{where}: expected {ancestor}, got {instance.class_name}")


def existing(host: EmulatedHost, ref: Reference, where: str) -> dict[str, Any]:
    """The record of *ref*, refusing the call (code 4) when it does not exist."""
    record = host.store.find(ref)
    if record is None:
        refuse(INVALID_PARAMETER, f"{where}: {ref.class_name} {dict(ref.keys)} does not exist")
    return record


def by_instance_id(host: EmulatedHost, instance: Instance, where: str) -> Reference:
    """The stored setting an embedded instance names through its InstanceID."""
    instance_id = instance.get("InstanceID")
    if not instance_id:
        refuse(INVALID_PARAMETER, f"{where}: {instance.class_name} without an InstanceID")
    ref = model.instance_ref(host.store, instance.class_name, instance_id)
    existing(host, ref, where)
    return ref


def changed(record: dict[str, Any], instance: Instance) -> dict[str, Any]:
    """The properties of *instance* whose values differ from *record*."""
    return {name: value for name, value in instance.properties.items()
            if record.get(name) != value}


def refuse_read_only(changes: dict[str, Any], read_only: tuple[str, ...], where: str) -> None:
    """Refuse (code 4) a change to any of the *read_only* properties."""
    for name in read_only:
        if name in changes:
            refuse(INVALID_PARAMETER, f"{where}: property {name} is read-only")


def owner_or_refuse(host: EmulatedHost, rasd: Reference, where: str) -> Reference:
    """The VM settings a device setting belongs to; refuses (4) a setting
    that belongs to no VM, such as a ``...\\Default`` template."""
    found = host.store.associators(rasd, "Msvm_VirtualSystemSettingDataComponent",
                                   role="PartComponent")
    if not found:
        refuse(INVALID_PARAMETER, f"{where}: {rasd.class_name} {rasd.key('InstanceID')!r} "
               "belongs to no virtual machine")
    return found[0]


def port_of_feature(host: EmulatedHost, feature: Reference, where: str) -> Reference:
    """The connection a feature setting belongs to; refuses (4) a feature
    that belongs to no port, such as a ``...\\Default`` template."""
    found = host.store.associators(feature, "Msvm_EthernetPortSettingDataComponent",
                                   role="PartComponent")
    if not found:
        refuse(INVALID_PARAMETER, f"{where}: {feature.class_name} "
               f"{feature.key('InstanceID')!r} belongs to no switch port")
    return found[0]


def vm_of_settings(host: EmulatedHost, vssd: Reference) -> tuple[Reference, dict[str, Any]]:
    """The VM (reference, record) that a realized settings instance defines."""
    system = model.system_of(host.store, vssd)
    return system, host.store.get(system)
