//! `drydock/Network/v1` → [`Network`] (compat: site-design spec §2.3).

use super::coerce::{MapResult, as_map, nullable_string_map, opt_int, opt_string, req_string, sub_map};
use crate::ingest::value::{Map, Value};
use crate::model::{DocMeta, Network, NetworkRange, Route};

pub(super) fn map(meta: DocMeta, data: &Map) -> MapResult<Network> {
    let mut ranges = Vec::new();
    if let Some(Value::Seq(seq)) = data.get("ranges") {
        for item in &seq.items {
            let entry = as_map(item, "ranges")?;
            ranges.push(NetworkRange {
                range_type: opt_string(entry, "type")?,
                start: opt_string(entry, "start")?,
                end: opt_string(entry, "end")?,
            });
        }
    }
    let mut routes = Vec::new();
    if let Some(Value::Seq(seq)) = data.get("routes") {
        for item in &seq.items {
            let entry = as_map(item, "routes")?;
            routes.push(Route {
                subnet: opt_string(entry, "subnet")?,
                gateway: opt_string(entry, "gateway")?,
                metric: opt_string(entry, "metric")?,
                routedomain: opt_string(entry, "routedomain")?,
                rendered: false,
            });
        }
    }
    let dns = sub_map(data, "dns")?;
    let dns_domain = match dns.and_then(|dns| dns.get("domain")) {
        Some(Value::Null) | None => "local".to_owned(),
        Some(_) => dns.map(|dns| opt_string(dns, "domain")).transpose()?.flatten().unwrap_or_default(),
    };
    let relay = sub_map(data, "dhcp_relay")?;
    Ok(Network {
        cidr: req_string(data, "cidr")?,
        vlan_id: opt_string(data, "vlan")?,
        mtu: opt_int(data, "mtu")?,
        routedomain: opt_string(data, "routedomain")?,
        ranges,
        routes,
        dns_domain,
        dns_servers: dns.map(|dns| opt_string(dns, "servers")).transpose()?.flatten(),
        dhcp_relay_self_ip: relay.map(|relay| opt_string(relay, "self_ip")).transpose()?.flatten(),
        dhcp_relay_upstream_target: relay.map(|relay| opt_string(relay, "upstream_target")).transpose()?.flatten(),
        labels: nullable_string_map(data, "labels")?,
        rendered_routes: Vec::new(),
        meta,
    })
}
