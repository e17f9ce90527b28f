"""The agent's RPC side: callbacks mark ports; over oslo.messaging (fake://)
neutron's own clients reach them and the agent's calls reach a server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from winstackers.neutron.agent.rpc import AgentRpcCallbacks
from winstackers.neutron.agent.tracker import PortTracker, Tracked

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tracker() -> PortTracker:
    found = PortTracker()
    found.present(["a", "b", "c"])
    found.record("a", Tracked("net1", frozenset({"sg1"}), "pol1"))
    found.record("b", Tracked("net2", frozenset({"sg2", "ag1"})))
    return found


def test_callbacks_mark_the_ports_they_concern(tracker: PortTracker) -> None:
    callbacks = AgentRpcCallbacks(tracker)
    callbacks.port_update(None, port={"id": "c"})
    callbacks.port_update(None, port={"id": "elsewhere"})
    callbacks.security_groups_member_updated(None, security_groups=["sg2"])
    assert tracker.take() == ({"c"}, set())
    assert tracker.take_security() == {"b"}  # only its ACLs need recomputing
    callbacks.network_update(None, network={"id": "net1"})
    callbacks.network_delete(None, network_id="net2")
    callbacks.port_delete(None, port_id="c")
    assert tracker.take() == ({"a"}, {"b", "c"})


def test_pushed_objects_mark_ports_by_policy_and_address_group(tracker: PortTracker) -> None:
    callbacks = AgentRpcCallbacks(tracker)
    pushed: Any = type("Pushed", (), {"id": "ag1"})()
    callbacks.address_groups_pushed(None, "AddressGroup", [pushed], "updated")
    assert tracker.take() == (set(), set())
    assert tracker.take_security() == {"b"}
    pushed.id = "pol1"
    callbacks.qos_policies_pushed(None, "QosPolicy", [pushed], "deleted")
    assert tracker.take() == ({"a"}, set())


def test_marks_are_given_back_when_an_iteration_fails(tracker: PortTracker) -> None:
    tracker.mark_updated(["a"])
    tracker.mark_deleted(["b"])
    tracker.mark_groups(["sg1"])
    taken = tracker.take()
    security = tracker.take_security()
    tracker.give_back(*taken, security)
    assert tracker.take() == ({"a"}, {"b"})
    assert tracker.take_security() == {"a"}


@pytest.fixture(scope="module")
def probe() -> dict[str, Any]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-m", "tests.neutron_agent.rpc_probe"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_neutron_notifications_reach_the_agent_over_messaging(probe: dict[str, Any]) -> None:
    assert probe["casts"] == [["p1", "p2"], ["p3"]]
    assert probe["pushes"] == ["p2", "p3"]


def test_agent_calls_reach_the_plugin_with_neutrons_signatures(probe: dict[str, Any]) -> None:
    seen = probe["seen"]
    assert seen["details"] == [["p1"], "hyperv-agent.hv1", "hv1"]
    assert seen["security"] == [["p1"], "1.3"]
    assert seen["update"] == [["p1"], ["p2"], "hv1"]
    assert seen["state"] == ["HyperV agent", True, True]
    qos = probe["answers"]["qos"]
    assert [(r["type"], r["max_kbps"], r["direction"]) for r in qos] == [
        ("bandwidth_limit", 1000, "egress")]
