//! Task leases in the redb store (`StateStore::task_admit` and friends;
//! store/lease.rs): one row per running top-level task in the `task_leases`
//! table. A pass is one write transaction (redb runs one at a time, which is
//! what makes it atomic) and is only committed when it changed something,
//! so an idle pass costs no disk sync.

use std::path::Path;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{Bytes, RedbStore, TASK_STATUS, TASKS, classify, decode, encode, get_task, prefix_end, put_task, status_byte};
use crate::ids::TaskId;
use crate::store::lease::lease_end;
use crate::store::{Admitted, Decide, RunningTask, StoreError, StoreResult, TaskLease};
use crate::task::{Task, TaskStatus};

/// Task id → [`LeaseRecord`].
pub(super) const LEASES: TableDefinition<Bytes, Bytes> = TableDefinition::new("task_leases");

#[derive(Serialize, Deserialize)]
struct LeaseRecord {
    holder: Option<uuid::Uuid>,
    expires: DateTime<Utc>,
    claim: String,
}

impl LeaseRecord {
    fn from_lease(lease: &TaskLease) -> Self {
        LeaseRecord { holder: lease.holder, expires: lease.expires, claim: lease.claim.clone() }
    }

    fn into_lease(self) -> TaskLease {
        TaskLease { holder: self.holder, expires: self.expires, claim: self.claim }
    }
}

fn task_id(bytes: &[u8]) -> StoreResult<TaskId> {
    Ok(TaskId::from_bytes(bytes.try_into().map_err(|_| StoreError::Corrupt { detail: "task lease key".into() })?))
}

fn put_lease(txn: &WriteTransaction, path: &Path, id: TaskId, lease: &TaskLease) -> StoreResult<()> {
    let mut leases = r!(path, txn.open_table(LEASES));
    r!(path, leases.insert(id.to_bytes().as_slice(), encode(&LeaseRecord::from_lease(lease))?.as_slice()));
    Ok(())
}

/// Lease every running top-level task that has none to nobody (a scan of
/// the running tasks; done once per open store, as only an older version
/// or an import leaves such tasks). True when it wrote anything.
fn lease_orphans(txn: &WriteTransaction, path: &Path, lease: std::time::Duration) -> StoreResult<bool> {
    let mut orphans = Vec::new();
    {
        let tasks = r!(path, txn.open_table(TASKS));
        let index = r!(path, txn.open_table(TASK_STATUS));
        let leases = r!(path, txn.open_table(LEASES));
        let prefix = [status_byte(TaskStatus::Running)];
        for entry in r!(path, index.range(prefix.as_slice()..prefix_end(&prefix).as_slice())) {
            let (_, id) = r!(path, entry);
            let id = task_id(id.value())?;
            if r!(path, leases.get(id.to_bytes().as_slice())).is_some() {
                continue;
            }
            if let Some(task) = get_task(&tasks, path, id)?
                && task.parent.is_none()
            {
                orphans.push(task);
            }
        }
    }
    for task in &orphans {
        let orphan = TaskLease { holder: None, expires: lease_end(task.updated.unwrap_or(task.created), lease), claim: String::new() };
        put_lease(txn, path, task.id, &orphan)?;
    }
    Ok(!orphans.is_empty())
}

/// The leased tasks still running, oldest first, after dropping the leases
/// of those that are not (a finished task whose runner died before it let
/// go). True when it dropped any.
fn running_roots(txn: &WriteTransaction, path: &Path) -> StoreResult<(Vec<(RunningTask, Task)>, bool)> {
    let mut running = Vec::new();
    let mut stale = Vec::new();
    {
        let tasks = r!(path, txn.open_table(TASKS));
        let leases = r!(path, txn.open_table(LEASES));
        for entry in r!(path, leases.iter()) {
            let (key, value) = r!(path, entry);
            let id = task_id(key.value())?;
            match get_task(&tasks, path, id)? {
                Some(task) if task.status == TaskStatus::Running && task.parent.is_none() => {
                    let lease = decode::<LeaseRecord>(value.value(), "task lease")?.into_lease();
                    running.push((RunningTask { id, action: task.action, lease }, task));
                }
                _ => stale.push(id),
            }
        }
    }
    if !stale.is_empty() {
        let mut leases = r!(path, txn.open_table(LEASES));
        for id in &stale {
            r!(path, leases.remove(id.to_bytes().as_slice()));
        }
    }
    running.sort_by_key(|(running, task)| (task.created, running.id));
    Ok((running, !stale.is_empty()))
}

