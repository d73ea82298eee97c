//! Everything Drydock remembers, behind one object-safe async trait,
//! [`StateStore`], with three implementations that pass one conformance
//! suite: [`memory::MemoryStore`] (tests), [`redb_store::RedbStore`] (the
//! embedded default: one crash-safe file) and, with the `store-postgres`
//! feature, `postgres::PostgresStore` (several replicas share one database
//! with the original's schema).
//!
//! Each method is one atomic unit; nothing hands out transactions. Errors say
//! what the caller should do ([`StoreErrorKind`]). Only this module contains
//! SQL or storage encodings.

pub mod lease;
pub mod memory;
#[cfg(feature = "store-postgres")]
pub mod postgres;
#[cfg(feature = "store-redb")]
pub mod redb_store;

#[cfg(test)]
mod conformance;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::{BootActionId, TaskId};
use crate::task::records::{BootActionContext, BootActionStatus, BuildData, DesignPart, DesignRecord};
use crate::task::{Action, ActionResult, StatusMessage, Task, TaskStatus};
pub use lease::{Admission, Admitted, Decide, RunningTask, StartTask, TakeOver, TaskLease};

/// What a caller should do about a store error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The thing does not exist.
    NotFound,
    /// A guarded update lost, a final status was reported again, or an id exists.
    Conflict,
    /// The store cannot be reached right now; retrying may work.
    Unavailable,
    /// The store's data or schema is unusable; retrying will not help.
    Corrupt,
    /// The store's disk or quota is full (ENOSPC, EDQUOT, PostgreSQL
    /// `disk_full`); writes work again once space is freed, without a restart.
    Full,
}

/// A store error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Not found.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// Lost a race or broke a rule.
    #[error("conflict: {detail}")]
    Conflict {
        /// What conflicted.
        detail: String,
    },
    /// Transient failure.
    #[error("state store unavailable: {detail}")]
    Unavailable {
        /// What failed.
        detail: String,
    },
    /// Permanent failure.
    #[error("state store unusable: {detail}")]
    Corrupt {
        /// What is wrong.
        detail: String,
    },
    /// No space left for a write.
    #[error("state store full: {detail}")]
    Full {
        /// What ran out of space.
        detail: String,
    },
}

impl StoreError {
    /// The error's kind.
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::NotFound { .. } => StoreErrorKind::NotFound,
            StoreError::Conflict { .. } => StoreErrorKind::Conflict,
            StoreError::Unavailable { .. } => StoreErrorKind::Unavailable,
            StoreError::Corrupt { .. } => StoreErrorKind::Corrupt,
            StoreError::Full { .. } => StoreErrorKind::Full,
        }
    }

    /// Whether retrying may succeed: after an outage, or once space is
    /// freed. Never for `Corrupt`, `Conflict` or `NotFound`.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind(), StoreErrorKind::Unavailable | StoreErrorKind::Full)
    }

    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        StoreError::NotFound { what: what.into() }
    }

    pub(crate) fn conflict(detail: impl Into<String>) -> Self {
        StoreError::Conflict { detail: detail.into() }
    }
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// Which parent a listed task must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParentFilter {
    /// Any.
    #[default]
    Any,
    /// Only top-level tasks.
    Root,
    /// Only children of this task.
    Of(TaskId),
}

/// Position in the task listing (tasks are ordered by creation, then id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskCursor {
    /// Creation time of the last task of the previous page.
    pub created: DateTime<Utc>,
    /// Its id.
    pub id: TaskId,
}

/// A task listing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskQuery {
    /// Only tasks with this status.
    pub status: Option<TaskStatus>,
    /// Only tasks with this action.
    pub action: Option<Action>,
    /// Parent constraint.
    pub parent: ParentFilter,
    /// Page size (at least 1).
    pub limit: usize,
    /// Continue after this task.
    pub after: Option<TaskCursor>,
}

impl Default for TaskQuery {
    fn default() -> Self {
        TaskQuery { status: None, action: None, parent: ParentFilter::Any, limit: 100, after: None }
    }
}

