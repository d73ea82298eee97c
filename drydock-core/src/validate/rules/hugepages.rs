//! **DD1008 Hugepages** (Error). The effective kernel parameters of a node
//! must give `hugepages` and `hugepagesz` together or not at all.

use crate::validate::{Findings, RuleContext};

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    for node in context.site.nodes() {
        let params = &node.config.kernel_params;
        if params.contains_key("hugepages") != params.contains_key("hugepagesz") {
            findings.error("Invalid hugepages kernel configuration", "hugepages and hugepagesz must be specified together", &[&node.meta]);
        }
    }
}
