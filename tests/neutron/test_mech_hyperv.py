"""The ``hyperv`` mechanism driver under neutron's own mech-driver harness.

The harness (``neutron.tests.unit.plugins.ml2._test_mech_agent``, the one
neutron's macvtap and SR-IOV drivers are tested with) hands the driver a
port context and the agents table rows of the port's host; the agent is
that data, as neutron stores it from a heartbeat.
"""

from __future__ import annotations

from typing import Any

from neutron.tests.unit.plugins.ml2 import _test_mech_agent as harness
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api

from winstackers.neutron import constants
from winstackers.neutron.ml2 import mech_hyperv

PHYSNET = "fake_physical_network"  # the harness's flat and vlan segments use it

GOOD_CONFIGS: dict[str, Any] = {
    "vswitch_mappings": {PHYSNET: "vSwitch-fake"},
    "local_vswitch": "vSwitch-private",
    "devices": 3,
}
WILDCARD_CONFIGS: dict[str, Any] = {
    "vswitch_mappings": {"other": "vSwitch-other", "fake_*": "vSwitch-fake-any",
                         "*": "vSwitch-default"},
    "local_vswitch": "vSwitch-private",
}
BAD_CONFIGS: dict[str, Any] = {"vswitch_mappings": {"wrong_physical_network": "vSwitch-wrong"}}
SRIOV_CONFIGS: dict[str, Any] = {
    "vswitch_mappings": {PHYSNET: "vSwitch-iov", "plain": "vSwitch-plain"},
    "local_vswitch": "vSwitch-private",
    "sriov_vswitches": ["vSwitch-iov"],
    "supported_vnic_types": ["normal", "direct"],
}


def agent(configurations: dict[str, Any], alive: bool = True, host: str = "hv1") -> dict[str, Any]:
    """An agents-table row of a Hyper-V agent, as the harness passes it."""
    return {"alive": alive, "configurations": configurations, "host": host,
            "agent_type": constants.AGENT_TYPE_HYPERV}


def expected_details(vswitch: str, port_filter: bool = True) -> dict[str, Any]:
    return {portbindings.CAP_PORT_FILTER: port_filter,
            portbindings.VIF_DETAILS_CONNECTIVITY: portbindings.CONNECTIVITY_L2,
            constants.VIF_DETAILS_VSWITCH: vswitch}


class HyperVMechanismBase(harness.AgentMechanismBaseTestCase):
    VIF_TYPE = constants.VIF_TYPE_HYPERV
    AGENT_TYPE = constants.AGENT_TYPE_HYPERV
    VIF_DETAILS = expected_details("vSwitch-fake")

    AGENT = agent(GOOD_CONFIGS)
    AGENTS = [AGENT]
    AGENTS_DEAD = [agent(GOOD_CONFIGS, alive=False, host="dead_host")]
    # A dead agent that could serve the port and a live one that cannot.
    AGENTS_BAD = [agent(GOOD_CONFIGS, alive=False, host="bad_host_1"),
                  agent(BAD_CONFIGS, host="bad_host_2")]

    def setUp(self) -> None:
        super().setUp()
        self.driver = mech_hyperv.HyperVMechanismDriver()
        self.driver.initialize()

    def bind(self, agents: list[dict[str, Any]], segments: list[dict[str, Any]],
             vnic_type: str = portbindings.VNIC_NORMAL) -> harness.FakePortContext:
        context = harness.FakePortContext(self.AGENT_TYPE, agents, segments,
                                          vnic_type=vnic_type)
        self.driver.bind_port(context)
        return context


class TestHyperVGeneric(HyperVMechanismBase, harness.AgentMechanismGenericTestCase):
    def test_driver_describes_itself(self) -> None:
        self.assertEqual(constants.AGENT_TYPE_HYPERV, self.driver.agent_type)
        self.assertEqual(constants.VIF_TYPE_HYPERV, self.driver.vif_type)
        self.assertEqual({"flat", "vlan", "local"},
                         set(self.driver.get_allowed_network_types()))
        self.assertEqual([portbindings.VNIC_NORMAL, portbindings.VNIC_DIRECT],
                         self.driver.supported_vnic_types)

    def test_vlan_transparency_and_qinq_not_offered(self) -> None:
        offered = self.driver.supported_extensions({"vlan-transparent", "qinq", "trunk"})
        self.assertEqual({"trunk"}, offered)

    def test_unsupported_vnic_type_not_bound(self) -> None:
        context = self.bind(self.AGENTS, harness.AgentMechanismFlatTestCase.FLAT_SEGMENTS,
                            vnic_type=portbindings.VNIC_MACVTAP)
        self._check_unbound(context)

    def test_agent_of_another_type_not_bound(self) -> None:
        other = dict(self.AGENT, agent_type="Open vSwitch agent")
        segment = harness.AgentMechanismFlatTestCase.FLAT_SEGMENTS[1]
        self.assertFalse(self.driver.check_segment_for_agent(segment, other))

    def test_invalid_configurations_bind_nothing(self) -> None:
        broken = agent({"vswitch_mappings": ["physnet1", "vSwitch"]})
        with self.assertLogs(mech_hyperv.LOG.logger, "ERROR") as logs:
            context = self.bind([broken], harness.AgentMechanismFlatTestCase.FLAT_SEGMENTS)
        self._check_unbound(context)
        self.assertIn("hv1", logs.output[0])
        self.assertIn("vswitch_mappings", logs.output[0])


class TestHyperVLocal(HyperVMechanismBase, harness.AgentMechanismLocalTestCase):
    VIF_DETAILS = expected_details("vSwitch-private")

    def test_local_without_local_vswitch_not_bound(self) -> None:
        no_local = agent({"vswitch_mappings": {PHYSNET: "vSwitch-fake"}})
        context = self.bind([no_local], self.LOCAL_SEGMENTS)
        self._check_unbound(context)