impl TaskQuery {
    /// Whether `task` passes the filters (not the cursor).
    pub fn matches(&self, task: &Task) -> bool {
        self.status.is_none_or(|status| task.status == status)
            && self.action.is_none_or(|action| task.action == action)
            && match self.parent {
                ParentFilter::Any => true,
                ParentFilter::Root => task.parent.is_none(),
                ParentFilter::Of(parent) => task.parent == Some(parent),
            }
    }
}

/// One page of tasks (or of [`TaskWithMessages`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskPage<T = Task> {
    /// The tasks, oldest first.
    pub tasks: Vec<T>,
    /// Cursor for the next page, when there may be more.
    pub next: Option<TaskCursor>,
}

/// A task with its status messages (insertion order), as the task reads of
/// the API show it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskWithMessages {
    /// The task.
    pub task: Task,
    /// Its messages, oldest first.
    pub messages: Vec<StatusMessage>,
}

/// What a task update must find to succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateGuard {
    /// The stored generation equals this one.
    Generation(u64),
    /// The stored status equals this one.
    Status(TaskStatus),
    /// Always.
    Unconditional,
}

/// What a purge removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PurgeReport {
    /// Tasks deleted (old ones and orphaned children).
    pub tasks: usize,
    /// Status messages deleted.
    pub messages: usize,
}

