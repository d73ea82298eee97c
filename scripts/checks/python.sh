#!/usr/bin/env bash
# The Python module: build the drydock wheel with maturin (debug profile),
# install it and the drydock_provisioner compatibility package into a venv,
# and run drydock-py/tests with pytest (test_live.py against `drydock serve`).
# Usage: scripts/checks/python.sh   (from anywhere; needs python3 with venv, cargo)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib/python-venv.sh
source "$ROOT/scripts/lib/python-venv.sh"

cargo build --quiet -p drydock-http --bin drydock -p drydock-sim --bin drydock-sim
export DRYDOCK_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/drydock"
export DRYDOCK_SIM_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/drydock-sim"
export DRYDOCK_SHARED="${DRYDOCK_SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
status=0
(cd drydock-py/tests && "$VENV/bin/python" -m pytest -q .) || status=$?
if [ "$status" -eq 5 ]; then
    echo "python.sh: pytest collected no tests; treating as failure" >&2
    exit 1
fi
exit "$status"
