//! The MaaS 2.0 REST emulator: request handling shared by every resource
//! family (authentication, op dispatch, error conventions) and the
//! resource modules themselves.
//!
//! Compat: drivers.md §3. Handlers take a `Ctx` and return a `Reply`;
//! they never touch HTTP types, so they can be unit-tested directly.

pub mod describe;
pub(crate) mod django;
pub mod form;
pub mod ip;
pub mod json;
pub(crate) mod lifecycle;
pub(crate) mod machines;
pub mod model;
pub(crate) mod network;
pub(crate) mod node_interfaces;
pub(crate) mod node_parts;
pub(crate) mod node_storage;
pub mod oauth;
pub(crate) mod other;
pub(crate) mod routes;
pub mod storage;

use crate::world::{RequestRecord, World};
use form::Form;
use serde_json::Value;
use std::sync::Arc;

/// Response body kinds.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Json(Value),
    Raw(String),
    Text(String),
    Bson(Vec<u8>),
    Empty,
    /// 405 without a body; the `Allow` header lists these methods.
    NotAllowed(String),
}

/// A handler's answer.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Body,
}

/// Handler result: both arms are answers; `Err` short-circuits with `?`.
pub(crate) type HResult = Result<Reply, Reply>;

impl Reply {
    pub(crate) fn json(value: Value) -> Reply {
        Reply { status: 200, body: Body::Json(value) }
    }
    pub(crate) fn text(status: u16, text: impl Into<String>) -> Reply {
        Reply { status, body: Body::Text(text.into()) }
    }
    pub(crate) fn empty() -> Reply {
        Reply { status: 204, body: Body::Empty }
    }
    /// 400 with MaaS's form-error JSON for one field (`__all__` for a
    /// non-field error): `{"<field>": ["<message>"]}`.
    pub(crate) fn field(field: &str, message: impl Into<String>) -> Reply {
        Reply::fields(&[(field, message.into())])
    }
    /// 400 with several form errors, in the order Django reports them.
    pub(crate) fn fields(errors: &[(&str, String)]) -> Reply {
        let mut map = serde_json::Map::new();
        for (field, message) in errors {
            let entry = map.entry((*field).to_owned()).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = entry {
                list.push(Value::from(message.clone()));
            }
        }
        Reply { status: 400, body: Body::Json(Value::Object(map)) }
    }
    /// 400 `{"<field>": ["Select a valid choice. <value> is not one of the
    /// available choices."]}`: Django's `ChoiceField` (and MaaS's
    /// `NodeChoiceField`) answer.
    pub(crate) fn not_a_choice(field: &str, value: &str) -> Reply {
        Reply::field(field, format!("Select a valid choice. {value} is not one of the available choices."))
    }
    /// 400 with MaaS's `compose_invalid_choice_text`:
    /// `'<value>' is not a valid <what>.  It should be one of: '<a>', '<b>'.`
    pub(crate) fn invalid_choice(field: &str, value: &str, what: &str, choices: &[&str]) -> Reply {
        Reply::field(field, invalid_choice_text(value, what, choices))
    }
    /// 404 `Not Found`: MaaS 2.x answers every missing object so (piston's
    /// `rc.NOT_FOUND`; MaaS 3.3+ answers `No <kind> matches the given
    /// query.` instead). `kind` documents what was looked up.
    pub(crate) fn not_found(_kind: &str) -> Reply {
        Reply::text(404, "Not Found")
    }
    pub(crate) fn conflict(text: impl Into<String>) -> Reply {
        Reply::text(409, text)
    }
}

/// MaaS's `compose_invalid_choice_text` filled in for `value`.
pub(crate) fn invalid_choice_text(value: &str, what: &str, choices: &[&str]) -> String {
    let listed: Vec<String> = choices.iter().map(|c| format!("'{c}'")).collect();
    format!("'{value}' is not a valid {what}.  It should be one of: {}.", listed.join(", "))
}

/// Django's `ModelChoiceField` message for a value naming no object.
pub(crate) const INVALID_MODEL_CHOICE: &str = "Select a valid choice. That choice is not one of the available choices.";
/// Django's message for a missing required field.
pub(crate) const REQUIRED: &str = "This field is required.";

/// Everything a handler may use.
pub(crate) struct Ctx<'a> {
    pub(crate) world: &'a mut World,
    pub(crate) params: Vec<(&'static str, String)>,
    /// Query fields and body fields merged (op removed).
    pub(crate) args: Form,
    pub(crate) user: String,
    pub(crate) method: &'a str,
    pub(crate) op: Option<String>,
    pub(crate) base_url: String,
    /// Fault a handler applied (copied into the request log).
    pub(crate) fault_note: Option<String>,
}

impl Ctx<'_> {
    pub(crate) fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    pub(crate) fn arg(&self, name: &str) -> Option<&str> {
        self.args.get(name)
    }

    pub(crate) fn unknown_op(&self) -> Reply {
        Reply::text(400, format!("Unrecognised signature: method={} op={}", self.method, self.op.as_deref().unwrap_or("None")))
    }

    /// Integer id path parameter or 404.
    pub(crate) fn id_param(&self, name: &str, kind: &str) -> Result<i64, Reply> {
        self.param(name).parse().map_err(|_| Reply::not_found(kind))
    }
}