/// The state store.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The backend's name, the `backend` label of its metrics (`memory`,
    /// `redb`, `postgresql`; `other` by default).
    fn backend_name(&self) -> &'static str {
        "other"
    }
    /// The store's current time (database time for PostgreSQL).
    async fn now(&self) -> StoreResult<DateTime<Utc>>;
    /// A cheap liveness check that writes nothing.
    async fn ping(&self) -> StoreResult<()>;
    /// Whether a write can be made durable right now: a tiny real write (a
    /// probe key or row) in its own transaction, for the extended health
    /// check. A full disk answers `Full`. Stores with nothing durable to
    /// write to (the default, and the memory store) only [`ping`](Self::ping).
    async fn check_writable(&self) -> StoreResult<()> {
        self.ping().await
    }
    /// Whether no other process can be using this store while this one has
    /// it open (redb by its file lock; memory): a task lease held by an
    /// instance not alive in this process is then a dead process's, taken
    /// over at once. Shared stores (PostgreSQL) answer false, the default.
    fn exclusive(&self) -> bool {
        false
    }
    /// Events from every process sharing this store: the value changes
    /// (a counter) whenever a task is queued or flagged for termination, or a
    /// task lease let go, anywhere, so every process's main loop wakes at
    /// once rather than at its next poll.
    /// Lossy and coalescing — a wake-up hint, never the data; a receiver may
    /// also see a change after a reconnection. Single-process stores
    /// (memory, redb) answer `None`, the default: the main loop's in-process
    /// wake-up covers them. PostgreSQL: `LISTEN drydock_tasks`.
    fn task_events(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
    /// A number that changes after every write this store makes, when no
    /// other process can write to it (redb, by its file lock): a value
    /// derived from reads made after seeing revision `r` stays current
    /// while the revision is still `r`, so a reader may reuse it (the task
    /// list shares rendered pages this way). Read it before the reads it
    /// labels. `None`, the default, when the store cannot tell (PostgreSQL:
    /// other replicas write; the memory store does not count).
    fn task_revision(&self) -> Option<u64> {
        None
    }

    // Designs (the designs API).
    /// Create an empty design.
    async fn design_create(&self) -> StoreResult<DesignRecord>;
    /// Read a design.
    async fn design_get(&self, id: TaskId) -> StoreResult<DesignRecord>;
    /// Append a part (a YAML stream) to a design.
    async fn design_part_add(&self, id: TaskId, source: &str, content: &[u8]) -> StoreResult<DesignPart>;
    /// Every part of a design, in the order added.
    async fn design_parts(&self, id: TaskId) -> StoreResult<Vec<DesignPart>>;
    /// Up to `limit` designs in id order, after `after` when given (one page
    /// of a listing; the last id is the next page's `after`).
    async fn design_list(&self, after: Option<TaskId>, limit: usize) -> StoreResult<Vec<DesignRecord>>;

    // Tasks.
    /// Insert a new task (its generation becomes 1); `Conflict` if the id exists.
    async fn task_create(&self, task: &Task) -> StoreResult<Task>;
    /// Insert many new tasks at once, all or none (bulk loading, moving
    /// tasks between stores); `Conflict` if any id exists.
    async fn task_import(&self, tasks: &[Task]) -> StoreResult<()>;
    /// Read a task.
    async fn task_get(&self, id: TaskId) -> StoreResult<Task>;
    /// Read several tasks (missing ones are left out), in the order asked.
    async fn task_get_many(&self, ids: &[TaskId]) -> StoreResult<Vec<Task>>;
    /// List tasks, oldest first, one page at a time.
    async fn task_list(&self, query: &TaskQuery) -> StoreResult<TaskPage>;
    /// [`task_list`](Self::task_list) with each task's messages, read
    /// together (one read transaction, or a bounded number of queries —
    /// never one per task). The default reads the messages task by task;
    /// every store of this crate overrides it.
    async fn task_list_with_messages(&self, query: &TaskQuery) -> StoreResult<TaskPage<TaskWithMessages>> {
        let page = self.task_list(query).await?;
        let mut tasks = Vec::with_capacity(page.tasks.len());
        for task in page.tasks {
            let messages = self.result_messages(task.id).await?;
            tasks.push(TaskWithMessages { task, messages });
        }
        Ok(TaskPage { tasks, next: page.next })
    }
    /// [`task_get_many`](Self::task_get_many) with each task's messages,
    /// read together as [`task_list_with_messages`](Self::task_list_with_messages)
    /// does (the default, likewise, task by task).
    async fn task_get_many_with_messages(&self, ids: &[TaskId]) -> StoreResult<Vec<TaskWithMessages>> {
        let found = self.task_get_many(ids).await?;
        let mut tasks = Vec::with_capacity(found.len());
        for task in found {
            let messages = self.result_messages(task.id).await?;
            tasks.push(TaskWithMessages { task, messages });
        }
        Ok(tasks)
    }
    /// Every task whose parent is `id`, oldest first.
    async fn task_children(&self, id: TaskId) -> StoreResult<Vec<Task>>;
    /// Write the task's status, result, retry, node filter and `updated`
    /// (never its sub-task list or termination fields) if `guard` holds;
    /// returns the stored task with its new generation.
    async fn task_update(&self, task: &Task, guard: UpdateGuard) -> StoreResult<Task>;
    /// Register `child` under `parent` atomically: append it to the parent's
    /// sub-task list and set the child's parent.
    async fn task_add_subtask(&self, parent: TaskId, child: TaskId) -> StoreResult<()>;
    /// Flag a task (and, with `propagate`, its whole sub-task tree) for
    /// termination.
    async fn task_mark_terminate(&self, id: TaskId, by: &str, propagate: bool) -> StoreResult<()>;
    /// Delete tasks created before `cutoff`, then orphaned children (one
    /// level), then messages of deleted tasks (compat §4.8) — but never a
    /// task that has not finished (`complete` or `terminated`), nor an
    /// ancestor or a descendant of one (`purge_plan`), so a purge cannot
    /// pull a task tree from under the orchestrator.
    async fn task_purge(&self, cutoff: DateTime<Utc>) -> StoreResult<PurgeReport>;

    // Status messages.
    /// Append a message to a task (visible to readers at once).
    async fn result_message_add(&self, task: TaskId, message: &StatusMessage) -> StoreResult<()>;
    /// A task's messages in insertion order.
    async fn result_messages(&self, task: TaskId) -> StoreResult<Vec<StatusMessage>>;

    // Build data.
    /// Store a build-data record.
    async fn build_data_insert(&self, record: &BuildData) -> StoreResult<()>;
    /// A node's records; with `latest`, the newest per generator, by generator.
    async fn build_data_for_node(&self, node: &str, latest: bool) -> StoreResult<Vec<BuildData>>;
    /// The records a task collected.
    async fn build_data_for_task(&self, task: TaskId) -> StoreResult<Vec<BuildData>>;

    // Boot actions.
    /// Create or replace a node's boot-action context.
    async fn bootaction_context_upsert(&self, context: &BootActionContext) -> StoreResult<()>;
    /// A node's boot-action context.
    async fn bootaction_context(&self, node: &str) -> StoreResult<Option<BootActionContext>>;
    /// Begin a deployment attempt's boot actions, atomically: create or
    /// replace the node's context (`context.node_name`) and replace that
    /// node's instances recorded under `context.task_id` (those of an
    /// earlier attempt of the same task) with `statuses`. Instances of other
    /// tasks are kept. Every status must name the context's node and task
    /// (`Conflict` otherwise, as for an action id that exists elsewhere).
    /// There is no safe default; a store that does not override it refuses.
    async fn bootaction_begin(&self, context: &BootActionContext, statuses: &[BootActionStatus]) -> StoreResult<()> {
        let _ = (context, statuses);
        Err(StoreError::Corrupt { detail: "this state store cannot record boot actions atomically (bootaction_begin)".into() })
    }
    /// Record a boot-action instance.
    async fn bootaction_status_insert(&self, status: &BootActionStatus) -> StoreResult<()>;
    /// Read a boot-action instance.
    async fn bootaction_status_get(&self, action_id: BootActionId) -> StoreResult<BootActionStatus>;
    /// A node's boot-action instances.
    async fn bootaction_status_for_node(&self, node: &str) -> StoreResult<Vec<BootActionStatus>>;
    /// Set a boot-action instance's status; `Conflict` if it is already final.
    async fn bootaction_status_update(&self, action_id: BootActionId, status: ActionResult) -> StoreResult<BootActionStatus>;

    // Task leases (lease.rs; docs/scheduling.md, "Replicas").
    /// One admission pass for process `me`, atomic against every other pass
    /// on this store (and against other processes' passes on a shared one):
    /// give every running top-level task that has no lease one (holder
    /// `None`, lapsing `lease` after its last update), drop the leases of
    /// tasks no longer running, call `decide` with the store's time and the
    /// running top-level tasks, then apply its decision. A start moves the
    /// task `queued` → `running` (a new generation) and leases it to `me`
    /// until now + `lease`, unless its generation changed; a takeover leases
    /// the task to `me`, unless its lease changed from what `decide` saw.
    /// Skipped entries are left out of the answer.
    async fn task_admit(&self, me: uuid::Uuid, lease: std::time::Duration, decide: Decide) -> StoreResult<Admitted>;
    /// Extend `me`'s leases on `tasks` to now + `lease`; the tasks whose
    /// lease `me` still held, and so renewed (the others were taken over).
    async fn task_lease_renew(&self, me: uuid::Uuid, tasks: &[TaskId], lease: std::time::Duration) -> StoreResult<Vec<TaskId>>;
    /// Give up `me`'s leases on `tasks` (at once lapsed: another process may
    /// take the tasks over at its next pass). Others' leases are untouched.
    async fn task_lease_release(&self, me: uuid::Uuid, tasks: &[TaskId]) -> StoreResult<()>;
    /// The running top-level tasks that have a lease, with it (for
    /// operators and tests), oldest first.
    async fn task_leases(&self) -> StoreResult<Vec<RunningTask>>;
}

