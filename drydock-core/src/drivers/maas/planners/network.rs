//! `create_network_template`: the design's network links and networks as
//! MaaS fabrics, VLANs, subnets, IP ranges, DHCP and static routes
//! (compat: drivers spec §2.4.2). Existing objects are found by subnet CIDR
//! and fabric name and updated only where they differ.

use std::collections::{HashMap, HashSet};

use super::{Plan, is_noconfig};
use crate::compile::EffectiveSite;
use crate::drivers::maas::form::flag;
use crate::drivers::maas::plan::{Call, Val};
use crate::drivers::maas::resources::domains::Domain;
use crate::drivers::maas::resources::fabrics::Fabric;
use crate::drivers::maas::resources::racks::RackController;
use crate::drivers::maas::resources::subnets::{IpRange, StaticRoute, Subnet};
use crate::model::Network;

/// What MaaS has now.
#[derive(Debug, Clone, Default)]
pub struct NetworkState {
    /// Fabrics with VLANs.
    pub fabrics: Vec<Fabric>,
    /// Subnets.
    pub subnets: Vec<Subnet>,
    /// Domains.
    pub domains: Vec<Domain>,
    /// IP ranges.
    pub ranges: Vec<IpRange>,
    /// Static routes.
    pub routes: Vec<StaticRoute>,
    /// Rack controllers (read only when some network wants DHCP).
    pub racks: Vec<RackController>,
}

/// Whether any network of the design has a DHCP range (then the rack
/// controllers must be read).
pub fn wants_dhcp(site: &EffectiveSite) -> bool {
    site.design.networks.iter().any(|network| network.ranges.iter().any(|range| range.range_type.as_deref() == Some("dhcp")))
}

/// The default gateway of a network (its `0.0.0.0/0` route).
pub fn default_gateway(network: &Network) -> Option<&str> {
    network.routes.iter().find(|route| route.subnet.as_deref() == Some("0.0.0.0/0")).and_then(|route| route.gateway.as_deref())
}

/// A network's VLAN tag (0 when untagged).
pub fn vid_of(network: &Network) -> i64 {
    network.vlan_id.as_deref().and_then(|vid| vid.trim().parse().ok()).unwrap_or(0)
}

