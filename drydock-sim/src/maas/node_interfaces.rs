//! Interfaces of a node: listing, physical/bond/VLAN/bridge creation,
//! updates, links (`link_subnet`, `unlink_subnet`, `disconnect`) and the
//! state rule for interface edits (compat: drivers.md §3.3 "Interfaces").

use super::model::{Interface, InterfaceKind, Link, Node, Status};
use super::node_parts::{node, node_mut};
use super::{Ctx, HResult, Reply, json};
use serde_json::{Map, Value};

fn find_iface(node: &Node, key: &str) -> Option<usize> {
    node.interfaces.iter().position(|i| i.id.to_string() == key || i.name == key)
}

fn iface_json(ctx: &Ctx<'_>, sid: &str, id: i64) -> HResult {
    let node = node(ctx, sid)?;
    let iface = node.interfaces.iter().find(|i| i.id == id).ok_or_else(|| Reply::not_found("Interface"))?;
    Ok(Reply::json(json::interface(&ctx.world.region, node, iface)))
}

fn check_iface_state(node: &Node, op: &str) -> Result<(), Reply> {
    if node.node_type != 0 {
        return Err(Reply::text(403, "You do not have permission to modify interfaces of a controller."));
    }
    if !matches!(node.status, Status::New | Status::Ready | Status::Allocated | Status::Broken | Status::FailedTesting) {
        return Err(Reply::conflict(format!("Cannot {op} interface because the machine is not New, Ready, Allocated, or Broken.")));
    }
    Ok(())
}

const BOND_MODES: [&str; 7] = ["balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"];
const HASH_POLICIES: [&str; 5] = ["layer2", "layer2+3", "layer3+4", "encap2+3", "encap3+4"];

fn bond_params(ctx: &Ctx<'_>, params: &mut Map<String, Value>) -> Result<(), Reply> {
    if let Some(mode) = ctx.arg("bond_mode") {
        if !BOND_MODES.contains(&mode) {
            return Err(Reply::field("bond_mode", format!("Select a valid choice. {mode} is not one of the available choices.")));
        }
        params.insert("bond_mode".into(), Value::from(mode));
    }
    if let Some(rate) = ctx.arg("bond_lacp_rate") {
        if !matches!(rate, "fast" | "slow") {
            return Err(Reply::field("bond_lacp_rate", format!("Select a valid choice. {rate} is not one of the available choices.")));
        }
        params.insert("bond_lacp_rate".into(), Value::from(rate));
    }
    if let Some(policy) = ctx.arg("bond_xmit_hash_policy") {
        if !HASH_POLICIES.contains(&policy) {
            return Err(Reply::field(
                "bond_xmit_hash_policy",
                format!("Select a valid choice. {policy} is not one of the available choices."),
            ));
        }
        params.insert("bond_xmit_hash_policy".into(), Value::from(policy));
    }
    for name in ["bond_miimon", "bond_downdelay", "bond_updelay", "mtu"] {
        if let Some(value) = ctx.arg(name).filter(|v| !v.is_empty()) {
            let number: i64 = value.parse().map_err(|_| Reply::field(name, "Enter a whole number."))?;
            params.insert(name.into(), Value::from(number));
        }
    }
    Ok(())
}

fn parse_vlan_arg(ctx: &Ctx<'_>, name: &str) -> Result<Option<i64>, Reply> {
    match ctx.arg(name).filter(|v| !v.is_empty() && *v != "None" && *v != "null") {
        Some(text) => {
            let id: i64 = text.parse().map_err(|_| Reply::field(name, "Select a valid choice."))?;
            if !ctx.world.region.vlans.contains_key(&id) {
                return Err(Reply::field(name, "Select a valid choice. That choice is not one of the available choices."));
            }
            Ok(Some(id))
        }
        None => Ok(None),
    }
}

fn new_interface(id: i64, name: String, kind: InterfaceKind, mac: String, vlan: Option<i64>, parents: Vec<i64>) -> Interface {
    Interface {
        id,
        name,
        kind,
        mac_address: mac,
        vlan,
        parents,
        tags: vec![],
        enabled: true,
        links: vec![],
        params: Map::new(),
        pci_address: String::new(),
        commissioned_vlan: vlan,
        discovered_subnet: None,
        discovered_ip: None,
    }
}

