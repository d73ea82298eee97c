//! **DD4001 Valid IPMI Configuration** (Error). A node with `oob.type: ipmi`
//! needs the OOB parameters `account`, `credential` and `network`, and a
//! static address on that network (the last addressing entry for it wins).
//!
//! Differs from the original: a missing parameter crashes the original while
//! it formats its message; here it is the intended error
//! `OOB parameter <p> for IPMI node <N> missing.`.

use crate::validate::{Findings, RuleContext};

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    for node in context.site.nodes() {
        if node.config.oob_type.as_deref() != Some("ipmi") {
            continue;
        }
        let parameters = &node.config.oob_parameters;
        for parameter in ["account", "credential", "network"] {
            if parameters.get(parameter).is_none_or(|value| value.is_empty()) {
                findings.error(
                    format!("OOB parameter {parameter} for IPMI node {} missing.", node.name()),
                    format!("Define OOB parameter {parameter}"),
                    &[&node.meta],
                );
            }
        }
        if let Some(network) = parameters.get("network").filter(|network| !network.is_empty())
            && node.address_on(network).is_none()
        {
            findings.error(
                format!("OOB address missing for IPMI node {}.", node.name()),
                "Provide address to node OOB interface.",
                &[&node.meta],
            );
        }
    }
}