class TestHyperVFlat(HyperVMechanismBase, harness.AgentMechanismFlatTestCase):
    def test_flat_wildcard_mapping(self) -> None:
        context = self.bind([agent(WILDCARD_CONFIGS)], self.FLAT_SEGMENTS)
        self._check_bound_to(context, self.FLAT_SEGMENTS[1], "vSwitch-fake-any")

    def test_flat_unmapped_physnet_not_bound(self) -> None:
        context = self.bind([agent(BAD_CONFIGS)], self.FLAT_SEGMENTS)
        self._check_unbound(context)

    def test_flat_dead_agent_not_bound(self) -> None:
        context = self.bind(self.AGENTS_DEAD, self.FLAT_SEGMENTS)
        self._check_unbound(context)

    def _check_bound_to(self, context: harness.FakePortContext, segment: dict[str, Any],
                        vswitch: str, port_filter: bool = True) -> None:
        self.assertEqual(segment[api.ID], context._bound_segment_id)
        self.assertEqual(constants.VIF_TYPE_HYPERV, context._bound_vif_type)
        self.assertEqual(expected_details(vswitch, port_filter), context._bound_vif_details)


class TestHyperVVlan(HyperVMechanismBase, harness.AgentMechanismVlanTestCase):
    def test_vlan_exact_name_wins_over_patterns(self) -> None:
        configs = {"vswitch_mappings": {"*": "vSwitch-default", "fake_*": "vSwitch-fake-any",
                                        PHYSNET: "vSwitch-exact"}}
        context = self.bind([agent(configs)], self.VLAN_SEGMENTS)
        self.assertEqual("vSwitch-exact", context._bound_vif_details["vswitch"])

    def test_vlan_catch_all_pattern(self) -> None:
        configs = {"vswitch_mappings": {"other": "vSwitch-other", "*": "vSwitch-default"}}
        context = self.bind([agent(configs)], self.VLAN_SEGMENTS)
        self.assertEqual(self.VLAN_SEGMENTS[1][api.ID], context._bound_segment_id)
        self.assertEqual("vSwitch-default", context._bound_vif_details["vswitch"])

    def test_vlan_unmapped_physnet_not_bound(self) -> None:
        configs = {"vswitch_mappings": {"fake_physical": "vSwitch-x", "fake?physical*": "y"}}
        context = self.bind([agent(configs)], self.VLAN_SEGMENTS)
        self._check_unbound(context)

    def test_vlan_dead_agent_not_bound(self) -> None:
        context = self.bind(self.AGENTS_DEAD, self.VLAN_SEGMENTS)
        self._check_unbound(context)

    def test_second_live_agent_on_host_binds(self) -> None:
        context = self.bind([agent(BAD_CONFIGS), agent(GOOD_CONFIGS)], self.VLAN_SEGMENTS)
        self._check_bound(context, self.VLAN_SEGMENTS[1])


class TestHyperVDirect(HyperVMechanismBase):
    """vnic_type direct (SR-IOV): only on a vSwitch the agent lists as SR-IOV."""

    VNIC_TYPE = portbindings.VNIC_DIRECT
    VLAN = harness.AgentMechanismVlanTestCase.VLAN_SEGMENTS
    PLAIN_SEGMENTS = [{api.ID: "plain_segment_id", api.NETWORK_TYPE: "vlan",
                       api.PHYSICAL_NETWORK: "plain", api.SEGMENTATION_ID: 7,
                       api.NETWORK_ID: "fake_network_id"}]

    def test_direct_on_sriov_vswitch_bound_unfiltered(self) -> None:
        context = self.bind([agent(SRIOV_CONFIGS)], self.VLAN, vnic_type=self.VNIC_TYPE)
        self.assertEqual(self.VLAN[1][api.ID], context._bound_segment_id)
        self.assertEqual(constants.VIF_TYPE_HYPERV, context._bound_vif_type)
        self.assertEqual(expected_details("vSwitch-iov", port_filter=False),
                         context._bound_vif_details)

    def test_direct_on_non_sriov_vswitch_refused_with_reason(self) -> None:
        with self.assertLogs(mech_hyperv.LOG.logger, "WARNING") as logs:
            context = self.bind([agent(SRIOV_CONFIGS)], self.PLAIN_SEGMENTS,
                                vnic_type=self.VNIC_TYPE)
        self._check_unbound(context)
        message = logs.output[0]
        self.assertIn(harness.PORT_ID, message)
        self.assertIn("hv1", message)
        self.assertIn("'vSwitch-plain' is not one", message)

    def test_direct_refused_when_agent_does_not_support_it(self) -> None:
        configs = dict(SRIOV_CONFIGS, supported_vnic_types=["normal"])
        with self.assertLogs(mech_hyperv.LOG.logger, "WARNING") as logs:
            context = self.bind([agent(configs)], self.VLAN, vnic_type=self.VNIC_TYPE)
        self._check_unbound(context)
        self.assertIn("not 'direct'", logs.output[0])

    def test_direct_refused_by_default(self) -> None:
        # An agent that reports no SR-IOV vSwitch gets no direct port.
        context = self.bind(self.AGENTS, self.VLAN, vnic_type=self.VNIC_TYPE)
        self._check_unbound(context)

    def test_normal_port_on_sriov_vswitch_is_filtered(self) -> None:
        context = self.bind([agent(SRIOV_CONFIGS)], self.VLAN)
        self.assertEqual(expected_details("vSwitch-iov"), context._bound_vif_details)
