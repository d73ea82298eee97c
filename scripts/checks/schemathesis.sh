#!/usr/bin/env bash
# Property-based API testing with schemathesis (PyPI) against a live
# `drydock serve` (scripts/lib/live-server.sh: token auth, in-memory store,
# MaaS on a drydock-sim lab): every operation of the committed OpenAPI
# document with generated inputs; fails on any 5xx and on any response
# outside the document (status, content type, schema).
# Usage: scripts/checks/schemathesis.sh   (needs python3 with venv, cargo)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-st"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5"
cargo build --quiet -p drydock-http --bin drydock -p drydock-sim --bin drydock-sim

# shellcheck source=scripts/lib/live-server.sh
source "$ROOT/scripts/lib/live-server.sh"
live_server_start --no-orchestrator

"$VENV/bin/schemathesis" run openapi/drydock-v1.0.json --url "$LIVE_URL" \
    -H "Authorization: Bearer $LIVE_TOKEN" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
    --max-examples 25 --seed 20261130 --no-color