pub(super) fn interfaces(ctx: &mut Ctx<'_>, sid: &str, handler: &str, op: Option<&str>) -> HResult {
    if handler == "InterfacesHandler" {
        match (ctx.method, op) {
            ("GET", None) => {
                let node = node(ctx, sid)?;
                let list: Vec<Value> = node.interfaces.iter().map(|i| json::interface(&ctx.world.region, node, i)).collect();
                return Ok(Reply::json(Value::from(list)));
            }
            ("POST", Some(op)) => return create_interface(ctx, sid, op),
            _ => return Err(ctx.unknown_op()),
        }
    }
    let key = ctx.param("id").to_owned();
    let index = find_iface(node(ctx, sid)?, &key).ok_or_else(|| Reply::not_found("Interface"))?;
    let id = node(ctx, sid)?.interfaces[index].id;
    if ctx.method == "GET" {
        return iface_json(ctx, sid, id);
    }
    let what = match (ctx.method, op) {
        ("PUT", _) => "update",
        ("DELETE", _) => "delete",
        (_, Some(op)) => op,
        _ => "update",
    };
    check_iface_state(node(ctx, sid)?, &what.replace('_', " "))?;
    match (ctx.method, op) {
        ("PUT", None) => update_interface(ctx, sid, index),
        ("DELETE", None) => {
            let node = node_mut(ctx, sid)?;
            if node.interfaces[index].kind == InterfaceKind::Physical {
                return Err(Reply::text(400, "Cannot delete a physical interface of a machine."));
            }
            node.interfaces.remove(index);
            for iface in &mut node.interfaces {
                iface.parents.retain(|p| *p != id);
            }
            Ok(Reply::empty())
        }
        ("POST", Some("link_subnet")) => link_subnet(ctx, sid, index),
        ("POST", Some("unlink_subnet")) => {
            let link_id: i64 = ctx.arg("id").and_then(|v| v.parse().ok()).ok_or_else(|| Reply::field("id", "This field is required."))?;
            let iface = &mut node_mut(ctx, sid)?.interfaces[index];
            let before = iface.links.len();
            iface.links.retain(|l| l.id != link_id);
            if iface.links.len() == before {
                return Err(Reply::not_found("StaticIPAddress"));
            }
            iface_json(ctx, sid, id)
        }
        ("POST", Some("disconnect")) => {
            let iface = &mut node_mut(ctx, sid)?.interfaces[index];
            iface.links.clear();
            iface.vlan = None;
            iface_json(ctx, sid, id)
        }
        ("POST", Some("set_default_gateway")) => {
            let link_id: Option<i64> = ctx.arg("link_id").and_then(|v| v.parse().ok());
            let iface = &mut node_mut(ctx, sid)?.interfaces[index];
            for link in &mut iface.links {
                link.default_gateway = link_id.is_none_or(|l| l == link.id) && matches!(link.mode.as_str(), "auto" | "static");
            }
            iface_json(ctx, sid, id)
        }
        ("POST", Some(op @ ("add_tag" | "remove_tag"))) => {
            let tag = ctx.arg("tag").ok_or_else(|| Reply::field("tag", "This field is required."))?.to_owned();
            let iface = &mut node_mut(ctx, sid)?.interfaces[index];
            iface.tags.retain(|t| t != &tag);
            if op == "add_tag" {
                iface.tags.push(tag);
            }
            iface_json(ctx, sid, id)
        }
        _ => Err(ctx.unknown_op()),
    }
}

