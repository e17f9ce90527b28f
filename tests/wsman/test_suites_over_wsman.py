"""Every contract and host-library test module also runs over WS-Management."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("suite", ["contract", "hyperv"])
def test_every_module_of_the_suite_has_a_wsman_twin(suite: str) -> None:
    modules = {path.stem.removeprefix("test_") for path in (TESTS / suite).glob("test_*.py")}
    twins = {path.stem.removeprefix(f"test_{suite}_").removesuffix("_over_wsman")
             for path in (TESTS / "wsman").glob(f"test_{suite}_*_over_wsman.py")}
    missing = sorted(modules - twins)
    assert not missing, (
        f"add tests/wsman/test_{suite}_<name>_over_wsman.py for {missing}: one line, "
        f"'from tests.{suite}.test_<name> import *  # noqa: F403'")
