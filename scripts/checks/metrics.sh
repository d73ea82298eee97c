#!/usr/bin/env bash
# The /metrics exposition, checked with Prometheus's own Python parser
# (prometheus_client from PyPI, pinned): a live `drydock serve`
# (scripts/lib/live-server.sh: token auth, in-memory store, orchestrator
# running, MaaS on a drydock-sim lab) started with --metrics-anonymous runs
# validate_design, prepare_site and prepare_nodes; then /metrics is scraped
# without credentials as OpenMetrics (strict parser) and as the Prometheus
# text format 0.0.4, and both must parse with the expected families and
# moved counters. The API itself still refuses an anonymous caller.
# Usage: scripts/checks/metrics.sh   (needs python3 with venv, cargo, curl)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-metrics"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "prometheus-client==0.26.0"
cargo build --quiet -p drydock-http --bin drydock -p drydock-sim --bin drydock-sim

# shellcheck source=scripts/lib/live-server.sh
source "$ROOT/scripts/lib/live-server.sh"
live_server_start --metrics-anonymous --poll-interval 200ms --status-poll 100ms

auth=(-H "Authorization: Bearer $LIVE_TOKEN")
status=$(curl -s -o /dev/null -w '%{http_code}' "$LIVE_URL/api/v1.0/tasks")
[ "$status" = 401 ] || { echo "metrics: the task list answered $status to an anonymous caller (want 401)" >&2; exit 1; }

for action in validate_design prepare_site prepare_nodes; do
    id=$(curl -fsS "${auth[@]}" -H 'Content-Type: application/json' \
        -d "{\"action\": \"$action\", \"design_ref\": \"file://$ROOT/examples/site.yaml\"}" "$LIVE_URL/api/v1.0/tasks" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["task_id"])')
    result=""
    for _ in $(seq 600); do
        result=$(curl -fsS "${auth[@]}" "$LIVE_URL/api/v1.0/tasks/$id" |
            python3 -c 'import json,sys; t=json.load(sys.stdin); print(t["result"]["status"] if t["status"] == "complete" else "")')
        [ -n "$result" ] && break
        sleep 0.1
    done
    [ "$result" = success ] || { echo "metrics: $action ended with ${result:-nothing}" >&2; cat "$LIVE_DIR/serve.log" >&2; exit 1; }
done

curl -fsS -H 'Accept: application/openmetrics-text; version=1.0.0' -D "$LIVE_DIR/om.headers" "$LIVE_URL/metrics" > "$LIVE_DIR/metrics.om"
curl -fsS -D "$LIVE_DIR/prom.headers" "$LIVE_URL/metrics" > "$LIVE_DIR/metrics.prom"
grep -qi '^content-type: application/openmetrics-text; version=1.0.0' "$LIVE_DIR/om.headers"
grep -qi '^content-type: text/plain; version=0.0.4' "$LIVE_DIR/prom.headers"

"$VENV/bin/python" - "$LIVE_DIR/metrics.om" "$LIVE_DIR/metrics.prom" <<'EOF'
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families as prometheus_families


def parse(name, parser, path):
    with open(path) as handle:
        text = handle.read()
    try:
        families = {family.name: family for family in parser(text)}
    except Exception as error:  # any parse error fails the check
        sys.exit(f"metrics: {name} exposition does not parse: {error}")
    return families


def value(families, family, sample, **labels):
    for found in families[family].samples:
        if found.name == sample and all(found.labels.get(key) == want for key, want in labels.items()):
            return found.value
    sys.exit(f"metrics: no {sample}{labels} in {family}")


for name, parser, path in (("OpenMetrics", openmetrics_families, sys.argv[1]), ("Prometheus text", prometheus_families, sys.argv[2])):
    families = parse(name, parser, path)
    # The Prometheus text parser names counters without _total.
    for family, kind in {
        "drydock_build": "info" if name == "OpenMetrics" else None,
        "drydock_tasks_created": "counter",
        "drydock_tasks_finished": "counter",
        "drydock_task_duration_seconds": "histogram",
        "drydock_tasks_queued": "gauge",
        "drydock_tasks_running": "gauge",
        "drydock_node_step_duration_seconds": "histogram",
        "drydock_site_step_duration_seconds": "histogram",
        "drydock_driver_call_duration_seconds": "histogram",
        "drydock_store_operation_duration_seconds": "histogram",
        "drydock_scheduler_admitted": "counter",
        "drydock_scheduler_lease_holders": "gauge",
        "drydock_orchestrator_running": "gauge",
        "drydock_http_request_duration_seconds": "histogram",
    }.items():
        if kind is None:
            continue
        if family not in families:
            sys.exit(f"metrics: {name}: no family {family} (have {sorted(families)})")
        if families[family].type != kind:
            sys.exit(f"metrics: {name}: {family} is a {families[family].type}, want {kind}")
    for action in ("validate_design", "prepare_site", "prepare_nodes"):
        assert value(families, "drydock_tasks_created", "drydock_tasks_created_total", action=action) == 1, action
        assert value(families, "drydock_tasks_finished", "drydock_tasks_finished_total", action=action, result="success") == 1, action
        assert value(families, "drydock_task_duration_seconds", "drydock_task_duration_seconds_count", action=action, result="success") == 1
    assert value(families, "drydock_node_step_duration_seconds", "drydock_node_step_duration_seconds_count",
                 step="identify_node", outcome="done") == 6
    assert value(families, "drydock_driver_call_duration_seconds", "drydock_driver_call_duration_seconds_count",
                 driver="maas", operation="identify", outcome="ok") >= 6
    assert value(families, "drydock_store_operation_duration_seconds", "drydock_store_operation_duration_seconds_count",
                 backend="memory", operation="task_update", outcome="ok") > 0
    assert value(families, "drydock_http_request_duration_seconds", "drydock_http_request_duration_seconds_count",
                 method="POST", route="/api/v1.0/tasks", status="201") == 3
    assert value(families, "drydock_scheduler_admitted", "drydock_scheduler_admitted_total", how="started") == 3
    print(f"metrics: {name}: {len(families)} families parse, counters and histograms moved")
EOF
echo "metrics: /metrics parses with prometheus_client 0.26.0 in both formats"
