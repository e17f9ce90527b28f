"""The security-group property: neutron's semantics == the translated ACLs.

A :class:`Scenario` is a port, its security groups (random rules, stateful
or not, remote groups with random members, address groups, allowed address
pairs) and a sequence of packets, some of them replies to, repeats of or
ICMP errors about earlier ones.  :func:`check` runs every packet through the
reference (:mod:`.reference`) and through a Hyper-V port carrying
``port_security()``'s output (:mod:`.packets`), and returns the problems:

- the Hyper-V port allows what the reference denies: always a problem
  (the translation must never be wider);
- the Hyper-V port denies what the reference allows: a problem unless one
  of the narrower deviations documented in ``secgroups`` (N1-N9) explains
  it (:func:`documented_narrowing`).

Shared by ``test_property.py`` and ``benchmarks/sg_property_soak.py``.
"""

from __future__ import annotations

import ipaddress
import random
from collections import Counter
from dataclasses import dataclass, field, replace

from hypothesis import strategies as st

from tests.neutron_sg.packets import (
    ECHO,
    EGRESS,
    ICMP,
    ICMPV6,
    INGRESS,
    PORTED,
    TCP,
    UDP,
    FlowKey,
    HyperVPort,
    Pkt,
)
from tests.neutron_sg.reference import NeutronPort, RefRule, Verdict
from winstackers.hyperv.portstate import PortState
from winstackers.neutron.agent.secgroups import SgPort, SgRule, port_security

PORT_MAC, OTHER_MAC = "fa:16:3e:00:00:01", "fa:16:3e:00:00:99"
LLA = "fe80::f816:3eff:fe00:1"
OTHER_LLA = "fe80::f816:3eff:fe00:99"
FIXED = {4: ["10.0.0.5", "10.0.0.6"], 6: ["2001:db8::5", "2001:db8:0:1::5"]}
PAIRS = ["10.0.0.7", "10.0.1.0/28", "10.0.0.5", "2001:db8::7", "2001:db8:0:2::/64"]
LOCALS = {4: ["10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.1.5", "10.0.0.66", "0.0.0.0",
              "255.255.255.255", "224.0.0.251"],
          6: ["2001:db8::5", "2001:db8:0:1::5", "2001:db8::7", "2001:db8:0:2::9", LLA,
              OTHER_LLA, "2001:db8::66", "::", "ff02::1", "ff02::1:ff00:5"]}
REMOTES = {4: ["10.0.0.6", "10.0.0.9", "10.0.1.3", "192.0.2.9", "198.51.100.1",
               "255.255.255.255", "0.0.0.0"],
           6: ["2001:db8::6", "2001:db8::9", "2001:db8:0:1::9", "2001:db8:ff::1", "fe80::1",
               "fe80::99", "ff02::1", "ff02::2", "ff02::1:ff00:5", "ff05::1:3", "::"]}
PREFIXES = ["10.0.0.0/24", "10.0.0.9/32", "192.0.2.0/24", "0.0.0.0/0", "2001:db8::/64",
            "2001:db8::9/128", "fe80::/10", "::/0", "2001:db8:ff::/48"]
MEMBERS = ["10.0.0.5", "10.0.0.6", "10.0.0.9", "192.0.2.9", "10.0.1.0/28", "2001:db8::5",
           "2001:db8::9", "2001:db8:ff::1", "fe80::1"]
GROUPS = ["sg0", "sg1", "sg2"]
PROTOCOLS = [None, "any", "tcp", "udp", "icmp", "ipv6-icmp", "icmpv6", "sctp", "gre", "6",
             "17", "1", "58", "47", "132", "0", "vrrp", "112", "udplite"]
PORT_POOL = [22, 53, 67, 68, 80, 546, 547, 1000, 8080, 40000]
ICMP_TYPES = {4: [0, 3, 5, 8, 11], 6: [1, 2, 128, 129, 130, 131, 133, 134, 135, 136, 137, 143]}
PACKET_PROTOCOLS = {4: [TCP, UDP, ICMP, 47, 132, 112, 0], 6: [TCP, UDP, ICMPV6, 47, 132, 0]}
_NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58, "icmpv6": 58, "sctp": 132,
            "udplite": 136}


@dataclass
class Scenario:
    """One port, its groups, and the packets sent through it."""

    port: SgPort
    rules: dict[str, list[SgRule]]
    stateful: dict[str, bool]
    members: dict[str, list[str]]
    address_groups: dict[str, list[str]]
    packets: list[Pkt] = field(default_factory=list)


