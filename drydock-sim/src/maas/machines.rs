//! Machines, nodes and rack controllers: listing with filters, create,
//! allocate, the per-machine ops (commission, deploy, release, ...) and
//! power (compat: drivers.md §3.3 "Machines and nodes", §3.6).

use super::lifecycle::{self, apply_to, restore_networking, start_phase};
use super::model::{Phase, PowerState, Status};
use super::storage::{LayoutRequest, parse_size};
use super::{Body, Ctx, HResult, Reply, join_array, json};
use crate::scenario::{InterfaceSeed, MachineSeed};
use base64::Engine as _;
use serde_json::{Map, Value, json as j};
use std::sync::Arc;

pub(crate) fn handle(ctx: &mut Ctx<'_>, handler: &str) -> HResult {
    let op = ctx.op.clone();
    match (handler, ctx.method, op.as_deref()) {
        ("MachinesHandler", "GET", None) => list(ctx, Kind::Machines),
        ("NodesHandler", "GET", None) => list(ctx, Kind::All),
        ("RackControllersHandler", "GET", None) => list(ctx, Kind::Racks),
        ("MachinesHandler", "GET", Some("power_parameters")) => Ok(all_power_parameters(ctx, false)),
        ("RackControllersHandler", "GET", Some("power_parameters")) => Ok(all_power_parameters(ctx, true)),
        ("RackControllersHandler", "GET", Some("describe_power_types")) => Ok(Reply::json(j!([
            {"name": "ipmi", "description": "IPMI"}, {"name": "redfish", "description": "Redfish"},
            {"name": "virsh", "description": "Virsh"}, {"name": "manual", "description": "Manual"}]))),
        ("MachinesHandler", "POST", None) => create(ctx),
        ("MachinesHandler", "POST", Some("allocate")) => allocate(ctx),
        ("MachinesHandler", "POST", Some("release")) => {
            for sid in ctx.args.all("machines").to_vec() {
                release_one(ctx, &sid)?;
            }
            Ok(Reply::json(j!([])))
        }
        ("MachinesHandler", "POST", Some("accept" | "accept_all")) => Ok(Reply::json(j!([]))),
        (_, "GET", None) => read(ctx, handler),
        ("MachineHandler" | "RackControllerHandler", "PUT", None) => update(ctx),
        ("MachineHandler" | "NodeHandler", "DELETE", None) => delete(ctx),
        (_, "GET", Some("power_parameters")) => {
            let node = node_of(ctx, handler)?;
            Ok(Reply::json(json::power_params_value(node)))
        }
        (_, "GET", Some("details")) => details(ctx, handler),
        ("MachineHandler", "GET", Some("query_power_state")) => {
            let sid = machine(ctx)?.system_id.clone();
            Ok(Reply::json(j!({"state": ctx.world.power_of(&sid).as_str()})))
        }
        ("MachineHandler", "GET", Some("get_curtin_config")) => Ok(Reply::json(j!({}))),
        ("MachineHandler", "POST", Some(op)) => machine_op(ctx, op),
        _ => Err(ctx.unknown_op()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Machines,
    Racks,
    All,
}

fn node_of<'a>(ctx: &'a Ctx<'_>, handler: &str) -> Result<&'a super::model::Node, Reply> {
    let sid = ctx.param("system_id");
    let region = &ctx.world.region;
    let node = match handler {
        "MachineHandler" => region.machines.get(sid),
        "RackControllerHandler" => region.racks.get(sid),
        _ => region.node(sid),
    };
    let kind = match handler {
        "MachineHandler" => "Machine",
        "RackControllerHandler" => "RackController",
        _ => "Node",
    };
    node.ok_or_else(|| Reply::not_found(kind))
}

fn machine<'a>(ctx: &'a Ctx<'_>) -> Result<&'a super::model::Node, Reply> {
    ctx.world.region.machines.get(ctx.param("system_id")).ok_or_else(|| Reply::not_found("Machine"))
}

/// Renders one node with the effective power state, refreshing the cache.
pub(crate) fn render(ctx: &mut Ctx<'_>, sid: &str) -> Reply {
    let texts = render_many(ctx.world, &[sid.to_owned()]);
    match texts.into_iter().next() {
        Some(text) => Reply { status: 200, body: Body::Raw(text.to_string()) },
        None => Reply::not_found("Node"),
    }
}

/// Rendered JSON of nodes, reusing and refreshing each node's cache.
pub(crate) fn render_many(world: &mut crate::world::World, sids: &[String]) -> Vec<Arc<str>> {
    let mut fresh = Vec::new();
    let texts: Vec<Arc<str>> = sids
        .iter()
        .filter_map(|sid| {
            let node = world.region.node(sid)?;
            let text = json::node_text(&world.region, node, world.power_of(sid).as_str());
            let cached = node.cache.as_ref().is_some_and(|c| Arc::ptr_eq(&c.2, &text));
            if !cached {
                fresh.push((sid.clone(), node.revision, text.clone()));
            }
            Some(text)
        })
        .collect();
    let net = world.region.net_revision;
    for (sid, revision, text) in fresh {
        let region = &mut world.region;
        let node = match region.machines.get_mut(&sid) {
            Some(n) => Some(n),
            None => region.racks.get_mut(&sid),
        };
        if let Some(node) = node {
            node.cache = Some((revision, net, text));
        }
    }
    texts
}

/// Renders up to `batch` machines whose cached JSON is stale, starting at
/// index `from`; returns the index to continue from (None when done).
pub(crate) fn warm_cache(world: &mut crate::world::World, from: usize, batch: usize) -> Option<usize> {
    let net = world.region.net_revision;
    let sids: Vec<String> = world
        .region
        .machines
        .values()
        .skip(from)
        .take(batch)
        .filter(|n| !n.cache.as_ref().is_some_and(|c| c.0 == n.revision && c.1 == net))
        .map(|n| n.system_id.clone())
        .collect();
    render_many(world, &sids);
    let next = from + batch;
    (next < world.region.machines.len()).then_some(next)
}

fn valid_mac(mac: &str) -> bool {
    let parts: Vec<&str> = mac.split([':', '-']).collect();
    parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn list(ctx: &mut Ctx<'_>, kind: Kind) -> HResult {
    let hostnames = ctx.args.all("hostname").to_vec();
    let macs: Vec<String> = ctx.args.all("mac_address").iter().map(|m| m.to_ascii_lowercase().replace('-', ":")).collect();
    if let Some(bad) = macs.iter().find(|m| !valid_mac(m)) {
        return Err(Reply::field("mac_address", format!("'{bad}' is not a valid MAC address.")));
    }
    let ids = ctx.args.all("id").to_vec();
    let domains = ctx.args.all("domain").to_vec();
    let zones = ctx.args.all("zone").to_vec();
    let statuses: Vec<Option<Status>> = ctx.args.all("status").iter().map(|s| Status::parse(s)).collect();
    let region = &ctx.world.region;
    let pools: Vec<&indexmap::IndexMap<String, super::model::Node>> = match kind {
        Kind::Machines => vec![&region.machines],
        Kind::Racks => vec![&region.racks],
        Kind::All => vec![&region.machines, &region.racks],
    };
    let sids: Vec<String> = pools
        .into_iter()
        .flat_map(|p| p.values())
        .filter(|n| hostnames.is_empty() || hostnames.contains(&n.hostname))
        .filter(|n| macs.is_empty() || n.interfaces.iter().any(|i| macs.contains(&i.mac_address)))
        .filter(|n| ids.is_empty() || ids.contains(&n.system_id))
        .filter(|n| domains.is_empty() || domains.iter().any(|d| d == region.domain_name(n.domain)))
        .filter(|n| zones.is_empty() || zones.contains(&n.zone))
        .filter(|n| statuses.is_empty() || statuses.contains(&Some(n.status)))
        .map(|n| n.system_id.clone())
        .collect();
    lifecycle::count_reads(ctx.world, &sids);
    let texts = render_many(ctx.world, &sids);
    Ok(Reply { status: 200, body: Body::Raw(join_array(&texts)) })
}

fn all_power_parameters(ctx: &Ctx<'_>, racks: bool) -> Reply {
    let ids = ctx.args.all("id");
    let pool = if racks { &ctx.world.region.racks } else { &ctx.world.region.machines };
    let mut map = Map::new();
    for node in pool.values().filter(|n| ids.is_empty() || ids.contains(&n.system_id)) {
        map.insert(node.system_id.clone(), Value::Object(node.power_parameters.clone()));
    }
    Reply::json(Value::Object(map))
}

fn read(ctx: &mut Ctx<'_>, handler: &str) -> HResult {
    let sid = node_of(ctx, handler)?.system_id.clone();
    lifecycle::count_reads(ctx.world, std::slice::from_ref(&sid));
    Ok(render(ctx, &sid))
}

fn valid_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

const POWER_TYPES: [&str; 9] = ["manual", "ipmi", "redfish", "virsh", "amt", "lxd", "webhook", "wedge", "apc"];

/// Power parameters from `power_parameters_<name>` fields and/or a JSON
/// object in `power_parameters` (what python-libmaas sends).
fn power_params_from_args(ctx: &Ctx<'_>) -> Map<String, Value> {
    let mut params = ctx.arg("power_parameters").and_then(|text| serde_json::from_str::<Map<String, Value>>(text).ok()).unwrap_or_default();
    let prefixed: Map<String, Value> = ctx
        .args
        .fields()
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("power_parameters_").map(|name| (name.to_owned(), v.first().cloned().unwrap_or_default())))
        .filter(|(k, _)| k != "skip_check")
        .map(|(k, v)| (k, Value::from(v)))
        .collect();
    params.extend(prefixed);
    params
}

fn create(ctx: &mut Ctx<'_>) -> HResult {
    let power_type = ctx.arg("power_type").unwrap_or("manual").to_owned();
    if !POWER_TYPES.contains(&power_type.as_str()) {
        return Err(Reply::field("power_type", format!("'{power_type}' is not a valid power_type.")));
    }
    let macs = ctx.args.all("mac_addresses").to_vec();
    if macs.is_empty() {
        return Err(Reply::field("mac_addresses", "This field is required."));
    }
    if let Some(bad) = macs.iter().find(|m| !valid_mac(m)) {
        return Err(Reply::field("mac_addresses", format!("'{bad}' is not a valid MAC address.")));
    }
    let hostname = ctx.arg("hostname").filter(|h| !h.is_empty()).map(str::to_owned);
    if let Some(h) = &hostname
        && (!valid_hostname(h) || ctx.world.region.machines.values().any(|m| &m.hostname == h))
    {
        return Err(Reply::field("hostname", format!("Node with hostname \"{h}\" already exists or is invalid.")));
    }
    let seed = MachineSeed {
        hostname,
        architecture: ctx.arg("architecture").map(str::to_owned),
        power_type: Some(power_type),
        power_parameters: power_params_from_args(ctx),
        interfaces: macs.iter().map(|m| InterfaceSeed { mac: m.clone(), ..InterfaceSeed::default() }).collect(),
        ..MachineSeed::default()
    };
    let sid = lifecycle::enlist(ctx.world, &seed);
    if ctx.args.flag("commission") {
        commission(ctx, &sid)?;
    }
    Ok(render(ctx, &sid))
}

fn allocate(ctx: &mut Ctx<'_>) -> HResult {
    let wanted_sid = ctx.arg("system_id").map(str::to_owned);
    let name = ctx.arg("name").or_else(|| ctx.arg("hostname")).map(str::to_owned);
    let tags = ctx.args.all("tags").to_vec();
    let zone = ctx.arg("zone").map(str::to_owned);
    let found = ctx
        .world
        .region
        .machines
        .values()
        .filter(|m| m.status == Status::Ready && !m.locked)
        .filter(|m| wanted_sid.as_ref().is_none_or(|s| s == &m.system_id))
        .filter(|m| name.as_ref().is_none_or(|n| n == &m.hostname || m.hostname.split('.').next() == Some(n.as_str())))
        .filter(|m| tags.iter().all(|t| t.split(',').all(|t| m.tags.contains(t.trim()))))
        .find(|m| zone.as_ref().is_none_or(|z| z == &m.zone))
        .map(|m| m.system_id.clone());
    let Some(sid) = found else {
        return Err(Reply::conflict(match wanted_sid {
            Some(sid) => format!("No machine with system ID {sid} available."),
            None => "No machine matching the given constraints.".to_owned(),
        }));
    };
    let user = ctx.user.clone();
    if let Some(node) = ctx.world.region.node_mut(&sid) {
        node.status = Status::Allocated;
        node.owner = Some(user);
        node.annotations.clear();
    }
    Ok(render(ctx, &sid))
}

fn update(ctx: &mut Ctx<'_>) -> HResult {
    let sid = ctx.param("system_id").to_owned();
    if ctx.world.region.node(&sid).is_none() {
        return Err(Reply::not_found("Node"));
    }
    if let Some(hostname) = ctx.arg("hostname") {
        let taken = ctx.world.region.machines.values().any(|m| m.hostname == hostname && m.system_id != sid);
        if !valid_hostname(hostname) || taken {
            return Err(Reply::field("hostname", format!("Node with hostname \"{hostname}\" already exists or is invalid.")));
        }
    }
    let domain = match ctx.arg("domain") {
        Some(d) => Some(
            ctx.world
                .region
                .domains
                .iter()
                .find(|(id, (name, _, _))| name == d || id.to_string() == d)
                .map(|(id, _)| *id)
                .ok_or_else(|| Reply::field("domain", "Select a valid choice. That choice is not one of the available choices."))?,
        ),
        None => None,
    };
    if let Some(pt) = ctx.arg("power_type")
        && !POWER_TYPES.contains(&pt)
    {
        return Err(Reply::field("power_type", format!("'{pt}' is not a valid power_type.")));
    }
    let params = power_params_from_args(ctx);
    let args = ctx.args.clone();
    let Some(node) = ctx.world.region.node_mut(&sid) else {
        return Err(Reply::not_found("Node"));
    };
    if let Some(v) = args.get("hostname") {
        node.hostname = v.to_owned();
    }
    if let Some(d) = domain {
        node.domain = d;
    }
    if let Some(v) = args.get("description") {
        node.description = v.to_owned();
    }
    if let Some(v) = args.get("architecture") {
        node.architecture = v.to_owned();
    }
    if let Some(v) = args.get("power_type") {
        if v != node.power_type {
            node.power_parameters.clear();
        }
        node.power_type = v.to_owned();
    }
    for (k, v) in params {
        node.power_parameters.insert(k, v);
    }
    if let Some(v) = args.get("zone") {
        node.zone = v.to_owned();
    }
    if let Some(v) = args.get("pool") {
        node.pool = v.to_owned();
    }
    if let Some(v) = args.get("cpu_count").and_then(|v| v.parse().ok()) {
        node.cpu_count = v;
    }
    if let Some(v) = args.get("memory").and_then(|v| v.parse().ok()) {
        node.memory = v;
    }
    Ok(render(ctx, &sid))
}

fn delete(ctx: &mut Ctx<'_>) -> HResult {
    let sid = ctx.param("system_id").to_owned();
    if ctx.world.region.machines.shift_remove(&sid).is_none() {
        return Err(Reply::not_found("Machine"));
    }
    Ok(Reply::empty())
}

/// Minimal BSON document `{"lshw": Binary|null, "lldp": Binary|null}`.
pub(crate) fn bson_details(lshw: Option<&[u8]>, lldp: Option<&[u8]>) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in [("lshw", lshw), ("lldp", lldp)] {
        match value {
            Some(bytes) => {
                body.push(0x05);
                body.extend_from_slice(name.as_bytes());
                body.push(0);
                body.extend_from_slice(&(bytes.len() as i32).to_le_bytes());
                body.push(0);
                body.extend_from_slice(bytes);
            }
            None => {
                body.push(0x0A);
                body.extend_from_slice(name.as_bytes());
                body.push(0);
            }
        }
    }
    let mut doc = ((body.len() + 5) as i32).to_le_bytes().to_vec();
    doc.extend(body);
    doc.push(0);
    doc
}

fn details(ctx: &mut Ctx<'_>, handler: &str) -> HResult {
    let node = node_of(ctx, handler)?;
    let doc = if node.details_ready {
        let lshw = lifecycle::lshw_of(node);
        let lldp =
            if node.lldp.is_empty() { "<?xml version=\"1.0\"?><lldp label=\"LLDP neighbors\"/>".to_owned() } else { node.lldp.clone() };
        bson_details(Some(lshw.as_bytes()), Some(lldp.as_bytes()))
    } else {
        bson_details(None, None)
    };
    Ok(Reply { status: 200, body: Body::Bson(doc) })
}

fn commission(ctx: &mut Ctx<'_>, sid: &str) -> HResult {
    let status = ctx.world.region.machines.get(sid).map(|m| m.status).ok_or_else(|| Reply::not_found("Machine"))?;
    if !matches!(
        status,
        Status::New | Status::Ready | Status::Broken | Status::Missing | Status::FailedCommissioning | Status::FailedTesting
    ) {
        return Err(Reply::conflict(format!("Unable to be commissioned because of the current state ('{}').", status.name())));
    }
    let mut flags = Map::new();
    for name in ["enable_ssh", "skip_bmc_config", "skip_networking", "skip_storage"] {
        if ctx.args.has(name) {
            flags.insert(name.into(), Value::from(ctx.args.flag(name)));
        }
    }
    for name in ["commissioning_scripts", "testing_scripts"] {
        if ctx.args.has(name) {
            flags.insert(name.into(), Value::from(ctx.args.all(name).to_vec()));
        }
    }
    if let Some(node) = ctx.world.region.node_mut(sid) {
        node.previous_status = status;
        node.status = Status::Commissioning;
        node.commission_flags = flags;
        for iface in &mut node.interfaces {
            iface.links.clear();
        }
    }
    ctx.world.set_power(sid, PowerState::On, true);
    start_phase(ctx.world, sid, Phase::Commissioning, None);
    Ok(Reply::json(Value::Null))
}

const RELEASABLE: [Status; 8] = [
    Status::Allocated,
    Status::Reserved,
    Status::Broken,
    Status::Deploying,
    Status::Deployed,
    Status::FailedDeployment,
    Status::FailedDiskErasing,
    Status::ReleasingFailed,
];

fn release_one(ctx: &mut Ctx<'_>, sid: &str) -> HResult {
    let status = ctx.world.region.machines.get(sid).map(|m| m.status).ok_or_else(|| Reply::not_found("Machine"))?;
    if matches!(status, Status::Ready | Status::Releasing) {
        return Ok(Reply::json(Value::Null));
    }
    if !RELEASABLE.contains(&status) {
        return Err(Reply::conflict(format!("Machine cannot be released in its current state ('{}').", status.name())));
    }
    let erase = ctx.args.flag("erase") || ctx.args.flag("secure_erase") || ctx.args.flag("quick_erase");
    if let Some(node) = ctx.world.region.node_mut(sid) {
        node.previous_status = status;
        node.status = if erase { Status::DiskErasing } else { Status::Releasing };
        node.owner = None;
        node.annotations.clear();
        node.osystem.clear();
        node.distro_series.clear();
        node.hwe_kernel = None;
        node.user_data = None;
        node.pending = None;
        for iface in &mut node.interfaces {
            for link in iface.links.iter_mut().filter(|l| l.mode == "auto") {
                link.ip_address = None;
            }
        }
    }
    ctx.world.set_power(sid, PowerState::Off, false);
    start_phase(ctx.world, sid, if erase { Phase::Erasing } else { Phase::Releasing }, None);
    Ok(Reply::json(Value::Null))
}

fn deploy(ctx: &mut Ctx<'_>, sid: &str) -> HResult {
    let mut status = machine(ctx)?.status;
    if status == Status::Ready {
        let user = ctx.user.clone();
        if let Some(node) = ctx.world.region.node_mut(sid) {
            node.status = Status::Allocated;
            node.owner = Some(user);
        }
        status = Status::Allocated;
    }
    if status != Status::Allocated {
        return Err(Reply::conflict(format!("Can't deploy a machine that is in the '{}' state", status.name())));
    }
    let series_arg = ctx.arg("distro_series").filter(|s| !s.is_empty()).unwrap_or("focal").to_owned();
    let release = series_arg.rsplit('/').next().unwrap_or(&series_arg).to_owned();
    // Compat: drivers.md §2.4.14 - kernels of a release are the part after
    // `/` in the architectures of its `ubuntu/<release>` boot resources.
    let resources = &ctx.world.region.boot_resources;
    let wanted = format!("ubuntu/{release}");
    let kernels: Vec<String> =
        resources.iter().filter(|r| r.1 == wanted).filter_map(|r| r.2.split('/').nth(1).map(str::to_owned)).collect();
    if kernels.is_empty() {
        let mut releases: Vec<String> = resources.iter().filter(|r| r.1.starts_with("ubuntu/")).map(|r| format!("'{}'", r.1)).collect();
        releases.dedup();
        return Err(Reply::field(
            "distro_series",
            format!("'{series_arg}' is not a valid distro_series.  It should be one of: {}.", releases.join(", ")),
        ));
    }
    let hwe = ctx.arg("hwe_kernel").filter(|s| !s.is_empty()).map(str::to_owned);
    if let Some(k) = &hwe
        && !kernels.contains(k)
    {
        return Err(Reply::field("hwe_kernel", format!("{k} is not available for {wanted} on amd64/generic.")));
    }
    let default_kernel = kernels.iter().find(|k| k.starts_with("ga-")).or(kernels.first()).cloned().unwrap_or_default();
    let user_data = match ctx.arg("user_data").filter(|s| !s.is_empty()) {
        Some(text) => {
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|_| Reply::field("user_data", "Invalid base64 user data."))?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        None => None,
    };
    if let Some(node) = ctx.world.region.node_mut(sid) {
        node.previous_status = Status::Allocated;
        node.status = Status::Deploying;
        node.osystem = "ubuntu".into();
        node.distro_series = release;
        node.hwe_kernel = Some(hwe.unwrap_or(default_kernel));
        node.user_data = user_data;
    }
    ctx.world.set_power(sid, PowerState::On, true);
    start_phase(ctx.world, sid, Phase::Deploying, None);
    Ok(Reply::json(Value::Null))
}

fn machine_op(ctx: &mut Ctx<'_>, op: &str) -> HResult {
    let sid = machine(ctx)?.system_id.clone();
    let status = machine(ctx)?.status;
    match op {
        "power_on" | "power_off" => {
            let power = if op == "power_on" { PowerState::On } else { PowerState::Off };
            ctx.world.set_power(&sid, power, false);
        }
        "commission" => {
            commission(ctx, &sid)?;
        }
        "deploy" => {
            deploy(ctx, &sid)?;
        }
        "release" => {
            release_one(ctx, &sid)?;
        }
        "abort" => {
            let back = match status {
                Status::Commissioning | Status::Testing | Status::Deploying | Status::DiskErasing => machine(ctx)?.previous_status,
                _ => {
                    return Err(Reply::conflict(format!("Node cannot be aborted in its current state ('{}').", status.name())));
                }
            };
            if let Some(node) = ctx.world.region.node_mut(&sid) {
                node.status = back;
                node.pending = None;
            }
        }
        "mark_broken" => {
            if let Some(node) = ctx.world.region.node_mut(&sid) {
                node.previous_status = status;
                node.status = Status::Broken;
                node.pending = None;
            }
        }
        "mark_fixed" => {
            if status != Status::Broken {
                return Err(Reply::conflict(format!("Unable to be fixed because of the current state ('{}').", status.name())));
            }
            if let Some(node) = ctx.world.region.node_mut(&sid) {
                node.status = Status::Ready;
            }
        }
        "lock" | "unlock" => {
            if let Some(node) = ctx.world.region.node_mut(&sid) {
                node.locked = op == "lock";
            }
        }
        "set_workload_annotations" | "set_owner_data" => {
            let owned = machine(ctx)?.owner.is_some();
            if !owned {
                return Err(Reply::conflict("Cannot set workload annotation: it hasn't been acquired."));
            }
            let fields: Vec<(String, String)> =
                ctx.args.fields().iter().map(|(k, v)| (k.clone(), v.last().cloned().unwrap_or_default())).collect();
            if let Some(node) = ctx.world.region.node_mut(&sid) {
                for (key, value) in fields {
                    if value.is_empty() {
                        node.annotations.remove(&key);
                    } else {
                        node.annotations.insert(key, value);
                    }
                }
            }
        }
        "restore_networking_configuration" => {
            if !matches!(status, Status::Ready | Status::FailedTesting) {
                return Err(Reply::conflict(format!(
                    "Machine must be in a ready or failed testing state to restore networking configuration (currently '{}').",
                    status.name()
                )));
            }
            restore_networking(ctx.world, &sid);
        }
        "restore_storage_configuration" | "restore_default_configuration" => {
            if !matches!(status, Status::Ready | Status::FailedTesting) {
                return Err(Reply::conflict("Machine must be in a ready or failed testing state to restore storage configuration."));
            }
            if op == "restore_default_configuration" {
                restore_networking(ctx.world, &sid);
            }
            lifecycle::default_layout(ctx.world, &sid);
        }
        "set_storage_layout" => set_storage_layout(ctx, &sid, status)?,
        "clear_default_gateways" => {
            if let Some(node) = ctx.world.region.node_mut(&sid) {
                for iface in &mut node.interfaces {
                    for link in &mut iface.links {
                        link.default_gateway = false;
                    }
                }
            }
        }
        _ => return Err(ctx.unknown_op()),
    }
    Ok(render(ctx, &sid))
}

fn set_storage_layout(ctx: &mut Ctx<'_>, sid: &str, status: Status) -> Result<(), Reply> {
    if status != Status::Ready {
        return Err(Reply::conflict("Cannot change the storage layout on a machine that is not Ready."));
    }
    let layout = ctx.arg("storage_layout").ok_or_else(|| Reply::field("storage_layout", "This field is required."))?.to_owned();
    let node = machine(ctx)?;
    let boot_disk = super::storage::boot_disk_id(node).and_then(|id| node.block_devices.iter().find(|d| d.id == id));
    let disk_size = boot_disk.map(|d| d.size).unwrap_or(0);
    let root_device = match ctx.arg("root_device").filter(|s| !s.is_empty()) {
        Some(text) => Some(
            node.block_devices
                .iter()
                .find(|d| d.lv_of.is_none() && (d.id.to_string() == text || d.name == text))
                .map(|d| d.id)
                .ok_or_else(|| Reply::field("root_device", "Select a valid choice."))?,
        ),
        None => None,
    };
    let size = |name: &str| -> Result<Option<u64>, Reply> {
        match ctx.arg(name).filter(|s| !s.is_empty()) {
            Some(text) => parse_size(text, disk_size).map(Some).ok_or_else(|| Reply::field(name, format!("'{text}' is not a valid size."))),
            None => Ok(None),
        }
    };
    let request = LayoutRequest {
        layout,
        boot_size: size("boot_size")?.unwrap_or(0),
        root_device,
        root_size: size("root_size")?,
        vg_name: ctx.arg("vg_name").filter(|s| !s.is_empty()).unwrap_or("vgroot").to_owned(),
        lv_name: ctx.arg("lv_name").filter(|s| !s.is_empty()).unwrap_or("lvroot").to_owned(),
        lv_size: size("lv_size")?,
        lv_percent: ctx.arg("lv_size").and_then(|t| t.trim().strip_suffix('%')).and_then(|p| p.trim().parse().ok()),
    };
    apply_to(ctx.world, sid, &request).map_err(|errors| {
        let mut map = Map::new();
        for (field, message) in errors {
            map.insert(field, j!([message]));
        }
        Reply { status: 400, body: Body::Json(Value::Object(map)) }
    })
}
