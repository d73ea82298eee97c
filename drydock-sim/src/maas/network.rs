//! Global networking resources: fabrics, VLANs, subnets, IP ranges, static
//! routes, spaces and domains (compat: drivers.md §3.3 "Networking").
//! The fault plan's "vanished fabrics" is honoured here.

use super::ip::{contains, parse_ip, valid_cidr};
use super::model::{IpRange, Subnet};
use super::{Ctx, HResult, Reply, json};
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
            if let Some(n) = &name
                && region.fabrics.values().any(|f| &f.name == n)
            {
                return Err(Reply::field("name", "Fabric with this Name already exists."));
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
                        if ctx.world.region.fabrics.values().any(|f| f.name == name && f.id != id) {
                            return Err(Reply::field("name", "Fabric with this Name already exists."));
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
                    if id == 0 {
                        return Err(Reply::text(400, "Cannot delete the default fabric."));
                    }
                    let region = &mut ctx.world.region;
                    region.fabrics.remove(&id);
                    let gone: Vec<i64> = region.vlans.values().filter(|v| v.fabric == id).map(|v| v.id).collect();
                    region.vlans.retain(|_, v| v.fabric != id);
                    region.subnets.retain(|_, s| !gone.contains(&s.vlan));
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

fn rack_on_vlan(ctx: &Ctx<'_>, sid: &str, vlan: i64) -> bool {
    ctx.world.region.racks.get(sid).is_some_and(|r| r.interfaces.iter().any(|i| i.vlan == Some(vlan)))
}

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
        let vid: i64 = ctx.arg("vid").and_then(|v| v.parse().ok()).ok_or_else(|| Reply::field("vid", "This field is required."))?;
        if !(1..=4094).contains(&vid) {
            return Err(Reply::field("vid", "VID must be between 1 and 4094."));
        }
        if ctx.world.region.vlans.values().any(|v| v.fabric == fabric && v.vid == vid) {
            return Err(Reply::field("__all__", "VLAN with this Fabric and Vid already exists."));
        }
        let mtu = ctx.arg("mtu").and_then(|m| m.parse().ok()).unwrap_or(1500);
        let name = ctx.arg("name").filter(|n| !n.is_empty()).map(str::to_owned).unwrap_or_else(|| vid.to_string());
        let description = ctx.arg("description").unwrap_or("").to_owned();
        let space = ctx.arg("space").filter(|s| !s.is_empty()).map(str::to_owned);
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
            if ctx.world.region.vlans.get(&id).is_some_and(|v| v.vid == 0) {
                return Err(Reply::text(400, "Cannot delete the default VLAN of a fabric."));
            }
            ctx.world.region.vlans.remove(&id);
            return Ok(Reply::empty());
        }
        _ => update_vlan(ctx, id)?,
    }
    let region = &ctx.world.region;
    Ok(Reply::json(region.vlans.get(&id).map(|v| json::vlan(region, v)).unwrap_or(Value::Null)))
}

