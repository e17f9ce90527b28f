"""The ``hyperv`` drivers inside neutron's real ML2 plugin, QoS and trunk plugins.

Neutron's own plugin test base (``Ml2PluginV2TestCase``) runs the ML2 core
plugin with ``mechanism_drivers = hyperv`` (loaded through our
``neutron.ml2.mechanism_drivers`` entry point), the QoS and trunk service
plugins, on in-memory SQLite, and drives it through neutron's REST API.
Hyper-V agents are rows of neutron's agents table, written by the plugin's
own ``create_or_update_agent`` as a heartbeat would.
"""

from __future__ import annotations

from typing import Any

import webob.exc
from neutron.tests.common import helpers
from neutron.tests.unit.plugins.ml2 import test_plugin as ml2_test_plugin
from neutron_lib import constants as n_const
from neutron_lib import context as n_context
from neutron_lib.api.definitions import portbindings
from neutron_lib.api.definitions import provider_net as pnet
from neutron_lib.plugins import directory
from neutron_lib.services.qos import constants as qos_consts
from oslo_config import cfg
from oslo_utils import timeutils

from winstackers.neutron import constants
from winstackers.neutron.ml2 import mech_hyperv
from winstackers.neutron.services.qos import hyperv as qos_driver
from winstackers.neutron.services.trunk import hyperv as trunk_driver

HOST = "hyperv-host-1"
CONFIGS: dict[str, Any] = {
    "vswitch_mappings": {"physnet1": "vSwitch-1", "physnet*": "vSwitch-any"},
    "local_vswitch": "vSwitch-private",
    "sriov_vswitches": ["vSwitch-1"],
    "supported_vnic_types": ["normal", "direct"],
    "devices": 0,
}


class HyperVPluginTestCase(ml2_test_plugin.Ml2PluginV2TestCase):
    _mechanism_drivers = [constants.MECHANISM_DRIVER_NAME]

    def get_additional_service_plugins(self) -> dict[str, str]:
        return {"qos": "qos", "trunk": "trunk"}

    def setUp(self) -> None:
        cfg.CONF.set_override("extension_drivers", ["qos"], group="ml2")
        cfg.CONF.set_override("type_drivers", ["local", "flat", "vlan"], group="ml2")
        cfg.CONF.set_override("project_network_types", ["local"], group="ml2")
        super().setUp()
        self.admin = n_context.get_admin_context()
        self.agent = self.register_agent(CONFIGS)

    def register_agent(self, configurations: dict[str, Any], host: str = HOST) -> Any:
        state = {"binary": "neutron-hyperv-agent", "host": host,
                 "topic": n_const.L2_AGENT_TOPIC, "agent_type": constants.AGENT_TYPE_HYPERV,
                 "configurations": configurations, "start_flag": True}
        self.driver.create_or_update_agent(self.admin, state, timeutils.utcnow())
        return self.driver._get_agent_by_type_and_host(
            self.admin, constants.AGENT_TYPE_HYPERV, host)

    def network(self, network_type: str, physnet: str | None = None,
                segmentation_id: int | None = None) -> dict[str, Any]:
        attrs: dict[str, Any] = {pnet.NETWORK_TYPE: network_type}
        if physnet:
            attrs[pnet.PHYSICAL_NETWORK] = physnet
        if segmentation_id:
            attrs[pnet.SEGMENTATION_ID] = segmentation_id
        res = self._create_network(self.fmt, f"net-{network_type}", True, as_admin=True,
                                   arg_list=tuple(attrs), **attrs)
        self.assertEqual(webob.exc.HTTPCreated.code, res.status_int, res.body)
        return self.deserialize(self.fmt, res)["network"]

    def bound_port(self, network: dict[str, Any], host: str = HOST,
                   vnic_type: str = portbindings.VNIC_NORMAL,
                   **extra: Any) -> dict[str, Any]:
        attrs = {portbindings.HOST_ID: host, portbindings.VNIC_TYPE: vnic_type, **extra}
        res = self._create_port(self.fmt, network["id"], arg_list=tuple(attrs),
                                is_admin=True, device_owner="compute:nova",
                                device_id="vm-1", **attrs)
        self.assertEqual(webob.exc.HTTPCreated.code, res.status_int, res.body)
        return self.deserialize(self.fmt, res)["port"]

    def qos_policy(self, *rules: dict[str, Any]) -> str:
        res = self._create_qos_policy(self.fmt, is_admin=True)
        self.assertEqual(webob.exc.HTTPCreated.code, res.status_int, res.body)
        policy_id: str = self.deserialize(self.fmt, res)["policy"]["id"]
        for rule in rules:
            res = self._create_qos_rule(self.fmt, policy_id, is_admin=True, **rule)
            self.assertEqual(webob.exc.HTTPCreated.code, res.status_int, res.body)
        return policy_id

    def set_policy(self, port: dict[str, Any], policy_id: str) -> Any:
        req = self.new_update_request("ports", {"port": {"qos_policy_id": policy_id}},
                                      port["id"], as_admin=True)
        return req.get_response(self.api)


