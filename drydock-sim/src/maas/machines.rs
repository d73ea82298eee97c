//! Machines, nodes and rack controllers: listing with filters, create,
//! allocate, the per-machine ops (commission, deploy, release, ...) and
//! power (compat: drivers.md §3.3 "Machines and nodes", §3.6).

use super::django::{already_exists, hostname_problem, py_repr};
use super::lifecycle::{self, apply_to, restore_networking, start_phase};
use super::model::{Phase, PowerState, Status};
use super::storage::LayoutRequest;
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

/// MaaS's `MAC_RE`: six groups of 1-2 hex digits joined by `:` or `-`, or
/// three groups of 3-4 joined by one character (`0011.2233.4455`).
fn valid_mac(mac: &str) -> bool {
    let mac = mac.trim();
    let hex = |p: &str, lo: usize, hi: usize| (lo..=hi).contains(&p.len()) && p.chars().all(|c| c.is_ascii_hexdigit());
    for sep in [':', '-'] {
        let parts: Vec<&str> = mac.split(sep).collect();
        if parts.len() == 6 && parts.iter().all(|p| hex(p, 1, 2)) {
            return true;
        }
    }
    let dotted: Vec<&str> = mac.split(|c: char| !c.is_ascii_hexdigit()).collect();
    dotted.len() == 3 && dotted.iter().all(|p| hex(p, 3, 4)) && mac.chars().filter(|c| !c.is_ascii_hexdigit()).count() == 2
}

fn list(ctx: &mut Ctx<'_>, kind: Kind) -> HResult {
    let hostnames = ctx.args.all("hostname").to_vec();
    if let Some(bad) = ctx.args.all("mac_address").iter().find(|m| !valid_mac(m)) {
        return Err(Reply::field("mac_address", format!("'{bad}' is not a valid MAC address.")));
    }
    let macs: Vec<String> = ctx.args.all("mac_address").iter().map(|m| m.trim().to_ascii_lowercase().replace('-', ":")).collect();
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

/// The hostname problem MaaS reports first (`Node.hostname`: validator,
/// then uniqueness), if any.
fn hostname_error(ctx: &Ctx<'_>, hostname: &str, own: Option<&str>) -> Option<Reply> {
    if let Some(problem) = hostname_problem(hostname) {
        return Some(Reply::field("hostname", problem));
    }
    let region = &ctx.world.region;
    let taken = region.machines.values().chain(region.racks.values()).any(|n| n.hostname == hostname && Some(n.system_id.as_str()) != own);
    taken.then(|| Reply::field("hostname", already_exists("Node", "Hostname")))
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
        return Err(Reply::not_a_choice("power_type", &power_type));
    }
    let macs = ctx.args.all("mac_addresses").to_vec();
    if macs.is_empty() {
        return Err(Reply::field("mac_addresses", "This field is required."));
    }
    if let Some(bad) = macs.iter().find(|m| !valid_mac(m)) {
        return Err(Reply::field("mac_addresses", format!("'{bad}' is not a valid MAC address.")));
    }
    let hostname = ctx.arg("hostname").filter(|h| !h.is_empty()).map(str::to_owned);
    if let Some(error) = hostname.as_deref().and_then(|h| hostname_error(ctx, h, None)) {
        return Err(error);
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
        return Err(Reply::conflict(not_available(ctx)));
    };
    let user = ctx.user.clone();
    if let Some(node) = ctx.world.region.node_mut(&sid) {
        node.status = Status::Allocated;
        node.owner = Some(user);
        node.annotations.clear();
    }
    Ok(render(ctx, &sid))
}

/// MaaS's 409 text when nothing matches `allocate` (`NodesNotAvailable`):
/// the posted fields as Python's `str()` of `[(name, [values])]`, then the
/// constraints the form understood, Juju-style and sorted.
fn not_available(ctx: &Ctx<'_>) -> String {
    let input: Vec<String> = ctx
        .args
        .fields()
        .iter()
        .map(|(name, values)| {
            let values: Vec<String> = values.iter().map(|v| py_repr(v)).collect();
            format!("({}, [{}])", py_repr(name), values.join(", "))
        })
        .collect();
    let described: Vec<String> = ["name", "system_id", "tags", "zone"]
        .iter()
        .filter_map(|field| {
            let values: Vec<&str> = ctx.args.all(field).iter().map(String::as_str).filter(|v| !v.is_empty()).collect();
            match (*field, values.as_slice()) {
                (_, []) => None,
                ("tags", all) => Some(format!(
                    "tags={}",
                    all.iter().flat_map(|t| t.split([',', ' '])).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(",")
                )),
                (name, [.., last]) => Some(format!("{name}={last}")),
            }
        })
        .collect();
    if described.is_empty() {
        "No machine available.".to_owned()
    } else {
        format!("No available machine matches constraints: [{}] (resolved to \"{}\")", input.join(", "), described.join(" "))
    }
}

