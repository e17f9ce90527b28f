"""The property: neutron's semantics agree with the translated ACLs.

2,000 derandomized scenarios (a port, up to three security groups of random
rules, random members and address groups, and up to ten packets: new ones,
replies, repeats, ICMP errors, DHCP, spoofed sources, other MACs).  For
every packet the reference (:mod:`tests.neutron_sg.reference`) and the
Hyper-V port carrying the translation must agree, except where a documented
narrower deviation explains a deny; the translation is never wider.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tests.neutron_sg.property import Outcome, Scenario, check, describe, scenarios

CASES = 2000


def test_translation_agrees_with_neutron_and_is_never_wider() -> None:
    seen = Outcome()
    cases = 0

    @settings(max_examples=CASES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(scenarios())
    def one_scenario(scenario: Scenario) -> None:
        nonlocal cases
        cases += 1
        before = len(seen.problems)
        problems = check(scenario, seen).problems[before:]
        assert not problems, "\n".join(problems) + "\n" + describe(scenario)

    one_scenario()
    assert cases >= CASES
    # The scenarios reach every part of the semantics, not just default deny.
    for reason in ("rule:allow", "flow:allow", "builtin-dhcp:allow", "builtin-ndp:allow",
                   "w1-icmpv6:allow", "spoof:deny", "dhcp-server:deny", "no-rule:deny",
                   "related:allow", "router-advertisement:deny"):
        assert seen.reasons[reason] > 0, reason
    assert len(seen.narrowings) >= 8, seen.narrowings
