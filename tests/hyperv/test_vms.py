"""VMs as desired state, checked by reading the emulated host back."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from winstackers.cim import Instance, Session
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.hyperv.errors import InvalidDesiredState, OperationFailed, VMNotFound
from winstackers.hyperv.vms import VMs
from winstackers.hyperv.vmstate import (
    LINUX_TEMPLATE,
    WINDOWS_TEMPLATE,
    DynamicMemory,
    PowerState,
    VMSpec,
)

VSSD = "Msvm_VirtualSystemSettingData"
GEN = {1: "Microsoft:Hyper-V:SubType:1", 2: "Microsoft:Hyper-V:SubType:2"}


@pytest.fixture
def vms(session: Session) -> VMs:
    return VMs(session)


def writes(emulated_host: EmulatedHost, action: Callable[[], object]) -> int:
    """How many host write calls *action* made."""
    before = emulated_host.counters.writes
    action()
    return emulated_host.counters.writes - before


def settings(session: Session, name: str) -> Instance:
    found = session.query(f"SELECT * FROM {VSSD} WHERE ElementName = '{name}' "
                          "AND VirtualSystemType = 'Microsoft:Hyper-V:System:Realized'")
    assert len(found) == 1, f"{len(found)} VMs named {name}"
    return found[0]


def device(session: Session, name: str, class_name: str) -> Instance:
    path = settings(session, name).path
    assert path is not None
    found = session.associators(path, assoc_class="Msvm_VirtualSystemSettingDataComponent",
                                result_class=class_name)
    assert len(found) == 1
    return found[0]


def enabled_state(session: Session, name: str) -> int:
    path = settings(session, name).path
    assert path is not None
    vm = session.associators(path, assoc_class="Msvm_SettingsDefineState")[0]
    return int(vm["EnabledState"])


def template_id(session: Session, name: str) -> str:
    found = session.query(f"SELECT * FROM {VSSD} WHERE ElementName = '{name}'")
    return str(found[0]["SecureBootTemplateId"])


# -- defining ---------------------------------------------------------------------
@pytest.mark.parametrize("generation", [1, 2])
def test_ensure_defines_a_vm_with_its_settings(vms: VMs, session: Session,
                                               generation: int) -> None:
    info = vms.ensure(VMSpec("vm-a", generation, vcpus=2, memory_mb=2048,
                             notes=("web tier", "owner: ops"), instance_id="inst-1"))
    assert (info.name, info.generation, info.vcpus, info.memory_mb) == ("vm-a", generation, 2, 2048)
    assert info.state == PowerState.OFF and info.dynamic_memory is None
    assert (info.notes, info.instance_id) == (("web tier", "owner: ops"), "inst-1")
    vssd = settings(session, "vm-a")
    assert vssd["VirtualSystemSubType"] == GEN[generation]
    assert vssd["Notes"] == ["winstackers-instance-id: inst-1", "web tier", "owner: ops"]
    assert device(session, "vm-a", "Msvm_ProcessorSettingData")["VirtualQuantity"] == 2
    memory = device(session, "vm-a", "Msvm_MemorySettingData")
    assert (memory["VirtualQuantity"], memory["DynamicMemoryEnabled"]) == (2048, False)


def test_ensure_defines_dynamic_memory(vms: VMs, session: Session) -> None:
    dynamic = DynamicMemory(minimum_mb=512, maximum_mb=4096, buffer_percent=30)
    info = vms.ensure(VMSpec("vm-dm", memory_mb=1024, dynamic_memory=dynamic))
    assert info.dynamic_memory == dynamic
    memory = device(session, "vm-dm", "Msvm_MemorySettingData")
    assert memory["DynamicMemoryEnabled"] is True
    assert (memory["VirtualQuantity"], memory["Reservation"], memory["Limit"],
            memory["TargetMemoryBuffer"]) == (1024, 512, 4096, 30)


def test_ensure_twice_makes_no_writes_and_no_duplicate(vms: VMs, session: Session,
                                                       emulated_host: EmulatedHost) -> None:
    spec = VMSpec("vm-b", vcpus=2, memory_mb=1024, notes=("n",), instance_id="i",
                  dynamic_memory=DynamicMemory(512, 2048), secure_boot=WINDOWS_TEMPLATE)
    assert writes(emulated_host, lambda: vms.ensure(spec)) == 1
    assert writes(emulated_host, lambda: vms.ensure(spec)) == 0
    settings(session, "vm-b")  # still exactly one VM of that name


def test_ensure_changes_only_the_difference(vms: VMs, session: Session,
                                            emulated_host: EmulatedHost) -> None:
    vms.ensure(VMSpec("vm-c", vcpus=1, memory_mb=1024))
    assert writes(emulated_host, lambda: vms.ensure(
        VMSpec("vm-c", vcpus=2, memory_mb=2048))) == 1
    assert device(session, "vm-c", "Msvm_ProcessorSettingData")["VirtualQuantity"] == 2
    assert device(session, "vm-c", "Msvm_MemorySettingData")["VirtualQuantity"] == 2048
    assert writes(emulated_host, lambda: vms.ensure(
        VMSpec("vm-c", vcpus=2, memory_mb=2048, notes=("new",)))) == 1
    assert settings(session, "vm-c")["Notes"] == ["new"]


def test_ensure_changes_memory_of_a_running_vm(vms: VMs, session: Session) -> None:
    vms.ensure(VMSpec("vm-run", memory_mb=1024))
    vms.start("vm-run")
    assert vms.ensure(VMSpec("vm-run", memory_mb=2048)).memory_mb == 2048


def test_ensure_reports_a_change_the_host_refuses(vms: VMs) -> None:
    vms.ensure(VMSpec("vm-run", vcpus=1))
    vms.start("vm-run")
    with pytest.raises(OperationFailed) as err:
        vms.ensure(VMSpec("vm-run", vcpus=2))
    assert "vm-run" in str(err.value) and err.value.code == 5


def test_ensure_refuses_another_generation_before_any_write(
        vms: VMs, emulated_host: EmulatedHost) -> None:
    vms.ensure(VMSpec("vm-g", generation=1))
    before = emulated_host.counters.writes
    with pytest.raises(InvalidDesiredState) as err:
        vms.ensure(VMSpec("vm-g", generation=2))
    assert "generation" in str(err.value)
    assert emulated_host.counters.writes == before


@pytest.mark.parametrize("changes, field", [
    ({"name": ""}, "name"),
    ({"generation": 3}, "generation"),
    ({"vcpus": 0}, "vcpus"),
    ({"memory_mb": 1023}, "memory_mb"),
    ({"dynamic_memory": DynamicMemory(2048, 4096)}, "dynamic_memory"),
    ({"dynamic_memory": DynamicMemory(512, 4096, buffer_percent=4)},
     "dynamic_memory.buffer_percent"),
    ({"notes": ("two\nlines",)}, "notes"),
    ({"secure_boot": "OpenSourceShieldedVM"}, "secure_boot"),
    ({"generation": 1, "secure_boot": WINDOWS_TEMPLATE}, "secure_boot"),
])
def test_invalid_specs_are_refused_naming_the_field(changes: dict[str, object],
                                                     field: str) -> None:
    values: dict[str, object] = {"name": "vm", **changes}
    with pytest.raises(InvalidDesiredState) as err:
        VMSpec(**values)  # type: ignore[arg-type]
    assert str(err.value).startswith(f"invalid {field}:")


# -- secure boot -------------------------------------------------------------------
@pytest.mark.parametrize("template", [WINDOWS_TEMPLATE, LINUX_TEMPLATE])
def test_secure_boot_uses_the_host_template(vms: VMs, session: Session,
                                            emulated_host: EmulatedHost, template: str) -> None:
    vms.ensure(VMSpec("vm-sb"))
    vms.set_secure_boot("vm-sb", template)
    vssd = settings(session, "vm-sb")
    assert vssd["SecureBootEnabled"] is True
    assert vssd["SecureBootTemplateId"] == template_id(session, template)
    assert vms.get("vm-sb").secure_boot == template
    assert writes(emulated_host, lambda: vms.set_secure_boot("vm-sb", template)) == 0


def test_secure_boot_can_be_turned_off(vms: VMs, session: Session) -> None:
    vms.ensure(VMSpec("vm-sb", secure_boot=LINUX_TEMPLATE))
    assert settings(session, "vm-sb")["SecureBootTemplateId"] == template_id(session,
                                                                             LINUX_TEMPLATE)
    vms.set_secure_boot("vm-sb", None)
    assert settings(session, "vm-sb")["SecureBootEnabled"] is False
    assert vms.get("vm-sb").secure_boot is None


def test_secure_boot_on_generation_1_is_refused_before_any_write(
        vms: VMs, session: Session, emulated_host: EmulatedHost) -> None:
    vms.ensure(VMSpec("vm-1", generation=1))
    before = emulated_host.counters.writes
    with pytest.raises(InvalidDesiredState) as err:
        vms.set_secure_boot("vm-1", WINDOWS_TEMPLATE)
    assert "generation 2" in str(err.value)
    assert emulated_host.counters.writes == before
    assert settings(session, "vm-1")["SecureBootEnabled"] is False


def test_secure_boot_change_of_a_running_vm_is_refused_by_the_host(vms: VMs) -> None:
    vms.ensure(VMSpec("vm-sb"))
    vms.start("vm-sb")
    with pytest.raises(OperationFailed) as err:
        vms.set_secure_boot("vm-sb", WINDOWS_TEMPLATE)
    assert "vm-sb" in str(err.value)


# -- power ----------------------------------------------------------------------------
def test_power_transitions(vms: VMs, session: Session) -> None:
    vms.ensure(VMSpec("vm-p"))
    steps = [(vms.start, PowerState.RUNNING), (vms.pause, PowerState.PAUSED),
             (vms.resume, PowerState.RUNNING), (vms.save, PowerState.SAVED),
             (vms.resume, PowerState.RUNNING), (vms.reboot, PowerState.RUNNING),
             (vms.turn_off, PowerState.OFF)]
    for action, expected in steps:
        action("vm-p")
        assert enabled_state(session, "vm-p") == expected, action.__name__
        assert vms.get("vm-p").state == expected


@pytest.mark.parametrize("setup, action", [
    ([], "turn_off"), (["start"], "start"), (["start", "pause"], "pause"),
    (["start", "save"], "save"), (["start"], "resume"),
])
def test_asking_for_the_current_state_makes_no_write(
        vms: VMs, emulated_host: EmulatedHost, setup: list[str], action: str) -> None:
    vms.ensure(VMSpec("vm-p"))
    for step in setup:
        getattr(vms, step)("vm-p")
    assert writes(emulated_host, lambda: getattr(vms, action)("vm-p")) == 0


@pytest.mark.parametrize("setup, action", [
    ([], "pause"), ([], "save"), ([], "resume"), ([], "reboot"), (["start", "save"], "pause"),
])
def test_invalid_transitions_are_refused_before_any_write(
        vms: VMs, emulated_host: EmulatedHost, setup: list[str], action: str) -> None:
    vms.ensure(VMSpec("vm-p"))
    for step in setup:
        getattr(vms, step)("vm-p")
    before = emulated_host.counters.writes
    with pytest.raises(InvalidDesiredState) as err:
        getattr(vms, action)("vm-p")
    assert "vm-p" in str(err.value)
    assert emulated_host.counters.writes == before


def test_soft_shutdown_turns_the_vm_off_through_its_guest(vms: VMs, session: Session,
                                                          emulated_host: EmulatedHost) -> None:
    vms.ensure(VMSpec("vm-s"))
    vms.start("vm-s")
    assert vms.shutdown("vm-s", timeout=30) is True
    assert enabled_state(session, "vm-s") == PowerState.OFF
    assert emulated_host.counters.by_operation().get("invoke:InitiateShutdown") == 1
    assert writes(emulated_host, lambda: vms.shutdown("vm-s")) == 0


class FakeClock:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_soft_shutdown_timeout_then_hard_off(session: Session,
                                             emulated_host: EmulatedHost) -> None:
    clock = FakeClock()
    vms = VMs(session, clock=clock, sleep=clock.sleep)
    vms.ensure(VMSpec("vm-s"))
    vms.start("vm-s")
    emulated_host.faults.guest_ignores_shutdown = True
    assert vms.shutdown("vm-s", timeout=30) is False
    assert clock.now >= 30
    assert enabled_state(session, "vm-s") == PowerState.OFF


def test_shutdown_of_a_paused_vm_turns_it_off(vms: VMs, session: Session) -> None:
    vms.ensure(VMSpec("vm-s"))
    vms.start("vm-s")
    vms.pause("vm-s")
    assert vms.shutdown("vm-s", timeout=5) is False
    assert enabled_state(session, "vm-s") == PowerState.OFF


def test_destroy_turns_a_running_vm_off_and_deletes_it(vms: VMs, session: Session) -> None:
    vms.ensure(VMSpec("vm-d"))
    vms.start("vm-d")
    vms.destroy("vm-d")
    assert session.query(f"SELECT * FROM {VSSD} WHERE ElementName = 'vm-d'") == []
    with pytest.raises(VMNotFound):
        vms.get("vm-d")


# -- lookups -------------------------------------------------------------------------
def test_lookups_by_name_id_and_instance_id(vms: VMs) -> None:
    made = vms.ensure(VMSpec("vm-l", instance_id="inst-9"))
    vms.ensure(VMSpec("vm-other"))
    assert vms.get("vm-l") == made
    assert vms.get_by_id(made.vm_id.lower()) == made
    assert vms.get_by_instance_id("inst-9") == made
    assert [vm.name for vm in vms.list_all()] == ["vm-l", "vm-other"]


def test_list_all_reads_a_constant_number_of_times(vms: VMs,
                                                   emulated_host: EmulatedHost) -> None:
    def reads() -> int:
        before = emulated_host.counters.reads
        vms.list_all()
        return emulated_host.counters.reads - before

    vms.ensure(VMSpec("vm-0"))
    few = reads()
    for index in range(1, 6):
        vms.ensure(VMSpec(f"vm-{index}"))
    assert reads() == few == 4
    assert len(vms.list_all()) == 6


@pytest.mark.parametrize("lookup", [
    lambda v: v.get("ghost"), lambda v: v.get_by_id("ghost"),
    lambda v: v.get_by_instance_id("ghost"), lambda v: v.start("ghost"),
    lambda v: v.shutdown("ghost"), lambda v: v.destroy("ghost"),
    lambda v: v.set_secure_boot("ghost", None), lambda v: v.summary(["ghost"]),
])
def test_a_missing_vm_is_named(vms: VMs, lookup: Callable[[VMs], object]) -> None:
    with pytest.raises(VMNotFound) as err:
        lookup(vms)
    assert "ghost" in str(err.value)


def test_two_vms_of_one_name_are_an_error(vms: VMs, session: Session) -> None:
    service = session.query("SELECT * FROM Msvm_VirtualSystemManagementService")[0].path
    assert service is not None
    from winstackers.cim import call
    for _ in range(2):
        call(session, service, "DefineSystem",
             {"SystemSettings": session.new_instance(VSSD, {"ElementName": "twin"})})
    with pytest.raises(OperationFailed) as err:
        vms.get("twin")
    assert "twin" in str(err.value)


# -- summary --------------------------------------------------------------------------
def test_summary_of_all_vms_in_one_call(vms: VMs, emulated_host: EmulatedHost) -> None:
    vms.ensure(VMSpec("vm-on", vcpus=2, memory_mb=2048))
    vms.ensure(VMSpec("vm-off", vcpus=1, memory_mb=1024))
    vms.start("vm-on")
    before = emulated_host.counters.by_operation()
    summaries = {s.name: s for s in vms.summary()}
    after = emulated_host.counters.by_operation()
    assert sum(after.values()) - sum(before.values()) == 1
    on, off = summaries["vm-on"], summaries["vm-off"]
    assert (on.state, on.vcpus, on.memory_mb) == (PowerState.RUNNING, 2, 2048)
    assert (off.state, off.vcpus, off.memory_mb, off.uptime_s) == (PowerState.OFF, 1, 0, 0)
    assert on.uptime_s >= 0 and on.vm_id == vms.get("vm-on").vm_id


def test_summary_of_some_vms(vms: VMs, emulated_host: EmulatedHost) -> None:
    for name in ("a", "b", "c"):
        vms.ensure(VMSpec(name))
    before = emulated_host.counters.by_operation().get("invoke:GetSummaryInformation", 0)
    assert [s.name for s in vms.summary(["a", "c"])] == ["a", "c"]
    assert emulated_host.counters.by_operation()["invoke:GetSummaryInformation"] == before + 1
    assert vms.summary([]) == []