fn create_interface(ctx: &mut Ctx<'_>, sid: &str, op: &str) -> HResult {
    check_iface_state(node(ctx, sid)?, &op.replace('_', " "))?;
    let node_ref = node(ctx, sid)?;
    let parent_keys: Vec<String> = ctx.args.all("parents").iter().chain(ctx.args.all("parent")).cloned().collect();
    let mut parents = Vec::new();
    for key in &parent_keys {
        let index = find_iface(node_ref, key)
            .ok_or_else(|| Reply::field("parents", format!("Select a valid choice. {key} is not one of the available choices.")))?;
        parents.push(index);
    }
    let tags =
        ctx.args.all("tags").iter().flat_map(|t| t.split(',')).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect::<Vec<_>>();
    let vlan_arg = parse_vlan_arg(ctx, "vlan")?;
    let mut params = Map::new();
    let iface = match op {
        "create_physical" => {
            let mac = ctx.arg("mac_address").ok_or_else(|| Reply::field("mac_address", "This field is required."))?.to_ascii_lowercase();
            let name = ctx.arg("name").map(str::to_owned).unwrap_or_else(|| format!("eth{}", node_ref.interfaces.len()));
            new_interface(0, name, InterfaceKind::Physical, mac, vlan_arg, vec![])
        }
        "create_bond" => {
            let name = ctx.arg("name").ok_or_else(|| Reply::field("name", "This field is required."))?.to_owned();
            if parents.is_empty() {
                return Err(Reply::field("parents", "A bond interface must have one or more parents."));
            }
            for &p in &parents {
                let parent = &node_ref.interfaces[p];
                if parent.kind != InterfaceKind::Physical {
                    return Err(Reply::field("parents", format!("{} is not a physical interface.", parent.name)));
                }
                if node_ref.interfaces.iter().any(|i| i.kind == InterfaceKind::Bond && i.parents.contains(&parent.id)) {
                    return Err(Reply::field("parents", format!("{} is already in-use by another interface.", parent.name)));
                }
            }
            let first_vlan = node_ref.interfaces[parents[0]].vlan;
            if vlan_arg.is_none() && parents.iter().any(|&p| node_ref.interfaces[p].vlan != first_vlan) {
                return Err(Reply::field("parents", "All parents must belong to the same VLAN."));
            }
            bond_params(ctx, &mut params)?;
            let mac =
                ctx.arg("mac_address").map(str::to_ascii_lowercase).unwrap_or_else(|| node_ref.interfaces[parents[0]].mac_address.clone());
            let ids = parents.iter().map(|&p| node_ref.interfaces[p].id).collect();
            new_interface(0, name, InterfaceKind::Bond, mac, vlan_arg.or(first_vlan), ids)
        }
        "create_vlan" => {
            let vlan = vlan_arg.ok_or_else(|| Reply::field("vlan", "This field is required."))?;
            if parents.len() != 1 {
                return Err(Reply::field("parents", "A VLAN interface must have exactly one parent."));
            }
            let parent = &node_ref.interfaces[parents[0]];
            let parent_vlan = parent.vlan.ok_or_else(|| Reply::field("parents", "Parent interface is not attached to a VLAN."))?;
            let region = &ctx.world.region;
            let (Some(pv), Some(v)) = (region.vlans.get(&parent_vlan), region.vlans.get(&vlan)) else {
                return Err(Reply::field("vlan", "Select a valid choice."));
            };
            if pv.fabric != v.fabric {
                return Err(Reply::field("vlan", "VLAN must be on the same fabric as the parent interface."));
            }
            if node_ref.interfaces.iter().any(|i| i.kind == InterfaceKind::Vlan && i.parents == vec![parent.id] && i.vlan == Some(vlan)) {
                return Err(Reply::field("__all__", "A VLAN interface already exists for this VLAN and parent."));
            }
            bond_params(ctx, &mut params)?;
            new_interface(
                0,
                format!("{}.{}", parent.name, v.vid),
                InterfaceKind::Vlan,
                parent.mac_address.clone(),
                Some(vlan),
                vec![parent.id],
            )
        }
        "create_bridge" => {
            let name = ctx.arg("name").ok_or_else(|| Reply::field("name", "This field is required."))?.to_owned();
            let first =
                parents.first().map(|&p| &node_ref.interfaces[p]).ok_or_else(|| Reply::field("parent", "This field is required."))?;
            bond_params(ctx, &mut params)?;
            new_interface(0, name, InterfaceKind::Bridge, first.mac_address.clone(), vlan_arg.or(first.vlan), vec![first.id])
        }
        _ => return Err(ctx.unknown_op()),
    };
    let id = ctx.world.region.new_id();
    let node = node_mut(ctx, sid)?;
    if node.interfaces.iter().any(|i| i.name == iface.name) {
        return Err(Reply::field("name", format!("Interface with name \"{}\" already exists.", iface.name)));
    }
    node.interfaces.push(Interface { id, tags, params, ..iface });
    iface_json(ctx, sid, id)
}

