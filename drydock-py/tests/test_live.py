"""The client and the ``drydock_provisioner`` compatibility package against
a live ``drydock serve`` (token auth, in-memory store, its own orchestrator,
the MaaS driver pointed at a ``drydock-sim`` lab built from the example
site), used the way Airship Shipyard uses them: create a task, poll it to
the end, list tasks, validate a design, select nodes, list nodes, and a
refused token; the README's example as written; every answer against
the TypedDicts of ``drydock.types``."""

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest

import drydock
from conftest import ROOT
from drydock import types
from readme_example import readme_python_block
from shapes import assert_shape
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
         "--maas-api-url", info["maas_url"], "--design-root", str(ROOT / "examples")],
        env={**os.environ, "MAAS_API_KEY": info["api_key"]},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_for(process, port, "drydock serve")
    yield port, info
    for child in (process, lab):
        child.terminate()
        child.wait(timeout=10)


def wait(drydock, task_id, seconds=60):
    """Poll a task until it ends, as Shipyard does; returns it."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        task = drydock.get_task(task_id)
        if task["status"] in ("complete", "terminated"):
            return task
        time.sleep(0.2)
    pytest.fail(f"task {task_id} did not end: {task}")


def client(port, token=TOKEN):
    session = compat_session.DrydockSession("127.0.0.1", port=port, auth_gen=lambda: [("X-Auth-Token", token)])
    return compat_client.DrydockClient(session)


def test_a_task_runs_to_the_end_as_shipyard_polls_it(server):
    port, _ = server
    design = f"file://{ROOT / 'examples' / 'site.yaml'}"
    drydock = client(port)
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
    port, _ = server
    design = f"file://{ROOT / 'examples' / 'site.yaml'}"
    drydock = client(port)
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
        client(server[0], token="not-a-valid-token").get_tasks()


def test_the_readme_example_runs_as_written(server, tmp_path):
    """The README's Python block, verbatim, from the top of the checkout
    with DD_URL and DD_TOKEN set as the README says."""
    port, _ = server
    script = tmp_path / "readme_example.py"
    script.write_text(readme_python_block())
    run = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env={**os.environ, "DD_URL": f"http://127.0.0.1:{port}", "DD_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "True []", lines[0]
    assert "Success 0" in lines, run.stdout
    assert "validate_design complete success" in lines, run.stdout
    assert "['cp-r01-n01', 'cp-r01-n02', 'cmp-r01-n03', 'cp-r02-n01', 'cmp-r02-n02', 'cmp-r02-n03']" in lines, run.stdout
    assert lines[-1].endswith(" tasks") and int(lines[-1].split()[0]) >= 1, lines[-1]


def test_answers_have_the_shapes_of_the_stubs(server):
    """Each call's real answer against its TypedDict: every declared key
    there (optional ones aside), no undeclared key, each value of its
    type; a failed validation's body is a ValidationStatus too."""
    port, _ = server
    api = drydock.Client.from_url(f"http://127.0.0.1:{port}", token=TOKEN)
    design = f"file://{ROOT / 'examples' / 'site.yaml'}"
    task = api.create_task(design, "prepare_site")
    assert_shape(task, types.Task, "create_task")
    done = wait(api, task["task_id"])
    detail = api.get_task(done["task_id"], builddata=True, subtaskerrors=True)
    assert {"build_data", "subtask_errors"} <= detail.keys()
    assert_shape(detail, types.TaskDetail, "get_task")
    assert_shape(api.get_tasks(), list[types.Task], "get_tasks")
    tree = api.get_task(done["task_id"], layers=-1)
    assert tree.pop("init_task_id") == done["task_id"] and len(tree) == 1 + len(done["subtask_id_list"])
    assert_shape(tree, dict[str, types.Task], "get_task(layers=-1)")
    assert_shape(api.get_nodes(), list[types.Node], "get_nodes")
    assert_shape(api.validate_design(design), types.ValidationStatus, "validate_design")
    design_id = api.create_design()
    site = (ROOT / "examples" / "site.yaml").read_text()
    assert_shape(api.load_parts(design_id, site.replace("cidr: '10.20.0.0/24'", "cidr: '10.20.0.0/33'")), types.DesignPart)
    assert_shape(api.get_design(design_id), types.Design, "get_design")
    compiled = api.get_design(design_id, source="compiled")
    assert_shape(compiled, types.Design, "get_design(compiled)")
    assert compiled["validation"]["status"] == "Failure"
    with pytest.raises(drydock.ClientError) as refused:
        api.validate_design(f"design://{design_id}")
    assert refused.value.status_code == 400
    report = json.loads(str(refused.value).split(": ", 1)[1])
    assert_shape(report, types.ValidationStatus, "validate_design (failure)")
    errors = [message for message in report["details"]["messageList"] if message["error"]]
    assert errors and all(message.get("documents") for message in errors if "kind" in message), errors


