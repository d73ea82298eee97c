//! `verify_site` (compat §3.4.3): one site step, the node provisioner's
//! check.

use super::ActionResultOf;
use crate::orchestrator::Orchestrator;
use crate::task::{Action, Task};

pub(super) async fn run(orchestrator: &Orchestrator, task: &Task) -> ActionResultOf {
    let Some(driver) = orchestrator.require_node_driver(task).await? else { return Ok(()) };
    orchestrator.site_step(task, Action::ValidateNodeServices, Box::pin(async move { driver.check().await.map(|()| Vec::new()) })).await?;
    orchestrator.aggregate_status(task.id, false, None).await?;
    Ok(())
}
