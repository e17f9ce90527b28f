"""The real-service fixtures themselves: they clean up, and they fail clearly.

The process tests run anywhere; the database and vhost tests need the
local MariaDB and RabbitMQ (``local_services``).
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

import pymysql
import pytest

from winstackers.neutron.fixtures import (
    CommandFailed,
    ServiceFailed,
    database,
    process,
    rabbitmq_vhost,
)
from winstackers.neutron.fixtures.client import plural, singular
from winstackers.neutron.fixtures.neutron_server import uwsgi_worker_died
from winstackers.neutron.fixtures.rabbitmq import rabbitmqctl


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_service_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    started = process.start("demo-service", python("print('boom'); raise SystemExit(3)"), log)
    with pytest.raises(ServiceFailed) as caught:
        process.wait_ready(started, lambda: False, "answer", timeout=30)
    message = str(caught.value)
    assert "demo-service did not come up" in message
    assert "exited with code 3" in message
    assert str(log) in message and "boom" in message


def test_a_service_that_never_gets_ready_times_out(tmp_path: Path) -> None:
    started = process.start("slow-service", python("import time; time.sleep(60)"),
                            tmp_path / "slow.log")
    try:
        with pytest.raises(ServiceFailed, match="did not answer within 0 s"):
            process.wait_ready(started, lambda: False, "answer", timeout=0.3)
    finally:
        process.stop([started], timeout=0)


def test_a_broken_service_is_reported_before_the_timeout(tmp_path: Path) -> None:
    log = tmp_path / "api.log"
    log.write_text("DAMN ! worker 2 (pid: 9) died :( trying respawn ...\n")
    started = process.start("neutron-api (uwsgi)", python("import time; time.sleep(60)"),
                            log, broken=uwsgi_worker_died)
    began = time.monotonic()
    try:
        with pytest.raises(ServiceFailed, match="a uwsgi worker died"):
            process.wait_ready(started, lambda: False, "answer", timeout=60)
    finally:
        process.stop([started], timeout=0)
    assert time.monotonic() - began < 10


def test_stop_kills_the_whole_group_even_when_sigterm_is_ignored(tmp_path: Path) -> None:
    child_pid = tmp_path / "child.pid"
    code = ("import os, signal, subprocess, sys, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
            "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'])\n"
            f"open({str(child_pid)!r}, 'w').write(str(child.pid))\n"
            "time.sleep(60)\n")
    started = process.start("stubborn", python(code), tmp_path / "stubborn.log")
    process.wait_ready(started, child_pid.exists, "write its child's pid", timeout=30)
    time.sleep(0.2)
    process.stop([started], timeout=0.5)
    assert not started.running()
    pid = int(child_pid.read_text())
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)


def alive(pid: int) -> bool:
    """Whether *pid* runs (a zombie waiting for its reaper does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_failed_command_names_its_log(tmp_path: Path) -> None:
    log = tmp_path / "cmd.log"
    with pytest.raises(CommandFailed) as caught:
        process.run("migrate", python("print('no such table'); raise SystemExit(2)"), log,
                    timeout=30)
    assert "exit code 2" in str(caught.value)
    assert "no such table" in str(caught.value) and str(log) in str(caught.value)


@pytest.mark.parametrize(("collection", "key"), [
    ("networks", "network"), ("qos/policies", "policy"), ("security_groups", "security_group"),
    ("security-groups", "security_group"), ("address-groups", "address_group"),
    ("qos/policies/p1/bandwidth_limit_rules", "bandwidth_limit_rule")])
def test_body_keys_of_collections(collection: str, key: str) -> None:
    assert singular(collection) == key


@pytest.mark.parametrize(("collection", "key"), [
    ("networks", "networks"), ("qos/policies", "policies"),
    ("security-group-rules", "security_group_rules"), ("qos/rule-types", "rule_types")])
def test_list_keys_of_collections(collection: str, key: str) -> None:
    # neutron's URLs spell words with "-", its JSON bodies with "_".
    assert plural(collection) == key


def databases() -> set[str]:
    with pymysql.connect(host="127.0.0.1", user="root") as connection:
        with connection.cursor() as cursor:
            cursor.execute("SHOW DATABASES")
            return {row[0] for row in cursor.fetchall()}


def test_database_is_fresh_and_dropped_afterwards(local_services: None) -> None:
    name = f"winstackers_fixture_{secrets.token_hex(4)}"
    with database(name) as made:
        assert name in databases()
        assert made.url.startswith("mysql+pymysql://root@127.0.0.1:3306/")
    assert name not in databases()


def test_database_names_needing_quotes_are_refused() -> None:
    with pytest.raises(ValueError, match="database name"):
        with database("bad name; DROP"):
            pass


def test_vhost_is_fresh_and_deleted_afterwards(local_services: None) -> None:
    name = f"winstackers_fixture_{secrets.token_hex(4)}"
    with rabbitmq_vhost(name) as vhost:
        assert name in rabbitmqctl("list_vhosts").split()
        assert vhost.transport_url == f"rabbit://guest:guest@127.0.0.1:5672/{name}"
        assert vhost.consumers("q-reports-plugin") == 0
    assert name not in rabbitmqctl("list_vhosts").split()
