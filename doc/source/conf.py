"""Sphinx configuration of Winstackers' operator documentation.

The test command (``tools/test.sh``) builds it with warnings as errors::

    sphinx-build -W --keep-going -b html doc/source doc/build/html

The configuration reference and the sample file are generated from the
agent's option definitions (the ``oslo.config.opts`` entry points), so they
cannot drift from the code.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

project = "Winstackers"
author = "Winstackers developers"
copyright = "Winstackers developers; Apache-2.0"

extensions = [
    # ``.. show-options::``: the configuration reference, from the options
    "oslo_config.sphinxext",
    # the sample configuration file, written at build time
    "oslo_config.sphinxconfiggen",
    # Markdown pages kept outside doc/source (docs/emulator-coverage.md)
    "myst_parser",
]

config_generator_config_file = [
    (str(ROOT / "etc" / "oslo-config-generator" / "neutron-hyperv-agent.conf"),
     "_static/neutron-hyperv-agent"),
]

root_doc = "index"
exclude_patterns = ["_static"]
html_theme = "alabaster"
html_title = "Winstackers"
html_theme_options = {"nosidebar": False, "show_relbars": True}
