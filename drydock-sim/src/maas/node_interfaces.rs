//! Interfaces of a node: listing, physical/bond/VLAN/bridge creation,
//! updates, links (`link_subnet`, `unlink_subnet`, `disconnect`) and the
//! state rule for interface edits (compat: drivers.md §3.3 "Interfaces").

use super::ip::parse_ip;
use super::model::{Interface, InterfaceKind, Link, Node, Status, Subnet};
use super::node_parts::{node, node_mut};
use super::{Ctx, HResult, INVALID_MODEL_CHOICE, REQUIRED, Reply, json};
use serde_json::{Map, Value};

fn find_iface(node: &Node, key: &str) -> Option<usize> {
    node.interfaces.iter().position(|i| i.id.to_string() == key || i.name == key)
}

fn iface_json(ctx: &Ctx<'_>, sid: &str, id: i64) -> HResult {
    let node = node(ctx, sid)?;
    let iface = node.interfaces.iter().find(|i| i.id == id).ok_or_else(|| Reply::not_found("Interface"))?;
    Ok(Reply::json(json::interface(&ctx.world.region, node, iface)))
}

/// MaaS 2.9's `raise_error_for_invalid_state_on_allocated_operations`:
/// machines' interfaces change only in Ready, Failed testing, Allocated or
/// Broken (plus `extra`), else 409. `what` is MaaS's operation wording.
fn check_machine_state(node: &Node, what: &str, extra: &[Status]) -> Result<(), Reply> {
    let allowed = [Status::Ready, Status::FailedTesting, Status::Allocated, Status::Broken];
    if node.node_type == 0 && !allowed.contains(&node.status) && !extra.contains(&node.status) {
        return Err(Reply::conflict(format!("Cannot {what} interface because the machine is not Ready, Allocated, or Broken.")));
    }
    Ok(())
}

/// MaaS's `raise_error_if_controller`: 403 with `Cannot <what> interface on
/// a controller.`
fn refuse_controller(node: &Node, what: &str) -> Result<(), Reply> {
    if node.node_type != 0 {
        return Err(Reply::text(403, format!("Cannot {what} interface on a controller.")));
    }
    Ok(())
}

const BOND_MODES: [&str; 7] = ["balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"];
const HASH_POLICIES: [&str; 5] = ["layer2", "layer2+3", "layer3+4", "encap2+3", "encap3+4"];

/// The bond and MTU fields of MaaS's interface forms: choice fields answer
/// with `compose_invalid_choice_text`, integers with Django's texts.
fn bond_params(ctx: &Ctx<'_>, params: &mut Map<String, Value>) -> Result<(), Reply> {
    let choices: [(&str, &[&str]); 3] =
        [("bond_mode", &BOND_MODES), ("bond_lacp_rate", &["fast", "slow"]), ("bond_xmit_hash_policy", &HASH_POLICIES)];
    for (name, allowed) in choices {
        if let Some(value) = ctx.arg(name).filter(|v| !v.is_empty()) {
            if !allowed.contains(&value) {
                return Err(Reply::invalid_choice(name, value, name, allowed));
            }
            params.insert(name.into(), Value::from(value));
        }
    }
    for (name, min, max) in [
        ("bond_miimon", 0, None),
        ("bond_downdelay", 0, None),
        ("bond_updelay", 0, None),
        ("bond_num_grat_arp", 0, Some(255)),
        ("mtu", 552, None),
    ] {
        if let Some(value) = ctx.arg(name).filter(|v| !v.is_empty()) {
            let number: i64 = value.trim().parse().map_err(|_| Reply::field(name, "Enter a whole number."))?;
            if number < min {
                return Err(Reply::field(name, super::django::at_least(min)));
            }
            if let Some(max) = max
                && number > max
            {
                return Err(Reply::field(name, super::django::at_most(max)));
            }
            params.insert(name.into(), Value::from(number));
        }
    }
    Ok(())
}