def scenarios() -> st.SearchStrategy[Scenario]:
    """Scenarios built from a seed and a few sizes that hypothesis draws.

    Drawing every choice through hypothesis costs about 20 ms a scenario;
    a seeded generator keeps 2,000 scenarios within the test's time budget.
    Hypothesis still shrinks the sizes, and a failure prints the scenario.
    """
    return st.builds(_build, st.integers(0, 2**64 - 1),
                     st.lists(st.integers(0, 4), min_size=3, max_size=3),
                     st.integers(1, 10))


def _build(seed: int, rule_counts: list[int], packet_count: int) -> Scenario:
    rng = random.Random(seed)
    port = _port(rng)
    scenario = Scenario(
        port, {g: [_rule(rng) for _ in range(n)] for g, n in zip(GROUPS, rule_counts, strict=True)},
        {g: rng.random() < 0.6 for g in GROUPS},
        {g: rng.sample(MEMBERS, rng.randint(0, 4)) for g in GROUPS},
        {a: rng.sample(PREFIXES, rng.randint(0, 3)) for a in ("ag0", "ag1")})
    for _ in range(packet_count):
        scenario.packets.append(_next_packet(rng, scenario))
    return scenario


def _port(rng: random.Random) -> SgPort:
    fixed = rng.sample(FIXED[4] + FIXED[6], rng.randint(0, 3))
    pairs = [(rng.choice(PAIRS), rng.choice([None, PORT_MAC, OTHER_MAC]))
             for _ in range(rng.choice([0, 0, 1, 2]))]
    groups = rng.sample(GROUPS, rng.randint(1, 3))
    return SgPort(tuple(fixed), PORT_MAC, tuple(pairs), tuple(groups))


def _rule(rng: random.Random) -> SgRule:
    protocol = rng.choice(PROTOCOLS)
    low, high = _port_range(rng, protocol)
    remote = rng.choice(["none", "none", "prefix", "group", "address-group"])
    return SgRule(rng.choice(["ingress", "egress"]), rng.choice(["IPv4", "IPv6"]), protocol,
                  low, high,
                  remote_ip_prefix=rng.choice(PREFIXES) if remote == "prefix" else None,
                  remote_group_id=rng.choice(GROUPS + ["sg-unknown"]) if remote == "group"
                  else None,
                  remote_address_group_id=rng.choice(["ag0", "ag1"])
                  if remote == "address-group" else None)


def _number(protocol: str | None) -> int | None:
    text = str(protocol).lower()
    if protocol is None or text == "any":
        return None
    return _NUMBERS[text] if text in _NUMBERS else int(text) if text.isdigit() else -1


def _port_range(rng: random.Random, protocol: str | None) -> tuple[int | None, int | None]:
    """A range neutron accepts for *protocol* (rarely one it refuses)."""
    number = _number(protocol)
    if rng.random() < 0.4:
        return None, None
    if number in (1, 58):
        return rng.choice(ICMP_TYPES[4] + ICMP_TYPES[6]), rng.choice([None, 0, 1])
    if number in PORTED or rng.random() < 0.1:
        low, high = sorted(rng.sample(PORT_POOL, 2))
        return (low, low) if rng.random() < 0.3 else (low, high)
    return None, None


def _next_packet(rng: random.Random, scenario: Scenario) -> Pkt:
    """A new packet (often one a rule of the port matches), or a reply to,
    a repeat of or an ICMP error about an earlier one."""
    sent = scenario.packets
    kind = rng.choices(["aimed", "random", "dhcp", "reply", "again", "error"],
                       [40, 15, 5, 25, 10, 5])[0]
    if kind == "dhcp":
        return _dhcp_packet(rng, scenario.port)
    if kind in ("reply", "again", "error") and sent:
        earlier = sent[-1] if rng.random() < 0.5 else rng.choice(sent)
        return {"reply": earlier.reply, "again": lambda: earlier, "error": earlier.error}[kind]()
    rules = [r for g in scenario.port.security_groups for r in scenario.rules[g]]
    if kind == "aimed" and rules:
        return _aimed(rng, rng.choice(rules), scenario)
    return _random_packet(rng, rng.choice([4, 6]), scenario.port)


