"""Jobs, injected faults, call counters and saved state of the emulated host.

Everything here needs what only the emulator has (``emulated_host``: fault
injection, counters, save/load), so none of it runs on a real host.  The
host is still driven through ``winstackers.cim``; only the fault plan, the
counters and the state file are touched directly.  Timings are never
asserted: latency is checked through the call counters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from winstackers.cim import (
    InvalidParameter,
    InvalidState,
    JobFailed,
    Reference,
    Session,
    Timeout,
    TransportError,
    call,
    connect,
    wait_job,
)
from winstackers.cim.connect import forget_shared_hosts
from winstackers.cim.transports.emulated import EmulatedSession
from winstackers.emulator.hyperv.faults import FaultPlan
from winstackers.emulator.hyperv.host import EmulatedHost

from .helpers import ACL, NIC, OFF, RUNNING, SECURITY, VLAN, VSSD, Host, unique

JOB_RUNNING, JOB_COMPLETED = 4, 7
STARTING = 10


def vms_named(session: Session, name: str) -> list[str]:
    """The Names (GUIDs) of the VMs called *name*."""
    found = session.query(f"SELECT Name FROM Msvm_ComputerSystem WHERE ElementName = '{name}'")
    return [vm["Name"] for vm in found]


def fail_every_job(emulated_host: EmulatedHost) -> None:
    emulated_host.faults = FaultPlan(job_failure_rate=1.0, seed=1)


# -- jobs ------------------------------------------------------------------------
def test_a_job_runs_then_completes(host: Host, emulated_host: EmulatedHost) -> None:
    vm = host.define_vm()
    emulated_host.faults.job_delay = 0.05
    result = host.session.invoke(vm, "RequestStateChange", {"RequestedState": RUNNING})
    assert result.return_value == 4096
    job = result.out["Job"]
    assert host.session.get(job)["JobState"] == JOB_RUNNING
    assert host.session.get(vm)["EnabledState"] == STARTING
    assert wait_job(host.session, job)["JobState"] == JOB_COMPLETED
    assert host.session.get(vm)["EnabledState"] == RUNNING


def test_a_second_state_request_while_the_job_runs_is_refused(
        host: Host, emulated_host: EmulatedHost) -> None:
    vm = host.define_vm()
    emulated_host.faults.job_delay = 0.05
    job = host.session.invoke(vm, "RequestStateChange", {"RequestedState": RUNNING}).out["Job"]
    with pytest.raises(InvalidState) as err:
        host.set_state(vm, OFF)
    assert err.value.code == 32775
    wait_job(host.session, job)
    assert host.session.get(vm)["EnabledState"] == RUNNING


def test_call_waits_for_a_delayed_job(host: Host, emulated_host: EmulatedHost) -> None:
    emulated_host.faults.job_delay = 0.05
    name = unique()
    vm = host.define_vm(name)
    host.set_state(vm, RUNNING)
    assert vms_named(host.session, name) == [vm.key("Name")]
    assert host.session.get(vm)["EnabledState"] == RUNNING


def test_a_failed_define_job_defines_nothing(host: Host, emulated_host: EmulatedHost) -> None:
    fail_every_job(emulated_host)
    name = unique()
    with pytest.raises(JobFailed) as err:
        host.define_vm(name)
    assert err.value.code == 32768
    assert "DefineSystem" in str(err.value)
    assert vms_named(host.session, name) == []


def test_a_failed_feature_job_adds_nothing(host: Host, emulated_host: EmulatedHost) -> None:
    _, _, connection = host.port()
    fail_every_job(emulated_host)
    with pytest.raises(JobFailed) as err:
        host.add_features(connection, host.feature(VLAN, OperationMode=1, AccessVlanId=5))
    assert err.value.code == 32768
    assert "AddFeatureSettings" in str(err.value)
    assert host.features(connection) == []


def test_a_failed_start_job_leaves_the_vm_off(host: Host, emulated_host: EmulatedHost) -> None:
    vm = host.define_vm()
    fail_every_job(emulated_host)
    with pytest.raises(JobFailed, match="RequestStateChange"):
        host.set_state(vm, RUNNING)
    assert host.session.get(vm)["EnabledState"] == OFF


def test_a_job_that_outlives_the_timeout(host: Host, emulated_host: EmulatedHost) -> None:
    emulated_host.faults.job_delay = 5.0
    settings = host.session.new_instance(VSSD, {"ElementName": unique()})
    with pytest.raises(Timeout) as err:
        call(host.session, host.vsms, "DefineSystem", {"SystemSettings": settings},
             timeout=0.1)
    assert "DefineSystem" in str(err.value)
    assert err.value.retryable


# -- transport errors --------------------------------------------------------------
def test_transport_error_is_retryable_and_names_the_host(
        host: Host, emulated_host: EmulatedHost) -> None:
    settings = host.session.new_instance(VSSD, {"ElementName": unique()})
    emulated_host.faults = FaultPlan(transport_error_rate=1.0)
    with pytest.raises(TransportError) as err:
        host.session.invoke(host.vsms, "DefineSystem", {"SystemSettings": settings})
    assert err.value.retryable
    assert emulated_host.name in str(err.value)
    emulated_host.faults = FaultPlan()
    assert vms_named(host.session, settings["ElementName"]) == []


def define_once(host: Host, name: str) -> int:
    """Define VM *name* unless it exists, retrying transport errors, as an
    agent that re-converges would; returns how many errors it met."""
    for errors in range(100):
        try:
            if not vms_named(host.session, name):
                host.define_vm(name)
            return errors
        except TransportError:
            continue
    pytest.fail(f"no success defining {name} in 100 attempts")


def test_retrying_through_transport_errors_defines_each_vm_once(
        host: Host, emulated_host: EmulatedHost) -> None:
    names = [unique() for _ in range(5)]
    emulated_host.faults = FaultPlan(transport_error_rate=0.3, seed=7)
    errors = sum(define_once(host, name) for name in names)
    emulated_host.faults = FaultPlan()
    assert errors > 0, "the seeded plan injected no error: pick another seed"
    assert [len(vms_named(host.session, name)) for name in names] == [1] * len(names)


# -- call counters ------------------------------------------------------------------
def test_counters_tell_reads_from_writes(host: Host, emulated_host: EmulatedHost) -> None:
    emulated_host.faults.latency = 0.005  # slower calls, same counts
    settings = host.session.new_instance(VSSD, {"ElementName": unique()})
    emulated_host.counters.reset()
    result = host.session.invoke(host.vsms, "DefineSystem", {"SystemSettings": settings})
    wait_job(host.session, result.out["Job"])  # the job is done at once: one get
    vm = result.out["ResultingSystem"]
    host.vms.append(vm)
    host.session.get(vm)
    host.session.invoke(host.vsms, "GetSummaryInformation",
                        {"SettingData": None, "RequestedInformation": [0]})
    counters = emulated_host.counters
    assert counters.by_operation() == {"invoke:DefineSystem": 1, "get": 2,
                                       "invoke:GetSummaryInformation": 1}
    assert (counters.reads, counters.writes) == (3, 1)


def test_counters_reset(host: Host, emulated_host: EmulatedHost) -> None:
    host.define_vm()
    assert emulated_host.counters.writes > 0
    emulated_host.counters.reset()
    assert emulated_host.counters.by_operation() == {}
    assert (emulated_host.counters.reads, emulated_host.counters.writes) == (0, 0)
    host.session.query("SELECT * FROM Msvm_ComputerSystem")
    assert emulated_host.counters.by_operation() == {"query": 1}


# -- save and load -----------------------------------------------------------------
PICTURED = ("Msvm_ComputerSystem", VSSD, NIC, "Msvm_EthernetPortAllocationSettingData",
            VLAN, ACL, SECURITY, "Msvm_EthernetSwitchPort", "Msvm_VirtualEthernetSwitch",
            "Msvm_MemorySettingData", "Msvm_ProcessorSettingData")


def picture(session: Session) -> dict[Reference | None, dict[str, object]]:
    """Every instance of the classes a port is made of, by reference."""
    return {inst.path: dict(inst.properties) for cls in PICTURED
            for inst in session.query(f"SELECT * FROM {cls}")}


def build_lab(host: Host) -> tuple[Reference, Reference]:
    """Two VMs (one running) on a new switch, with features: (vm, connection)."""
    switch = host.define_switch()
    vm, _, connection = host.port(switch=switch)
    host.add_features(connection, host.feature(VLAN, OperationMode=1, AccessVlanId=42),
                      host.acl(1, 2, 1))
    other, _, _ = host.port(switch=switch)
    host.set_state(other, RUNNING)
    return vm, connection


def test_a_loaded_host_has_the_saved_state(host: Host, emulated_host: EmulatedHost,
                                           tmp_path: Path) -> None:
    build_lab(host)
    emulated_host.save(tmp_path / "h.json")
    loaded = EmulatedSession(EmulatedHost.load(tmp_path / "h.json"))
    assert picture(loaded) == picture(host.session)


def test_a_loaded_host_keeps_working(host: Host, emulated_host: EmulatedHost,
                                     tmp_path: Path) -> None:
    vm, connection = build_lab(host)
    emulated_host.save(tmp_path / "h.json")
    loaded = Host(EmulatedSession(EmulatedHost.load(tmp_path / "h.json")))
    loaded.set_state(vm, RUNNING)
    assert loaded.session.get(vm)["EnabledState"] == RUNNING
    loaded.add_features(connection, loaded.feature(SECURITY, AllowMacSpoofing=True))
    assert [f["AllowMacSpoofing"] for f in loaded.features(connection, SECURITY)] == [True]
    macs = {nic["Address"] for nic in loaded.session.query(f"SELECT Address FROM {NIC}")}
    assert loaded.session.get(loaded.add_nic(vm))["Address"] not in macs


def test_a_job_running_at_save_does_not_strand_the_vm(
        host: Host, emulated_host: EmulatedHost, tmp_path: Path) -> None:
    vm = host.define_vm()
    emulated_host.faults.job_delay = 5.0
    job = host.session.invoke(vm, "RequestStateChange", {"RequestedState": RUNNING}).out["Job"]
    emulated_host.save(tmp_path / "h.json")
    loaded = EmulatedSession(EmulatedHost.load(tmp_path / "h.json"))
    assert loaded.get(job)["JobState"] != JOB_RUNNING
    assert loaded.get(vm)["EnabledState"] in (OFF, RUNNING)


# -- emulator:///path.json ---------------------------------------------------------
@pytest.fixture
def state_file(tmp_path: Path) -> Iterator[Path]:
    """A state file path; the process's shared hosts are dropped afterwards."""
    yield tmp_path / "state.json"
    forget_shared_hosts()


