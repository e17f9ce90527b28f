"""The real agent against the emulated host, neutron replaced by FakePlugin.

Assertions are on the host (VLAN, SR-IOV, ACLs by packets) and on what the
agent told neutron (devices up/down, heartbeats).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

import pytest

from tests.contract.helpers import Host
from tests.neutron_agent.conftest import Lab
from tests.neutron_agent.fakes import SG, egress_any, ingress
from winstackers.emulator.hyperv.faults import FaultPlan
from winstackers.emulator.hyperv.packets import INBOUND, OUTBOUND
from winstackers.hyperv.hostinfo import read_host_info
from winstackers.hyperv.ports import SwitchPorts
from winstackers.hyperv.portstate import AclRule, Bandwidth, PortState, Sriov, Vlan

VM_IP = "10.0.0.5"


@pytest.fixture(autouse=True)
def ssh_from_the_subnet(lab: Lab) -> None:
    lab.plugin.rules[SG] = [ingress("tcp", 22, 22, "10.0.0.0/24"), egress_any()]


def ssh_in(lab: Lab, pid: str, source: str = "10.0.0.9", port: int = 22) -> bool:
    return lab.allows(pid, INBOUND, "tcp", VM_IP, source, port, 40000)


def test_new_ports_are_wired_on_the_host_and_reported_up(lab: Lab) -> None:
    vlan = lab.plug()
    flat = lab.plug(network_type="flat", segmentation_id=None, ips=("10.0.0.6",),
                    mac="fa:16:3e:00:00:06")
    local = lab.plug(network_type="local", physnet=None, segmentation_id=None,
                     ips=("10.0.0.7",), mac="fa:16:3e:00:00:07")
    agent = lab.agent()
    writes = lab.writes_during(agent.run_once)
    assert lab.plugin.status == {vlan: "ACTIVE", flat: "ACTIVE", local: "ACTIVE"}
    assert (lab.state(vlan).switch, lab.state(vlan).vlan) == ("vSwitch-physnet1",
                                                              Vlan.access(100))
    assert (lab.state(flat).switch, lab.state(flat).vlan) == ("vSwitch-physnet1", Vlan())
    assert (lab.state(local).switch, lab.state(local).vlan) == ("vSwitch-private", Vlan())
    assert writes <= 2 * 3
    assert agent.tracker.count_up() == 3


def test_security_groups_hold_for_packets(lab: Lab) -> None:
    pid = lab.plug()
    lab.agent().run_once()
    assert ssh_in(lab, pid)
    assert not ssh_in(lab, pid, port=80)
    assert not ssh_in(lab, pid, source="192.0.2.1")
    assert lab.allows(pid, OUTBOUND, "udp", VM_IP, "198.51.100.1", 5000, 53)
    assert not lab.allows(pid, OUTBOUND, "udp", "10.0.0.66", "198.51.100.1", 5000, 53)
    assert not lab.state(pid).allow_mac_spoofing


def test_port_security_disabled_filters_nothing(lab: Lab) -> None:
    pid = lab.plug(port_security_enabled=False)
    lab.agent().run_once()
    assert lab.state(pid).acls == frozenset() and lab.state(pid).allow_mac_spoofing
    assert ssh_in(lab, pid, port=80)
    assert lab.allows(pid, OUTBOUND, "udp", "10.0.0.66", "198.51.100.1", 5000, 53)


def test_direct_port_gets_sriov_offload_on_an_sriov_vswitch(lab: Lab) -> None:
    pid = lab.plug(physnet="sriov-net", vnic_type="direct")
    lab.agent().run_once()
    assert lab.plugin.status[pid] == "ACTIVE"
    assert (lab.state(pid).switch, lab.state(pid).sriov) == ("vSwitch-sriov", Sriov())


def test_direct_port_on_a_vswitch_without_sriov_is_reported_down_unwired(
        lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    pid = lab.plug(vnic_type="direct")
    agent = lab.agent()
    with caplog.at_level(logging.ERROR):
        agent.run_once()
        agent.tracker.mark_updated([pid])
        agent.run_once()
    assert lab.plugin.status[pid] == "DOWN"
    assert lab.state(pid).switch is None
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "'direct' needs an SR-IOV vSwitch" in errors[0]


def test_security_group_rule_update_is_followed(lab: Lab) -> None:
    pid = lab.plug()
    lab.plug(groups=(), ips=("10.0.0.8",), mac="fa:16:3e:00:00:08")
    agent = lab.agent()
    agent.run_once()
    assert not ssh_in(lab, pid, port=80)
    lab.plugin.rules[SG].append(ingress("tcp", 80, 80))
    lab.callbacks(agent).security_groups_rule_updated(None, security_groups=[SG])
    # Only ACL calls: RemoveFeatureSettings and AddFeatureSettings at most.
    assert 1 <= lab.writes_during(agent.run_once) <= 2
    assert ssh_in(lab, pid, port=80)
    # Only the group's port is looked at again, and only its security.
    assert lab.plugin.asked_security[-1] == [pid]
    assert len(lab.plugin.asked) == 1


def test_remote_group_members_are_kept_up_to_date(lab: Lab) -> None:
    lab.plugin.rules[SG] = [ingress("tcp", 443, 443, remote_group_id="web")]
    lab.plugin.members["web"] = ["10.0.0.20"]
    pid = lab.plug()
    agent = lab.agent()
    agent.run_once()
    assert ssh_in(lab, pid, "10.0.0.20", 443) and not ssh_in(lab, pid, "10.0.0.21", 443)
    lab.plugin.members["web"].append("10.0.0.21")
    lab.callbacks(agent).security_groups_member_updated(None, security_groups=["web"])
    agent.run_once()
    assert ssh_in(lab, pid, "10.0.0.21", 443)


def test_address_group_push_updates_the_ports_using_it(lab: Lab) -> None:
    lab.plugin.rules[SG] = [ingress("tcp", 22, 22, remote_address_group_id="ag")]
    lab.plugin.members["ag"] = ["192.0.2.0/28"]
    pid = lab.plug()
    agent = lab.agent()
    agent.run_once()
    assert ssh_in(lab, pid, "192.0.2.5") and not ssh_in(lab, pid, "192.0.2.99")
    lab.plugin.members["ag"] = ["192.0.2.0/24"]
    pushed = type("AddressGroup", (), {"id": "ag"})()
    lab.callbacks(agent).address_groups_pushed(None, "AddressGroup", [pushed], "updated")
    agent.run_once()
    assert ssh_in(lab, pid, "192.0.2.99")


def test_qos_policy_becomes_bandwidth_and_follows_policy_updates(lab: Lab) -> None:
    lab.plugin.qos["pol"] = [{"type": "bandwidth_limit", "max_kbps": 10000,
                              "max_burst_kbps": 0, "direction": "egress"}]
    pid = lab.plug(qos_policy_id="pol")
    agent = lab.agent()
    agent.run_once()
    assert lab.state(pid).bandwidth == Bandwidth(limit_bps=10_000_000)
    lab.plugin.qos["pol"][0]["max_kbps"] = 20000
    pushed = type("QosPolicy", (), {"id": "pol"})()
    lab.callbacks(agent).qos_policies_pushed(None, "QosPolicy", [pushed], "updated")
    agent.run_once()
    assert lab.state(pid).bandwidth == Bandwidth(limit_bps=20_000_000)


def test_trunk_parent_gets_its_subports_vlans(lab: Lab) -> None:
    pid = lab.plug(trunk_vlans=[201, 202])
    lab.agent().run_once()
    assert lab.state(pid).vlan == Vlan.trunk((201, 202), native_id=100)


def test_port_update_admin_down_disconnects_and_reports_down(lab: Lab) -> None:
    pid = lab.plug()
    agent = lab.agent()
    agent.run_once()
    lab.plugin.ports[pid]["admin_state_up"] = False
    lab.callbacks(agent).port_update(None, port={"id": pid}, network_type="vlan")
    agent.run_once()
    assert lab.state(pid).switch is None and lab.plugin.status[pid] == "DOWN"


def test_removed_vnic_is_reported_down(lab: Lab) -> None:
    pid = lab.plug()
    agent = lab.agent()
    agent.run_once()
    lab.vnics.remove(pid)
    agent.run_once()
    assert lab.plugin.status[pid] == "DOWN" and agent.tracker.known() == set()


def test_port_delete_and_network_delete_disconnect_the_vnic(lab: Lab) -> None:
    first, second = lab.plug(), lab.plug(ips=("10.0.0.6",), mac="fa:16:3e:00:00:06")
    agent = lab.agent()
    agent.run_once()
    del lab.plugin.ports[first]
    lab.callbacks(agent).port_delete(None, port_id=first)
    agent.run_once()
    assert lab.state(first).switch is None and lab.state(second).switch is not None
    lab.callbacks(agent).network_delete(None, network_id=lab.plugin._details(second)[
        "network_id"])
    agent.run_once()
    assert lab.state(second).switch is None


def test_restart_resyncs_with_zero_host_writes(lab: Lab) -> None:
    pids = [lab.plug(ips=(f"10.0.0.{10 + i}",), mac=f"fa:16:3e:00:00:{10 + i:02x}")
            for i in range(5)]
    first = lab.agent()
    first.run_once()
    first.stop()
    first.close()
    lab.plugin.status.clear()
    second = lab.agent()
    assert lab.writes_during(second.run_once) == 0
    assert lab.plugin.status == dict.fromkeys(pids, "ACTIVE")
    assert lab.writes_during(second.run_once) == 0


def test_restart_converges_stale_state_and_disconnects_deleted_ports(lab: Lab) -> None:
    kept, deleted = lab.plug(), lab.plug(ips=("10.0.0.6",), mac="fa:16:3e:00:00:06")
    first = lab.agent()
    first.run_once()
    first.close()
    wanted = lab.state(kept)
    stale = AclRule("in", "allow", 60000, "tcp", local_ports="3389")
    SwitchPorts(lab.session).apply(kept, PortState(
        wanted.switch, Vlan.access(999), acls=wanted.acls | {stale}))
    del lab.plugin.ports[deleted]
    lab.agent().run_once()
    assert lab.state(kept) == wanted
    assert lab.state(deleted).switch is None
    assert lab.plugin.status[kept] == "ACTIVE"


def test_unreachable_host_is_logged_once_per_interval_then_resynced(
        lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    pids = [lab.plug(), lab.plug(ips=("10.0.0.6",), mac="fa:16:3e:00:00:06")]
    agent = lab.agent()
    lab.host.faults = FaultPlan(transport_error_rate=1.0)
    with caplog.at_level(logging.WARNING):
        agent.run_once()
        agent.run_once()
    mine = [r for r in caplog.records if r.name.startswith("winstackers.neutron")]
    assert len(mine) == 2 and all(r.exc_info is None for r in mine)
    assert "injected transport error" in mine[0].getMessage()
    lab.host.faults = FaultPlan()
    agent.run_once()
    assert not agent.needs_resync
    assert lab.plugin.status == dict.fromkeys(pids, "ACTIVE")


def test_rpc_failure_makes_the_next_iteration_resync(lab: Lab) -> None:
    pid = lab.plug()
    agent = lab.agent()
    lab.plugin.failing = {"security_group_info_for_devices"}
    agent.run_once()
    assert agent.needs_resync and pid not in lab.plugin.status
    lab.plugin.failing = set()
    agent.run_once()
    assert lab.plugin.status[pid] == "ACTIVE" and not agent.needs_resync


def test_heartbeat_reports_the_configurations_contract(lab: Lab) -> None:
    lab.plug()
    agent = lab.agent(report_interval=0.05)
    agent.run_once()
    agent.start()
    deadline = time.monotonic() + 5
    while len(lab.plugin.reports) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    agent.heartbeat.stop()
    first, second = lab.plugin.reports[:2]
    assert first["start_flag"] is True and "start_flag" not in second
    assert {k: first[k] for k in ("binary", "host", "topic", "agent_type")} == {
        "binary": "neutron-hyperv-agent", "host": "hv1", "topic": "N/A",
        "agent_type": "HyperV agent"}
    assert first["configurations"] == {
        "vswitch_mappings": {"physnet1": "vSwitch-physnet1", "sriov*": "vSwitch-sriov"},
        "local_vswitch": "vSwitch-private", "sriov_vswitches": ["vSwitch-sriov"],
        "supported_vnic_types": ["direct", "normal"], "devices": 1}


def test_daemon_loop_wires_ports_and_stops_cleanly(lab: Lab) -> None:
    agent = lab.agent()
    loop = threading.Thread(target=agent.daemon_loop)
    loop.start()
    pid = lab.plug()
    deadline = time.monotonic() + 10
    while pid not in lab.plugin.status and time.monotonic() < deadline:
        time.sleep(0.01)
    agent.stop()
    loop.join(timeout=10)
    assert not loop.is_alive()
    agent.close()
    assert lab.plugin.status[pid] == "ACTIVE"
    with pytest.raises(RuntimeError):
        agent.pool.submit(print)


def test_vnics_not_named_like_ports_are_left_alone(lab: Lab) -> None:
    lab.vnics.add("vm1", "Network Adapter")
    SwitchPorts(lab.session).apply("Network Adapter", PortState("vSwitch-physnet1"))
    pid = lab.plug()
    lab.agent().run_once()
    assert lab.plugin.asked == [[pid]]
    assert lab.state("Network Adapter") == PortState("vSwitch-physnet1")


def test_a_state_the_host_refuses_is_a_port_problem_not_a_resync_loop(
        lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    # Stale host facts: the agent believes vSwitch-physnet1 has SR-IOV.
    facts = read_host_info(lab.session)
    wrong = replace(facts, switches=tuple(replace(s, iov_enabled=True) for s in facts.switches))
    pid = lab.plug(vnic_type="direct")
    agent = lab.agent(host_info=wrong)
    with caplog.at_level(logging.ERROR):
        agent.run_once()
        agent.tracker.mark_updated([pid])
        agent.run_once()
    assert not agent.needs_resync and lab.plugin.status[pid] == "DOWN"
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "the host refused its state" in errors[0]


def test_failing_host_jobs_make_the_agent_resync(lab: Lab,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    pid = lab.plug()
    agent = lab.agent()
    lab.host.faults = FaultPlan(job_failure_rate=1.0)
    with caplog.at_level(logging.WARNING, logger="winstackers.neutron"):
        agent.run_once()
    assert agent.needs_resync and pid not in lab.plugin.status
    mine = [r for r in caplog.records if r.name.startswith("winstackers.neutron")]
    assert len(mine) == 1 and "could not be programmed" in mine[0].getMessage()
    lab.host.faults = FaultPlan()
    agent.run_once()
    assert lab.plugin.status[pid] == "ACTIVE"


def test_a_rule_hyperv_cannot_express_is_logged_once_for_all_ports(
        lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    lab.plugin.rules[SG].append(ingress("icmp", 8, 0))  # echo request: an ICMP type
    lab.plug()
    lab.plug(ips=("10.0.0.6",), mac="fa:16:3e:00:00:06")
    agent = lab.agent()
    with caplog.at_level(logging.INFO, logger="winstackers.neutron"):
        agent.run_once()
        agent.tracker.mark_updated(agent.tracker.known())
        agent.run_once()
    notes = [r.getMessage().split(": ", 1)[1] for r in caplog.records
             if f"security group {SG}" in r.getMessage()]
    assert any("cannot match an ICMP type" in note for note in notes)
    assert len(notes) == len(set(notes)), notes


def test_stats_count_every_rpc_call_and_host_write(lab: Lab) -> None:
    lab.plug()
    lab.plug(ips=("10.0.0.6",), mac="fa:16:3e:00:00:06")
    agent = lab.agent()
    writes = lab.writes_during(agent.run_once)
    agent.report_state()

    stats = agent.stats()
    assert stats["rpc_calls"] == sum(lab.plugin.calls.values()) > 0
    assert stats["heartbeats"] == lab.plugin.calls["report_state"] == 1
    assert stats["host_writes"] == writes > 0
    assert stats["ports_up"] == 2
    assert agent.stats_line() == "stats: " + " ".join(f"{k}={v}" for k, v in stats.items())


class FirstJobsFail(FaultPlan):
    """The host's first *count* jobs fail, the rest succeed."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.left = count

    def job_fails(self) -> bool:
        self.left -= 1
        return self.left >= 0


