"""The operator documentation covers every option namespace the project
registers (the pages themselves are built by tools/test.sh with -W)."""

import configparser
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "doc" / "source"
GENERATOR = ROOT / "etc" / "oslo-config-generator" / "neutron-hyperv-agent.conf"


def registered_namespaces() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(project["project"]["entry-points"]["oslo.config.opts"])


def test_every_namespace_has_a_configuration_reference() -> None:
    shown = {name for page in SOURCE.rglob("*.rst")
             for name in re.findall(r"^\.\. show-options::[ \t]+(\S+)", page.read_text(),
                                    re.MULTILINE)}
    assert registered_namespaces() <= shown, (
        "add a '.. show-options:: <namespace>' for it under doc/source/configuration/")


def test_sample_generator_file_names_the_agent_namespace() -> None:
    generator = configparser.ConfigParser(strict=False)
    generator.read(GENERATOR)
    assert generator["DEFAULT"]["namespace"] in registered_namespaces()


def test_coverage_page_is_included_from_docs() -> None:
    page = (SOURCE / "contributor" / "emulator-coverage.rst").read_text()
    target = re.search(r"^\.\. include:: (\S+)", page, re.MULTILINE)
    assert target is not None
    assert (SOURCE / "contributor" / target.group(1)).resolve() == \
        ROOT / "docs" / "emulator-coverage.md"
