#!/usr/bin/env bash
# Property-based API testing with schemathesis (PyPI) against a live
# `drydock serve` (token auth, in-memory store, the MaaS driver pointed at a
# drydock-sim lab built from examples/site.yaml): every operation of the
# committed OpenAPI document with generated inputs; fails on any 5xx and on
# any response outside the document (status, content type, schema).
# Usage: scripts/checks/schemathesis.sh   (needs python3 with venv, cargo)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-st"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
WORK="$(mktemp -d)"
pids=()
finish() {
    local pid
    for pid in "${pids[@]+"${pids[@]}"}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap finish EXIT

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5"
cargo build --quiet -p drydock-http --bin drydock -p drydock-sim --bin drydock-sim

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

"$BIN/drydock" lab scenario --enlisted examples/site.yaml > "$WORK/scenario.json"
"$BIN/drydock-sim" --scenario "$WORK/scenario.json" --instant > "$WORK/sim.json" &
pids+=($!)
for _ in $(seq 100); do [ -s "$WORK/sim.json" ] && break; sleep 0.1; done
maas_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["maas_url"])' "$WORK/sim.json")
maas_key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$WORK/sim.json")

token="schemathesis-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
printf '[[token]]\ntoken = "%s"\nuser = "schemathesis"\nroles = ["admin"]\n' "$token" > "$WORK/tokens.toml"
port=$(free_port)
MAAS_API_KEY="$maas_key" "$BIN/drydock" serve --listen "127.0.0.1:$port" --store memory --auth token \
    --token-file "$WORK/tokens.toml" --maas-api-url "$maas_url" --no-orchestrator > "$WORK/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2)' "$port" 2>/dev/null && break
    sleep 0.1
done

"$VENV/bin/schemathesis" run openapi/drydock-v1.0.json --url "http://127.0.0.1:$port" \
    -H "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
    --max-examples 25 --seed 20261130 --no-color
