//! `relabel_nodes` (compat §3.4.10) as data: one stage, each selected
//! node's Kubernetes labels set from the design, through the Kubernetes
//! driver (without one the task ends as the original's does).

use std::sync::Arc;

use super::{ActionResultOf, NodeAction, NodeStage};
use crate::drivers::KubernetesDriver;
use crate::orchestrator::steps;
use crate::orchestrator::{Orchestrator, OrchestratorError};
use crate::task::{Action, StatusMessage, Task};

pub(super) const ACTION: NodeAction<dyn KubernetesDriver> = NodeAction {
    nothing_to_do: "No nodes in scope, nothing to relabel.",
    stages: &[NodeStage {
        action: Action::RelabelNode,
        deadline: |config| config.relabel_node,
        again: false,
        result: true,
        step: |_, site, driver| steps::relabel(site, driver),
    }],
    bootaction_report: false,
};

pub(super) async fn run(orchestrator: &Orchestrator, task: &Task) -> ActionResultOf {
    match require_driver(orchestrator, task).await? {
        Some(driver) => orchestrator.run_node_action(task, &ACTION, driver).await,
        None => Ok(()),
    }
}

/// The Kubernetes driver, or the original's "no driver" ending.
async fn require_driver(orchestrator: &Orchestrator, task: &Task) -> Result<Option<Arc<dyn KubernetesDriver>>, OrchestratorError> {
    if let Some(driver) = orchestrator.deps.kubernetes.clone() {
        return Ok(Some(driver));
    }
    orchestrator
        .message(task.id, StatusMessage::new("No kubernetes driver is enabled, ending task.", true, "task", task.id.to_string()))
        .await?;
    orchestrator.end_unconfigured(task.id, "No KubernetesDriver enabled.").await?;
    Ok(None)
}
