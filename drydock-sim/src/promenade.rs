//! A Promenade API front end for the lab's Kubernetes cluster (compat:
//! drivers.md §7, and Promenade's own API document for
//! `PUT /api/v1.0/node-labels/<node_name>`): the node-labels call with
//! Promenade's checks in its order and its answers — the UCP `Status`
//! document on success, its error document (`kind: status`, `code` as
//! falcon's status line) on failure.
//!
//! The cluster: the nodes the scenario seeds (`promenade.nodes`, with their
//! labels) plus every machine MaaS has `Deployed`, which joins with the
//! labels a kubelet sets itself (`kubernetes.io/hostname`, `…/os`,
//! `…/arch`). A PUT replaces the node's labels as Promenade's kube client
//! does: new and changed values set, `null` values and labels missing from
//! the body removed, except labels whose key contains `kubernetes.io`.
//!
//! Authentication: with `promenade.tokens` in the scenario, `X-Auth-Token`
//! must be one of them (401 otherwise); without, every caller is an admin
//! (Promenade behind its noauth middleware). The request's
//! `X-Context-Marker` is logged and echoed (a new one when absent), as
//! Promenade's middleware does. Faults (`/_emulator/faults`) match the
//! request path like the other services'.

use crate::world::{RequestRecord, World};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The path prefix of the node-labels resource.
pub const NODE_LABELS: &str = "/api/v1.0/node-labels/";

/// The cluster behind the simulated Promenade.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    /// Kubernetes nodes that have joined, and their labels.
    pub(crate) nodes: BTreeMap<String, BTreeMap<String, String>>,
    /// Tokens accepted in `X-Auth-Token`; empty: no authentication.
    pub(crate) tokens: Vec<String>,
    /// Nodes removed through the control API: they do not join again when
    /// their machine is deployed.
    pub(crate) left: std::collections::BTreeSet<String>,
}

impl Cluster {
    /// The cluster a scenario seeds.
    pub(crate) fn from_seed(seed: &crate::scenario::PromenadeSeed) -> Cluster {
        Cluster { nodes: seed.nodes.clone(), tokens: seed.tokens.clone(), left: Default::default() }
    }
}

/// The labels a kubelet gives its node when it registers.
fn kubelet_labels(name: &str) -> BTreeMap<String, String> {
    [("kubernetes.io/arch", "amd64"), ("kubernetes.io/hostname", name), ("kubernetes.io/os", "linux")]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// Deployed machines not yet in the cluster join it (their kubelet
/// registered), unless removed through the control API. Nodes never leave
/// on their own.
pub(crate) fn join_deployed(world: &mut World) {
    crate::maas::lifecycle::tick(world);
    let deployed: Vec<String> = world
        .region
        .machines
        .values()
        .filter(|machine| machine.status == crate::maas::model::Status::Deployed)
        .map(|machine| machine.hostname.clone())
        .filter(|hostname| !world.cluster.nodes.contains_key(hostname) && !world.cluster.left.contains(hostname))
        .collect();
    for hostname in deployed {
        let labels = kubelet_labels(&hostname);
        world.cluster.nodes.insert(hostname, labels);
    }
}

/// A Promenade answer: status, JSON text.
#[derive(Debug, Clone)]
pub(crate) struct PromReply {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) content_type: &'static str,
    /// The `X-Context-Marker` answered (the request's, else a new one).
    pub(crate) context_marker: String,
}

/// Falcon's status line for a code.
fn status_line(status: u16) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Error",
    };
    format!("{status} {reason}")
}

/// Promenade's error document (`format_error_resp`).
fn failure(status: u16, title: &str, description: Option<&str>, error_type: &str) -> PromReply {
    let body = json!({
        "kind": "status", "apiVersion": "v1.0", "metadata": {}, "status": "Failure",
        "message": title, "reason": description,
        "details": {"errorType": error_type, "errorCount": 1, "messageList": [{"message": description, "error": true}]},
        "code": status_line(status), "retry": false,
    });
    PromReply { status, body: body.to_string(), content_type: "application/json", context_marker: String::new() }
}

/// Promenade's success document (`SuccessMessage('Update node labels')`).
fn success() -> PromReply {
    let body = json!({
        "kind": "Status", "apiVersion": "v1.0", "metadata": {},
        "details": {"errorCount": 0, "messageList": []},
        "status": "Success", "message": "", "reason": "Update node labels", "code": status_line(200),
    });
    PromReply { status: 200, body: body.to_string(), content_type: "application/json", context_marker: String::new() }
}

