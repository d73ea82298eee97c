//! `destroy_nodes` (compat §3.4.9) as data: one stage, the release (erasing
//! disks) of each selected node, run again at once while it fails.

use super::{ActionResultOf, NodeAction, NodeStage};
use crate::drivers::NodeDriver;
use crate::orchestrator::Orchestrator;
use crate::orchestrator::steps;
use crate::task::{Action, Task};

pub(super) const ACTION: NodeAction<dyn NodeDriver> = NodeAction {
    nothing_to_do: "No nodes in scope, no work to do.",
    stages: &[NodeStage {
        action: Action::DestroyNode,
        deadline: |config| config.destroy_node,
        again: true,
        result: true,
        step: |context, site, driver| steps::destroy(context.clone(), site, driver),
    }],
    bootaction_report: false,
};

pub(super) async fn run(orchestrator: &Orchestrator, task: &Task) -> ActionResultOf {
    match orchestrator.require_node_driver(task).await? {
        Some(driver) => orchestrator.run_node_action(task, &ACTION, driver).await,
        None => Ok(()),
    }
}
