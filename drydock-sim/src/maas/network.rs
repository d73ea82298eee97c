//! Global networking resources: fabrics, VLANs, subnets, IP ranges, static
//! routes, spaces and domains (compat: drivers.md §3.3 "Networking").
//! The fault plan's "vanished fabrics" is honoured here.

use super::django::{already_exists, at_least, at_most};
use super::ip::{contains, parse_ip, valid_cidr};
use super::model::{IpRange, Subnet};
use super::{Ctx, HResult, INVALID_MODEL_CHOICE, REQUIRED, Reply, json};
use serde_json::{Map, Value, json as j};

pub(crate) fn handle(ctx: &mut Ctx<'_>, handler: &str) -> HResult {
    let op = ctx.op.clone();
    let result = match handler {
        "FabricsHandler" | "FabricHandler" => fabrics(ctx, handler),
        "VlansHandler" | "VlanHandler" | "VlanByIdHandler" => vlans(ctx, handler),
        "SubnetsHandler" | "SubnetHandler" => subnets(ctx, handler, op.as_deref()),
        "IPRangesHandler" | "IPRangeHandler" => ipranges(ctx, handler),
        "StaticRoutesHandler" | "StaticRouteHandler" => static_routes(ctx, handler),
        "SpacesHandler" | "SpaceHandler" => spaces(ctx, handler),
        _ => domains(ctx, handler, op.as_deref()),
    };
    // Node JSON embeds fabrics' VLANs, subnets and the domain: a successful
    // change to those invalidates every cached node rendering.
    let embedded = matches!(handler, "FabricHandler" | "VlanHandler" | "VlanByIdHandler" | "SubnetHandler" | "DomainHandler");
    if ctx.method != "GET" && embedded && result.is_ok() {
        ctx.world.region.net_revision += 1;
    }
    result
}

fn vanished(ctx: &mut Ctx<'_>) -> bool {
    let method = ctx.method.to_owned();
    let vanished = ctx.world.take_fault("vanish_fabrics", &method, "/MAAS/api/2.0/fabrics/", None).is_some();
    if vanished {
        ctx.fault_note = Some("vanish_fabrics".into());
    }
    vanished
}

/// `Fabric.name`: its validator (`^[\w-]+$`), `clean_name` (names
/// `fabric-<n>` are reserved except a fabric's own) and uniqueness.
fn fabric_name_error(ctx: &Ctx<'_>, name: &str, own: Option<i64>) -> Option<Reply> {
    if !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
        return Some(Reply::field("name", format!("Invalid fabric name: {name}.")));
    }
    let reserved = name.strip_prefix("fabric-").is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    if reserved && own.is_none_or(|id| name != format!("fabric-{id}")) {
        return Some(Reply::field("name", "Reserved fabric name."));
    }
    let taken = ctx.world.region.fabrics.values().any(|f| f.name == name && Some(f.id) != own);
    taken.then(|| Reply::field("name", already_exists("Fabric", "Name")))
}

fn fabrics(ctx: &mut Ctx<'_>, handler: &str) -> HResult {
    let region = &ctx.world.region;
    match (handler, ctx.method) {
        ("FabricsHandler", "GET") => {
            if vanished(ctx) {
                return Ok(Reply::json(j!([])));
            }
            let region = &ctx.world.region;
            Ok(Reply::json(Value::from(region.fabrics.keys().map(|id| json::fabric(region, *id)).collect::<Vec<_>>())))
        }
        ("FabricsHandler", "POST") => {
            let name = ctx.arg("name").filter(|n| !n.is_empty()).map(str::to_owned);
            if let Some(error) = name.as_deref().and_then(|n| fabric_name_error(ctx, n, None)) {
                return Err(error);
            }
            let description = ctx.arg("description").unwrap_or("").to_owned();
            let class_type = ctx.arg("class_type").filter(|c| !c.is_empty()).map(str::to_owned);
            let id = ctx.world.region.add_fabric(name, description, class_type);
            Ok(Reply::json(json::fabric(&ctx.world.region, id)))
        }
        _ => {
            let id = ctx.id_param("id", "Fabric")?;
            if !region.fabrics.contains_key(&id) || vanished(ctx) {
                return Err(Reply::not_found("Fabric"));
            }
            match ctx.method {
                "GET" => Ok(Reply::json(json::fabric(&ctx.world.region, id))),
                "PUT" => {
                    if let Some(name) = ctx.arg("name").map(str::to_owned) {
                        // An empty name becomes the default `fabric-<id>`.
                        let name = if name.is_empty() { format!("fabric-{id}") } else { name };
                        if let Some(error) = fabric_name_error(ctx, &name, Some(id)) {
                            return Err(error);
                        }
                        if let Some(f) = ctx.world.region.fabrics.get_mut(&id) {
                            f.name = name;
                        }
                    }
                    if let Some(d) = ctx.arg("description").map(str::to_owned)
                        && let Some(f) = ctx.world.region.fabrics.get_mut(&id)
                    {
                        f.description = d;
                    }
                    Ok(Reply::json(json::fabric(&ctx.world.region, id)))
                }
                _ => {
                    // Fabric.delete raises simple ValidationErrors: 400 text.
                    if id == 0 {
                        return Err(Reply::text(400, "This fabric is the default fabric, it cannot be deleted."));
                    }
                    let region = &ctx.world.region;
                    let mut cidrs: Vec<&str> = region
                        .subnets
                        .values()
                        .filter(|s| region.vlans.get(&s.vlan).is_some_and(|v| v.fabric == id))
                        .map(|s| s.cidr.as_str())
                        .collect();
                    cidrs.sort_unstable();
                    if !cidrs.is_empty() {
                        return Err(Reply::text(
                            400,
                            format!("Can't delete fabric; the following subnets are still present: {}", cidrs.join(", ")),
                        ));
                    }
                    let region = &mut ctx.world.region;
                    region.fabrics.remove(&id);
                    region.vlans.retain(|_, v| v.fabric != id);
                    Ok(Reply::empty())
                }
            }
        }
    }
}

