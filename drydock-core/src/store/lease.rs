//! Task leases: how several processes share one store's tasks
//! (docs/scheduling.md, "Replicas"). Every running top-level task has a
//! lease naming the process that runs it, when the lease lapses unless
//! renewed, and what the task holds (its scheduling claim, stored as the
//! scheduler's opaque text). Queued tasks are started, and lapsed leases
//! taken over, only inside an admission pass
//! ([`StateStore::task_admit`](super::StateStore::task_admit)), which the
//! store makes atomic against every other pass — so no two processes start
//! the same task or two tasks whose claims conflict.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::ids::TaskId;
use crate::task::{Action, Task};

/// A running top-level task's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLease {
    /// The process running it; `None` for a task left `running` without a
    /// lease (by a version of Drydock before leases, or by a crash between
    /// the two writes of a store without transactions): anyone may take it
    /// over once it lapses.
    pub holder: Option<uuid::Uuid>,
    /// When the lease lapses unless renewed (store time). For a task without
    /// a lease: its last update plus the lease duration.
    pub expires: DateTime<Utc>,
    /// What the task holds, in the scheduler's encoding; empty when unknown.
    pub claim: String,
}

/// A running top-level task as an admission pass sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningTask {
    /// The task.
    pub id: TaskId,
    /// Its action.
    pub action: Action,
    /// Its lease.
    pub lease: TaskLease,
}

/// A queued task to start in an admission pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartTask {
    /// The task.
    pub id: TaskId,
    /// The generation it was read at: the start is skipped if it changed
    /// (a termination request, another process started it).
    pub generation: u64,
    /// What it will hold, recorded in its lease.
    pub claim: String,
}

/// A running task whose lease lapsed, to take over in an admission pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakeOver {
    /// The task.
    pub id: TaskId,
    /// The lease as the pass saw it: the takeover is skipped if it changed
    /// (its holder renewed it after all).
    pub seen: TaskLease,
    /// What it holds from now on (usually `seen.claim`).
    pub claim: String,
}

/// What an admission pass decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admission {
    /// Queued tasks to start, in this order.
    pub start: Vec<StartTask>,
    /// Running tasks to take over.
    pub take_over: Vec<TakeOver>,
}

impl Admission {
    /// Whether the pass changes nothing.
    pub fn is_empty(&self) -> bool {
        self.start.is_empty() && self.take_over.is_empty()
    }
}

/// What an admission pass did: the tasks now leased to the caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Admitted {
    /// Tasks started (now `running`).
    pub started: Vec<Task>,
    /// Running tasks taken over, as stored.
    pub taken_over: Vec<Task>,
}

/// The decision of an admission pass: given the store's time and every
/// running top-level task with its lease, what to start and take over. It
/// runs inside the pass (under the store's lock), so it must be quick and
/// must not block.
pub type Decide = Arc<dyn Fn(DateTime<Utc>, &[RunningTask]) -> Admission + Send + Sync>;

/// `now + lease`, saturating (a lease too long to represent never lapses).
pub(crate) fn lease_end(now: DateTime<Utc>, lease: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(lease).ok().and_then(|lease| now.checked_add_signed(lease)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}