class TestBinding(HyperVPluginTestCase):
    def test_vlan_flat_and_local_ports_bound(self) -> None:
        vlan = self.bound_port(self.network("vlan", "physnet1", 42))
        self.assertEqual(constants.VIF_TYPE_HYPERV, vlan[portbindings.VIF_TYPE])
        self.assertEqual({portbindings.CAP_PORT_FILTER: True,
                          portbindings.VIF_DETAILS_CONNECTIVITY: portbindings.CONNECTIVITY_L2,
                          constants.VIF_DETAILS_VSWITCH: "vSwitch-1",
                          portbindings.VIF_DETAILS_BOUND_DRIVERS: {"0": "hyperv"}},
                         vlan[portbindings.VIF_DETAILS])
        # Bound, but DOWN until the agent reports the device up.
        self.assertEqual(n_const.PORT_STATUS_DOWN, vlan["status"])

        flat = self.bound_port(self.network("flat", "physnet7"))  # through "physnet*"
        self.assertEqual(constants.VIF_TYPE_HYPERV, flat[portbindings.VIF_TYPE])
        self.assertEqual("vSwitch-any", flat[portbindings.VIF_DETAILS]["vswitch"])

        local = self.bound_port(self.network("local"))
        self.assertEqual(constants.VIF_TYPE_HYPERV, local[portbindings.VIF_TYPE])
        self.assertEqual("vSwitch-private", local[portbindings.VIF_DETAILS]["vswitch"])

    def test_unmapped_physnet_or_host_without_agent_fails(self) -> None:
        unmapped = self.bound_port(self.network("flat", "datacentre"))
        self.assertEqual(portbindings.VIF_TYPE_BINDING_FAILED, unmapped[portbindings.VIF_TYPE])
        elsewhere = self.bound_port(self.network("vlan", "physnet1", 44), host="no-agent-here")
        self.assertEqual(portbindings.VIF_TYPE_BINDING_FAILED, elsewhere[portbindings.VIF_TYPE])

    def test_dead_agent_binding_fails(self) -> None:
        helpers.kill_agent(self.agent["id"])
        port = self.bound_port(self.network("vlan", "physnet1", 43))
        self.assertEqual(portbindings.VIF_TYPE_BINDING_FAILED, port[portbindings.VIF_TYPE])

    def test_direct_ports_only_on_sriov_vswitch(self) -> None:
        on_iov = self.bound_port(self.network("vlan", "physnet1", 45),
                                 vnic_type=portbindings.VNIC_DIRECT)
        self.assertEqual(constants.VIF_TYPE_HYPERV, on_iov[portbindings.VIF_TYPE])
        self.assertIs(False, on_iov[portbindings.VIF_DETAILS][portbindings.CAP_PORT_FILTER])
        with self.assertLogs(mech_hyperv.LOG.logger, "WARNING") as logs:
            on_plain = self.bound_port(self.network("vlan", "physnet2", 46),
                                       vnic_type=portbindings.VNIC_DIRECT)
        self.assertEqual(portbindings.VIF_TYPE_BINDING_FAILED, on_plain[portbindings.VIF_TYPE])
        self.assertIn("'vSwitch-any' is not one", logs.output[0])