fn vlan_id_of(ctx: &Ctx<'_>, handler: &str) -> Result<i64, Reply> {
    let region = &ctx.world.region;
    if handler == "VlanByIdHandler" {
        let id = ctx.id_param("id", "VLAN")?;
        return region.vlans.contains_key(&id).then_some(id).ok_or_else(|| Reply::not_found("VLAN"));
    }
    let fabric = ctx.id_param("fabric_id", "Fabric")?;
    let vid: i64 = ctx.param("vid").parse().map_err(|_| Reply::not_found("VLAN"))?;
    region.vlans.values().find(|v| v.fabric == fabric && v.vid == vid).map(|v| v.id).ok_or_else(|| Reply::not_found("VLAN"))
}

/// `VLANForm`'s rack choices: rack controllers with an interface on a VLAN
/// of the same tag (`RackController.objects.filter_by_vids`), by system id
/// or hostname.
fn rack_choice(ctx: &Ctx<'_>, value: &str, vid: i64) -> Option<String> {
    let region = &ctx.world.region;
    region
        .racks
        .values()
        .filter(|r| r.system_id == value || r.hostname == value)
        .find(|r| r.interfaces.iter().any(|i| i.vlan.and_then(|v| region.vlans.get(&v)).is_some_and(|v| v.vid == vid)))
        .map(|r| r.system_id.clone())
}

/// The `vid` of a VLAN form: required on create, a whole number, 0-4094
/// (`VLAN.clean_vid`).
fn clean_vid(text: Option<&str>, required: bool) -> Result<Option<i64>, String> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None if required => Err(REQUIRED.into()),
        None => Ok(None),
        Some(t) => {
            let vid: i64 = t.parse().map_err(|_| "Enter a whole number.".to_owned())?;
            if !(0..=4094).contains(&vid) {
                return Err("VID must be between 0 and 4094.".into());
            }
            Ok(Some(vid))
        }
    }
}

/// The `mtu` of a VLAN form: `IntegerField(min_value=552)`, then
/// `VLAN.clean_mtu` (552-65535).
fn clean_mtu(text: Option<&str>) -> Result<Option<i64>, String> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => {
            let mtu: i64 = t.parse().map_err(|_| "Enter a whole number.".to_owned())?;
            if mtu < 552 {
                return Err(at_least(552));
            }
            if mtu > 65535 {
                return Err("MTU must be between 552 and 65535.".into());
            }
            Ok(Some(mtu))
        }
    }
}

const VLAN_TAKEN: &str = "A VLAN with the specified VID already exists in the destination fabric.";

fn vlans(ctx: &mut Ctx<'_>, handler: &str) -> HResult {
    if handler == "VlansHandler" {
        let fabric = ctx.id_param("fabric_id", "Fabric")?;
        if !ctx.world.region.fabrics.contains_key(&fabric) {
            return Err(Reply::not_found("Fabric"));
        }
        if ctx.method == "GET" {
            let region = &ctx.world.region;
            return Ok(Reply::json(Value::from(
                region.vlans.values().filter(|v| v.fabric == fabric).map(|v| json::vlan(region, v)).collect::<Vec<_>>(),
            )));
        }
        let vid = clean_vid(ctx.arg("vid"), true).map_err(|m| Reply::field("vid", m))?.unwrap_or(0);
        let mtu = clean_mtu(ctx.arg("mtu")).map_err(|m| Reply::field("mtu", m))?.unwrap_or(1500);
        if ctx.world.region.vlans.values().any(|v| v.fabric == fabric && v.vid == vid) {
            return Err(Reply::field("__all__", VLAN_TAKEN));
        }
        let name = ctx.arg("name").filter(|n| !n.is_empty()).map(str::to_owned).unwrap_or_else(|| vid.to_string());
        let description = ctx.arg("description").unwrap_or("").to_owned();
        let space = ctx.arg("space").filter(|s| !s.is_empty() && *s != "undefined").map(str::to_owned);
        let id = ctx.world.region.add_vlan(fabric, vid, name, mtu);
        if let Some(v) = ctx.world.region.vlans.get_mut(&id) {
            v.description = description;
            v.space = space;
        }
        let region = &ctx.world.region;
        return Ok(Reply::json(region.vlans.get(&id).map(|v| json::vlan(region, v)).unwrap_or(Value::Null)));
    }
    let id = vlan_id_of(ctx, handler)?;
    match ctx.method {
        "GET" => {}
        "DELETE" => {
            let region = &ctx.world.region;
            let fabric = region.vlans.get(&id).map(|v| v.fabric).unwrap_or(-1);
            if region.untagged_vlan(fabric) == Some(id) {
                return Err(Reply::text(400, "This VLAN is the default VLAN in the fabric, it cannot be deleted."));
            }
            ctx.world.region.vlans.remove(&id);
            return Ok(Reply::empty());
        }
        _ => update_vlan(ctx, id)?,
    }
    let region = &ctx.world.region;
    Ok(Reply::json(region.vlans.get(&id).map(|v| json::vlan(region, v)).unwrap_or(Value::Null)))
}

