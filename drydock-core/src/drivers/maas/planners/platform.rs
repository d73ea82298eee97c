//! `apply_node_platform`: the node's kernel parameters as the `<node>_kp`
//! tag's `kernel_opts`, and its static tags (compat: drivers spec §2.4.10).

use super::Plan;
use crate::compile::hardware::kernel_command_line;
use crate::drivers::maas::plan::Call;
use crate::drivers::maas::resources::machines::Machine;
use crate::drivers::maas::resources::tags::Tag;
use crate::model::BaremetalNode;

/// Plan the node's platform tags against the existing `tags` and the
/// machine's own tag list.
pub fn plan(node: &BaremetalNode, machine: &Machine, tags: &[Tag]) -> Plan {
    let mut plan = Plan::default();
    let sid = &machine.system_id;
    let has = |name: &str| machine.tag_names.iter().any(|tag| tag == name);
    let exists = |name: &str| tags.iter().find(|tag| tag.name == name);
    let apply = |plan: &mut Plan, name: &str, fresh: bool| {
        if fresh || !has(name) {
            plan.push(Call::post(format!("tags/{name}/"), Some("update_nodes")).field("add", sid.as_str()));
        }
    };
    match kernel_command_line(&node.config.kernel_params) {
        Err(error) => plan.problem(format!("Node {}: kernel parameters: {error}", node.name())),
        Ok(line) if line.trim().is_empty() => {}
        Ok(line) => {
            let name = format!("{}_kp", node.name());
            let current = exists(&name);
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
        let fresh = exists(tag).is_none();
        if fresh {
            plan.push(Call::post("tags/", None).field("name", tag.as_str()).exists_ok());
        }
        apply(&mut plan, tag, fresh);
    }
    plan
}
