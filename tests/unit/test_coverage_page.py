"""The committed emulator coverage page matches the code."""

from pathlib import Path

from winstackers.emulator.hyperv import coverage

PAGE = Path(__file__).resolve().parents[2] / "docs" / "emulator-coverage.md"


def test_committed_page_is_current() -> None:
    assert PAGE.read_text() == coverage.render(), (
        "docs/emulator-coverage.md is stale: run "
        "python -m winstackers.emulator.hyperv.coverage > docs/emulator-coverage.md")


def test_page_lists_emulated_and_missing_methods() -> None:
    page = coverage.render()
    assert "- **AddFeatureSettings**(AffectedConfiguration: R, FeatureSettings: E[])" in page
    assert "ExportSystemDefinition" in page.split("## Msvm_VirtualSystemManagementService")[1]