/// Apply a task update to a stored copy (shared by the stores): the
/// field-scoped write of [`StateStore::task_update`].
pub(crate) fn apply_update(stored: &mut Task, update: &Task, guard: UpdateGuard, now: DateTime<Utc>) -> StoreResult<()> {
    match guard {
        UpdateGuard::Generation(generation) if stored.generation != generation => {
            return Err(StoreError::conflict(format!(
                "task {} changed (generation {} is now {})",
                stored.id, generation, stored.generation
            )));
        }
        UpdateGuard::Status(status) if stored.status != status => {
            return Err(StoreError::conflict(format!("task {} is {} not {}", stored.id, stored.status, status)));
        }
        _ => {}
    }
    stored.status = update.status;
    stored.result = update.result.clone();
    stored.retry = update.retry;
    stored.node_filter = update.node_filter.clone();
    stored.updated = Some(now);
    stored.generation += 1;
    Ok(())
}

/// What a purge needs to know of one stored task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PurgeCandidate {
    /// The task.
    pub(crate) id: TaskId,
    /// Its parent, which may no longer exist.
    pub(crate) parent: Option<TaskId>,
    /// Its status.
    pub(crate) status: TaskStatus,
    /// Its creation time.
    pub(crate) created: DateTime<Utc>,
}

