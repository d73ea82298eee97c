//! Route-domain rendering (compat: site-design spec §3.8): every network
//! with a route-domain route gets routes to the other member CIDRs of that
//! domain via the route's gateway. Linear in networks and routes; the
//! rendered routes are kept compact (see [`RenderedRoutes`]).

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{Network, RenderedRoutes};

/// Render route domains into `networks` (replaces earlier renderings).
pub(crate) fn render_route_domains(networks: &mut [Network]) {
    // Domains in order of first appearance, with member CIDRs in network order.
    let mut domain_order: Vec<String> = Vec::new();
    let mut members: HashMap<String, Vec<String>> = HashMap::new();
    for network in networks.iter() {
        if let Some(domain) = &network.routedomain {
            members
                .entry(domain.clone())
                .or_insert_with(|| {
                    domain_order.push(domain.clone());
                    Vec::new()
                })
                .push(network.cidr.clone());
        }
    }
    let shared: HashMap<&str, (usize, Arc<[String]>)> = domain_order
        .iter()
        .enumerate()
        .map(|(position, domain)| (domain.as_str(), (position, Arc::from(members[domain].as_slice()))))
        .collect();
    // How often each CIDR occurs in each domain, so a member's route count
    // (every member CIDR but its own) costs O(1).
    let occurrences: HashMap<(&str, &str), usize> = members
        .iter()
        .flat_map(|(domain, cidrs)| cidrs.iter().map(move |cidr| (domain.as_str(), cidr.as_str())))
        .fold(HashMap::new(), |mut counts, key| {
            *counts.entry(key).or_insert(0) += 1;
            counts
        });
    for network in networks.iter_mut() {
        // The first route of each domain decides; render in domain order.
        let mut sets: Vec<(usize, RenderedRoutes)> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for route in &network.routes {
            let Some(domain) = route.routedomain.as_deref() else { continue };
            if seen.contains(&domain) {
                continue;
            }
            seen.push(domain);
            let (Some((position, cidrs)), Some(gateway), Some(metric)) = (shared.get(domain), &route.gateway, &route.metric) else {
                continue;
            };
            let own = occurrences.get(&(domain, network.cidr.as_str())).copied().unwrap_or(0);
            sets.push((
                *position,
                RenderedRoutes {
                    domain_cidrs: cidrs.clone(),
                    gateway: gateway.clone(),
                    metric: metric.clone(),
                    route_count: cidrs.len() - own,
                },
            ));
        }
        sets.sort_by_key(|(position, _)| *position);
        network.rendered_routes = sets.into_iter().map(|(_, set)| set).collect();
    }
}
