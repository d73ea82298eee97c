//! The orchestrator's main loop (compat: api spec §3.1, §4.3, with the
//! scheduling of docs/scheduling.md): claim the store's leader lease; as
//! leader, resume the tasks a dead leader left `running`, then run queued
//! top-level tasks concurrently — up to `max_concurrent_tasks`, never two
//! whose nodes overlap, in creation order, by the pure rules of
//! [`scheduler`](super::scheduler) — heartbeat every poll interval, and give
//! the lease up on shutdown.
//!
//! The loop wakes when a task is submitted or a termination requested
//! through this process's `Orchestrator`, when the store reports that one
//! was elsewhere ([`StateStore::task_events`]: PostgreSQL `LISTEN`), when one
//! of its tasks ends, when a queued task's nodes become known (its design is
//! loaded off the loop, a few at a time), and every poll interval (the
//! fallback: a store without events, a lost notification). Losing the
//! lease, or shutting down, aborts the tasks running here and leaves them
//! `running` in the store; a new leader drives them again, which is safe
//! because every step observes before it acts. On a store only this process can open ([`StateStore::exclusive`]:
//! redb by its file lock, memory) a lease left by an instance not alive in
//! this process is taken over at once instead of after the grace period.
//!
//! [`StateStore::exclusive`]: crate::store::StateStore::exclusive
//! [`StateStore::task_events`]: crate::store::StateStore::task_events

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::engine::Orchestrator;
use super::scheduler::{self, Claim, Scope};
use crate::ids::TaskId;
use crate::store::{ParentFilter, StoreError, StoreErrorKind, TaskQuery, UpdateGuard};
use crate::task::{StatusMessage, Task, TaskStatus};

/// Queued tasks considered per scheduling pass, oldest first; later ones
/// wait for a later pass.
const QUEUE_WINDOW: usize = 1_000;

/// Queued tasks whose designs are loaded at once to learn their nodes.
const RESOLVING_AT_ONCE: usize = 4;

/// The instances whose leader loop is running in this process: on an
/// exclusive store, a lease held by any other instance is a dead process's.
static ALIVE: Mutex<BTreeSet<uuid::Uuid>> = Mutex::new(BTreeSet::new());

