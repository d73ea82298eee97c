//! **DD4001 Bootaction Definition** (Warning). Every node should be targeted
//! by at least one boot action. Linear: targets are marked once per boot
//! action (the original compares every node with every target list).

use crate::validate::{Findings, RuleContext};

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    let nodes = context.site.nodes();
    let mut targeted = vec![false; nodes.len()];
    for targets in &context.site.boot_action_targets {
        for &node in targets {
            targeted[node] = true;
        }
    }
    for (node, is_targeted) in nodes.iter().zip(targeted) {
        if !is_targeted {
            findings.warning(
                format!("Node {} is not in scope for any bootactions.", node.name()),
                "It is expected all nodes have at least one post-deploy action.",
                &[&node.meta],
            );
        }
    }
}
