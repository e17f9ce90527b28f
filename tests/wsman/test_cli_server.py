"""``winstackers emulator hyperv`` as a real process: serves, keeps its
state file, stops cleanly on SIGTERM/SIGINT, never shows the password."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from winstackers.cim import connect
from winstackers.cim.transports.emulated import EmulatedSession
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.wsman.fixtures import TlsFiles

from ..contract.helpers import Host, unique

PASSWORD = "cli-Pa55word-not-to-be-shown"


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "winstackers.cli.main", "emulator", "hyperv", *args]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "WINSTACKERS_EMULATOR_PASSWORD"}
    return {**env, **extra}


def first_line(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the emulator did not start in time"
    return proc.stdout.readline()


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    return path


@pytest.fixture
def started(tmp_path: Path, tls_files: TlsFiles,
            password_file: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    """The emulator over HTTPS with a state file: (process, URL, state)."""
    state = tmp_path / "host.json"
    proc = subprocess.Popen(
        command("--listen", "127.0.0.1:0", "--state", str(state), "--tls-cert",
                str(tls_files.cert), "--tls-key", str(tls_files.key), "--password-file",
                str(password_file)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment())
    line = first_line(proc)
    found = re.search(r"at (https://127\.0\.0\.1:\d+/wsman)", line)
    assert found, line
    address = found.group(1).replace("https://", "https://winstackers@")
    yield proc, f"{address}?auth=basic&verify={tls_files.ca}", state
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_serves_saves_state_and_stops_on_sigterm(
        started: tuple[subprocess.Popen[str], str, Path]) -> None:
    proc, url, state = started
    name = unique()
    vm = Host(connect(url, password=PASSWORD)).define_vm(name)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "stopped" in out
    assert PASSWORD not in out + err and "Traceback" not in err
    saved = EmulatedSession(EmulatedHost.load(state))
    assert saved.get(vm)["ElementName"] == name


def test_a_restart_on_the_state_file_keeps_the_host(
        started: tuple[subprocess.Popen[str], str, Path], tmp_path: Path) -> None:
    proc, url, state = started
    name = unique()
    Host(connect(url, password=PASSWORD)).define_vm(name)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    again = subprocess.Popen(
        command("--listen", "127.0.0.1:0", "--state", str(state)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=environment(WINSTACKERS_EMULATOR_PASSWORD=PASSWORD))
    try:
        found = re.search(r"at http://(127\.0\.0\.1:\d+)/wsman", first_line(again))
        assert found
        session = connect(f"http://winstackers@{found.group(1)}/wsman?auth=basic&insecure=1",
                          password=PASSWORD)
        names = [vm["ElementName"] for vm in session.query("SELECT * FROM Msvm_ComputerSystem")]
        assert name in names
    finally:
        again.send_signal(signal.SIGTERM)
        again.communicate(timeout=30)
    assert again.returncode == 0


@pytest.mark.parametrize("args, named", [
    ((), "WINSTACKERS_EMULATOR_PASSWORD"),
    (("--password-file", "/nonexistent/password"), "--password-file /nonexistent/password"),
    (("--listen", "nowhere", "--password-file", "{pw}"), "--listen"),
    (("--tls-key", "k.pem", "--password-file", "{pw}"), "--tls-key"),
    (("--tls-cert", "/nonexistent/c.pem", "--password-file", "{pw}"), "/nonexistent/c.pem"),
], ids=["no-password", "missing-password-file", "bad-listen", "key-without-cert",
        "missing-certificate"])
def test_bad_options_are_named(args: tuple[str, ...], named: str, password_file: Path) -> None:
    argv = command("--listen", "127.0.0.1:0",
                   *[a.replace("{pw}", str(password_file)) for a in args])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=environment())
    assert done.returncode == 1 and named in done.stderr
    assert "Traceback" not in done.stderr and PASSWORD not in done.stderr
