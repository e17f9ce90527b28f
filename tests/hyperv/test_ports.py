"""Switch ports as desired state: host state, packets and write counts."""

from __future__ import annotations

import pytest

from tests.contract.helpers import Host
from winstackers.cim import Session
from winstackers.emulator.hyperv.faults import FaultPlan
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.hyperv.packets import INBOUND, OUTBOUND, Packet
from winstackers.hyperv.errors import (
    InvalidDesiredState,
    OperationFailed,
    PortNotFound,
    SwitchNotFound,
)
from winstackers.hyperv.ports import SwitchPorts
from winstackers.hyperv.portstate import AclRule, Bandwidth, PortState, Profile, Sriov, Vlan

SWITCH = "vSwitch-physnet1"
SRIOV_SWITCH = "vSwitch-sriov"
VM_IP = "10.0.0.5"


def security_group(extra: int = 18) -> frozenset[AclRule]:
    """A default deny pair, SSH from the subnet, and *extra* TCP allows."""
    rules = {AclRule("in", "deny", 1), AclRule("out", "deny", 1),
             AclRule("in", "allow", 100, "tcp", local_ports="22",
                     remote_address="10.0.0.0/24", stateful=True, name="ssh"),
             AclRule("out", "allow", 100, local_address=f"{VM_IP}/32", name="egress")}
    rules |= {AclRule("in", "allow", 200 + i, "udp", local_ports=str(5000 + i))
              for i in range(extra)}
    return frozenset(rules)


def wanted(**changes: object) -> PortState:
    base: dict[str, object] = {"switch": SWITCH, "vlan": Vlan.access(100),
                               "acls": security_group(), "bandwidth": Bandwidth(limit_bps=10**9)}
    base.update(changes)
    return PortState(**base)  # type: ignore[arg-type]


@pytest.fixture
def ports(session: Session) -> SwitchPorts:
    return SwitchPorts(session)


@pytest.fixture
def vnic(session: Session) -> str:
    """A VM with one unconnected network adapter; returns its name."""
    host = Host(session)
    vm = host.define_vm()
    host.add_nic(vm, "port-a")
    return "port-a"


def writes_of(emulated_host: EmulatedHost, action: object) -> int:
    before = emulated_host.counters.writes
    action()  # type: ignore[operator]
    return emulated_host.counters.writes - before


def test_new_port_is_connected_and_configured_in_two_writes(
        ports: SwitchPorts, vnic: str, emulated_host: EmulatedHost) -> None:
    desired = wanted()
    assert len(desired.acls) == 22
    assert writes_of(emulated_host, lambda: ports.apply(vnic, desired)) == 2
    assert ports.read(vnic) == desired


def test_reapplying_the_same_state_writes_nothing(
        ports: SwitchPorts, vnic: str, emulated_host: EmulatedHost) -> None:
    ports.apply(vnic, wanted())
    assert writes_of(emulated_host, lambda: ports.apply(vnic, wanted())) == 0
    assert ports.apply(vnic, wanted()) == 0


def test_programmed_acls_hold_for_packets(
        ports: SwitchPorts, vnic: str, emulated_host: EmulatedHost) -> None:
    ports.apply(vnic, wanted())

    def allowed(packet: Packet) -> bool:
        return emulated_host.evaluate_packet(vnic, packet).allowed

    assert allowed(Packet(INBOUND, "tcp", VM_IP, "10.0.0.9", 22, 40000))
    assert not allowed(Packet(INBOUND, "tcp", VM_IP, "192.0.2.9", 22, 40000))
    assert not allowed(Packet(INBOUND, "tcp", VM_IP, "10.0.0.9", 25, 40000))
    assert allowed(Packet(INBOUND, "udp", VM_IP, "192.0.2.9", 5003, 53))
    assert allowed(Packet(OUTBOUND, "tcp", VM_IP, "192.0.2.9", 40001, 443))
    assert not allowed(Packet(OUTBOUND, "tcp", "10.0.0.66", "192.0.2.9", 40001, 443))