def _dhcp_packet(rng: random.Random, port: SgPort) -> Pkt:
    """A DHCP or DHCPv6 message, either way, from a client or a server."""
    family = rng.choice([4, 6])
    client, server = (68, 67) if family == 4 else (546, 547)
    usual = _own(port, family) + (["0.0.0.0"] if family == 4 else [])
    local = rng.choice(usual if usual and rng.random() < 0.7 else LOCALS[family])
    remote = rng.choice(["255.255.255.255", "10.0.0.2"] if family == 4
                        else ["ff02::1:2", "fe80::2", "2001:db8::2"])
    ports = rng.choice([(client, server), (server, client)])
    return Pkt(rng.choice([INGRESS, EGRESS]), UDP, local, remote, *ports,
               mac=rng.choice([PORT_MAC] * 8 + [OTHER_MAC]))


def _own(port: SgPort, family: int) -> list[str]:
    """Addresses of the port (pairs included, whatever their MAC)."""
    own = [ip for ip in port.fixed_ips if _family(ip) == family]
    own += [_host_in(random.Random(0), p) for p, _ in port.allowed_address_pairs
            if _family(p) == family]
    return own + ([LLA] if family == 6 else [])


def _random_packet(rng: random.Random, family: int, port: SgPort,
                   direction: str | None = None, protocol: int | None = None) -> Pkt:
    protocol = rng.choice(PACKET_PROTOCOLS[family]) if protocol is None else protocol
    own = _own(port, family)
    local = rng.choice(own if own and rng.random() < 0.7 else LOCALS[family])
    ported, icmp = protocol in PORTED, protocol in ECHO
    return Pkt(direction or rng.choice([INGRESS, EGRESS]), protocol, local,
               rng.choice(REMOTES[family]),
               rng.choice(PORT_POOL) if ported else None,
               rng.choice(PORT_POOL) if ported else None,
               rng.choice(ICMP_TYPES[family]) if icmp else None,
               rng.choice([0, 1]) if icmp else None,
               rng.choice([PORT_MAC] * 8 + [OTHER_MAC]))


def _aimed(rng: random.Random, rule: SgRule, scenario: Scenario) -> Pkt:
    """A packet *rule* matches, as far as the generator can tell."""
    family = 4 if rule.ethertype == "IPv4" else 6
    number = _number(rule.protocol)
    if number is None or number < 0 or (family == 4 and number == 58):
        number = rng.choice(PACKET_PROTOCOLS[family])
    number = 58 if family == 6 and number == 1 else number
    direction = INGRESS if rule.direction == "ingress" else EGRESS
    pkt = _random_packet(rng, family, scenario.port, direction, number)
    remote = _aimed_remote(rng, rule, scenario, family)
    return _aimed_ports(rng, rule, replace(pkt, remote_ip=remote or pkt.remote_ip))


def _aimed_ports(rng: random.Random, rule: SgRule, pkt: Pkt) -> Pkt:
    """*pkt* with the ports (or ICMP type and code) *rule* matches."""
    low, high = rule.port_range_min, rule.port_range_max
    if low is None and pkt.protocol == UDP and rng.random() < 0.3:
        local, remote = rng.choice([(67, 68), (68, 67), (546, 547), (547, 546)])
        return replace(pkt, local_port=local, remote_port=remote)
    if low is None or (pkt.protocol not in PORTED and pkt.protocol not in ECHO):
        return pkt
    if pkt.protocol in ECHO:
        return replace(pkt, icmp_type=low, icmp_code=pkt.icmp_code if high is None else high)
    low, high = sorted((low, low if high is None else high))
    port = rng.choice([low, high, rng.randint(low, high)])
    if pkt.direction == INGRESS:
        return replace(pkt, local_port=port)
    return replace(pkt, remote_port=port)


def _aimed_remote(rng: random.Random, rule: SgRule, scenario: Scenario,
                  family: int) -> str | None:
    candidates: list[str] = []
    if rule.remote_ip_prefix:
        candidates = [rule.remote_ip_prefix]
    elif rule.remote_group_id:
        candidates = list(scenario.members.get(rule.remote_group_id, []))
    elif rule.remote_address_group_id:
        candidates = list(scenario.address_groups.get(rule.remote_address_group_id, []))
    candidates = [c for c in candidates if _family(c) == family]
    return _host_in(rng, rng.choice(candidates)) if candidates else None