/// `BondInterfaceForm.set_extra_parameters`: a new bond stores every bond
/// parameter, the form's initial value where none was given.
fn bond_defaults(params: &mut Map<String, Value>) {
    let defaults = [
        ("bond_mode", Value::from("balance-rr")),
        ("bond_miimon", Value::from(100)),
        ("bond_downdelay", Value::from(0)),
        ("bond_updelay", Value::from(0)),
        ("bond_num_grat_arp", Value::from(1)),
        ("bond_lacp_rate", Value::from("fast")),
        ("bond_xmit_hash_policy", Value::from("layer2")),
    ];
    for (name, value) in defaults {
        params.entry(name).or_insert(value);
    }
}

/// The `vlan` field (a `ModelChoiceField` of every VLAN).
fn parse_vlan_arg(ctx: &Ctx<'_>, name: &str) -> Result<Option<i64>, Reply> {
    match ctx.arg(name).filter(|v| !v.is_empty()) {
        Some(text) => match text.trim().parse::<i64>() {
            Ok(id) if ctx.world.region.vlans.contains_key(&id) => Ok(Some(id)),
            _ => Err(Reply::field(name, INVALID_MODEL_CHOICE)),
        },
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
    // MaaS 2.9 (api/interfaces.py): which operations refuse controllers and
    // how each names itself in the state error.
    let this = node(ctx, sid)?;
    match (ctx.method, op) {
        ("PUT", None) => {
            check_machine_state(this, "update interface", &[Status::Deployed])?;
            if this.node_type != 0 && this.interfaces[index].kind == InterfaceKind::Vlan {
                return Err(Reply::text(403, "Cannot modify VLAN interface on controller."));
            }
        }
        ("DELETE", None) => {
            refuse_controller(this, "delete interface")?;
            check_machine_state(this, "delete interface", &[])?;
        }
        ("POST", Some("link_subnet")) => {
            refuse_controller(this, "link subnet")?;
            check_machine_state(this, "link subnet", &[])?;
        }
        ("POST", Some("unlink_subnet")) => {
            // Sic: MaaS words the controller refusal of unlink as "link subnet".
            refuse_controller(this, "link subnet")?;
            check_machine_state(this, "unlink subnet", &[])?;
        }
        ("POST", Some("disconnect")) => {
            refuse_controller(this, "disconnect")?;
            check_machine_state(this, "disconnect", &[])?;
        }
        ("POST", Some("set_default_gateway")) => {
            // Sic: MaaS words this controller refusal as "link subnet" too.
            refuse_controller(this, "link subnet")?;
            check_machine_state(this, "set default gateway", &[])?;
        }
        _ => {}
    }
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
            // InterfaceUnlinkForm: `id` is a choice among the interface's links.
            let text = ctx.arg("id").filter(|v| !v.is_empty()).ok_or_else(|| Reply::field("id", REQUIRED))?.to_owned();
            let iface = &mut node_mut(ctx, sid)?.interfaces[index];
            let choices: Vec<String> = iface.links.iter().map(|l| l.id.to_string()).collect();
            if !choices.contains(&text) {
                let listed: Vec<&str> = choices.iter().map(String::as_str).collect();
                return Err(Reply::invalid_choice("id", &text, "id", &listed));
            }
            iface.links.retain(|l| l.id.to_string() != text);
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
            // get_mandatory_param: a plain-text 400.
            let tag = ctx.arg("tag").ok_or_else(|| Reply::text(400, "No provided tag!"))?.to_owned();
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

/// `Node <system_id> (<hostname>) already has an interface named '<name>'.`
fn name_taken(node: &Node, name: &str) -> String {
    format!("Node {} ({}) already has an interface named '{name}'.", node.system_id, node.hostname)
}

/// The interface creation ops with MaaS 2.9's forms and texts
/// (`PhysicalInterfaceForm`, `BondInterfaceForm`, `VLANInterfaceForm`,
/// `BridgeInterfaceForm`).
fn create_interface(ctx: &mut Ctx<'_>, sid: &str, op: &str) -> HResult {
    let node_ref = node(ctx, sid)?;
    if op != "create_physical" && node_ref.node_type != 0 {
        // create_bond/_vlan/_bridge look the node up among machines only.
        return Err(Reply::not_found("Machine"));
    }
    let what = match op {
        "create_physical" => "create",
        "create_bond" => "create bond",
        "create_vlan" => "create VLAN",
        _ => "create bridge",
    };
    check_machine_state(node_ref, what, &[])?;
    // create_vlan takes `parent`; MaaS copies it to `parents` and reports
    // errors of `parents` as `parent`.
    let parent_field = if op == "create_vlan" { "parent" } else { "parents" };
    let parent_keys: Vec<String> = ctx.args.all("parents").iter().chain(ctx.args.all("parent")).cloned().collect();
    let mut parents = Vec::new();
    for key in &parent_keys {
        let index =
            node_ref.interfaces.iter().position(|i| i.id.to_string() == *key).ok_or_else(|| Reply::not_a_choice(parent_field, key))?;
        parents.push(index);
    }
    let tags =
        ctx.args.all("tags").iter().flat_map(|t| t.split(',')).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect::<Vec<_>>();
    let vlan_arg = parse_vlan_arg(ctx, "vlan")?;
    let mut params = Map::new();
    let iface = match op {
        "create_physical" => {
            let mac =
                ctx.arg("mac_address").filter(|m| !m.is_empty()).ok_or_else(|| Reply::field("mac_address", REQUIRED))?.to_ascii_lowercase();
            let name =
                ctx.arg("name").filter(|n| !n.is_empty()).map(str::to_owned).unwrap_or_else(|| format!("eth{}", node_ref.interfaces.len()));
            if node_ref.interfaces.iter().any(|i| i.name == name) {
                return Err(Reply::field("name", name_taken(node_ref, &name)));
            }
            new_interface(0, name, InterfaceKind::Physical, mac, vlan_arg, vec![])
        }
        "create_bond" | "create_bridge" => {
            let kind = if op == "create_bond" { "bond" } else { "bridge" };
            let name = ctx.arg("name").filter(|n| !n.is_empty()).ok_or_else(|| Reply::field("name", REQUIRED))?.to_owned();
            if parents.is_empty() {
                return Err(Reply::field("parents", format!("A {kind} interface must have one or more parents.")));
            }
            if op == "create_bridge" && parents.len() != 1 {
                return Err(Reply::field("parents", "A bridge interface must have exactly one parent."));
            }
            // ChildInterfaceForm.validate_parental_fidelity: a parent that
            // already has a child is in use.
            let mut in_use: Vec<&str> = parents
                .iter()
                .map(|&p| &node_ref.interfaces[p])
                .filter(|parent| node_ref.interfaces.iter().any(|i| i.parents.contains(&parent.id)))
                .map(|parent| parent.name.as_str())
                .collect();
            in_use.sort_unstable();
            in_use.dedup();
            if !in_use.is_empty() {
                return Err(Reply::field("parents", format!("Interfaces already in-use: {}.", in_use.join(", "))));
            }
            let first_vlan = node_ref.interfaces[parents[0]].vlan;
            let vlan = vlan_arg.or(first_vlan);
            if op == "create_bond" && parents.iter().any(|&p| node_ref.interfaces[p].vlan != vlan) {
                return Err(Reply::field("parents", "All parents must belong to the same VLAN."));
            }
            bond_params(ctx, &mut params)?;
            if op == "create_bond" {
                bond_defaults(&mut params);
            }
            let mac =
                ctx.arg("mac_address").map(str::to_ascii_lowercase).unwrap_or_else(|| node_ref.interfaces[parents[0]].mac_address.clone());
            let ids = parents.iter().map(|&p| node_ref.interfaces[p].id).collect();
            let kind = if op == "create_bond" { InterfaceKind::Bond } else { InterfaceKind::Bridge };
            if node_ref.interfaces.iter().any(|i| i.name == name) {
                return Err(Reply::field("__all__", super::django::already_exists("Interface", "Node and Name")));
            }
            new_interface(0, name, kind, mac, vlan, ids)
        }
        "create_vlan" => {
            let mut errors: Vec<(&str, String)> = Vec::new();
            let parent = match parents.as_slice() {
                [only] => {
                    let parent = &node_ref.interfaces[*only];
                    let in_bond = node_ref.interfaces.iter().any(|i| i.kind == InterfaceKind::Bond && i.parents.contains(&parent.id));
                    if parent.kind == InterfaceKind::Vlan {
                        errors.push(("parent", "A VLAN interface can't have another VLAN interface as parent.".into()));
                    } else if in_bond {
                        errors.push(("parent", "A VLAN interface can't have a parent that is already in a bond.".into()));
                    }
                    Some(parent)
                }
                _ => {
                    errors.push(("parent", "A VLAN interface must have exactly one parent.".into()));
                    None
                }
            };
            let region = &ctx.world.region;
            let vlan = match vlan_arg {
                None => {
                    errors.push(("vlan", "A VLAN interface must be connected to a tagged VLAN.".into()));
                    None
                }
                Some(id) if region.vlans.get(&id).is_some_and(|v| v.vid == 0) => {
                    errors.push(("vlan", "A VLAN interface can only belong to a tagged VLAN.".into()));
                    None
                }
                Some(id) => region.vlans.get(&id),
            };
            if !errors.is_empty() {
                return Err(Reply::fields(&errors));
            }
            let (Some(parent), Some(v)) = (parent, vlan) else {
                return Err(Reply::field("vlan", INVALID_MODEL_CHOICE));
            };
            // MaaS 2.9 fails with a 500 for a parent on no VLAN; the emulator
            // answers 400 instead.
            let parent_fabric = parent.vlan.and_then(|id| region.vlans.get(&id)).map(|pv| pv.fabric);
            let Some(parent_fabric) = parent_fabric else {
                return Err(Reply::field("parent", "Parent interface is not attached to a VLAN."));
            };
            if parent_fabric != v.fabric {
                return Err(Reply::field(
                    "vlan",
                    "A VLAN interface can only belong to a tagged VLAN on the same fabric as its parent interface.",
                ));
            }
            let name = format!("{}.{}", parent.name, v.vid);
            if node_ref.interfaces.iter().any(|i| i.name == name) {
                return Err(Reply::field("name", name_taken(node_ref, &name)));
            }
            bond_params(ctx, &mut params)?;
            new_interface(0, name, InterfaceKind::Vlan, parent.mac_address.clone(), Some(v.id), vec![parent.id])
        }
        _ => return Err(ctx.unknown_op()),
    };
    let id = ctx.world.region.new_id();
    let node = node_mut(ctx, sid)?;
    node.interfaces.push(Interface { id, tags, params, ..iface });
    iface_json(ctx, sid, id)
}

fn update_interface(ctx: &mut Ctx<'_>, sid: &str, index: usize) -> HResult {
    let vlan = if ctx.args.has("vlan") { Some(parse_vlan_arg(ctx, "vlan")?) } else { None };
    let mut params = Map::new();
    bond_params(ctx, &mut params)?;
    let args = ctx.args.clone();
    if let Some(name) = args.get_nonempty("name") {
        let this = node(ctx, sid)?;
        if this.interfaces.iter().enumerate().any(|(i, other)| i != index && other.name == name) {
            return Err(Reply::field("name", name_taken(this, name)));
        }
    }
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

/// MaaS's `str(subnet)`: `<name>:<cidr>(vid=<vid>)`.
fn subnet_text(region: &super::model::Region, id: i64) -> String {
    match region.subnets.get(&id) {
        Some(subnet) => {
            let vid = region.vlans.get(&subnet.vlan).map(|v| v.vid).unwrap_or(0);
            format!("{}:{}(vid={vid})", subnet.name, subnet.cidr)
        }
        None => String::new(),
    }
}

/// MaaS's `SpecifierOrModelChoiceField` for `subnet`: the subnets offered
/// are the interface VLAN's (all of them with `force` or no VLAN). A value
/// that reads as an id but names none of them answers `None found with
/// id=<value>.`; any other miss Django's invalid-choice text.
fn clean_subnet(ctx: &Ctx<'_>, text: &str, offered: &dyn Fn(&Subnet) -> bool) -> Result<i64, String> {
    let region = &ctx.world.region;
    let trimmed = text.trim();
    let as_id = trimmed.parse::<i64>().ok().or_else(|| trimmed.strip_prefix("subnet-").and_then(|n| n.parse().ok()));
    match as_id {
        Some(id) => region.subnets.get(&id).filter(|s| offered(s)).map(|s| s.id).ok_or_else(|| format!("None found with id={text}.")),
        None => region
            .subnets
            .values()
            .filter(|s| offered(s))
            .find(|s| s.cidr == trimmed || s.name == trimmed || trimmed.strip_prefix("cidr:") == Some(s.cidr.as_str()))
            .map(|s| s.id)
            .ok_or_else(|| INVALID_MODEL_CHOICE.to_owned()),
    }
}

/// `link_subnet` with MaaS 2.9's `InterfaceLinkForm`: field errors in
/// field order (`subnet`, `ip_address`, `default_gateway`, `mode`), then the
/// per-mode checks of `clean()`, every error collected as Django does.
fn link_subnet(ctx: &mut Ctx<'_>, sid: &str, index: usize) -> HResult {
    const MODES: [&str; 4] = ["auto", "dhcp", "static", "link_up"];
    let force = ctx.args.flag("force");
    let node_ref = node(ctx, sid)?;
    let iface = &node_ref.interfaces[index];
    let iface_vlan = iface.vlan;
    let mut errors: Vec<(&str, String)> = Vec::new();
    let offered = |subnet: &Subnet| force || iface_vlan.is_none() || Some(subnet.vlan) == iface_vlan;
    let subnet = match ctx.arg("subnet").filter(|v| !v.is_empty()) {
        Some(text) => match clean_subnet(ctx, text, &offered) {
            Ok(id) => Some(id),
            Err(message) => {
                errors.push(("subnet", message));
                None
            }
        },
        None => None,
    };
    let ip_text = ctx.arg("ip_address").map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    if ip_text.as_deref().is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_err()) {
        errors.push(("ip_address", "Enter a valid IPv4 or IPv6 address.".into()));
    }
    let default_gateway = ctx.args.flag("default_gateway");
    let mode = match ctx.arg("mode").filter(|v| !v.is_empty()).map(str::to_ascii_lowercase) {
        None => {
            errors.push(("mode", REQUIRED.into()));
            None
        }
        Some(mode) if !MODES.contains(&mode.as_str()) => {
            errors.push(("mode", super::invalid_choice_text(&mode, "mode", &MODES)));
            None
        }
        Some(mode) => Some(mode),
    };
    if let Some(bond) = node_ref.interfaces.iter().find(|i| i.kind == InterfaceKind::Bond && i.parents.contains(&iface.id)) {
        errors.push(("bond", format!("Cannot link interface({}) when interface is in a bond({}).", iface.name, bond.name)));
    }
    let region = &ctx.world.region;
    let ip = ip_text.as_deref().filter(|ip| ip.parse::<std::net::IpAddr>().is_ok());
    match mode.as_deref() {
        Some("auto") if subnet.is_none() => errors.push(("subnet", REQUIRED.into())),
        Some("dhcp") => {
            if let Some(dhcp) = iface.links.iter().find(|l| l.mode == "dhcp") {
                errors.push((
                    "mode",
                    match dhcp.subnet {
                        Some(s) => format!("Interface is already set to DHCP from '{}'.", subnet_text(region, s)),
                        None => "Interface is already set to DHCP.".into(),
                    },
                ));
            }
        }
        Some("static") => match (subnet, ip) {
            (None, _) => errors.push(("subnet", REQUIRED.into())),
            (Some(subnet_id), Some(ip)) => {
                let cidr = region.subnets.get(&subnet_id).map(|s| s.cidr.clone()).unwrap_or_default();
                if parse_ip(ip).is_some() && !super::ip::contains(&cidr, ip) {
                    errors.push(("ip_address", format!("IP address is not in the given subnet '{}'.", subnet_text(region, subnet_id))));
                }
                if let Some(numeric) = parse_ip(ip)
                    && let Some(range) = region
                        .ranges_of(subnet_id)
                        .filter(|r| r.kind == "dynamic")
                        .find(|r| parse_ip(&r.start_ip).is_some_and(|s| s <= numeric) && parse_ip(&r.end_ip).is_some_and(|e| numeric <= e))
                {
                    errors.push(("ip_address", format!("IP address is inside a dynamic range {} to {}.", range.start_ip, range.end_ip)));
                }
            }
            (Some(_), None) => {}
        },
        Some("link_up") if !force && iface.links.iter().any(|l| l.mode != "link_up") => {
            errors.push((
                "mode",
                "Cannot configure interface to link up (with no IP address) while other links are already configured. \
                 Specify force=True to override this behavior and delete all links."
                    .into(),
            ));
        }
        _ => {}
    }
    if default_gateway && let Some(mode) = mode.as_deref() {
        if !matches!(mode, "auto" | "static") {
            errors.push(("default_gateway", format!("Cannot use in mode '{mode}'.")));
        } else {
            match subnet {
                None => errors.push(("default_gateway", "Subnet is required when default_gateway is True.".into())),
                Some(id) if region.subnets.get(&id).is_none_or(|s| s.gateway_ip.as_deref().is_none_or(str::is_empty)) => errors.push((
                    "default_gateway",
                    format!(
                        "Cannot set as default gateway because subnet {} doesn't provide a gateway IP address.",
                        subnet_text(region, id)
                    ),
                )),
                Some(_) => {}
            }
        }
    }
    if !errors.is_empty() {
        return Err(Reply::fields(&errors));
    }
    let Some(mode) = mode else {
        return Err(Reply::field("mode", REQUIRED));
    };
    let mut ip_address = None;
    if mode == "static"
        && let Some(subnet_id) = subnet
    {
        match ip {
            Some(ip) => {
                // Interface._link_subnet_static: a taken address is a 404.
                if parse_ip(ip).is_some_and(|n| super::ip::used_addresses(region, subnet_id).contains(&n)) {
                    return Err(Reply::text(404, "IP address is already in use."));
                }
                ip_address = Some(ip.to_owned());
            }
            None => ip_address = super::ip::first_free(region, subnet_id),
        }
    }
    let subnet_vlan = subnet.and_then(|s| region.subnets.get(&s)).map(|s| s.vlan);
    let link_id = ctx.world.region.new_id();
    let iface = &mut node_mut(ctx, sid)?.interfaces[index];
    if mode == "link_up" || force {
        iface.links.clear();
    }
    if let (Some(sv), true) = (subnet_vlan, force || iface.vlan.is_none()) {
        iface.vlan = Some(sv);
    }
    iface.links.push(Link { id: link_id, mode, subnet, ip_address, default_gateway });
    let id = iface.id;
    iface_json(ctx, sid, id)
}