/// Handles one request under `/api/`; `path` is the raw (encoded) path.
pub(crate) fn handle(
    world: &mut World,
    method: &str,
    path: &str,
    headers: &poem::http::HeaderMap,
    body: &[u8],
) -> (PromReply, Option<u64>) {
    join_deployed(world);
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let mut record = RequestRecord {
        seq: 0,
        service: "promenade".into(),
        method: method.to_owned(),
        path: path.to_owned(),
        op: None,
        query: Default::default(),
        form: match &parsed {
            Some(Value::Object(map)) => map
                .iter()
                .map(|(key, value)| (key.clone(), vec![if let Value::String(text) = value { text.clone() } else { value.to_string() }]))
                .collect(),
            _ => Default::default(),
        },
        auth: "anonymous".into(),
        status: 0,
        fault: None,
        context_marker: headers.get("x-context-marker").and_then(|value| value.to_str().ok()).map(str::to_owned),
    };
    let latency = world.take_fault("latency", method, path, None).and_then(|fault| fault.latency_ms);
    if let Some(ms) = latency {
        record.fault = Some(format!("latency {ms}ms"));
    }
    let answer = if let Some(fault) = world.take_fault("status", method, path, None) {
        let status = fault.status.unwrap_or(503);
        record.fault = Some(format!("status {status}"));
        match fault.body {
            // A body as given (tests use it for answers that are not JSON).
            Some(text) => PromReply { status, body: text, content_type: "text/plain; charset=utf-8", context_marker: String::new() },
            None => failure(status, "Kubernetes API Error", Some("injected fault"), "KubernetesApiError"),
        }
    } else {
        dispatch(world, method, path, headers, body, &mut record)
    };
    let mut answer = answer;
    answer.context_marker = match &record.context_marker {
        Some(marker) => marker.clone(),
        None => world.new_uuid(),
    };
    record.status = answer.status;
    world.record(record);
    (answer, latency)
}

fn dispatch(
    world: &mut World,
    method: &str,
    path: &str,
    headers: &poem::http::HeaderMap,
    body: &[u8],
    record: &mut RequestRecord,
) -> PromReply {
    // Routing first: falcon answers unknown routes and methods before the
    // resource's policy check runs.
    let Some(segment) = path.strip_prefix(NODE_LABELS).filter(|rest| !rest.is_empty() && !rest.contains('/')) else {
        return failure(404, "404 Not Found", None, "HTTPNotFound");
    };
    if method != "PUT" {
        return failure(405, "405 Method Not Allowed", None, "HTTPMethodNotAllowed");
    }
    let node = crate::maas::form::percent_decode(segment, false);
    // The policy: `kubernetes_provisioner:update_node_labels`, admin only.
    if !world.cluster.tokens.is_empty() {
        let token = headers.get("x-auth-token").and_then(|value| value.to_str().ok());
        if !token.is_some_and(|token| world.cluster.tokens.iter().any(|known| known == token)) {
            record.auth = "failed".into();
            return failure(401, "Unauthenticated", Some("Credentials are not established"), "ApiError");
        }
        record.auth = "ok".into();
    }
    // `req_json`: only an `application/json` body is read at all.
    let json_body = headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"));
    if !json_body || body.is_empty() {
        return failure(400, "Invalid Input Error", Some("Missing input: labels dict"), "InvalidFormatError");
    }
    let labels: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(error) => {
            let description = format!("{path}: Invalid JSON in body: {error}");
            return failure(400, "JSON could not be decoded", Some(&description), "InvalidFormatError");
        }
    };
    let Value::Object(labels) = labels else {
        // The kube client calls `.items()` on whatever was sent.
        let description = format!("Unhandled Exception raised: '{}' object has no attribute 'items'", python_type(&labels));
        return failure(500, "", Some(&description), "AttributeError");
    };
    let Some(existing) = world.cluster.nodes.get(&node).cloned() else {
        return failure(404, "Node not found", None, "NodeNotFoundException");
    };
    match relabelled(&existing, &labels) {
        Some(updated) => {
            world.cluster.nodes.insert(node, updated);
            success()
        }
        // Kubernetes refuses a label value that is not a string.
        None => failure(503, "Kubernetes API Error", None, "KubernetesApiError"),
    }
}

fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// The node's labels after Promenade's update: `None` when a value is
/// neither a string nor `null`.
fn relabelled(existing: &BTreeMap<String, String>, input: &Map<String, Value>) -> Option<BTreeMap<String, String>> {
    let mut labels: BTreeMap<String, String> = existing
        .iter()
        .filter(|(key, _)| key.contains("kubernetes.io") || input.contains_key(*key))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, value) in input {
        match value {
            Value::String(text) => {
                labels.insert(key.clone(), text.clone());
            }
            Value::Null => {
                labels.remove(key);
            }
            _ => return None,
        }
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_sets_overrides_and_removes_but_keeps_kubernetes_labels() {
        let existing =
            kubelet_labels("n1").into_iter().chain([("old".to_owned(), "x".to_owned()), ("keep".to_owned(), "1".to_owned())]).collect();
        let input = json!({"keep": "2", "new": "y", "gone": null});
        let updated = relabelled(&existing, input.as_object().expect("object")).expect("strings");
        let want: BTreeMap<String, String> =
            kubelet_labels("n1").into_iter().chain([("keep".to_owned(), "2".to_owned()), ("new".to_owned(), "y".to_owned())]).collect();
        assert_eq!(updated, want);
        assert_eq!(relabelled(&existing, json!({"n": 1}).as_object().expect("object")), None);
    }
}
