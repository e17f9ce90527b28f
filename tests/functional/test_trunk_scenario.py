"""Trunks end to end: neutron's trunk plugin, the ``hyperv`` trunk driver,
the real agent and the emulated host.

A trunk made on a port already ACTIVE on a VM (the driver says it can
trunk a bound port): the host port goes to trunk mode with the subports'
VLANs allowed and the parent's own VLAN native; the agent binds the
subports to its host (they become ACTIVE, with vif_type hyperv) and sets the
trunk ACTIVE.  Subports added and removed later follow on the host.
Hyper-V does no VLAN translation, so each subport's segmentation id is its
network's VLAN (what neutron calls ``inherit``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from winstackers.hyperv.portstate import Vlan
from winstackers.neutron.constants import VIF_TYPE_HYPERV
from winstackers.neutron.fixtures import NeutronClient

from .scenarios import ACTIVE_TIMEOUT, Scenario, plug, until, vlan_network, wait_active


@pytest.fixture
def trunks(client: NeutronClient) -> Iterator[list[str]]:
    """Trunk ids to delete after the test (before their ports go)."""
    made: list[str] = []
    yield made
    for trunk_id in made:
        client.request("DELETE", f"trunks/{trunk_id}")


def subport_on_new_network(client: NeutronClient, make_network: Any,
                           cidr: str) -> dict[str, Any]:
    """A port on a new vlan network, as a subport with its network's VLAN."""
    network, _ = vlan_network(client, make_network, cidr=cidr)
    port = client.create("ports", network_id=network["id"])
    return {"port_id": port["id"], "segmentation_type": "vlan",
            "segmentation_id": network["provider:segmentation_id"]}


def trunk_status(client: NeutronClient, trunk_id: str, wanted: str) -> bool:
    return bool(client.request("GET", f"trunks/{trunk_id}")["trunk"]["status"] == wanted)


def test_trunk_on_an_active_port_reaches_the_host_and_follows_subport_changes(
        client: NeutronClient, scenario: Scenario, make_network: Any,
        trunks: list[str]) -> None:
    parent_network, _ = vlan_network(client, make_network, cidr="10.30.0.0/24")
    parent = plug(client, scenario, parent_network)
    native = parent_network["provider:segmentation_id"]
    assert scenario.read(parent["id"]).vlan == Vlan.access(native)

    first = subport_on_new_network(client, make_network, "10.31.0.0/24")
    second = subport_on_new_network(client, make_network, "10.32.0.0/24")
    trunk = client.request("POST", "trunks", {"trunk": {
        "port_id": parent["id"], "sub_ports": [first, second]}})["trunk"]
    trunks.append(trunk["id"])

    both = Vlan.trunk((first["segmentation_id"], second["segmentation_id"]), native_id=native)
    until(lambda: scenario.read(parent["id"]).vlan == both,
          "the parent's host port to be in trunk mode with both subports' VLANs")
    until(lambda: trunk_status(client, trunk["id"], "ACTIVE"), "the trunk to be ACTIVE",
          ACTIVE_TIMEOUT)
    for sub in (first, second):
        port = wait_active(client, sub["port_id"])
        assert port["binding:host_id"] == scenario.host_name
        assert port["binding:vif_type"] == VIF_TYPE_HYPERV
        assert port["device_owner"] == "trunk:subport"

    # A subport removed: its VLAN leaves the host port, it goes DOWN.
    client.request("PUT", f"trunks/{trunk['id']}/remove_subports",
                   {"sub_ports": [{"port_id": second["port_id"]}]})
    only_first = Vlan.trunk((first["segmentation_id"],), native_id=native)
    until(lambda: scenario.read(parent["id"]).vlan == only_first,
          "the removed subport's VLAN to leave the host port")
    until(lambda: client.show("ports", second["port_id"])["status"] == "DOWN",
          "the removed subport to be DOWN")
    until(lambda: trunk_status(client, trunk["id"], "ACTIVE"),
          "the trunk to be ACTIVE again after the removal", ACTIVE_TIMEOUT)

    # A subport added back: it is bound and its VLAN is allowed again.
    client.request("PUT", f"trunks/{trunk['id']}/add_subports", {"sub_ports": [second]})
    until(lambda: scenario.read(parent["id"]).vlan == both,
          "the added subport's VLAN to reach the host port")
    wait_active(client, second["port_id"])

    # The trunk deleted: the parent is back to access mode on its own VLAN.
    client.request("DELETE", f"trunks/{trunk['id']}")
    trunks.remove(trunk["id"])
    until(lambda: scenario.read(parent["id"]).vlan == Vlan.access(native),
          "the parent to be back in access mode once the trunk is deleted")

