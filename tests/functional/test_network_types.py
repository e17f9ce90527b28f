"""End to end: ports of ``flat`` and ``local`` networks on the Hyper-V agent.

Proven, through neutron's REST API, the real ``neutron-hyperv-agent`` and
the served emulated host (:mod:`.scenarios`):

- a port of a ``flat`` network on ``physnet1`` is bound by the ``hyperv``
  driver to the vSwitch the agent maps ``physnet1`` to, becomes ACTIVE, and
  its host port is on that vSwitch, untagged, with port security applied;
- a port of a ``local`` network is bound to the agent's
  ``local_network_vswitch`` (``vSwitch-private``), becomes ACTIVE, and its
  host port is there, untagged;
- in both, what the driver told nova (``binding:vif_details['vswitch']``)
  is where the agent connected the port.
"""

from __future__ import annotations

from typing import Any

from winstackers.emulator.hyperv.packets import OUTBOUND, Packet
from winstackers.hyperv.portstate import Vlan
from winstackers.neutron.constants import VIF_DETAILS_VSWITCH, VIF_TYPE_HYPERV
from winstackers.neutron.fixtures import NeutronClient

from .conftest import LOCAL_VSWITCH, PHYSNET, VSWITCH
from .scenarios import CIDR, FROM_OUTSIDE, SPOOFED_IP, Scenario, fixed_ip, plug


def network_with_subnet(client: NeutronClient, make_network: Any,
                        **provider: Any) -> dict[str, Any]:
    """A network with the *provider* attributes and an IPv4 subnet (no DHCP)."""
    network: dict[str, Any] = make_network(**provider)
    client.create("subnets", network_id=network["id"], ip_version=4, cidr=CIDR,
                  enable_dhcp=False)
    return network


def assert_filtered_from_its_own_address(scenario: Scenario, port: dict[str, Any]) -> None:
    """Port security holds: the VM gets out from its fixed IP, not from another."""
    pid = port["id"]
    assert scenario.allowed(pid, Packet(OUTBOUND, "tcp", fixed_ip(port), FROM_OUTSIDE,
                                        41000, 443))
    assert not scenario.allowed(pid, Packet(OUTBOUND, "tcp", SPOOFED_IP, FROM_OUTSIDE,
                                            41001, 443))


def test_flat_port_is_active_untagged_on_the_mapped_vswitch(
        client: NeutronClient, scenario: Scenario, make_network: Any) -> None:
    # A flat physical network holds one network: this module's only one on physnet1.
    network = network_with_subnet(client, make_network, **{
        "provider:network_type": "flat", "provider:physical_network": PHYSNET})
    assert network["provider:segmentation_id"] is None

    port = plug(client, scenario, network)

    assert port["binding:vif_type"] == VIF_TYPE_HYPERV
    assert port["binding:vif_details"][VIF_DETAILS_VSWITCH] == VSWITCH
    state = scenario.read(port["id"])
    assert state.switch == VSWITCH
    assert state.vlan == Vlan()
    assert state.allow_mac_spoofing is False
    assert state.acls, "port security is on: the agent programmed ACLs"
    assert_filtered_from_its_own_address(scenario, port)


def test_local_port_is_active_untagged_on_the_local_vswitch(
        client: NeutronClient, scenario: Scenario, make_network: Any) -> None:
    network = network_with_subnet(client, make_network, **{"provider:network_type": "local"})
    assert network["provider:physical_network"] is None

    port = plug(client, scenario, network)

    assert port["binding:vif_details"][VIF_DETAILS_VSWITCH] == LOCAL_VSWITCH
    state = scenario.read(port["id"])
    assert state.switch == LOCAL_VSWITCH
    assert state.vlan == Vlan()
    assert state.allow_mac_spoofing is False
    assert_filtered_from_its_own_address(scenario, port)