/// `PUT` of a VLAN with `VLANForm`'s checks and texts (MaaS 2.9.2
/// forms/vlan.py and models/vlan.py). As MaaS's `APIEditMixin`, a field not
/// sent keeps the VLAN's value and is validated like a sent one (so an
/// update of a VLAN serving DHCP checks its dynamic range again). Field
/// errors come in field order, then `clean()`'s first, then the model's.
fn update_vlan(ctx: &mut Ctx<'_>, id: i64) -> Result<(), Reply> {
    let Some(mut vlan) = ctx.world.region.vlans.get(&id).cloned() else {
        return Err(Reply::not_found("VLAN"));
    };
    let was = vlan.clone();
    let region = &ctx.world.region;
    let mut errors: Vec<(&str, String)> = Vec::new();
    // Fields: name, description, vid, mtu, dhcp_on, primary_rack,
    // secondary_rack, relay_vlan, space.
    if let Some(name) = ctx.arg("name") {
        vlan.name = name.to_owned();
    }
    if let Some(d) = ctx.arg("description") {
        vlan.description = d.to_owned();
    }
    match clean_vid(ctx.arg("vid"), false) {
        Ok(Some(vid)) => vlan.vid = vid,
        Ok(None) => {}
        Err(message) => errors.push(("vid", message)),
    }
    match clean_mtu(ctx.arg("mtu")) {
        Ok(Some(mtu)) => vlan.mtu = mtu,
        Ok(None) => {}
        Err(message) => errors.push(("mtu", message)),
    }
    let dhcp_on = ctx.arg("dhcp_on").map(super::form::parse_bool).unwrap_or(was.dhcp_on);
    let has_dynamic = region.subnets.values().filter(|s| s.vlan == id).any(|s| region.ranges_of(s.id).any(|r| r.kind == "dynamic"));
    let dhcp_ok = !dhcp_on || has_dynamic;
    if !dhcp_ok {
        errors.push(("dhcp_on", "dhcp can only be turned on when a dynamic IP range is defined.".into()));
    }
    let rack = |field: &'static str, errors: &mut Vec<(&str, String)>| -> Option<Option<String>> {
        match ctx.arg(field) {
            None => None,
            Some(value) if value.is_empty() || value == "None" => Some(None),
            Some(value) => match rack_choice(ctx, value, was.vid) {
                Some(sid) => Some(Some(sid)),
                None => {
                    errors.push((field, format!("Select a valid choice. {value} is not one of the available choices.")));
                    None
                }
            },
        }
    };
    let primary = rack("primary_rack", &mut errors);
    let secondary = rack("secondary_rack", &mut errors);
    if let Some(relay) = ctx.arg("relay_vlan") {
        // relay_vlan's choices: VLANs relaying nowhere, not this one; while
        // this VLAN serves DHCP, none but its current relay.
        match relay.trim() {
            "" | "None" => vlan.relay_vlan = None,
            text => {
                let chosen = text.parse::<i64>().ok().filter(|r| {
                    if was.dhcp_on {
                        was.relay_vlan == Some(*r)
                    } else {
                        *r != id && region.vlans.get(r).is_some_and(|v| v.relay_vlan.is_none())
                    }
                });
                match chosen {
                    Some(r) => vlan.relay_vlan = Some(r),
                    None => errors.push(("relay_vlan", INVALID_MODEL_CHOICE.into())),
                }
            }
        }
    }
    if let Some(space) = ctx.arg("space") {
        vlan.space = (!space.is_empty() && space != "undefined").then(|| space.to_owned());
    }
    // clean(): racks (the secondary is promoted when the primary goes; a
    // primary set to the secondary drops the secondary), then DHCP.
    let mut primary_rack = primary.clone().unwrap_or_else(|| was.primary_rack.clone());
    let mut secondary_rack = secondary.clone().unwrap_or_else(|| was.secondary_rack.clone());
    if primary_rack.is_none() && was.secondary_rack.is_some() {
        primary_rack = was.secondary_rack.clone();
        secondary_rack = None;
    }
    if primary_rack.is_some() && primary_rack == was.secondary_rack {
        secondary_rack = None;
    }
    if let Some(sid) = secondary_rack.as_deref().filter(|s| was.primary_rack.as_deref() == Some(*s)) {
        errors.push(("__all__", format!("{sid} is already set as the primary rack controller")));
    } else if primary_rack.is_some() && primary_rack == secondary_rack {
        errors.push(("__all__", "The primary and secondary rack must be different".into()));
    } else if dhcp_on && dhcp_ok && primary_rack.is_none() {
        errors.push(("__all__", "dhcp can only be turned on when a primary rack controller is set.".into()));
    }
    // The model: (vid, fabric) unique.
    if vlan.vid != was.vid && region.vlans.values().any(|v| v.fabric == vlan.fabric && v.vid == vlan.vid && v.id != id) {
        errors.push(("__all__", VLAN_TAKEN.into()));
    }
    if !errors.is_empty() {
        return Err(Reply::fields(&errors));
    }
    vlan.primary_rack = primary_rack;
    vlan.secondary_rack = secondary_rack;
    vlan.dhcp_on = dhcp_on;
    if vlan.dhcp_on {
        // VLANForm.save: a VLAN serving DHCP relays nowhere.
        vlan.relay_vlan = None;
    }
    ctx.world.region.vlans.insert(id, vlan);
    refresh_dhcpd(ctx);
    Ok(())
}

/// Flips each rack's `dhcpd` service to `running` when it serves a VLAN.
fn refresh_dhcpd(ctx: &mut Ctx<'_>) {
    let region = &mut ctx.world.region;
    let serving: Vec<String> =
        region.vlans.values().filter(|v| v.dhcp_on).flat_map(|v| v.primary_rack.iter().chain(v.secondary_rack.iter()).cloned()).collect();
    for rack in region.racks.values_mut() {
        let status = if serving.contains(&rack.system_id) { "running" } else { "off" };
        if rack.services.get("dhcpd").map(String::as_str) != Some(status) {
            rack.services.insert("dhcpd".into(), status.into());
            rack.revision += 1;
        }
    }
}

fn find_subnet(ctx: &Ctx<'_>, key: &str) -> Result<i64, Reply> {
    ctx.world
        .region
        .subnets
        .values()
        .find(|s| s.id.to_string() == key || s.cidr == key)
        .map(|s| s.id)
        .ok_or_else(|| Reply::not_found("Subnet"))
}

/// MaaS's `str(fabric)`: `name=<name>`.
fn fabric_text(ctx: &Ctx<'_>, fabric: i64) -> String {
    format!("name={}", ctx.world.region.fabrics.get(&fabric).map(|f| f.name.as_str()).unwrap_or(""))
}

