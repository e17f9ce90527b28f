"""A port's QoS policy rules as Hyper-V port bandwidth settings (pure).

neutron's rules (https://docs.openstack.org/neutron/latest/admin/config-qos.html):
``bandwidth_limit`` (``max_kbps``, ``max_burst_kbps``, ``direction``) and
``minimum_bandwidth`` (``min_kbps``, ``direction``); kbps are 1000 bit/s and
``max_burst_kbps`` is a burst *size* in kilobits.  ``egress`` is traffic the
VM sends, ``ingress`` traffic it receives.

Hyper-V's port bandwidth settings (Limit, BurstSize, Reservation; see
:mod:`winstackers.hyperv.portstate`) shape what the VM sends, so only
egress rules are enforced; a reservation needs a vSwitch in the Absolute
bandwidth reservation mode and at least 10 MiB/s.  Everything else is
left out with a note, never widened or approximated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from winstackers.hyperv.hostinfo import SwitchInfo
from winstackers.hyperv.portstate import MIN_RESERVATION_BPS, Bandwidth

BANDWIDTH_LIMIT, MINIMUM_BANDWIDTH = "bandwidth_limit", "minimum_bandwidth"
EGRESS = "egress"
ABSOLUTE_MODE = 2


def _limit(rule: Mapping[str, Any]) -> dict[str, int]:
    burst_kbits = int(rule.get("max_burst_kbps") or 0)
    return {"limit_bps": int(rule.get("max_kbps") or 0) * 1000,
            "burst_size_bytes": burst_kbits * 1000 // 8}


def _reservation(rule: Mapping[str, Any], switch: SwitchInfo | None) -> tuple[int, str | None]:
    bps = int(rule.get("min_kbps") or 0) * 1000
    if bps < MIN_RESERVATION_BPS:
        return 0, (f"minimum_bandwidth {rule.get('min_kbps')} kbps is below Hyper-V's "
                   f"minimum reservation of {MIN_RESERVATION_BPS} bit/s: not applied")
    if switch is None or switch.bandwidth_mode != ABSOLUTE_MODE:
        name = switch.name if switch else "the vSwitch"
        return 0, (f"minimum_bandwidth needs {name} in the Absolute bandwidth reservation "
                   "mode: not applied")
    return bps, None


def bandwidth(rules: Sequence[Mapping[str, Any]],
              switch: SwitchInfo | None) -> tuple[Bandwidth | None, tuple[str, ...]]:
    """The port bandwidth for *rules* on *switch*, and notes on what was
    left out (rules of other types or directions)."""
    values: dict[str, int] = {}
    notes: list[str] = []
    for rule in rules:
        kind, direction = rule.get("type"), rule.get("direction", EGRESS)
        if kind not in (BANDWIDTH_LIMIT, MINIMUM_BANDWIDTH) or direction != EGRESS:
            notes.append(f"QoS rule {kind} ({direction}) cannot be enforced by a Hyper-V "
                         "port: not applied")
        elif kind == BANDWIDTH_LIMIT:
            values.update(_limit(rule))
        else:
            reservation, note = _reservation(rule, switch)
            values.update({"reservation_bps": reservation} if reservation else {})
            notes += [note] if note else []
    return (Bandwidth(**values) if any(values.values()) else None), tuple(notes)
