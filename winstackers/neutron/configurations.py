"""The agent configurations contract: what a Hyper-V agent reports, how it is read.

Every L2 agent sends neutron a heartbeat (``report_state``) whose
``configurations`` object neutron stores in its agents table and hands to
mechanism drivers when they bind a port.  The Hyper-V agent reports its
heartbeat with::

    agent_type     "HyperV agent"            (constants.AGENT_TYPE_HYPERV)
    binary         "neutron-hyperv-agent"
    topic          "N/A"                     (neutron_lib.constants.L2_AGENT_TOPIC)
    host           the name nova-compute of that Hyper-V host uses as its
                   ``host`` (it becomes the ports' ``binding:host_id``)

and this ``configurations`` object (JSON; example)::

    {
      "vswitch_mappings": {"physnet1": "vSwitch-physnet1",
                           "lab-*": "vSwitch-lab",
                           "*": "vSwitch-default"},
      "local_vswitch": "vSwitch-private",
      "sriov_vswitches": ["vSwitch-physnet1"],
      "supported_vnic_types": ["normal", "direct"],
      "devices": 12
    }

Keys (all optional; unknown keys are ignored, so an agent may report more):

``vswitch_mappings`` (object, string -> string; default ``{}``)
    Physical network -> name of the vSwitch on the host that reaches it,
    spelled as the host spells it (the switch's ElementName).  A key is a
    physical network name, or a pattern in which ``*`` stands for any run of
    characters (also none); every other character is literal and matching is
    case-sensitive, as neutron's physical network names are.  For a physical
    network, an exact key wins; else the matching pattern with the most
    literal (non-``*``) characters; on a tie, the pattern that sorts first.
    A physical network that matches no key is not reachable from the host:
    ``flat`` and ``vlan`` ports on it are not bound there.
    :func:`vswitch_for_physnet` is that rule; the agent must use it too.

``local_vswitch`` (string or null; default null)
    The vSwitch (typically a private one) for ``local`` networks.  Without
    it the host does not bind ports of ``local`` networks.

``sriov_vswitches`` (array of strings; default ``[]``)
    The vSwitches created with SR-IOV enabled.  A ``vnic_type=direct`` port
    is bound only when the vSwitch its segment maps to is listed here: a
    switch's IOV mode is chosen when the switch is created and cannot be
    turned on later (../shared/notes/hyperv-wmi-facts.md, section 3).

``supported_vnic_types`` (array of strings; default ``["normal"]``)
    The ``binding:vnic_type`` values the agent wires: ``normal`` and/or
    ``direct``.  A port of another vnic_type is not bound on that host.

``devices`` (integer >= 0; default 0)
    How many ports the agent manages.  Informational (shown by
    ``openstack network agent show``), like the reference agents' count.

A report that breaks these types (say ``vswitch_mappings`` a list) is not
guessed at: the mechanism driver logs an error naming the host and the key
and binds nothing on that agent until a valid report arrives.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from neutron_lib import constants as n_const
from neutron_lib.api.definitions import portbindings

VSWITCH_MAPPINGS = "vswitch_mappings"
LOCAL_VSWITCH = "local_vswitch"
SRIOV_VSWITCHES = "sriov_vswitches"
SUPPORTED_VNIC_TYPES = "supported_vnic_types"
DEVICES = "devices"

#: vnic_types a Hyper-V agent can wire: a synthetic port, or SR-IOV.
KNOWN_VNIC_TYPES = frozenset({portbindings.VNIC_NORMAL, portbindings.VNIC_DIRECT})
#: Network types whose segments need a physical network mapping.
PHYSNET_TYPES = frozenset({n_const.TYPE_FLAT, n_const.TYPE_VLAN})

WILDCARD = "*"


class InvalidAgentConfigurations(ValueError):
    """A configurations object breaks the contract; ``key`` names the culprit."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(f"agent configurations: {key!r} {detail}")
        self.key = key
        self.detail = detail


@functools.lru_cache(maxsize=512)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split(WILDCARD)))


def pattern_matches(pattern: str, physnet: str) -> bool:
    """Whether ``physnet`` matches ``pattern`` (``*`` = any run of characters)."""
    return _pattern(pattern).fullmatch(physnet) is not None


def _specificity(pattern: str) -> tuple[int, str]:
    # Sort key: more literal characters first, then the pattern's own order.
    return (-len(pattern.replace(WILDCARD, "")), pattern)


def vswitch_for_physnet(physnet: str | None, mappings: Mapping[str, str]) -> str | None:
    """The vSwitch that reaches ``physnet``, or None when no key matches it.

    An exact key wins, then the most specific matching pattern (see the
    module docstring).
    """
    if physnet is None:
        return None
    if physnet in mappings:
        return mappings[physnet]
    patterns = [key for key in mappings if WILDCARD in key and pattern_matches(key, physnet)]
    if not patterns:
        return None
    return mappings[min(patterns, key=_specificity)]


def _names(key: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list | tuple | set | frozenset):
        raise InvalidAgentConfigurations(key, f"must be a list of names, not {value!r}")
    for name in value:
        if not isinstance(name, str) or not name:
            raise InvalidAgentConfigurations(key, f"holds {name!r}, not a non-empty string")
    return frozenset(value)