/// A `ModelChoiceField` over fabrics (by id).
fn fabric_choice(ctx: &Ctx<'_>, text: &str) -> Option<i64> {
    text.trim().parse::<i64>().ok().filter(|id| ctx.world.region.fabrics.contains_key(id))
}

/// `SubnetForm` (MaaS 2.9.2 forms/subnet.py and models/subnet.py): field
/// errors in field order, then `clean()`, then the model's gateway check;
/// `fabric`/`vid` only help on create. Every error is collected.
fn subnet_form(ctx: &Ctx<'_>, subnet: &mut Subnet, create: bool) -> Result<(), Reply> {
    let region = &ctx.world.region;
    let mut errors: Vec<(&str, String)> = Vec::new();
    let vlan = match ctx.arg("vlan").filter(|v| !v.is_empty()) {
        Some(text) => match text.trim().parse::<i64>().ok().filter(|id| region.vlans.contains_key(id)) {
            Some(id) => Some(id),
            None => {
                errors.push(("vlan", INVALID_MODEL_CHOICE.into()));
                None
            }
        },
        None => None,
    };
    let mut cidr_ok = true;
    match ctx.arg("cidr").map(str::trim).filter(|c| !c.is_empty()) {
        None if create => {
            errors.push(("cidr", REQUIRED.into()));
            cidr_ok = false;
        }
        None => {}
        Some(cidr) => match super::ip::parse_cidr(cidr) {
            Some((_, 0)) => {
                errors.push(("cidr", "Prefix length must be greater than 0.".into()));
                cidr_ok = false;
            }
            Some((net, prefix)) => subnet.cidr = format!("{}/{prefix}", std::net::Ipv4Addr::from(net)),
            None if valid_cidr(cidr) => subnet.cidr = cidr.to_owned(),
            None => {
                errors.push(("cidr", "Required format: <network>/<prefixlen>.".into()));
                cidr_ok = false;
            }
        },
    }
    let gateway = ctx.arg("gateway_ip").map(str::trim);
    if gateway.is_some_and(|g| !g.is_empty() && g.parse::<std::net::IpAddr>().is_err()) {
        errors.push(("gateway_ip", "Enter a valid IPv4 or IPv6 address.".into()));
    }
    if let Some(mode) = ctx.arg("rdns_mode").filter(|m| !m.is_empty()) {
        match mode.trim().parse::<i64>() {
            Ok(m) if (0..=2).contains(&m) => subnet.rdns_mode = m,
            _ => errors.push(("rdns_mode", format!("Select a valid choice. {mode} is not one of the available choices."))),
        }
    }
    let fabric = match ctx.arg("fabric").filter(|v| !v.is_empty()) {
        Some(text) => match fabric_choice(ctx, text) {
            Some(id) => Some(id),
            None => {
                errors.push(("fabric", INVALID_MODEL_CHOICE.into()));
                None
            }
        },
        None => None,
    };
    let vid = match ctx.arg("vid").filter(|v| !v.is_empty()) {
        Some(text) => match text.trim().parse::<i64>() {
            Ok(v) if v < 0 => {
                errors.push(("vid", at_least(0)));
                None
            }
            Ok(v) if v > 4094 => {
                errors.push(("vid", at_most(4094)));
                None
            }
            Ok(v) => Some(v),
            Err(_) => {
                errors.push(("vid", "Enter a whole number.".into()));
                None
            }
        },
        None => None,
    };
    // clean()
    if ctx.args.has("space") {
        errors.push(("space", "Spaces may no longer be set on subnets. Set the space on the underlying VLAN.".into()));
    }
    if ctx.args.has("dns_servers") {
        let servers: Vec<String> = ctx
            .args
            .all("dns_servers")
            .iter()
            .flat_map(|s| s.split([',', ' ', '\t', '\n']))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        match servers.iter().find(|ip| ip.parse::<std::net::IpAddr>().is_err()) {
            Some(bad) => errors.push(("__all__", format!("Invalid IP address: {bad}; provide a list of space-separated IP addresses"))),
            None => subnet.dns_servers = servers,
        }
    }
    if create && ctx.arg("vlan").filter(|v| !v.is_empty()).is_none() && !errors.iter().any(|(f, _)| *f == "fabric") {
        let in_fabric = fabric.unwrap_or(0);
        let vid = vid.unwrap_or(0);
        let found = if vid == 0 {
            region.untagged_vlan(in_fabric)
        } else {
            region.vlans.values().find(|v| v.fabric == in_fabric && v.vid == vid).map(|v| v.id)
        };
        match found {
            Some(id) => subnet.vlan = id,
            None if fabric.is_some() => errors.push(("vid", format!("No VLAN with vid {vid} in fabric {}.", fabric_text(ctx, in_fabric)))),
            None => errors.push(("vid", format!("No VLAN with vid {vid} in default fabric."))),
        }
    } else if let (true, Some(vlan_id), Some(fabric_id)) = (create, vlan, fabric)
        && region.vlans.get(&vlan_id).is_some_and(|v| v.fabric != fabric_id)
    {
        let vlan_text = region
            .vlans
            .get(&vlan_id)
            .map(|v| format!("{}.{}", region.fabrics.get(&v.fabric).map(|f| f.name.as_str()).unwrap_or(""), vlan_name(region, v)))
            .unwrap_or_default();
        errors.push(("vlan", format!("VLAN {vlan_text} is not in fabric {}.", fabric_text(ctx, fabric_id))));
    }
    if let Some(id) = vlan {
        subnet.vlan = id;
    }
    match gateway {
        Some("") => subnet.gateway_ip = None,
        Some(g) if g.parse::<std::net::IpAddr>().is_ok() => {
            // Subnet.validate_gateway_ip (the model's clean).
            if cidr_ok && parse_ip(g).is_some() && !contains(&subnet.cidr, g) {
                errors.push(("gateway_ip", "Gateway IP must be within CIDR range.".into()));
            }
            subnet.gateway_ip = Some(g.to_owned());
        }
        _ => {}
    }
    if cidr_ok && region.subnets.values().any(|other| other.cidr == subnet.cidr && other.id != subnet.id) {
        errors.push(("cidr", already_exists("Subnet", "Cidr")));
    }
    if !errors.is_empty() {
        return Err(Reply::fields(&errors));
    }
    if let Some(name) = ctx.arg("name").filter(|n| !n.is_empty()) {
        subnet.name = name.to_owned();
    }
    if let Some(d) = ctx.arg("description") {
        subnet.description = d.to_owned();
    }
    for (field, slot) in [("allow_proxy", &mut subnet.allow_proxy), ("allow_dns", &mut subnet.allow_dns), ("managed", &mut subnet.managed)]
    {
        if let Some(v) = ctx.arg(field) {
            *slot = super::form::parse_bool(v);
        }
    }
    Ok(())
}

