"""The translation applied to an emulated host's switch port."""

from __future__ import annotations

from typing import Any

from tests.contract.helpers import Host
from winstackers.cim import Session
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.hyperv.packets import INBOUND, OUTBOUND, Packet
from winstackers.hyperv.ports import SwitchPorts
from winstackers.hyperv.portstate import PortState, Vlan
from winstackers.neutron.agent.secgroups import SgPort, SgRule, port_security

SWITCH = "vSwitch-physnet1"
VM4 = "10.0.0.5"
PORT = SgPort((VM4, "2001:db8::5"), "fa:16:3e:00:00:01", security_groups=("default",))
RULES = {"default": [SgRule("egress", "IPv4", None), SgRule("egress", "IPv6", None),
                     SgRule("ingress", "IPv4", None, remote_group_id="default"),
                     SgRule("ingress", "IPv4", "tcp", 22, 22, remote_ip_prefix="0.0.0.0/0")]}


def desired(members: list[str]) -> PortState:
    security = port_security(PORT, RULES, {}, {"default": members}, {})
    return PortState(SWITCH, Vlan.access(100), allow_mac_spoofing=security.allow_mac_spoofing,
                     acls=security.acls, dhcp_guard=security.dhcp_guard,
                     router_guard=security.router_guard)


def test_a_security_group_on_a_host_port_holds_for_packets_and_reapplies_for_free(
        session: Session, emulated_host: EmulatedHost) -> None:
    host = Host(session)
    host.add_nic(host.define_vm(), "port-a")
    ports = SwitchPorts(session)
    ports.apply("port-a", desired([VM4, "10.0.0.6"]))

    def allowed(packet: Packet) -> bool:
        return emulated_host.evaluate_packet("port-a", packet, now=0.0).allowed

    assert allowed(Packet(INBOUND, "tcp", VM4, "203.0.113.9", 22, 40000))
    assert allowed(Packet(INBOUND, "udp", VM4, "10.0.0.6", 9999, 53))
    assert not allowed(Packet(INBOUND, "udp", VM4, "10.0.0.7", 9999, 53))
    query = Packet(OUTBOUND, "udp", VM4, "192.0.2.53", 5353, 53)
    assert allowed(query)
    assert allowed(Packet(INBOUND, "udp", VM4, "192.0.2.53", 5353, 53))  # its reply
    assert not allowed(Packet(OUTBOUND, "udp", "10.0.0.66", "192.0.2.53", 5353, 53))
    assert ports.read("port-a") == desired([VM4, "10.0.0.6"])
    assert ports.apply("port-a", desired(["10.0.0.6", VM4])) == 0


def test_a_new_group_member_is_applied_in_at_most_one_call_per_kind(session: Session) -> None:
    host = Host(session)
    host.add_nic(host.define_vm(), "port-a")
    ports = SwitchPorts(session)
    ports.apply("port-a", desired([VM4, "10.0.0.6"]))
    grown = desired([VM4, "10.0.0.6", "10.0.0.9"])
    assert 1 <= ports.apply("port-a", grown) <= 3  # add, modify, remove
    assert ports.read("port-a") == grown


def test_a_port_being_rewritten_never_lacks_its_built_in_denies(
        session: Session, emulated_host: EmulatedHost) -> None:
    # Removing a rule moves the rules weighed after it: the host library
    # removes them, then adds them back at their new weights.  In between
    # the built-in Deny of DHCP requests towards the VM must hold although
    # the group's "all UDP in" rule is still there.
    host = Host(session)
    host.add_nic(host.define_vm(), "port-a")
    ports = SwitchPorts(session)
    udp_in = SgRule("ingress", "IPv4", "udp")
    dns_in = SgRule("ingress", "IPv4", "udp", 53, 53, remote_ip_prefix="192.0.2.0/24")

    def state(*rules: SgRule) -> PortState:
        security = port_security(PORT, {"default": list(rules)}, {}, {}, {})
        return PortState(SWITCH, acls=security.acls, dhcp_guard=True, router_guard=True)

    def dhcp_request_in() -> bool:
        packet = Packet(INBOUND, "udp", VM4, "198.51.100.9", 67, 68)
        return emulated_host.evaluate_packet("port-a", packet, now=0.0).allowed

    ports.apply("port-a", state(udp_in, dns_in))
    seen: list[tuple[str, bool]] = []
    invoke = session.invoke

    def watched(*args: Any, **kwargs: Any) -> Any:
        answer = invoke(*args, **kwargs)
        seen.append((args[1], dhcp_request_in()))
        return answer

    session.invoke = watched  # type: ignore[method-assign]
    ports.apply("port-a", state(udp_in))
    assert ("RemoveFeatureSettings", False) in seen, seen
    assert not any(allowed for _, allowed in seen), seen
    assert ports.read("port-a") == state(udp_in)