fn dns_servers(network: &Network) -> Vec<String> {
    network
        .dns_servers
        .as_deref()
        .map(|list| list.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

/// Plan the network template.
pub fn plan(site: &EffectiveSite, state: &NetworkState) -> Plan {
    let design = &site.design;
    let mut plan = Plan::default();
    let mut domains: HashSet<&str> = state.domains.iter().map(|domain| domain.name.as_str()).collect();
    // Subnet id (or binding) per CIDR, for ranges and routes.
    let mut subnet_ids: HashMap<String, Val> = state.subnets.iter().map(|subnet| (subnet.cidr.clone(), Val::from(subnet.id))).collect();
    for link in &design.network_links {
        let link_name = link.meta.name();
        if is_noconfig(&link.labels) {
            continue;
        }
        let networks: Vec<&Network> = link
            .allowed_networks
            .iter()
            .filter_map(|name| {
                let network = design.network(name);
                if network.is_none() {
                    plan.problem(format!("NetworkLink {link_name}: allowed network {name} is not defined"));
                }
                network
            })
            .filter(|network| !is_noconfig(&network.labels))
            .collect();
        let mut found: Vec<i64> = networks
            .iter()
            .filter_map(|network| state.subnets.iter().find(|subnet| subnet.cidr == network.cidr))
            .map(|subnet| subnet.vlan.fabric_id)
            .collect();
        found.sort_unstable();
        found.dedup();
        if found.len() > 1 {
            plan.problem(format!(
                "NetworkLink {link_name}: its networks are on {} different MaaS fabrics (self-discovered network incompatible)",
                found.len()
            ));
            continue;
        }
        let existing = match found.first() {
            Some(id) => state.fabrics.iter().find(|fabric| fabric.id == *id),
            None => state.fabrics.iter().find(|fabric| fabric.name == link_name),
        };
        let fabric_key = format!("fabric:{link_name}");
        let vlan0_key = format!("vlan0:{link_name}");
        let fabric_id = match existing {
            Some(fabric) => {
                if fabric.name != link_name {
                    plan.push(Call::put(format!("fabrics/{}/", fabric.id)).field("name", link_name));
                }
                if fabric.vlan(0).is_some_and(|vlan| vlan.mtu != link.mtu) {
                    plan.push(Call::put(format!("fabrics/{}/vlans/0/", fabric.id)).field("mtu", link.mtu));
                }
                Some(fabric.id)
            }
            None => {
                plan.push(Call::post("fabrics/", None).field("name", link_name).bind(&fabric_key, "/id").bind(&vlan0_key, "/vlans/0/id"));
                if link.mtu != 1500 {
                    plan.push(Call::put(format!("fabrics/{{{fabric_key}}}/vlans/0/")).field("mtu", link.mtu));
                }
                None
            }
        };
        let fabric_path = fabric_id.map(|id| id.to_string()).unwrap_or_else(|| format!("{{{fabric_key}}}"));
        for network in networks {
            plan_network(&mut plan, state, link_name, existing, &fabric_path, network, &mut domains, &mut subnet_ids);
        }
    }
    plan_routes(&mut plan, site, state, &subnet_ids);
    plan
}

#[allow(clippy::too_many_arguments)]
fn plan_network<'a>(
    plan: &mut Plan,
    state: &NetworkState,
    link_name: &str,
    fabric: Option<&Fabric>,
    fabric_path: &str,
    network: &'a Network,
    domains: &mut HashSet<&'a str>,
    subnet_ids: &mut HashMap<String, Val>,
) {
    let name = network.meta.name();
    if !network.dns_domain.is_empty() && !domains.contains(network.dns_domain.as_str()) {
        plan.push(Call::post("domains/", None).field("name", network.dns_domain.as_str()).field("authoritative", flag(false)));
        domains.insert(network.dns_domain.as_str());
    }
    let vid = vid_of(network);
    let gateway = default_gateway(network);
    let servers = dns_servers(network);
    let vlan_key = format!("vlan:{name}");
    let subnet_key = format!("subnet:{name}");
    // The VLAN: its id (or binding) and its current state.
    let (vlan_id, vlan) = match state.subnets.iter().find(|subnet| subnet.cidr == network.cidr) {
        Some(subnet) => {
            let vlan = state.fabrics.iter().flat_map(|fabric| fabric.vlans.iter()).find(|vlan| vlan.id == subnet.vlan.id);
            let Some(vlan) = vlan else {
                plan.problem(format!("Network {name}: the VLAN of MaaS subnet {} is missing", subnet.cidr));
                return;
            };
            if vlan.name != name || vlan.vid != vid || network.mtu.is_some_and(|mtu| mtu != vlan.mtu) {
                plan.push(
                    Call::put(format!("fabrics/{}/vlans/{}/", vlan.fabric_id, vlan.vid))
                        .field("name", name)
                        .field("vid", vid)
                        .field_opt("mtu", network.mtu),
                );
            }
            let same_servers = subnet.dns_servers == servers;
            if subnet.name != name || !same_servers || subnet.gateway_ip.as_deref() != gateway {
                let mut call = Call::put(format!("subnets/{}/", subnet.id)).field("name", name).field_opt("gateway_ip", gateway);
                for server in &servers {
                    call = call.field("dns_servers", server.as_str());
                }
                plan.push(call);
            }
            (Val::from(vlan.id), Some(vlan))
        }
        None => {
            let known = fabric.and_then(|fabric| fabric.vlan(vid));
            let vlan_id = match known {
                Some(vlan) => {
                    if vlan.name != name || network.mtu.is_some_and(|mtu| mtu != vlan.mtu) {
                        plan.push(
                            Call::put(format!("fabrics/{fabric_path}/vlans/{vid}/")).field("name", name).field_opt("mtu", network.mtu),
                        );
                    }
                    Val::from(vlan.id)
                }
                None if vid == 0 && fabric.is_none() => {
                    plan.push(Call::put(format!("fabrics/{fabric_path}/vlans/0/")).field("name", name).field_opt("mtu", network.mtu));
                    Val::Ref(format!("vlan0:{link_name}"))
                }
                None => {
                    plan.push(
                        Call::post(format!("fabrics/{fabric_path}/vlans/"), None)
                            .field("name", name)
                            .field("vid", vid)
                            .field_opt("mtu", network.mtu)
                            .bind(&vlan_key, "/id"),
                    );
                    Val::Ref(vlan_key.clone())
                }
            };
            let mut call = Call::post("subnets/", None).field("name", name).field("cidr", network.cidr.as_str());
            for server in &servers {
                call = call.field("dns_servers", server.as_str());
            }
            plan.push(call.field("vlan", vlan_id.clone()).field_opt("gateway_ip", gateway).bind(&subnet_key, "/id"));
            subnet_ids.insert(network.cidr.clone(), Val::Ref(subnet_key.clone()));
            (vlan_id, known)
        }
    };
    let subnet_id = subnet_ids.get(&network.cidr).cloned().unwrap_or(Val::Ref(subnet_key));
    let mut dhcp = false;
    for range in &network.ranges {
        let kind = range.range_type.as_deref().unwrap_or("");
        let (Some(start), Some(end)) = (range.start.as_deref(), range.end.as_deref()) else { continue };
        dhcp |= kind == "dhcp";
        let maas_kind = match kind {
            "dhcp" => "dynamic",
            "reserved" => "reserved",
            _ => continue,
        };
        if state.ranges.iter().any(|existing| existing.start_ip == start && existing.end_ip == end) {
            continue;
        }
        plan.push(
            Call::post("ipranges/", None)
                .field("type", maas_kind)
                .field("start_ip", start)
                .field("end_ip", end)
                .field("subnet", subnet_id.clone())
                .field("comment", "Configured by Drydock"),
        );
    }
    if dhcp {
        plan_dhcp(plan, state, network, &vlan_id, vlan, fabric_path, vid);
    }
}

fn plan_dhcp(
    plan: &mut Plan,
    state: &NetworkState,
    network: &Network,
    vlan_id: &Val,
    vlan: Option<&crate::drivers::maas::resources::fabrics::Vlan>,
    fabric_path: &str,
    vid: i64,
) {
    let name = network.meta.name();
    let path = match vlan {
        Some(vlan) => format!("fabrics/{}/vlans/{}/", vlan.fabric_id, vid),
        None => format!("fabrics/{fabric_path}/vlans/{vid}/"),
    };
    let healthy: Vec<&RackController> = state.racks.iter().filter(|rack| rack.is_healthy()).collect();
    // A relayed network is served only through the rack controller that
    // holds the relay's upstream target, as the original does: MaaS's own
    // DHCP on some other rack would answer on the wrong segment. (One
    // difference, docs/compat.md: a target on the network's own VLAN means
    // the rack is on the segment, so it serves DHCP there directly; the
    // original asks MaaS to relay the VLAN to itself, which MaaS refuses.)
    if let Some(target) = network.dhcp_relay_upstream_target.as_deref() {
        let holder = healthy
            .iter()
            .flat_map(|rack| rack.interface_set.iter())
            .find(|interface| interface.links.iter().any(|link| link.ip_address.as_deref() == Some(target)))
            .and_then(|interface| interface.vlan.as_ref());
        let Some(relay_vlan) = holder else {
            plan.problem(format!(
                "Network {name} requires DHCP through a relay to {target}, but could not locate a rack controller: \
                 no healthy rack controller has an interface with the address {target}"
            ));
            return;
        };
        let on_segment = matches!(vlan_id, Val::Lit(own) if *own == relay_vlan.id.to_string());
        if !on_segment {
            let current = vlan.and_then(|vlan| vlan.relay_vlan.as_ref()).and_then(|relay| relay.get("id")).and_then(|id| id.as_i64());
            if current != Some(relay_vlan.id) {
                plan.push(Call::put(path).field("relay_vlan", relay_vlan.id).field("dhcp_on", flag(false)));
            }
            return;
        }
        // The rack holding the target is on this VLAN: served directly.
    }
    let Val::Lit(vlan_text) = vlan_id else {
        plan.problem(format!("Network {name} requires DHCP, but could not locate a rack controller to serve it (its VLAN is new)"));
        return;
    };
    let serving: Vec<&str> = healthy
        .iter()
        .filter(|rack| rack.interface_set.iter().any(|interface| interface.vlan.as_ref().is_some_and(|v| v.id.to_string() == *vlan_text)))
        .map(|rack| rack.system_id.as_str())
        .take(2)
        .collect();
    let Some(primary) = serving.first() else {
        plan.problem(format!("Network {name} requires DHCP, but could not locate a rack controller to serve it"));
        return;
    };
    let already = vlan.is_some_and(|vlan| vlan.dhcp_on && vlan.primary_rack.as_deref() == Some(*primary));
    if !already {
        plan.push(
            Call::put(path)
                .field("dhcp_on", flag(true))
                .field("primary_rack", *primary)
                .field_opt("secondary_rack", serving.get(1).copied()),
        );
    }
}

fn plan_routes(plan: &mut Plan, site: &EffectiveSite, state: &NetworkState, subnet_ids: &HashMap<String, Val>) {
    for network in &site.design.networks {
        if is_noconfig(&network.labels) {
            continue;
        }
        let Some(source) = subnet_ids.get(&network.cidr) else { continue };
        for route in network.effective_routes() {
            let Some(destination_cidr) = route.subnet.as_deref().filter(|cidr| *cidr != "0.0.0.0/0") else { continue };
            let Some(destination) = subnet_ids.get(destination_cidr) else {
                plan.problem(format!("Network {}: route destination {destination_cidr} is not a MaaS subnet", network.meta.name()));
                continue;
            };
            let gateway = route.gateway.clone().unwrap_or_default();
            let metric: i64 = route.metric.as_deref().and_then(|m| m.parse().ok()).unwrap_or(100);
            let existing = match (source, destination) {
                (Val::Lit(s), Val::Lit(d)) => {
                    state.routes.iter().find(|r| r.source.id.to_string() == *s && r.destination.id.to_string() == *d)
                }
                _ => None,
            };
            if let Some(existing) = existing {
                if existing.gateway_ip == gateway && existing.metric == metric {
                    continue;
                }
                plan.push(Call::delete(format!("static-routes/{}/", existing.id)));
            }
            plan.push(
                Call::post("static-routes/", None)
                    .field("source", source.clone())
                    .field("destination", destination.clone())
                    .field("gateway_ip", gateway)
                    .field("metric", metric),
            );
        }
    }
}

/// CIDRs of the networks that must exist as subnets after the template ran.
pub fn required_cidrs(site: &EffectiveSite) -> Vec<(String, String)> {
    let linked: HashSet<&str> = site
        .design
        .network_links
        .iter()
        .filter(|link| !is_noconfig(&link.labels))
        .flat_map(|link| link.allowed_networks.iter().map(String::as_str))
        .collect();
    site.design
        .networks
        .iter()
        .filter(|network| !is_noconfig(&network.labels) && linked.contains(network.meta.name()))
        .map(|network| (network.meta.name().to_owned(), network.cidr.clone()))
        .collect()
}