/// MaaS's displayed VLAN name (`VLAN.get_name`): `untagged` for a fabric's
/// default VLAN.
fn vlan_name(region: &super::model::Region, vlan: &super::model::Vlan) -> String {
    if region.untagged_vlan(vlan.fabric) == Some(vlan.id) { "untagged".to_owned() } else { vlan.name.clone() }
}

fn subnets(ctx: &mut Ctx<'_>, handler: &str, op: Option<&str>) -> HResult {
    if handler == "SubnetsHandler" {
        if ctx.method == "GET" {
            let region = &ctx.world.region;
            return Ok(Reply::json(Value::from(region.subnets.values().map(|s| json::subnet(region, s)).collect::<Vec<_>>())));
        }
        let default_vlan = ctx.world.region.untagged_vlan(0).unwrap_or(0);
        let mut subnet = Subnet {
            id: 0,
            name: String::new(),
            description: String::new(),
            vlan: default_vlan,
            cidr: String::new(),
            gateway_ip: None,
            dns_servers: vec![],
            rdns_mode: 2,
            allow_dns: true,
            allow_proxy: true,
            managed: true,
        };
        subnet_form(ctx, &mut subnet, true)?;
        if subnet.name.is_empty() {
            subnet.name = subnet.cidr.clone();
        }
        subnet.id = ctx.world.region.new_id();
        let id = subnet.id;
        ctx.world.region.subnets.insert(id, subnet);
        return Ok(Reply::json(json::subnet_by_id(&ctx.world.region, id)));
    }
    let key = ctx.param("id").to_owned();
    let id = find_subnet(ctx, &key)?;
    match (ctx.method, op) {
        ("GET", None) => Ok(Reply::json(json::subnet_by_id(&ctx.world.region, id))),
        ("PUT", None) => {
            let Some(mut subnet) = ctx.world.region.subnets.get(&id).cloned() else {
                return Err(Reply::not_found("Subnet"));
            };
            let named_after_cidr = subnet.name == subnet.cidr;
            subnet_form(ctx, &mut subnet, false)?;
            if named_after_cidr && ctx.arg("name").is_none_or(str::is_empty) {
                subnet.name = subnet.cidr.clone();
            }
            ctx.world.region.subnets.insert(id, subnet);
            Ok(Reply::json(json::subnet_by_id(&ctx.world.region, id)))
        }
        ("DELETE", None) => {
            let region = &ctx.world.region;
            let serving = region.subnets.get(&id).and_then(|s| region.vlans.get(&s.vlan)).is_some_and(|v| v.dhcp_on)
                && region.ranges_of(id).any(|r| r.kind == "dynamic");
            if serving {
                return Err(Reply::text(
                    400,
                    "Cannot delete a subnet that is actively servicing a dynamic IP range. (Delete the dynamic range or disable DHCP first.)",
                ));
            }
            ctx.world.region.subnets.remove(&id);
            ctx.world.region.ipranges.retain(|_, r| r.subnet != id);
            Ok(Reply::empty())
        }
        ("GET", Some("reserved_ip_ranges")) => {
            let region = &ctx.world.region;
            let ranges: Vec<Value> = region
                .ranges_of(id)
                .map(|r| j!({"start": r.start_ip, "end": r.end_ip, "num_addresses": range_len(r), "purpose": [if r.kind == "dynamic" { "dynamic" } else { "reserved" }]}))
                .collect();
            Ok(Reply::json(Value::from(ranges)))
        }
        ("GET", Some("unreserved_ip_ranges")) => Ok(Reply::json(j!([]))),
        ("GET", Some("statistics")) => {
            let used = super::ip::used_addresses(&ctx.world.region, id).len();
            Ok(Reply::json(
                j!({"num_available": 0, "largest_available": 0, "num_unavailable": used, "total_addresses": 0, "usage": 0.0, "usage_string": "0%", "available_string": "0%", "first_address": "", "last_address": "", "ip_version": 4}),
            ))
        }
        ("GET", Some("ip_addresses")) => {
            let region = &ctx.world.region;
            let list: Vec<Value> = region
                .machines
                .values()
                .flat_map(|n| n.interfaces.iter().flat_map(move |i| i.links.iter().map(move |l| (n, l))))
                .filter(|(_, l)| l.subnet == Some(id) && l.ip_address.is_some())
                .map(|(n, l)| j!({"ip": l.ip_address, "alloc_type": 1, "node_summary": {"system_id": n.system_id, "hostname": n.hostname}}))
                .collect();
            Ok(Reply::json(Value::from(list)))
        }
        _ => Err(ctx.unknown_op()),
    }
}

fn range_len(range: &IpRange) -> u32 {
    match (parse_ip(&range.start_ip), parse_ip(&range.end_ip)) {
        (Some(s), Some(e)) if e >= s => e - s + 1,
        _ => 0,
    }
}

