"""The whole system as separate processes with real peers (issue 11).

``drydock serve`` on PostgreSQL; ``drydock-sim`` serving MaaS, whose
machines run their cloud-init user data when deployed (so the boot-action
agent really reports back); half the nodes' BMCs are ``ipmi_sim`` processes
(OpenIPMI) and the other half ``sushy-emulator`` processes (Redfish). A
20-node ``gen_site.py`` design is created, validated and deployed through the
HTTP API with the Python client, with the server SIGKILLed in the middle of
the deployment and restarted; then two and three servers share the
database and its tasks (issue 17): deployments over disjoint node groups
spread over the servers, one server is SIGKILLed mid-deployment, its tasks
finish on the others within the task lease and a poll, and every machine
is deployed exactly once.

Run by ``scripts/checks/system.sh`` (which provides PostgreSQL, the peers,
the binaries and the Python packages).
"""

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from drydock import client as dd

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path(os.environ.get("DRYDOCK_SHARED", ROOT.parent / "shared"))
TOKEN = "system-test-token-5b0c1d7e9f2a4c68"
NODES = 20
GRACE_S = 4  # --leader-grace-period: the task lease
POLL_S = 0.5  # --poll-interval


def need(variable):
    value = os.environ.get(variable)
    if not value:
        pytest.fail(f"{variable} is not set (run scripts/checks/system.sh)")
    return value


def free_tcp_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def until(what, predicate, seconds, interval=0.25):
    """Poll ``predicate`` until it returns something truthy; that value."""
    deadline = time.time() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            pytest.fail(f"timed out after {seconds} s waiting for {what}")
        time.sleep(interval)


def design_text(ipmi_ports, sushy_urls):
    """A gen_site.py design whose nodes' BMCs are the test's peers: even
    nodes on ipmi_sim (``oob.address``/``oob.port``), odd ones on
    sushy-emulator (``type: redfish``, ``redfish_url``). Returns the text and
    the node names in design order."""
    generated = subprocess.run(
        ["python3", str(SHARED / "tools" / "gen_site.py"), "--nodes", str(NODES), "--racks", "2", "--seed", "11"],
        check=True, capture_output=True, text=True,
    ).stdout
    documents = generated.split("\n---\n")
    names = []
    index = 0
    for number, document in enumerate(documents):
        if "schema: drydock/BaremetalNode/v1" not in document:
            continue
        if index % 2 == 0:
            oob = f"  oob:\n    type: ipmi\n    address: '127.0.0.1'\n    port: '{ipmi_ports[index // 2]}'\n"
        else:
            oob = f"  oob:\n    type: redfish\n    redfish_url: '{sushy_urls[index // 2]}'\n"
        oob += "    account: admin\n    credential: password\n"
        replaced, count = re.subn(r"  oob:\n    account: .*\n    credential: .*\n", oob, document)
        assert count == 1, f"node document {index} has no oob block to replace"
        documents[number] = replaced
        names.append(re.search(r"\n  name: (\S+)\n", document).group(1))
        index += 1
    assert index == NODES
    return "\n---\n".join(documents), names


class Process:
    """A child process with its output in a log file."""

    def __init__(self, name, argv, log_dir, env=None, new_session=False, stdout=None):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            argv, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
            stdout=stdout if stdout is not None else self.log, stderr=self.log, start_new_session=new_session,
        )

    def text(self):
        return self.log_path.read_text(errors="replace")

    def kill(self, sig=signal.SIGKILL):
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        self.popen.wait(timeout=30)

    def stop(self):
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()


