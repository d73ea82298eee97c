//! `validate_design` (compat §3.4.2, the intended behaviour): copy the
//! validation messages to the task and succeed exactly when the design is
//! valid.

use super::ActionResultOf;
use crate::orchestrator::Orchestrator;
use crate::task::{StatusMessage, Task};
use crate::validate::ReportMessage;

pub(super) async fn run(orchestrator: &Orchestrator, task: &Task) -> ActionResultOf {
    let loaded = orchestrator.load_design(task).await?;
    for message in &loaded.report.messages {
        let status = match message {
            ReportMessage::Finding(finding) => {
                let context = finding.documents.first().map(|doc| doc.name.clone()).unwrap_or_else(|| "NA".into());
                StatusMessage::new(finding.message.clone(), finding.is_error(), if context == "NA" { "NA" } else { "document" }, context)
            }
            ReportMessage::Plain { message, error, .. } => StatusMessage::task_wide(message.clone(), *error),
        };
        orchestrator.message(task.id, status).await?;
    }
    if loaded.report.is_success() {
        orchestrator.succeed(task.id).await?;
    } else {
        orchestrator.fail(task.id).await?;
    }
    Ok(())
}
