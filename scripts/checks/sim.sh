#!/usr/bin/env bash
# drydock-sim checks: two third-party clients from PyPI against the running
# drydock-sim binary: python-libmaas (MaaS 2.0 API) and sushy (Redfish).
# (Its Rust tests run with the workspace's `cargo test`.)
# Usage: scripts/checks/sim.sh   (from anywhere; needs python3 with venv, cargo)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check "python-libmaas==0.6.8" "sushy==5.14.0" "pytest>=7"

# The same build as the other checks (one feature set, no second compile).
cargo build --quiet -p drydock-http --bin drydock -p drydock-sim --bin drydock-sim

export DRYDOCK_SIM_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/drydock-sim"
status=0
"$VENV/bin/python" -m pytest -q "$ROOT/drydock-sim/tests/python" || status=$?
if [ "$status" -eq 5 ]; then
    echo "sim.sh: pytest collected no tests; treating as failure" >&2
    exit 1
fi
exit "$status"
