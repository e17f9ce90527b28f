"""The agent configurations contract: mapping resolution and validation."""

from __future__ import annotations

from typing import Any

import pytest

from winstackers.neutron.configurations import (
    AgentConfigurations,
    InvalidAgentConfigurations,
    pattern_matches,
    vswitch_for_physnet,
)

MAPPINGS = {
    "physnet1": "vSwitch-exact",
    "physnet*": "vSwitch-physnets",
    "phys*": "vSwitch-phys",
    "*-lab": "vSwitch-lab",
    "*": "vSwitch-default",
}


@pytest.mark.parametrize(("physnet", "vswitch"), [
    ("physnet1", "vSwitch-exact"),        # exact name wins over every pattern
    ("physnet2", "vSwitch-physnets"),     # most literal characters wins
    ("physics", "vSwitch-phys"),
    ("physnet-lab", "vSwitch-physnets"),  # 7 literal characters beat "-lab"'s 4
    ("dc-lab", "vSwitch-lab"),
    ("datacentre", "vSwitch-default"),
    ("", "vSwitch-default"),
])
def test_resolution_order(physnet: str, vswitch: str) -> None:
    assert vswitch_for_physnet(physnet, MAPPINGS) == vswitch


def test_tie_between_equally_specific_patterns_goes_to_the_first_sorted() -> None:
    mappings = {"b*": "vSwitch-b", "*a": "vSwitch-a"}
    assert vswitch_for_physnet("ba", mappings) == "vSwitch-a"  # "*a" < "b*"


def test_no_match_without_catch_all() -> None:
    assert vswitch_for_physnet("datacentre", {"physnet1": "vSwitch-1"}) is None
    assert vswitch_for_physnet(None, MAPPINGS) is None


@pytest.mark.parametrize(("pattern", "physnet", "matches"), [
    ("phys*", "phys", True),
    ("*net*", "physnet1", True),
    ("a*c", "abbbc", True),
    ("a*c", "abbbcd", False),
    ("physnet.1", "physnetX1", False),  # only * is special
    ("physnet?", "physnet1", False),
    ("[pP]hysnet", "physnet", False),
    ("Physnet1", "physnet1", False),    # case-sensitive, as neutron's names
])
def test_only_star_is_a_wildcard(pattern: str, physnet: str, matches: bool) -> None:
    assert pattern_matches(pattern, physnet) is matches


def test_report_round_trip_and_defaults() -> None:
    configs = AgentConfigurations(
        vswitch_mappings={"physnet1": "vSwitch-1"}, local_vswitch="vSwitch-private",
        sriov_vswitches=frozenset({"vSwitch-1"}),
        supported_vnic_types=frozenset({"normal", "direct"}), devices=4)
    report = configs.to_report()
    assert report == {"vswitch_mappings": {"physnet1": "vSwitch-1"},
                      "local_vswitch": "vSwitch-private",
                      "sriov_vswitches": ["vSwitch-1"],
                      "supported_vnic_types": ["direct", "normal"],
                      "devices": 4}
    assert AgentConfigurations.from_report(report) == configs
    empty = AgentConfigurations.from_report({})
    assert empty.supported_vnic_types == {"normal"}
    assert (empty.local_vswitch, empty.sriov_vswitches, empty.devices) == (None, set(), 0)
    assert AgentConfigurations.from_report(None) == empty
    assert AgentConfigurations.from_report({"other_key": 1, "tunnel_types": []}) == empty


def test_segments_resolve_by_network_type() -> None:
    configs = AgentConfigurations.from_report(
        {"vswitch_mappings": {"*": "vSwitch-any"}, "local_vswitch": "vSwitch-private"})
    assert configs.vswitch_for_segment("vlan", "physnet9") == "vSwitch-any"
    assert configs.vswitch_for_segment("flat", "physnet9") == "vSwitch-any"
    assert configs.vswitch_for_segment("local", None) == "vSwitch-private"
    assert configs.vswitch_for_segment("vxlan", None) is None
    assert AgentConfigurations().vswitch_for_segment("local", None) is None


def test_vnic_refusals_say_why() -> None:
    configs = AgentConfigurations.from_report(
        {"sriov_vswitches": ["vSwitch-iov"], "supported_vnic_types": ["normal", "direct"]})
    assert configs.vnic_refusal("normal", "vSwitch-plain") is None
    assert configs.vnic_refusal("direct", "vSwitch-iov") is None
    assert configs.vnic_refusal("direct", "vSwitch-plain") == (
        "vnic_type 'direct' needs an SR-IOV vSwitch and 'vSwitch-plain' is not one "
        "(the agent's SR-IOV vSwitches: ['vSwitch-iov'])")
    assert "not 'macvtap'" in str(configs.vnic_refusal("macvtap", "vSwitch-iov"))


@pytest.mark.parametrize(("report", "key"), [
    ({"vswitch_mappings": ["physnet1:vSwitch"]}, "vswitch_mappings"),
    ({"vswitch_mappings": {"physnet1": ""}}, "vswitch_mappings"),
    ({"vswitch_mappings": {"": "vSwitch"}}, "vswitch_mappings"),
    ({"local_vswitch": 3}, "local_vswitch"),
    ({"sriov_vswitches": "vSwitch-iov"}, "sriov_vswitches"),
    ({"sriov_vswitches": [None]}, "sriov_vswitches"),
    ({"supported_vnic_types": ["normal", "baremetal"]}, "supported_vnic_types"),
    ({"supported_vnic_types": None}, "supported_vnic_types"),
    ({"devices": -1}, "devices"),
    ({"devices": True}, "devices"),
])
def test_invalid_reports_name_the_key(report: dict[str, Any], key: str) -> None:
    with pytest.raises(InvalidAgentConfigurations) as info:
        AgentConfigurations.from_report(report)
    assert info.value.key == key
    assert repr(key) in str(info.value)


def test_configurations_are_read_only() -> None:
    configs = AgentConfigurations.from_report({"vswitch_mappings": {"a": "b"}})
    with pytest.raises(TypeError):
        configs.vswitch_mappings["c"] = "d"  # type: ignore[index]
