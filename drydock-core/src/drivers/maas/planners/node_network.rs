//! `apply_node_networking`: a node's interfaces, bonds, VLAN children and
//! subnet links on its MaaS machine (compat: drivers spec §2.4.7). Planned
//! against the machine's interfaces as they are right after
//! `restore_networking_configuration`, so bonds and VLAN children are new.

use indexmap::IndexMap;

use super::network::vid_of;
use super::{Plan, is_noconfig};
use crate::compile::EffectiveSite;
use crate::drivers::maas::form::flag;
use crate::drivers::maas::plan::{Call, Val};
use crate::drivers::maas::resources::fabrics::Fabric;
use crate::drivers::maas::resources::interfaces::Interface;
use crate::drivers::maas::resources::subnets::Subnet;
use crate::model::{BaremetalNode, BondingMode};

/// What MaaS has now for the machine and the site.
#[derive(Debug, Clone, Default)]
pub struct NodeNetworkState {
    /// The machine's system id.
    pub system_id: String,
    /// Its interfaces.
    pub interfaces: Vec<Interface>,
    /// Fabrics with VLANs.
    pub fabrics: Vec<Fabric>,
    /// Subnets.
    pub subnets: Vec<Subnet>,
}

/// Plan the node's networking. `names` maps hardware aliases to kernel names.
pub fn plan(site: &EffectiveSite, node: &BaremetalNode, state: &NodeNetworkState, names: &IndexMap<String, String>) -> Plan {
    let mut plan = Plan::default();
    let sid = &state.system_id;
    let node_name = node.name();
    let by_name = |name: &str| state.interfaces.iter().find(|interface| interface.name == name);
    for interface in &node.config.interfaces {
        let Some(link_name) = interface.network_link.as_deref() else { continue };
        let Some(link) = site.design.network_link(link_name) else {
            plan.problem(format!("Node {node_name} interface {}: network link {link_name} is not defined", interface.name));
            continue;
        };
        if is_noconfig(&link.labels) {
            continue;
        }
        let Some(fabric) = state.fabrics.iter().find(|fabric| fabric.name == link_name) else {
            plan.transient_problem(format!(
                "Node {node_name} interface {}: MaaS has no fabric {link_name} (run prepare_site first)",
                interface.name
            ));
            continue;
        };
        // Untagged frames belong to the link's native network: the interface
        // sits on that network's VLAN (VLAN 0 when the native network has no tag).
        let native_vid = link.native_network.as_deref().and_then(|name| site.design.network(name)).map(vid_of).unwrap_or(0);
        let Some(untagged) = fabric.vlan(native_vid) else {
            plan.problem(format!("Node {node_name}: fabric {link_name} has no VLAN {native_vid} for its native network"));
            continue;
        };
        let slaves: Vec<&str> =
            interface.hardware_slaves.iter().map(|slave| names.get(slave).map(String::as_str).unwrap_or(slave.as_str())).collect();
        // The interface the networks attach to: an id now, or a binding.
        let (target, target_observed): (Val, Option<&Interface>) = if link.bonding_mode != BondingMode::Disabled {
            if slaves.is_empty() {
                plan.problem(format!("Node {node_name} interface {}: a bond needs at least one slave", interface.name));
                continue;
            }
            let mut parents = Vec::new();
            let mut missing = None;
            for slave in &slaves {
                match by_name(slave) {
                    Some(found) => parents.push(found),
                    None => missing = Some(*slave),
                }
            }
            if let Some(slave) = missing {
                plan.problem(format!("Node {node_name} interface {}: machine {sid} has no interface {slave}", interface.name));
                continue;
            }
            for parent in &parents {
                plan.push(Call::post(format!("nodes/{sid}/interfaces/{}/", parent.id), Some("disconnect")));
                plan.push(Call::put(format!("nodes/{sid}/interfaces/{}/", parent.id)).field("vlan", untagged.id).field("mtu", link.mtu));
            }
            let key = format!("iface:{}", interface.name);
            let mut call = Call::post(format!("nodes/{sid}/interfaces/"), Some("create_bond")).field("name", interface.name.as_str());
            for parent in &parents {
                call = call.field("parents", parent.id);
            }
            call = call
                .field("mtu", link.mtu)
                .field("bond_mode", link.bonding_mode.as_str())
                .field_opt("bond_miimon", link.bonding_mon_rate)
                .field_opt("bond_downdelay", link.bonding_down_delay)
                .field_opt("bond_updelay", link.bonding_up_delay)
                .field_opt("bond_lacp_rate", link.bonding_peer_rate.clone())
                .field_opt("bond_xmit_hash_policy", link.bonding_xmit_hash.clone())
                .bind(&key, "/id");
            plan.push(call);
            plan.push(Call::put(format!("nodes/{sid}/interfaces/{{{key}}}/")).field("vlan", untagged.id));
            (Val::Ref(key), None)
        } else {
            let kernel = match slaves.as_slice() {
                [one] => *one,
                [] => interface.name.as_str(),
                _ => {
                    plan.problem(format!("Node {node_name} interface {}: more than one slave without bonding", interface.name));
                    continue;
                }
            };
            let Some(found) = by_name(kernel) else {
                plan.problem(format!("Node {node_name} interface {}: machine {sid} has no interface {kernel}", interface.name));
                continue;
            };
            let moved = found.fabric_id() != Some(fabric.id);
            let mtu = found.effective_mtu != link.mtu;
            if moved || mtu {
                let mut call = Call::put(format!("nodes/{sid}/interfaces/{}/", found.id));
                if moved {
                    call = call.field("vlan", untagged.id);
                }
                if mtu {
                    call = call.field("mtu", link.mtu);
                }
                plan.push(call);
            }
            (Val::from(found.id), Some(found))
        };
        let target_path = match &target {
            Val::Lit(id) => id.clone(),
            Val::Ref(key) => format!("{{{key}}}"),
        };
        for network_name in &interface.networks {
            let Some(network) = site.design.network(network_name) else {
                plan.problem(format!("Node {node_name} interface {}: network {network_name} is not defined", interface.name));
                continue;
            };
            let Some(subnet) = state.subnets.iter().find(|subnet| subnet.cidr == network.cidr) else {
                plan.problem(format!("Node {node_name}: MaaS has no subnet {} for network {network_name}", network.cidr));
                continue;
            };
            let native = link.native_network.as_deref() == Some(network_name.as_str());
            let (link_path, observed) = if native {
                (target_path.clone(), target_observed)
            } else {
                let vid = vid_of(network);
                let Some(vlan) = fabric.vlan(vid) else {
                    plan.problem(format!("Node {node_name}: fabric {link_name} has no VLAN {vid} for network {network_name}"));
                    continue;
                };
                let child = state.interfaces.iter().find(|candidate| {
                    candidate.kind == "vlan"
                        && candidate.vlan.as_ref().is_some_and(|v| v.id == vlan.id)
                        && candidate.parents.iter().any(|parent| parent == &interface.name)
                });
                match child {
                    Some(child) => (child.id.to_string(), Some(child)),
                    None => {
                        let key = format!("iface:{}.{vid}", interface.name);
                        plan.push(
                            Call::post(format!("nodes/{sid}/interfaces/"), Some("create_vlan"))
                                .field("tags", "")
                                .field("vlan", vlan.id)
                                .field("parent", target.clone())
                                .field_opt("mtu", network.mtu)
                                .bind(&key, "/id"),
                        );
                        (format!("{{{key}}}"), None)
                    }
                }
            };
            if let Some(existing) = observed.and_then(|o| o.links.iter().find(|l| l.subnet.as_ref().is_some_and(|s| s.id == subnet.id))) {
                plan.push(Call::post(format!("nodes/{sid}/interfaces/{link_path}/"), Some("unlink_subnet")).field("id", existing.id));
            }
            let assignment = node.addressing.iter().rev().find(|assignment| assignment.network == *network_name);
            let (mode, address) = match assignment {
                Some(assignment) if assignment.is_dhcp() => ("dhcp", None),
                Some(assignment) => ("static", assignment.address.clone()),
                None => ("link_up", None),
            };
            let primary = node.config.primary_network.as_deref() == Some(network_name.as_str());
            plan.push(
                Call::post(format!("nodes/{sid}/interfaces/{link_path}/"), Some("link_subnet"))
                    .field("subnet", subnet.id)
                    .field("mode", mode)
                    .field_opt("ip_address", address)
                    .field("default_gateway", flag(primary)),
            );
        }
    }
    plan
}
