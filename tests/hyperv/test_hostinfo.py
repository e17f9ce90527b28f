"""Host facts read through the host library."""

from __future__ import annotations

from tests.contract.helpers import Host
from winstackers.cim import Session
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.hyperv.hostinfo import EXTERNAL, PRIVATE, read_host_info


def test_os_size_and_switches(session: Session) -> None:
    info = read_host_info(session)
    assert info.os_caption.startswith("Microsoft Windows Server")
    assert (info.os_version, info.os_build) == ("10.0.20348", "20348")
    assert info.logical_processors == 16
    assert info.memory_total_mb == 65536
    assert info.iov_supported
    physnet = info.switch("vSwitch-physnet1")
    sriov = info.switch("vSwitch-sriov")
    assert physnet is not None and sriov is not None
    assert (physnet.type, physnet.uplink, physnet.iov_enabled, physnet.iov_capable) == (
        EXTERNAL, "Ethernet 1", False, False)
    assert (sriov.type, sriov.uplink, sriov.iov_enabled, sriov.iov_capable) == (
        EXTERNAL, "Ethernet 2", True, True)


def test_a_new_private_switch_is_listed(session: Session) -> None:
    Host(session).define_switch("vSwitch-private", bandwidth_mode=2)
    switch = read_host_info(session).switch("vSwitch-private")
    assert switch is not None
    assert (switch.type, switch.uplink, switch.bandwidth_mode) == (PRIVATE, None, 2)


def test_free_memory_follows_running_vms(session: Session) -> None:
    host = Host(session)
    before = read_host_info(session).memory_free_mb
    vm = host.define_vm()
    assert read_host_info(session).memory_free_mb == before
    host.set_state(vm, 2)
    assert read_host_info(session).memory_free_mb == before - 1024
    host.set_state(vm, 3)
    assert read_host_info(session).memory_free_mb == before


def test_reading_facts_costs_the_same_with_more_switches(
        session: Session, emulated_host: EmulatedHost) -> None:
    def calls() -> int:
        before = sum(emulated_host.counters.by_operation().values())
        read_host_info(session)
        return sum(emulated_host.counters.by_operation().values()) - before

    first = calls()
    for index in range(5):
        Host(session).define_switch(f"vSwitch-{index}")
    assert calls() == first == 9
