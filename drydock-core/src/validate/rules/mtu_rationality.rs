//! **DD2003 MTU Rationality** (Error). Link and network MTUs must be within
//! 1280..=65536 (0 means unset), and a network that is a link's native
//! (default) network must not have a larger MTU than that link. Networks
//! carried as tagged VLANs are not compared.
//!
//! Differs from the original: for an out-of-range network MTU the original
//! prints the MTU of the last link instead of the network's and crashes when
//! there are no links; here the message gives the network's own MTU.

use std::collections::HashMap;

use crate::validate::{Findings, RuleContext};

const MIN_MTU: i64 = 1280;
const MAX_MTU: i64 = 65536;

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    let design = &context.site.design;
    let mut native_mtu: HashMap<Option<&str>, i64> = HashMap::new();
    for link in &design.network_links {
        if link.mtu != 0 && !(MIN_MTU..=MAX_MTU).contains(&link.mtu) {
            findings.error(
                format!("MTU must be between {MIN_MTU} and {MAX_MTU}, value is {}", link.mtu),
                "Define a valid MTU. Standard is 1500, Jumbo is 9100.",
                &[&link.meta],
            );
        }
        native_mtu.insert(link.native_network.as_deref(), link.mtu);
    }
    for network in &design.networks {
        let Some(mtu) = network.mtu.filter(|mtu| *mtu != 0) else { continue };
        if !(MIN_MTU..=MAX_MTU).contains(&mtu) {
            findings.error(
                format!("MTU must be between {MIN_MTU} and {MAX_MTU}, value is {mtu}"),
                "Define a valid MTU. Standard is 1500, Jumbo is 9100.",
                &[&network.meta],
            );
        }
        if let Some(link_mtu) = native_mtu.get(&Some(network.meta.name()))
            && mtu > *link_mtu
        {
            findings.error(
                format!("MTU must be <= the parent Network Link; for Network {}", network.meta.name()),
                "Define a MTU less than or equal to that of the carrying network link.",
                &[&network.meta],
            );
        }
    }
}
