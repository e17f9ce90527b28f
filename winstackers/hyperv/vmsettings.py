"""How VM values map to Hyper-V settings, both ways.

Writing: a :class:`~winstackers.hyperv.vmstate.VMSpec` becomes property
values of ``Msvm_VirtualSystemSettingData`` (name, generation, notes,
secure boot), ``Msvm_MemorySettingData`` and ``Msvm_ProcessorSettingData``;
:func:`changes` keeps only the values that differ from what the host has,
so an equal spec makes no write.  Reading: the same instances become a
:class:`~winstackers.hyperv.vmstate.VMInfo`, and GetSummaryInformation's
``Msvm_SummaryInformation`` a :class:`~winstackers.hyperv.vmstate.VMSummary`.

Notes are ``string[]``.  Winstackers writes one line per element and reads
the elements joined by newlines, so a host that stores the notes as one
text reads back the same lines.

Static memory writes only VirtualQuantity (and turns Dynamic Memory off):
Reservation and Limit mean the Dynamic Memory minimum and maximum
(https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-memorysettingdata)
and are left as the host keeps them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from winstackers.cim.values import Instance
from winstackers.hyperv.vmstate import (
    INSTANCE_ID_TAG,
    DynamicMemory,
    PowerState,
    VMInfo,
    VMSpec,
    VMSummary,
)

MEMORY = "Msvm_MemorySettingData"
PROCESSOR = "Msvm_ProcessorSettingData"
SUBTYPES = {1: "Microsoft:Hyper-V:SubType:1", 2: "Microsoft:Hyper-V:SubType:2"}
#: GetSummaryInformation's RequestedInformation codes: Name, ElementName,
#: NumberOfProcessors, EnabledState, ProcessorLoad, MemoryUsage, Uptime
#: (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/getsummaryinformation-msvm-virtualsystemmanagementservice).
SUMMARY_CODES = (0, 1, 4, 100, 101, 103, 105)


def notes_lines(spec: VMSpec) -> list[str]:
    """The Notes elements for *spec*: the instance id line, then the notes."""
    head = [] if spec.instance_id is None else [INSTANCE_ID_TAG + spec.instance_id]
    return head + list(spec.notes)


def split_notes(raw: Any) -> tuple[tuple[str, ...], str | None]:
    """(free lines, instance id) from a Notes value as the host returns it."""
    text = "\n".join(raw) if isinstance(raw, list | tuple) else str(raw or "")
    notes: list[str] = []
    instance_id = None
    for line in text.splitlines():
        if line.startswith(INSTANCE_ID_TAG) and instance_id is None:
            instance_id = line[len(INSTANCE_ID_TAG):]
        else:
            notes.append(line)
    return tuple(notes), instance_id


def same_template(left: Any, right: Any) -> bool:
    """Whether two SecureBootTemplateId values name the same template."""
    return str(left or "").strip("{}").upper() == str(right or "").strip("{}").upper()


def system_values(spec: VMSpec, template_id: str | None) -> dict[str, Any]:
    """Msvm_VirtualSystemSettingData values for *spec* (template_id is the
    id of ``spec.secure_boot``'s template, None when it is off)."""
    return {"ElementName": spec.name, "VirtualSystemSubType": SUBTYPES[spec.generation],
            "Notes": notes_lines(spec), **secure_boot_values(template_id)}


def secure_boot_values(template_id: str | None) -> dict[str, Any]:
    """Secure boot off (None) or on with the template of id *template_id*;
    the template id is left as it is when secure boot is off."""
    if template_id is None:
        return {"SecureBootEnabled": False}
    return {"SecureBootEnabled": True, "SecureBootTemplateId": template_id}


def memory_values(spec: VMSpec) -> dict[str, Any]:
    """Msvm_MemorySettingData values for *spec*."""
    memory = spec.dynamic_memory
    if memory is None:
        return {"DynamicMemoryEnabled": False, "VirtualQuantity": spec.memory_mb}
    return {"DynamicMemoryEnabled": True, "VirtualQuantity": spec.memory_mb,
            "Reservation": memory.minimum_mb, "Limit": memory.maximum_mb,
            "TargetMemoryBuffer": memory.buffer_percent}


def processor_values(spec: VMSpec) -> dict[str, Any]:
    """Msvm_ProcessorSettingData values for *spec*."""
    return {"VirtualQuantity": spec.vcpus}


def changes(current: Instance, wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The *wanted* values that differ from *current*'s."""
    return {name: value for name, value in wanted.items()
            if not _equal(name, current.get(name), value)}


def _equal(name: str, have: Any, want: Any) -> bool:
    if name == "Notes":
        return split_notes(have) == split_notes(want)
    if name == "SecureBootTemplateId":
        return same_template(have, want)
    return bool(have == want)


def generation(settings: Instance) -> int:
    """1 or 2, from VirtualSystemSubType."""
    return 2 if settings.get("VirtualSystemSubType") == SUBTYPES[2] else 1


def device(devices: list[Instance], class_name: str) -> Instance | None:
    """The first device setting of *class_name* among *devices*."""
    return next((d for d in devices if d.class_name.lower() == class_name.lower()), None)


def _dynamic_memory(memory: Instance | None) -> DynamicMemory | None:
    if memory is None or not memory.get("DynamicMemoryEnabled"):
        return None
    return DynamicMemory(int(memory.get("Reservation") or 0), int(memory.get("Limit") or 0),
                         int(memory.get("TargetMemoryBuffer") or 0))


def _secure_boot(settings: Instance, template_names: Mapping[str, str]) -> str | None:
    if not settings.get("SecureBootEnabled"):
        return None
    template = str(settings.get("SecureBootTemplateId") or "").strip("{}").upper()
    return template_names.get(template, template)


def info_from(settings: Instance, vm: Instance, devices: list[Instance],
              template_names: Mapping[str, str]) -> VMInfo:
    """A VMInfo from a VM's settings, its computer system and its devices.

    *template_names* maps upper-case template ids to template names.
    """
    memory, processor = device(devices, MEMORY), device(devices, PROCESSOR)
    notes, instance_id = split_notes(settings.get("Notes"))
    return VMInfo(
        name=str(settings.get("ElementName")), vm_id=str(vm.get("Name")),
        generation=generation(settings), state=PowerState.of(vm.get("EnabledState")),
        vcpus=int(processor.get("VirtualQuantity") or 0) if processor else 0,
        memory_mb=int(memory.get("VirtualQuantity") or 0) if memory else 0,
        dynamic_memory=_dynamic_memory(memory), notes=notes, instance_id=instance_id,
        secure_boot=_secure_boot(settings, template_names))


def summary_from(summary: Instance) -> VMSummary:
    """A VMSummary from one Msvm_SummaryInformation."""
    return VMSummary(
        name=str(summary.get("ElementName")), vm_id=str(summary.get("Name")),
        state=PowerState.of(summary.get("EnabledState")),
        uptime_s=int(summary.get("Uptime") or 0) / 1000,
        vcpus=int(summary.get("NumberOfProcessors") or 0),
        memory_mb=int(summary.get("MemoryUsage") or 0),
        cpu_load_percent=int(summary.get("ProcessorLoad") or 0))
