"""neutron-server 29 with our ML2 driver, through the Networking API v2.0.

What holds as soon as the server runs with the ``hyperv`` mechanism driver
loaded: the API, networks of the types Hyper-V ports use (flat, vlan,
local; https://docs.openstack.org/api-ref/network/v2/#networks-provider-extended-attributes),
a "HyperV agent" heartbeat making a host's agent alive
(https://docs.openstack.org/api-ref/network/v2/#agents), and ports bound by
our driver on that host (``binding:vif_type`` ``hyperv``,
https://docs.openstack.org/api-ref/network/v2/#port-binding-extended-attributes).
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from winstackers.neutron.constants import AGENT_TYPE_HYPERV, VIF_TYPE_HYPERV
from winstackers.neutron.fixtures import AgentProcess, ApiError, NeutronClient, NeutronServer
from winstackers.neutron.fixtures.agents import find_agent

from .conftest import LOCAL_VSWITCH, PHYSNET, VLAN_RANGES, VSWITCH, agent_configurations

VLAN_RANGE = VLAN_RANGES[PHYSNET]  # the server's network_vlan_ranges


def provider(network_type: str) -> dict[str, Any]:
    """Provider attributes of a network of *network_type* on the test physnet
    (a flat physnet holds one network only, so each flat one gets its own)."""
    attrs: dict[str, Any] = {"provider:network_type": network_type}
    if network_type == "vlan":
        attrs["provider:physical_network"] = PHYSNET
    elif network_type == "flat":
        attrs["provider:physical_network"] = f"flat-{secrets.token_hex(3)}"
    return attrs


def gone(client: NeutronClient, collection: str, item_id: str) -> bool:
    """Whether the item answers 404."""
    try:
        client.show(collection, item_id)
    except ApiError as exc:
        return bool(exc.kwargs["status"] == 404)
    return False


def test_api_lists_core_and_binding_extensions(client: NeutronClient) -> None:
    aliases = {ext["alias"] for ext in client.list("extensions")}
    assert {"agent", "binding", "provider", "port-security", "security-group"} <= aliases


def test_service_plugins_extensions_are_listed(neutron: NeutronServer,
                                               client: NeutronClient) -> None:
    plugins = set(neutron.options.service_plugins)
    if not plugins:
        pytest.skip("no service plugin configured: our trunk/QoS drivers are not built yet")
    aliases = {ext["alias"] for ext in client.list("extensions")}
    assert plugins <= aliases


@pytest.mark.parametrize("network_type", ["vlan", "flat", "local"])
def test_network_subnet_port_create_and_delete(client: NeutronClient,
                                               network_type: str) -> None:
    network = client.create("networks", name=f"net-{network_type}", **provider(network_type))
    assert network["provider:network_type"] == network_type
    if network_type == "vlan":
        assert network["provider:segmentation_id"] in VLAN_RANGE
    subnet = client.create("subnets", network_id=network["id"], ip_version=4,
                           cidr="10.10.0.0/24")
    port = client.create("ports", network_id=network["id"])
    assert [ip["subnet_id"] for ip in port["fixed_ips"]] == [subnet["id"]]

    client.delete("ports", port["id"])
    client.delete("subnets", subnet["id"])
    client.delete("networks", network["id"])
    assert gone(client, "ports", port["id"])
    assert gone(client, "networks", network["id"])


def test_hyperv_mechanism_driver_is_loaded(neutron: NeutronServer, mech_driver: None) -> None:
    assert "Loaded mechanism driver names: ['hyperv']" in neutron.log_text()


def test_port_on_host_without_agent_fails_to_bind(client: NeutronClient, mech_driver: None,
                                                  make_network: Any, host_name: str) -> None:
    network = make_network(**provider("vlan"))
    port = client.create("ports", network_id=network["id"], **{"binding:host_id": host_name})
    assert port["binding:vif_type"] == "binding_failed"


def test_reported_hyperv_agent_is_alive(client: NeutronClient,
                                        fake_hyperv_agent: AgentProcess) -> None:
    agent = find_agent(client, fake_hyperv_agent.host, AGENT_TYPE_HYPERV)
    assert agent is not None
    assert agent["alive"] is True
    assert agent["binary"] == "neutron-hyperv-agent"
    assert agent["configurations"] == agent_configurations()


@pytest.mark.parametrize(("network_type", "vswitch"),
                         [("vlan", VSWITCH), ("local", LOCAL_VSWITCH)])
def test_port_on_agent_host_is_bound_with_vif_type_hyperv(
        client: NeutronClient, mech_driver: None, make_network: Any,
        fake_hyperv_agent: AgentProcess, network_type: str, vswitch: str) -> None:
    network = make_network(**provider(network_type))
    port = client.create("ports", network_id=network["id"],
                         **{"binding:host_id": fake_hyperv_agent.host})
    assert port["binding:vif_type"] == VIF_TYPE_HYPERV
    assert port["binding:vif_details"]["vswitch"] == vswitch
    # Bound, but DOWN until an agent reports the device up.
    assert port["status"] == "DOWN"


def test_port_on_unmapped_physnet_fails_to_bind(client: NeutronClient, mech_driver: None,
                                                make_network: Any,
                                                fake_hyperv_agent: AgentProcess) -> None:
    network = make_network(**provider("flat"))
    port = client.create("ports", network_id=network["id"],
                         **{"binding:host_id": fake_hyperv_agent.host})
    assert port["binding:vif_type"] == "binding_failed"
