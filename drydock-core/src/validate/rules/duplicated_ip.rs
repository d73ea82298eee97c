//! **DD2005 Duplicated IP Check** (Error, Warning). No static address may be
//! used twice (exact string comparison), even by one node; each repetition
//! cites the node and the first node that used it. No nodes is a warning.

use std::collections::HashMap;

use crate::validate::{Findings, RuleContext};

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    let nodes = context.site.nodes();
    if nodes.is_empty() {
        findings.warning("No BaremetalNodes Found.", "Site design unlikely complete with no defined baremetal nodes.", &[]);
        return;
    }
    let mut first_user: HashMap<&str, usize> = HashMap::new();
    for (position, node) in nodes.iter().enumerate() {
        for address in node.addressing.iter().filter_map(|assignment| assignment.address.as_deref()) {
            match first_user.get(address) {
                Some(&first) => findings.error(
                    format!("Duplicate IP Address Found: {address} "),
                    "Select unique IP addresses for each node.",
                    &[&node.meta, &nodes[first].meta],
                ),
                None => {
                    first_user.insert(address, position);
                }
            }
        }
    }
}