class Lab:
    """The simulated MaaS with its ipmi_sim and sushy BMCs, the database,
    and the servers started against them."""

    def __init__(self, work):
        self.work = work
        self.exe = need("DRYDOCK_BIN")
        self.servers = []
        pg = need("DRYDOCK_TEST_PG")
        database = f"drydock_system_{os.getpid()}"
        subprocess.run(["psql", "-q", pg, "-c", f"CREATE DATABASE {database}"], check=True)
        self.drop_database = ["psql", "-q", pg, "-c", f"DROP DATABASE IF EXISTS {database}"]
        self.pg_url = pg.rsplit("/", 1)[0] + f"/{database}"
        ipmi_ports = [free_udp_port() for _ in range(NODES // 2)]
        sushy_ports = [free_tcp_port() for _ in range(NODES // 2)]
        self.text, names = design_text(ipmi_ports, [f"http://127.0.0.1:{port}" for port in sushy_ports])
        self.names = names
        self.design = work / "site.yaml"
        self.design.write_text(self.text)
        self.design_ref = f"file://{self.design}"
        scenario = work / "lab.json"
        scenario.write_bytes(
            subprocess.run([self.exe, "lab", "scenario", "--phase-ms", "1500", str(self.design)], check=True, capture_output=True).stdout
        )
        # The machines are not in MaaS yet: each enlists when its real BMC
        # powers it on with PXE (the peers report power changes to the lab's
        # BMC of the same name).
        argv = [need("DRYDOCK_SIM_BIN"), "--scenario", str(scenario), "--boot-root", str(work / "nodes")]
        argv += [flag for i, port in enumerate(ipmi_ports) for flag in ("--ipmi-sim", f"{port}={names[2 * i]}-bmc")]
        argv += [flag for i, port in enumerate(sushy_ports) for flag in ("--sushy", f"{port}={names[2 * i + 1]}-bmc")]
        # Its own process group: the BMC peers it starts go with it.
        self.sim = Process("drydock-sim", argv, work, new_session=True, stdout=subprocess.PIPE)
        line = self.sim.popen.stdout.readline()
        if not line:
            pytest.fail(f"drydock-sim did not start: {self.sim.text()}")
        self.info = json.loads(line)
        self.tokens = work / "tokens.toml"
        self.tokens.write_text(f'[[token]]\ntoken = "{TOKEN}"\nuser = "shipyard"\nroles = ["admin"]\n')
        # Nodes report to this port; the first server and its restart use it.
        self.report_port = free_tcp_port()

    def server(self, name, port, extra=()):
        report_url = f"http://127.0.0.1:{self.report_port}/api/v1.0/bootactions/"
        argv = [
            self.exe, "serve", "--listen", f"127.0.0.1:{port}", "--store", self.pg_url, "--auth", "token",
            "--token-file", str(self.tokens), "--maas-api-url", self.info["maas_url"], "--redfish-use-ssl", "false",
            "--design-root", str(self.work),
            "--bootaction-report-url", report_url, "--poll-interval", f"{int(POLL_S * 1000)}ms",
            "--leader-grace-period", f"{GRACE_S}s", "--status-poll", "1s", "--power-poll", "500ms",
            # A node that never reports fails the deployment within the test's wait.
            "--bootaction-final-status-timeout", "2m", *extra,
        ]
        process = Process(name, argv, self.work, env={"MAAS_API_KEY": self.info["api_key"], "RUST_LOG": "info", "NO_COLOR": "1"})
        self.servers.append(process)

        def healthy():
            if process.popen.poll() is not None:
                pytest.fail(f"{name} exited: {process.text()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1.0/health", timeout=1) as answer:
                    return answer.status == 204 or answer.status == 200
            except OSError:
                return False

        until(f"{name} to serve", healthy, 30, 0.1)
        return process

    def deploy_requests(self):
        """How many times each machine (by hostname) was asked to deploy
        since the request log was last cleared."""
        with urllib.request.urlopen(f"{self.info['control_url']}/requests", timeout=5) as answer:
            requests = json.load(answer)
        hostname = {machine["system_id"]: name for name, machine in self.machines().items()}
        counts = {}
        for request in requests:
            found = re.fullmatch(r"/MAAS/api/2\.0/machines/([^/]+)/", request["path"])
            if request["method"] == "POST" and request.get("op") == "deploy" and found:
                name = hostname.get(found.group(1), found.group(1))
                counts[name] = counts.get(name, 0) + 1
        return counts

    def clear_requests(self):
        request = urllib.request.Request(f"{self.info['control_url']}/requests", method="DELETE")
        with urllib.request.urlopen(request, timeout=5):
            pass

    def machines(self):
        with urllib.request.urlopen(f"{self.info['control_url']}/state", timeout=5) as answer:
            return {machine["hostname"]: machine for machine in json.load(answer)["machines"]}

    def close(self):
        for process in self.servers:
            process.stop()
        if self.sim.popen.poll() is None:
            os.killpg(self.sim.popen.pid, signal.SIGTERM)
            try:
                self.sim.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.sim.popen.pid, signal.SIGKILL)
                self.sim.popen.wait()
        self.sim.log.close()
        subprocess.run(self.drop_database, check=False)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("system"))
    yield lab
    lab.close()


def client(port):
    return dd.Client(dd.Session("127.0.0.1", port=port, auth_gen=lambda: [("X-Auth-Token", TOKEN)], timeout=(5, 30)))


def tree(drydock, task_id):
    return drydock.get_task(task_id, layers=-1)


def finished(drydock, task_id, seconds):
    def ended():
        task = drydock.get_task(task_id)
        return task if task["status"] in ("complete", "terminated") else None

    return until(f"task {task_id} to end", ended, seconds, 0.5)


def messages(task):
    return task.get("result", {}).get("details", {}).get("messageList", [])


def signalling_actions(text):
    """Per node, the signalling boot actions that target it (the design read
    with the Python module, each action's node filter selected)."""
    import drydock

    site = drydock.loads(text, name="site.yaml")
    expected = {}
    for action in site.boot_actions:
        if not action.signaling:
            continue
        spec = action.to_dict()["node_filter"]
        api_filter = {
            "filter_set_type": spec["filter_set_type"].lower(),
            "filter_set": [
                {key: (value.lower() if key == "filter_type" else value) for key, value in item.items() if value is not None}
                for item in spec["filter_set"]
            ],
        }
        for node in site.select(api_filter):
            expected.setdefault(node, set()).add(action.name)
    return expected


def test_a_design_is_created_validated_and_deployed_through_a_server_kill(lab):
    port = lab.report_port
    server = lab.server("server-1", port)
    drydock = client(port)

    design_id = drydock.create_design()
    assert design_id in drydock.get_design_ids()
    part = drydock.load_parts(design_id, lab.text)
    assert part["bytes"] == len(lab.text.encode())
    compiled = drydock.get_design(design_id, source="compiled")
    assert len(compiled["nodes"]) == NODES
    report = drydock.validate_design(lab.design_ref)
    assert report["status"] == "Success", report
    assert not [m for m in report["details"]["messageList"] if m["error"]], report

    for action in ("prepare_site", "prepare_nodes"):
        task = finished(drydock, drydock.create_task(lab.design_ref, action)["task_id"], 240)
        assert (task["status"], task["result"]["status"]) == ("complete", "success"), json.dumps(tree(drydock, task["task_id"]), indent=1)

    # Commissioning collected build data, readable per node (and as the CLI's node builddata).
    first = sorted(lab.machines())[0]
    records = drydock.get_node_build_data(first)
    assert records and all(record["node_name"] == first for record in records), records
    builddata = subprocess.run(
        [lab.exe, "node", "builddata", first, "-o", "json", "--url", f"http://127.0.0.1:{port}", "--token", TOKEN],
        capture_output=True, text=True, check=False,
    )
    assert builddata.returncode == 0 and json.loads(builddata.stdout) == records, builddata.stderr

    # prepare_nodes set PXE and power-cycled every node through its real BMC.
    for bmc in lab.info["ipmi_sim"]:
        events = (pathlib.Path(bmc["state_dir"]) / "events.log").read_text()
        assert "set boot pxe" in events and "set power 1" in events, events
    for bmc in lab.info["sushy"]:
        assert pathlib.Path(bmc["logins_file"]).read_text().strip(), f"nobody logged in to {bmc['url']}"

    deploy = drydock.create_task(lab.design_ref, "deploy_nodes")["task_id"]
    until("a machine to be deploying", lambda: any(m["status_name"] == "Deploying" for m in lab.machines().values()), 240, 0.2)
    before = tree(drydock, deploy)
    server.kill(signal.SIGKILL)
    assert server.popen.returncode == -signal.SIGKILL

    restarted = lab.server("server-1-restarted", port)
    task = finished(drydock, deploy, 420)
    after = tree(drydock, deploy)
    assert (task["status"], task["result"]["status"]) == ("complete", "success"), json.dumps(after, indent=1)
    assert "resuming a task whose runner stopped" in restarted.text()

    # Nothing recorded before the kill is lost.
    for task_id, old in before.items():
        if task_id == "init_task_id":
            continue
        assert task_id in after, f"task {task_id} ({old['action']}) vanished"
        new = after[task_id]
        kept = {(m["ts"], m["context"], m["message"]) for m in messages(new)}
        lost = [m for m in messages(old) if (m["ts"], m["context"], m["message"]) not in kept]
        assert not lost, f"messages of {old['action']} lost: {lost}"
        for key in ("successes", "failures"):
            assert set(old["result"].get(key, [])) <= set(new["result"].get(key, [])), (old["action"], key)

    # Every node is deployed and reported each of its signalling boot actions.
    machines = lab.machines()
    assert sorted(m["status_name"] for m in machines.values()) == ["Deployed"] * NODES
    reported = {}
    for sub in after.values():
        if isinstance(sub, dict):
            for message in messages(sub):
                found = re.fullmatch(r"Boot action (\S+) completed with status (\w+)", message["message"])
                if found:
                    assert found.group(2) == "success", message
                    reported.setdefault(message["context"], set()).add(found.group(1))
    assert reported == signalling_actions(lab.text)
    for node in machines:
        boot = json.loads((lab.work / "nodes" / node / ".sim" / "boot.json").read_text())
        assert boot["ok"], boot
    restarted.stop()


def started_by(process):
    """The ids of the tasks a server's log says it started or resumed."""
    text = process.text()
    return set(re.findall(r"task started task_id=(\S+)", text)) | set(re.findall(r"resuming a task whose runner stopped \(its lease lapsed\) task_id=(\S+)", text))


def node_filter(names):
    return {"filter_set_type": "union", "filter_set": [{"filter_type": "union", "node_names": names}]}


@pytest.mark.parametrize("replicas", [2, 3])
def test_servers_sharing_a_database_share_tasks_and_survive_a_kill(lab, replicas):
    ports = [lab.report_port] + [free_tcp_port() for _ in range(replicas - 1)]
    # Two tasks at a time each, so the tasks must spread over the servers.
    servers = [lab.server(f"replica-{replicas}-{i}", port, ["--max-concurrent-tasks", "2"]) for i, port in enumerate(ports)]
    drydock = client(ports[0])

    # From whatever the previous test left: every machine Ready.
    if any(m["status_name"] != "Ready" for m in lab.machines().values()):
        reset = finished(drydock, drydock.create_task(lab.design_ref, "destroy_nodes")["task_id"], 300)
        assert (reset["status"], reset["result"]["status"]) == ("complete", "success"), json.dumps(tree(drydock, reset["task_id"]), indent=1)
    assert sorted(m["status_name"] for m in lab.machines().values()) == ["Ready"] * NODES
    lab.clear_requests()

    groups = [lab.names[i::2 * replicas] for i in range(2 * replicas)]
    task_ids = [drydock.create_task(lab.design_ref, "deploy_nodes", node_filter(group))["task_id"] for group in groups]
    group_of = dict(zip(task_ids, groups))

    def spread():
        runners = [started_by(server) & set(task_ids) for server in servers]
        return runners if all(runners) else None

    runners = until("every server to run a task", spread, 120, 0.2)
    # The victim is not the server the nodes report to; it must be deploying.
    victim = 1
    victim_tasks = runners[victim]
    victim_nodes = {node for task_id in victim_tasks for node in group_of[task_id]}
    until(
        "a machine of the victim's tasks to be deploying",
        lambda: any(m["status_name"] == "Deploying" for name, m in lab.machines().items() if name in victim_nodes),
        240, 0.2,
    )
    victim_tasks = started_by(servers[victim]) & set(task_ids)
    unfinished = {task_id for task_id in victim_tasks if drydock.get_task(task_id)["status"] not in ("complete", "terminated")}
    assert unfinished, "the victim's tasks all ended before the kill"
    servers[victim].kill(signal.SIGKILL)
    killed = time.time()
    survivors = [server for i, server in enumerate(servers) if i != victim]

    def resumed():
        taken = set()
        for server in survivors:
            taken |= set(re.findall(r"resuming a task whose runner stopped \(its lease lapsed\) task_id=(\S+)", server.text()))
        return taken >= unfinished

    until("the survivors to take the victim's tasks over", resumed, GRACE_S + 15, 0.1)
    took = time.time() - killed
    assert took <= GRACE_S + POLL_S + 2, f"takeover took {took:.1f} s (task lease {GRACE_S} s, poll {POLL_S} s)"

    for task_id in task_ids:
        task = finished(drydock, task_id, 420)
        assert (task["status"], task["result"]["status"]) == ("complete", "success"), json.dumps(tree(drydock, task_id), indent=1)
    assert sorted(m["status_name"] for m in lab.machines().values()) == ["Deployed"] * NODES
    assert lab.deploy_requests() == {name: 1 for name in lab.names}, "every machine is deployed exactly once"
    for server in survivors:
        server.stop()