impl RedbStore {
    pub(super) async fn admit(&self, me: uuid::Uuid, lease: std::time::Duration, decide: Decide) -> StoreResult<Admitted> {
        let check_orphans = !self.shared.orphans_leased.load(Ordering::Acquire);
        let admitted = self
            .write_if(move |txn, path| {
                let now = Utc::now();
                let mut changed = check_orphans && lease_orphans(txn, path, lease)?;
                let (running, dropped) = running_roots(txn, path)?;
                changed |= dropped;
                let views: Vec<RunningTask> = running.iter().map(|(view, _)| view.clone()).collect();
                let decision = decide(now, &views);
                let mut admitted = Admitted::default();
                for start in decision.start {
                    let Some(previous) = get_task(&r!(path, txn.open_table(TASKS)), path, start.id)? else { continue };
                    if previous.status != TaskStatus::Queued || previous.generation != start.generation {
                        continue;
                    }
                    let mut task = previous.clone();
                    task.status = TaskStatus::Running;
                    task.updated = Some(now);
                    task.generation += 1;
                    put_task(txn, path, &task, Some(&previous))?;
                    put_lease(txn, path, task.id, &TaskLease { holder: Some(me), expires: lease_end(now, lease), claim: start.claim })?;
                    admitted.started.push(task);
                    changed = true;
                }
                for take in decision.take_over {
                    let Some((seen, task)) = running.iter().find(|(view, _)| view.id == take.id) else { continue };
                    if seen.lease != take.seen {
                        continue;
                    }
                    put_lease(txn, path, take.id, &TaskLease { holder: Some(me), expires: lease_end(now, lease), claim: take.claim })?;
                    admitted.taken_over.push(task.clone());
                    changed = true;
                }
                Ok((admitted, changed))
            })
            .await?;
        if check_orphans {
            self.shared.orphans_leased.store(true, Ordering::Release);
        }
        Ok(admitted)
    }

    pub(super) async fn lease_renew(&self, me: uuid::Uuid, tasks: &[TaskId], lease: std::time::Duration) -> StoreResult<Vec<TaskId>> {
        let tasks = tasks.to_vec();
        self.write_if(move |txn, path| {
            let expires = lease_end(Utc::now(), lease);
            let mut renewed = Vec::new();
            let mut leases = r!(path, txn.open_table(LEASES));
            for id in tasks {
                let held = match r!(path, leases.get(id.to_bytes().as_slice())) {
                    Some(value) => decode::<LeaseRecord>(value.value(), "task lease")?,
                    None => continue,
                };
                if held.holder != Some(me) {
                    continue;
                }
                let renewal = LeaseRecord { expires, ..held };
                r!(path, leases.insert(id.to_bytes().as_slice(), encode(&renewal)?.as_slice()));
                renewed.push(id);
            }
            let changed = !renewed.is_empty();
            Ok((renewed, changed))
        })
        .await
    }

    pub(super) async fn lease_release(&self, me: uuid::Uuid, tasks: &[TaskId]) -> StoreResult<()> {
        let tasks = tasks.to_vec();
        self.write_if(move |txn, path| {
            let mut leases = r!(path, txn.open_table(LEASES));
            let mut changed = false;
            for id in tasks {
                let mine = match r!(path, leases.get(id.to_bytes().as_slice())) {
                    Some(value) => Some(decode::<LeaseRecord>(value.value(), "task lease")?).filter(|held| held.holder == Some(me)),
                    None => None,
                };
                if let Some(held) = mine {
                    let released = LeaseRecord { holder: None, expires: DateTime::<Utc>::UNIX_EPOCH, ..held };
                    r!(path, leases.insert(id.to_bytes().as_slice(), encode(&released)?.as_slice()));
                    changed = true;
                }
            }
            Ok(((), changed))
        })
        .await
    }

    pub(super) async fn leases(&self) -> StoreResult<Vec<RunningTask>> {
        self.read(|txn, path| {
            let tasks = r!(path, txn.open_table(TASKS));
            let leases = match txn.open_table(LEASES) {
                Ok(leases) => leases,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(error) => return Err(classify(path, error)),
            };
            let mut running = Vec::new();
            for entry in r!(path, leases.iter()) {
                let (key, value) = r!(path, entry);
                let id = task_id(key.value())?;
                let Some(task) = get_task(&tasks, path, id)? else { continue };
                if task.status == TaskStatus::Running && task.parent.is_none() {
                    let lease = decode::<LeaseRecord>(value.value(), "task lease")?.into_lease();
                    running.push((task.created, RunningTask { id, action: task.action, lease }));
                }
            }
            running.sort_by_key(|(created, view)| (*created, view.id));
            Ok(running.into_iter().map(|(_, view)| view).collect())
        })
        .await
    }
}