def test_a_port_that_keeps_failing_does_not_hold_back_the_batches_after_it(lab: Lab) -> None:
    pids = sorted(lab.plug(ips=(f"10.0.0.{10 + i}",), mac=f"fa:16:3e:00:01:{i:02x}")
                  for i in range(7))
    agent = lab.agent(worker_count=1)  # one port at a time, in name order; batches of 3
    lab.host.faults = FirstJobsFail(3)  # the first port's three attempts
    agent.run_once()

    assert agent.needs_resync
    assert pids[0] not in lab.plugin.status
    assert {pid: lab.plugin.status.get(pid) for pid in pids[1:]} == dict.fromkeys(
        pids[1:], "ACTIVE")
    agent.run_once()  # the resync wires the one that failed
    assert lab.plugin.status[pids[0]] == "ACTIVE"


def test_member_change_rewrites_only_ports_whose_acls_change_without_a_rebind(
        lab: Lab) -> None:
    # Three ports admit HTTPS from the "web" group; a fourth does not use it.
    other = "33333333-3333-4333-8333-333333333333"
    lab.plugin.rules[SG] = [ingress("tcp", 443, 443, remote_group_id="web"), egress_any()]
    lab.plugin.rules[other] = [egress_any()]
    lab.plugin.members["web"] = ["10.0.0.20"]
    users = [lab.plug(ips=(f"10.0.0.{30 + i}",), mac=f"fa:16:3e:00:02:{i:02x}")
             for i in range(3)]
    bystander = lab.plug(ips=("10.0.0.40",), mac="fa:16:3e:00:02:10", groups=(other,))
    agent = lab.agent()
    agent.run_once()
    details_calls = lab.plugin.calls["get_devices_details_list"]
    reports = lab.plugin.calls["update_device_list"]

    lab.plugin.members["web"].append("10.0.0.21")
    lab.callbacks(agent).security_groups_member_updated(None, security_groups=["web"])
    before = {pid: lab.state(pid) for pid in [*users, bystander]}
    writes = lab.writes_during(agent.run_once)

    assert all(ssh_in(lab, pid, "10.0.0.21", 443) for pid in users)
    assert lab.state(bystander) == before[bystander]
    assert writes <= 2 * len(users)
    # No device details asked (no port set to BUILD), nothing to report.
    assert lab.plugin.calls["get_devices_details_list"] == details_calls
    assert lab.plugin.calls["update_device_list"] == reports
    assert lab.plugin.status == dict.fromkeys([*users, bystander], "ACTIVE")
    # The same change again writes nothing.
    lab.callbacks(agent).security_groups_member_updated(None, security_groups=["web"])
    assert lab.writes_during(agent.run_once) == 0


def test_a_port_connected_by_hand_is_reported_and_left_alone(
        lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    # A vNIC named like a port neutron does not know, connected by an admin
    # (Hyper-V Manager: the connection keeps the default settings' name).
    host = Host(lab.session)
    vm = host.define_vm()
    name = "44444444-4444-4444-8444-444444444444"
    nic = host.add_nic(vm, name)
    host.connect(vm, nic, SwitchPorts(lab.session).switch("vSwitch-physnet1"))
    assert SwitchPorts(lab.session).connected_here() == frozenset()
    agent = lab.agent()
    with caplog.at_level(logging.WARNING, logger="winstackers.neutron"):
        writes = lab.writes_during(agent.run_once)
        agent.needs_resync = True
        writes += lab.writes_during(agent.run_once)

    assert writes == 0 and lab.state(name).switch == "vSwitch-physnet1"
    warned = [r.getMessage() for r in caplog.records if "connected by Winstackers" in
              r.getMessage()]
    assert warned == [f"vNIC {name} is named like a neutron port that neutron does not know, "
                      "and its switch port was not connected by Winstackers: left as it is"]