def _mappings(value: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidAgentConfigurations(VSWITCH_MAPPINGS, f"must be an object, not {value!r}")
    for physnet, vswitch in value.items():
        if not isinstance(physnet, str) or not physnet:
            raise InvalidAgentConfigurations(
                VSWITCH_MAPPINGS, f"has key {physnet!r}, not a non-empty string")
        if not isinstance(vswitch, str) or not vswitch:
            raise InvalidAgentConfigurations(
                VSWITCH_MAPPINGS, f"maps {physnet!r} to {vswitch!r}, not a vSwitch name")
    return MappingProxyType(dict(value))


@dataclass(frozen=True, eq=True)
class AgentConfigurations:
    """A checked, read-only view of a Hyper-V agent's ``configurations``.

    Built by the agent (then :meth:`to_report`) or read from a report
    (:meth:`from_report`); both check every field.

    :raises InvalidAgentConfigurations: when a field breaks the contract.
    """

    vswitch_mappings: Mapping[str, str] = field(default_factory=dict)
    local_vswitch: str | None = None
    sriov_vswitches: frozenset[str] = frozenset()
    supported_vnic_types: frozenset[str] = frozenset({portbindings.VNIC_NORMAL})
    devices: int = 0

    __hash__ = None  # type: ignore[assignment]  # holds a mapping

    def __post_init__(self) -> None:
        object.__setattr__(self, "vswitch_mappings", _mappings(self.vswitch_mappings))
        if self.local_vswitch is not None and (
                not isinstance(self.local_vswitch, str) or not self.local_vswitch):
            raise InvalidAgentConfigurations(
                LOCAL_VSWITCH, f"must be a vSwitch name or null, not {self.local_vswitch!r}")
        object.__setattr__(
            self, "sriov_vswitches", _names(SRIOV_VSWITCHES, self.sriov_vswitches))
        vnic_types = _names(SUPPORTED_VNIC_TYPES, self.supported_vnic_types)
        if not vnic_types <= KNOWN_VNIC_TYPES:
            raise InvalidAgentConfigurations(
                SUPPORTED_VNIC_TYPES,
                f"holds {sorted(vnic_types - KNOWN_VNIC_TYPES)}; known: {sorted(KNOWN_VNIC_TYPES)}")
        object.__setattr__(self, "supported_vnic_types", vnic_types)
        if isinstance(self.devices, bool) or not isinstance(self.devices, int) or self.devices < 0:
            raise InvalidAgentConfigurations(
                DEVICES, f"must be a count (integer >= 0), not {self.devices!r}")

    @classmethod
    def from_report(cls, configurations: Mapping[str, Any] | None) -> AgentConfigurations:
        """Read an agent's reported ``configurations`` (missing keys: defaults).

        :raises InvalidAgentConfigurations: when a field breaks the contract.
        """
        if configurations is None:
            configurations = {}
        if not isinstance(configurations, Mapping):
            raise InvalidAgentConfigurations("configurations", "must be an object")
        # Values are checked (and normalised) by __post_init__, not trusted.
        raw: dict[str, Any] = {
            "vswitch_mappings": configurations.get(VSWITCH_MAPPINGS) or {},
            "local_vswitch": configurations.get(LOCAL_VSWITCH) or None,
            "sriov_vswitches": configurations.get(SRIOV_VSWITCHES) or (),
            "supported_vnic_types": configurations.get(
                SUPPORTED_VNIC_TYPES, (portbindings.VNIC_NORMAL,)),
            "devices": configurations.get(DEVICES, 0),
        }
        return cls(**raw)

    def to_report(self) -> dict[str, Any]:
        """The JSON-ready ``configurations`` object an agent sends."""
        return {
            VSWITCH_MAPPINGS: dict(self.vswitch_mappings),
            LOCAL_VSWITCH: self.local_vswitch,
            SRIOV_VSWITCHES: sorted(self.sriov_vswitches),
            SUPPORTED_VNIC_TYPES: sorted(self.supported_vnic_types),
            DEVICES: self.devices,
        }

    def vswitch_for_segment(self, network_type: str, physnet: str | None) -> str | None:
        """The vSwitch for a segment, or None when this host cannot reach it."""
        if network_type == n_const.TYPE_LOCAL:
            return self.local_vswitch
        if network_type in PHYSNET_TYPES:
            return vswitch_for_physnet(physnet, self.vswitch_mappings)
        return None

    def vnic_refusal(self, vnic_type: str, vswitch: str) -> str | None:
        """Why a ``vnic_type`` port cannot be wired on ``vswitch`` (None: it can)."""
        if vnic_type not in self.supported_vnic_types:
            return (f"the agent supports vnic_types {sorted(self.supported_vnic_types)}, "
                    f"not {vnic_type!r}")
        if vnic_type == portbindings.VNIC_DIRECT and vswitch not in self.sriov_vswitches:
            return (f"vnic_type 'direct' needs an SR-IOV vSwitch and {vswitch!r} is not one "
                    f"(the agent's SR-IOV vSwitches: {sorted(self.sriov_vswitches)})")
        return None
