"""Host facts read through the host library."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.contract.helpers import Host
from winstackers.cim import Session
from winstackers.cim.transports.emulated import EmulatedSession
from winstackers.emulator.hyperv.config import HostConfig, SwitchSpec
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.hyperv.hostinfo import (
    EXTERNAL,
    PRIVATE,
    parse_cim_datetime,
    read_boot_time,
    read_disk_space,
    read_host_info,
)


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


def test_configured_switches_keep_their_bandwidth_reservation_mode() -> None:
    config = HostConfig(switches=(SwitchSpec("vSwitch-absolute", bandwidth_mode=2),
                                  SwitchSpec("vSwitch-default")))
    assert HostConfig.from_dict(config.to_dict()) == config
    session = EmulatedSession(EmulatedHost(config))
    info = read_host_info(session)
    modes = {switch.name: switch.bandwidth_mode for switch in info.switches}
    assert modes == {"vSwitch-absolute": 2, "vSwitch-default": 0}
    session.close()


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


def test_system_drive_space_in_one_query(session: Session) -> None:
    disk = read_disk_space(session)
    assert (disk.drive, disk.size, disk.free) == ("C:", 2048 * 2**30, (2048 - 120) * 2**30)
    assert disk.used == 120 * 2**30
    assert read_disk_space(session, "c:\\") == disk


def test_a_drive_the_host_lacks_or_a_bad_name_is_named(session: Session) -> None:
    with pytest.raises(LookupError, match="the host has no drive Q:"):
        read_disk_space(session, "Q:")
    with pytest.raises(ValueError, match="drive 'C:/x'"):
        read_disk_space(session, "C:/x")


def test_boot_time_is_a_utc_moment_in_the_past(session: Session) -> None:
    booted = read_boot_time(session)
    assert booted.tzinfo is not None
    assert 0 <= (datetime.now(UTC) - booted).total_seconds() < 600


def test_cim_datetimes_carry_their_utc_offset() -> None:
    assert parse_cim_datetime("20261126103000.250000+060") == datetime(
        2026, 11, 26, 9, 30, 0, 250000, tzinfo=UTC)
    assert parse_cim_datetime("20261126103000.000000-300") == datetime(
        2026, 11, 26, 15, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="'yesterday' is not a CIM datetime"):
        parse_cim_datetime("yesterday")