def _family(address: str) -> int:
    return ipaddress.ip_network(address, strict=False).version


def _host_in(rng: random.Random, prefix: str) -> str:
    net = ipaddress.ip_network(prefix, strict=False)
    return str(net.network_address + rng.randrange(min(net.num_addresses, 2**16)))


def _inexpressible(rule: RefRule, pkt: Pkt) -> str | None:
    """The documented reason Hyper-V cannot carry *rule*, if any."""
    ranged = rule.low is not None or rule.high is not None
    if rule.protocol in ECHO and ranged:
        return "N1 ICMP type/code"
    if rule.protocol in PORTED and rule.protocol not in (TCP, UDP) and ranged:
        return "N2 SCTP/DCCP/UDP-Lite ports"
    if rule.protocol == 0:
        return "N5 protocol 0"
    return None


def documented_narrowing(pkt: Pkt, verdict: Verdict, ref: NeutronPort,
                         narrowed: set[FlowKey]) -> str | None:
    """Which documented narrower deviation explains a deny of an allowed
    packet (None: none does, which is a bug)."""
    shape = (pkt.direction, pkt.protocol, pkt.family, pkt.local_port, pkt.remote_port)
    if pkt.mac.lower() != PORT_MAC:
        return "N6 allowed address pair with another MAC"
    if shape in ((INGRESS, UDP, 4, 67, 68), (INGRESS, UDP, 6, 547, 546)):
        return "N7 DHCP client-to-server towards the VM"
    if pkt.direction == EGRESS and pkt.protocol == ICMPV6 and pkt.icmp_type == 137:
        return "N8 ICMPv6 redirect from the VM (router guard)"
    if verdict.reason == "flow" and pkt.protocol not in (TCP, UDP):
        return "N3 reply of a flow other than TCP/UDP"
    if verdict.reason == "flow" and pkt.key() in narrowed:
        return "N3 flow whose first packet was narrowed"
    if verdict.reason == "related":
        return "N4 ICMP error related to a flow"
    if verdict.reason == "builtin-ndp" and not ref.icmpv6_in_scope(pkt):
        return "N9 neighbour discovery outside the link scope"
    reasons = {_inexpressible(rule, pkt) for rule in verdict.rules}
    if verdict.reason == "rule" and None not in reasons:
        return sorted(r for r in reasons if r)[0]
    return None


@dataclass
class Outcome:
    """What :func:`check` saw: problems, and counts by reason."""

    problems: list[str] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    narrowings: Counter[str] = field(default_factory=Counter)
    packets: int = 0


def check(scenario: Scenario, outcome: Outcome | None = None) -> Outcome:
    """Run *scenario*; add what happened to *outcome* (a new one if None)."""
    seen = outcome if outcome is not None else Outcome()
    security = port_security(scenario.port, scenario.rules, scenario.stateful,
                             scenario.members, scenario.address_groups)
    PortState("vSwitch", acls=security.acls)  # distinct weights, valid rules
    hyperv = HyperVPort(security, scenario.port.mac)
    ref = NeutronPort(scenario.port, scenario.rules, scenario.stateful, scenario.members,
                      scenario.address_groups)
    narrowed: set[FlowKey] = set()
    for pkt in scenario.packets:
        _compare(pkt, ref.verdict(pkt), hyperv.allowed(pkt), ref, narrowed, seen)
    return seen


def _compare(pkt: Pkt, expected: Verdict, allowed: bool, ref: NeutronPort,
             narrowed: set[FlowKey], seen: Outcome) -> None:
    seen.packets += 1
    seen.reasons[f"{expected.reason}:{'allow' if expected.allowed else 'deny'}"] += 1
    if allowed == expected.allowed:
        return
    if allowed:
        seen.problems.append(f"WIDER than neutron: {pkt} (reference: {expected.reason})")
        return
    why = documented_narrowing(pkt, expected, ref, narrowed)
    if why is None:
        seen.problems.append(f"narrower, not documented: {pkt} (reference: {expected})")
        return
    seen.narrowings[why] += 1
    if expected.committed:
        narrowed.add(pkt.key())


def describe(scenario: Scenario) -> str:
    """The scenario, readable enough to turn into an example test."""
    return (f"port={scenario.port}\nrules={scenario.rules}\nstateful={scenario.stateful}\n"
            f"members={scenario.members}\naddress_groups={scenario.address_groups}\n"
            f"packets={scenario.packets}")