fn update_interface(ctx: &mut Ctx<'_>, sid: &str, index: usize) -> HResult {
    let vlan = if ctx.args.has("vlan") { Some(parse_vlan_arg(ctx, "vlan")?) } else { None };
    let mut params = Map::new();
    bond_params(ctx, &mut params)?;
    let args = ctx.args.clone();
    let iface = &mut node_mut(ctx, sid)?.interfaces[index];
    if let Some(name) = args.get_nonempty("name") {
        iface.name = name.to_owned();
    }
    if let Some(mac) = args.get_nonempty("mac_address") {
        iface.mac_address = mac.to_ascii_lowercase();
    }
    if let Some(vlan) = vlan {
        iface.vlan = vlan;
        if vlan.is_none() {
            iface.links.clear();
        }
    }
    if args.has("tags") {
        iface.tags = args.all("tags").iter().flat_map(|t| t.split(',')).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect();
    }
    if let Some(enabled) = args.get("enabled") {
        iface.enabled = super::form::parse_bool(enabled);
    }
    for (k, v) in params {
        iface.params.insert(k, v);
    }
    let id = iface.id;
    iface_json(ctx, sid, id)
}

fn link_subnet(ctx: &mut Ctx<'_>, sid: &str, index: usize) -> HResult {
    let mode = ctx.arg("mode").ok_or_else(|| Reply::field("mode", "This field is required."))?.to_ascii_lowercase();
    if !matches!(mode.as_str(), "auto" | "dhcp" | "static" | "link_up") {
        return Err(Reply::field("mode", format!("Select a valid choice. {mode} is not one of the available choices.")));
    }
    let force = ctx.args.flag("force");
    let default_gateway = ctx.args.flag("default_gateway");
    if default_gateway && !matches!(mode.as_str(), "auto" | "static") {
        return Err(Reply::field("default_gateway", "Cannot use in mode '".to_owned() + &mode + "'."));
    }
    let subnet = match ctx.arg("subnet").filter(|v| !v.is_empty()) {
        Some(text) => {
            let region = &ctx.world.region;
            let found = region.subnets.values().find(|s| s.id.to_string() == text || s.cidr == text).map(|s| s.id);
            Some(found.ok_or_else(|| Reply::field("subnet", "Select a valid choice. That choice is not one of the available choices."))?)
        }
        None if matches!(mode.as_str(), "auto" | "static") => {
            return Err(Reply::field("subnet", "This field is required."));
        }
        None => None,
    };
    let node_ref = node(ctx, sid)?;
    let iface = &node_ref.interfaces[index];
    let region = &ctx.world.region;
    let subnet_vlan = subnet.and_then(|s| region.subnets.get(&s)).map(|s| s.vlan);
    if let Some(sv) = subnet_vlan
        && iface.vlan != Some(sv)
        && !force
    {
        return Err(Reply::field("subnet", "Subnet is not on the same VLAN as the interface."));
    }
    if mode == "link_up" && !iface.links.is_empty() && !force {
        return Err(Reply::field(
            "mode",
            "Cannot configure interface to link up (with no IP address) while other links are already configured.",
        ));
    }
    let mut ip_address = None;
    if mode == "static" {
        let Some(subnet_id) = subnet else {
            return Err(Reply::field("subnet", "This field is required."));
        };
        let cidr = region.subnets.get(&subnet_id).map(|s| s.cidr.clone()).unwrap_or_default();
        match ctx.arg("ip_address").filter(|v| !v.is_empty()) {
            Some(ip) => {
                if !super::ip::contains(&cidr, ip) {
                    return Err(Reply::field("ip_address", format!("IP address is not in the given subnet '{cidr}'.")));
                }
                let numeric = super::ip::parse_ip(ip).unwrap_or(0);
                let dynamic = region.ranges_of(subnet_id).filter(|r| r.kind == "dynamic").any(|r| {
                    super::ip::parse_ip(&r.start_ip).is_some_and(|s| s <= numeric)
                        && super::ip::parse_ip(&r.end_ip).is_some_and(|e| numeric <= e)
                });
                if dynamic {
                    return Err(Reply::field("ip_address", format!("IP address is inside a dynamic range {ip}.")));
                }
                if super::ip::used_addresses(region, subnet_id).contains(&numeric) {
                    return Err(Reply::field("ip_address", format!("IP address {ip} already in use.")));
                }
                ip_address = Some(ip.to_owned());
            }
            None => ip_address = super::ip::first_free(region, subnet_id),
        }
    }
    let link_id = ctx.world.region.new_id();
    let iface = &mut node_mut(ctx, sid)?.interfaces[index];
    if let (Some(sv), true) = (subnet_vlan, force) {
        iface.vlan = Some(sv);
    }
    if mode == "link_up" && force {
        iface.links.clear();
    }
    iface.links.push(Link { id: link_id, mode, subnet, ip_address, default_gateway });
    let id = iface.id;
    iface_json(ctx, sid, id)
}
