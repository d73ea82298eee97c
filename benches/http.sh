#!/usr/bin/env bash
# REST API throughput and latency of `drydock serve` (release build, memory
# store, noauth, API only) with wrk, beside the original's figures
# (shared/spec/baseline.md: uWSGI, wrk -t2 -c4 -d10s on loopback), and the
# time of POST /api/v1.0/validatedesign for a 10,000-node generated site.
# Then the task list under load (issue 17) on redb (the default store) and
# on PostgreSQL: 100 queued tasks with wrk -c32, 1,100 with -c64, and 1,100
# with -c64 while the store is being written (a design created after another,
# so shared pages keep going stale), with the server's CPU time per request
# and resident memory, beside the figures before issue 17 item 4 was done.
# PostgreSQL is the server DRYDOCK_TEST_PG names, or a throwaway one started
# as scripts/setup/postgres.sh does (DRYDOCK_BENCH_PG=0 skips it).
# Usage: benches/http.sh   (needs wrk: apt-get install wrk)
#        DRYDOCK_BIN=path/to/drydock benches/http.sh   (measure another build)
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${DRYDOCK_SHARED:-$(cd .. && pwd)/shared}"
target="${CARGO_TARGET_DIR:-target}"
command -v wrk >/dev/null || { echo "http.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
if [ -n "${DRYDOCK_BIN:-}" ]; then
    bin="$DRYDOCK_BIN"
else
    cargo build --quiet --release --locked -p drydock-http --bin drydock
    bin="$target/release/drydock"
fi
port="${DRYDOCK_BENCH_PORT:-19400}"
base="http://127.0.0.1:$port"
work="$target/bench-sites"
mkdir -p "$work"
cleanup_hooks=()
servers=()
trap 'kill "${servers[@]}" 2>/dev/null || true; for hook in "${cleanup_hooks[@]+"${cleanup_hooks[@]}"}"; do "$hook" || true; done' EXIT
RUST_LOG=warn "$bin" serve --auth noauth --listen "127.0.0.1:$port" --store memory --no-orchestrator --design-root "$work" >/dev/null 2>&1 &
server=$!
servers+=("$server")
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

# The task list under concurrent load (issue 17: one store read per page,
# no per-task round trips; a rendered page shared by the requests that may
# see it; memory bounded while many clients read).
list_port=$((port + 1))
list_base="http://127.0.0.1:$list_port"
list_server=""
start_list_server() { # store
    RUST_LOG=warn "$bin" serve --auth noauth --listen "127.0.0.1:$list_port" --store "$1" --no-orchestrator >/dev/null 2>&1 &
    list_server=$!
    servers+=("$list_server")
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "$list_base/api/v1.0/health" && return 0
        sleep 0.1
    done
    echo "http.sh: the server on $1 did not start" >&2
    exit 1
}
stop_list_server() {
    kill "$list_server" 2>/dev/null || true
    wait "$list_server" 2>/dev/null || true
}
queue() { # count: add that many queued validate_design tasks
    for _ in $(seq 1 "$1"); do
        curl -s -o /dev/null -X POST -H 'content-type: application/json' \
            -d '{"action":"validate_design","design_ref":"design://00000000-0000-0000-0000-000000000000"}' "$list_base/api/v1.0/tasks"
    done
}
mib() { awk -v key="$1:" '$1 == key {printf "%d", $2 / 1024}' "/proc/$list_server/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$list_server/stat"; }
# One wrk run against the list server: "req/s p50 p99 CPU-ms-per-request".
list_rate() { # connections
    local before after
    before=$(cpu_ticks)
    wrk -t2 -c"$1" -d10s --latency "$list_base/api/v1.0/tasks" >"$work/wrk.out"
    after=$(cpu_ticks)
    awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
        /Requests\/sec/ {rps=$2}
        /requests in/ {count=$1}
        $1=="50%" {p50=$2}
        $1=="99%" {p99=$2}
        END {printf "%s %s %s %.2f\n", rps, p50, p99, count ? ticks * 1000 / hz / count : 0}' "$work/wrk.out"
}
# Writes while wrk reads: designs created one after another.
writer() {
    while :; do curl -s -o /dev/null -X POST "$list_base/api/v1.0/designs"; done
}
list_row() { # label connections before
    local rps p50 p99 cpu
    read -r rps p50 p99 cpu < <(list_rate "$2")
    printf '%-40s %10s %9s %9s %8s %8s %8s   %s\n' "$1" "$rps" "$p50" "$p99" "$cpu" "$(mib VmRSS)" "$(mib VmHWM)" "$3"
}
list_rows() { # store name, before figures for the three rows
    printf '\n%-40s %10s %9s %9s %8s %8s %8s   %s\n' "task list, $1" "req/s" p50 p99 "CPU ms" "RSS MiB" "peak" \
        "before item 4 (req/s, p50, p99, CPU ms, RSS MiB)"
    queue 100
    list_row "GET /tasks, 100 tasks, -c32" 32 "$2"
    queue 1000
    list_row "GET /tasks, 1,100 tasks, -c64" 64 "$3"
    writer &
    local writing=$!
    list_row "GET /tasks, 1,100 tasks, -c64, writes" 64 "$4"
    kill "$writing" 2>/dev/null || true
    wait "$writing" 2>/dev/null || true
}
echo
echo "targets: 100 tasks >= 5,000 req/s on redb, >= 2,000 on PostgreSQL; 1,100 tasks at -c64 p99 <= 100 ms, RSS <= 200 MiB"

redb_file="$work/http-bench.redb"
rm -f "$redb_file"
start_list_server "redb:$redb_file"
list_rows "redb store" "2,250, 14ms, 23ms, 0.81, 75" "218, 288ms, 345ms, 8.52, 228" "210, 303ms, 342ms, 8.73, 231"
stop_list_server

if [ "${DRYDOCK_BENCH_PG:-1}" != 0 ]; then
    [ -n "${DRYDOCK_TEST_PG:-}" ] || source scripts/setup/postgres.sh
    command -v psql >/dev/null || { echo "http.sh: psql is needed for the PostgreSQL rows" >&2; exit 1; }
    database="drydock_http_bench_$$"
    psql -q "$DRYDOCK_TEST_PG" -c "CREATE DATABASE $database" >/dev/null
    drop_database() { psql -q "$DRYDOCK_TEST_PG" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null; }
    cleanup_hooks=(drop_database "${cleanup_hooks[@]+"${cleanup_hooks[@]}"}")
    start_list_server "${DRYDOCK_TEST_PG%/*}/$database"
    list_rows "PostgreSQL store" "1,060, 30ms, 45ms, 0.72, 36" "141, 446ms, 537ms, 6.55, 59" "146, 436ms, 516ms, 6.31, 66"
    stop_list_server
fi
