#!/usr/bin/env bash
# The Python module: build the drydock wheel with maturin (debug profile),
# install it and the drydock_provisioner compatibility package into a venv,
# and run drydock-py/tests with pytest (test_live.py against `drydock serve`).
# Usage: scripts/checks/python.sh   (from anywhere; needs python3 with venv, cargo)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-py"
WHEELS="${CARGO_TARGET_DIR:-$ROOT/target}/wheels"

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check "maturin>=1.5,<2" "pytest>=7" "requests>=2.20"

rm -rf "$WHEELS"
"$VENV/bin/maturin" build --quiet --manifest-path drydock-py/Cargo.toml --out "$WHEELS" --interpreter "$VENV/bin/python"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$WHEELS"/drydock-*.whl
"$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps ./drydock-py/compat
rm -rf drydock-py/compat/build drydock-py/compat/*.egg-info

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
