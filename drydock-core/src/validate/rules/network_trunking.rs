//! **DD2004 Network Trunking Rationalty** (Error; the misspelling is the
//! original's). A link with trunking `disabled` may allow only one network,
//! must name a native (`default_network`) network, and that network must be
//! untagged. `802.1q` links are not checked.
//!
//! Differs from the original: a native network that does not exist crashes
//! the original (`Network <name> not found in design state`); here it is an
//! error on the link.

use crate::model::TrunkingMode;
use crate::validate::{Findings, RuleContext};

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    let design = &context.site.design;
    for link in &design.network_links {
        if link.trunk_mode != TrunkingMode::Disabled {
            continue;
        }
        if link.allowed_networks.len() > 1 {
            findings.error(
                "If there is more than 1 allowed network,trunking mode must be enabled",
                "Reduce the allowed network list to 1 or enable trunking on the link.",
                &[&link.meta],
            );
        }
        let Some(native) = link.native_network.as_deref() else {
            findings.error(
                "Trunking mode is disabled, a trunking default_network must be defined",
                "Non-trunked links must have a native network defined.",
                &[&link.meta],
            );
            continue;
        };
        match design.network(native) {
            None => findings.error(
                format!("Network {native} not found in design state (native network of NetworkLink {})", link.meta.name()),
                "Define the network, or correct trunking.default_network of the link.",
                &[&link.meta],
            ),
            Some(network) if network.vlan_id.as_deref().is_some_and(|vlan| !vlan.is_empty()) => findings.error(
                "Network link native network has a defined VLAN tag.",
                "Tagged network not allowed on non-trunked network links.",
                &[&network.meta, &link.meta],
            ),
            Some(_) => {}
        }
    }
}
