#!/usr/bin/env bash
# Users reach Drydock through OpenAPI-generated clients: generate a Python
# client from the committed openapi/drydock-v1.0.json with
# openapi-python-client (PyPI), install it, and use it against a live
# `drydock serve` (scripts/lib/live-server.sh, with its orchestrator): create
# a task, read it back until it completes, list tasks and list nodes.
# Usage: scripts/checks/openapi_client.sh   (needs python3 with venv, cargo)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-gen"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "openapi-python-client==0.29.1"
cargo build --quiet -p drydock-http --bin drydock -p drydock-sim --bin drydock-sim

# shellcheck source=scripts/lib/live-server.sh
source "$ROOT/scripts/lib/live-server.sh"
live_server_start

if ! "$VENV/bin/openapi-python-client" generate --path openapi/drydock-v1.0.json --output-path "$LIVE_DIR/client" > "$LIVE_DIR/generate.log" 2>&1; then
    cat "$LIVE_DIR/generate.log" >&2
    exit 1
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check "$LIVE_DIR/client"

"$VENV/bin/python" - "$LIVE_URL" "$LIVE_TOKEN" "file://$ROOT/examples/site.yaml" <<'PY'
import sys, time
from drydock_client import AuthenticatedClient
from drydock_client.api.nodes import get_api_v1_0_nodes
from drydock_client.api.tasks import get_api_v1_0_tasks, get_api_v1_0_tasks_task_id, post_api_v1_0_tasks
from drydock_client.models import Node, Task, TaskCreateRequest, TaskDetailType0, TaskDetailType1

url, token, design = sys.argv[1:4]
client = AuthenticatedClient(base_url=url, token=token)
created = post_api_v1_0_tasks.sync(client=client, body=TaskCreateRequest(action="validate_design", design_ref=design))
# Typed responses parse into the generated models (the document describes them).
assert isinstance(created, Task) and created.action == "validate_design" and created.result.status == "incomplete", created
task_id = created.task_id
deadline = time.time() + 60
while True:
    task = get_api_v1_0_tasks_task_id.sync(client=client, task_id=task_id)
    assert isinstance(task, TaskDetailType0), task
    if task.status in ("complete", "terminated") or time.time() > deadline:
        break
    time.sleep(0.2)
assert task.status == "complete" and task.result.status == "success", task
tree = get_api_v1_0_tasks_task_id.sync(client=client, task_id=task_id, layers="-1", subtaskerrors="true")
assert isinstance(tree, TaskDetailType1) and tree.init_task_id == task_id, tree
assert isinstance(tree[task_id], Task) and tree[task_id].action == "validate_design", tree
tasks = get_api_v1_0_tasks.sync(client=client)
assert all(isinstance(t, Task) for t in tasks) and any(t.task_id == task_id for t in tasks), tasks
nodes = get_api_v1_0_nodes.sync(client=client)
assert all(isinstance(n, Node) for n in nodes) and sorted(n.hostname for n in nodes) == sorted(
    ["cp-r01-n01", "cp-r01-n02", "cp-r02-n01", "cmp-r01-n03", "cmp-r02-n02", "cmp-r02-n03"]), nodes
print(f"generated client: task {task_id} complete/success, {len(tasks)} task(s), {len(nodes)} node(s) listed")
PY