class TestQos(HyperVPluginTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.port = self.bound_port(self.network("vlan", "physnet1", 50))

    def test_egress_limit_and_minimum_accepted(self) -> None:
        manager = directory.get_plugin("QOS").driver_manager
        self.assertEqual([qos_driver.NAME], [d.name for d in manager._drivers])
        self.assertEqual({qos_consts.RULE_TYPE_BANDWIDTH_LIMIT,
                          qos_consts.RULE_TYPE_MINIMUM_BANDWIDTH},
                         set(manager.supported_rule_types()))
        policy = self.qos_policy(
            {"rule_type": qos_consts.RULE_TYPE_BANDWIDTH_LIMIT, "max_kbps": 100000,
             "max_burst_kbps": 1000},
            {"rule_type": qos_consts.RULE_TYPE_MINIMUM_BANDWIDTH, "min_kbps": 20000})
        res = self.set_policy(self.port, policy)
        self.assertEqual(webob.exc.HTTPOk.code, res.status_int, res.body)
        self.assertEqual(policy, self.deserialize(self.fmt, res)["port"]["qos_policy_id"])

    def test_unenforceable_parameters_refused_with_reason(self) -> None:
        ingress = self.qos_policy({"rule_type": qos_consts.RULE_TYPE_BANDWIDTH_LIMIT,
                                   "max_kbps": 10000, "max_burst_kbps": 0,
                                   "direction": n_const.INGRESS_DIRECTION})
        small = self.qos_policy({"rule_type": qos_consts.RULE_TYPE_MINIMUM_BANDWIDTH,
                                 "min_kbps": 1000})
        with self.assertLogs(qos_driver.LOG.logger, "WARNING") as logs:
            res_ingress = self.set_policy(self.port, ingress)
            res_small = self.set_policy(self.port, small)
        self.assertEqual(webob.exc.HTTPConflict.code, res_ingress.status_int)
        self.assertIn("Rule bandwidth_limit is not supported by port", res_ingress.text)
        self.assertIn("direction='ingress' cannot be enforced", logs.output[0])
        self.assertEqual(webob.exc.HTTPConflict.code, res_small.status_int)
        self.assertIn(f"reservations start at {qos_driver.MIN_RESERVATION_KBPS} kbps",
                      logs.output[1])

    def test_dscp_marking_refused_with_reason(self) -> None:
        policy = self.qos_policy({"rule_type": qos_consts.RULE_TYPE_DSCP_MARKING,
                                  "dscp_mark": 16})
        with self.assertLogs(qos_driver.LOG.logger, "WARNING") as logs:
            res = self.set_policy(self.port, policy)
        self.assertEqual(webob.exc.HTTPConflict.code, res.status_int)
        self.assertIn("Rule dscp_marking is not supported by port", res.text)
        self.assertIn("rule type 'dscp_marking' cannot be enforced on a Hyper-V port",
                      logs.output[0])

    def test_any_rule_refused_on_direct_port(self) -> None:
        direct = self.bound_port(self.network("vlan", "physnet1", 51),
                                 vnic_type=portbindings.VNIC_DIRECT)
        policy = self.qos_policy({"rule_type": qos_consts.RULE_TYPE_BANDWIDTH_LIMIT,
                                  "max_kbps": 10000, "max_burst_kbps": 0})
        with self.assertLogs(qos_driver.LOG.logger, "WARNING") as logs:
            res = self.set_policy(direct, policy)
        self.assertEqual(webob.exc.HTTPConflict.code, res.status_int)
        self.assertIn("SR-IOV", logs.output[0])


class TestTrunk(HyperVPluginTestCase):
    def create_trunk(self, parent: dict[str, Any], subport: dict[str, Any]) -> Any:
        body = {"trunk": {"port_id": parent["id"], "project_id": self._project_id,
                          "sub_ports": [subport]}}
        return self.new_create_request("trunks", body, as_admin=True).get_response(self.api)

    def unbound_port(self, network: dict[str, Any]) -> dict[str, Any]:
        res = self._create_port(self.fmt, network["id"], is_admin=True)
        port: dict[str, Any] = self.deserialize(self.fmt, res)["port"]
        return port

    def test_trunk_on_bound_hyperv_port_accepted(self) -> None:
        trunk_plugin = directory.get_plugin("trunk")
        drivers = {d.name: d for d in trunk_plugin.registered_drivers}
        self.assertTrue(drivers[trunk_driver.NAME].is_loaded)
        self.assertFalse(drivers["openvswitch"].is_loaded)
        self.assertIn(constants.VIF_TYPE_HYPERV, trunk_plugin.supported_interfaces)
        self.assertIn(constants.AGENT_TYPE_HYPERV, trunk_plugin.supported_agent_types)

        parent = self.bound_port(self.network("vlan", "physnet1", 60))
        child = self.unbound_port(self.network("vlan", "physnet1", 61))
        res = self.create_trunk(parent, {"port_id": child["id"], "segmentation_type": "vlan",
                                         "segmentation_id": 61})
        self.assertEqual(webob.exc.HTTPCreated.code, res.status_int, res.body)
        trunk = self.deserialize(self.fmt, res)["trunk"]
        self.assertEqual([61], [s["segmentation_id"] for s in trunk["sub_ports"]])

    def test_inherit_subport_takes_the_network_vlan(self) -> None:
        parent = self.bound_port(self.network("vlan", "physnet1", 62))
        child = self.unbound_port(self.network("vlan", "physnet1", 63))
        res = self.create_trunk(parent, {"port_id": child["id"], "segmentation_type": "inherit"})
        self.assertEqual(webob.exc.HTTPCreated.code, res.status_int, res.body)
        subport = self.deserialize(self.fmt, res)["trunk"]["sub_ports"][0]
        self.assertEqual(("vlan", 63),
                         (subport["segmentation_type"], subport["segmentation_id"]))
