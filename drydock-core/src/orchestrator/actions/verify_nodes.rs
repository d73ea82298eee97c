//! `verify_nodes` (compat §3.4.5): interrogate each selected node's BMC,
//! grouped by OOB type. The design must compile; findings do not stop it.

use super::ActionResultOf;
use crate::orchestrator::{Orchestrator, OrchestratorError};
use crate::task::{Action, Task};

pub(super) async fn run(orchestrator: &Orchestrator, task: &Task) -> ActionResultOf {
    let loaded = orchestrator.load_design(task).await?;
    let Some(site) = loaded.site.clone() else {
        return Err(OrchestratorError::InvalidDesign {
            design_ref: task.design_ref.as_ref().map(|d| d.to_string()).unwrap_or_default(),
            errors: loaded.report.error_count,
        });
    };
    let nodes = orchestrator.target_nodes(&site, task)?;
    if nodes.is_empty() {
        return orchestrator.nothing_to_do(task, "No nodes in scope, no work to do.").await;
    }
    orchestrator.oob_step(task, &site, Action::InterrogateOob, &nodes).await?;
    // compat §3.4.5: only the status is aggregated, not the lists.
    orchestrator.aggregate_status(task.id, false, None).await?;
    Ok(())
}
