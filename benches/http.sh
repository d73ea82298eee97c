#!/usr/bin/env bash
# REST API throughput and latency of `drydock serve` (release build, memory
# store, noauth, API only) with wrk, beside the original's figures
# (shared/spec/baseline.md: uWSGI, wrk -t2 -c4 -d10s on loopback), and the
# time of POST /api/v1.0/validatedesign for a 10,000-node generated site.
# Then the task list under load on the default store (redb): 100 queued
# tasks with wrk -c32, 1,100 with -c64, with the server's resident memory
# (issue 17), beside the figures before the list was read in one store call.
# Usage: benches/http.sh   (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${DRYDOCK_SHARED:-$(cd .. && pwd)/shared}"
target="${CARGO_TARGET_DIR:-target}"
command -v wrk >/dev/null || { echo "http.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
cargo build --quiet --release --locked -p drydock-http --bin drydock
bin="$target/release/drydock"
port="${DRYDOCK_BENCH_PORT:-19400}"
base="http://127.0.0.1:$port"
work="$target/bench-sites"
mkdir -p "$work"
RUST_LOG=warn "$bin" serve --auth noauth --listen "127.0.0.1:$port" --store memory --no-orchestrator --design-root "$work" >/dev/null 2>&1 &
server=$!
redb_server=""
trap 'kill "$server" $redb_server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    curl -s -o /dev/null "$base/api/v1.0/health" && break
    sleep 0.1
done

site="$work/site-10000-250-42.yaml"
[ -s "$site" ] || python3 "$shared/tools/gen_site.py" --nodes 10000 --racks 250 --seed 42 --out "$site" >/dev/null 2>&1
small="$work/site-10-2-42.yaml"
[ -s "$small" ] || python3 "$shared/tools/gen_site.py" --nodes 10 --racks 2 --seed 42 --out "$small" >/dev/null 2>&1
site=$(realpath "$site")
small=$(realpath "$small")

rate() { # url [connections] → "req/s p50 p99"
    wrk -t2 -c"${2:-4}" -d10s --latency "$1" | awk '
        /Requests\/sec/ {rps=$2}
        $1=="50%" {p50=$2}
        $1=="99%" {p99=$2}
        END {printf "%s %s %s\n", rps, p50, p99}'
}

printf '%-34s %10s %9s %9s   %s\n' request "req/s" p50 p99 "original (req/s, p50, p99)"
read -r rps p50 p99 < <(rate "$base/versions")
printf '%-34s %10s %9s %9s   %s\n' "GET /versions" "$rps" "$p50" "$p99" "~5,100, 0.55ms, 3.7ms"
read -r rps p50 p99 < <(rate "$base/api/v1.0/tasks")
printf '%-34s %10s %9s %9s   %s\n' "GET /api/v1.0/tasks, 0 tasks" "$rps" "$p50" "$p99" "~1,250, 2.6ms, 53.5ms"
for i in $(seq 1 100); do
    curl -s -o /dev/null -X POST -H 'content-type: application/json' \
        -d "{\"action\":\"deploy_nodes\",\"design_ref\":\"file://$small\",\"node_filter\":{\"filter_set_type\":\"union\",\"filter_set\":[{\"filter_type\":\"union\",\"node_names\":[\"n$i\"]}]}}" \
        "$base/api/v1.0/tasks"
done
count=$(curl -s "$base/api/v1.0/tasks" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$count" = 100 ] || { echo "http.sh: expected 100 tasks, found $count" >&2; exit 1; }
read -r rps p50 p99 < <(rate "$base/api/v1.0/tasks")
printf '%-34s %10s %9s %9s   %s\n' "GET /api/v1.0/tasks, 100 tasks" "$rps" "$p50" "$p99" "~80, 41ms, 141ms (target >= 4,000)"
read -r rps p50 p99 < <(rate "$base/api/v1.0/health")
printf '%-34s %10s %9s %9s   %s\n' "GET /api/v1.0/health" "$rps" "$p50" "$p99" "~290, 12.5ms, 70.8ms (target >= 20,000)"

body="{\"rel\":\"design\",\"href\":\"file://$site\",\"type\":\"application/x-yaml\"}"
validate() {
    curl -s -o /tmp/drydock-bench-validate.json -w '%{http_code} %{time_total}\n' -X POST \
        -H 'content-type: application/json' -d "$body" "$base/api/v1.0/validatedesign"
}
read -r code cold < <(validate)
[ "$code" = 200 ] || { echo "http.sh: validatedesign answered $code" >&2; head -c 600 /tmp/drydock-bench-validate.json >&2; exit 1; }
read -r _ warm < <(validate)
printf '%-34s %10s %9s %9s   %s\n' "POST validatedesign, 10,000 nodes" "" "${cold}s" "" "18.9 s (target <= 0.5 s); same content again: ${warm}s"

# The task list on redb under concurrent load (issue 17: one store read per
# page, no per-task round trips; memory bounded while many clients read).
redb_port=$((port + 1))
redb_base="http://127.0.0.1:$redb_port"
redb_file="$work/http-bench.redb"
rm -f "$redb_file"
RUST_LOG=warn "$bin" serve --auth noauth --listen "127.0.0.1:$redb_port" --store "redb:$redb_file" --no-orchestrator >/dev/null 2>&1 &
redb_server=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null "$redb_base/api/v1.0/health" && break
    sleep 0.1
done
queue() { # count: add that many queued validate_design tasks
    for _ in $(seq 1 "$1"); do
        curl -s -o /dev/null -X POST -H 'content-type: application/json' \
            -d '{"action":"validate_design","design_ref":"design://00000000-0000-0000-0000-000000000000"}' "$redb_base/api/v1.0/tasks"
    done
}
mib() { awk -v key="$1:" '$1 == key {printf "%d", $2 / 1024}' "/proc/$redb_server/status"; }
printf '\n%-34s %10s %9s %9s %8s %8s   %s\n' "task list, redb store" "req/s" p50 p99 "RSS MiB" "peak" "before issue 17 item 4 (req/s, p99, RSS)"
queue 100
read -r rps p50 p99 < <(rate "$redb_base/api/v1.0/tasks" 32)
printf '%-34s %10s %9s %9s %8s %8s   %s\n' "GET /tasks, 100 tasks, -c32" "$rps" "$p50" "$p99" "$(mib VmRSS)" "$(mib VmHWM)" \
    "~370, 195ms, 1,090 MiB (target >= 5,000 req/s)"
queue 1000
read -r rps p50 p99 < <(rate "$redb_base/api/v1.0/tasks" 64)
printf '%-34s %10s %9s %9s %8s %8s   %s\n' "GET /tasks, 1,100 tasks, -c64" "$rps" "$p50" "$p99" "$(mib VmRSS)" "$(mib VmHWM)" \
    "~30, 2s (wrk timeouts), 1,590 MiB (target p99 <= 100ms, RSS <= 200 MiB)"
