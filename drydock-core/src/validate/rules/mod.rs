//! The 18 validation rules, one file each, in the original's order
//! (compat: site-design spec §6.1). Each file's `//!` comment is the rule's
//! entry in the generated catalogue `docs/validation-rules.md`.

mod boot_storage_rational;
mod bootaction_definition;
mod bootaction_pkg_list;
mod cidr_validity;
mod duplicated_ip;
mod hostname_validity;
mod hugepages;
mod ip_locality;
mod ipmi_configuration;
mod libvirt_configuration;
mod mtu_rationality;
mod network_allowed;
mod network_bond;
mod network_trunking;
mod platform_selection;
mod storage_mountpoint;
mod storage_partitioning;
mod storage_sizing;

use super::Rule;

/// Every rule, in the order the original runs them.
pub static RULES: [Rule; 18] = [
    Rule { code: "DD1001", name: "Rational Boot Storage", check: boot_storage_rational::check },
    Rule { code: "DD2006", name: "CIDR Validity", check: cidr_validity::check },
    Rule { code: "DD1008", name: "Hugepages", check: hugepages::check },
    Rule { code: "DD2002", name: "IP Locality Check", check: ip_locality::check },
    Rule { code: "DD2003", name: "MTU Rationality", check: mtu_rationality::check },
    Rule { code: "DD2004", name: "Network Trunking Rationalty", check: network_trunking::check },
    Rule { code: "DD2005", name: "Duplicated IP Check", check: duplicated_ip::check },
    Rule { code: "DD3001", name: "Platform Selection", check: platform_selection::check },
    Rule { code: "DD1006", name: "Network Bond Rationality", check: network_bond::check },
    Rule { code: "DD2002", name: "Storage Partitioning", check: storage_partitioning::check },
    Rule { code: "DD2003", name: "Storage Sizing", check: storage_sizing::check },
    Rule { code: "DD2004", name: "Storage Mountpoint", check: storage_mountpoint::check },
    Rule { code: "DD1007", name: "Allowed Network Check", check: network_allowed::check },
    Rule { code: "DD3003", name: "Hostname Validity", check: hostname_validity::check },
    Rule { code: "DD4001", name: "Valid IPMI Configuration", check: ipmi_configuration::check },
    Rule { code: "DD4002", name: "Valid Libvirt Configuration", check: libvirt_configuration::check },
    Rule { code: "DD4001", name: "Bootaction Definition", check: bootaction_definition::check },
    Rule { code: "DD4002", name: "Bootaction pkg_list Validation", check: bootaction_pkg_list::check },
];

/// A size that is a percentage (`39%`): `Some(Ok(39))`; `Some(Err(()))`
/// when the part before `%` is no integer; `None` when not a percentage.
pub(super) fn percentage(size: &str) -> Option<Result<i64, ()>> {
    // compat §6.3 DD2003: split on `%`; exactly two parts means a percentage,
    // whose first part must be an integer (Python `int()`: trims white space).
    let mut parts = size.split('%');
    let first = parts.next()?;
    let second = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let _ = second;
    Some(first.trim().replace('_', "").parse::<i64>().map_err(|_| ()))
}
