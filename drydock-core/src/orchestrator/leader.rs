//! The orchestrator's main loop (compat: api spec §3.1, §4.3): claim the
//! store's leader lease; as leader, run the oldest queued task (one at a
//! time), heartbeat every poll interval, and give the lease up on shutdown.
//! Losing the lease cancels nothing already written but stops picking up
//! work; a new leader drives tasks left `running` again, which is safe
//! because every step observes before it acts.

use tokio_util::sync::CancellationToken;

use super::engine::Orchestrator;
use crate::store::{ParentFilter, StoreError, TaskQuery};
use crate::task::{Action, TaskStatus};

impl Orchestrator {
    /// Run until `shutdown` fires.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), StoreError> {
        let store = self.deps.store.clone();
        loop {
            if shutdown.is_cancelled() {
                return store.leader_release(self.instance).await;
            }
            let leader = match store.leader_claim(self.instance, self.config.leader_grace_period).await {
                Ok(leader) => leader,
                Err(error) if error.is_transient() => false,
                Err(error) => return Err(error),
            };
            if !leader {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = tokio::time::sleep(self.config.leadership_claim_interval) => {}
                }
                continue;
            }
            tracing::info!(instance = %self.instance, "became the orchestrator leader");
            self.recover_running().await?;
            let outcome = self.lead(&shutdown).await;
            if shutdown.is_cancelled() {
                return store.leader_release(self.instance).await;
            }
            if let Err(error) = outcome
                && !error.is_transient()
            {
                return Err(error);
            }
            tracing::warn!(instance = %self.instance, "lost the orchestrator lease");
        }
    }

    /// Drive again the top-level tasks a previous leader left running, as a
    /// new retry round so their earlier failures are not double-counted.
    async fn recover_running(&self) -> Result<(), StoreError> {
        let store = &self.deps.store;
        let mut query = TaskQuery { status: Some(TaskStatus::Running), parent: ParentFilter::Root, limit: 100, ..TaskQuery::default() };
        loop {
            let page = store.task_list(&query).await?;
            for mut task in page.tasks {
                tracing::warn!(task_id = %task.id, "resuming a task left running by a previous leader");
                self.close_stranded_steps(&task).await?;
                task.retry += 1;
                task.status = TaskStatus::Queued;
                store.task_update(&task, crate::store::UpdateGuard::Status(TaskStatus::Running)).await?;
                self.message(
                    task.id,
                    crate::task::StatusMessage::task_wide("Orchestrator instance changed during execution; resuming the task.", false),
                )
                .await?;
            }
            match page.next {
                Some(cursor) => query.after = Some(cursor),
                None => return Ok(()),
            }
        }
    }

    /// Close the unfinished sub-tasks a dead leader left under `task`: they
    /// fail with a message saying why, and (being of the old retry round)
    /// do not count against the resumed run.
    async fn close_stranded_steps(&self, task: &crate::task::Task) -> Result<(), StoreError> {
        let store = &self.deps.store;
        let mut pending = task.subtasks.clone();
        while let Some(id) = pending.pop() {
            let Ok(mut child) = store.task_get(id).await else { continue };
            pending.extend(child.subtasks.iter().copied());
            if child.status.is_finished() {
                continue;
            }
            self.message(
                child.id,
                crate::task::StatusMessage::new(
                    "Orchestrator instance lost during execution; the step runs again.",
                    true,
                    "task",
                    child.id.to_string(),
                ),
            )
            .await?;
            child.result.failure(None);
            child.status = TaskStatus::Complete;
            store.task_update(&child, crate::store::UpdateGuard::Unconditional).await?;
        }
        Ok(())
    }

    /// Lead until shutdown or until the lease is lost.
    async fn lead(&self, shutdown: &CancellationToken) -> Result<(), StoreError> {
        let store = self.deps.store.clone();
        let mut running: Option<tokio::task::JoinHandle<Result<crate::task::Task, StoreError>>> = None;
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            if running.as_ref().is_some_and(|handle| handle.is_finished())
                && let Some(handle) = running.take()
            {
                match handle.await {
                    Ok(Err(error)) => tracing::error!(error = %error, "task execution hit a store error"),
                    Err(error) => tracing::error!(error = %error, "task execution panicked"),
                    Ok(Ok(_)) => {}
                }
            }
            if running.is_none()
                && let Some(mut task) = store.task_claim_next(Action::ORCHESTRATED).await?
            {
                if task.terminate {
                    task.status = TaskStatus::Terminated;
                    store.task_update(&task, crate::store::UpdateGuard::Unconditional).await?;
                    continue;
                }
                let orchestrator = self.clone();
                running = Some(tokio::spawn(async move { orchestrator.execute(task.id).await }));
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
            if !store.leader_renew(self.instance).await? {
                // Another instance owns the lease now; it will drive the
                // running task again. Stop ours so two never work at once.
                if let Some(handle) = running.take() {
                    handle.abort();
                }
                return Ok(());
            }
        }
    }
}
