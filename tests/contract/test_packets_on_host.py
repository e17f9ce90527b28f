"""Contract: extended port ACLs decide which packets pass (emulator only).

ACLs are programmed through the CIM session exactly as on a host; the
packets are then judged by ``EmulatedHost.evaluate_packet``, the
emulator's inspection facility (``winstackers/emulator/hyperv/packets.py``
states the semantics and their sources): the highest-weight matching rule
decides, a stateful Allow admits the flow's replies, and a packet no rule
matches passes, so default-deny must be programmed.  A real host has no
such facility, so every test here takes ``emulated_host``.
"""

from __future__ import annotations

import pytest

from winstackers.cim import Instance, NotFound, Reference
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.hyperv.packets import INBOUND, OUTBOUND, Packet

from .helpers import Host

IN, OUT = 1, 2
ALLOW, DENY = 1, 2
VM_IP = "10.0.0.5"
PEER = "10.0.0.7"
STRANGER = "192.168.1.1"


@pytest.fixture
def port(host: Host, emulated_host: EmulatedHost) -> Reference:
    """A connected vNIC on a private vSwitch."""
    return host.port(name="vm-port")[2]


def passes(emulated_host: EmulatedHost, port: Reference, packet: Packet) -> bool:
    return emulated_host.evaluate_packet(port.key("InstanceID"), packet).allowed


def ssh_in(remote: str = PEER, local_port: int = 22) -> Packet:
    return Packet(INBOUND, "tcp", VM_IP, remote, local_port, 40000)


def https_out(local_ip: str = VM_IP) -> Packet:
    return Packet(OUTBOUND, "tcp", local_ip, STRANGER, 40001, 443)


def https_reply() -> Packet:
    """The inbound answer to https_out(): the same VM-relative tuple."""
    return Packet(INBOUND, "tcp", VM_IP, STRANGER, 40001, 443)


def default_deny(host: Host) -> list[Instance]:
    return [host.acl(IN, DENY, 1, Name="deny-in"), host.acl(OUT, DENY, 1, Name="deny-out")]


def allow_ssh(host: Host, weight: int = 100) -> Instance:
    return host.acl(IN, ALLOW, weight, Name="allow-ssh", Protocol="TCP", LocalPort="22",
                    RemoteIPAddress="10.0.0.0/24")


def test_no_acls_everything_passes(host: Host, port: Reference,
                                   emulated_host: EmulatedHost) -> None:
    for packet in (ssh_in(), ssh_in(STRANGER, 25), https_out(),
                   Packet(INBOUND, "icmp", VM_IP, STRANGER)):
        assert passes(emulated_host, port, packet)


def test_default_deny_with_an_ssh_allow(host: Host, port: Reference,
                                        emulated_host: EmulatedHost) -> None:
    host.add_features(port, *default_deny(host), allow_ssh(host))
    assert passes(emulated_host, port, ssh_in(PEER))
    assert not passes(emulated_host, port, ssh_in(STRANGER))
    assert not passes(emulated_host, port, ssh_in(PEER, local_port=25))
    assert not passes(emulated_host, port, https_out())


def test_port_found_by_vnic_name(host: Host, port: Reference,
                                 emulated_host: EmulatedHost) -> None:
    host.add_features(port, *default_deny(host))
    assert not emulated_host.evaluate_packet("vm-port", ssh_in()).allowed


def test_higher_weight_deny_beats_lower_weight_allow(host: Host, port: Reference,
                                                     emulated_host: EmulatedHost) -> None:
    host.add_features(port, allow_ssh(host, weight=100),
                      host.acl(IN, DENY, 200, Protocol="TCP", LocalPort="22"))
    assert not passes(emulated_host, port, ssh_in(PEER))


def test_lower_weight_deny_loses_to_higher_weight_allow(host: Host, port: Reference,
                                                        emulated_host: EmulatedHost) -> None:
    host.add_features(port, allow_ssh(host, weight=300),
                      host.acl(IN, DENY, 200, Protocol="TCP", LocalPort="22"))
    assert passes(emulated_host, port, ssh_in(PEER))


@pytest.mark.parametrize("stateful", [True, False])
def test_stateful_allow_admits_the_reply(host: Host, port: Reference,
                                         emulated_host: EmulatedHost, stateful: bool) -> None:
    host.add_features(port, host.acl(OUT, ALLOW, 100, Protocol="TCP", Stateful=stateful),
                      host.acl(IN, DENY, 1))
    assert passes(emulated_host, port, https_out())
    assert passes(emulated_host, port, https_reply()) is stateful
    assert not passes(emulated_host, port, ssh_in(STRANGER))


def test_outbound_only_from_the_ports_own_address(host: Host, port: Reference,
                                                  emulated_host: EmulatedHost) -> None:
    host.add_features(port, host.acl(OUT, ALLOW, 100, LocalIPAddress=f"{VM_IP}/32"),
                      host.acl(OUT, DENY, 1))
    assert passes(emulated_host, port, https_out(VM_IP))
    assert not passes(emulated_host, port, https_out("10.0.0.6"))


def test_unknown_port_is_not_found(emulated_host: EmulatedHost) -> None:
    with pytest.raises(NotFound):
        emulated_host.evaluate_packet("no-such-port", ssh_in())


def test_removing_the_allow_rule_denies_ssh(host: Host, port: Reference,
                                            emulated_host: EmulatedHost) -> None:
    *_, allow = host.add_features(port, *default_deny(host), allow_ssh(host))
    assert passes(emulated_host, port, ssh_in())
    host.call("RemoveFeatureSettings", FeatureSettings=[allow])
    assert not passes(emulated_host, port, ssh_in())
