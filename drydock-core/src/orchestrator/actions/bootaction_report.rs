//! `bootaction_report` (compat §3.4.8), the last stage of `deploy_nodes`:
//! wait until the deployed nodes' boot actions of their current deployment
//! are no longer incomplete (or `bootaction_final_status` passes), then
//! report each and judge each node.

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;

use crate::orchestrator::wait::{Verdict, WaitError, wait_until};
use crate::orchestrator::{Orchestrator, OrchestratorError};
use crate::store::StoreError;
use crate::task::records::BootActionStatus;
use crate::task::{Action, ActionResult, StatusMessage, Task, TaskStatus, node_names_filter};

type Rows = HashMap<String, Vec<BootActionStatus>>;

pub(super) async fn run(orchestrator: &Orchestrator, parent: &Task, nodes: &[String]) -> Result<(), OrchestratorError> {
    let mut report = orchestrator.subtask(parent, Action::BootactionReport, Some(node_names_filter(nodes)), true).await?;
    report.status = TaskStatus::Running;
    let report = orchestrator.save(&report).await?;
    let config = &orchestrator.config;
    let waited = wait_until(
        || current_rows(orchestrator, nodes),
        |rows: &Rows| {
            if rows.values().flatten().any(|status| status.action_status == ActionResult::Incomplete) {
                Verdict::Pending
            } else {
                Verdict::Done
            }
        },
        config.poll_interval,
        config.bootaction_final_status,
        &CancellationToken::new(),
    )
    .await;
    let rows = match waited {
        Ok(rows) => rows,
        // Out of time: judge what was reported (incomplete ones time out).
        Err(WaitError::Timeout { last: Some(rows), .. } | WaitError::Failed { last: rows, .. }) => rows,
        Err(WaitError::Timeout { last: None, .. } | WaitError::Cancelled { .. }) => current_rows(orchestrator, nodes).await?,
        Err(WaitError::Observe(error)) => return Err(error.into()),
    };
    let mut current = orchestrator.deps.store.task_get(report.id).await?;
    for node in nodes {
        let mut ok = true;
        for status in rows.get(node).into_iter().flatten() {
            let (text, error) = match status.action_status {
                ActionResult::Success => (format!("Boot action {} completed with status success", status.action_name), false),
                ActionResult::Failure => (format!("Boot action {} completed with status failure", status.action_name), true),
                ActionResult::Incomplete => (format!("Boot action {} timed out.", status.action_name), true),
                _ => continue,
            };
            ok &= !error;
            orchestrator.message(report.id, StatusMessage::node(node, text, error)).await?;
        }
        if ok {
            current.result.success(Some(node));
        } else {
            current.result.failure(Some(node));
        }
    }
    current.status = TaskStatus::Complete;
    orchestrator.save(&current).await?;
    Ok(())
}

/// Each node's boot-action records of its current deployment.
async fn current_rows(orchestrator: &Orchestrator, nodes: &[String]) -> Result<Rows, StoreError> {
    let store = &orchestrator.deps.store;
    let mut rows = HashMap::with_capacity(nodes.len());
    for node in nodes {
        let current_task = store.bootaction_context(node).await?.map(|context| context.task_id);
        let statuses: Vec<_> =
            store.bootaction_status_for_node(node).await?.into_iter().filter(|status| Some(status.task_id) == current_task).collect();
        rows.insert(node.clone(), statuses);
    }
    Ok(rows)
}