fn update(ctx: &mut Ctx<'_>) -> HResult {
    let sid = ctx.param("system_id").to_owned();
    if ctx.world.region.node(&sid).is_none() {
        return Err(Reply::not_found("Node"));
    }
    if let Some(error) = ctx.arg("hostname").filter(|h| !h.is_empty()).and_then(|h| hostname_error(ctx, h, Some(&sid))) {
        return Err(error);
    }
    // NodeForm.clean_domain: an id, else a name; an unknown name answers
    // "Unable to find domain <name>" (an unknown numeric id makes MaaS 2.9
    // fail with a 500; the emulator gives the same 400 as for a name).
    let domain = match ctx.arg("domain").filter(|d| !d.is_empty()) {
        Some(d) => Some(
            ctx.world
                .region
                .domains
                .iter()
                .find(|(id, (name, _, _))| match d.parse::<i64>() {
                    Ok(wanted) => **id == wanted,
                    Err(_) => name == d,
                })
                .map(|(id, _)| *id)
                .ok_or_else(|| Reply::field("domain", format!("Unable to find domain {d}")))?,
        ),
        None => None,
    };
    if let Some(pt) = ctx.arg("power_type")
        && !pt.is_empty()
        && !POWER_TYPES.contains(&pt)
    {
        return Err(Reply::not_a_choice("power_type", pt));
    }
    let params = power_params_from_args(ctx);
    let args = ctx.args.clone();
    let Some(node) = ctx.world.region.node_mut(&sid) else {
        return Err(Reply::not_found("Node"));
    };
    if let Some(v) = args.get_nonempty("hostname") {
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
    if let Some(v) = args.get_nonempty("power_type") {
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
    let (status, locked) = ctx.world.region.machines.get(sid).map(|m| (m.status, m.locked)).ok_or_else(|| Reply::not_found("Machine"))?;
    // CommissionForm.clean: the node action `commission` must be available
    // (node_action.Commission: New, Failed commissioning, Ready, Broken; not
    // locked), else a non-field form error.
    if locked || !matches!(status, Status::New | Status::Ready | Status::Broken | Status::FailedCommissioning) {
        return Err(Reply::field("__all__", "Commission is not available because of the current state of the node."));
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
    // A Ready machine is acquired first; MaaS runs the request in one
    // transaction, so a refused deploy leaves it Ready (the emulator
    // acquires only once every check passed).
    let status = machine(ctx)?.status;
    if !matches!(status, Status::Ready | Status::Allocated) {
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
        // MachineForm's distro_series choices: the default ('') first, then
        // every usable `<os>/<release>`.
        let mut releases: Vec<&str> = vec![""];
        releases.extend(resources.iter().filter(|r| r.1.starts_with("ubuntu/")).map(|r| r.1.as_str()));
        releases.dedup();
        return Err(Reply::invalid_choice("distro_series", &series_arg, "distro_series", &releases));
    }
    let hwe = ctx.arg("hwe_kernel").filter(|s| !s.is_empty()).map(str::to_owned);
    if let Some(k) = &hwe
        && !kernels.contains(k)
    {
        let arch = machine(ctx)?.architecture.clone();
        return Err(Reply::field("hwe_kernel", format!("{k} is not available for {wanted} on {arch}.")));
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
    let user = ctx.user.clone();
    if let Some(node) = ctx.world.region.node_mut(sid) {
        if status == Status::Ready {
            node.owner = Some(user);
        }
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
                    return Err(Reply::conflict(format!("Cannot abort in current state: node {sid} is in state {}.", status.name())));
                }
            };
            if let Some(node) = ctx.world.region.node_mut(&sid) {
                node.status = back;
                node.pending = None;
            }
        }
        "mark_broken" => {
            // MaaS 2.9: only the machine's owner may mark it broken (403,
            // empty body, otherwise).
            if machine(ctx)?.owner.as_deref() != Some(ctx.user.as_str()) {
                return Err(Reply::text(403, ""));
            }
            if let Some(node) = ctx.world.region.node_mut(&sid) {
                node.previous_status = status;
                node.status = Status::Broken;
                node.pending = None;
            }
        }
        "mark_fixed" => {
            if status != Status::Broken {
                return Err(Reply::conflict("Can't mark a non-broken node as 'Ready'."));
            }
            if let Some(node) = ctx.world.region.node_mut(&sid) {
                node.status = Status::Ready;
            }
        }
        "lock" | "unlock" => {
            let locked = machine(ctx)?.locked;
            if op == "lock" && locked {
                return Err(Reply::conflict("Machine is already locked"));
            }
            if op == "unlock" && !locked {
                return Err(Reply::conflict("Machine is not locked"));
            }
            if let Some(node) = ctx.world.region.node_mut(&sid) {
                node.locked = op == "lock";
            }
        }
        "set_workload_annotations" | "set_owner_data" => {
            // The caller must own the machine. `set_owner_data` is the 2.x op
            // (its text); `set_workload_annotations` exists from MaaS 3.0 on
            // (the original driver sends it) with its 3.x text.
            if machine(ctx)?.owner.as_deref() != Some(ctx.user.as_str()) {
                return Err(Reply::conflict(if op == "set_owner_data" {
                    "Cannot set owner data: it hasn't been allocated."
                } else {
                    "Cannot set workload annotation: it hasn't been acquired."
                }));
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
                return Err(Reply::conflict("Machine must be in a ready or failed testing state to restore networking configuration"));
            }
            restore_networking(ctx.world, &sid);
        }
        "restore_storage_configuration" | "restore_default_configuration" => {
            if !matches!(status, Status::Ready | Status::FailedTesting) {
                return Err(Reply::conflict(if op == "restore_default_configuration" {
                    "Machine must be in a ready or failed testing state to restore default networking and storage configuration."
                } else {
                    "Machine must be in a ready or failed testing state to restore storage configuration."
                }));
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

/// `set_storage_layout`'s layouts, in MaaS's order (`STORAGE_LAYOUTS`).
const LAYOUTS: [&str; 5] = ["flat", "lvm", "bcache", "vmfs6", "blank"];
const EFI_SIZE: i128 = 512 * 1024 * 1024;
const MIN_BOOT: i128 = 512 * 1024 * 1024;
const MIN_ROOT: i128 = 3 * 1024 * 1024 * 1024;

/// A `BytesOrPercentageField` value.
#[derive(Clone, Copy)]
enum Size {
    Bytes(i128),
    Percent(f64),
}

/// MaaS's `BytesOrPercentageField`: `N%`, or an integer with an optional SI
/// suffix (`K`, `M`, `G`, `T`, `P`, `E`; powers of 1000); else "Enter a valid
/// value.".
fn bytes_or_percent(text: &str) -> Option<Size> {
    if let Some(number) = text.strip_suffix('%') {
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let digits = |p: &str| p.chars().all(|c| c.is_ascii_digit());
        return (!whole.is_empty() && digits(whole) && digits(fraction)).then(|| number.parse().ok().map(Size::Percent)).flatten();
    }
    super::django::bytes_field(text).map(Size::Bytes)
}

/// `calculate_size_from_percentage`: `ceil(size * pct / 100)`.
fn percent_of(size: i128, percent: f64) -> i128 {
    (size as f64 * percent / 100.0).ceil() as i128
}

/// `set_storage_layout` with MaaS's validation order and texts
/// (`StorageLayoutForm`, then the layout form's fields `boot_size`,
/// `root_size`, [`vg_name`, `lv_name`, `lv_size`], `root_device`, then its
/// `clean()`; compat: storage_layouts.py of MaaS 2.9.2).
fn set_storage_layout(ctx: &mut Ctx<'_>, sid: &str, status: Status) -> Result<(), Reply> {
    if status != Status::Ready {
        return Err(Reply::conflict("Cannot change the storage layout on a machine that is not Ready."));
    }
    let layout =
        ctx.arg("storage_layout").filter(|l| !l.is_empty()).ok_or_else(|| Reply::field("storage_layout", super::REQUIRED))?.to_owned();
    if !LAYOUTS.contains(&layout.as_str()) {
        return Err(Reply::invalid_choice("storage_layout", &layout, "storage_layout", &LAYOUTS));
    }
    let node = machine(ctx)?;
    let mut physical: Vec<&super::model::BlockDevice> = node.block_devices.iter().filter(|d| d.lv_of.is_none()).collect();
    physical.sort_by_key(|d| d.id);
    let boot_disk = super::storage::boot_disk_id(node).and_then(|id| node.block_devices.iter().find(|d| d.id == id));
    let disk_size = boot_disk.map(|d| i128::from(d.size)).unwrap_or(0);
    let mut errors: Vec<(&str, String)> = Vec::new();
    let field_size = |name: &'static str, errors: &mut Vec<(&str, String)>| -> Option<Size> {
        let text = ctx.arg(name).filter(|t| !t.is_empty())?;
        let parsed = bytes_or_percent(text);
        if parsed.is_none() {
            errors.push((name, "Enter a valid value.".into()));
        }
        parsed
    };
    let clean_size = |name: &'static str, min: i128, max: i128, errors: &mut Vec<(&str, String)>| -> Option<i128> {
        let size = match field_size(name, errors)? {
            Size::Bytes(b) => b,
            Size::Percent(p) => percent_of(disk_size - EFI_SIZE, p),
        };
        boot_disk?;
        if size < min {
            errors.push((name, format!("Size is too small. Minimum size is {min}.")));
            None
        } else if size > max {
            errors.push((name, format!("Size is too large. Maximum size is {max}.")));
            None
        } else {
            Some(size)
        }
    };
    let boot_size = clean_size("boot_size", MIN_BOOT, disk_size - EFI_SIZE - MIN_ROOT, &mut errors);
    let root_size = clean_size("root_size", MIN_ROOT, disk_size - EFI_SIZE - MIN_BOOT, &mut errors);
    let lv_size = if layout == "lvm" { field_size("lv_size", &mut errors) } else { None };
    let ids: Vec<String> = physical.iter().map(|d| d.id.to_string()).collect();
    let root_device = match ctx.arg("root_device").filter(|s| !s.is_empty()) {
        Some(text) if ids.iter().any(|id| id == text) => text.parse::<i64>().ok(),
        Some(text) => {
            let choices: Vec<&str> = ids.iter().map(String::as_str).collect();
            errors.push(("root_device", super::invalid_choice_text(text, "root_device", &choices)));
            None
        }
        None => None,
    };
    // clean(): no disk at all is not a form error but a 400 text.
    if physical.is_empty() {
        return Err(Reply::text(400, "Machine is missing a boot disk; no storage layout can be applied."));
    }
    let total = EFI_SIZE + boot_size.unwrap_or(0);
    if let Some(root) = root_size
        && total + root > disk_size
    {
        errors.push((
            "__all__",
            "Size of the boot partition and root partition are larger than the available space on the boot disk.".into(),
        ));
    } else if let Some(lv) = lv_size {
        let root = root_size.unwrap_or(disk_size - EFI_SIZE - boot_size.unwrap_or(0));
        let lv = match lv {
            Size::Bytes(b) => b,
            Size::Percent(p) => percent_of(root, p),
        };
        if lv < MIN_ROOT {
            errors.push(("lv_size", format!("Size is too small. Minimum size is {MIN_ROOT}.")));
        }
        if lv > root {
            errors.push(("lv_size", format!("Size is too large. Maximum size is {root}.")));
        }
    }
    if !errors.is_empty() {
        return Err(Reply::fields(&errors));
    }
    match layout.as_str() {
        "bcache" => {
            // The emulator models no SSDs, so there is never a cache device.
            return Err(Reply::text(
                400,
                "Failed to configure storage layout 'bcache': Node doesn't have an available cache device to setup bcache.",
            ));
        }
        "vmfs6" => return Err(Reply::text(400, "Failed to configure storage layout 'vmfs6': not emulated by drydock-sim.")),
        _ => {}
    }
    let to_u64 = |size: i128| u64::try_from(size).unwrap_or(0);
    let request = LayoutRequest {
        layout,
        boot_size: boot_size.map(to_u64).unwrap_or(0),
        root_device,
        root_size: root_size.map(to_u64),
        vg_name: ctx.arg("vg_name").filter(|s| !s.is_empty()).unwrap_or("vgroot").to_owned(),
        lv_name: ctx.arg("lv_name").filter(|s| !s.is_empty()).unwrap_or("lvroot").to_owned(),
        lv_size: match lv_size {
            Some(Size::Bytes(b)) => Some(to_u64(b)),
            _ => None,
        },
        lv_percent: match lv_size {
            Some(Size::Percent(p)) => Some(p),
            _ => None,
        },
    };
    apply_to(ctx.world, sid, &request).map_err(|errors| {
        let errors: Vec<(&str, String)> = errors.iter().map(|(field, message)| (field.as_str(), message.clone())).collect();
        Reply::fields(&errors)
    })
}