/// The tasks a purge at `cutoff` deletes (shared by the memory and redb
/// stores; the PostgreSQL store says the same in SQL): tasks created before
/// `cutoff`, then the children (one level) whose parent is gone or goes now,
/// as the original does (compat §4.8) — except that a task which has not
/// finished, every ancestor of one and every descendant of one are kept,
/// however old: a purge never deletes work in progress or orphans it.
pub(crate) fn purge_plan(tasks: &[PurgeCandidate], cutoff: DateTime<Utc>) -> Vec<TaskId> {
    use std::collections::{HashMap, HashSet};
    let by_id: HashMap<TaskId, &PurgeCandidate> = tasks.iter().map(|task| (task.id, task)).collect();
    let mut children: HashMap<TaskId, Vec<TaskId>> = HashMap::new();
    for task in tasks {
        if let Some(parent) = task.parent {
            children.entry(parent).or_default().push(task.id);
        }
    }
    // Each walk stops at a task an earlier walk in the same direction has
    // reached, so protection is linear in the tasks (and ends on cycles).
    let mut up: HashSet<TaskId> = HashSet::new();
    let mut down: HashSet<TaskId> = HashSet::new();
    for task in tasks.iter().filter(|task| !task.status.is_finished()) {
        let mut parent = task.parent;
        while let Some(id) = parent {
            if !by_id.contains_key(&id) || !up.insert(id) {
                break;
            }
            parent = by_id.get(&id).and_then(|ancestor| ancestor.parent);
        }
        let mut pending = vec![task.id];
        while let Some(id) = pending.pop() {
            if down.insert(id) {
                pending.extend(children.get(&id).into_iter().flatten().copied());
            }
        }
    }
    let kept = |id: &TaskId| up.contains(id) || down.contains(id);
    let old: HashSet<TaskId> = tasks.iter().filter(|task| task.created < cutoff && !kept(&task.id)).map(|task| task.id).collect();
    let orphans = tasks.iter().filter(|task| {
        !old.contains(&task.id)
            && !kept(&task.id)
            && task.parent.is_some_and(|parent| old.contains(&parent) || !by_id.contains_key(&parent))
    });
    let mut plan: Vec<TaskId> = old.iter().copied().collect();
    plan.extend(orphans.map(|task| task.id));
    plan
}

/// Refuse boot-action instances that do not belong to `context` (its node
/// and task), or that repeat an action id (shared by the stores'
/// `bootaction_begin`).
pub(crate) fn check_bootaction_begin(context: &BootActionContext, statuses: &[BootActionStatus]) -> StoreResult<()> {
    let mut ids = std::collections::HashSet::with_capacity(statuses.len());
    for status in statuses {
        if status.node_name != context.node_name || status.task_id != context.task_id {
            return Err(StoreError::conflict(format!(
                "boot action {} is for node {} and task {}, not node {} and task {}",
                status.action_id, status.node_name, status.task_id, context.node_name, context.task_id
            )));
        }
        if !ids.insert(status.action_id) {
            return Err(StoreError::conflict(format!("boot action {} is given twice", status.action_id)));
        }
    }
    Ok(())
}

/// The newest record per generator, ordered by generator (compat §4.2).
pub(crate) fn latest_per_generator(mut records: Vec<BuildData>) -> Vec<BuildData> {
    records.sort_by(|a, b| a.generator.cmp(&b.generator).then(b.collected_date.cmp(&a.collected_date)));
    records.dedup_by(|later, first| later.generator == first.generator);
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(status: TaskStatus, parent: Option<TaskId>, age_days: i64) -> PurgeCandidate {
        PurgeCandidate { id: TaskId::generate(), parent, status, created: Utc::now() - chrono::Duration::days(age_days) }
    }

    #[test]
    fn purge_plans_end_on_parent_cycles_and_keep_unfinished_work() {
        // a ⇄ b (a cycle the parent links should never form, but may), c a
        // finished child of b, all old; b is running.
        let mut a = candidate(TaskStatus::Complete, None, 100);
        let b = candidate(TaskStatus::Running, Some(a.id), 100);
        a.parent = Some(b.id);
        let c = candidate(TaskStatus::Complete, Some(b.id), 100);
        let lone = candidate(TaskStatus::Complete, None, 100);
        let plan = purge_plan(&[a, b, c, lone], Utc::now() - chrono::Duration::days(90));
        assert_eq!(plan, [lone.id]);
    }
}
