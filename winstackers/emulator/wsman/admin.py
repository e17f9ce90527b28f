"""The served emulator's admin endpoint, for tests and benchmarks.

Not part of WinRM: it gives processes that share a served host over the
wire what in-process tests get from the :class:`EmulatedHost` object.  It
takes the same Basic credentials as ``/wsman`` and speaks JSON.

=================================  ===========================================
``GET /winstackers/counters``      ``{"by_operation": {"query": 3, ...},
                                   "reads": 3, "writes": 1}`` (the host's
                                   :class:`CallCounters`)
``POST /winstackers/counters/      sets the counters to zero; answers ``{}``
reset``
``POST /winstackers/faults``       body: an object with
                                   :class:`FaultPlan` fields (``latency``,
                                   ``job_delay``, ``job_failure_rate``,
                                   ``transport_error_rate``, ``seed``); it
                                   *replaces* the host's plan (fields left
                                   out take their defaults) and is echoed
=================================  ===========================================

A malformed body or an unknown field answers 400 with ``{"error": ...}``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from winstackers.emulator.hyperv.faults import FaultPlan
from winstackers.emulator.hyperv.host import EmulatedHost

PREFIX = "/winstackers/"
COUNTERS = "/winstackers/counters"
RESET = "/winstackers/counters/reset"
FAULTS = "/winstackers/faults"


def handle(method: str, path: str, body: bytes, host: EmulatedHost) -> tuple[int, bytes]:
    """(HTTP status, JSON body) for an admin request."""
    route = (method, path.rstrip("/"))
    if route == ("GET", COUNTERS):
        return _json(200, counters(host))
    if route == ("POST", RESET):
        host.counters.reset()
        return _json(200, {})
    if route == ("POST", FAULTS):
        try:
            host.faults = fault_plan(json.loads(body or b"{}"))
        except (ValueError, TypeError) as exc:
            return _json(400, {"error": str(exc)})
        return _json(200, plan_fields(host.faults))
    known = path.rstrip("/") in (COUNTERS, RESET, FAULTS)
    return _json(405 if known else 404, {"error": f"no {method} {path}"})


def counters(host: EmulatedHost) -> dict[str, Any]:
    """The host's call counters as JSON-able data."""
    return {"by_operation": host.counters.by_operation(), "reads": host.counters.reads,
            "writes": host.counters.writes}


def fault_plan(fields: Any) -> FaultPlan:
    """A :class:`FaultPlan` from a JSON object.

    :raises ValueError: not an object, an unknown field or a bad value.
    """
    if not isinstance(fields, dict):
        raise ValueError("the body must be a JSON object of FaultPlan fields")
    known = set(plan_fields(FaultPlan()))
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"unknown FaultPlan field(s) {unknown}; known: {sorted(known)}")
    return FaultPlan(**fields)


def plan_fields(plan: FaultPlan) -> dict[str, Any]:
    """The settable fields of *plan*."""
    return {f.name: getattr(plan, f.name) for f in dataclasses.fields(plan) if f.init}


def _json(status: int, data: Any) -> tuple[int, bytes]:
    return status, json.dumps(data, sort_keys=True).encode()
