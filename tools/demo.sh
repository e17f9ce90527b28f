#!/usr/bin/env bash
# Set the machine up, then run the Winstackers demo on an emulated host.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/tools/setup.sh"
exec "${WINSTACKERS_VENV:-$ROOT/.venv}/bin/winstackers" demo "$@"
