//! **DD2002 IP Locality Check** (Error, Warning). Every route of a network
//! (including route-domain routes) needs a gateway inside the network's CIDR,
//! and every static node address must name a defined network and lie inside
//! its CIDR. No networks, or no nodes, are warnings.
//!
//! Differs from the original: an unparseable CIDR, gateway or address
//! crashes the original; here each is an error naming the network or node.

use std::net::IpAddr;
use std::str::FromStr;

use crate::ingest::value::py_str_repr;
use crate::model::{Network, Route};
use crate::validate::{Findings, RuleContext};

use super::cidr_validity::parse_network;

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    let design = &context.site.design;
    if design.networks.is_empty() {
        findings.warning("No networks found.", "Site design likely incomplete without defined networks", &[]);
    } else {
        for network in &design.networks {
            check_routes(network, findings);
        }
    }
    let nodes = context.site.nodes();
    if nodes.is_empty() {
        findings.warning("No baremetal_nodes found.", "site design likely incomplete without defined networks.", &[]);
        return;
    }
    for node in nodes {
        for assignment in &node.addressing {
            let Some(address) = assignment.address.as_deref() else { continue };
            let Some(network) = design.network(&assignment.network) else {
                findings.error(
                    format!("{} is not a valid network.", assignment.network),
                    "Define network or correct address definition.",
                    &[&node.meta],
                );
                continue;
            };
            let Some(cidr) = parse_network(&network.cidr) else {
                // Reported once per network by check_routes' CIDR check.
                continue;
            };
            match IpAddr::from_str(address) {
                Ok(ip) if cidr.trunc().contains(&ip) => {}
                Ok(_) => findings.error(
                    format!("The IP Address {address} is not within the defined CIDR: {} of {} .", network.cidr, network.meta.name()),
                    "Define a valid address for this network.",
                    &[&node.meta],
                ),
                Err(_) => findings.error(
                    format!("The IP Address {address} on network {} is not a valid IP address.", network.meta.name()),
                    "Define a valid address for this network.",
                    &[&node.meta],
                ),
            }
        }
    }
}

fn check_routes(network: &Network, findings: &mut Findings) {
    let Some(cidr) = parse_network(&network.cidr) else {
        findings.error(
            format!("The CIDR {} of {} is not a valid network address.", network.cidr, network.meta.name()),
            "Provide the network's CIDR as <address>/<prefix length>.",
            &[&network.meta],
        );
        return;
    };
    let cidr = cidr.trunc();
    for route in &network.routes {
        match route.gateway.as_deref().filter(|gateway| !gateway.is_empty()) {
            None => findings.error(
                format!("No gateway found for route {}.", routes_repr(network)),
                "Define a network-local gateway for the route.",
                &[&network.meta],
            ),
            Some(gateway) => check_gateway(network, cidr, gateway, 1, findings),
        }
    }
    // Rendered route-domain routes share their set's gateway: check it once
    // and report once per route, as the original (which checks each) does.
    for set in &network.rendered_routes {
        check_gateway(network, cidr, &set.gateway, set.route_count, findings);
    }
}

fn check_gateway(network: &Network, cidr: ipnet::IpNet, gateway: &str, routes: usize, findings: &mut Findings) {
    let (text, diagnostic) = match IpAddr::from_str(gateway) {
        Ok(ip) if cidr.contains(&ip) => return,
        Ok(_) => (
            format!("The gateway IP Address {gateway} is not within the defined CIDR: {} of {}.", network.cidr, network.meta.name()),
            "Route gateways must reside on the local network. Check gateway IP and CIDR netmask.",
        ),
        Err(_) => (
            format!("The gateway {gateway} of a route of {} is not a valid IP address.", network.meta.name()),
            "Route gateways must reside on the local network. Check gateway IP and CIDR netmask.",
        ),
    };
    for _ in 0..routes {
        findings.error(&text, diagnostic, &[&network.meta]);
    }
}

/// The network's whole route list as Python prints it (compat §6.3).
fn routes_repr(network: &Network) -> String {
    let items: Vec<String> = network.effective_routes().map(|route| route_repr(&route)).collect();
    format!("[{}]", items.join(", "))
}

fn route_repr(route: &Route) -> String {
    let value = |field: &Option<String>| field.as_deref().map(py_str_repr).unwrap_or_else(|| "None".into());
    if route.rendered {
        format!("{{'subnet': {}, 'gateway': {}, 'metric': {}}}", value(&route.subnet), value(&route.gateway), value(&route.metric))
    } else {
        format!(
            "{{'subnet': {}, 'gateway': {}, 'metric': {}, 'routedomain': {}}}",
            value(&route.subnet),
            value(&route.gateway),
            value(&route.metric),
            value(&route.routedomain)
        )
    }
}