def test_one_rule_added_or_removed_is_one_write_on_that_port_only(
        ports: SwitchPorts, session: Session, emulated_host: EmulatedHost) -> None:
    host = Host(session)
    for name in ("port-a", "port-b"):
        host.add_nic(host.define_vm(), name)
        ports.apply(name, wanted())
    other = ports.read("port-b")
    more = wanted(acls=security_group() | {AclRule("in", "allow", 900, "tcp",
                                                    local_ports="8080")})
    assert writes_of(emulated_host, lambda: ports.apply("port-a", more)) == 1
    assert writes_of(emulated_host, lambda: ports.apply("port-a", wanted())) == 1
    assert ports.read("port-a") == wanted()
    assert ports.read("port-b") == other


def test_a_rule_replaced_at_the_same_weight_is_rewritten_in_one_write(
        ports: SwitchPorts, vnic: str, emulated_host: EmulatedHost) -> None:
    ports.apply(vnic, wanted())
    rules = {r for r in security_group() if r.name != "ssh"}
    rules.add(AclRule("in", "allow", 100, "tcp", local_ports="2222", name="ssh"))
    changed = wanted(acls=frozenset(rules))
    assert writes_of(emulated_host, lambda: ports.apply(vnic, changed)) == 1
    assert ports.read(vnic) == changed


class PacketsAtEveryCall(FaultPlan):
    """Judges packets on a port before each host call (no faults)."""

    def __init__(self, host: EmulatedHost, port: str, packets: list[Packet]) -> None:
        super().__init__()
        self.host, self.port, self.packets = host, port, packets
        self.seen: list[list[bool]] = []

    def before_call(self, host: str, operation: str) -> None:
        if operation.endswith("FeatureSettings"):
            self.seen.append([self.host.evaluate_packet(self.port, p).allowed
                              for p in self.packets])


def test_rules_that_move_never_leave_the_port_allowing_less_meanwhile(
        ports: SwitchPorts, vnic: str, emulated_host: EmulatedHost) -> None:
    # Every allow rule moves up one weight (a rule inserted below them), and
    # a few go away: traffic both rule sets allow must pass at every step.
    before = frozenset({AclRule("in", "deny", 1), AclRule("out", "deny", 1)}
                       | {AclRule("in", "allow", 10 + i, "udp", local_ports=str(5000 + i))
                          for i in range(8)})
    after = frozenset({AclRule("in", "deny", 1), AclRule("out", "deny", 1),
                       AclRule("in", "allow", 10, "tcp", local_ports="22")}
                      | {AclRule("in", "allow", 11 + i, "udp", local_ports=str(5000 + i))
                         for i in range(6)})
    ports.apply(vnic, PortState(SWITCH, acls=before))
    both = [Packet(INBOUND, "udp", VM_IP, "10.9.9.9", 5000 + i, 40000 + i) for i in range(6)]
    watch = PacketsAtEveryCall(emulated_host, vnic, both)
    emulated_host.faults = watch
    ports.apply(vnic, PortState(SWITCH, acls=after))
    emulated_host.faults = FaultPlan()
    watch.seen.append([emulated_host.evaluate_packet(vnic, p).allowed for p in both])
    assert len(watch.seen) == 3  # before the modify, before the remove, the end
    assert all(all(step) for step in watch.seen), watch.seen
    assert ports.read(vnic) == PortState(SWITCH, acls=after)


@pytest.mark.parametrize("vlan", [Vlan(), Vlan.access(4094), Vlan.trunk([10, 20, 30], 10),
                                  Vlan.trunk([7])])
def test_vlan_modes_round_trip(ports: SwitchPorts, vnic: str, session: Session,
                               vlan: Vlan) -> None:
    ports.apply(vnic, wanted(vlan=Vlan.access(5)))
    ports.apply(vnic, wanted(vlan=vlan))
    assert ports.read(vnic).vlan == vlan
    settings = session.query("SELECT * FROM Msvm_EthernetSwitchPortVlanSettingData")
    on_ports = [s for s in settings if not s["InstanceID"].endswith("\\Default")]
    assert len(on_ports) == (0 if vlan == Vlan() else 1)


