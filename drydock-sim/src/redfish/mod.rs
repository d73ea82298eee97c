//! A Redfish front end for the simulated BMCs (compat: drivers.md §5.1 and
//! §5.3): service root, SessionService sessions with `X-Auth-Token`, HTTP
//! Basic auth, the Systems collection with exactly one system per BMC,
//! `ComputerSystem.Reset` and the `Boot` override PATCH.
//!
//! Paths are the standard `/redfish/v1/...` ones, relative to the BMC's
//! base URL. Powering a BMC on with a PXE override drives the MaaS side
//! (enlistment of unknown machines; phases wait for power).

use crate::maas::model::PowerState;
use crate::world::{BootTarget, RequestRecord, World};
use base64::Engine as _;
use serde_json::{Value, json};

/// A Redfish answer.
#[derive(Debug, Clone)]
pub(crate) struct RfReply {
    pub(crate) status: u16,
    pub(crate) body: Option<Value>,
    pub(crate) headers: Vec<(String, String)>,
}

fn reply(status: u16, body: Value) -> RfReply {
    RfReply { status, body: Some(body), headers: vec![] }
}

fn error(status: u16, message: &str) -> RfReply {
    reply(status, json!({"error": {"code": "Base.1.8.GeneralError", "message": message}}))
}

const SESSIONS: &str = "/redfish/v1/SessionService/Sessions";

/// Handles one request for BMC `bmc`; `path` is the part from `/redfish` on.
pub(crate) fn handle(
    world: &mut World,
    bmc: &str,
    method: &str,
    path: &str,
    full_path: &str,
    headers: &poem::http::HeaderMap,
    body: &[u8],
) -> (RfReply, Option<u64>) {
    crate::maas::lifecycle::tick(world);
    let body_json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut record = RequestRecord {
        seq: 0,
        service: "redfish".into(),
        method: method.to_owned(),
        path: full_path.to_owned(),
        op: None,
        query: Default::default(),
        form: match &body_json {
            Value::Object(map) => {
                map.iter().map(|(k, v)| (k.clone(), vec![if let Value::String(s) = v { s.clone() } else { v.to_string() }])).collect()
            }
            _ => Default::default(),
        },
        auth: "anonymous".into(),
        status: 0,
        fault: None,
        context_marker: None,
    };
    let latency = world.take_fault("latency", method, full_path, None).and_then(|f| f.latency_ms);
    if let Some(ms) = latency {
        record.fault = Some(format!("latency {ms}ms"));
    }
    let answer = if let Some(fault) = world.take_fault("status", method, full_path, None) {
        let status = fault.status.unwrap_or(503);
        record.fault = Some(format!("status {status}"));
        error(status, fault.body.as_deref().unwrap_or("injected fault"))
    } else {
        dispatch(world, bmc, method, path.trim_end_matches('/'), headers, &body_json, &mut record)
    };
    record.status = answer.status;
    world.record(record);
    (answer, latency)
}

fn authorised(world: &World, bmc: &str, headers: &poem::http::HeaderMap) -> bool {
    let Some(b) = world.bmcs.get(bmc) else {
        return false;
    };
    if let Some(token) = headers.get("x-auth-token").and_then(|v| v.to_str().ok()) {
        return b.sessions.values().any(|t| t == token);
    }
    if let Some(basic) = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic ")) {
        let decoded = base64::engine::general_purpose::STANDARD.decode(basic.trim()).ok().map(|b| String::from_utf8_lossy(&b).into_owned());
        return decoded.is_some_and(|d| d == format!("{}:{}", b.username, b.password));
    }
    false
}

fn system_path(world: &World, bmc: &str) -> String {
    format!("/redfish/v1/Systems/{}", world.bmcs.get(bmc).map(|b| b.uuid.as_str()).unwrap_or("1"))
}