fn update_vlan(ctx: &mut Ctx<'_>, id: i64) -> Result<(), Reply> {
    let Some(mut vlan) = ctx.world.region.vlans.get(&id).cloned() else {
        return Err(Reply::not_found("VLAN"));
    };
    if let Some(vid) = ctx.arg("vid").and_then(|v| v.parse::<i64>().ok())
        && vid != vlan.vid
    {
        if vlan.vid == 0 {
            return Err(Reply::field("vid", "Cannot change the VID of the default VLAN."));
        }
        if !(1..=4094).contains(&vid) || ctx.world.region.vlans.values().any(|v| v.fabric == vlan.fabric && v.vid == vid) {
            return Err(Reply::field("vid", "VID is invalid or already in use on this fabric."));
        }
        vlan.vid = vid;
    }
    if let Some(name) = ctx.arg("name") {
        vlan.name = name.to_owned();
    }
    if let Some(d) = ctx.arg("description") {
        vlan.description = d.to_owned();
    }
    if let Some(space) = ctx.arg("space") {
        vlan.space = (!space.is_empty() && space != "undefined").then(|| space.to_owned());
    }
    if let Some(mtu) = ctx.arg("mtu") {
        let mtu: i64 = mtu.parse().map_err(|_| Reply::field("mtu", "Enter a whole number."))?;
        if !(552..=65535).contains(&mtu) {
            return Err(Reply::field("mtu", "Ensure this value is between 552 and 65535."));
        }
        vlan.mtu = mtu;
    }
    for (field, slot) in [("primary_rack", 0), ("secondary_rack", 1)] {
        if let Some(value) = ctx.arg(field) {
            let value = (!value.is_empty() && value != "None").then(|| value.to_owned());
            if let Some(sid) = &value
                && !rack_on_vlan(ctx, sid, id)
            {
                return Err(Reply::field(field, format!("{sid} is not a rack controller with an interface on this VLAN.")));
            }
            if slot == 0 { vlan.primary_rack = value } else { vlan.secondary_rack = value }
        }
    }
    if vlan.secondary_rack.is_some() && vlan.secondary_rack == vlan.primary_rack {
        return Err(Reply::field("secondary_rack", "Primary rack must be different from secondary rack."));
    }
    if let Some(relay) = ctx.arg("relay_vlan") {
        vlan.relay_vlan = match relay.parse::<i64>() {
            Ok(r) if r == id => {
                return Err(Reply::field("relay_vlan", "Relay VLAN can't be itself."));
            }
            Ok(r) if ctx.world.region.vlans.contains_key(&r) => Some(r),
            _ if relay.is_empty() || relay == "None" => None,
            _ => return Err(Reply::field("relay_vlan", "Select a valid choice.")),
        };
    }
    if let Some(dhcp) = ctx.arg("dhcp_on") {
        vlan.dhcp_on = super::form::parse_bool(dhcp);
    }
    if vlan.dhcp_on {
        if vlan.relay_vlan.is_some() {
            return Err(Reply::field("relay_vlan", "VLAN cannot relay DHCP when DHCP is on."));
        }
        let region = &ctx.world.region;
        let has_dynamic = region.subnets.values().filter(|s| s.vlan == id).any(|s| region.ranges_of(s.id).any(|r| r.kind == "dynamic"));
        if vlan.primary_rack.is_none() || !has_dynamic {
            return Err(Reply::field("dhcp_on", "dhcp can only be turned on when a dynamic IP range is defined."));
        }
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

fn subnet_fields(ctx: &Ctx<'_>, subnet: &mut Subnet) -> Result<(), Reply> {
    let region = &ctx.world.region;
    if let Some(vlan) = ctx.arg("vlan").filter(|v| !v.is_empty()) {
        let id: i64 = vlan.parse().map_err(|_| Reply::field("vlan", "Select a valid choice."))?;
        if !region.vlans.contains_key(&id) {
            return Err(Reply::field("vlan", "Select a valid choice. That choice is not one of the available choices."));
        }
        subnet.vlan = id;
    } else if let Some(fabric) = ctx.arg("fabric").filter(|v| !v.is_empty()) {
        let fabric_id = region
            .fabrics
            .values()
            .find(|f| f.id.to_string() == fabric || f.name == fabric)
            .map(|f| f.id)
            .ok_or_else(|| Reply::field("fabric", "Select a valid choice."))?;
        let vid: i64 = ctx.arg("vid").and_then(|v| v.parse().ok()).unwrap_or(0);
        subnet.vlan = region
            .vlans
            .values()
            .find(|v| v.fabric == fabric_id && v.vid == vid)
            .map(|v| v.id)
            .ok_or_else(|| Reply::field("vid", "No VLAN with that vid on the fabric."))?;
    }
    if let Some(name) = ctx.arg("name").filter(|n| !n.is_empty()) {
        subnet.name = name.to_owned();
    }
    if let Some(d) = ctx.arg("description") {
        subnet.description = d.to_owned();
    }
    if let Some(gw) = ctx.arg("gateway_ip") {
        if gw.is_empty() {
            subnet.gateway_ip = None;
        } else if !contains(&subnet.cidr, gw) {
            return Err(Reply::field("gateway_ip", "Gateway IP must be within CIDR range."));
        } else {
            subnet.gateway_ip = Some(gw.to_owned());
        }
    }
    if ctx.args.has("dns_servers") {
        subnet.dns_servers =
            ctx.args.all("dns_servers").iter().flat_map(|s| s.split([',', ' '])).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    }
    if let Some(mode) = ctx.arg("rdns_mode") {
        let mode: i64 = mode.parse().map_err(|_| Reply::field("rdns_mode", "Select a valid choice."))?;
        if !(0..=2).contains(&mode) {
            return Err(Reply::field("rdns_mode", "Select a valid choice."));
        }
        subnet.rdns_mode = mode;
    }
    for (field, slot) in [("allow_proxy", &mut subnet.allow_proxy), ("allow_dns", &mut subnet.allow_dns), ("managed", &mut subnet.managed)]
    {
        if let Some(v) = ctx.arg(field) {
            *slot = super::form::parse_bool(v);
        }
    }
    Ok(())
}

fn subnets(ctx: &mut Ctx<'_>, handler: &str, op: Option<&str>) -> HResult {
    if handler == "SubnetsHandler" {
        if ctx.method == "GET" {
            let region = &ctx.world.region;
            return Ok(Reply::json(Value::from(region.subnets.values().map(|s| json::subnet(region, s)).collect::<Vec<_>>())));
        }
        let cidr = ctx.arg("cidr").ok_or_else(|| Reply::field("cidr", "This field is required."))?.to_owned();
        if !valid_cidr(&cidr) {
            return Err(Reply::field("cidr", "Required format: <network>/<prefixlen>."));
        }
        if ctx.world.region.subnets.values().any(|s| s.cidr == cidr) {
            return Err(Reply::field("cidr", "Subnet with this Cidr already exists."));
        }
        let default_vlan = ctx.world.region.untagged_vlan(0).unwrap_or(0);
        let mut subnet = Subnet {
            id: 0,
            name: cidr.clone(),
            description: String::new(),
            vlan: default_vlan,
            cidr,
            gateway_ip: None,
            dns_servers: vec![],
            rdns_mode: 2,
            allow_dns: true,
            allow_proxy: true,
            managed: true,
        };
        subnet_fields(ctx, &mut subnet)?;
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
            if let Some(cidr) = ctx.arg("cidr").filter(|c| *c != subnet.cidr) {
                if !valid_cidr(cidr) {
                    return Err(Reply::field("cidr", "Required format: <network>/<prefixlen>."));
                }
                subnet.cidr = cidr.to_owned();
            }
            subnet_fields(ctx, &mut subnet)?;
            ctx.world.region.subnets.insert(id, subnet);
            Ok(Reply::json(json::subnet_by_id(&ctx.world.region, id)))
        }
        ("DELETE", None) => {
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

fn validate_range(ctx: &Ctx<'_>, range: &IpRange, exclude: Option<i64>) -> Result<(), Reply> {
    let region = &ctx.world.region;
    let subnet = region.subnets.get(&range.subnet).ok_or_else(|| Reply::field("subnet", "Select a valid choice."))?;
    let (Some(start), Some(end)) = (parse_ip(&range.start_ip), parse_ip(&range.end_ip)) else {
        return Err(Reply::field("start_ip", "Enter a valid IPv4 or IPv6 address."));
    };
    if start > end {
        return Err(Reply::field("__all__", "End IP address must not be less than Start IP address."));
    }
    if !contains(&subnet.cidr, &range.start_ip) || !contains(&subnet.cidr, &range.end_ip) {
        return Err(Reply::field("__all__", format!("IP range must be within subnet {}.", subnet.cidr)));
    }
    let overlaps = region.ranges_of(range.subnet).filter(|r| Some(r.id) != exclude).any(|r| {
        let (Some(s), Some(e)) = (parse_ip(&r.start_ip), parse_ip(&r.end_ip)) else {
            return false;
        };
        s <= end && start <= e
    });
    let gateway = subnet.gateway_ip.as_deref().and_then(parse_ip).is_some_and(|g| start <= g && g <= end);
    if overlaps || (gateway && range.kind == "dynamic") {
        return Err(Reply::field("__all__", format!("Requested {} range conflicts with an existing IP address or range.", range.kind)));
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
        range_fields(ctx, &mut range)?;
        if !matches!(range.kind.as_str(), "dynamic" | "reserved") {
            return Err(Reply::field("type", "Select a valid choice."));
        }
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
            range_fields(ctx, &mut range)?;
            validate_range(ctx, &range, Some(id))?;
            ctx.world.region.ipranges.insert(id, range);
        }
    }
    let region = &ctx.world.region;
    Ok(Reply::json(region.ipranges.get(&id).map(|r| json::iprange(region, r)).unwrap_or(Value::Null)))
}

fn range_fields(ctx: &Ctx<'_>, range: &mut IpRange) -> Result<(), Reply> {
    if let Some(kind) = ctx.arg("type") {
        range.kind = kind.to_owned();
    }
    if let Some(v) = ctx.arg("start_ip") {
        range.start_ip = v.to_owned();
    }
    if let Some(v) = ctx.arg("end_ip") {
        range.end_ip = v.to_owned();
    }
    if let Some(v) = ctx.arg("comment") {
        range.comment = v.to_owned();
    }
    match ctx.arg("subnet").filter(|s| !s.is_empty()) {
        Some(s) => range.subnet = find_subnet(ctx, s).map_err(|_| Reply::field("subnet", "Select a valid choice."))?,
        None if range.subnet == 0 => {
            range.subnet = ctx
                .world
                .region
                .subnets
                .values()
                .find(|s| contains(&s.cidr, &range.start_ip))
                .map(|s| s.id)
                .ok_or_else(|| Reply::field("subnet", "This field is required."))?;
        }
        None => {}
    }
    Ok(())
}

fn route_json(ctx: &Ctx<'_>, id: i64, fields: &Map<String, Value>) -> Value {
    let region = &ctx.world.region;
    let subnet = |name: &str| fields.get(name).and_then(Value::as_i64).map(|s| json::subnet_by_id(region, s)).unwrap_or(Value::Null);
    j!({"id": id, "source": subnet("source"), "destination": subnet("destination"), "gateway_ip": fields.get("gateway_ip"),
        "metric": fields.get("metric"), "resource_uri": format!("{}/static-routes/{id}/", json::API)})
}

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
    for name in ["source", "destination"] {
        if let Some(s) = ctx.arg(name) {
            let id = find_subnet(ctx, s).map_err(|_| Reply::field(name, "Select a valid choice."))?;
            fields.insert(name.into(), Value::from(id));
        }
    }
    if let Some(gw) = ctx.arg("gateway_ip") {
        fields.insert("gateway_ip".into(), Value::from(gw));
    }
    let metric =
        ctx.arg("metric").and_then(|m| m.parse::<i64>().ok()).or_else(|| fields.get("metric").and_then(Value::as_i64)).unwrap_or(0);
    fields.insert("metric".into(), Value::from(metric));
    let source = fields.get("source").and_then(Value::as_i64).ok_or_else(|| Reply::field("source", "This field is required."))?;
    let destination =
        fields.get("destination").and_then(Value::as_i64).ok_or_else(|| Reply::field("destination", "This field is required."))?;
    if source == destination {
        return Err(Reply::field("__all__", "source and destination cannot be the same subnet."));
    }
    let gateway = fields.get("gateway_ip").and_then(Value::as_str).unwrap_or("").to_owned();
    let source_cidr = ctx.world.region.subnets.get(&source).map(|s| s.cidr.clone()).unwrap_or_default();
    if !contains(&source_cidr, &gateway) {
        return Err(Reply::field("gateway_ip", "Gateway IP must be within the source subnet."));
    }
    let own = existing.as_ref().map(|e| e.0);
    let duplicate = ctx.world.region.static_routes.iter().any(|(id, f)| {
        Some(*id) != own
            && f.get("source") == fields.get("source")
            && f.get("destination") == fields.get("destination")
            && f.get("gateway_ip") == fields.get("gateway_ip")
    });
    if duplicate {
        return Err(Reply::field("__all__", "Static route with this Source, Destination and Gateway ip already exists."));
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

fn valid_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && !l.starts_with('-'))
}

fn domains(ctx: &mut Ctx<'_>, handler: &str, op: Option<&str>) -> HResult {
    if handler == "DomainsHandler" {
        if ctx.method == "GET" {
            let region = &ctx.world.region;
            return Ok(Reply::json(Value::from(region.domains.keys().map(|id| json::domain(region, *id)).collect::<Vec<_>>())));
        }
        let name = ctx.arg("name").ok_or_else(|| Reply::field("name", "This field is required."))?.to_owned();
        if !valid_dns_name(&name) || ctx.world.region.domains.values().any(|d| d.0 == name) {
            return Err(Reply::field("name", "Domain with this Name already exists or the name is invalid."));
        }
        let authoritative = ctx.arg("authoritative").is_none_or(super::form::parse_bool);
        let ttl = ctx.arg("ttl").and_then(|t| t.parse().ok());
        let id = ctx.world.region.new_id();
        ctx.world.region.domains.insert(id, (name, authoritative, ttl));
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
            if let Some(name) = ctx.arg("name") {
                if !valid_dns_name(name) || ctx.world.region.domains.iter().any(|(other, d)| *other != id && d.0 == name) {
                    return Err(Reply::field("name", "Domain with this Name already exists or the name is invalid."));
                }
                domain.0 = name.to_owned();
            }
            if let Some(a) = ctx.arg("authoritative") {
                domain.1 = super::form::parse_bool(a);
            }
            if let Some(t) = ctx.arg("ttl") {
                domain.2 = t.parse().ok();
            }
            ctx.world.region.domains.insert(id, domain);
        }
        _ => return Err(ctx.unknown_op()),
    }
    Ok(Reply::json(json::domain(&ctx.world.region, id)))
}