def test_mac_spoofing_on_and_off(ports: SwitchPorts, vnic: str, session: Session) -> None:
    ports.apply(vnic, wanted(allow_mac_spoofing=True))
    assert ports.read(vnic).allow_mac_spoofing
    security = session.query("SELECT * FROM Msvm_EthernetSwitchPortSecuritySettingData "
                             "WHERE AllowMacSpoofing = TRUE")
    assert len(security) == 1
    ports.apply(vnic, wanted(allow_mac_spoofing=False))
    assert not ports.read(vnic).allow_mac_spoofing


def test_dhcp_and_router_guards(ports: SwitchPorts, vnic: str, session: Session) -> None:
    ports.apply(vnic, wanted(dhcp_guard=True, router_guard=True))
    state = ports.read(vnic)
    assert (state.dhcp_guard, state.router_guard, state.allow_mac_spoofing) == (True, True, False)
    guarded = session.query("SELECT * FROM Msvm_EthernetSwitchPortSecuritySettingData "
                            "WHERE EnableDhcpGuard = TRUE AND EnableRouterGuard = TRUE")
    assert len(guarded) == 1
    ports.apply(vnic, wanted(router_guard=True))
    assert not ports.read(vnic).dhcp_guard and ports.read(vnic).router_guard


def test_sriov_is_refused_on_a_switch_without_iov(ports: SwitchPorts, vnic: str) -> None:
    ports.apply(vnic, wanted())
    with pytest.raises(OperationFailed) as err:
        ports.apply(vnic, wanted(sriov=Sriov()))
    assert "port-a" in str(err.value) and "SR-IOV" in str(err.value)
    assert ports.read(vnic).sriov is None


def test_sriov_on_an_iov_switch(ports: SwitchPorts, vnic: str) -> None:
    desired = wanted(switch=SRIOV_SWITCH, sriov=Sriov(offload_weight=100, queue_pairs=4),
                     bandwidth=None)
    ports.apply(vnic, desired)
    assert ports.read(vnic) == desired


def test_profile_and_bandwidth(ports: SwitchPorts, vnic: str) -> None:
    desired = wanted(profile=Profile("{1f7e4a40-0d47-4bd6-9e3b-7b2d58e5c3a1}", 2),
                     bandwidth=Bandwidth(limit_bps=10**8, burst_limit_bps=2 * 10**8))
    ports.apply(vnic, desired)
    assert ports.read(vnic) == desired
    ports.apply(vnic, wanted(profile=None, bandwidth=None))
    assert ports.read(vnic) == wanted(bandwidth=None)


def test_moving_to_another_switch_is_one_write(
        ports: SwitchPorts, vnic: str, emulated_host: EmulatedHost, session: Session) -> None:
    Host(session).define_switch("vSwitch-other")
    ports.apply(vnic, wanted())
    moved = wanted(switch="vSwitch-other")
    assert writes_of(emulated_host, lambda: ports.apply(vnic, moved)) == 1
    assert ports.read(vnic) == moved


def test_remove_disconnects_and_cleans_every_feature(
        ports: SwitchPorts, vnic: str, session: Session) -> None:
    ports.apply(vnic, wanted(allow_mac_spoofing=True))
    assert ports.remove(vnic) == 1
    assert ports.read(vnic) == PortState(switch=None)
    leftovers = [f for cls in ("Msvm_EthernetSwitchPortExtendedAclSettingData",
                               "Msvm_EthernetSwitchPortVlanSettingData")
                 for f in session.query(f"SELECT * FROM {cls}")
                 if not f["InstanceID"].endswith("\\Default")]
    assert leftovers == []
    assert ports.remove(vnic) == 0