fn dispatch(
    world: &mut World,
    bmc: &str,
    method: &str,
    path: &str,
    headers: &poem::http::HeaderMap,
    body: &Value,
    record: &mut RequestRecord,
) -> RfReply {
    if !world.bmcs.contains_key(bmc) {
        return error(404, "no such BMC");
    }
    if path == "/redfish" {
        return reply(200, json!({"v1": "/redfish/v1/"}));
    }
    if path == "/redfish/v1" {
        return reply(
            200,
            json!({
                "@odata.id": "/redfish/v1/", "@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot", "Id": "RootService",
                "Name": "drydock-sim Redfish service", "RedfishVersion": "1.8.0", "UUID": world.bmcs.get(bmc).map(|b| b.uuid.clone()),
                "Systems": {"@odata.id": "/redfish/v1/Systems"}, "SessionService": {"@odata.id": "/redfish/v1/SessionService"},
                "Links": {"Sessions": {"@odata.id": SESSIONS}},
            }),
        );
    }
    if path == SESSIONS && method == "POST" {
        return login(world, bmc, body, record);
    }
    if !authorised(world, bmc, headers) {
        record.auth = "failed".into();
        return error(401, "no valid session");
    }
    record.auth = "ok".into();
    let system = system_path(world, bmc);
    match (method, path) {
        ("GET", "/redfish/v1/SessionService") => reply(
            200,
            json!({
            "@odata.id": "/redfish/v1/SessionService", "@odata.type": "#SessionService.v1_1_8.SessionService",
            "Id": "SessionService", "Name": "Session Service", "ServiceEnabled": true, "SessionTimeout": 600,
            "Sessions": {"@odata.id": SESSIONS}}),
        ),
        ("GET", SESSIONS) => {
            let ids: Vec<Value> = world
                .bmcs
                .get(bmc)
                .map(|b| b.sessions.keys().map(|s| json!({"@odata.id": format!("{SESSIONS}/{s}")})).collect())
                .unwrap_or_default();
            reply(200, json!({"@odata.id": SESSIONS, "Name": "Session Collection", "Members@odata.count": ids.len(), "Members": ids}))
        }
        ("GET", "/redfish/v1/Systems") => reply(
            200,
            json!({
            "@odata.id": "/redfish/v1/Systems", "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
            "Name": "Computer System Collection", "Members@odata.count": 1, "Members": [{"@odata.id": system}]}),
        ),
        _ if path.starts_with(SESSIONS) => {
            let id = path.trim_start_matches(SESSIONS).trim_start_matches('/').to_owned();
            let Some(b) = world.bmcs.get_mut(bmc) else {
                return error(404, "no such BMC");
            };
            match method {
                "GET" if b.sessions.contains_key(&id) => {
                    reply(200, json!({"@odata.id": format!("{SESSIONS}/{id}"), "Id": id, "UserName": b.username}))
                }
                "DELETE" if b.sessions.remove(&id).is_some() => RfReply { status: 204, body: None, headers: vec![] },
                _ => error(404, "no such session"),
            }
        }
        ("GET", p) if p == system => reply(200, system_json(world, bmc)),
        ("PATCH", p) if p == system => patch_boot(world, bmc, body),
        ("POST", p) if p == format!("{system}/Actions/ComputerSystem.Reset") => reset(world, bmc, body),
        _ => error(404, "resource not found"),
    }
}

fn login(world: &mut World, bmc: &str, body: &Value, record: &mut RequestRecord) -> RfReply {
    record.form.remove("Password");
    let sessions = world.bmcs.get(bmc).map(|b| b.sessions.len()).unwrap_or(0);
    let uuid = world.new_uuid();
    let Some(b) = world.bmcs.get_mut(bmc) else {
        return error(404, "no such BMC");
    };
    let ok = body.get("UserName").and_then(Value::as_str) == Some(b.username.as_str())
        && body.get("Password").and_then(Value::as_str) == Some(b.password.as_str());
    if !ok {
        record.auth = "failed".into();
        return error(401, "bad credentials");
    }
    record.auth = "ok".into();
    let id = format!("{}", sessions + 1 + b.sessions.keys().filter_map(|k| k.parse::<usize>().ok()).max().unwrap_or(0));
    let token = uuid.replace('-', "");
    b.sessions.insert(id.clone(), token.clone());
    let location = format!("{SESSIONS}/{id}");
    RfReply {
        status: 201,
        body: Some(json!({"@odata.id": location, "Id": id, "Name": "User Session", "UserName": b.username})),
        headers: vec![("X-Auth-Token".into(), token), ("Location".into(), location)],
    }
}

