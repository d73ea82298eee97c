//! `deploy_nodes` (compat §3.4.7) as data: networking, storage and
//! platform applied in turn, then the deployment (run again at once while
//! it fails, up to three more times), each over the nodes the stage before
//! left ready, then the wait for the deployed nodes' boot-action reports.
//! The result lists come from the deployment when it ran (else from
//! networking, as the original's), or from the boot-action report.
//!
//! The storage stage is registered as a sub-task, unlike the original's
//! (compat §3.4.7 quirk): otherwise a storage failure leaves the task
//! `success` with the node missing from both lists (docs/compat.md).

use super::{ActionResultOf, NodeAction, NodeStage};
use crate::drivers::NodeDriver;
use crate::orchestrator::Orchestrator;
use crate::orchestrator::steps::{self, ApplyKind};
use crate::task::{Action, Task};

pub(super) const ACTION: NodeAction<dyn NodeDriver> = NodeAction {
    nothing_to_do: "No nodes in scope, no work to do.",
    stages: &[
        NodeStage {
            action: Action::ApplyNodeNetworking,
            deadline: |config| config.drydock_timeout,
            again: false,
            result: false,
            step: |_, site, driver| steps::apply(site, driver, ApplyKind::Networking),
        },
        NodeStage {
            action: Action::ApplyNodeStorage,
            deadline: |config| config.drydock_timeout,
            again: false,
            result: false,
            step: |_, site, driver| steps::apply(site, driver, ApplyKind::Storage),
        },
        NodeStage {
            action: Action::ApplyNodePlatform,
            deadline: |config| config.drydock_timeout,
            again: false,
            result: false,
            step: |_, site, driver| steps::apply(site, driver, ApplyKind::Platform),
        },
        NodeStage {
            action: Action::DeployNode,
            deadline: |config| config.deploy_node,
            again: true,
            result: true,
            step: |context, site, driver| steps::deploy(context.clone(), site, driver),
        },
    ],
    bootaction_report: true,
};

pub(super) async fn run(orchestrator: &Orchestrator, task: &Task) -> ActionResultOf {
    match orchestrator.require_node_driver(task).await? {
        Some(driver) => orchestrator.run_node_action(task, &ACTION, driver).await,
        None => Ok(()),
    }
}
