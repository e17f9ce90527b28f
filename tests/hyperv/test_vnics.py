"""vNICs: add, remove, list and discovery, checked by reading the host back."""

from __future__ import annotations

import re

import pytest

from winstackers.cim import Instance, Session
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.hyperv.errors import InvalidDesiredState, VMNotFound, VNicNotFound
from winstackers.hyperv.vms import VMs
from winstackers.hyperv.vnics import VNics, VNicWatcher, normalise_mac

NIC = "Msvm_SyntheticEthernetPortSettingData"
PORT = "7d5b2c1e-0a43-4c8e-9e1f-3b2a1c0d9e8f"


@pytest.fixture
def vnics(session: Session, vms: VMs) -> VNics:
    return VNics(session)


def nic_settings(session: Session, name: str) -> list[Instance]:
    return session.query(f"SELECT * FROM {NIC} WHERE ElementName = '{name}'")


def writes_before(emulated_host: EmulatedHost) -> int:
    return emulated_host.counters.writes


@pytest.mark.parametrize("mac", ["00:15:5d:0a:0b:0c", "00-15-5D-0A-0B-0C", "00155D0A0B0C"])
def test_add_with_a_static_mac(vnics: VNics, session: Session, mac: str) -> None:
    info = vnics.add("vm-2", PORT, mac)
    assert (info.name, info.mac, info.static_mac) == (PORT, "00155D0A0B0C", True)
    [nic] = nic_settings(session, PORT)
    assert (nic["Address"], nic["StaticMacAddress"]) == ("00155D0A0B0C", True)
    assert info.vm_id == vnics.calls.vm_settings("vm-2")["VirtualSystemIdentifier"]


def test_add_with_a_generated_mac(vnics: VNics, session: Session) -> None:
    info = vnics.add("vm-2", PORT)
    [nic] = nic_settings(session, PORT)
    assert nic["StaticMacAddress"] is False
    assert re.fullmatch(r"[0-9A-F]{12}", nic["Address"])
    assert info.mac == nic["Address"] and info.static_mac is False


def test_add_twice_makes_no_write(vnics: VNics, session: Session,
                                  emulated_host: EmulatedHost) -> None:
    first = vnics.add("vm-2", PORT, "00155D0A0B0C")
    before = writes_before(emulated_host)
    assert vnics.add("vm-2", PORT, "00:15:5D:0A:0B:0C") == first
    assert vnics.add("vm-2", PORT) == first
    assert emulated_host.counters.writes == before
    assert len(nic_settings(session, PORT)) == 1


@pytest.mark.parametrize("vm, mac, field", [
    ("vm-2", "00155D0A0B0D", "mac"),  # another MAC than the adapter has
    ("vm-1", None, "name"),           # the name belongs to another VM's adapter
])
def test_add_refuses_a_conflicting_adapter(vnics: VNics, emulated_host: EmulatedHost,
                                           vm: str, mac: str | None, field: str) -> None:
    vnics.add("vm-2", PORT, "00155D0A0B0C")
    before = writes_before(emulated_host)
    with pytest.raises(InvalidDesiredState) as err:
        vnics.add(vm, PORT, mac)
    assert str(err.value).startswith(f"invalid {field}:")
    assert emulated_host.counters.writes == before


@pytest.mark.parametrize("mac", ["00155D0A0B", "01005E000001", "000000000000", "zz155D0A0B0C"])
def test_bad_macs_are_refused_before_any_host_call(vnics: VNics, emulated_host: EmulatedHost,
                                                   mac: str) -> None:
    before = sum(emulated_host.counters.by_operation().values())
    with pytest.raises(InvalidDesiredState) as err:
        vnics.add("vm-2", PORT, mac)
    assert "mac" in str(err.value)
    assert sum(emulated_host.counters.by_operation().values()) == before


def test_hot_add_and_remove_on_a_running_generation_2_vm(vnics: VNics, vms: VMs,
                                                         session: Session) -> None:
    vms.start("vm-2")
    vnics.add("vm-2", PORT)
    assert len(nic_settings(session, PORT)) == 1
    vnics.remove(PORT)
    assert nic_settings(session, PORT) == []


