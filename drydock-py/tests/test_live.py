"""The client and the ``drydock_provisioner`` compatibility package against
a live ``drydock serve`` (token auth, in-memory store, its own orchestrator,
the MaaS driver pointed at a ``drydock-sim`` lab built from the example
site), used the way Airship Shipyard uses them: create a task, poll it to
the end, list tasks, validate a design, select nodes, list nodes, and a
refused token."""

import json

import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from drydock_provisioner.drydock_client import client as compat_client
from drydock_provisioner.drydock_client import exceptions as compat_errors
from drydock_provisioner.drydock_client import session as compat_session

TOKEN = "live-test-token-0123456789abcdef"


def binary(variable="DRYDOCK_BIN", name="drydock"):
    path = os.environ.get(variable) or str(ROOT / "target" / "debug" / name)
    if not pathlib.Path(path).is_file():
        message = f"{name} binary not found at {path} (set {variable})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        print(f"SKIPPED: {message}", file=sys.stderr)
        pytest.skip(message)
    return path


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(process, port, what):
    deadline = time.time() + 30
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited: {process.stderr.read().decode()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{what} does not listen on {port}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    exe, sim = binary(), binary("DRYDOCK_SIM_BIN", "drydock-sim")
    work = tmp_path_factory.mktemp("live")
    scenario = work / "scenario.json"
    scenario.write_bytes(subprocess.run([exe, "lab", "scenario", "--enlisted", str(ROOT / "examples" / "site.yaml")], check=True, capture_output=True).stdout)
    lab = subprocess.Popen([sim, "--scenario", str(scenario), "--instant"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    info = json.loads(lab.stdout.readline())
    tokens = work / "tokens.toml"
    tokens.write_text(f'[[token]]\ntoken = "{TOKEN}"\nuser = "shipyard"\nroles = ["admin"]\n')
    port = free_port()
    process = subprocess.Popen(
        [exe, "serve", "--listen", f"127.0.0.1:{port}", "--store", "memory", "--auth", "token", "--token-file", str(tokens),
         "--maas-api-url", info["maas_url"]],
        env={**os.environ, "MAAS_API_KEY": info["api_key"]},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_for(process, port, "drydock serve")
    yield port
    for child in (process, lab):
        child.terminate()
        child.wait(timeout=10)


def client(port, token=TOKEN):
    session = compat_session.DrydockSession("127.0.0.1", port=port, auth_gen=lambda: [("X-Auth-Token", token)])
    return compat_client.DrydockClient(session)


def test_a_task_runs_to_the_end_as_shipyard_polls_it(server):
    design = f"file://{ROOT / 'examples' / 'site.yaml'}"
    drydock = client(server)
    task = drydock.create_task(design, "validate_design", None)
    task_id = task["task_id"]
    assert task["action"] == "validate_design"
    deadline = time.time() + 60
    while time.time() < deadline:
        task = drydock.get_task(task_id)
        if task["status"] in ("complete", "terminated"):
            break
        time.sleep(0.2)
    assert task["status"] == "complete", task
    assert task["result"]["status"] == "success", task["result"]
    assert any(t["task_id"] == task_id for t in drydock.get_tasks())
    full = drydock.get_task(task_id, subtaskerrors=True, layers=-1)
    assert full.get("subtask_errors") == {}


def test_validation_and_node_selection(server):
    design = f"file://{ROOT / 'examples' / 'site.yaml'}"
    drydock = client(server)
    report = drydock.validate_design(design)
    assert report["status"].lower() == "success", report
    selected = drydock.get_nodes_for_filter(
        design, {"filter_set_type": "union", "filter_set": [{"filter_type": "union", "node_names": ["cp-r01-n01"]}]}
    )
    assert selected == ["cp-r01-n01"]
    nodes = drydock.get_nodes()
    assert sorted(node["hostname"] for node in nodes) == sorted(
        ["cp-r01-n01", "cp-r01-n02", "cp-r02-n01", "cmp-r01-n03", "cmp-r02-n02", "cmp-r02-n03"]
    )
    assert all(node["status_name"] == "Ready" and node["power_address"] for node in nodes), nodes


def test_a_refused_token_is_an_unauthorized_error(server):
    with pytest.raises(compat_errors.ClientUnauthorizedError):
        client(server, token="not-a-valid-token").get_tasks()
