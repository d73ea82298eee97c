//! **DD2006 CIDR Validity** (Error, Warning). A network's `cidr` must not
//! have host bits set (`172.16.100.1/24`); the hint gives the network address
//! MaaS accepts. No networks at all is a warning. Unparseable CIDRs are left
//! to DD2002 IP Locality Check.

use std::str::FromStr;

use ipnet::IpNet;

use crate::validate::{Findings, RuleContext};

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    let networks = &context.site.design.networks;
    if networks.is_empty() {
        findings.warning("No networks found.", "Site design likely incomplete without defined networks", &[]);
        return;
    }
    for network in networks {
        if let Some(parsed) = parse_network(&network.cidr)
            && parsed.trunc() != parsed
        {
            findings.error(
                format!("The provided CIDR {} has host bits set", network.cidr),
                format!("Provide a CIDR acceptable by MAAS: {}", parsed.trunc()),
                &[&network.meta],
            );
        }
    }
}

/// Parse a CIDR; a bare address is a /32 (/128), as Python's `ip_network`.
pub(super) fn parse_network(cidr: &str) -> Option<IpNet> {
    IpNet::from_str(cidr).ok().or_else(|| std::net::IpAddr::from_str(cidr).ok().map(IpNet::from))
}