def test_read_all_costs_the_same_for_10_and_40_ports(
        ports: SwitchPorts, session: Session, emulated_host: EmulatedHost) -> None:
    host = Host(session)
    calls = []
    for count in (10, 40):
        while len(ports.read_all()) < count:
            name = f"port-{len(ports.read_all())}"
            host.add_nic(host.define_vm(), name)
            ports.apply(name, wanted())
        before = sum(emulated_host.counters.by_operation().values())
        states = ports.read_all()
        calls.append(sum(emulated_host.counters.by_operation().values()) - before)
        assert len(states) == count and all(s == wanted() for s in states.values())
    assert calls[0] == calls[1]


def test_unknown_port_and_switch_are_named(ports: SwitchPorts, vnic: str) -> None:
    with pytest.raises(PortNotFound, match="port-zz"):
        ports.apply("port-zz", wanted())
    with pytest.raises(SwitchNotFound, match="vSwitch-nope"):
        ports.apply(vnic, wanted(switch="vSwitch-nope"))


def test_invalid_desired_state_is_refused_before_any_host_call(
        emulated_host: EmulatedHost) -> None:
    before = emulated_host.counters.by_operation()
    with pytest.raises(InvalidDesiredState, match="vlan.access_id"):
        Vlan.access(4095)
    with pytest.raises(InvalidDesiredState, match="acl.direction"):
        AclRule("", "allow", 10)
    with pytest.raises(InvalidDesiredState, match="bandwidth.reservation_bps"):
        Bandwidth(reservation_bps=1000)
    with pytest.raises(InvalidDesiredState, match="acls"):
        PortState(SWITCH, acls=frozenset({AclRule("in", "allow", 5, "tcp"),
                                          AclRule("in", "deny", 5, "udp")}))
    assert emulated_host.counters.by_operation() == before


def test_failed_jobs_are_retried_until_the_port_converges(
        ports: SwitchPorts, vnic: str, emulated_host: EmulatedHost) -> None:
    emulated_host.faults = FaultPlan(job_failure_rate=0.4, seed=3)
    ports.retries = 10
    ports.apply(vnic, wanted())
    emulated_host.faults = FaultPlan()
    assert ports.read(vnic) == wanted()


def test_a_host_that_keeps_failing_gives_up_saying_what_it_did(
        ports: SwitchPorts, vnic: str, emulated_host: EmulatedHost) -> None:
    emulated_host.faults = FaultPlan(job_failure_rate=1.0)
    with pytest.raises(OperationFailed, match="applying port port-a.*after 3 attempts"):
        ports.apply(vnic, wanted())


def test_hundreds_of_rules_go_in_calls_of_bounded_size(
        ports: SwitchPorts, vnic: str, emulated_host: EmulatedHost) -> None:
    # 404 rules are about 530 KB on the wire: more than WinRM's default
    # MaxEnvelopeSizekb (500), which the served emulator enforces too (the
    # twin of this module runs it over WS-Management).  In calls of at most
    # 100 settings: the connect, then five AddFeatureSettings.
    desired = wanted(acls=security_group(extra=400), bandwidth=None)
    assert writes_of(emulated_host, lambda: ports.apply(vnic, desired)) == 1 + 5
    assert ports.read(vnic) == desired
    # Back to 22 rules: the 400 stale ones go in four RemoveFeatureSettings.
    assert writes_of(emulated_host, lambda: ports.apply(vnic, wanted(bandwidth=None))) == 4
    assert ports.read(vnic) == wanted(bandwidth=None)


def test_ports_winstackers_connected_are_told_from_ports_connected_by_hand(
        ports: SwitchPorts, vnic: str, session: Session) -> None:
    ports.apply(vnic, wanted())
    host = Host(session)
    vm = host.define_vm()
    host.connect(vm, host.add_nic(vm, "by-hand"), ports.switch(SWITCH))
    assert ports.connected_here() == frozenset({vnic})
    assert ports.read("by-hand").switch == SWITCH
