"""``winstackers demo --keep`` and ``winstackers demo stop``, as a user runs them.

The demo starts its own neutron-server, agent and served emulated host
(:mod:`winstackers.cli.demo`); with ``--keep`` they stay up in a
background process after the command returns, reachable through neutron's
API, until ``demo stop`` takes everything down.  (CI also runs the plain
demo, from ``tools/demo.sh``, as a smoke run.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from winstackers.cli.demo import PASSWORD_FILE, READY_FILE
from winstackers.neutron.fixtures import mariadb


def winstackers(*args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "winstackers.cli.main", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def test_kept_demo_serves_neutron_until_stopped(local_services: None, tmp_path: Path) -> None:
    state_dir = tmp_path / "demo"
    started = winstackers("demo", "--keep", "--state-dir", str(state_dir))
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "all checks passed" in started.stdout
        assert "Stop it with: winstackers demo stop" in started.stdout
        state = json.loads((state_dir / READY_FILE).read_text())
        assert alive(state["pid"])
        password = (state_dir / PASSWORD_FILE).read_text()
        assert password and password not in started.stdout
        assert (state_dir / PASSWORD_FILE).stat().st_mode & 0o077 == 0

        with urllib.request.urlopen(f"{state['neutron_api']}/v2.0/ports", timeout=10) as answer:
            ports = json.load(answer)["ports"]
        compute = [p for p in ports if p["device_owner"] == "compute:nova"]
        assert len(compute) == 2
        assert {p["status"] for p in compute} == {"ACTIVE"}
        assert {p["binding:vif_type"] for p in compute} == {"hyperv"}

        again = winstackers("demo", "--keep", "--state-dir", str(state_dir))
        assert again.returncode == 1
        assert f"a demo is already running (pid {state['pid']}" in again.stdout
    finally:
        stopped = winstackers("demo", "stop", "--state-dir", str(state_dir))
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "demo stopped" in stopped.stdout
    assert not alive(state["pid"])
    assert not (state_dir / READY_FILE).exists() and not (state_dir / PASSWORD_FILE).exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{state['neutron_api']}/v2.0/ports", timeout=5)
    assert not databases(f"winstackers_demo_{state['pid']}")


def databases(name: str) -> list[str]:
    connection = mariadb._connect(mariadb.HOST, mariadb.PORT, mariadb.USER, "")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW DATABASES LIKE %s", (name,))
            return [row[0] for row in cursor.fetchall()]
    finally:
        connection.close()
