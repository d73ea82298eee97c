"""sushy-emulator with a minimal Redfish SessionService (drivers spec 5.3).

Started by drydock_sim::external::Sushy. Extras over the spec's wrapper:
RF_TOKEN_USES (a token expires after that many authenticated requests),
RF_LOGINS (a file that gets one line per accepted login) and RF_POWER_DELAY.
"""
import os
import sys
import uuid

import flask
from sushy_tools.emulator import main as emu

app = emu.app

# RF_POWER_DELAY: seconds before the fake driver applies a power change
# (sushy-tools draws 1-11 s at random; tests want a short, fixed delay).
if os.environ.get("RF_POWER_DELAY"):
    import types
    from sushy_tools.emulator.resources.systems import fakedriver
    _DELAY = int(os.environ["RF_POWER_DELAY"])
    fakedriver.random = types.SimpleNamespace(randint=lambda a, b: _DELAY)
USER = os.environ.get("RF_USER", "admin")
PASSWORD = os.environ.get("RF_PASSWORD", "password")
SESSIONS = {}
USES = {}
BASE = "/redfish/v1/SessionService/Sessions"
REQUIRE_TOKEN = os.environ.get("RF_REQUIRE_TOKEN") == "1"
TOKEN_USES = int(os.environ.get("RF_TOKEN_USES", "0"))


@app.before_request
def check_token():
    path = flask.request.path.rstrip("/")
    if not REQUIRE_TOKEN or path in ("/redfish", "/redfish/v1"):
        return None
    if path == BASE and flask.request.method == "POST":
        return None
    token = flask.request.headers.get("X-Auth-Token")
    if token not in SESSIONS.values():
        return flask.jsonify({"error": {"code": "Base.1.8.GeneralError",
                                        "message": "no valid session"}}), 401
    USES[token] = USES.get(token, 0) + 1
    if TOKEN_USES and USES[token] > TOKEN_USES:
        for sid, live in list(SESSIONS.items()):
            if live == token:
                SESSIONS.pop(sid)
        return flask.jsonify({"error": {"code": "Base.1.8.GeneralError",
                                        "message": "session expired"}}), 401
    return None


@app.route("/redfish/v1/SessionService", methods=["GET"])
def session_service():
    return flask.jsonify({
        "@odata.id": "/redfish/v1/SessionService",
        "@odata.type": "#SessionService.v1_1_8.SessionService",
        "Id": "SessionService", "Name": "Session Service",
        "ServiceEnabled": True, "SessionTimeout": 600,
        "Sessions": {"@odata.id": BASE}})


@app.route(BASE, methods=["GET", "POST"])
def sessions():
    if flask.request.method == "GET":
        return flask.jsonify({
            "@odata.id": BASE, "Name": "Session Collection",
            "Members@odata.count": len(SESSIONS),
            "Members": [{"@odata.id": f"{BASE}/{s}"} for s in SESSIONS]})
    body = flask.request.get_json(force=True, silent=True) or {}
    if body.get("UserName") != USER or body.get("Password") != PASSWORD:
        return flask.jsonify({"error": {"code": "Base.1.8.GeneralError",
                                        "message": "bad credentials"}}), 401
    sid, token = uuid.uuid4().hex[:12], uuid.uuid4().hex
    SESSIONS[sid] = token
    with open(os.environ.get("RF_LOGINS", os.devnull), "a") as logins:
        logins.write(sid + "\n")
    resp = flask.jsonify({"@odata.id": f"{BASE}/{sid}", "Id": sid,
                          "Name": "User Session", "UserName": USER})
    resp.status_code = 201
    resp.headers["X-Auth-Token"] = token
    resp.headers["Location"] = f"{BASE}/{sid}"
    return resp


@app.route(BASE + "/<sid>", methods=["GET", "DELETE"])
def one_session(sid):
    if sid not in SESSIONS:
        return "", 404
    if flask.request.method == "DELETE":
        SESSIONS.pop(sid)
        return "", 204
    return flask.jsonify({"@odata.id": f"{BASE}/{sid}", "Id": sid,
                          "UserName": USER})


if __name__ == "__main__":
    sys.exit(emu.main())
