#!/usr/bin/env bash
# Users reach Drydock through clients generated from the committed
# openapi/drydock-v1.0.json, as it is (no patches): one in each of Python
# (openapi-python-client), Rust (progenitor; tests/clients/rust, its own
# Cargo.lock and target dir) and TypeScript (openapi-typescript types,
# openapi-fetch calls, strict tsc, node 20; tests/clients/typescript). Each
# runs the same scenario (tests/clients/*/) against one live `drydock serve`
# (scripts/lib/live-server.sh): create a validate_design task and follow it
# to success, read its layered tree, validatedesign a failing design and read
# the findings of its typed 400 Status document, the designs API (create, a
# part, the compiled design, documents by kind and by name), a 401 and a 404
# as the typed error envelope, the task and node lists. Every language runs even
# if another fails; the closing line says which failed, and any failure
# (generation, compilation or scenario) makes the check fail.
# Usage: scripts/checks/openapi_client.sh [python] [rust] [typescript]
#        (default all three; needs python3 with venv, cargo, node 20 with npm)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DOC="$ROOT/openapi/drydock-v1.0.json"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
RUST_TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/clients-rust"
VENV="$ROOT/.venv-gen"
TS_DIR="$ROOT/tests/clients/typescript"

languages=("$@")
[ ${#languages[@]} -gt 0 ] || languages=(python rust typescript)
for language in "${languages[@]}"; do
    case "$language" in
    python | rust | typescript) ;;
    *) echo "openapi_client.sh: unknown language $language (python, rust, typescript)" >&2; exit 2 ;;
    esac
done
wanted() { [[ " ${languages[*]} " == *" $1 "* ]]; }

cargo build --quiet -p drydock-http --bin drydock -p drydock-sim --bin drydock-sim

# shellcheck source=scripts/lib/live-server.sh
source "$ROOT/scripts/lib/live-server.sh"

# The Rust client compiles (the long pole) while the others run.
if wanted rust; then
    (cd tests/clients/rust && CARGO_TARGET_DIR="$RUST_TARGET" cargo build --locked --quiet) > "$LIVE_DIR/rust-build.log" 2>&1 &
    rust_build=$!
    live_pids+=("$rust_build")
fi

# The failing design: the example site with the oob network's MTU out of
# range (finding DD2003 at level Error, about Network oob), in a directory
# the server may read.
mkdir "$LIVE_DIR/designs"
python3 - "$ROOT/examples/site.yaml" "$LIVE_DIR/designs/failing.yaml" <<'PY'
import sys
text = open(sys.argv[1]).read()
start = text.index("schema: drydock/Network/v1\nmetadata:\n  schema: metadata/Document/v1\n  name: oob\n")
mtu = text.index("  mtu: 1500\n", start)
open(sys.argv[2], "w").write(text[:mtu] + "  mtu: 99999\n" + text[mtu + len("  mtu: 1500\n"):])
PY
live_server_start --design-root "$LIVE_DIR/designs"
SCENARIO_ARGS=("$LIVE_URL" "$LIVE_TOKEN" "file://$ROOT/examples/site.yaml" "file://$LIVE_DIR/designs/failing.yaml" "$ROOT/examples/site.yaml")

run_python() {
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "openapi-python-client==0.29.1"
    # A warning means a part of the document was not generated.
    if ! "$VENV/bin/openapi-python-client" generate --config tests/clients/python/generator.yaml --path "$DOC" --output-path "$LIVE_DIR/python-client" \
        > "$LIVE_DIR/python-generate.log" 2>&1 || grep -q "Warning" "$LIVE_DIR/python-generate.log"; then
        cat "$LIVE_DIR/python-generate.log" >&2
        echo "python client: openapi-python-client could not generate the whole client" >&2
        return 1
    fi
    "$VENV/bin/pip" uninstall --quiet --disable-pip-version-check --yes drydock-client 2> /dev/null || true
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$LIVE_DIR/python-client"
    "$VENV/bin/python" tests/clients/python/scenario.py "${SCENARIO_ARGS[@]}"
}

run_rust() {
    if [ "$rust_built" != 0 ]; then
        cat "$LIVE_DIR/rust-build.log" >&2
        echo "rust client: progenitor could not generate or compile the client" >&2
        return 1
    fi
    "$RUST_TARGET/debug/drydock-client-check" "${SCENARIO_ARGS[@]}"
}

run_typescript() {
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    if [ "$major" != 20 ]; then
        echo "typescript client: needs node 20, found $(node --version)" >&2
        return 1
    fi
    cd "$TS_DIR"
    npm ci --no-audit --no-fund --loglevel=error > "$LIVE_DIR/npm.log" 2>&1 || { cat "$LIVE_DIR/npm.log" >&2; return 1; }
    rm -rf generated dist
    node_modules/.bin/openapi-typescript "$DOC" --output generated/drydock.ts --silent
    node_modules/.bin/tsc --project tsconfig.json
    node dist/src/scenario.js "${SCENARIO_ARGS[@]}"
}

# Each language in a subshell of its own (so errexit holds inside it);
# all of them run, then the verdict.
failed=()
for language in python typescript rust; do
    wanted "$language" || continue
    echo "--- $language client"
    # (the Rust build is a child of this shell: waited for here)
    if [ "$language" = rust ]; then rust_built=0; wait "$rust_build" || rust_built=$?; fi
    ("run_$language") &
    wait $! || failed+=("$language")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "generated clients FAILED: ${failed[*]} (of ${languages[*]})" >&2
    exit 1
fi
echo "generated clients passed: ${languages[*]}"
