//! `noop` (compat §3.4.1): wait five seconds, honour a termination request,
//! list the nodes the filter selects as successes when the design is valid.

use std::time::Duration;

use super::ActionResultOf;
use crate::orchestrator::Orchestrator;
use crate::task::{StatusMessage, Task, TaskStatus};

pub(super) async fn run(orchestrator: &Orchestrator, task: &Task) -> ActionResultOf {
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut current = orchestrator.deps.store.task_get(task.id).await?;
    if current.terminate {
        current.status = TaskStatus::Terminated;
        current.result.failure(None);
        orchestrator.save(&current).await?;
        orchestrator.message(task.id, StatusMessage::task_wide("Action terminated.", false)).await?;
        return Ok(());
    }
    if task.design_ref.is_some()
        && let Ok(site) = orchestrator.valid_site(task).await
    {
        for node in orchestrator.target_nodes(&site, task)? {
            current.result.success(Some(&node));
        }
    }
    current.result.success(None);
    orchestrator.save(&current).await?;
    orchestrator.message(task.id, StatusMessage::task_wide("Noop action.", false)).await?;
    Ok(())
}
