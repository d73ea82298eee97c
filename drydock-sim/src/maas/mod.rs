//! The MaaS 2.0 REST emulator: request handling shared by every resource
//! family (authentication, op dispatch, error conventions) and the
//! resource modules themselves.
//!
//! Compat: drivers.md §3. Handlers take a `Ctx` and return a `Reply`;
//! they never touch HTTP types, so they can be unit-tested directly.

pub mod describe;
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
    /// 400 with MaaS's form-error JSON.
    pub(crate) fn field(field: &str, message: impl Into<String>) -> Reply {
        let mut map = serde_json::Map::new();
        map.insert(field.to_owned(), Value::from(vec![Value::from(message.into())]));
        Reply { status: 400, body: Body::Json(Value::Object(map)) }
    }
    pub(crate) fn not_found(kind: &str) -> Reply {
        Reply::text(404, format!("No {kind} matches the given query."))
    }
    pub(crate) fn conflict(text: impl Into<String>) -> Reply {
        Reply::text(409, text)
    }
}

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
        return Reply::text(404, format!("Unknown API endpoint: {}", incoming.full_path));
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
