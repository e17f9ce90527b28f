"""The QoS and trunk drivers on their own, with neutron's real objects and managers.

Rules are neutron's QoS rule objects; registration goes through neutron's
callback registry into neutron's own ``QosServiceDriverManager``; trunk
compatibility is judged by neutron's own ``is_driver_compatible``.
"""

from __future__ import annotations

from neutron.conf.plugins.ml2 import config as ml2_config
from neutron.objects.qos import rule as rule_obj
from neutron.services.qos.drivers import manager as qos_manager
from neutron.services.trunk import utils as trunk_utils
from neutron.tests import base
from neutron_lib import constants as n_const
from neutron_lib import context as n_context
from neutron_lib.services.qos import constants as qos_consts
from oslo_utils import uuidutils

from winstackers.neutron import constants
from winstackers.neutron.services.qos import hyperv as qos_driver
from winstackers.neutron.services.trunk import hyperv as trunk_driver

POLICY = uuidutils.generate_uuid()


def limit(max_kbps: int = 10000, direction: str = n_const.EGRESS_DIRECTION,
          burst: int = 0) -> rule_obj.QosBandwidthLimitRule:
    return rule_obj.QosBandwidthLimitRule(
        None, id=uuidutils.generate_uuid(), qos_policy_id=POLICY,
        max_kbps=max_kbps, max_burst_kbps=burst, direction=direction)


def minimum(min_kbps: int, direction: str = n_const.EGRESS_DIRECTION,
            ) -> rule_obj.QosMinimumBandwidthRule:
    return rule_obj.QosMinimumBandwidthRule(
        None, id=uuidutils.generate_uuid(), qos_policy_id=POLICY,
        min_kbps=min_kbps, direction=direction)


class TestQosDriver(base.BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.driver = qos_driver.HyperVQosDriver.create()

    def test_declares_vif_type_and_vnic_types(self) -> None:
        self.assertTrue(self.driver.is_vif_type_compatible(constants.VIF_TYPE_HYPERV))
        self.assertFalse(self.driver.is_vif_type_compatible("ovs"))
        self.assertTrue(self.driver.is_vnic_compatible("normal"))
        self.assertFalse(self.driver.is_vnic_compatible("direct"))
        self.assertTrue(self.driver.requires_rpc_notifications)

    def test_egress_bandwidth_rules_supported(self) -> None:
        self.assertTrue(self.driver.is_rule_supported(limit(burst=800)))
        self.assertTrue(self.driver.is_rule_supported(limit(max_kbps=0)))
        self.assertTrue(self.driver.is_rule_supported(minimum(qos_driver.MIN_RESERVATION_KBPS)))

    def test_ingress_refused_with_reason(self) -> None:
        for rule in (limit(direction=n_const.INGRESS_DIRECTION),
                     minimum(20000, direction=n_const.INGRESS_DIRECTION)):
            with self.assertLogs(qos_driver.LOG.logger, "WARNING") as logs:
                self.assertFalse(self.driver.is_rule_supported(rule))
            self.assertIn(rule.id, logs.output[0])
            self.assertIn("direction='ingress' cannot be enforced: a Hyper-V port's "
                          "bandwidth setting has no direction", logs.output[0])

    def test_minimum_below_hyperv_reservation_refused(self) -> None:
        rule = minimum(qos_driver.MIN_RESERVATION_KBPS - 1)
        self.assertEqual(
            f"min_kbps={qos_driver.MIN_RESERVATION_KBPS - 1} cannot be enforced: Hyper-V "
            f"reservations start at {qos_driver.MIN_RESERVATION_KBPS} kbps (10485760 bit/s)",
            qos_driver.refusal(rule))
        self.assertEqual(10486, qos_driver.MIN_RESERVATION_KBPS)

    def test_unsupported_rule_types_refused_with_reason(self) -> None:
        rules = [
            rule_obj.QosDscpMarkingRule(None, id=uuidutils.generate_uuid(),
                                        qos_policy_id=POLICY, dscp_mark=16),
            rule_obj.QosPacketRateLimitRule(None, id=uuidutils.generate_uuid(),
                                            qos_policy_id=POLICY, max_kpps=1000),
            rule_obj.QosMinimumPacketRateRule(None, id=uuidutils.generate_uuid(),
                                              qos_policy_id=POLICY, min_kpps=1000,
                                              direction=n_const.EGRESS_DIRECTION),
        ]
        for rule in rules:
            self.assertFalse(self.driver.is_rule_supported(rule))
            self.assertEqual(
                f"rule type {rule.rule_type!r} cannot be enforced on a Hyper-V port "
                "(supported: bandwidth_limit, minimum_bandwidth)",
                qos_driver.refusal(rule))


class TestQosRegistration(base.BaseTestCase):
    def test_register_joins_neutrons_qos_driver_manager(self) -> None:
        driver = qos_driver.register()
        manager = qos_manager.QosServiceDriverManager()
        self.assertEqual([driver], manager._drivers)
        self.assertIs(driver, qos_driver.DRIVER)
        self.assertTrue(manager.rpc_notifications_required)
        details = manager.supported_rule_type_details(qos_consts.RULE_TYPE_BANDWIDTH_LIMIT)
        direction = [p for p in details[0]["supported_parameters"]
                     if p["parameter_name"] == qos_consts.DIRECTION]
        self.assertEqual(["egress"], direction[0]["parameter_values"])


class TestTrunkDriver(base.BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        ml2_config.register_ml2_plugin_opts()
        self.driver = trunk_driver.HyperVTrunkDriver.create()
        self.context = n_context.get_admin_context()

    def test_loaded_only_with_the_hyperv_mechanism_driver(self) -> None:
        self.config(mechanism_drivers=["openvswitch"], group="ml2")
        self.assertFalse(self.driver.is_loaded)
        self.assertFalse(self.driver.rpc_required)
        self.config(mechanism_drivers=["openvswitch", "hyperv"], group="ml2")
        self.assertTrue(self.driver.is_loaded)
        self.assertTrue(self.driver.rpc_required)

    def test_vlan_subports_on_bound_hyperv_ports(self) -> None:
        self.assertEqual(("vlan",), self.driver.segmentation_types)
        self.assertTrue(self.driver.can_trunk_bound_port)
        self.assertEqual(constants.AGENT_TYPE_HYPERV, self.driver.agent_type)

    def test_compatible_with_hyperv_ports_on_hyperv_hosts_only(self) -> None:
        def compatible(vif_type: str, agent_types: list[str]) -> bool:
            return bool(trunk_utils.is_driver_compatible(
                self.context, self.driver, vif_type, agent_types))

        self.assertTrue(compatible("hyperv", [constants.AGENT_TYPE_HYPERV]))
        self.assertFalse(compatible("hyperv", [n_const.AGENT_TYPE_OVS]))
        self.assertFalse(compatible("ovs", [constants.AGENT_TYPE_HYPERV]))
