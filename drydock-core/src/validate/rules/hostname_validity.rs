//! **DD3003 Hostname Validity** (Error). A node's FQDN (`<name>.<domain>`,
//! the domain from its primary network) must be at most 255 characters and
//! every dot-separated label 1-63 characters of `A-Z a-z 0-9 -` (RFC 1035).
//! Underscores and empty labels fail; leading hyphens and all-digit labels
//! pass, as in the original.

use crate::validate::{Findings, RuleContext};

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    for node in context.site.nodes() {
        let fqdn = context.site.node_fqdn(node);
        if fqdn.len() > 255 {
            findings.error(
                format!("FQDN {fqdn} is invalid, greater than 255 characters."),
                "RFC 1035 requires full DNS names to be < 256 characters.",
                &[&node.meta],
            );
        }
        for label in fqdn.split('.') {
            let valid = (1..=63).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !valid {
                findings.error(
                    format!("FQDN {fqdn} is invalid - label '{label}' is invalid."),
                    "RFC 1035 requires each label in a DNS name to be <= 63 characters and contain only A-Z, a-z, 0-9, and hyphens.",
                    &[&node.meta],
                );
            }
        }
    }
}
