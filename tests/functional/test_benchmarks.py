"""``benchmarks/agent_convergence.py`` runs end to end, small and fast.

Four ports, no emulated latency: the benchmark starts its own neutron-server,
served emulated host and ``neutron-hyperv-agent``, and its JSON must show
the ports ACTIVE in at most two host writes each, a restart that writes
nothing, and a new member of the ports' remote group reaching every port in
at most two writes each.  Skipped or failed like the other functional tests when MariaDB
or RabbitMQ are missing (``local_services``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from winstackers.neutron import fixtures as nf

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "agent_convergence.py"
PORTS = 4

KEYS = {
    "benchmark", "ports", "latency_ms", "rules", "workers", "cores", "ports_active",
    "seconds_to_active", "seconds_to_active_from_first_vnic", "cim_writes_per_port",
    "cim_calls_per_port", "cim_writes_after_active", "rpc_calls_per_port", "agent_heartbeats",
    "agent_peak_rss_mib", "agent_cpu_seconds", "restart_seconds_to_up", "restart_cim_writes",
    "restart_cim_calls", "restart_rpc_calls", "restart_ports_active",
    "churn_seconds_to_current", "churn_ports_changed", "churn_cim_writes",
    "churn_max_writes_per_changed_port", "churn_rpc_calls",
}


def test_agent_convergence_benchmark_small_run(local_services: None, tmp_path: Path) -> None:
    missing = nf.agents.hyperv_agent_missing()
    if missing:
        pytest.skip(f"agent not built yet: {missing}")
    run = subprocess.run(
        [sys.executable, str(BENCHMARK), "--ports", str(PORTS), "--latency-ms", "0",
         "--workdir", str(tmp_path / "bench")],
        capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, f"benchmark failed:\n{run.stderr[-4000:]}"
    result = json.loads(run.stdout.strip().splitlines()[-1])

    assert KEYS <= result.keys(), f"missing keys: {sorted(KEYS - result.keys())}"
    assert result["ports"] == PORTS
    assert result["ports_active"] == PORTS
    assert result["restart_ports_active"] == PORTS
    assert 0 < result["cim_writes_per_port"] <= 2
    assert result["cim_writes_after_active"] == 0
    assert result["restart_cim_writes"] == 0
    assert result["rpc_calls_per_port"] > 0
    assert result["agent_peak_rss_mib"] > 0 and result["agent_cpu_seconds"] > 0
    # A new member of the group every port's remote-group rule names: every
    # port's ACLs change, in at most two writes each, from security calls only.
    assert result["churn_ports_changed"] == PORTS
    assert 1 <= result["churn_max_writes_per_changed_port"] <= 2
    assert result["churn_rpc_calls"] >= 1