def maas_get(info, path, **query):
    """A GET on the simulated MaaS with its OAuth PLAINTEXT key."""
    import requests

    consumer, token, secret = info["api_key"].split(":")
    header = (
        f'OAuth realm="OAuth", oauth_nonce="{int(time.time() * 1000)}", oauth_timestamp="{int(time.time())}", '
        f'oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key="{consumer}", '
        f'oauth_token="{token}", oauth_signature="%26{secret}"'
    )
    reply = requests.get(f"{info['maas_url']}/api/2.0/{path}", params=query, headers={"Authorization": header}, timeout=10)
    reply.raise_for_status()
    return reply.json()


def test_a_deployed_node_reports_its_boot_action_through_the_client(server):
    """deploy_nodes for one node through the API; the node's key comes from
    its MaaS tag, the action id from its rendered files; the report lands in
    the deploy task, and a second final status is refused."""
    import io
    import tarfile

    port, info = server
    design = f"file://{ROOT / 'examples' / 'site.yaml'}"
    drydock = client(port)
    only = {"filter_set_type": "union", "filter_set": [{"filter_type": "union", "node_names": ["cp-r01-n01"]}]}
    prepared = drydock.create_task(design, "prepare_site", None)
    wait(drydock, prepared["task_id"])
    deploy = drydock.create_task(design, "deploy_nodes", only)
    key = None
    deadline = time.time() + 60
    while key is None and time.time() < deadline:
        machine = maas_get(info, "machines/", hostname="cp-r01-n01")[0]
        key = next((tag.split("__baid__")[1] for tag in machine["tag_names"] if "__baid__" in tag), None)
        time.sleep(0.2)
    assert key, "the deploy step tagged the machine with its boot-action key"
    files = tarfile.open(fileobj=io.BytesIO(drydock.get_boot_action_assets("cp-r01-n01", key, "files")))
    seed = files.extractfile("/etc/synth/cp-seed.conf").read().decode()
    action_id = next(line.split("=", 1)[1] for line in seed.splitlines() if line.startswith("action="))
    row = drydock.report_boot_action(action_id, key, details=[{"message": "Bootaction starting execution.", "error": False}])
    assert row["action_status"] == "incomplete"
    row = drydock.report_boot_action(action_id, key, status="success", details=[{"message": "done", "error": False}])
    assert row["action_status"] == "success" and row["action_name"] == "control-plane-seed"
    assert_shape(row, types.BootActionStatus)
    with pytest.raises(compat_errors.ClientError) as again:
        drydock.report_boot_action(action_id, key, status="failure")
    assert again.value.status_code == 409
    with pytest.raises(compat_errors.ClientForbiddenError):
        drydock.report_boot_action(action_id, "00" * 32, status="success")
    tree = drydock.get_task(deploy["task_id"], layers=-1)
    text = json.dumps(tree)
    assert "control-plane-seed" in text and "cp-r01-n01" in text

