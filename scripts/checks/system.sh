#!/usr/bin/env bash
# The multi-process system test (tests/system/test_system.py): drydock serve
# on PostgreSQL, drydock-sim serving MaaS, ipmi_sim and sushy-emulator BMCs,
# a 20-node gen_site.py design deployed through the Python client with a
# SIGKILL mid-deploy, and two servers on one database with a takeover.
# Provides what it needs when run on its own (scripts/test.sh has already
# started PostgreSQL and found the BMC peers).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

cleanup_hooks=()
trap 'for hook in "${cleanup_hooks[@]+"${cleanup_hooks[@]}"}"; do "$hook" || true; done' EXIT
# shellcheck source=/dev/null
[ -n "${DRYDOCK_TEST_PG:-}" ] || source scripts/setup/postgres.sh
if [ -z "${DRYDOCK_SUSHY_PYTHON:-}" ] || ! command -v ipmi_sim > /dev/null; then
    # shellcheck source=/dev/null
    source scripts/setup/oob.sh
fi
# shellcheck source=scripts/lib/python-venv.sh
source scripts/lib/python-venv.sh

cargo build --quiet -p drydock-http --bin drydock -p drydock-sim --bin drydock-sim
export DRYDOCK_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/drydock"
export DRYDOCK_SIM_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/drydock-sim"
export DRYDOCK_SHARED="${DRYDOCK_SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
cd tests/system
"$VENV/bin/python" -m pytest -q -x -p no:cacheprovider .