def test_hot_add_on_a_running_generation_1_vm_is_refused_without_writes(
        vnics: VNics, vms: VMs, session: Session, emulated_host: EmulatedHost) -> None:
    vms.start("vm-1")
    before = writes_before(emulated_host)
    with pytest.raises(InvalidDesiredState) as err:
        vnics.add("vm-1", PORT)
    assert "vm-1" in str(err.value) and "generation 1" in str(err.value)
    assert emulated_host.counters.writes == before
    assert nic_settings(session, PORT) == []


def test_hot_remove_from_a_running_generation_1_vm_is_refused_without_writes(
        vnics: VNics, vms: VMs, session: Session, emulated_host: EmulatedHost) -> None:
    vnics.add("vm-1", PORT)
    vms.start("vm-1")
    before = writes_before(emulated_host)
    with pytest.raises(InvalidDesiredState):
        vnics.remove(PORT)
    assert emulated_host.counters.writes == before
    assert len(nic_settings(session, PORT)) == 1


def test_add_to_a_paused_vm_is_refused(vnics: VNics, vms: VMs) -> None:
    vms.start("vm-2")
    vms.pause("vm-2")
    with pytest.raises(InvalidDesiredState) as err:
        vnics.add("vm-2", PORT)
    assert "paused" in str(err.value)


def test_remove_from_a_stopped_vm(vnics: VNics, session: Session) -> None:
    vnics.add("vm-1", PORT)
    vnics.remove(PORT)
    assert nic_settings(session, PORT) == []
    with pytest.raises(VNicNotFound) as err:
        vnics.get(PORT)
    assert PORT in str(err.value)


@pytest.mark.parametrize("action", ["get", "remove"])
def test_a_missing_adapter_is_named(vnics: VNics, action: str) -> None:
    with pytest.raises(VNicNotFound) as err:
        getattr(vnics, action)("ghost-port")
    assert "ghost-port" in str(err.value)


def test_adding_to_a_missing_vm_names_it(vnics: VNics) -> None:
    with pytest.raises(VMNotFound) as err:
        vnics.add("ghost-vm", PORT)
    assert "ghost-vm" in str(err.value)


def test_list_per_vm_and_for_the_host(vnics: VNics, emulated_host: EmulatedHost) -> None:
    vnics.add("vm-2", "b-port")
    vnics.add("vm-2", "a-port")
    vnics.add("vm-1", "c-port")
    assert [n.name for n in vnics.list_all("vm-2")] == ["a-port", "b-port"]
    assert [n.name for n in vnics.list_all("vm-1")] == ["c-port"]
    before = emulated_host.counters.by_operation()
    assert [n.name for n in vnics.list_all()] == ["a-port", "b-port", "c-port"]
    after = emulated_host.counters.by_operation()
    assert sum(after.values()) - sum(before.values()) == 1


def test_watcher_reports_appearing_and_disappearing_adapters_with_one_query_per_poll(
        vnics: VNics, session: Session, emulated_host: EmulatedHost) -> None:
    vnics.add("vm-2", "early")
    watcher = VNicWatcher(session)

    def poll() -> tuple[list[str], list[str]]:
        before = emulated_host.counters.by_operation()
        changes = watcher.poll()
        after = emulated_host.counters.by_operation()
        assert {k: after[k] - before.get(k, 0) for k in after
                if after[k] != before.get(k, 0)} == {"query": 1}
        return [n.name for n in changes.appeared], [n.name for n in changes.disappeared]

    assert poll() == (["early"], [])
    assert poll() == ([], [])
    info = vnics.add("vm-1", PORT, "00155D0A0B0C")
    assert poll() == ([PORT], [])
    vnics.remove("early")
    assert poll() == ([], ["early"])
    watcher.reset()
    assert poll() == ([PORT], [])
    assert not watcher.poll()
    assert vnics.get(PORT) == info


def test_normalise_mac() -> None:
    assert normalise_mac("fa:16:3e:aa:bb:cc") == "FA163EAABBCC"
