"""The ``winstackers`` command, run in-process."""

import json
from pathlib import Path

import pytest

from winstackers.cim import connect
from winstackers.cim.connect import forget_shared_hosts
from winstackers.cli.main import main


@pytest.fixture(autouse=True)
def _fresh_hosts() -> None:
    forget_shared_hosts()


def test_demo_passes_its_packet_checks_and_cleans_up(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "all checks passed" in out
    assert "SMTP (25) to web-1 is refused" in out
    session = connect("emulator://demo")
    names = [vm["ElementName"] for vm in session.query("SELECT * FROM Msvm_ComputerSystem")]
    assert not [n for n in names if n.startswith("demo-")]


def test_demo_keep_leaves_state_in_the_file(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "host.json"
    assert main(["demo", "--host", f"emulator://{state}", "--keep"]) == 0
    saved = json.loads(state.read_text())
    names = {row["properties"].get("ElementName") for row in saved["instances"]
             if row["class"] == "Msvm_ComputerSystem"}
    assert {"demo-web-1", "demo-web-2"} <= names


def test_bad_host_url_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--host", "ftp://user:secret@hv01"]) == 1
    err = capsys.readouterr().err
    assert "ftp://hv01" in err and "scheme" in err
    assert "secret" not in err


def test_unknown_emulator_option_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--host", "emulator://x?latncy=1"]) == 1
    assert "unknown option 'latncy'" in capsys.readouterr().err


def test_coverage_command_prints_the_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "coverage"]) == 0
    assert capsys.readouterr().out.startswith("# What the emulated Hyper-V host implements")
