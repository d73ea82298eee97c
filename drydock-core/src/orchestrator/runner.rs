//! The orchestrator's main loop (docs/scheduling.md): every process runs
//! it, and the processes sharing a store share its tasks. A pass reads the
//! queued top-level tasks, learns what each will hold (its [`Claim`]: a
//! node action's design is loaded off the loop, a few at a time), and asks
//! the store for an atomic admission ([`StateStore::task_admit`]) in which
//! it starts those the pure rules of [`scheduler`] admit
//! against the claims of every running task — its own and other
//! processes' — and takes over running tasks whose lease lapsed. It runs at
//! most `max_concurrent_tasks` top-level tasks itself, renews their leases
//! while they run, and lets them go when they end or when it stops, so
//! another process takes them over at once.
//!
//! A pass runs when a task is submitted or a termination requested through
//! this `Orchestrator`, when the store reports a change elsewhere
//! ([`StateStore::task_events`]: PostgreSQL `LISTEN`; a task queued, a
//! lease let go), when one of its tasks ends, when a queued task's claim
//! becomes known, and every poll interval (the fallback: a store without
//! events, a lost notification, a lease that lapsed silently). A task taken
//! over is resumed as a new retry round: every step observes before it
//! acts, so work done before is not done again. On a store only this
//! process can open ([`StateStore::exclusive`]: redb by its file lock,
//! memory) a lease whose holder is not alive in this process has lapsed
//! (a restart resumes at once); elsewhere a lease lapses when its holder
//! has not renewed it for the task lease (`leader_grace_period`).
//!
//! [`StateStore::exclusive`]: crate::store::StateStore::exclusive
//! [`StateStore::task_events`]: crate::store::StateStore::task_events
//! [`StateStore::task_admit`]: crate::store::StateStore::task_admit

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::{AbortHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::engine::Orchestrator;
use super::scheduler::{self, Claim, Scope};
use crate::ids::TaskId;
use crate::store::{Admission, Decide, ParentFilter, RunningTask, StartTask, StoreError, StoreErrorKind, TakeOver, TaskQuery, UpdateGuard};
use crate::task::{StatusMessage, Task, TaskStatus};

/// Queued tasks considered per pass, oldest first; later ones wait for a
/// later pass.
const QUEUE_WINDOW: usize = 1_000;

/// Queued tasks whose designs are loaded at once to learn their nodes.
const RESOLVING_AT_ONCE: usize = 4;

/// The instances whose loop is running in this process: on an exclusive
/// store, a lease held by any other instance is a dead process's.
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

/// What this process is doing: the tasks it runs, and what it knows of the
/// queue.
#[derive(Default)]
struct Schedule {
    /// Its running top-level tasks, to abort one whose lease was lost.
    running: HashMap<TaskId, AbortHandle>,
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

/// What a pass knows when it asks the store to admit: everything the
/// decision needs, owned, so it can run inside the store's transaction.
struct Proposal {
    me: uuid::Uuid,
    /// Where what the admission saw of every replica's leases is recorded.
    metrics: crate::metrics::Metrics,
    /// Leases held by these instances are alive whatever their expiry says
    /// (an exclusive store: the instances running in this process), or
    /// `None` to go by expiry alone.
    alive: Option<HashSet<uuid::Uuid>>,
    /// The tasks this process runs.
    mine: HashSet<TaskId>,
    /// Slots free here.
    free: usize,
    /// The queued tasks, oldest first, with their generation and claim.
    queue: Vec<(TaskId, u64, Claim)>,
}

impl Proposal {
    fn lapsed(&self, now: DateTime<Utc>, task: &RunningTask) -> bool {
        match (task.lease.holder, &self.alive) {
            (Some(holder), _) if holder == self.me => !self.mine.contains(&task.id),
            (Some(holder), Some(alive)) => !alive.contains(&holder),
            (None, Some(_)) => true,
            (_, None) => task.lease.expires <= now,
        }
    }

    /// Take over lapsed tasks while slots are free (oldest first: they
    /// already hold their claims), then admit queued tasks into the slots
    /// left against every running task's claim.
    fn decide(&self, now: DateTime<Utc>, running: &[RunningTask]) -> Admission {
        let lapsed = running.iter().filter(|task| self.lapsed(now, task)).count();
        let holders: HashSet<uuid::Uuid> = running.iter().filter_map(|task| task.lease.holder).collect();
        self.metrics.leases_seen(running.len(), lapsed, holders.len());
        let mut free = self.free;
        let mut take_over = Vec::new();
        let mut held = Vec::with_capacity(running.len());
        for task in running {
            let claim = Claim::decode(task.action, &task.lease.claim);
            if free > 0 && self.lapsed(now, task) {
                take_over.push(TakeOver { id: task.id, seen: task.lease.clone(), claim: claim.encode() });
                free -= 1;
            }
            held.push(claim);
        }
        let held: Vec<&Claim> = held.iter().collect();
        let queue: Vec<(usize, &Claim)> = self.queue.iter().enumerate().map(|(index, (_, _, claim))| (index, claim)).collect();
        let start = scheduler::admit_into(&held, &queue, free)
            .into_iter()
            .filter_map(|index| self.queue.get(index))
            .map(|(id, generation, claim)| StartTask { id: *id, generation: *generation, claim: claim.encode() })
            .collect();
        Admission { start, take_over }
    }
}

impl Orchestrator {
    /// Run until `shutdown` fires; the tasks still running here then stop
    /// and their leases are let go, so another process resumes them.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), StoreError> {
        let _alive = Alive::new(self.instance);
        let mut schedule = Schedule::default();
        let poll = self.config.poll_interval.max(Duration::from_millis(1));
        let renewal = poll.min(self.config.leader_grace_period / 3).max(Duration::from_millis(1));
        let start = tokio::time::Instant::now();
        let mut fallback = tokio::time::interval_at(start + poll, poll);
        fallback.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut renew = tokio::time::interval_at(start + renewal, renewal);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut events = self.deps.store.task_events();
        tracing::info!(instance = %self.instance, "the orchestrator is running tasks");
        self.metrics.orchestrator_running(true, self.config.max_concurrent_tasks.max(1));
        let outcome = loop {
            if shutdown.is_cancelled() {
                break Ok(());
            }
            let pass = self.pass(&mut schedule).await;
            self.metrics.tasks_running(schedule.running.len());
            if let Err(error) = pass {
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
                _ = fallback.tick() => {}
                _ = renew.tick() => {
                    if let Err(error) = self.renew(&mut schedule).await {
                        if !error.is_transient() {
                            break Err(error);
                        }
                        tracing::warn!(error = %error, "renewing task leases failed; trying again");
                    }
                }
            }
        };
        self.stop_all(&mut schedule).await;
        self.metrics.tasks_running(0);
        self.metrics.orchestrator_running(false, self.config.max_concurrent_tasks.max(1));
        outcome
    }

    /// One pass: end queued tasks flagged for termination, stop running ones
    /// flagged elsewhere, learn the claims of queued tasks, and let the store
    /// admit what the rules allow.
    async fn pass(&self, schedule: &mut Schedule) -> Result<(), StoreError> {
        let mut waiting = Vec::new();
        for task in self.queued().await? {
            if task.terminate {
                self.terminate_queued(&task).await?;
            } else {
                waiting.push(task);
            }
        }
        self.notice_terminations(schedule).await?;
        self.metrics.scheduling_pass(waiting.len());
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
        let proposal = Proposal {
            me: self.instance,
            metrics: self.metrics.clone(),
            alive: self.deps.store.exclusive().then(|| alive().iter().copied().collect()),
            mine: schedule.running.keys().copied().collect(),
            free: self.config.max_concurrent_tasks.max(1).saturating_sub(schedule.running.len()),
            queue: waiting
                .iter()
                .map(|task| (task.id, task.generation, schedule.claims.get(&task.id).cloned().unwrap_or(Claim::Unknown)))
                .collect(),
        };
        if proposal.free == 0 {
            return Ok(());
        }
        let decide: Decide = Arc::new(move |now, running| proposal.decide(now, running));
        let admitted = self.deps.store.task_admit(self.instance, self.config.leader_grace_period, decide).await?;
        self.metrics.admitted(admitted.started.len(), admitted.taken_over.len());
        for task in admitted.taken_over {
            tracing::warn!(task_id = %task.id, action = %task.action, "resuming a task whose runner stopped (its lease lapsed)");
            self.spawn(schedule, task.id, true);
        }
        for task in admitted.started {
            schedule.claims.remove(&task.id);
            self.spawn(schedule, task.id, false);
        }
        Ok(())
    }

    /// Run task `id` here, resuming it first when it was taken over.
    fn spawn(&self, schedule: &mut Schedule, id: TaskId, resume: bool) {
        let orchestrator = self.clone();
        let handle = schedule.executions.spawn(async move {
            if resume {
                orchestrator.resume(id).await?;
            }
            orchestrator.execute(id).await
        });
        schedule.execution_of.insert(handle.id(), id);
        schedule.running.insert(id, handle);
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

    /// Stop the tasks running here whose termination was requested (through
    /// any process): one read for all of them.
    async fn notice_terminations(&self, schedule: &Schedule) -> Result<(), StoreError> {
        if schedule.running.is_empty() {
            return Ok(());
        }
        let ids: Vec<TaskId> = schedule.running.keys().copied().collect();
        for task in self.deps.store.task_get_many(&ids).await? {
            if task.terminate {
                self.cancellation(task.id).cancel();
            }
        }
        Ok(())
    }

    /// What `task` will hold while it runs. A node action's design is loaded
    /// and its filter applied; when that fails the task holds nothing, starts,
    /// and fails with its own message.
    pub(super) async fn claim_of(&self, task: &Task) -> Claim {
        match scheduler::scope(task.action) {
            Scope::ReadOnly => Claim::Nothing,
            Scope::Site => Claim::Site,
            Scope::Nodes => {
                let site = match self.load_design(task).await {
                    Ok(loaded) => loaded.site.clone(),
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

    /// Prepare a task taken over from a stopped runner for a new retry round
    /// (so earlier failures are not double-counted): close the steps it left
    /// unfinished and say why in the task's messages.
    async fn resume(&self, id: TaskId) -> Result<(), StoreError> {
        let mut task = self.deps.store.task_get(id).await?;
        self.close_stranded_steps(&task).await?;
        task.retry += 1;
        self.deps.store.task_update(&task, UpdateGuard::Status(TaskStatus::Running)).await?;
        self.message(id, StatusMessage::task_wide("Orchestrator instance changed during execution; resuming the task.", false)).await
    }

    /// Close the unfinished sub-tasks a stopped runner left under `task`:
    /// they fail with a message saying why, and (being of the old retry
    /// round) do not count against the resumed run.
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

    /// Renew the leases of the tasks running here; stop those whose lease
    /// another process holds now (it took them over while this one could
    /// not renew: cut off from the store, or stalled).
    async fn renew(&self, schedule: &mut Schedule) -> Result<(), StoreError> {
        if schedule.running.is_empty() {
            return Ok(());
        }
        let ids: Vec<TaskId> = schedule.running.keys().copied().collect();
        let renewed: HashSet<TaskId> =
            self.deps.store.task_lease_renew(self.instance, &ids, self.config.leader_grace_period).await?.into_iter().collect();
        self.metrics.leases_lost(ids.len() - renewed.len().min(ids.len()));
        for id in ids {
            if renewed.contains(&id) {
                continue;
            }
            tracing::warn!(task_id = %id, "lost the lease of a running task to another process; stopping it here");
            if let Some(handle) = schedule.running.remove(&id) {
                handle.abort();
            }
            self.untrack(id);
        }
        Ok(())
    }

    /// Forget an execution that ended and let its lease go (a task that did
    /// not finish — a store error — is then resumed by the next pass, here
    /// or elsewhere); one that panicked (a defect) ends its task with a
    /// failure rather than leaving it `running`.
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
        let ours = schedule.running.remove(&id).is_some();
        match outcome {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!(task_id = %id, error = %error, "task execution hit a store error"),
            // Aborted after its lease was lost: the new holder runs it.
            Err(error) if error.is_cancelled() => {}
            Err(error) => {
                tracing::error!(task_id = %id, error = %error, "task execution panicked");
                self.untrack(id);
                if let Err(error) = self.end_after_panic(id).await {
                    tracing::error!(task_id = %id, error = %error, "could not record the end of a task whose execution panicked");
                }
            }
        }
        if ours && let Err(error) = self.deps.store.task_lease_release(self.instance, &[id]).await {
            tracing::warn!(task_id = %id, error = %error, "could not let the lease of an ended task go; it lapses on its own");
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

    /// Abort everything running here (the tasks stay `running` in the store)
    /// and every design still loading for a claim, then let the tasks'
    /// leases go so another process resumes them at once.
    async fn stop_all(&self, schedule: &mut Schedule) {
        schedule.executions.shutdown().await;
        schedule.resolving.shutdown().await;
        for (_, id) in schedule.execution_of.drain() {
            self.untrack(id);
        }
        let ids: Vec<TaskId> = schedule.running.drain().map(|(id, _)| id).collect();
        if !ids.is_empty()
            && let Err(error) = self.deps.store.task_lease_release(self.instance, &ids).await
        {
            tracing::warn!(error = %error, "could not let the leases of stopped tasks go; they lapse on their own");
        }
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
