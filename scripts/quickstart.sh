#!/usr/bin/env bash
# The quickstart: provision examples/site.yaml end to end against a simulated
# lab, on the embedded redb store, with the same commands an operator uses.
#
#   1. a lab matching the design (`drydock lab scenario` → `drydock-sim`): a
#      MaaS region with the PXE network, and one powered-off Redfish BMC per
#      node at the node's OOB address (the simulator doubles as the HTTP proxy
#      in front of the BMC network); deployed machines run their cloud-init
#      user data, so the boot-action agent really fetches and reports;
#   2. `drydock serve` on a redb file, with the MaaS driver, that proxy and the
#      simulator's Promenade;
#   3. `drydock validatedesign`, then prepare_site, prepare_nodes and
#      deploy_nodes with `drydock task create --block` (live progress);
#   4. a per-node summary with the boot-action statuses the nodes reported;
#   5. relabel_nodes: each node's owner_data as its Kubernetes labels, through
#      the simulator's Promenade (whose cluster has every deployed machine).
#
# Everything lives in a temporary directory and every process it starts is
# stopped on exit (KEEP=1 keeps the directory for a look afterwards).
# It runs debug builds (the quickest to compile on a fresh machine, and the
# ones the tests use); DRYDOCK_PROFILE=release runs optimised ones.
# Usage: scripts/quickstart.sh [design.yaml]   (its nodes' BMCs must be
# `oob.type: redfish`, as in examples/site.yaml: the simulator's BMCs speak Redfish)
set -euo pipefail
# The design, as an absolute path (a relative one is taken from where the
# script was started, before it moves to the repository).
DESIGN=$(realpath -e "${1:-$(dirname "$0")/../examples/site.yaml}" 2> /dev/null) || {
    echo "quickstart: no such design file: ${1:-examples/site.yaml}" >&2
    exit 2
}
STARTED_IN=$PWD
cd "$(dirname "$0")/.."
ROOT=$PWD

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
# Each command is printed as it can be pasted into the shell it was started
# from while the server runs (DD_URL exported): the binaries relative to that
# directory when they are under it (target/debug/… from the repository),
# otherwise absolute, and the design as its absolute path.
run() { printf '$ %s\n' "$*" | sed "s|$BIN/|$SHOWN_BIN/|g" >&2; "$@"; }

PROFILE=${DRYDOCK_PROFILE:-debug}
say "Building drydock and drydock-sim ($PROFILE)"
cargo build --profile "${PROFILE/debug/dev}" --quiet -p drydock-http -p drydock-sim --bins
BIN=$(realpath -m "${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE")
case $BIN in
    "$STARTED_IN"/*) SHOWN_BIN=${BIN#"$STARTED_IN"/} ;;
    *) SHOWN_BIN=$BIN ;;
esac
started=$(date +%s)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/drydock-quickstart.XXXXXX")
PIDS=()
cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ]; then
        echo "kept $WORK (server.log, sim.log, nodes/<host>/var/log/cloud-init-output.log)"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json_field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1"; }

say "Starting a simulated lab matching $DESIGN"
run "$BIN/drydock" lab scenario --phase-ms 1500 "$DESIGN" > "$WORK/lab.json"
"$BIN/drydock-sim" --scenario "$WORK/lab.json" --boot-root "$WORK/nodes" > "$WORK/sim.out" 2> "$WORK/sim.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/sim.out" ] && break; sleep 0.1; done
[ -s "$WORK/sim.out" ] || { echo "drydock-sim did not start:"; cat "$WORK/sim.log"; exit 1; }
MAAS_URL=$(json_field maas_url < "$WORK/sim.out")
MAAS_KEY=$(json_field api_key < "$WORK/sim.out")
SIM=${MAAS_URL%/MAAS}
echo "MaaS at $MAAS_URL; $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["bmcs"]))' "$WORK/lab.json") BMCs behind $SIM"

say "Starting drydock serve on the embedded redb store"
PORT=$(free_port)
export DD_URL="http://127.0.0.1:$PORT"
MAAS_API_KEY=$MAAS_KEY RUST_LOG=${RUST_LOG:-warn,drydock_core::orchestrator=info} "$BIN/drydock" serve \
    --listen "127.0.0.1:$PORT" --store "redb:$WORK/drydock.redb" --auth noauth \
    --design-root "$(dirname "$DESIGN")" \
    --maas-api-url "$MAAS_URL" --redfish-use-ssl false --bmc-proxy "$SIM" \
    --bootaction-report-url "$DD_URL/api/v1.0/bootactions/" --promenade-url "$SIM" \
    --poll-interval 1s --status-poll 1s --power-poll 250ms > "$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fs "$DD_URL/api/v1.0/health" > /dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$DD_URL/api/v1.0/health" > /dev/null || { echo "drydock serve did not start:"; cat "$WORK/server.log"; exit 1; }
echo "serving $DD_URL (store: $WORK/drydock.redb); the commands below need:"
echo "export DD_URL=$DD_URL"

REF="file://$DESIGN"
say "Validating the design through the API"
run "$BIN/drydock" validatedesign "$DESIGN"

for action in prepare_site prepare_nodes deploy_nodes; do
    say "$action"
    run "$BIN/drydock" task create --design-ref "$REF" --action "$action" --block --poll-interval 0.5 -o json > "$WORK/$action.json"
    python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print("task %s: %s, result %s" % (t["task_id"], t["status"], t["result"]["status"]))' "$WORK/$action.json"
done

say "Per-node summary"
DEPLOY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["task_id"])' "$WORK/deploy_nodes.json")
run "$BIN/drydock" task show --task-id "$DEPLOY" --nodes

say "relabel_nodes: owner_data as Kubernetes labels, through Promenade"
run "$BIN/drydock" task create --design-ref "$REF" --action relabel_nodes --block --poll-interval 0.5 -o json > "$WORK/relabel_nodes.json"
python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print("task %s: %s, result %s" % (t["task_id"], t["status"], t["result"]["status"]))' "$WORK/relabel_nodes.json"
curl -fs "$SIM/_emulator/promenade/nodes" | python3 -c '
import json, sys
for node, labels in sorted(json.load(sys.stdin)["nodes"].items()):
    print("labels %s: %s" % (node, ", ".join("%s=%s" % kv for kv in sorted(labels.items()) if "kubernetes.io" not in kv[0])))'
echo
echo "Done in $(( $(date +%s) - started )) s: every node deployed, reported its boot actions and got its labels."
echo "The binaries are $SHOWN_BIN/drydock and $SHOWN_BIN/drydock-sim (cargo install --path drydock-http puts drydock on your PATH)."