fn alive() -> std::sync::MutexGuard<'static, BTreeSet<uuid::Uuid>> {
    ALIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Registers an instance in [`ALIVE`] while its loop runs (also when the
/// loop's future is dropped).
struct Alive(uuid::Uuid);

impl Alive {
    fn new(instance: uuid::Uuid) -> Self {
        alive().insert(instance);
        Alive(instance)
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        alive().remove(&self.0);
    }
}

/// What the leader is doing: the tasks it runs with their claims, and what
/// it knows of the queue.
#[derive(Default)]
struct Schedule {
    /// Running top-level tasks and what they hold.
    running: HashMap<TaskId, Claim>,
    /// Their executions.
    executions: JoinSet<Result<Task, StoreError>>,
    /// Which task each execution runs.
    execution_of: HashMap<tokio::task::Id, TaskId>,
    /// The known claims of queued tasks.
    claims: HashMap<TaskId, Claim>,
    /// Claims being worked out (designs loading).
    resolving: JoinSet<Claim>,
    /// Which task each resolution is for.
    resolution_of: HashMap<tokio::task::Id, TaskId>,
}

impl Orchestrator {
    /// Run until `shutdown` fires.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), StoreError> {
        let _alive = Alive::new(self.instance);
        let store = self.deps.store.clone();
        loop {
            if shutdown.is_cancelled() {
                return store.leader_release(self.instance).await;
            }
            let leader = match self.claim_lease().await {
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

    /// Claim the lease: after the grace period of a silent holder, or at
    /// once on an exclusive store when the holder is not alive here.
    async fn claim_lease(&self) -> Result<bool, StoreError> {
        let store = &self.deps.store;
        let mut grace = self.config.leader_grace_period;
        if store.exclusive()
            && let Some(lease) = store.leader_current().await?
            && lease.holder != self.instance
            && !alive().contains(&lease.holder)
        {
            tracing::info!(
                instance = %self.instance,
                previous = %lease.holder,
                "taking over the lease of a previous process at once: no other process can use this store"
            );
            grace = Duration::ZERO;
        }
        store.leader_claim(self.instance, grace).await
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
                store.task_update(&task, UpdateGuard::Status(TaskStatus::Running)).await?;
                self.message(
                    task.id,
                    StatusMessage::task_wide("Orchestrator instance changed during execution; resuming the task.", false),
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
    async fn close_stranded_steps(&self, task: &Task) -> Result<(), StoreError> {
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
                StatusMessage::new("Orchestrator instance lost during execution; the step runs again.", true, "task", child.id.to_string()),
            )
            .await?;
            child.result.failure(None);
            child.status = TaskStatus::Complete;
            store.task_update(&child, UpdateGuard::Unconditional).await?;
        }
        Ok(())
    }

    /// Lead until shutdown or until the lease is lost; the tasks still
    /// running here then are aborted (left `running` for the next leader).
    async fn lead(&self, shutdown: &CancellationToken) -> Result<(), StoreError> {
        let mut schedule = Schedule::default();
        let poll = self.config.poll_interval.max(Duration::from_millis(1));
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + poll, poll);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut events = self.deps.store.task_events();
        let outcome = loop {
            if shutdown.is_cancelled() {
                break Ok(());
            }
            if let Err(error) = self.schedule(&mut schedule).await {
                if !error.is_transient() {
                    break Err(error);
                }
                tracing::warn!(error = %error, "scheduling pass failed; trying again at the next poll");
            }
            tokio::select! {
                () = shutdown.cancelled() => break Ok(()),
                () = self.wake.notified() => {}
                Some(()) = store_event(&mut events) => {}
                Some(joined) = schedule.executions.join_next_with_id() => self.execution_ended(&mut schedule, joined).await,
                Some(joined) = schedule.resolving.join_next_with_id() => {
                    let (resolution, claim) = match joined {
                        Ok((resolution, claim)) => (resolution, claim),
                        // A resolution that died: let the task start and fail on its own.
                        Err(error) => (error.id(), Claim::Nothing),
                    };
                    if let Some(id) = schedule.resolution_of.remove(&resolution) {
                        schedule.claims.insert(id, claim);
                    }
                }
                _ = heartbeat.tick() => match self.deps.store.leader_renew(self.instance).await {
                    Ok(true) => {}
                    // Another instance owns the lease now; it will drive the
                    // running tasks again. Stop ours so two never work at once.
                    Ok(false) => break Ok(()),
                    Err(error) if error.is_transient() => tracing::warn!(error = %error, "leader heartbeat failed"),
                    Err(error) => break Err(error),
                },
            }
        };
        self.stop_all(&mut schedule).await;
        outcome
    }

    /// One scheduling pass: end queued tasks flagged for termination, learn
    /// the claims of the others, and start those the rules admit.
    async fn schedule(&self, schedule: &mut Schedule) -> Result<(), StoreError> {
        let mut waiting = Vec::new();
        for task in self.queued().await? {
            if schedule.running.contains_key(&task.id) {
                continue;
            }
            if task.terminate {
                self.terminate_queued(&task).await?;
                continue;
            }
            waiting.push(task);
        }
        let queued: HashSet<TaskId> = waiting.iter().map(|task| task.id).collect();
        schedule.claims.retain(|id, _| queued.contains(id));
        let mut resolving: HashSet<TaskId> = schedule.resolution_of.values().copied().collect();
        for task in &waiting {
            if schedule.claims.contains_key(&task.id) || resolving.contains(&task.id) {
                continue;
            }
            match scheduler::scope(task.action) {
                Scope::ReadOnly => {
                    schedule.claims.insert(task.id, Claim::Nothing);
                }
                Scope::Site => {
                    schedule.claims.insert(task.id, Claim::Site);
                }
                Scope::Nodes if resolving.len() < RESOLVING_AT_ONCE => {
                    let orchestrator = self.clone();
                    let task = task.clone();
                    let id = task.id;
                    let handle = schedule.resolving.spawn(async move { orchestrator.claim_of(&task).await });
                    schedule.resolution_of.insert(handle.id(), id);
                    resolving.insert(id);
                }
                Scope::Nodes => {}
            }
        }
        let admitted = {
            let unknown = Claim::Unknown;
            let running: Vec<&Claim> = schedule.running.values().collect();
            let queue: Vec<(usize, &Claim)> =
                waiting.iter().enumerate().map(|(index, task)| (index, schedule.claims.get(&task.id).unwrap_or(&unknown))).collect();
            scheduler::admit(&running, &queue, self.config.max_concurrent_tasks)
        };
        for index in admitted {
            let Some(task) = waiting.get(index) else { continue };
            self.start(schedule, task).await?;
        }
        Ok(())
    }

    /// The queued top-level tasks the orchestrator runs, oldest first (at
    /// most [`QUEUE_WINDOW`]).
    async fn queued(&self) -> Result<Vec<Task>, StoreError> {
        let mut query = TaskQuery { status: Some(TaskStatus::Queued), parent: ParentFilter::Root, limit: 200, ..TaskQuery::default() };
        let mut tasks = Vec::new();
        loop {
            let page = self.deps.store.task_list(&query).await?;
            tasks.extend(page.tasks.into_iter().filter(|task| task.action.is_orchestrated()));
            match page.next {
                Some(cursor) if tasks.len() < QUEUE_WINDOW => query.after = Some(cursor),
                _ => return Ok(tasks),
            }
        }
    }

    /// What `task` will hold while it runs. A node action's design is loaded
    /// and its filter applied; when that fails the task holds nothing, starts,
    /// and fails with its own message.
    pub(super) async fn claim_of(&self, task: &Task) -> Claim {
        match scheduler::scope(task.action) {
            Scope::ReadOnly => Claim::Nothing,
            Scope::Site => Claim::Site,
            Scope::Nodes => {
                let site = match self.load_design_with(task, false).await {
                    Ok(loaded) => loaded.site,
                    Err(_) => None,
                };
                let Some(site) = site else { return Claim::Nothing };
                match self.target_nodes(&site, task) {
                    Ok(nodes) => Claim::for_selection(task.action, nodes, site.nodes().len()),
                    Err(_) => Claim::Nothing,
                }
            }
        }
    }

    /// Mark a queued task `running` (unless it changed since it was read,
    /// then look again) and execute it.
    async fn start(&self, schedule: &mut Schedule, task: &Task) -> Result<(), StoreError> {
        let mut running = task.clone();
        running.status = TaskStatus::Running;
        match self.deps.store.task_update(&running, UpdateGuard::Generation(task.generation)).await {
            Ok(_) => {}
            Err(error) if matches!(error.kind(), StoreErrorKind::Conflict | StoreErrorKind::NotFound) => {
                // A termination request, a purge or another writer: the next
                // pass sees what it is now.
                self.wake.notify_one();
                return Ok(());
            }
            Err(error) => return Err(error),
        }
        let claim = schedule.claims.remove(&task.id).unwrap_or(Claim::Nothing);
        let orchestrator = self.clone();
        let id = task.id;
        let handle = schedule.executions.spawn(async move { orchestrator.execute(id).await });
        schedule.execution_of.insert(handle.id(), id);
        schedule.running.insert(id, claim);
        Ok(())
    }

    /// A queued task flagged for termination ends `terminated` without
    /// running.
    async fn terminate_queued(&self, task: &Task) -> Result<(), StoreError> {
        let mut terminated = task.clone();
        terminated.status = TaskStatus::Terminated;
        match self.deps.store.task_update(&terminated, UpdateGuard::Generation(task.generation)).await {
            Ok(_) => Ok(()),
            Err(error) if matches!(error.kind(), StoreErrorKind::Conflict | StoreErrorKind::NotFound) => {
                self.wake.notify_one();
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// Forget an execution that ended; one that panicked (a defect) ends its
    /// task with a failure rather than leaving it `running`.
    async fn execution_ended(
        &self,
        schedule: &mut Schedule,
        joined: Result<(tokio::task::Id, Result<Task, StoreError>), tokio::task::JoinError>,
    ) {
        let (execution, outcome) = match joined {
            Ok((execution, outcome)) => (execution, Ok(outcome)),
            Err(error) => (error.id(), Err(error)),
        };
        let Some(id) = schedule.execution_of.remove(&execution) else { return };
        schedule.running.remove(&id);
        match outcome {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!(task_id = %id, error = %error, "task execution hit a store error"),
            Err(error) => {
                tracing::error!(task_id = %id, error = %error, "task execution panicked");
                self.untrack(id);
                if let Err(error) = self.end_after_panic(id).await {
                    tracing::error!(task_id = %id, error = %error, "could not record the end of a task whose execution panicked");
                }
            }
        }
    }

    async fn end_after_panic(&self, id: TaskId) -> Result<(), StoreError> {
        let mut task = self.deps.store.task_get(id).await?;
        if task.status.is_finished() {
            return Ok(());
        }
        self.message(id, StatusMessage::new("Task execution failed: internal error (a defect).", true, "task", id.to_string())).await?;
        task.result.failure(None);
        task.status = TaskStatus::Complete;
        self.save(&task).await.map(drop)
    }

    /// Abort everything running here (the tasks stay `running` in the store
    /// for the next leader) and every design still loading for a claim.
    async fn stop_all(&self, schedule: &mut Schedule) {
        schedule.executions.shutdown().await;
        schedule.resolving.shutdown().await;
        for (_, id) in schedule.execution_of.drain() {
            self.untrack(id);
        }
        schedule.running.clear();
        schedule.resolution_of.clear();
        schedule.claims.clear();
    }
}

/// The next change of the store's events; never, once they are gone (or
/// for a store without them).
async fn store_event(events: &mut Option<tokio::sync::watch::Receiver<u64>>) -> Option<()> {
    let Some(receiver) = events else { return std::future::pending().await };
    match receiver.changed().await {
        Ok(()) => Some(()),
        Err(_) => {
            *events = None;
            None
        }
    }
}
