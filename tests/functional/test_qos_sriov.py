"""End to end: QoS bandwidth and SR-IOV (``vnic_type=direct``) on Hyper-V ports.

Through neutron's REST API, the real ``neutron-hyperv-agent`` and the
served emulated host (:mod:`.scenarios`):

- a QoS policy with an egress ``bandwidth_limit`` rule and a
  ``minimum_bandwidth`` rule on a port: the host port's bandwidth is what
  ``winstackers.neutron.agent.qos`` makes of them (kbps are 1000 bit/s, a
  burst of N kilobits is N*1000/8 bytes, the minimum a reservation on a
  vSwitch in the Absolute bandwidth mode, as this module's host has);
- changing the rule's ``max_kbps`` through the API changes the host port
  (neutron pushes the policy to the agent);
- the server offers only the rule types the ``hyperv`` QoS driver declares,
  and refuses, naming the rule and the port, a rule it cannot enforce on a
  bound port (``dscp_marking``, an ingress limit) and any policy on a
  direct port;
- a direct port on a physical network mapped to the host's SR-IOV vSwitch
  is bound (``port_filter`` false: nothing filters SR-IOV traffic), becomes
  ACTIVE, and its host port has SR-IOV offload;
- a direct port on a physical network whose vSwitch has no SR-IOV is
  refused when neutron binds it (``binding_failed``), the reason in
  neutron-server's log: the agent never sees it.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from winstackers.emulator.hyperv.config import HostConfig
from winstackers.hyperv.portstate import Bandwidth, Sriov, Vlan
from winstackers.neutron.constants import VIF_DETAILS_VSWITCH, VIF_TYPE_HYPERV
from winstackers.neutron.fixtures import ApiError, NeutronClient, NeutronServer, wait_for

from .conftest import (
    PHYSNET,
    SRIOV_PHYSNET,
    SRIOV_VSWITCH,
    VLAN_RANGES,
    VSWITCH,
    emulated_host_config,
)
from .scenarios import FOLLOW_TIMEOUT, Scenario, plug, until, vlan_network

ABSOLUTE = 2  # BandwidthReservationMode of vSwitch-physnet1 on this module's host
#: neutron wants min_kbps <= max_kbps; the QoS driver min_kbps >= 10486
#: (Hyper-V's smallest reservation, 10 MiB/s).
MAX_KBPS, BURST_KBITS, MIN_KBPS = 50_000, 800, 20_000
NEW_MAX_KBPS = 30_000
#: The server log line in which the mechanism driver says why it did not bind.
NOT_BINDING = "Not binding port {port} on host {host}"


@pytest.fixture(scope="module")
def scenario_host_config() -> HostConfig:
    """The test host, with vSwitch-physnet1 in the Absolute bandwidth
    reservation mode (where Hyper-V takes minimum bandwidth in bit/s)."""
    default = emulated_host_config()
    switches = tuple(dataclasses.replace(switch, bandwidth_mode=ABSOLUTE)
                     if switch.name == VSWITCH else switch for switch in default.switches)
    return dataclasses.replace(default, switches=switches)


@pytest.fixture
def make_policy(client: NeutronClient) -> Iterator[Callable[..., dict[str, Any]]]:
    """Create QoS policies (``make_policy(bandwidth_limit_rules=[...], ...)``:
    rule lists by their collection name); deleted after the test with the
    ports using them."""
    made: list[str] = []

    def make(**rules: list[dict[str, Any]]) -> dict[str, Any]:
        policy = client.create("qos/policies", name=f"qos-{secrets.token_hex(3)}")
        made.append(policy["id"])
        for collection, bodies in rules.items():
            for body in bodies:
                client.create(f"qos/policies/{policy['id']}/{collection}", **body)
        return client.show("qos/policies", policy["id"])

    yield make
    for port in client.list("ports"):  # the API does not filter ports by policy
        if port.get("qos_policy_id") in made:
            client.delete("ports", port["id"])
    for policy_id in made:
        client.delete("qos/policies", policy_id)


def refusal(call: Callable[[], Any]) -> ApiError:
    """The API error *call* raises."""
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def rules_of(policy: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [rule for rule in policy["rules"] if rule["type"] == kind]
    return found


# -- QoS ------------------------------------------------------------------------------------
def test_qos_bandwidth_reaches_the_host_port_and_follows_rule_updates(
        client: NeutronClient, scenario: Scenario, make_network: Any,
        make_policy: Any) -> None:
    policy = make_policy(
        bandwidth_limit_rules=[{"max_kbps": MAX_KBPS, "max_burst_kbps": BURST_KBITS,
                                "direction": "egress"}],
        minimum_bandwidth_rules=[{"min_kbps": MIN_KBPS, "direction": "egress"}])
    network, _ = vlan_network(client, make_network)
    port = plug(client, scenario, network, qos_policy_id=policy["id"])
    pid = port["id"]
    assert port["qos_policy_id"] == policy["id"]

    assert scenario.read(pid).bandwidth == Bandwidth(
        limit_bps=MAX_KBPS * 1000, burst_size_bytes=BURST_KBITS * 1000 // 8,
        reservation_bps=MIN_KBPS * 1000)

    # A rule changed through the API: neutron pushes the policy, the host follows.
    limit = rules_of(policy, "bandwidth_limit")[0]
    client.update(f"qos/policies/{policy['id']}/bandwidth_limit_rules", limit["id"],
                  max_kbps=NEW_MAX_KBPS)
    took = until(lambda: (scenario.read(pid).bandwidth or Bandwidth()).limit_bps
                 == NEW_MAX_KBPS * 1000, "the host port's limit to follow the QoS rule")
    print(f"QoS rule update reached the host in {took:.1f} s")
    assert scenario.read(pid).bandwidth == Bandwidth(
        limit_bps=NEW_MAX_KBPS * 1000, burst_size_bytes=BURST_KBITS * 1000 // 8,
        reservation_bps=MIN_KBPS * 1000)

    # The policy detached from the port: no bandwidth setting left.
    client.update("ports", pid, qos_policy_id=None)
    until(lambda: scenario.read(pid).bandwidth is None,
          "the host port's bandwidth to go with the policy")


def test_rules_the_hyperv_qos_driver_cannot_enforce_are_refused(
        neutron: NeutronServer, client: NeutronClient, scenario: Scenario,
        make_network: Any, make_policy: Any) -> None:
    types = {rule["type"] for rule in client.request("GET", "qos/rule-types")["rule_types"]}
    assert types == {"bandwidth_limit", "minimum_bandwidth"}

    policy = make_policy(bandwidth_limit_rules=[{"max_kbps": MAX_KBPS}])
    network, _ = vlan_network(client, make_network)
    port = plug(client, scenario, network, qos_policy_id=policy["id"])
    rules = f"qos/policies/{policy['id']}"

    dscp = refusal(lambda: client.create(f"{rules}/dscp_marking_rules", dscp_mark=26))
    assert dscp.kwargs["status"] == 409
    assert f"Rule dscp_marking is not supported by port {port['id']}" in dscp.kwargs["body"]

    ingress = refusal(lambda: client.create(f"{rules}/bandwidth_limit_rules",
                                            max_kbps=1000, direction="ingress"))
    assert ingress.kwargs["status"] == 409
    assert f"Rule bandwidth_limit is not supported by port {port['id']}" in ingress.kwargs[
        "body"]
    # The driver says why in neutron-server's log.
    wait_for(lambda: "rule type 'dscp_marking' cannot be enforced on a Hyper-V port"
             in neutron.log_text() and "direction='ingress' cannot be enforced: a Hyper-V "
             "port's bandwidth setting has no direction" in neutron.log_text(),
             "neutron-server to log why the QoS driver refused the rules", FOLLOW_TIMEOUT)

    # Nothing was added, and the host port keeps the egress limit.
    assert [rule["type"] for rule in client.show("qos/policies", policy["id"])["rules"]] == [
        "bandwidth_limit"]
    assert scenario.read(port["id"]).bandwidth == Bandwidth(limit_bps=MAX_KBPS * 1000)


# -- SR-IOV ---------------------------------------------------------------------------------
def test_direct_port_on_the_sriov_vswitch_is_active_with_sriov_offload(
        client: NeutronClient, scenario: Scenario, make_network: Any,
        make_policy: Any) -> None:
    network, _ = vlan_network(client, make_network, physnet=SRIOV_PHYSNET)
    vlan_id = network["provider:segmentation_id"]
    assert vlan_id in VLAN_RANGES[SRIOV_PHYSNET]

    port = plug(client, scenario, network, **{"binding:vnic_type": "direct"})

    assert port["binding:vif_type"] == VIF_TYPE_HYPERV
    assert port["binding:vif_details"][VIF_DETAILS_VSWITCH] == SRIOV_VSWITCH
    assert port["binding:vif_details"]["port_filter"] is False
    state = scenario.read(port["id"])
    assert state.switch == SRIOV_VSWITCH
    assert state.vlan == Vlan.access(vlan_id)
    assert state.sriov == Sriov()

    # SR-IOV traffic bypasses the switch and its bandwidth settings: no QoS.
    policy = make_policy(bandwidth_limit_rules=[{"max_kbps": MAX_KBPS}])
    refused = refusal(lambda: client.update("ports", port["id"], qos_policy_id=policy["id"]))
    assert refused.kwargs["status"] == 409
    assert f"Rule bandwidth_limit is not supported by port {port['id']}" in refused.kwargs[
        "body"]
    assert client.show("ports", port["id"])["qos_policy_id"] is None
    assert scenario.read(port["id"]).bandwidth is None


def test_direct_port_on_a_vswitch_without_sriov_fails_to_bind(
        neutron: NeutronServer, client: NeutronClient, scenario: Scenario,
        make_network: Any) -> None:
    network, _ = vlan_network(client, make_network, physnet=PHYSNET)

    port = client.create("ports", network_id=network["id"], **{
        "binding:host_id": scenario.host_name, "binding:vnic_type": "direct"})

    assert port["binding:vif_type"] == "binding_failed"
    assert port["status"] == "DOWN"
    said = NOT_BINDING.format(port=port["id"], host=scenario.host_name)
    line = wait_for(lambda: next((line for line in neutron.log_text().splitlines()
                                  if said in line), None),
                    "neutron-server to log why the port was not bound", FOLLOW_TIMEOUT)
    assert f"vnic_type 'direct' needs an SR-IOV vSwitch and '{VSWITCH}' is not one" in line