def file_url(path: Path, query: str = "") -> str:
    return f"emulator://{path}" + (f"?{query}" if query else "")


def test_a_file_url_saves_every_change(state_file: Path) -> None:
    lab = Host(connect(file_url(state_file)))
    name = unique()
    vm = lab.define_vm(name)
    nic = lab.add_nic(vm)
    reloaded = EmulatedSession(EmulatedHost.load(state_file))
    assert vms_named(reloaded, name) == [vm.key("Name")]
    assert reloaded.get(nic)["Address"] == lab.session.get(nic)["Address"]


def test_sessions_on_one_file_url_share_the_host(state_file: Path) -> None:
    first, second = Host(connect(file_url(state_file))), connect(file_url(state_file))
    name = unique()
    vm = first.define_vm(name)
    assert vms_named(second, name) == [vm.key("Name")]


def test_a_file_url_saves_the_end_of_a_job(state_file: Path) -> None:
    lab = Host(connect(file_url(state_file, "job_delay=0.05")))
    vm = lab.define_vm()
    lab.set_state(vm, RUNNING)
    reloaded = EmulatedSession(EmulatedHost.load(state_file))
    assert reloaded.get(vm)["EnabledState"] == RUNNING


CORRUPT = [
    pytest.param("{not json", id="not-json"),
    pytest.param("", id="empty"),
    pytest.param("[]", id="not-an-object"),
    pytest.param('{"version": 99}', id="wrong-version"),
    pytest.param('{"version": 1}', id="missing-keys"),
    pytest.param(json.dumps({"version": 1, "config": {}, "mac_counter": 0,
                             "instances": [{"class": "Msvm_Nope", "properties": {}}]}),
                 id="unknown-class"),
]


@pytest.mark.parametrize("content", CORRUPT)
def test_a_corrupt_state_file_is_refused_naming_it(state_file: Path, content: str) -> None:
    state_file.write_text(content)
    with pytest.raises(InvalidParameter) as err:
        connect(file_url(state_file))
    assert str(state_file) in str(err.value)
