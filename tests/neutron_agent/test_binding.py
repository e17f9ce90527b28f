"""binding.bind: a neutron port as a PortState (pure, no host)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.neutron_agent.fakes import SG, FakePlugin, egress_any, ingress
from winstackers.hyperv.hostinfo import EXTERNAL, PRIVATE, HostInfo, SwitchInfo
from winstackers.hyperv.portstate import ACCESS, TRUNK, UNTAGGED, Bandwidth, Sriov, Vlan
from winstackers.neutron.agent.binding import HostView, bind, security_inputs, sg_rule
from winstackers.neutron.agent.portinfo import PortInfo, SecurityInfo
from winstackers.neutron.configurations import AgentConfigurations

PORT = "33333333-3333-4333-8333-333333333333"


def switch(name: str, iov: bool = False, mode: int = 0, kind: str = EXTERNAL) -> SwitchInfo:
    return SwitchInfo(name=name, id=name, type=kind, uplink=None, iov_enabled=iov,
                      iov_capable=iov, bandwidth_mode=mode)


HOST = HostInfo(name="hv1", os_caption="", os_version="", os_build="", logical_processors=1,
                memory_total_mb=1, memory_free_mb=1, iov_supported=True, switches=(
                    switch("vSwitch-physnet1"), switch("vSwitch-sriov", iov=True),
                    switch("vSwitch-default", mode=2), switch("vSwitch-lab"),
                    switch("vSwitch-private", kind=PRIVATE)))


def view(local: str | None = "vSwitch-private") -> HostView:
    conf = AgentConfigurations(
        vswitch_mappings={"physnet1": "vSwitch-physnet1", "sriov": "vSwitch-sriov",
                          "lab-*": "vSwitch-lab", "*": "vSwitch-default"},
        local_vswitch=local, sriov_vswitches=frozenset({"vSwitch-sriov"}),
        supported_vnic_types=frozenset({"normal", "direct"}))
    return HostView(conf, HOST)


def port_and_security(plugin: FakePlugin) -> tuple[PortInfo, SecurityInfo]:
    details = plugin.get_devices_details_list([PORT])[0]
    security = SecurityInfo.from_rpc(plugin.security_group_info_for_devices([PORT]))
    return PortInfo.from_rpc(details, security.port(PORT)), security


def bound(qos: list[dict[str, Any]] | None = None, local: str | None = "vSwitch-private",
          **port: Any) -> Any:
    plugin = FakePlugin()
    plugin.rules[SG] = [ingress("tcp", 22, 22, "10.0.0.0/24"), egress_any()]
    plugin.add_port(PORT, **port)
    info, security = port_and_security(plugin)
    return bind(info, view(local), security, qos)


def test_vlan_network_is_access_mode_on_the_mapped_vswitch() -> None:
    binding = bound()
    assert binding.up and binding.problem is None
    assert binding.state.switch == "vSwitch-physnet1"
    assert binding.state.vlan == Vlan.access(100)


def test_flat_network_is_untagged() -> None:
    state = bound(network_type="flat", segmentation_id=None).state
    assert (state.switch, state.vlan.mode) == ("vSwitch-physnet1", UNTAGGED)


def test_local_network_uses_the_local_vswitch_untagged() -> None:
    state = bound(network_type="local", physnet=None, segmentation_id=None).state
    assert (state.switch, state.vlan) == ("vSwitch-private", Vlan())


def test_local_network_without_a_local_vswitch_is_refused() -> None:
    binding = bound(local=None, network_type="local", physnet=None, segmentation_id=None)
    assert binding.state is None and not binding.up
    assert "local_network_vswitch is not set" in binding.problem


@pytest.mark.parametrize(("physnet", "vswitch"), [
    ("physnet1", "vSwitch-physnet1"),    # exact
    ("lab-7", "vSwitch-lab"),            # the longer pattern wins
    ("anything", "vSwitch-default"),     # the catch-all wildcard
])
def test_physical_network_mappings_with_wildcards(physnet: str, vswitch: str) -> None:
    assert bound(physnet=physnet).state.switch == vswitch


def test_unmapped_physical_network_and_tunnel_types_are_refused() -> None:
    narrow = HostView(AgentConfigurations(vswitch_mappings={"physnet1": "vSwitch-physnet1"}),
                      HOST)
    plugin = FakePlugin()
    plugin.add_port(PORT, physnet="elsewhere")
    info, security = port_and_security(plugin)
    binding = bind(info, narrow, security)
    assert binding.state is None and "'elsewhere' maps to no vSwitch" in str(binding.problem)
    tunnel = bound(network_type="vxlan", physnet=None)
    assert tunnel.state is None and "'vxlan' is not wired" in tunnel.problem


def test_direct_port_on_an_sriov_vswitch_gets_offload() -> None:
    binding = bound(physnet="sriov", vnic_type="direct")
    assert binding.state.switch == "vSwitch-sriov"
    assert binding.state.sriov == Sriov()
    assert any("SR-IOV traffic bypasses" in note for note in binding.notes)


def test_direct_port_on_a_vswitch_without_sriov_is_refused_clearly() -> None:
    binding = bound(physnet="physnet1", vnic_type="direct")
    assert binding.state is None and not binding.up
    assert "vSwitch-physnet1" in binding.problem and "SR-IOV" in binding.problem


def test_normal_port_has_no_offload_and_filters_traffic() -> None:
    state = bound().state
    assert state.sriov is None
    assert state.acls and not state.allow_mac_spoofing
    assert state.dhcp_guard and state.router_guard


def test_port_security_disabled_means_no_filtering_at_all() -> None:
    state = bound(port_security_enabled=False).state
    assert state.acls == frozenset()
    assert state.allow_mac_spoofing and not state.dhcp_guard and not state.router_guard


def test_admin_down_port_is_disconnected_and_down() -> None:
    binding = bound(admin_state_up=False)
    assert binding.state is None and not binding.up and binding.problem is None


def test_trunk_parent_gets_trunk_mode_with_its_subports_vlans() -> None:
    state = bound(trunk_vlans=[201, 202]).state
    assert state.vlan.mode == TRUNK
    assert state.vlan.allowed == (201, 202) and state.vlan.native_id == 100


def test_trunk_parent_without_subports_stays_access_and_says_so() -> None:
    binding = bound(trunk_vlans=[])
    assert binding.state.vlan.mode == ACCESS
    assert any("without VLAN subports" in note for note in binding.notes)


def test_qos_egress_limit_becomes_port_bandwidth() -> None:
    rules = [{"type": "bandwidth_limit", "max_kbps": 10000, "max_burst_kbps": 800,
              "direction": "egress"}]
    state = bound(qos=rules).state
    assert state.bandwidth == Bandwidth(limit_bps=10_000_000, burst_size_bytes=100_000)


def test_qos_rules_hyperv_cannot_enforce_are_noted_not_applied() -> None:
    rules = [{"type": "bandwidth_limit", "max_kbps": 1000, "direction": "ingress"},
             {"type": "dscp_marking", "dscp_mark": 26},
             {"type": "minimum_bandwidth", "min_kbps": 100000, "direction": "egress"}]
    binding = bound(qos=rules)
    assert binding.state.bandwidth is None
    assert len([n for n in binding.notes if "not applied" in n]) == 3


def test_qos_minimum_bandwidth_on_an_absolute_mode_vswitch() -> None:
    rules = [{"type": "minimum_bandwidth", "min_kbps": 100000, "direction": "egress"}]
    state = bound(qos=rules, physnet="other").state
    assert state.switch == "vSwitch-default"
    assert state.bandwidth == Bandwidth(reservation_bps=100_000_000)


def test_rule_prefix_comes_from_the_direction_specific_rpc_key() -> None:
    rule = sg_rule({"direction": "ingress", "ethertype": "IPv4", "protocol": 6,
                    "source_ip_prefix": "10.1.0.0/16", "stateful": True})
    assert (rule.remote_ip_prefix, rule.protocol) == ("10.1.0.0/16", "6")
    out = sg_rule({"direction": "egress", "ethertype": "IPv6", "dest_ip_prefix": "::/0"})
    assert out.remote_ip_prefix == "::/0" and out.protocol is None


def test_security_inputs_expand_remote_groups_and_address_groups() -> None:
    plugin = FakePlugin()
    plugin.rules[SG] = [ingress("tcp", 80, 80, remote_group_id="g2"),
                        ingress("udp", 53, 53, remote_address_group_id="ag1")]
    plugin.stateful[SG] = False
    plugin.members = {"g2": ["10.0.0.7", "fd00::7"], "ag1": ["192.0.2.0/24"]}
    plugin.add_port(PORT, allowed_address_pairs=[{"ip_address": "10.0.0.99",
                                                  "mac_address": None}])
    info, security = port_and_security(plugin)
    port, rules, stateful, members, addresses = security_inputs(info, security)
    assert port.allowed_address_pairs == (("10.0.0.99", None),)
    assert len(rules[SG]) == 2 and stateful == {SG: False}
    assert members == {"g2": frozenset({"10.0.0.7", "fd00::7"})}
    assert addresses == {"ag1": frozenset({"192.0.2.0/24"})}
    assert security.groups_of(PORT) == {SG, "g2", "ag1"}
