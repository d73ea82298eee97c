//! The test-control API under `/_emulator/` (compat: drivers.md §3.7):
//! reset, state dump, time advance and stepping, enlistment, behaviour
//! scripts, forced statuses, faults, the request log and the Kubernetes
//! nodes behind Promenade (read, join, leave). Unauthenticated;
//! served on loopback only. Control calls are not written to the request log.

use crate::maas::model::Status;
use crate::scenario::{MachineSeed, ScriptSeed};
use crate::world::{FaultSpec, World};
use serde_json::{Value, json};
use std::time::Duration;

/// Handles a control request; returns (status, JSON body).
pub(crate) fn handle(world: &mut World, method: &str, path: &str, query: &str, body: &[u8]) -> (u16, Value) {
    crate::maas::lifecycle::tick(world);
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("POST", ["reset"]) => match World::from_scenario(world.scenario.clone()) {
            Ok(fresh) => {
                *world = fresh;
                (200, json!({"reset": true}))
            }
            Err(e) => (500, json!({"error": e.to_string()})),
        },
        ("GET", ["state"]) => (200, world.state()),
        ("POST", ["advance"]) => {
            let only = parsed.get("system_id").and_then(Value::as_str).map(str::to_owned);
            let mut stepped = 0;
            if let Some(steps) = parsed.get("steps").and_then(Value::as_u64) {
                stepped = crate::maas::lifecycle::step(world, steps as usize, only.as_deref());
            }
            if let Some(seconds) = parsed.get("seconds").and_then(Value::as_f64) {
                world.advance_time(Duration::from_millis((seconds * 1000.0) as u64));
            }
            (200, json!({"stepped": stepped, "now_ms": world.now_ms()}))
        }
        ("PUT", ["mode"]) => match serde_json::from_value(parsed.get("mode").cloned().unwrap_or(Value::Null)) {
            Ok(mode) => {
                world.mode = mode;
                (200, json!({"mode": world.mode}))
            }
            Err(e) => (400, json!({"error": e.to_string()})),
        },
        ("POST", ["machines"]) => match serde_json::from_value::<MachineSeed>(parsed) {
            Ok(seed) => {
                let sid = crate::maas::lifecycle::enlist(world, &seed);
                (200, json!({"system_id": sid}))
            }
            Err(e) => (400, json!({"error": e.to_string()})),
        },
        ("PUT", ["machines", sid, "script"]) => match serde_json::from_value::<ScriptSeed>(parsed) {
            Ok(script) => match world.region.node_mut(sid) {
                Some(node) => {
                    node.script.commission = script.commission.into();
                    node.script.deploy = script.deploy.into();
                    node.script.release = script.release.into();
                    node.script.skip_storage = script.skip_storage;
                    (200, json!({"ok": true}))
                }
                None => (404, json!({"error": "no such machine"})),
            },
            Err(e) => (400, json!({"error": e.to_string()})),
        },
        // The BMC's power button (`"on"`/`"off"`), or a BMC outside the
        // simulator (ipmi_sim's chassis script, sushy's external notifier)
        // reporting a power change: `{"power": "On"|"Off", "pxe": bool}` or
        // sushy's system document (`power_state`, `boot_device`). A power-on
        // boots; with PXE it enlists the BMC's machine.
        ("PUT" | "POST", ["bmcs", name, "power"]) => {
            let power =
                parsed.as_str().or_else(|| parsed.get("power").or_else(|| parsed.get("power_state")).and_then(Value::as_str)).unwrap_or("");
            let power = match power.to_ascii_lowercase().as_str() {
                "on" | "1" => crate::maas::model::PowerState::On,
                "off" | "0" => crate::maas::model::PowerState::Off,
                _ => return (400, json!({"error": "power must be On or Off"})),
            };
            let pxe = parsed.get("pxe").and_then(Value::as_bool).unwrap_or(false)
                || parsed.get("boot_device").and_then(Value::as_str).is_some_and(|device| device.eq_ignore_ascii_case("pxe"));
            let Some(bmc) = world.bmcs.get_mut(*name) else {
                return (404, json!({"error": "no such BMC"}));
            };
            // The button always boots; a report only when the power came on.
            let boots =
                power == crate::maas::model::PowerState::On && (parsed.is_string() || bmc.power == crate::maas::model::PowerState::Off);
            if pxe {
                bmc.boot_target = crate::world::BootTarget::Pxe;
            }
            crate::redfish::set_bmc_power(world, name, power, boots);
            (200, json!({"power": power.as_str(), "booted": boots}))
        }
        ("PUT", ["machines", sid, "status"]) => {
            let text = parsed.get("status").and_then(Value::as_str).or(parsed.as_str()).unwrap_or("");
            match (Status::parse(text), world.region.node_mut(sid)) {
                (Some(status), Some(node)) => {
                    node.status = status;
                    node.pending = None;
                    (200, json!({"status_name": status.name()}))
                }
                (None, _) => (400, json!({"error": "unknown status"})),
                (_, None) => (404, json!({"error": "no such machine"})),
            }
        }
        ("GET", ["machines", sid, "user_data"]) => match world.region.machines.get(*sid) {
            Some(node) => (200, Value::from(node.user_data.clone())),
            None => (404, json!({"error": "no such machine"})),
        },
        ("GET", ["machines", sid, "commission_flags"]) => match world.region.machines.get(*sid) {
            Some(node) => (200, Value::Object(node.commission_flags.clone())),
            None => (404, json!({"error": "no such machine"})),
        },
        ("PUT", ["rackcontrollers", sid, "services"]) => match (world.region.racks.get_mut(*sid), parsed.as_object()) {
            (Some(rack), Some(map)) => {
                for (name, status) in map {
                    rack.services.insert(name.clone(), status.as_str().unwrap_or("unknown").to_owned());
                }
                rack.revision += 1;
                (200, json!({"ok": true}))
            }
            _ => (404, json!({"error": "no such rack controller or bad body"})),
        },
        ("PUT", ["boot-resources", "importing"]) => {
            world.region.importing = parsed.as_bool().unwrap_or(false);
            (200, Value::from(world.region.importing))
        }
        ("POST", ["faults"]) => match serde_json::from_value::<FaultSpec>(parsed) {
            Ok(spec) => match world.add_fault(spec) {
                Ok(()) => (200, json!({"faults": world.faults.len()})),
                Err(e) => (400, json!({"error": e.to_string()})),
            },
            Err(e) => (400, json!({"error": e.to_string()})),
        },
        ("DELETE", ["faults"]) => {
            world.faults.clear();
            (200, json!({"faults": 0}))
        }
        ("GET", ["requests"]) => {
            let since: u64 = query.split('&').find_map(|p| p.strip_prefix("since=")).and_then(|v| v.parse().ok()).unwrap_or(0);
            let list: Vec<Value> =
                world.log.iter().filter(|r| r.seq > since).map(|r| serde_json::to_value(r).unwrap_or(Value::Null)).collect();
            (200, Value::from(list))
        }
        ("GET", ["promenade", "nodes"]) => {
            crate::promenade::join_deployed(world);
            (200, json!({"nodes": world.cluster.nodes}))
        }
        ("PUT", ["promenade", "nodes", name]) => match serde_json::from_value::<std::collections::BTreeMap<String, String>>(parsed) {
            Ok(labels) => {
                world.cluster.left.remove(*name);
                world.cluster.nodes.insert((*name).to_owned(), labels);
                (200, json!({"joined": name}))
            }
            Err(e) => (400, json!({"error": format!("labels must be an object of strings: {e}")})),
        },
        ("DELETE", ["promenade", "nodes", name]) => {
            world.cluster.left.insert((*name).to_owned());
            match world.cluster.nodes.remove(*name) {
                Some(_) => (200, json!({"left": name})),
                None => (404, json!({"error": "no such Kubernetes node"})),
            }
        }
        ("DELETE", ["requests"]) => {
            world.log.clear();
            (200, json!({"cleared": true}))
        }
        _ => (404, json!({"error": format!("unknown control endpoint {method} {path}")})),
    }
}
