"""Fixtures: start the drydock-sim binary on 127.0.0.1 port 0 and connect
python-libmaas (a third-party MaaS client) to it."""

import json
import os
import pathlib
import subprocess
import urllib.request

import pytest

HERE = pathlib.Path(__file__).resolve().parent
CRATE = HERE.parent.parent
FIXTURE = CRATE / "fixtures" / "lab.json"


def _binary():
    explicit = os.environ.get("DRYDOCK_SIM_BIN")
    if explicit:
        return explicit
    target = os.environ.get("CARGO_TARGET_DIR") or str(CRATE.parent / "target")
    return str(pathlib.Path(target) / "debug" / "drydock-sim")


def _start(*extra):
    return subprocess.Popen(
        [_binary(), "--scenario", str(FIXTURE), "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _serve(proc):
    try:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("drydock-sim did not start: " + proc.stderr.read())
        info = json.loads(line)
        yield info
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def sim():
    """A running simulator (fresh per test); yields its info dict."""
    yield from _serve(_start())


@pytest.fixture
def sim_bmc_ports():
    """A simulator whose BMCs also serve Redfish at the root of own ports."""
    yield from _serve(_start("--bmc-ports"))


@pytest.fixture
def client(sim):
    from maas.client import connect

    return connect(sim["maas_url"] + "/", apikey=sim["api_key"])


def control(sim, method, path, body=None):
    """Call the simulator's test-control API."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(sim["control_url"] + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read() or b"null")