fn system_json(world: &World, bmc: &str) -> Value {
    let Some(b) = world.bmcs.get(bmc) else {
        return Value::Null;
    };
    let machine = world.region.machines.values().find(|m| m.bmc.as_deref() == Some(bmc));
    let system = system_path(world, bmc);
    json!({
        "@odata.id": system, "@odata.type": "#ComputerSystem.v1_10_0.ComputerSystem",
        "Id": b.uuid, "Name": machine.map(|m| m.hostname.clone()).unwrap_or_else(|| b.name.clone()), "UUID": b.uuid,
        "SystemType": "Physical", "Manufacturer": "drydock-sim", "Model": "Simulated server",
        "PowerState": if b.power == PowerState::On { "On" } else { "Off" },
        "Status": {"State": "Enabled", "Health": "OK"},
        "Boot": {
            "BootSourceOverrideEnabled": b.boot_enabled, "BootSourceOverrideTarget": b.boot_target.as_str(),
            "BootSourceOverrideTarget@Redfish.AllowableValues": ["None", "Pxe", "Hdd", "Cd"],
        },
        "ProcessorSummary": {"Count": machine.map(|m| m.cpu_count).unwrap_or(4)},
        "MemorySummary": {"TotalSystemMemoryGiB": machine.map(|m| m.memory / 1024).unwrap_or(8)},
        "Actions": {"#ComputerSystem.Reset": {"target": format!("{system}/Actions/ComputerSystem.Reset"),
            "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "PushPowerButton"]}},
    })
}

fn patch_boot(world: &mut World, bmc: &str, body: &Value) -> RfReply {
    let Some(boot) = body.get("Boot") else {
        return error(400, "only Boot may be patched");
    };
    let target = match boot.get("BootSourceOverrideTarget").and_then(Value::as_str) {
        Some(text) => match BootTarget::parse(text) {
            Some(t) => Some(t),
            None => return error(400, "unsupported BootSourceOverrideTarget"),
        },
        None => None,
    };
    let enabled = boot.get("BootSourceOverrideEnabled").and_then(Value::as_str).map(str::to_owned);
    if enabled.as_deref().is_some_and(|e| !matches!(e, "Disabled" | "Once" | "Continuous")) {
        return error(400, "unsupported BootSourceOverrideEnabled");
    }
    if let Some(b) = world.bmcs.get_mut(bmc) {
        if let Some(t) = target {
            b.boot_target = t;
            if enabled.is_none() && b.boot_enabled == "Disabled" {
                b.boot_enabled = "Once".into();
            }
        }
        if let Some(e) = enabled {
            b.boot_enabled = e;
        }
    }
    reply(200, system_json(world, bmc))
}

fn reset(world: &mut World, bmc: &str, body: &Value) -> RfReply {
    let Some(kind) = body.get("ResetType").and_then(Value::as_str) else {
        return error(400, "ResetType required");
    };
    let Some(current) = world.bmcs.get(bmc).map(|b| b.power) else {
        return error(404, "no such BMC");
    };
    let (new, boots) = match kind {
        "On" => (PowerState::On, current == PowerState::Off),
        "ForceOff" | "GracefulShutdown" => (PowerState::Off, false),
        "GracefulRestart" | "ForceRestart" => (PowerState::On, true),
        "PushPowerButton" => {
            if current == PowerState::On {
                (PowerState::Off, false)
            } else {
                (PowerState::On, true)
            }
        }
        _ => return error(400, "unsupported ResetType"),
    };
    set_bmc_power(world, bmc, new, boots);
    RfReply { status: 204, body: None, headers: vec![] }
}

/// Sets a BMC's power; a boot with a PXE override reaches MaaS (enlistment).
pub(crate) fn set_bmc_power(world: &mut World, bmc: &str, power: PowerState, boots: bool) {
    let mut pxe = false;
    if let Some(b) = world.bmcs.get_mut(bmc) {
        b.power = power;
        if boots {
            pxe = b.boot_target == BootTarget::Pxe;
            if b.boot_enabled == "Once" {
                b.boot_enabled = "Disabled".into();
                b.boot_target = BootTarget::None;
            }
        }
    }
    let linked: Vec<String> =
        world.region.machines.values().filter(|m| m.bmc.as_deref() == Some(bmc)).map(|m| m.system_id.clone()).collect();
    for sid in &linked {
        if let Some(node) = world.region.node_mut(sid) {
            node.power_state = power;
        }
    }
    if pxe {
        crate::maas::lifecycle::bmc_pxe_boot(world, bmc);
    }
}