/// An incoming MaaS request, transport-independent.
pub(crate) struct Incoming<'a> {
    pub(crate) method: &'a str,
    /// Path below `/MAAS/api/2.0/`.
    pub(crate) sub_path: &'a str,
    pub(crate) full_path: &'a str,
    pub(crate) query: Form,
    pub(crate) body: Form,
    pub(crate) authorization: Option<&'a str>,
    pub(crate) base_url: String,
}

/// Handles one MaaS request against the world and logs it.
pub(crate) fn handle(world: &mut World, incoming: Incoming<'_>) -> (Reply, Option<u64>) {
    lifecycle::tick(world);
    let mut args = incoming.query.clone();
    let op = args.get("op").map(str::to_owned).or_else(|| incoming.body.get("op").map(str::to_owned));
    if incoming.method != "GET" {
        args.merge(incoming.body.clone());
    }
    let mut record = RequestRecord {
        seq: 0,
        service: "maas".into(),
        method: incoming.method.to_owned(),
        path: incoming.full_path.to_owned(),
        op: op.clone(),
        query: incoming.query.fields().iter().filter(|(k, _)| k.as_str() != "op").map(|(k, v)| (k.clone(), v.clone())).collect(),
        form: if incoming.method == "GET" { Default::default() } else { incoming.body.fields().clone() },
        auth: "anonymous".into(),
        status: 0,
        fault: None,
        context_marker: None,
    };
    let mut latency = None;
    if let Some(fault) = world.take_fault("latency", incoming.method, incoming.full_path, op.as_deref()) {
        latency = fault.latency_ms;
        record.fault = Some(format!("latency {}ms", fault.latency_ms.unwrap_or(0)));
    }
    let reply = dispatch(world, &incoming, args, op, &mut record);
    record.status = reply.status;
    world.record(record);
    (reply, latency)
}

fn dispatch(world: &mut World, incoming: &Incoming<'_>, mut args: Form, op: Option<String>, record: &mut RequestRecord) -> Reply {
    let Some((route, params)) = routes::find(incoming.sub_path) else {
        return Reply::text(404, format!("Unknown API endpoint: {}.", incoming.full_path));
    };
    let mut user = String::new();
    if !route.anon {
        match oauth::authenticate(incoming.authorization, &world.keys) {
            Ok(name) => {
                user = name.to_owned();
                record.auth = "ok".into();
            }
            Err(failure) => {
                record.auth = "failed".into();
                return Reply::text(401, failure.to_string());
            }
        }
    }
    if let Some(fault) = world.take_fault("status", incoming.method, incoming.full_path, op.as_deref()) {
        let status = fault.status.unwrap_or(503);
        record.fault = Some(format!("status {status}"));
        return Reply::text(status, fault.body.unwrap_or_else(|| format!("Injected fault {status}")));
    }
    if !route.actions.iter().any(|a| a.method == incoming.method) {
        // Piston answers a method no action of the handler uses with 405.
        let mut allowed: Vec<&str> = route.actions.iter().map(|a| a.method).collect();
        allowed.sort_unstable();
        allowed.dedup();
        return Reply { status: 405, body: Body::NotAllowed(allowed.join(", ")) };
    }
    let known = route.actions.iter().any(|a| a.method == incoming.method && a.op == op.as_deref());
    if !known {
        return Reply::text(400, format!("Unrecognised signature: method={} op={}", incoming.method, op.as_deref().unwrap_or("None")));
    }
    let args = strip_op(&mut args);
    let mut ctx = Ctx { world, params, args, user, method: incoming.method, op, base_url: incoming.base_url.clone(), fault_note: None };
    let result = match route.handler {
        "VersionHandler" => Ok(other::version()),
        "DescribeHandler" => Ok(Reply::json(describe::document(&ctx.base_url))),
        "MachinesHandler" | "MachineHandler" | "NodesHandler" | "NodeHandler" | "RackControllersHandler" | "RackControllerHandler" => {
            machines::handle(&mut ctx, route.handler)
        }
        "InterfacesHandler"
        | "InterfaceHandler"
        | "BlockDevicesHandler"
        | "BlockDeviceHandler"
        | "PartitionsHandler"
        | "PartitionHandler"
        | "VolumeGroupsHandler"
        | "VolumeGroupHandler" => node_parts::handle(&mut ctx, route.handler),
        "FabricsHandler"
        | "FabricHandler"
        | "VlansHandler"
        | "VlanHandler"
        | "VlanByIdHandler"
        | "SubnetsHandler"
        | "SubnetHandler"
        | "IPRangesHandler"
        | "IPRangeHandler"
        | "StaticRoutesHandler"
        | "StaticRouteHandler"
        | "SpacesHandler"
        | "SpaceHandler"
        | "DomainsHandler"
        | "DomainHandler" => network::handle(&mut ctx, route.handler),
        _ => other::handle(&mut ctx, route.handler),
    };
    if let Some(note) = ctx.fault_note.take() {
        record.fault = Some(note);
    }
    match result {
        Ok(reply) | Err(reply) => reply,
    }
}

fn strip_op(args: &mut Form) -> Form {
    let mut out = Form::default();
    for (name, values) in args.fields() {
        if name != "op" {
            for value in values {
                out.push(name, value.clone());
            }
        }
    }
    out
}

/// JSON array text from pre-rendered items.
pub(crate) fn join_array(items: &[Arc<str>]) -> String {
    let mut text = String::with_capacity(items.iter().map(|i| i.len() + 1).sum::<usize>() + 2);
    text.push('[');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            text.push_str(", ");
        }
        text.push_str(item);
    }
    text.push(']');
    text
}
