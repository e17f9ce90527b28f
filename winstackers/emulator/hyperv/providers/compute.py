"""Rules for a VM's memory and processor settings.

Sources:

- Msvm_MemorySettingData: units are MB ("byte * 2^20"); VirtualQuantity is
  the RAM (startup RAM with Dynamic Memory), Reservation the guaranteed
  minimum, Limit the maximum; TargetMemoryBuffer is 5-2000
  (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-memorysettingdata).
- Memory can be changed while a VM runs on Windows Server 2016 and later,
  even without Dynamic Memory
  (https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/what-s-new-in-hyper-v-on-windows).
  Not documented in Microsoft's reference: Dynamic Memory cannot be turned on
  or off while the VM runs, and its minimum may only go down and maximum
  only up (secondary sources); the emulator enforces that, the stricter choice.
- Hyper-V sizes memory in 2 MB units; the emulator refuses other sizes
  (not stated on the class page: the stricter choice).
- Msvm_ProcessorSettingData: Reservation and Limit are 0-100000
  ("percent / 1000"), Weight 0-10000
  (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-processorsettingdata).
  Not documented there: a VM cannot have more virtual processors than the
  host has logical processors, and the count cannot change while the VM
  runs; the emulator refuses both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from winstackers.emulator.hyperv import model
from winstackers.emulator.hyperv.methods import INVALID_PARAMETER, INVALID_STATE
from winstackers.emulator.hyperv.providers.common import refuse

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost

MEMORY = "Msvm_MemorySettingData"
PROCESSOR = "Msvm_ProcessorSettingData"


def check_memory(new: dict[str, Any], old: dict[str, Any] | None, running: bool) -> None:
    """Refuse memory settings Hyper-V would refuse (code 4 or 5)."""
    size = new.get("VirtualQuantity") or 0
    if size <= 0 or size % 2:
        refuse(INVALID_PARAMETER, f"memory VirtualQuantity {size} MB: must be a positive "
               "multiple of 2 MB")
    buffer = new.get("TargetMemoryBuffer")
    if buffer is not None and not 5 <= buffer <= 2000:
        refuse(INVALID_PARAMETER, f"memory TargetMemoryBuffer {buffer}: must be 5-2000")
    if new.get("DynamicMemoryEnabled"):
        _check_dynamic(new)
    if running and old is not None:
        _check_running_memory(new, old)


def _check_dynamic(new: dict[str, Any]) -> None:
    low, start, high = new.get("Reservation") or 0, new["VirtualQuantity"], new.get("Limit") or 0
    if not 0 < low <= start <= high:
        refuse(INVALID_PARAMETER, f"dynamic memory needs 0 < Reservation ({low}) <= "
               f"VirtualQuantity ({start}) <= Limit ({high}) MB")
    if low % 2 or high % 2:
        refuse(INVALID_PARAMETER, "dynamic memory Reservation and Limit must be multiples of 2 MB")


def _check_running_memory(new: dict[str, Any], old: dict[str, Any]) -> None:
    if bool(new.get("DynamicMemoryEnabled")) != bool(old.get("DynamicMemoryEnabled")):
        refuse(INVALID_STATE, "Dynamic Memory cannot be turned on or off unless the VM is off")
    if new.get("DynamicMemoryEnabled"):
        if (new.get("Reservation") or 0) > (old.get("Reservation") or 0):
            refuse(INVALID_STATE, "the Dynamic Memory minimum cannot be raised unless the VM "
                   "is off")
        if (new.get("Limit") or 0) < (old.get("Limit") or 0):
            refuse(INVALID_STATE, "the Dynamic Memory maximum cannot be lowered unless the VM "
                   "is off")


def check_processor(host: EmulatedHost, new: dict[str, Any], old: dict[str, Any] | None,
                    running: bool) -> None:
    """Refuse processor settings Hyper-V would refuse (code 4 or 5)."""
    count = new.get("VirtualQuantity") or 0
    if not 1 <= count <= host.config.logical_processors:
        refuse(INVALID_PARAMETER, f"processor VirtualQuantity {count}: must be 1-"
               f"{host.config.logical_processors} (the host's logical processors)")
    for name, high in (("Reservation", 100000), ("Limit", 100000), ("Weight", 10000)):
        value = new.get(name)
        if value is not None and not 0 <= value <= high:
            refuse(INVALID_PARAMETER, f"processor {name} {value}: must be 0-{high}")
    if running and old is not None and old.get("VirtualQuantity") != count:
        refuse(INVALID_STATE, "the number of virtual processors cannot change unless the VM is off")


def is_running(state: int | None) -> bool:
    """Whether a VM in EnabledState *state* holds its hardware: any state
    but off.  A saved VM counts: Hyper-V refuses hardware changes until
    its saved state is deleted."""
    return state != model.OFF
