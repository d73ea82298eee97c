# Sourced by checks that need a live server: starts a drydock-sim lab built
# from examples/site.yaml (machines enlisted, instant phases) and
# `drydock serve` on a free loopback port with token auth, an in-memory
# store and the MaaS driver pointed at the lab. Sets LIVE_URL, LIVE_TOKEN and
# LIVE_DIR; everything is stopped and removed at exit. Needs BIN (the cargo
# debug directory) with drydock and drydock-sim built.
# Usage: live_server_start [extra drydock serve flags...]

live_pids=()
LIVE_DIR="$(mktemp -d)"
live_server_stop() {
    local pid
    for pid in "${live_pids[@]+"${live_pids[@]}"}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$LIVE_DIR"
}
trap live_server_stop EXIT

live_wait_port() {
    local _
    for _ in $(seq 150); do
        python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2)' "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "live-server.sh: nothing listens on port $1" >&2
    return 1
}

live_server_start() {
    "$BIN/drydock" lab scenario --enlisted examples/site.yaml > "$LIVE_DIR/scenario.json"
    "$BIN/drydock-sim" --scenario "$LIVE_DIR/scenario.json" --instant > "$LIVE_DIR/sim.json" &
    live_pids+=($!)
    local _
    for _ in $(seq 100); do [ -s "$LIVE_DIR/sim.json" ] && break; sleep 0.1; done
    local maas_url maas_key port
    maas_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["maas_url"])' "$LIVE_DIR/sim.json")
    maas_key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$LIVE_DIR/sim.json")
    LIVE_TOKEN="live-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
    printf '[[token]]\ntoken = "%s"\nuser = "checks"\nroles = ["admin"]\n' "$LIVE_TOKEN" > "$LIVE_DIR/tokens.toml"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    MAAS_API_KEY="$maas_key" "$BIN/drydock" serve --listen "127.0.0.1:$port" --store memory --auth token \
        --token-file "$LIVE_DIR/tokens.toml" --maas-api-url "$maas_url" --design-root "$PWD/examples" "$@" > "$LIVE_DIR/serve.log" 2>&1 &
    live_pids+=($!)
    live_wait_port "$port"
    LIVE_URL="http://127.0.0.1:$port"
    export LIVE_URL LIVE_TOKEN LIVE_DIR
}
