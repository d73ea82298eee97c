//! `apply_node_platform`: the node's kernel parameters as the `<node>_kp`
//! tag's `kernel_opts`, and its static tags (compat: drivers spec §2.4.10).

use std::collections::HashSet;

use super::Plan;
use crate::compile::hardware::kernel_command_line;
use crate::drivers::maas::plan::Call;
use crate::drivers::maas::resources::machines::Machine;
use crate::drivers::maas::resources::tags::Tag;
use crate::model::BaremetalNode;

/// The name of the tag carrying a node's kernel parameters.
pub fn kernel_tag_name(node: &BaremetalNode) -> String {
    format!("{}_kp", node.name())
}

/// Plan the node's platform tags against the machine's own tag list and
/// its kernel-parameter tag as MaaS has it (`None` when absent). Static
/// tags the machine lacks are applied, and created first unless `existing`
/// (tags seen to exist) names them ("already exists" is fine: another node
/// may create the same tag at the same moment). Reading single tags, never
/// the whole list, keeps this O(1) per node.
pub fn plan(node: &BaremetalNode, machine: &Machine, kernel_tag: Option<&Tag>, existing: &HashSet<String>) -> Plan {
    let mut plan = Plan::default();
    let sid = &machine.system_id;
    let has = |name: &str| machine.tag_names.iter().any(|tag| tag == name);
    let apply = |plan: &mut Plan, name: &str, fresh: bool| {
        if fresh || !has(name) {
            plan.push(Call::post(format!("tags/{name}/"), Some("update_nodes")).field("add", sid.as_str()));
        }
    };
    match kernel_command_line(&node.config.kernel_params) {
        Err(error) => plan.problem(format!("Node {}: kernel parameters: {error}", node.name())),
        Ok(line) if line.trim().is_empty() => {}
        Ok(line) => {
            let name = kernel_tag_name(node);
            let current = kernel_tag.filter(|tag| tag.name == name);
            let same = current.is_some_and(|tag| tag.kernel_opts.as_deref() == Some(line.as_str()));
            if !same {
                if current.is_some() {
                    plan.push(Call::delete(format!("tags/{name}/")));
                }
                plan.push(Call::post("tags/", None).field("name", name.as_str()).field("kernel_opts", line));
            }
            apply(&mut plan, &name, !same);
        }
    }
    for tag in &node.config.tags {
        if !has(tag) {
            if !existing.contains(tag) {
                plan.push(Call::post("tags/", None).field("name", tag.as_str()).exists_ok());
            }
            apply(&mut plan, tag, true);
        }
    }
    plan
}
