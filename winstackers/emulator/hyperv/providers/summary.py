"""Msvm_VirtualSystemManagementService.GetSummaryInformation.

https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/getsummaryinformation-msvm-virtualsystemmanagementservice:
one Msvm_SummaryInformation per SettingData reference (all VMs when it is
null); Name is always returned, empty when the VM was not found; properties
not requested are null.  Emulated RequestedInformation codes: 0 Name,
1 ElementName, 4 NumberOfProcessors, 100 EnabledState, 101 ProcessorLoad,
103 MemoryUsage, 105 Uptime, 109 HealthState, 112 MemoryAvailable.  Other
codes are accepted and left null (not emulated).  ProcessorLoad is 0 and
MemoryUsage the assigned memory: the emulator runs no guest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from winstackers.cim.values import Instance, Reference
from winstackers.emulator.hyperv import model
from winstackers.emulator.hyperv.methods import Outcome, method

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost

_CODES = {0: "Name", 1: "ElementName", 4: "NumberOfProcessors", 100: "EnabledState",
          101: "ProcessorLoad", 103: "MemoryUsage", 105: "Uptime", 109: "HealthState",
          112: "MemoryAvailable"}


@method("Msvm_VirtualSystemManagementService", "GetSummaryInformation")
def get_summary_information(host: EmulatedHost, target: Reference,
                            args: Mapping[str, Any]) -> Outcome:
    """Summaries of VMs; returns 0 at once (no job)."""
    wanted = {_CODES[c] for c in args["RequestedInformation"] or [] if c in _CODES}
    settings = args["SettingData"]
    if settings is None:
        settings = [ref for ref, rec in host.store.instances(model.VSSD)
                    if rec.get("VirtualSystemType") == model.REALIZED]
    summaries = [_summary(host, ref, wanted) for ref in settings]
    return Outcome({"SummaryInformation": summaries}, as_job=False)


def _summary(host: EmulatedHost, vssd: Reference, wanted: set[str]) -> Instance:
    cls = host.schema.get("Msvm_SummaryInformation")
    values: dict[str, Any] = dict.fromkeys(cls.properties)
    found = host.store.associators(vssd, "Msvm_SettingsDefineState", role="SettingData") \
        if vssd.class_name.lower() == model.VSSD.lower() and host.store.find(vssd) else []
    if not found:
        values["Name"] = ""  # "empty if the VM was not found"
        return Instance(cls.name, values, None, cls.types())
    vm = found[0]
    facts = _facts(host, vm, vssd)
    values.update({k: v for k, v in facts.items() if k in wanted})
    values["Name"] = facts["Name"]
    return Instance(cls.name, values, None, cls.types())


def _facts(host: EmulatedHost, vm: Reference, vssd: Reference) -> dict[str, Any]:
    record = host.store.get(vm)
    devices = {ref.class_name: host.store.get(ref) for ref in model.devices_of(host.store, vssd)}
    running = record["EnabledState"] in (model.RUNNING, model.PAUSED)
    memory = devices["Msvm_MemorySettingData"]["VirtualQuantity"]
    started = host.started_at.get(vm)
    return {"Name": record["Name"], "ElementName": record["ElementName"],
            "NumberOfProcessors": devices["Msvm_ProcessorSettingData"]["VirtualQuantity"],
            "EnabledState": record["EnabledState"], "ProcessorLoad": 0,
            "MemoryUsage": memory if running else 0, "HealthState": record["HealthState"],
            "Uptime": int((host.clock() - started) * 1000) if started is not None else 0,
            "MemoryAvailable": 100 if running else 0}
