"""A VM's desired definition and what the host reports, as immutable values.

:class:`VMSpec` is what a caller wants (checked when it is built, so an
invalid spec is refused before any host call with the field named);
:class:`VMInfo` and :class:`VMSummary` are read-only snapshots of what the
host has.

Facts (Microsoft Learn, hyperv_v2 unless noted):

- Generation is VirtualSystemSubType ``Microsoft:Hyper-V:SubType:1`` or
  ``...:2`` and cannot change once the VM exists
  (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-virtualsystemsettingdata).
- "Secure boot can only be enabled for generation 2 VMs" (same page); the
  templates are named ``MicrosoftWindows`` and
  ``MicrosoftUEFICertificateAuthority`` (the latter for Linux guests:
  https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/what-s-new-in-hyper-v-on-windows).
- Memory is in MB; with Dynamic Memory, VirtualQuantity is the startup RAM,
  Reservation the minimum and Limit the maximum, TargetMemoryBuffer 5-2000
  (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-memorysettingdata).
  Hyper-V sizes memory in 2 MB steps (not on that page; Hyper-V Manager and
  Set-VMMemory refuse other sizes), so other sizes are refused here.
- EnabledState values (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-computersystem):
  2 running, 3 off, 4 shutting down, 6 saved ("enabled but offline"),
  9 paused ("quiesce"), 10 starting.

The instance id: Hyper-V has no field for it, so it is kept as one line of
the VM's Notes, ``winstackers-instance-id: <id>``, as the retired os-win
library kept the instance UUID in Notes (``get_instance_notes``,
https://github.com/openstack/os-win/blob/master/os_win/utils/compute/vmutils.py).
:class:`VMInfo` shows the other lines as ``notes`` and that one as
``instance_id``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from winstackers.hyperv.errors import InvalidDesiredState

WINDOWS_TEMPLATE = "MicrosoftWindows"
LINUX_TEMPLATE = "MicrosoftUEFICertificateAuthority"
SECURE_BOOT_TEMPLATES = (WINDOWS_TEMPLATE, LINUX_TEMPLATE)
INSTANCE_ID_TAG = "winstackers-instance-id: "


class PowerState(enum.IntEnum):
    """A VM's EnabledState, as Hyper-V reports it."""

    UNKNOWN = 0
    RUNNING = 2
    OFF = 3
    SHUTTING_DOWN = 4
    SAVED = 6
    PAUSED = 9
    STARTING = 10

    @classmethod
    def of(cls, value: Any) -> PowerState:
        """The state for an EnabledState value; UNKNOWN for any other."""
        try:
            return cls(int(value))
        except (TypeError, ValueError):
            return cls.UNKNOWN


def _refuse(name: str, value: Any, why: str) -> None:
    raise InvalidDesiredState(field=name, detail=f"{value!r}: {why}")


def check_secure_boot(template: str | None, generation: int) -> None:
    """Refuse an unknown template, or secure boot on a generation 1 VM.

    :raises InvalidDesiredState: naming the field ``secure_boot``.
    """
    if template is not None and template not in SECURE_BOOT_TEMPLATES:
        _refuse("secure_boot", template, f"a template is one of "
                f"{', '.join(SECURE_BOOT_TEMPLATES)}, or None for off")
    if template is not None and generation != 2:
        _refuse("secure_boot", template, "secure boot can only be enabled for generation 2 VMs")


def _check_mb(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0 or value % 2:
        _refuse(name, value, "a memory size is a positive number of MB, a multiple of 2")


@dataclass(frozen=True)
class DynamicMemory:
    """Dynamic Memory: minimum and maximum MB, and the buffer in percent.

    Checked as part of a :class:`VMSpec` (a value read from the host is
    shown as it is).
    """

    minimum_mb: int
    maximum_mb: int
    buffer_percent: int = 20


@dataclass(frozen=True)
class VMSpec:
    """A VM as wanted: the whole definition Winstackers manages.

    ``secure_boot`` is None (off) or a template name; ``notes`` are free
    lines (the instance id line is added from ``instance_id``).

    :raises InvalidDesiredState: naming the field, when a value is one
        Hyper-V would refuse.
    """

    name: str
    generation: int = 2
    vcpus: int = 1
    memory_mb: int = 1024
    dynamic_memory: DynamicMemory | None = None
    notes: tuple[str, ...] = ()
    instance_id: str | None = None
    secure_boot: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            _refuse("name", self.name, "a VM needs a name")
        if self.generation not in (1, 2):
            _refuse("generation", self.generation, "Hyper-V VMs are generation 1 or 2")
        if isinstance(self.vcpus, bool) or not isinstance(self.vcpus, int) or self.vcpus < 1:
            _refuse("vcpus", self.vcpus, "a VM needs at least one virtual processor")
        _check_mb("memory_mb", self.memory_mb)
        self._check_dynamic_memory()
        self._check_notes()
        self._check_secure_boot()

    def _check_dynamic_memory(self) -> None:
        memory = self.dynamic_memory
        if memory is None:
            return
        _check_mb("dynamic_memory.minimum_mb", memory.minimum_mb)
        _check_mb("dynamic_memory.maximum_mb", memory.maximum_mb)
        buffer = memory.buffer_percent
        if isinstance(buffer, bool) or not isinstance(buffer, int) or not 5 <= buffer <= 2000:
            _refuse("dynamic_memory.buffer_percent", buffer, "the buffer is 5-2000 percent")
        if not memory.minimum_mb <= self.memory_mb <= memory.maximum_mb:
            _refuse("dynamic_memory", memory, f"needs minimum <= memory_mb ({self.memory_mb}) "
                    "<= maximum")

    def _check_notes(self) -> None:
        object.__setattr__(self, "notes", tuple(self.notes))
        for line in self.notes:
            if not isinstance(line, str) or "\n" in line or line.startswith(INSTANCE_ID_TAG):
                _refuse("notes", line, f"a note is one line not starting with {INSTANCE_ID_TAG!r}")
        instance_id = self.instance_id
        if instance_id is not None and (not instance_id.strip() or "\n" in instance_id):
            _refuse("instance_id", instance_id, "an instance id is one non-empty line")

    def _check_secure_boot(self) -> None:
        check_secure_boot(self.secure_boot, self.generation)


@dataclass(frozen=True)
class VMInfo:
    """A VM as the host has it (a snapshot; read again to see changes).

    ``vm_id`` is Hyper-V's VM id (a GUID); ``secure_boot`` is the template
    name (its id when the host has no template by that id), or None when
    secure boot is off.
    """

    name: str
    vm_id: str
    generation: int
    state: PowerState
    vcpus: int
    memory_mb: int
    dynamic_memory: DynamicMemory | None
    notes: tuple[str, ...]
    instance_id: str | None
    secure_boot: str | None


@dataclass(frozen=True)
class VMSummary:
    """What GetSummaryInformation reports for one VM.

    ``memory_mb`` is the memory in use (0 when the VM is not running);
    ``cpu_load_percent`` the processor load; ``uptime_s`` seconds since the
    VM was started (0 when it is off).
    """

    name: str
    vm_id: str
    state: PowerState
    uptime_s: float
    vcpus: int
    memory_mb: int
    cpu_load_percent: int