/// `IPRange.clean` (MaaS 2.9.2 models/iprange.py): the first failing check
/// answers, on `start_ip` and/or `end_ip`.
fn validate_range(ctx: &Ctx<'_>, range: &IpRange, exclude: Option<i64>) -> Result<(), Reply> {
    let both = |message: String| Reply::fields(&[("start_ip", message.clone()), ("end_ip", message)]);
    let region = &ctx.world.region;
    let (Some(start), Some(end)) = (parse_ip(&range.start_ip), parse_ip(&range.end_ip)) else {
        let v6 = |t: &str| t.parse::<std::net::Ipv6Addr>().is_ok();
        if v6(&range.start_ip) != v6(&range.end_ip) {
            return Err(both("Start IP address and end IP address must be in the same address family.".into()));
        }
        // IPv6 ranges are stored without further checks.
        return Ok(());
    };
    if end < start {
        return Err(Reply::field("end_ip", "End IP address must not be less than Start IP address."));
    }
    if let Some(subnet) = region.subnets.get(&range.subnet) {
        let cidr = &subnet.cidr;
        let (start_in, end_in) = (contains(cidr, &range.start_ip), contains(cidr, &range.end_ip));
        if !start_in && !end_in {
            return Err(both(format!("IP addresses must be within subnet: {cidr}.")));
        }
        if !start_in {
            return Err(Reply::field("start_ip", format!("Start IP address must be within subnet: {cidr}.")));
        }
        if !end_in {
            return Err(Reply::field("end_ip", format!("End IP address must be within subnet: {cidr}.")));
        }
        if let Some((net, prefix)) = super::ip::parse_cidr(cidr) {
            if start == net {
                return Err(Reply::field("start_ip", "Reserved network address cannot be included in IP range."));
            }
            let broadcast = net | (u32::MAX.checked_shr(prefix).unwrap_or(0));
            if end == broadcast {
                return Err(Reply::field("end_ip", "Broadcast address cannot be included in IP range."));
            }
        }
    }
    if !matches!(range.kind.as_str(), "dynamic" | "reserved") {
        return Ok(());
    }
    let overlaps = region.ranges_of(range.subnet).filter(|r| Some(r.id) != exclude).any(|r| {
        let (Some(s), Some(e)) = (parse_ip(&r.start_ip), parse_ip(&r.end_ip)) else {
            return false;
        };
        s <= end && start <= e
    });
    let gateway =
        region.subnets.get(&range.subnet).and_then(|s| s.gateway_ip.as_deref()).and_then(parse_ip).is_some_and(|g| start <= g && g <= end);
    if overlaps || (gateway && range.kind == "dynamic") {
        return Err(both(if range.kind == "reserved" {
            "Requested reserved range conflicts with an existing range.".to_owned()
        } else {
            "Requested dynamic range conflicts with an existing IP address or range.".to_owned()
        }));
    }
    Ok(())
}

fn ipranges(ctx: &mut Ctx<'_>, handler: &str) -> HResult {
    if handler == "IPRangesHandler" {
        if ctx.method == "GET" {
            let region = &ctx.world.region;
            return Ok(Reply::json(Value::from(region.ipranges.values().map(|r| json::iprange(region, r)).collect::<Vec<_>>())));
        }
        let mut range = IpRange {
            id: 0,
            kind: String::new(),
            start_ip: String::new(),
            end_ip: String::new(),
            subnet: 0,
            comment: String::new(),
            user: ctx.user.clone(),
        };
        range_fields(ctx, &mut range, true)?;
        validate_range(ctx, &range, None)?;
        range.id = ctx.world.region.new_id();
        let id = range.id;
        ctx.world.region.ipranges.insert(id, range);
        let region = &ctx.world.region;
        return Ok(Reply::json(region.ipranges.get(&id).map(|r| json::iprange(region, r)).unwrap_or(Value::Null)));
    }
    let id = ctx.id_param("id", "IPRange")?;
    let Some(mut range) = ctx.world.region.ipranges.get(&id).cloned() else {
        return Err(Reply::not_found("IPRange"));
    };
    match ctx.method {
        "GET" => {}
        "DELETE" => {
            ctx.world.region.ipranges.remove(&id);
            return Ok(Reply::empty());
        }
        _ => {
            range_fields(ctx, &mut range, false)?;
            validate_range(ctx, &range, Some(id))?;
            ctx.world.region.ipranges.insert(id, range);
        }
    }
    let region = &ctx.world.region;
    Ok(Reply::json(region.ipranges.get(&id).map(|r| json::iprange(region, r)).unwrap_or(Value::Null)))
}

/// `IPRangeForm`'s fields (`subnet`, `type`, `start_ip`, `end_ip`, `comment`;
/// the subnet found from `start_ip` when absent on create). Missing or
/// unreadable addresses also get the model's "both required" message.
fn range_fields(ctx: &Ctx<'_>, range: &mut IpRange, create: bool) -> Result<(), Reply> {
    let mut errors: Vec<(&str, String)> = Vec::new();
    let region = &ctx.world.region;
    let start_arg = ctx.arg("start_ip").map(str::trim).filter(|v| !v.is_empty());
    match ctx.arg("subnet").filter(|s| !s.is_empty()) {
        Some(s) => match s.trim().parse::<i64>().ok().filter(|id| region.subnets.contains_key(id)) {
            Some(id) => range.subnet = id,
            None => errors.push(("subnet", INVALID_MODEL_CHOICE.into())),
        },
        None if create => match start_arg.and_then(|ip| region.subnets.values().find(|s| contains(&s.cidr, ip))) {
            Some(subnet) => range.subnet = subnet.id,
            None => errors.push(("subnet", REQUIRED.into())),
        },
        None => {}
    }
    match ctx.arg("type").filter(|t| !t.is_empty()) {
        Some(kind) if matches!(kind, "dynamic" | "reserved") => range.kind = kind.to_owned(),
        Some(kind) => errors.push(("type", format!("Select a valid choice. {kind} is not one of the available choices."))),
        None if create => errors.push(("type", REQUIRED.into())),
        None => {}
    }
    let mut address_error = false;
    for (name, slot) in [("start_ip", &mut range.start_ip), ("end_ip", &mut range.end_ip)] {
        match ctx.arg(name).map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) if v.parse::<std::net::IpAddr>().is_ok() => *slot = v.to_owned(),
            Some(_) => {
                errors.push((name, "Enter a valid IPv4 or IPv6 address.".into()));
                address_error = true;
            }
            None if create => {
                errors.push((name, REQUIRED.into()));
                address_error = true;
            }
            None => {}
        }
    }
    if address_error {
        for name in ["start_ip", "end_ip"] {
            errors.push((name, "Start IP address and end IP address are both required.".into()));
        }
    }
    if let Some(v) = ctx.arg("comment") {
        range.comment = v.to_owned();
    }
    if errors.is_empty() { Ok(()) } else { Err(Reply::fields(&errors)) }
}

