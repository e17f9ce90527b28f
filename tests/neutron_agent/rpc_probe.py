"""Run in a subprocess by test_rpc.py: the agent's RPC side on oslo.messaging's
in-process ``fake://`` transport (its own process, as the global CONF and
the messaging transport are process-wide).

Neutron's own clients send what neutron-server would: ``AgentNotifierApi``
casts (port_update, network_delete, security group callbacks) and pushed
versioned objects; the agent's :class:`NeutronPluginRpc` calls fake server
endpoints that check the method names, namespaces, versions and
arguments.  Prints one JSON object.
"""

from __future__ import annotations

import json
import time
from typing import Any

import oslo_messaging
from neutron.api.rpc.handlers import resources_rpc
from neutron.common import config as common_config
from neutron.objects import address_group
from neutron.objects.qos import policy, rule
from neutron.plugins.ml2.rpc import AgentNotifierApi
from neutron_lib import constants, context
from neutron_lib import rpc as n_rpc
from neutron_lib.agent import topics
from oslo_config import cfg

from winstackers.neutron.agent import config
from winstackers.neutron.agent.rpc import AgentRpcCallbacks, NeutronPluginRpc, create_consumers
from winstackers.neutron.agent.tracker import PortTracker, Tracked

POLICY = "5f2d4b1e-0000-4000-8000-000000000001"
GROUP = "5f2d4b1e-0000-4000-8000-000000000002"
SEEN: dict[str, Any] = {}


class PluginEndpoint:
    target = oslo_messaging.Target(version="1.9")

    def get_devices_details_list(self, context: Any, devices: list[str], agent_id: str,
                                 host: str) -> list[dict[str, Any]]:
        SEEN["details"] = [devices, agent_id, host]
        return [{"device": d} for d in devices]

    def update_device_list(self, context: Any, devices_up: list[str], devices_down: list[str],
                           agent_id: str, host: str, refresh_tunnels: bool = False) -> Any:
        SEEN["update"] = [devices_up, devices_down, host]
        return {"devices_up": devices_up, "failed_devices_up": [],
                "devices_down": devices_down, "failed_devices_down": []}


class SecurityEndpoint:
    target = oslo_messaging.Target(version="1.3", namespace=constants.RPC_NAMESPACE_SECGROUP)

    def security_group_info_for_devices(self, context: Any, devices: list[str],
                                        call_version: str) -> dict[str, Any]:
        SEEN["security"] = [devices, call_version]
        return {"devices": {}, "security_groups": {}, "sg_member_ips": {}}


class StateEndpoint:
    target = oslo_messaging.Target(version="1.4", namespace=constants.RPC_NAMESPACE_STATE)

    def report_state(self, context: Any, agent_state: dict[str, Any], time: str) -> None:
        state = agent_state["agent_state"]
        SEEN["state"] = [state["agent_type"], "resource_versions" in state, len(time) > 19]


class PullEndpoint:
    target = oslo_messaging.Target(version="1.1", namespace=constants.RPC_NAMESPACE_RESOURCES)

    def pull(self, context: Any, resource_type: str, version: str, resource_id: str) -> Any:
        limit = rule.QosBandwidthLimitRule(id=GROUP, qos_policy_id=POLICY, max_kbps=1000,
                                           max_burst_kbps=0, direction="egress")
        found = policy.QosPolicy(id=POLICY, project_id="p", name="gold", rules=[limit])
        return found.obj_to_primitive(target_version=version)


def setup() -> None:
    common_config.register_common_config_options()
    config.register_opts(cfg.CONF)
    cfg.CONF([], project="neutron")
    oslo_messaging.get_rpc_transport(cfg.CONF)  # registers transport_url
    cfg.CONF.set_override("transport_url", "fake://")
    n_rpc.init(cfg.CONF)
    server = n_rpc.Connection()
    server.create_consumer(topics.PLUGIN, [PluginEndpoint(), SecurityEndpoint(),
                                           PullEndpoint()], fanout=False)
    server.create_consumer(topics.REPORTS, [StateEndpoint()], fanout=False)
    server.consume_in_threads()


def notifications() -> dict[str, Any]:
    tracker = PortTracker()
    tracker.present(["p1", "p2", "p3"])
    tracker.record("p2", Tracked("net2", frozenset({"sg1"}), POLICY))
    tracker.record("p3", Tracked("net3", frozenset({GROUP})))
    connection = create_consumers(AgentRpcCallbacks(tracker))
    connection.consume_in_threads()
    ctx = context.get_admin_context()
    notifier = AgentNotifierApi(topics.AGENT)
    notifier.port_update(ctx, {"id": "p1"}, "vlan", 5, "physnet1")
    notifier.security_groups_rule_updated(ctx, ["sg1"])
    notifier.network_delete(ctx, "net3")
    time.sleep(1)
    casts = tracker.take()
    cast_security = tracker.take_security()
    pushed = resources_rpc.ResourcesPushRpcCallback()
    for obj in (policy.QosPolicy(id=POLICY, project_id="p", name="x", rules=[]),
                address_group.AddressGroup(id=GROUP, project_id="p", name="a")):
        pushed.push(ctx, resource_list=[obj.obj_to_primitive()], event_type="updated")
    connection.close()
    pushes = tracker.take()[0]
    return {"casts": [sorted(casts[0] | cast_security), sorted(casts[1])],
            "pushes": sorted(pushes | tracker.take_security())}


def calls() -> dict[str, Any]:
    plugin = NeutronPluginRpc("hv1", "hyperv-agent.hv1")
    plugin.report_state({"agent_type": "HyperV agent", "binary": "b", "host": "hv1",
                         "topic": "N/A", "start_flag": True})
    answers = {"details": plugin.get_devices_details_list(["p1"]),
               "security": plugin.security_group_info_for_devices(["p1"]),
               "update": plugin.update_device_list(["p1"], ["p2"]),
               "qos": plugin.get_qos_rules(POLICY)}
    deadline = time.monotonic() + 5
    while "state" not in SEEN and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"answers": answers, "seen": SEEN}


if __name__ == "__main__":
    setup()
    print(json.dumps({**notifications(), **calls()}, default=str))
