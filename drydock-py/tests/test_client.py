"""``drydock.client`` and the ``drydock_provisioner.drydock_client``
compatibility package against a small recording HTTP server: URLs, query
strings, JSON bodies, headers, the single re-authentication on 401, and the
error classes. (The live-server test is in test_live.py.)"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from drydock_provisioner.drydock_client import client as compat_client
from drydock_provisioner.drydock_client import exceptions as compat_errors
from drydock_provisioner.drydock_client import session as compat_session


class Recorder(BaseHTTPRequestHandler):
    seen = []
    refuse_first = {"count": 0}

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        Recorder.seen.append({"method": self.command, "path": self.path, "token": self.headers.get("X-Auth-Token"),
                              "marker": self.headers.get("X-Context-Marker"), "type": self.headers.get("Content-Type"), "body": body})
        if self.path.startswith("/api/v1.0/forbidden"):
            return self._send(403, {"message": "no"})
        if self.path.startswith("/api/v1.0/tasks/missing"):
            return self._send(404, {"message": "Task not found"})
        if self.headers.get("X-Auth-Token") == "stale":
            return self._send(401, {"message": "expired"})
        if self.command == "POST" and self.path == "/api/v1.0/tasks":
            return self._send(201, {"task_id": "11111111-2222-3333-4444-555555555555", **json.loads(body)})
        return self._send(200, {"path": self.path})

    def _send(self, code, payload):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer


@pytest.fixture()
def server():
    Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()


def test_calls_and_bodies_match_the_original_client(server):
    tokens = iter(["stale", "fresh", "fresh2"])
    session = compat_session.DrydockSession("127.0.0.1", port=server, auth_gen=lambda: [("X-Auth-Token", next(tokens))], marker="m-1")
    client = compat_client.DrydockClient(session)
    task = client.create_task("file:///site.yaml", "deploy_nodes", node_filter=None)
    assert task["action"] == "deploy_nodes" and task["node_filter"] is None
    first, retried = Recorder.seen[0], Recorder.seen[1]
    assert (first["token"], retried["token"]) == ("stale", "fresh"), "one re-authentication after the 401"
    assert retried["type"] == "application/json" and retried["marker"] == "m-1"
    client.get_task("abc", builddata=True, layers=2)
    assert Recorder.seen[-1]["path"] == "/api/v1.0/tasks/abc?builddata=true&layers=2"
    client.get_node_build_data("n1")
    assert Recorder.seen[-1]["path"] == "/api/v1.0/nodes/n1/builddata?latest=True"
    assert client.delete_tasks() == "Task table purged successfully."
    assert Recorder.seen[-1]["path"] == "/api/v1.0/tasks?days=None"
    client.validate_design("file:///site.yaml")
    assert json.loads(Recorder.seen[-1]["body"]) == {"href": "file:///site.yaml"}
    client.get_nodes_for_filter("file:///site.yaml", {"filter_set_type": "union", "filter_set": []})
    assert json.loads(Recorder.seen[-1]["body"])["design_ref"] == "file:///site.yaml"
    assert session.default_timeout == (20, 30)
    assert compat_session.DrydockSession("h", timeout=5).default_timeout == (20, 5)
    assert compat_session.DrydockSession("h", timeout=(3, 4)).default_timeout == (3, 4)
    assert compat_session.DrydockSession("h", timeout="x").default_timeout == (20, 30)


def test_errors_map_to_the_original_exceptions(server):
    client = compat_client.DrydockClient(compat_session.DrydockSession("127.0.0.1", port=server, auth_gen=lambda: [("X-Auth-Token", "stale")]))
    with pytest.raises(compat_errors.ClientUnauthorizedError) as unauthorized:
        client.get_tasks()
    assert unauthorized.value.status_code == 401
    ok = compat_client.DrydockClient(compat_session.DrydockSession("127.0.0.1", port=server))
    with pytest.raises(compat_errors.ClientForbiddenError):
        ok._check(ok.session.get("v1.0/forbidden"))
    with pytest.raises(compat_errors.ClientError) as missing:
        ok.get_task("missing")
    assert missing.value.status_code == 404 and "Task not found" in str(missing.value)


def test_from_url_takes_the_cli_url_and_token(server):
    import drydock

    api = drydock.Client.from_url(f"http://127.0.0.1:{server}", token="t-1", marker="m-2")
    api.get_tasks()
    assert Recorder.seen[-1]["path"] == "/api/v1.0/tasks"
    assert (Recorder.seen[-1]["token"], Recorder.seen[-1]["marker"]) == ("t-1", "m-2")
    drydock.Client.from_url(f"http://127.0.0.1:{server}/").get_nodes()
    assert Recorder.seen[-1]["path"] == "/api/v1.0/nodes" and Recorder.seen[-1]["token"] is None
    assert drydock.Client.from_url("https://drydock.example").session.base_url == "https://drydock.example/api/"
    for bad in ("127.0.0.1:9000", "ftp://host", "http://"):
        with pytest.raises(ValueError):
            drydock.Client.from_url(bad)