fn route_json(ctx: &Ctx<'_>, id: i64, fields: &Map<String, Value>) -> Value {
    let region = &ctx.world.region;
    let subnet = |name: &str| fields.get(name).and_then(Value::as_i64).map(|s| json::subnet_by_id(region, s)).unwrap_or(Value::Null);
    j!({"id": id, "source": subnet("source"), "destination": subnet("destination"), "gateway_ip": fields.get("gateway_ip"),
        "metric": fields.get("metric"), "resource_uri": format!("{}/static-routes/{id}/", json::API)})
}

/// A subnet named by a `SpecifierOrModelChoiceField` over every subnet.
fn subnet_specifier(ctx: &Ctx<'_>, text: &str) -> Result<i64, String> {
    let region = &ctx.world.region;
    let trimmed = text.trim();
    match trimmed.parse::<i64>() {
        Ok(id) => region.subnets.contains_key(&id).then_some(id).ok_or_else(|| format!("None found with id={text}.")),
        Err(_) => region
            .subnets
            .values()
            .find(|s| s.cidr == trimmed || s.name == trimmed)
            .map(|s| s.id)
            .ok_or_else(|| INVALID_MODEL_CHOICE.to_owned()),
    }
}

/// Static routes with `StaticRouteForm`'s and the model's checks.
fn static_routes(ctx: &mut Ctx<'_>, handler: &str) -> HResult {
    if handler == "StaticRoutesHandler" && ctx.method == "GET" {
        let list: Vec<Value> = ctx.world.region.static_routes.iter().map(|(id, f)| route_json(ctx, *id, f)).collect();
        return Ok(Reply::json(Value::from(list)));
    }
    let existing = if handler == "StaticRouteHandler" {
        let id = ctx.id_param("id", "StaticRoute")?;
        let fields = ctx.world.region.static_routes.get(&id).cloned().ok_or_else(|| Reply::not_found("StaticRoute"))?;
        match ctx.method {
            "GET" => return Ok(Reply::json(route_json(ctx, id, &fields))),
            "DELETE" => {
                ctx.world.region.static_routes.remove(&id);
                return Ok(Reply::empty());
            }
            _ => Some((id, fields)),
        }
    } else {
        None
    };
    let mut fields = existing.as_ref().map(|e| e.1.clone()).unwrap_or_default();
    let mut errors: Vec<(&str, String)> = Vec::new();
    for name in ["source", "destination"] {
        match ctx.arg(name).filter(|s| !s.is_empty()) {
            Some(text) => match subnet_specifier(ctx, text) {
                Ok(id) => {
                    fields.insert(name.into(), Value::from(id));
                }
                Err(message) => {
                    fields.remove(name);
                    errors.push((name, message));
                }
            },
            None if !fields.contains_key(name) => errors.push((name, REQUIRED.into())),
            None => {}
        }
    }
    match ctx.arg("gateway_ip").map(str::trim) {
        Some(gw) if gw.parse::<std::net::IpAddr>().is_ok() => {
            fields.insert("gateway_ip".into(), Value::from(gw));
        }
        Some(gw) if !gw.is_empty() => {
            fields.remove("gateway_ip");
            errors.push(("gateway_ip", "Enter a valid IPv4 or IPv6 address.".into()));
        }
        _ if !fields.contains_key("gateway_ip") => errors.push(("gateway_ip", REQUIRED.into())),
        _ => {}
    }
    match ctx.arg("metric").map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => match m.parse::<i64>() {
            Ok(metric) if metric < 0 => errors.push(("metric", at_least(0))),
            Ok(metric) => {
                fields.insert("metric".into(), Value::from(metric));
            }
            Err(_) => errors.push(("metric", "Enter a whole number.".into())),
        },
        None => {
            fields.entry("metric").or_insert(Value::from(0));
        }
    }
    let source = fields.get("source").and_then(Value::as_i64);
    let destination = fields.get("destination").and_then(Value::as_i64);
    let gateway = fields.get("gateway_ip").and_then(Value::as_str).map(str::to_owned);
    let cidr_of = |id: Option<i64>| id.and_then(|i| ctx.world.region.subnets.get(&i)).map(|s| s.cidr.clone());
    let outside = match (cidr_of(source), &gateway) {
        (Some(cidr), Some(gw)) if parse_ip(gw).is_some() && !contains(&cidr, gw) => Some(cidr),
        _ => None,
    };
    if let Some(cidr) = &outside {
        // StaticRouteForm.clean ...
        errors.push(("gateway_ip", format!("Enter an IP address in {cidr}.")));
    }
    if let (Some(source), Some(destination)) = (source, destination) {
        // ... then StaticRoute.clean (a non-field error).
        let family = |id: i64| cidr_of(Some(id)).is_some_and(|c| c.contains(':'));
        if source == destination {
            errors.push(("__all__", "source and destination cannot be the same subnet.".into()));
        } else if family(source) != family(destination) {
            errors.push(("__all__", "source and destination must be the same IP version.".into()));
        } else if outside.is_some() {
            errors.push(("__all__", "gateway_ip must be with in the source subnet.".into()));
        }
    }
    if !errors.is_empty() {
        return Err(Reply::fields(&errors));
    }
    let own = existing.as_ref().map(|e| e.0);
    let duplicate = ctx.world.region.static_routes.iter().any(|(id, f)| {
        Some(*id) != own
            && f.get("source") == fields.get("source")
            && f.get("destination") == fields.get("destination")
            && f.get("gateway_ip") == fields.get("gateway_ip")
    });
    if duplicate {
        return Err(Reply::field("__all__", already_exists("Static route", "Source, Destination and Gateway IP")));
    }
    let id = match own {
        Some(id) => id,
        None => ctx.world.region.new_id(),
    };
    ctx.world.region.static_routes.insert(id, fields.clone());
    Ok(Reply::json(route_json(ctx, id, &fields)))
}

