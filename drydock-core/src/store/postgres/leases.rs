//! Task leases in PostgreSQL (`StateStore::task_admit` and friends;
//! store/lease.rs): one row per running top-level task in
//! `drydock_task_leases` (migration 6). An admission pass is one transaction
//! holding a transaction-scoped advisory lock, so passes of all replicas
//! run one at a time and see each other's starts and takeovers; lease
//! renewals take no lock and race safely with a takeover, whose update is
//! guarded by the lease it saw (under READ COMMITTED a renewal that lands
//! first makes the takeover match no row).

use chrono::{DateTime, NaiveDateTime, Utc};
use tokio_postgres::Row;

use super::{NOTIFY, PostgresStore, TASK_COLUMNS, id_from, naive, task_from_row, utc};
use crate::ids::TaskId;
use crate::store::lease::lease_end;
use crate::store::{Admitted, Decide, RunningTask, StoreError, StoreResult, TaskLease};
use crate::task::Action;

/// The advisory lock admission passes take (the migrations take another).
const ADMISSION_LOCK: i64 = 7_311_215_362;

/// Leases of the running top-level tasks, oldest task first.
const RUNNING_LEASES: &str = "SELECT t.task_id, t.action, l.holder, l.expires, l.claim FROM tasks t \
     JOIN drydock_task_leases l ON l.task_id = t.task_id \
     WHERE t.status = 'running' AND t.parent_task_id IS NULL ORDER BY t.created, t.task_id";

fn holder_from(bytes: Option<Vec<u8>>) -> StoreResult<Option<uuid::Uuid>> {
    bytes
        .map(|bytes| {
            uuid::Uuid::from_slice(&bytes).map_err(|_| StoreError::Corrupt { detail: "a stored lease holder is not a UUID".into() })
        })
        .transpose()
}

fn running_from(row: &Row) -> StoreResult<RunningTask> {
    let action: String = row.get(1);
    Ok(RunningTask {
        id: id_from(row.get(0))?,
        action: Action::parse(&action)
            .ok_or_else(|| StoreError::Corrupt { detail: format!("a running task has the unknown action {action:?}") })?,
        lease: TaskLease { holder: holder_from(row.get(2))?, expires: utc(row.get::<_, NaiveDateTime>(3)), claim: row.get(4) },
    })
}

