//! IPv4 address arithmetic for subnets, ranges and address allocation.
//! (IPv6 subnets are stored but get no automatic addresses.)

use super::model::Region;
use std::collections::HashSet;
use std::net::Ipv4Addr;

/// Parses `a.b.c.d/n` into (network, prefix length).
pub fn parse_cidr(cidr: &str) -> Option<(u32, u32)> {
    let (addr, prefix) = cidr.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let prefix: u32 = prefix.parse().ok()?;
    if prefix > 32 {
        return None;
    }
    let mask = mask(prefix);
    Some((u32::from(addr) & mask, prefix))
}

fn mask(prefix: u32) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) }
}

/// Whether a text is a valid CIDR (IPv4 or IPv6).
pub fn valid_cidr(cidr: &str) -> bool {
    if parse_cidr(cidr).is_some() {
        return true;
    }
    cidr.split_once('/').is_some_and(|(a, p)| a.parse::<std::net::Ipv6Addr>().is_ok() && p.parse::<u32>().is_ok_and(|p| p <= 128))
}

/// Parses an IPv4 address.
pub fn parse_ip(text: &str) -> Option<u32> {
    text.trim().parse::<Ipv4Addr>().ok().map(u32::from)
}

/// Whether `ip` lies inside `cidr`.
pub fn contains(cidr: &str, ip: &str) -> bool {
    match (parse_cidr(cidr), parse_ip(ip)) {
        (Some((net, prefix)), Some(ip)) => ip & mask(prefix) == net,
        _ => false,
    }
}

/// Addresses in use on a subnet (links of every node).
pub fn used_addresses(region: &Region, subnet: i64) -> HashSet<u32> {
    region
        .machines
        .values()
        .chain(region.racks.values())
        .flat_map(|n| n.interfaces.iter())
        .flat_map(|i| i.links.iter())
        .filter(|l| l.subnet == Some(subnet))
        .filter_map(|l| l.ip_address.as_deref().and_then(parse_ip))
        .collect()
}

/// Whether an address falls in any IP range of the subnet.
pub fn in_range(region: &Region, subnet: i64, ip: u32) -> bool {
    region.ranges_of(subnet).any(|r| match (parse_ip(&r.start_ip), parse_ip(&r.end_ip)) {
        (Some(start), Some(end)) => start <= ip && ip <= end,
        _ => false,
    })
}

/// First free address of a subnet outside ranges, gateway and used ones.
pub fn first_free(region: &Region, subnet: i64) -> Option<String> {
    let subnet_value = region.subnets.get(&subnet)?;
    let (net, prefix) = parse_cidr(&subnet_value.cidr)?;
    let gateway = subnet_value.gateway_ip.as_deref().and_then(parse_ip);
    let used = used_addresses(region, subnet);
    let size = if prefix >= 31 { 1u64 << (32 - prefix) } else { (1u64 << (32 - prefix)) - 1 };
    (1..size)
        .map(|offset| net.wrapping_add(offset as u32))
        .find(|ip| Some(*ip) != gateway && !used.contains(ip) && !in_range(region, subnet, *ip))
        .map(|ip| Ipv4Addr::from(ip).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_membership() {
        assert!(contains("10.0.0.0/24", "10.0.0.77"));
        assert!(!contains("10.0.0.0/24", "10.0.1.1"));
        assert!(valid_cidr("fd00::/64"));
        assert!(!valid_cidr("10.0.0.0/33"));
    }
}
