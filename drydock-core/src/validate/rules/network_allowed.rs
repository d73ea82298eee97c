//! **DD1007 Allowed Network Check** (Error). A network may be allowed on
//! only one link (these messages cite no document, as in the original), and
//! every network an interface carries must be allowed on the interface's
//! link; an interface on an undefined link is reported once per network.
//! Linear in links and networks: pairs are found through a network index
//! rather than by comparing every pair of links.

use std::collections::HashMap;

use indexmap::IndexMap;

use crate::validate::{Findings, RuleContext};

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    let design = &context.site.design;
    // Link name → allowed networks; a repeated name keeps its first position
    // and its last list (a Python dict).
    let mut links: IndexMap<&str, &[String]> = IndexMap::new();
    for link in &design.network_links {
        links.insert(link.meta.name(), &link.allowed_networks);
    }
    let mut carriers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (position, (_, allowed)) in links.iter().enumerate() {
        for network in allowed.iter() {
            let entry = carriers.entry(network.as_str()).or_default();
            if entry.last() != Some(&position) {
                entry.push(position);
            }
        }
    }
    for (first, (first_name, allowed)) in links.iter().enumerate() {
        // (second link, position of the network in the first link's list)
        let mut duplicates: Vec<(usize, usize, &str)> = Vec::new();
        for (order, network) in allowed.iter().enumerate() {
            for &second in carriers.get(network.as_str()).into_iter().flatten() {
                if second > first {
                    duplicates.push((second, order, network));
                }
            }
        }
        duplicates.sort_unstable();
        for (second, _, network) in duplicates {
            let second_name = links.get_index(second).map(|(name, _)| *name).unwrap_or_default();
            findings.error(
                format!("Allowed network {network} duplicated on NetworkLink {first_name} and NetworkLink {second_name}"),
                "Each network is only allowed to cross a single network link.",
                &[],
            );
        }
    }
    for node in context.site.nodes() {
        for interface in &node.config.interfaces {
            let link = interface.network_link.as_deref().and_then(|name| links.get(name));
            for network in &interface.networks {
                match link {
                    None => findings.error(
                        format!(
                            "Interface {} connected to undefined network link {}.",
                            interface.name,
                            interface.network_link.as_deref().unwrap_or("None")
                        ),
                        "Define the network link attached to this interface.",
                        &[&node.meta],
                    ),
                    Some(allowed) if !allowed.contains(network) => findings.error(
                        format!("Interface {} attached to network {network} not allowed on interface link", interface.name),
                        "Interfaces can only be attached to networks allowed on the network link connected to the interface.",
                        &[&node.meta],
                    ),
                    Some(_) => {}
                }
            }
        }
    }
}
