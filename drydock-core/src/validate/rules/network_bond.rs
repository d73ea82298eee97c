//! **DD1006 Network Bond Rationality** (Error). For `802.3ad` links the up
//! and down delays must be at least the MII monitoring rate. A `disabled`
//! link may not carry bond options (ingestion already clears them, so this
//! cannot fire through documents).
//!
//! Differs from the original: an `active-backup` link crashes the original
//! (`'NetworkLink' object has no attribute 'get'`), which rejects every such
//! design; here `active-backup` is checked like `balance-rr` (nothing to
//! check), as the spec recommends.

use crate::model::BondingMode;
use crate::validate::{Findings, RuleContext};

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    for link in &context.site.design.network_links {
        match link.bonding_mode {
            BondingMode::Disabled => {
                let any_option = link.bonding_xmit_hash.is_some()
                    || link.bonding_peer_rate.is_some()
                    || link.bonding_mon_rate.is_some()
                    || link.bonding_up_delay.is_some()
                    || link.bonding_down_delay.is_some();
                if any_option {
                    findings.error(
                        "If bonding mode is disabled no other bond option can be specified",
                        "Enable a bonding mode or remove the bond options.",
                        &[&link.meta],
                    );
                }
            }
            BondingMode::Lacp => {
                let mon_rate = link.bonding_mon_rate.unwrap_or(0);
                if let Some(up_delay) = link.bonding_up_delay
                    && up_delay < mon_rate
                {
                    findings.error(
                        format!("Up delay {up_delay} is less than mon rate {mon_rate}"),
                        "Link up delay must be equal or greater than the mon_rate",
                        &[&link.meta],
                    );
                }
                if let Some(down_delay) = link.bonding_down_delay
                    && down_delay < mon_rate
                {
                    findings.error(
                        format!("Down delay {down_delay} is less than mon rate {mon_rate}"),
                        "Link down delay must be equal or greater than the mon_rate",
                        &[&link.meta],
                    );
                }
            }
            BondingMode::RoundRobin | BondingMode::ActiveBackup => {}
        }
    }
}
