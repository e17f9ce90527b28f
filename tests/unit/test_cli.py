"""The ``winstackers`` command, run in-process."""


from pathlib import Path

import pytest

from winstackers.cim.connect import forget_shared_hosts
from winstackers.cli.main import main


@pytest.fixture(autouse=True)
def _fresh_hosts() -> None:
    forget_shared_hosts()


def test_coverage_command_prints_the_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "coverage"]) == 0
    assert capsys.readouterr().out.startswith("# What the emulated Hyper-V host implements")


def test_demo_stop_with_no_demo_running_says_so(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "stop", "--state-dir", str(tmp_path)]) == 0
    assert f"no demo is running (nothing in {tmp_path})" in capsys.readouterr().out


def test_demo_stop_ignores_a_stale_state_file(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # A kept demo killed without cleaning up leaves its file; its pid is gone.
    (tmp_path / "demo.json").write_text('{"pid": 2147483646, "neutron_api": "x"}')
    assert main(["demo", "stop", "--state-dir", str(tmp_path)]) == 0
    assert "no demo is running" in capsys.readouterr().out
