#!/usr/bin/env bash
# The test command: lint, type-check, release notes, the documentation
# build (Sphinx, warnings as errors) and the test suite.  Sets the machine
# up first (tools/setup.sh is idempotent).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
"$ROOT/tools/setup.sh"
VENV="${WINSTACKERS_VENV:-$ROOT/.venv}"

echo "[test] ruff"
"$VENV/bin/ruff" check winstackers tests benchmarks
echo "[test] mypy (strict on winstackers.cim and winstackers.emulator)"
"$VENV/bin/mypy"
echo "[test] release notes"
"$VENV/bin/reno" -q lint
echo "[test] docs (sphinx-build -W: warnings are errors; doc/build/html)"
# -E: a fresh environment each time, so warnings of unchanged pages still fail
"$VENV/bin/sphinx-build" -E -W --keep-going -q -b html doc/source doc/build/html
echo "[test] pytest"
# The functional tests (tests/functional: a real neutron-server on MariaDB
# and RabbitMQ) fail here instead of skipping when those are unreachable.
export WINSTACKERS_REQUIRE_FUNCTIONAL="${WINSTACKERS_REQUIRE_FUNCTIONAL:-1}"
if [ "$#" -gt 0 ]; then
    exec "$VENV/bin/pytest" -q "$@"
fi
"$VENV/bin/pytest" -q --ignore=tests/nova
# nova's test fixtures monkey-patch eventlet: the compute driver's tests
# run in a process of their own (tests/nova/conftest.py)
echo "[test] pytest tests/nova (nova 34's driver harness; its own process)"
"$VENV/bin/pytest" -q tests/nova