impl PostgresStore {
    pub(super) async fn admit(&self, me: uuid::Uuid, lease: std::time::Duration, decide: Decide) -> StoreResult<Admitted> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(|e| self.err(e))?;
        txn.execute("SELECT pg_advisory_xact_lock($1)", &[&ADMISSION_LOCK]).await.map_err(|e| self.err(e))?;
        let now: DateTime<Utc> =
            utc(txn.query_one("SELECT timezone('UTC', now())", &[]).await.map_err(|e| self.err(e))?.get::<_, NaiveDateTime>(0));
        let seconds = lease.as_secs_f64().min(1e9);
        // Running top-level tasks without a lease (an older version left
        // them) lapse a lease duration after their last update.
        txn.execute(
            "INSERT INTO drydock_task_leases (task_id, holder, expires, claim) \
             SELECT task_id, NULL, coalesce(updated, created) + make_interval(secs => $1), '' FROM tasks \
             WHERE status = 'running' AND parent_task_id IS NULL ON CONFLICT (task_id) DO NOTHING",
            &[&seconds],
        )
        .await
        .map_err(|e| self.err(e))?;
        txn.execute(
            "DELETE FROM drydock_task_leases l WHERE NOT EXISTS \
             (SELECT 1 FROM tasks t WHERE t.task_id = l.task_id AND t.status = 'running' AND t.parent_task_id IS NULL)",
            &[],
        )
        .await
        .map_err(|e| self.err(e))?;
        let running =
            txn.query(RUNNING_LEASES, &[]).await.map_err(|e| self.err(e))?.iter().map(running_from).collect::<StoreResult<Vec<_>>>()?;
        let decision = decide(now, &running);
        let expires = naive(lease_end(now, lease));
        let holder = me.as_bytes().as_slice();
        let mut admitted = Admitted::default();
        for start in &decision.start {
            let generation = i64::try_from(start.generation).unwrap_or(i64::MAX);
            let row = txn
                .query_opt(
                    &format!(
                        "UPDATE tasks SET status = 'running', updated = $3, generation = generation + 1 \
                         WHERE task_id = $1 AND status = 'queued' AND generation = $2 RETURNING {TASK_COLUMNS}"
                    ),
                    &[&start.id.to_bytes().as_slice(), &generation, &naive(now)],
                )
                .await
                .map_err(|e| self.err(e))?;
            let Some(row) = row else { continue };
            txn.execute(
                "INSERT INTO drydock_task_leases (task_id, holder, expires, claim) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (task_id) DO UPDATE SET holder = EXCLUDED.holder, expires = EXCLUDED.expires, claim = EXCLUDED.claim",
                &[&start.id.to_bytes().as_slice(), &holder, &expires, &start.claim],
            )
            .await
            .map_err(|e| self.err(e))?;
            admitted.started.push(task_from_row(&row)?);
        }
        for take in &decision.take_over {
            let seen_holder = take.seen.holder.map(|holder| holder.as_bytes().to_vec());
            let taken = txn
                .execute(
                    "UPDATE drydock_task_leases SET holder = $2, expires = $3, claim = $4 \
                     WHERE task_id = $1 AND holder IS NOT DISTINCT FROM $5 AND expires = $6",
                    &[&take.id.to_bytes().as_slice(), &holder, &expires, &take.claim, &seen_holder, &naive(take.seen.expires)],
                )
                .await
                .map_err(|e| self.err(e))?;
            if taken == 0 {
                continue;
            }
            let row = txn
                .query_opt(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE task_id = $1"), &[&take.id.to_bytes().as_slice()])
                .await
                .map_err(|e| self.err(e))?;
            if let Some(row) = row {
                admitted.taken_over.push(task_from_row(&row)?);
            }
        }
        txn.commit().await.map_err(|e| self.err(e))?;
        Ok(admitted)
    }

    pub(super) async fn lease_renew(&self, me: uuid::Uuid, tasks: &[TaskId], lease: std::time::Duration) -> StoreResult<Vec<TaskId>> {
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let keys: Vec<Vec<u8>> = tasks.iter().map(|id| id.to_bytes().to_vec()).collect();
        let rows = client
            .query(
                "UPDATE drydock_task_leases SET expires = timezone('UTC', now()) + make_interval(secs => $3) \
                 WHERE holder = $1 AND task_id = ANY($2) RETURNING task_id",
                &[&me.as_bytes().as_slice(), &keys, &lease.as_secs_f64().min(1e9)],
            )
            .await
            .map_err(|e| self.err(e))?;
        rows.iter().map(|row| id_from(row.get(0))).collect()
    }

    pub(super) async fn lease_release(&self, me: uuid::Uuid, tasks: &[TaskId]) -> StoreResult<()> {
        if tasks.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        let keys: Vec<Vec<u8>> = tasks.iter().map(|id| id.to_bytes().to_vec()).collect();
        // Lapsed at once; the NOTIFY wakes the other replicas to take over.
        client
            .execute(
                &format!(
                    "WITH released AS (UPDATE drydock_task_leases SET holder = NULL, expires = '1970-01-01' \
                     WHERE holder = $1 AND task_id = ANY($2) RETURNING task_id) \
                     SELECT {NOTIFY} WHERE EXISTS (SELECT 1 FROM released)"
                ),
                &[&me.as_bytes().as_slice(), &keys],
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub(super) async fn leases(&self) -> StoreResult<Vec<RunningTask>> {
        let client = self.client().await?;
        client.query(RUNNING_LEASES, &[]).await.map_err(|e| self.err(e))?.iter().map(running_from).collect()
    }
}