fn space_json(ctx: &Ctx<'_>, id: i64, name: &str) -> Value {
    let region = &ctx.world.region;
    let vlans: Vec<Value> = region.vlans.values().filter(|v| v.space.as_deref() == Some(name)).map(|v| json::vlan(region, v)).collect();
    let subnets: Vec<Value> = region
        .subnets
        .values()
        .filter(|s| region.vlans.get(&s.vlan).is_some_and(|v| v.space.as_deref() == Some(name)))
        .map(|s| json::subnet(region, s))
        .collect();
    j!({"id": id, "name": name, "vlans": vlans, "subnets": subnets, "resource_uri": format!("{}/spaces/{id}/", json::API)})
}

fn spaces(ctx: &mut Ctx<'_>, handler: &str) -> HResult {
    if handler == "SpacesHandler" {
        if ctx.method == "GET" {
            let list: Vec<Value> = ctx.world.region.spaces.iter().map(|(id, n)| space_json(ctx, *id, n)).collect();
            return Ok(Reply::json(Value::from(list)));
        }
        let id = ctx.world.region.new_id();
        let name = ctx.arg("name").filter(|n| !n.is_empty()).map(str::to_owned).unwrap_or_else(|| format!("space-{id}"));
        ctx.world.region.spaces.insert(id, name.clone());
        return Ok(Reply::json(space_json(ctx, id, &name)));
    }
    let id = ctx.id_param("id", "Space")?;
    let name = ctx.world.region.spaces.get(&id).cloned().ok_or_else(|| Reply::not_found("Space"))?;
    match ctx.method {
        "GET" => Ok(Reply::json(space_json(ctx, id, &name))),
        "DELETE" => {
            ctx.world.region.spaces.remove(&id);
            Ok(Reply::empty())
        }
        _ => {
            let name = ctx.arg("name").unwrap_or(&name).to_owned();
            ctx.world.region.spaces.insert(id, name.clone());
            Ok(Reply::json(space_json(ctx, id, &name)))
        }
    }
}

/// `DomainForm`: `name` (required; both of MaaS's domain validators run;
/// unique), `authoritative`, `ttl` (1-604800).
fn domain_form(ctx: &Ctx<'_>, domain: &mut (String, bool, Option<i64>), own: Option<i64>) -> Result<(), Reply> {
    let mut errors: Vec<(&str, String)> = Vec::new();
    match ctx.arg("name").map(|n| n.trim().trim_end_matches('.')) {
        Some("") | None if own.is_none() => errors.push(("name", REQUIRED.into())),
        Some("") | None => {}
        Some(name) => {
            let problems: Vec<String> =
                [super::django::dns_zone_problem(name), super::django::domain_name_problem(name)].into_iter().flatten().collect();
            if problems.is_empty() {
                if ctx.world.region.domains.iter().any(|(id, d)| Some(*id) != own && d.0 == name) {
                    errors.push(("name", already_exists("Domain", "Name")));
                }
                domain.0 = name.to_owned();
            }
            errors.extend(problems.into_iter().map(|p| ("name", p)));
        }
    }
    if let Some(a) = ctx.arg("authoritative").filter(|a| !a.is_empty()) {
        domain.1 = super::form::parse_bool(a);
    }
    if let Some(t) = ctx.arg("ttl").map(str::trim) {
        if t.is_empty() {
            domain.2 = None;
        } else {
            match t.parse::<i64>() {
                Ok(ttl) if ttl < 1 => errors.push(("ttl", at_least(1))),
                Ok(ttl) if ttl > 604_800 => errors.push(("ttl", at_most(604_800))),
                Ok(ttl) => domain.2 = Some(ttl),
                Err(_) => errors.push(("ttl", "Enter a whole number.".into())),
            }
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(Reply::fields(&errors)) }
}

fn domains(ctx: &mut Ctx<'_>, handler: &str, op: Option<&str>) -> HResult {
    if handler == "DomainsHandler" {
        if ctx.method == "GET" {
            let region = &ctx.world.region;
            return Ok(Reply::json(Value::from(region.domains.keys().map(|id| json::domain(region, *id)).collect::<Vec<_>>())));
        }
        let mut domain = (String::new(), true, None);
        domain_form(ctx, &mut domain, None)?;
        let id = ctx.world.region.new_id();
        ctx.world.region.domains.insert(id, domain);
        return Ok(Reply::json(json::domain(&ctx.world.region, id)));
    }
    let id = ctx.id_param("id", "Domain")?;
    let Some(mut domain) = ctx.world.region.domains.get(&id).cloned() else {
        return Err(Reply::not_found("Domain"));
    };
    match (ctx.method, op) {
        ("GET", None) => {}
        ("DELETE", None) => {
            if id == ctx.world.region.default_domain {
                return Err(Reply::text(400, "This domain is the default domain, it cannot be deleted."));
            }
            ctx.world.region.domains.remove(&id);
            return Ok(Reply::empty());
        }
        ("POST", Some("set_default")) => ctx.world.region.default_domain = id,
        ("PUT", None) => {
            domain_form(ctx, &mut domain, Some(id))?;
            ctx.world.region.domains.insert(id, domain);
        }
        _ => return Err(ctx.unknown_op()),
    }
    Ok(Reply::json(json::domain(&ctx.world.region, id)))
}
