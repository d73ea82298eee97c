//! The embedded default [`StateStore`]: one redb file, ACID and crash-safe
//! (every commit is durable before the call returns). Tasks and status
//! messages are compact binary records (`redb_store/codec.rs`: the task list
//! reads thousands at a time), the rest JSON in private types; secondary
//! tables index tasks by creation order, status and parent so listing,
//! claiming and children are range scans, not full scans.
//!
//! redb is synchronous: every method runs one transaction on the blocking
//! pool, at most a few reads and a few writes at a time (the rest wait
//! without a thread, so many concurrent requests do not grow the pool and
//! its memory). Write transactions are serialised by redb, which is what
//! makes admission passes (`task_admit`, redb_store/leases.rs) and the guarded
//! updates atomic.
//!
//! Failing loudly and recovering: a store is created only where no file
//! exists; an existing file has every page checked at open and is refused,
//! naming it and what to do, when it is damaged beyond redb's repair (also
//! offline: [`RedbStore::check`], `drydock store check`). After an I/O error
//! redb fails every later transaction until the file is reopened, so the
//! store reopens it: a full disk is `Full` while it lasts and writes
//! succeed again once space is freed. A panic inside redb (damaged data) is
//! contained as `Corrupt`, never a retry, and stops writes.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle, WriteTransaction,
};
use serde::{Deserialize, Serialize};

use super::{
    Admitted, Decide, ParentFilter, PurgeCandidate, PurgeReport, RunningTask, StateStore, StoreError, StoreResult, TaskCursor, TaskPage,
    TaskQuery, TaskWithMessages, UpdateGuard, apply_update, check_bootaction_begin, latest_per_generator, purge_plan,
};
use crate::ids::{BootActionId, TaskId};
use crate::task::records::{BootActionContext, BootActionStatus, BuildData, DesignPart, DesignRecord};
use crate::task::{ActionResult, StatusMessage, Task, TaskStatus};

/// The schema this code writes. Opening a file with a newer one is refused;
/// an older one is brought up to it at open. 2: task and message records in
/// the binary format of `redb_store/codec.rs` (version 1 files hold JSON
/// records, which are still read; written again, they become format 2).
pub const SCHEMA_VERSION: u64 = 2;

mod codec;

type Bytes = &'static [u8];

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const TASKS: TableDefinition<Bytes, Bytes> = TableDefinition::new("tasks");
const TASK_ORDER: TableDefinition<Bytes, Bytes> = TableDefinition::new("tasks_by_created");
const TASK_STATUS: TableDefinition<Bytes, Bytes> = TableDefinition::new("tasks_by_status");
const TASK_PARENT: TableDefinition<Bytes, Bytes> = TableDefinition::new("tasks_by_parent");
const MESSAGES: TableDefinition<Bytes, Bytes> = TableDefinition::new("result_messages");
const BUILD_DATA: TableDefinition<u64, Bytes> = TableDefinition::new("build_data");
const BUILD_BY_NODE: TableDefinition<Bytes, u64> = TableDefinition::new("build_data_by_node");
const BUILD_BY_TASK: TableDefinition<Bytes, u64> = TableDefinition::new("build_data_by_task");
const BA_CONTEXT: TableDefinition<&str, Bytes> = TableDefinition::new("boot_action");
const BA_STATUS: TableDefinition<Bytes, Bytes> = TableDefinition::new("boot_action_status");
const BA_BY_NODE: TableDefinition<Bytes, Bytes> = TableDefinition::new("boot_action_status_by_node");
const DESIGNS: TableDefinition<Bytes, Bytes> = TableDefinition::new("designs");
const DESIGN_PARTS: TableDefinition<Bytes, Bytes> = TableDefinition::new("design_parts");

/// The redb store.
#[derive(Clone)]
pub struct RedbStore {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").field("path", &self.shared.path).finish()
    }
}

/// The open database and what is known about it. Every operation holds the
/// lock shared for its whole transaction; a reopen holds it exclusively, so
/// the old handle is closed (and its file lock released) before the new one
/// opens, and no transaction of the old handle is still running.
struct Shared {
    path: PathBuf,
    slot: RwLock<Slot>,
    /// Read transactions running at once on the blocking pool.
    readers: Arc<tokio::sync::Semaphore>,
    /// Write transactions queued on the blocking pool (redb runs one at a
    /// time; the rest wait here, not on a blocked thread each).
    writers: Arc<tokio::sync::Semaphore>,
    /// Whether running top-level tasks without a lease have been leased to
    /// nobody since the store was opened (redb_store/leases.rs).
    orphans_leased: std::sync::atomic::AtomicBool,
    /// Counts write transactions, each after it ends (committed or not):
    /// [`StateStore::task_revision`]. Only this process writes the file.
    revision: std::sync::atomic::AtomicU64,
}

/// Transactions of one kind on the blocking pool at once: enough to keep
/// every core busy, few enough that many concurrent requests do not each
/// get a thread (and an allocator heap) of their own, which is what kept
/// server memory growing under load.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(4, |cores| cores.get() * 2).clamp(4, 32)
}

struct Slot {
    /// `None` after a reopen that failed; the next operation tries again.
    db: Option<Database>,
    /// Counts reopens, so that workers failing together reopen once.
    epoch: u64,
    /// Set when redb found the file corrupt (or panicked reading it) while
    /// serving: from then on writes are refused and the health checks fail.
    corrupt: Option<String>,
}

/// What an operation does, for what a store found corrupt still allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// A read: still attempted on a store found corrupt (what is readable
    /// can be rescued through the API).
    Read,
    /// A write (the writability probe included): refused on a store found
    /// corrupt.
    Write,
}

/// How the last redb error seen on this thread affects the handle (set by
/// [`classify`], read by [`Shared::run`] right after the transaction, on the
/// same blocking-pool thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// An I/O error: redb fails every later transaction of this handle
    /// (`PreviousIo`) until it is reopened.
    Io,
    /// redb found the file corrupt.
    Corrupted,
}

thread_local! {
    static FAULT: Cell<Option<Fault>> = const { Cell::new(None) };
}

/// What the integrity check found when a file was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// The file did not exist; a new store was created.
    Created,
    /// Every page's checksum verified.
    Clean,
    /// redb found damage it could repair (typically by going back to the
    /// previous commit, which loses the last transaction, or by rebuilding
    /// its allocator state); the file is consistent again.
    Repaired,
}

/// What `drydock store check` reports of a sound store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// What the integrity check found.
    pub integrity: Integrity,
    /// The store's schema version.
    pub schema_version: u64,
    /// Tasks (every one decoded).
    pub tasks: u64,
    /// Task status messages.
    pub messages: u64,
    /// Stored designs.
    pub designs: u64,
    /// Build-data records.
    pub build_data: u64,
    /// Boot-action instances.
    pub boot_actions: u64,
}

/// Whether an I/O error means "no space left" (ENOSPC) or "over quota" (EDQUOT).
fn is_full(io: &std::io::Error) -> bool {
    matches!(io.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
        || (cfg!(target_os = "linux") && matches!(io.raw_os_error(), Some(28 | 122)))
}

fn note(fault: Fault) {
    FAULT.with(|cell| cell.set(Some(fault)));
}

/// The error for a file redb cannot read as a sound database, with what to do.
fn corrupt(path: &Path, what: impl std::fmt::Display) -> StoreError {
    let file = path.display();
    StoreError::Corrupt {
        detail: format!(
            "database file {file} is corrupt ({what}); restore it from a backup while Drydock is stopped \
             (`drydock store check {file}` tells whether a file is sound)"
        ),
    }
}

fn classify(path: &Path, error: impl Into<redb::Error>) -> StoreError {
    let error = error.into();
    let file = path.display();
    let io = match &error {
        redb::Error::Io(io) => Some(io),
        redb::Error::Backend(inner) => inner.downcast_ref::<std::io::Error>(),
        _ => None,
    };
    if let Some(io) = io {
        note(Fault::Io);
        if is_full(io) {
            return StoreError::Full {
                detail: format!("no space left for database file {file} ({io}); writes succeed again once space is freed"),
            };
        }
        if io.kind() == std::io::ErrorKind::InvalidData {
            return StoreError::Corrupt { detail: format!("database file {file} is not a usable redb file: {io}") };
        }
        return StoreError::Unavailable { detail: format!("I/O error on {file}: {io}") };
    }
    match error {
        redb::Error::DatabaseAlreadyOpen | redb::Error::LockProtocolMismatch => {
            StoreError::Unavailable { detail: format!("database file {file} is in use by another process") }
        }
        redb::Error::PreviousIo | redb::Error::DatabaseClosed | redb::Error::LockPoisoned(_) => {
            note(Fault::Io);
            StoreError::Unavailable { detail: format!("database file {file} needs reopening after an earlier I/O error: {error}") }
        }
        redb::Error::Corrupted(detail) => {
            note(Fault::Corrupted);
            corrupt(path, detail)
        }
        redb::Error::UpgradeRequired(version) => {
            StoreError::Corrupt { detail: format!("database file {file} uses redb file format {version}, which needs an upgrade") }
        }
        other => StoreError::Corrupt { detail: format!("database file {file}: {other}") },
    }
}

/// Map a redb error inside a transaction.
macro_rules! r {
    ($path:expr, $expr:expr) => {
        $expr.map_err(|e| classify($path, e))?
    };
}

// After `r!`, which it uses.
mod leases;

/// The text of a caught panic.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

/// Run redb code that may panic on a corrupt file; a panic becomes `Corrupt`.
fn contain<T>(path: &Path, work: impl FnOnce() -> StoreResult<T>) -> StoreResult<T> {
    std::panic::catch_unwind(AssertUnwindSafe(work))
        .unwrap_or_else(|payload| Err(corrupt(path, format_args!("redb panicked reading it: {}", panic_text(payload.as_ref())))))
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt { detail: format!("stored {what} is unreadable: {error}") })
}

fn encode<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|error| StoreError::Corrupt { detail: format!("cannot encode a record: {error}") })
}

/// Creation time as 8 bytes that sort like the time (sign bit flipped).
fn time_key(time: DateTime<Utc>) -> [u8; 8] {
    ((time.timestamp_micros() as u64) ^ (1 << 63)).to_be_bytes()
}

fn order_key(created: DateTime<Utc>, id: TaskId) -> Vec<u8> {
    let mut key = time_key(created).to_vec();
    key.extend_from_slice(&id.to_bytes());
    key
}

fn status_byte(status: TaskStatus) -> u8 {
    TaskStatus::ALL.iter().position(|s| *s == status).unwrap_or(0) as u8
}

fn prefixed(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut key = prefix.to_vec();
    key.extend_from_slice(rest);
    key
}

/// The smallest key greater than every key starting with `prefix`.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    end.push(0xff);
    end.extend_from_slice(&[0xff; 32]);
    end
}

fn node_key(node: &str, suffix: &[u8]) -> Vec<u8> {
    let mut key = node.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(suffix);
    key
}

#[derive(Serialize, Deserialize)]
struct BuildDataRecord {
    node_name: String,
    task_id: uuid::Uuid,
    collected_date: DateTime<Utc>,
    generator: String,
    data_format: String,
    data_element: String,
}

#[derive(Serialize, Deserialize)]
struct ContextRecord {
    task_id: uuid::Uuid,
    identity_key: String,
}

#[derive(Serialize, Deserialize)]
struct BootActionRecord {
    node_name: String,
    action_id: String,
    action_name: String,
    task_id: uuid::Uuid,
    identity_key: String,
    action_status: String,
}

#[derive(Serialize, Deserialize)]
struct DesignRow {
    created: DateTime<Utc>,
    part_count: usize,
}

#[derive(Serialize, Deserialize)]
struct PartRow {
    source: String,
    content: String,
    added: DateTime<Utc>,
}

fn key32(text: &str, what: &str) -> StoreResult<[u8; 32]> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text, &mut key).map_err(|_| StoreError::Corrupt { detail: format!("stored {what} key is not hex") })?;
    Ok(key)
}

impl BootActionRecord {
    fn from_status(status: &BootActionStatus) -> Self {
        BootActionRecord {
            node_name: status.node_name.clone(),
            action_id: status.action_id.to_string(),
            action_name: status.action_name.clone(),
            task_id: status.task_id.0,
            identity_key: hex::encode(status.identity_key),
            action_status: status.action_status.as_str().into(),
        }
    }

    fn into_status(self) -> StoreResult<BootActionStatus> {
        Ok(BootActionStatus {
            action_id: self.action_id.parse().map_err(|_| StoreError::Corrupt { detail: "stored boot action id is invalid".into() })?,
            identity_key: key32(&self.identity_key, "boot action")?,
            action_status: ActionResult::parse(&self.action_status)
                .ok_or_else(|| StoreError::Corrupt { detail: format!("stored boot action status '{}' is unknown", self.action_status) })?,
            node_name: self.node_name,
            action_name: self.action_name,
            task_id: TaskId(self.task_id),
        })
    }
}

impl RedbStore {
    /// Open the store at `path`, or create it when nothing exists there.
    /// An existing file is checked first (every page's checksum, which may
    /// repair it — logged as a warning) and refused clearly when it is not a
    /// regular file, is empty, is not a sound redb file, is not a Drydock
    /// store, is locked by another process, or was written by a newer
    /// Drydock. Nothing that exists is ever replaced by a new store.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        let (db, integrity) = open_database(&path, true)?;
        if integrity == Integrity::Repaired {
            tracing::warn!(
                file = %path.display(),
                "the integrity check found damage in the database file and repaired it; the most recent writes may be lost"
            );
        }
        contain(&path, || migrate(&db, &path))?;
        Ok(RedbStore {
            shared: Arc::new(Shared {
                path,
                slot: RwLock::new(Slot { db: Some(db), epoch: 0, corrupt: None }),
                readers: Arc::new(tokio::sync::Semaphore::new(workers())),
                writers: Arc::new(tokio::sync::Semaphore::new(workers())),
                orphans_leased: std::sync::atomic::AtomicBool::new(false),
                revision: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Check the store at `path` without serving it (`drydock store check`):
    /// the integrity of every page (repairing what redb can), the schema
    /// version, and every task record. The file must exist; a store in use
    /// by a running server is `Unavailable`.
    pub fn check(path: impl AsRef<Path>) -> StoreResult<CheckReport> {
        let path = path.as_ref();
        let (db, integrity) = open_database(path, false)?;
        contain(path, || {
            let txn = db.begin_read().map_err(|e| classify(path, e))?;
            let schema_version = match drydock_version(&txn, path)? {
                Some(version) if version > SCHEMA_VERSION => return Err(newer_schema(path, version)),
                Some(version) => version,
                None => return Err(StoreError::Corrupt { detail: format!("database file {} holds no Drydock store", path.display()) }),
            };
            let mut tasks = 0;
            for entry in r!(path, r!(path, txn.open_table(TASKS)).iter()) {
                let (_, value) = r!(path, entry);
                codec::decode_task(value.value())?;
                tasks += 1;
            }
            let count = |table: TableDefinition<Bytes, Bytes>| -> StoreResult<u64> {
                let table = r!(path, txn.open_table(table));
                Ok(r!(path, ReadableTableMetadata::len(&table)))
            };
            let build_data = r!(path, ReadableTableMetadata::len(&r!(path, txn.open_table(BUILD_DATA))));
            Ok(CheckReport {
                integrity,
                schema_version,
                tasks,
                messages: count(MESSAGES)?,
                designs: count(DESIGNS)?,
                build_data,
                boot_actions: count(BA_STATUS)?,
            })
        })
    }

    /// A turn on the blocking pool; it is held by the job (not by the
    /// awaiting caller), so a cancelled request does not free it early.
    async fn permit(&self, kind: &Arc<tokio::sync::Semaphore>) -> StoreResult<tokio::sync::OwnedSemaphorePermit> {
        kind.clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable { detail: format!("store workers for {} are shut down", self.shared.path.display()) })
    }

    /// Run `work` in a write transaction on the blocking pool; commit if it succeeds.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&WriteTransaction, &Path) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.write_if(move |txn, path| work(txn, path).map(|value| (value, true))).await
    }

    /// Run `work` in a write transaction on the blocking pool; commit only
    /// when it says it changed something (an unchanged pass is aborted: no
    /// disk sync).
    async fn write_if<T: Send + 'static>(
        &self,
        work: impl FnOnce(&WriteTransaction, &Path) -> StoreResult<(T, bool)> + Send + 'static,
    ) -> StoreResult<T> {
        let shared = self.shared.clone();
        let permit = self.permit(&self.shared.writers).await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            shared.run(Access::Write, |db, path| {
                let txn = db.begin_write().map_err(|e| classify(path, e))?;
                let (value, changed) = work(&txn, path)?;
                if changed {
                    txn.commit().map_err(|e| classify(path, e))?;
                } else {
                    txn.abort().map_err(|e| classify(path, e))?;
                }
                Ok(value)
            })
        })
        .await
        .map_err(|error| worker_failed(&self.shared.path, error))?
    }

    /// Run `work` in a read transaction on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&ReadTransaction, &Path) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let shared = self.shared.clone();
        let permit = self.permit(&self.shared.readers).await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            shared.run(Access::Read, |db, path| {
                let txn = db.begin_read().map_err(|e| classify(path, e))?;
                work(&txn, path)
            })
        })
        .await
        .map_err(|error| worker_failed(&self.shared.path, error))?
    }
}

/// A blocking-pool job that did not finish: the runtime is shutting down
/// (retrying elsewhere may work), or a panic escaped [`Shared::run`].
fn worker_failed(path: &Path, error: tokio::task::JoinError) -> StoreError {
    if error.is_panic() {
        corrupt(path, format_args!("a store worker panicked: {error}"))
    } else {
        StoreError::Unavailable { detail: format!("store worker for {} did not finish: {error}", path.display()) }
    }
}

impl Shared {
    fn read_slot(&self) -> RwLockReadGuard<'_, Slot> {
        // The slot is only ever replaced whole, so a poisoned lock holds a usable value.
        self.slot.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run one transaction against the open database (reopening it first if
    /// an earlier reopen failed). A panic inside redb becomes `Corrupt` and
    /// marks the store corrupt; an I/O error (a full disk included) reopens
    /// the database, which redb requires before it accepts another
    /// transaction, so the store recovers without a restart.
    fn run<T>(&self, access: Access, work: impl FnOnce(&Database, &Path) -> StoreResult<T>) -> StoreResult<T> {
        if self.read_slot().db.is_none() {
            self.reopen(None)?;
        }
        let slot = self.read_slot();
        if access == Access::Write
            && let Some(detail) = &slot.corrupt
        {
            return Err(StoreError::Corrupt { detail: detail.clone() });
        }
        let Some(db) = slot.db.as_ref() else {
            return Err(StoreError::Unavailable { detail: format!("database file {} is being reopened", self.path.display()) });
        };
        let epoch = slot.epoch;
        FAULT.with(|cell| cell.set(None));
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| work(db, &self.path)));
        if access == Access::Write {
            // After the commit (or its failure): a reader that sees the new
            // revision reads what was committed.
            self.revision.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        let fault = FAULT.with(Cell::take);
        drop(slot);
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(payload) => {
                let error = corrupt(&self.path, format_args!("redb panicked reading it: {}", panic_text(payload.as_ref())));
                self.mark_corrupt(&error);
                return Err(error);
            }
        };
        // A record that does not decode is reported but not fatal (no fault).
        match (&outcome, fault) {
            (Err(error), Some(Fault::Corrupted)) => self.mark_corrupt(error),
            (Err(error), Some(Fault::Io)) => {
                tracing::warn!(file = %self.path.display(), error = %error, "state store I/O error; reopening the database");
                if let Err(reopen) = self.reopen(Some(epoch)) {
                    tracing::error!(file = %self.path.display(), error = %reopen, "cannot reopen the database; the next operation tries again");
                }
            }
            _ => {}
        }
        outcome
    }

    fn mark_corrupt(&self, error: &StoreError) {
        let mut slot = self.slot.write().unwrap_or_else(PoisonError::into_inner);
        if slot.corrupt.is_none() {
            tracing::error!(
                file = %self.path.display(),
                error = %error,
                "the database file is corrupt: refusing writes from now on; stop Drydock and restore the file from a backup"
            );
            slot.corrupt = Some(match error {
                StoreError::Corrupt { detail } => detail.clone(),
                other => other.to_string(),
            });
        }
    }

    /// Close the database and open it again, unless another worker already
    /// did since `failed` (the epoch the caller's transaction ran in; `None`:
    /// only when no database is open).
    fn reopen(&self, failed: Option<u64>) -> StoreResult<()> {
        let mut slot = self.slot.write().unwrap_or_else(PoisonError::into_inner);
        match failed {
            Some(epoch) if slot.epoch != epoch => return Ok(()),
            None if slot.db.is_some() => return Ok(()),
            _ => {}
        }
        slot.epoch += 1;
        if let Some(old) = slot.db.take()
            && let Err(error) = old.close()
        {
            tracing::debug!(file = %self.path.display(), error = %error, "closing the failed database handle");
        }
        let db = contain(&self.path, || Database::builder().open(&self.path).map_err(|e| classify(&self.path, e)))?;
        tracing::info!(file = %self.path.display(), "database reopened");
        slot.db = Some(db);
        Ok(())
    }
}

/// How much room the writability check wants next to the store: a few
/// ordinary commits' worth.
const HEADROOM: usize = 256 * 1024;

/// Whether the file system holding the store has [`HEADROOM`] bytes free:
/// write that much to a probe file beside it, then remove it. Only a full
/// disk or quota counts; a probe file that cannot be made for another
/// reason (a read-only directory with a writable store file) proves nothing
/// and is ignored.
fn headroom(path: &Path) -> StoreResult<()> {
    use std::io::Write;
    let mut name = path.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(".writable-probe");
    let probe = path.with_file_name(name);
    let written = std::fs::File::create(&probe).and_then(|mut file| {
        let chunk = [0u8; 16 * 1024];
        for _ in 0..HEADROOM / chunk.len() {
            file.write_all(&chunk)?;
        }
        file.sync_data()
    });
    let _ = std::fs::remove_file(&probe);
    match written {
        Err(error) if is_full(&error) => Err(StoreError::Full {
            detail: format!("less than {} KiB left beside database file {} ({error})", HEADROOM / 1024, path.display()),
        }),
        Err(error) => {
            tracing::debug!(file = %probe.display(), error = %error, "cannot write the free-space probe; not counted");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// Open an existing store file, or (with `create`) create one where nothing
/// exists. Only a path that does not exist is created: an empty file, a
/// directory, a FIFO or garbage is refused, never initialised over.
fn open_database(path: &Path, create: bool) -> StoreResult<(Database, Integrity)> {
    let file = path.display();
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => {
            let new = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(path).map_err(|e| classify(path, e))?;
            let backend = redb::backends::FileBackend::new(new).map_err(|e| classify(path, e))?;
            let db = Database::builder().create_with_backend(backend).map_err(|e| classify(path, e))?;
            return Ok((db, Integrity::Created));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::Unavailable { detail: format!("database file {file} does not exist") });
        }
        Err(error) => return Err(StoreError::Unavailable { detail: format!("cannot read database file {file}: {error}") }),
    };
    if !metadata.is_file() {
        let what = if metadata.is_dir() { "a directory" } else { "not a regular file" };
        return Err(StoreError::Corrupt {
            detail: format!("{file} is {what}, not a Drydock store; point the store at a redb file, or at a path that does not exist yet"),
        });
    }
    if metadata.len() == 0 {
        return Err(StoreError::Corrupt {
            detail: format!(
                "database file {file} is empty (0 bytes), not a Drydock store: if it held one, restore it from a backup; \
                 to start an empty store, delete the file"
            ),
        });
    }
    let plain = std::panic::catch_unwind(AssertUnwindSafe(|| Database::builder().open(path)));
    match plain {
        Ok(Ok(mut db)) => {
            let integrity = contain(path, || match db.check_integrity() {
                Ok(true) => Ok(Integrity::Clean),
                Ok(false) => Ok(Integrity::Repaired),
                Err(error) => Err(classify(path, error)),
            })?;
            Ok((db, integrity))
        }
        // A plain open trusts the file and may fail, or panic, on damage an
        // open that checks every page can still repair.
        Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Corrupted(_)))) | Err(_) => {
            let checked =
                contain(path, || Database::builder().set_check_integrity_on_open(true).open(path).map_err(|e| classify(path, e)))?;
            Ok((checked, Integrity::Repaired))
        }
        Ok(Err(error)) => Err(classify(path, error)),
    }
}

/// The schema version a Drydock store records, `None` when the file holds
/// no Drydock store.
fn drydock_version(txn: &ReadTransaction, path: &Path) -> StoreResult<Option<u64>> {
    match txn.open_table(META) {
        Ok(meta) => Ok(r!(path, meta.get("schema_version")).map(|value| value.value())),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(error) => Err(classify(path, error)),
    }
}

fn newer_schema(path: &Path, version: u64) -> StoreError {
    StoreError::Corrupt {
        detail: format!(
            "database file {} is at schema version {version}, newer than this Drydock understands ({SCHEMA_VERSION}); upgrade Drydock",
            path.display()
        ),
    }
}

/// Create the tables a new store needs; refuse a file at a newer schema, or
/// a redb file that holds something other than a Drydock store.
fn migrate(db: &Database, path: &Path) -> StoreResult<()> {
    let txn = db.begin_write().map_err(|e| classify(path, e))?;
    {
        let tables: Vec<String> = r!(path, txn.list_tables()).map(|table| table.name().to_owned()).collect();
        let mut meta = r!(path, txn.open_table(META));
        let version = r!(path, meta.get("schema_version")).map(|v| v.value());
        match version {
            Some(version) if version > SCHEMA_VERSION => return Err(newer_schema(path, version)),
            // Older files are read as they are; from now on they hold
            // records an older Drydock cannot read, which it then refuses.
            Some(version) if version < SCHEMA_VERSION => {
                r!(path, meta.insert("schema_version", SCHEMA_VERSION));
            }
            Some(_) => {}
            None if tables.is_empty() => {
                r!(path, meta.insert("schema_version", SCHEMA_VERSION));
            }
            None => {
                return Err(StoreError::Corrupt {
                    detail: format!(
                        "database file {} is a redb file with tables ({}) but no Drydock store in it; point the store elsewhere",
                        path.display(),
                        tables.join(", ")
                    ),
                });
            }
        }
    }
    for result in [
        txn.open_table(TASKS).map(drop),
        txn.open_table(TASK_ORDER).map(drop),
        txn.open_table(TASK_STATUS).map(drop),
        txn.open_table(TASK_PARENT).map(drop),
        txn.open_table(MESSAGES).map(drop),
        txn.open_table(BUILD_DATA).map(drop),
        txn.open_table(BUILD_BY_NODE).map(drop),
        txn.open_table(BUILD_BY_TASK).map(drop),
        txn.open_table(BA_CONTEXT).map(drop),
        txn.open_table(BA_STATUS).map(drop),
        txn.open_table(BA_BY_NODE).map(drop),
        txn.open_table(DESIGNS).map(drop),
        txn.open_table(DESIGN_PARTS).map(drop),
        txn.open_table(leases::LEASES).map(drop),
    ] {
        result.map_err(|e| classify(path, e))?;
    }
    txn.commit().map_err(|e| classify(path, e))
}

fn get_task<T: ReadableTable<Bytes, Bytes>>(tasks: &T, path: &Path, id: TaskId) -> StoreResult<Option<Task>> {
    match r!(path, tasks.get(id.to_bytes().as_slice())) {
        Some(bytes) => Ok(Some(codec::decode_task(bytes.value())?)),
        None => Ok(None),
    }
}

/// Room reserved up front for a page: the whole page when it is small,
/// else a start (a page is rarely as long as the largest one allowed).
fn page_capacity(limit: usize) -> usize {
    limit.clamp(1, 256)
}

/// One page of the task listing, through the narrowest index, each task
/// made into a `T` by `entry` as it is read (so a page is built once, in
/// place, not built and then copied into another shape).
fn list_page<T>(
    txn: &ReadTransaction,
    path: &Path,
    query: &TaskQuery,
    mut entry: impl FnMut(Task) -> StoreResult<T>,
) -> StoreResult<TaskPage<T>> {
    let tasks = r!(path, txn.open_table(TASKS));
    // Pick the narrowest index; every index value is a task id.
    let (table, prefix) = match (query.status, query.parent) {
        (_, ParentFilter::Of(parent)) => (TASK_PARENT, parent.to_bytes().to_vec()),
        (Some(status), _) => (TASK_STATUS, vec![status_byte(status)]),
        _ => (TASK_ORDER, Vec::new()),
    };
    let index = r!(path, txn.open_table(table));
    let start = match query.after {
        Some(cursor) => {
            let mut key = prefixed(&prefix, &order_key(cursor.created, cursor.id));
            key.push(0);
            key
        }
        None => prefix.clone(),
    };
    let end = prefix_end(&prefix);
    let limit = query.limit.max(1);
    let mut out = Vec::with_capacity(page_capacity(limit));
    let mut last = None;
    let mut more = false;
    for item in r!(path, index.range(start.as_slice()..end.as_slice())) {
        let (_, id) = r!(path, item);
        let id = TaskId::from_bytes(id.value().try_into().map_err(|_| StoreError::Corrupt { detail: "task index entry".into() })?);
        let Some(task) = get_task(&tasks, path, id)? else { continue };
        if !query.matches(&task) {
            continue;
        }
        if out.len() == limit {
            more = true;
            break;
        }
        last = Some(TaskCursor { created: task.created, id: task.id });
        out.push(entry(task)?);
    }
    Ok(TaskPage { tasks: out, next: if more { last } else { None } })
}

/// A task's messages in insertion order (their keys are the task id and a
/// global sequence number).
fn messages_of<T: ReadableTable<Bytes, Bytes>>(messages: &T, path: &Path, task: TaskId) -> StoreResult<Vec<StatusMessage>> {
    // Keys are the task id and 8 bytes: from the id to the id and 0xff…
    let start = task.to_bytes();
    let mut end = [0xff; 24];
    end[..16].copy_from_slice(&start);
    let mut out = Vec::new();
    for entry in r!(path, messages.range(start.as_slice()..=end.as_slice())) {
        let (_, value) = r!(path, entry);
        out.push(codec::decode_message(value.value())?);
    }
    Ok(out)
}

fn put_task(txn: &WriteTransaction, path: &Path, task: &Task, previous: Option<&Task>) -> StoreResult<()> {
    let mut tasks = r!(path, txn.open_table(TASKS));
    r!(path, tasks.insert(task.id.to_bytes().as_slice(), codec::encode_task(task).as_slice()));
    let order = order_key(task.created, task.id);
    if previous.is_none() {
        let mut by_order = r!(path, txn.open_table(TASK_ORDER));
        r!(path, by_order.insert(order.as_slice(), task.id.to_bytes().as_slice()));
    }
    if previous.is_none_or(|old| old.status != task.status) {
        let mut by_status = r!(path, txn.open_table(TASK_STATUS));
        if let Some(old) = previous {
            r!(path, by_status.remove(prefixed(&[status_byte(old.status)], &order).as_slice()));
        }
        r!(path, by_status.insert(prefixed(&[status_byte(task.status)], &order).as_slice(), task.id.to_bytes().as_slice()));
    }
    if previous.is_none_or(|old| old.parent != task.parent) {
        let mut by_parent = r!(path, txn.open_table(TASK_PARENT));
        if let Some(old_parent) = previous.and_then(|old| old.parent) {
            r!(path, by_parent.remove(prefixed(&old_parent.to_bytes(), &order).as_slice()));
        }
        if let Some(parent) = task.parent {
            r!(path, by_parent.insert(prefixed(&parent.to_bytes(), &order).as_slice(), task.id.to_bytes().as_slice()));
        }
    }
    Ok(())
}

fn delete_task(txn: &WriteTransaction, path: &Path, task: &Task) -> StoreResult<usize> {
    let order = order_key(task.created, task.id);
    r!(path, r!(path, txn.open_table(TASKS)).remove(task.id.to_bytes().as_slice()));
    r!(path, r!(path, txn.open_table(TASK_ORDER)).remove(order.as_slice()));
    r!(path, r!(path, txn.open_table(TASK_STATUS)).remove(prefixed(&[status_byte(task.status)], &order).as_slice()));
    if let Some(parent) = task.parent {
        r!(path, r!(path, txn.open_table(TASK_PARENT)).remove(prefixed(&parent.to_bytes(), &order).as_slice()));
    }
    let mut messages = r!(path, txn.open_table(MESSAGES));
    let prefix = task.id.to_bytes();
    let keys: Vec<Vec<u8>> = r!(path, messages.range(prefix.as_slice()..prefix_end(&prefix).as_slice()))
        .map(|entry| entry.map(|(key, _)| key.value().to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| classify(path, e))?;
    for key in &keys {
        r!(path, messages.remove(key.as_slice()));
    }
    Ok(keys.len())
}

fn task_not_found(id: TaskId) -> StoreError {
    StoreError::not_found(format!("task {id}"))
}

fn next_counter(txn: &WriteTransaction, path: &Path, name: &str) -> StoreResult<u64> {
    let mut meta = r!(path, txn.open_table(META));
    let next = r!(path, meta.get(name)).map(|value| value.value()).unwrap_or(0) + 1;
    r!(path, meta.insert(name, next));
    Ok(next)
}

#[async_trait]
impl StateStore for RedbStore {
    fn backend_name(&self) -> &'static str {
        "redb"
    }

    async fn now(&self) -> StoreResult<DateTime<Utc>> {
        Ok(Utc::now())
    }

    fn exclusive(&self) -> bool {
        true
    }

    fn task_revision(&self) -> Option<u64> {
        Some(self.shared.revision.load(std::sync::atomic::Ordering::Acquire))
    }

    async fn ping(&self) -> StoreResult<()> {
        let corrupt = self.shared.read_slot().corrupt.clone();
        if let Some(detail) = corrupt {
            return Err(StoreError::Corrupt { detail });
        }
        self.read(|txn, path| r!(path, txn.open_table(META)).get("schema_version").map(drop).map_err(|e| classify(path, e))).await
    }

    async fn check_writable(&self) -> StoreResult<()> {
        // redb reuses pages freed by earlier commits, so a small commit can
        // succeed on a full disk: first make sure the file system has room
        // for the store to grow, then commit one small key.
        let path = self.shared.path.clone();
        tokio::task::spawn_blocking(move || headroom(&path)).await.map_err(|error| worker_failed(&self.shared.path, error))??;
        let stamp = u64::try_from(Utc::now().timestamp_micros()).unwrap_or_default();
        self.write(move |txn, path| {
            r!(path, r!(path, txn.open_table(META)).insert("writable_probe", stamp));
            Ok(())
        })
        .await
    }

    async fn design_create(&self) -> StoreResult<DesignRecord> {
        let record = DesignRecord { id: TaskId::generate(), created: Utc::now(), part_count: 0 };
        let row = encode(&DesignRow { created: record.created, part_count: 0 })?;
        let id = record.id;
        self.write(move |txn, path| {
            r!(path, r!(path, txn.open_table(DESIGNS)).insert(id.to_bytes().as_slice(), row.as_slice()));
            Ok(())
        })
        .await?;
        Ok(record)
    }

    async fn design_get(&self, id: TaskId) -> StoreResult<DesignRecord> {
        self.read(move |txn, path| {
            let designs = r!(path, txn.open_table(DESIGNS));
            let row = r!(path, designs.get(id.to_bytes().as_slice())).ok_or_else(|| StoreError::not_found(format!("design {id}")))?;
            let row: DesignRow = decode(row.value(), "design")?;
            Ok(DesignRecord { id, created: row.created, part_count: row.part_count })
        })
        .await
    }

    async fn design_part_add(&self, id: TaskId, source: &str, content: &[u8]) -> StoreResult<DesignPart> {
        let source = source.to_owned();
        let content = content.to_vec();
        self.write(move |txn, path| {
            let mut designs = r!(path, txn.open_table(DESIGNS));
            let mut row: DesignRow = match r!(path, designs.get(id.to_bytes().as_slice())) {
                Some(row) => decode(row.value(), "design")?,
                None => return Err(StoreError::not_found(format!("design {id}"))),
            };
            let sequence = row.part_count as u32;
            row.part_count += 1;
            r!(path, designs.insert(id.to_bytes().as_slice(), encode(&row)?.as_slice()));
            let added = Utc::now();
            let part = PartRow {
                source: source.clone(),
                content: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &content),
                added,
            };
            let key = prefixed(&id.to_bytes(), &sequence.to_be_bytes());
            r!(path, r!(path, txn.open_table(DESIGN_PARTS)).insert(key.as_slice(), encode(&part)?.as_slice()));
            Ok(DesignPart { design_id: id, sequence, source, content, added })
        })
        .await
    }

    async fn design_list(&self, after: Option<TaskId>, limit: usize) -> StoreResult<Vec<DesignRecord>> {
        self.read(move |txn, path| {
            let designs = r!(path, txn.open_table(DESIGNS));
            let mut out = Vec::new();
            let start = after.map(|after| after.to_bytes());
            let range = match &start {
                Some(start) => r!(path, designs.range::<&[u8]>((std::ops::Bound::Excluded(start.as_slice()), std::ops::Bound::Unbounded))),
                None => r!(path, designs.range::<&[u8]>(..)),
            };
            for entry in range.take(limit) {
                let (key, value) = r!(path, entry);
                let id = <[u8; 16]>::try_from(key.value())
                    .map(TaskId::from_bytes)
                    .map_err(|_| StoreError::Corrupt { detail: "design key".into() })?;
                let row: DesignRow = decode(value.value(), "design")?;
                out.push(DesignRecord { id, created: row.created, part_count: row.part_count });
            }
            Ok(out)
        })
        .await
    }

    async fn design_parts(&self, id: TaskId) -> StoreResult<Vec<DesignPart>> {
        self.read(move |txn, path| {
            if r!(path, r!(path, txn.open_table(DESIGNS)).get(id.to_bytes().as_slice())).is_none() {
                return Err(StoreError::not_found(format!("design {id}")));
            }
            let parts = r!(path, txn.open_table(DESIGN_PARTS));
            let prefix = id.to_bytes();
            let mut out = Vec::new();
            for entry in r!(path, parts.range(prefix.as_slice()..prefix_end(&prefix).as_slice())) {
                let (key, value) = r!(path, entry);
                let row: PartRow = decode(value.value(), "design part")?;
                let sequence = u32::from_be_bytes(
                    key.value()[16..20].try_into().map_err(|_| StoreError::Corrupt { detail: "design part key".into() })?,
                );
                let content = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, row.content.as_bytes())
                    .map_err(|_| StoreError::Corrupt { detail: "stored design part is not base64".into() })?;
                out.push(DesignPart { design_id: id, sequence, source: row.source, content, added: row.added });
            }
            Ok(out)
        })
        .await
    }

    async fn task_create(&self, task: &Task) -> StoreResult<Task> {
        let mut stored = task.clone();
        stored.generation = 1;
        self.write(move |txn, path| {
            if get_task(&r!(path, txn.open_table(TASKS)), path, stored.id)?.is_some() {
                return Err(StoreError::conflict(format!("task {} already exists", stored.id)));
            }
            put_task(txn, path, &stored, None)?;
            Ok(stored)
        })
        .await
    }

    async fn task_import(&self, tasks: &[Task]) -> StoreResult<()> {
        let tasks: Vec<Task> = tasks
            .iter()
            .cloned()
            .map(|mut task| {
                task.generation = 1;
                task
            })
            .collect();
        let running_root = tasks.iter().any(|task| task.status == TaskStatus::Running && task.parent.is_none());
        self.write(move |txn, path| {
            for task in &tasks {
                if get_task(&r!(path, txn.open_table(TASKS)), path, task.id)?.is_some() {
                    return Err(StoreError::conflict(format!("task {} already exists", task.id)));
                }
                put_task(txn, path, task, None)?;
            }
            Ok(())
        })
        .await?;
        if running_root {
            // The next admission pass leases them (redb_store/leases.rs).
            self.shared.orphans_leased.store(false, std::sync::atomic::Ordering::Release);
        }
        Ok(())
    }

    async fn task_get(&self, id: TaskId) -> StoreResult<Task> {
        self.read(move |txn, path| get_task(&r!(path, txn.open_table(TASKS)), path, id)?.ok_or_else(|| task_not_found(id))).await
    }

    async fn task_get_many(&self, ids: &[TaskId]) -> StoreResult<Vec<Task>> {
        let ids = ids.to_vec();
        self.read(move |txn, path| {
            let tasks = r!(path, txn.open_table(TASKS));
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(task) = get_task(&tasks, path, id)? {
                    out.push(task);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn task_list(&self, query: &TaskQuery) -> StoreResult<TaskPage> {
        let query = query.clone();
        self.read(move |txn, path| list_page(txn, path, &query, Ok)).await
    }

    async fn task_list_with_messages(&self, query: &TaskQuery) -> StoreResult<TaskPage<TaskWithMessages>> {
        let query = query.clone();
        self.read(move |txn, path| {
            let messages = r!(path, txn.open_table(MESSAGES));
            list_page(txn, path, &query, |task| Ok(TaskWithMessages { messages: messages_of(&messages, path, task.id)?, task }))
        })
        .await
    }

    async fn task_get_many_with_messages(&self, ids: &[TaskId]) -> StoreResult<Vec<TaskWithMessages>> {
        let ids = ids.to_vec();
        self.read(move |txn, path| {
            let tasks = r!(path, txn.open_table(TASKS));
            let messages = r!(path, txn.open_table(MESSAGES));
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(task) = get_task(&tasks, path, id)? {
                    out.push(TaskWithMessages { messages: messages_of(&messages, path, id)?, task });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn task_children(&self, id: TaskId) -> StoreResult<Vec<Task>> {
        let mut query = TaskQuery { parent: ParentFilter::Of(id), limit: 10_000, ..TaskQuery::default() };
        let mut children = Vec::new();
        loop {
            let page = self.task_list(&query).await?;
            children.extend(page.tasks);
            match page.next {
                Some(cursor) => query.after = Some(cursor),
                None => return Ok(children),
            }
        }
    }

    async fn task_update(&self, task: &Task, guard: UpdateGuard) -> StoreResult<Task> {
        let update = task.clone();
        self.write(move |txn, path| {
            let previous = get_task(&r!(path, txn.open_table(TASKS)), path, update.id)?.ok_or_else(|| task_not_found(update.id))?;
            let mut stored = previous.clone();
            apply_update(&mut stored, &update, guard, Utc::now())?;
            put_task(txn, path, &stored, Some(&previous))?;
            Ok(stored)
        })
        .await
    }

    async fn task_add_subtask(&self, parent: TaskId, child: TaskId) -> StoreResult<()> {
        self.write(move |txn, path| {
            let (parent_task, child_task) = {
                let tasks = r!(path, txn.open_table(TASKS));
                (
                    get_task(&tasks, path, parent)?.ok_or_else(|| task_not_found(parent))?,
                    get_task(&tasks, path, child)?.ok_or_else(|| task_not_found(child))?,
                )
            };
            if parent_task.status == TaskStatus::Terminating {
                return Err(StoreError::conflict(format!("task {parent} is terminating")));
            }
            if !parent_task.subtasks.contains(&child) {
                let mut updated = parent_task.clone();
                updated.subtasks.push(child);
                updated.generation += 1;
                put_task(txn, path, &updated, Some(&parent_task))?;
            }
            let mut updated_child = child_task.clone();
            updated_child.parent = Some(parent);
            updated_child.generation += 1;
            put_task(txn, path, &updated_child, Some(&child_task))
        })
        .await
    }

    async fn task_mark_terminate(&self, id: TaskId, by: &str, propagate: bool) -> StoreResult<()> {
        let by = by.to_owned();
        self.write(move |txn, path| {
            let now = Utc::now();
            let mut pending = vec![id];
            let mut seen = std::collections::HashSet::new();
            let mut first = true;
            while let Some(next) = pending.pop() {
                if !seen.insert(next) {
                    continue;
                }
                let found = get_task(&r!(path, txn.open_table(TASKS)), path, next)?;
                let Some(previous) = found else {
                    if first {
                        return Err(task_not_found(id));
                    }
                    continue;
                };
                first = false;
                let mut task = previous.clone();
                crate::task::aggregate::request_termination(&mut task, &by, now);
                task.generation += 1;
                if propagate {
                    pending.extend(task.subtasks.iter().copied());
                }
                put_task(txn, path, &task, Some(&previous))?;
            }
            Ok(())
        })
        .await
    }

    async fn task_purge(&self, cutoff: DateTime<Utc>) -> StoreResult<PurgeReport> {
        self.write(move |txn, path| {
            let mut report = PurgeReport::default();
            let doomed: Vec<Task> = {
                let tasks = r!(path, txn.open_table(TASKS));
                let mut stored = std::collections::HashMap::new();
                for entry in r!(path, tasks.iter()) {
                    let (_, value) = r!(path, entry);
                    let task = codec::decode_task(value.value())?;
                    stored.insert(task.id, task);
                }
                let candidates: Vec<PurgeCandidate> = stored
                    .values()
                    .map(|task| PurgeCandidate { id: task.id, parent: task.parent, status: task.status, created: task.created })
                    .collect();
                purge_plan(&candidates, cutoff).into_iter().filter_map(|id| stored.remove(&id)).collect()
            };
            for task in doomed {
                report.messages += delete_task(txn, path, &task)?;
                report.tasks += 1;
            }
            Ok(report)
        })
        .await
    }

    async fn result_message_add(&self, task: TaskId, message: &StatusMessage) -> StoreResult<()> {
        let record = codec::encode_message(message);
        self.write(move |txn, path| {
            let sequence = next_counter(txn, path, "message_sequence")?;
            let key = prefixed(&task.to_bytes(), &sequence.to_be_bytes());
            r!(path, r!(path, txn.open_table(MESSAGES)).insert(key.as_slice(), record.as_slice()));
            Ok(())
        })
        .await
    }

    async fn result_messages(&self, task: TaskId) -> StoreResult<Vec<StatusMessage>> {
        self.read(move |txn, path| messages_of(&r!(path, txn.open_table(MESSAGES)), path, task)).await
    }

    async fn build_data_insert(&self, record: &BuildData) -> StoreResult<()> {
        let row = encode(&BuildDataRecord {
            node_name: record.node_name.clone(),
            task_id: record.task_id.0,
            collected_date: record.collected_date,
            generator: record.generator.clone(),
            data_format: record.data_format.clone(),
            data_element: record.data_element.clone(),
        })?;
        let node = record.node_name.clone();
        let task = record.task_id;
        self.write(move |txn, path| {
            let sequence = next_counter(txn, path, "build_data_sequence")?;
            r!(path, r!(path, txn.open_table(BUILD_DATA)).insert(sequence, row.as_slice()));
            r!(path, r!(path, txn.open_table(BUILD_BY_NODE)).insert(node_key(&node, &sequence.to_be_bytes()).as_slice(), sequence));
            r!(
                path,
                r!(path, txn.open_table(BUILD_BY_TASK)).insert(prefixed(&task.to_bytes(), &sequence.to_be_bytes()).as_slice(), sequence)
            );
            Ok(())
        })
        .await
    }

    async fn build_data_for_node(&self, node: &str, latest: bool) -> StoreResult<Vec<BuildData>> {
        let prefix = node_key(node, &[]);
        let records = self.read(move |txn, path| build_data_range(txn, path, BUILD_BY_NODE, &prefix)).await?;
        Ok(if latest { latest_per_generator(records) } else { records })
    }

    async fn build_data_for_task(&self, task: TaskId) -> StoreResult<Vec<BuildData>> {
        let prefix = task.to_bytes().to_vec();
        self.read(move |txn, path| build_data_range(txn, path, BUILD_BY_TASK, &prefix)).await
    }

    async fn bootaction_context_upsert(&self, context: &BootActionContext) -> StoreResult<()> {
        let row = encode(&ContextRecord { task_id: context.task_id.0, identity_key: hex::encode(context.identity_key) })?;
        let node = context.node_name.clone();
        self.write(move |txn, path| {
            r!(path, r!(path, txn.open_table(BA_CONTEXT)).insert(node.as_str(), row.as_slice()));
            Ok(())
        })
        .await
    }

    async fn bootaction_begin(&self, context: &BootActionContext, statuses: &[BootActionStatus]) -> StoreResult<()> {
        check_bootaction_begin(context, statuses)?;
        let context_row = encode(&ContextRecord { task_id: context.task_id.0, identity_key: hex::encode(context.identity_key) })?;
        let rows: Vec<([u8; 16], Vec<u8>)> = statuses
            .iter()
            .map(|status| Ok((status.action_id.0.to_bytes(), encode(&BootActionRecord::from_status(status))?)))
            .collect::<StoreResult<_>>()?;
        let node = context.node_name.clone();
        let task = context.task_id;
        self.write(move |txn, path| {
            let prefix = node_key(&node, &[]);
            let mut index = r!(path, txn.open_table(BA_BY_NODE));
            let mut table = r!(path, txn.open_table(BA_STATUS));
            // This task's instances for the node: an earlier attempt's.
            let mut earlier: Vec<Vec<u8>> = Vec::new();
            for entry in r!(path, index.range(prefix.as_slice()..prefix_end(&prefix).as_slice())) {
                let (_, id) = r!(path, entry);
                if let Some(value) = r!(path, table.get(id.value()))
                    && decode::<BootActionRecord>(value.value(), "boot action")?.task_id == task.0
                {
                    earlier.push(id.value().to_vec());
                }
            }
            for id in &earlier {
                r!(path, table.remove(id.as_slice()));
                r!(path, index.remove(node_key(&node, id).as_slice()));
            }
            for (id, row) in &rows {
                if r!(path, table.get(id.as_slice())).is_some() {
                    // The transaction is dropped uncommitted: nothing changes.
                    return Err(StoreError::conflict(format!("boot action {} already exists", ulid::Ulid::from_bytes(*id))));
                }
                r!(path, table.insert(id.as_slice(), row.as_slice()));
                r!(path, index.insert(node_key(&node, id).as_slice(), id.as_slice()));
            }
            r!(path, r!(path, txn.open_table(BA_CONTEXT)).insert(node.as_str(), context_row.as_slice()));
            Ok(())
        })
        .await
    }

    async fn bootaction_context(&self, node: &str) -> StoreResult<Option<BootActionContext>> {
        let node = node.to_owned();
        self.read(move |txn, path| {
            let table = r!(path, txn.open_table(BA_CONTEXT));
            let Some(value) = r!(path, table.get(node.as_str())) else { return Ok(None) };
            let row: ContextRecord = decode(value.value(), "boot action context")?;
            Ok(Some(BootActionContext {
                node_name: node.clone(),
                task_id: TaskId(row.task_id),
                identity_key: key32(&row.identity_key, "context")?,
            }))
        })
        .await
    }

    async fn bootaction_status_insert(&self, status: &BootActionStatus) -> StoreResult<()> {
        let row = encode(&BootActionRecord::from_status(status))?;
        let id = status.action_id.0.to_bytes();
        let node = status.node_name.clone();
        self.write(move |txn, path| {
            let mut table = r!(path, txn.open_table(BA_STATUS));
            if r!(path, table.get(id.as_slice())).is_some() {
                return Err(StoreError::conflict(format!("boot action {} already exists", ulid::Ulid::from_bytes(id))));
            }
            r!(path, table.insert(id.as_slice(), row.as_slice()));
            r!(path, r!(path, txn.open_table(BA_BY_NODE)).insert(node_key(&node, &id).as_slice(), id.as_slice()));
            Ok(())
        })
        .await
    }

    async fn bootaction_status_get(&self, action_id: BootActionId) -> StoreResult<BootActionStatus> {
        self.read(move |txn, path| {
            let table = r!(path, txn.open_table(BA_STATUS));
            let value = r!(path, table.get(action_id.0.to_bytes().as_slice()))
                .ok_or_else(|| StoreError::not_found(format!("boot action {action_id}")))?;
            decode::<BootActionRecord>(value.value(), "boot action")?.into_status()
        })
        .await
    }

    async fn bootaction_status_for_node(&self, node: &str) -> StoreResult<Vec<BootActionStatus>> {
        let prefix = node_key(node, &[]);
        self.read(move |txn, path| {
            let index = r!(path, txn.open_table(BA_BY_NODE));
            let table = r!(path, txn.open_table(BA_STATUS));
            let mut out = Vec::new();
            for entry in r!(path, index.range(prefix.as_slice()..prefix_end(&prefix).as_slice())) {
                let (_, id) = r!(path, entry);
                if let Some(value) = r!(path, table.get(id.value())) {
                    out.push(decode::<BootActionRecord>(value.value(), "boot action")?.into_status()?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn bootaction_status_update(&self, action_id: BootActionId, status: ActionResult) -> StoreResult<BootActionStatus> {
        self.write(move |txn, path| {
            let mut table = r!(path, txn.open_table(BA_STATUS));
            let key = action_id.0.to_bytes();
            let mut record = match r!(path, table.get(key.as_slice())) {
                Some(value) => decode::<BootActionRecord>(value.value(), "boot action")?.into_status()?,
                None => return Err(StoreError::not_found(format!("boot action {action_id}"))),
            };
            if record.is_final() {
                return Err(StoreError::conflict(format!("boot action {action_id} already reported {}", record.action_status)));
            }
            record.action_status = status;
            r!(path, table.insert(key.as_slice(), encode(&BootActionRecord::from_status(&record))?.as_slice()));
            Ok(record)
        })
        .await
    }

    async fn task_admit(&self, me: uuid::Uuid, lease: std::time::Duration, decide: Decide) -> StoreResult<Admitted> {
        self.admit(me, lease, decide).await
    }

    async fn task_lease_renew(&self, me: uuid::Uuid, tasks: &[TaskId], lease: std::time::Duration) -> StoreResult<Vec<TaskId>> {
        self.lease_renew(me, tasks, lease).await
    }

    async fn task_lease_release(&self, me: uuid::Uuid, tasks: &[TaskId]) -> StoreResult<()> {
        self.lease_release(me, tasks).await
    }

    async fn task_leases(&self) -> StoreResult<Vec<RunningTask>> {
        self.leases().await
    }
}

fn build_data_range(txn: &ReadTransaction, path: &Path, index: TableDefinition<Bytes, u64>, prefix: &[u8]) -> StoreResult<Vec<BuildData>> {
    let index = r!(path, txn.open_table(index));
    let table = r!(path, txn.open_table(BUILD_DATA));
    let mut out = Vec::new();
    for entry in r!(path, index.range(prefix..prefix_end(prefix).as_slice())) {
        let (_, sequence) = r!(path, entry);
        if let Some(value) = r!(path, table.get(sequence.value())) {
            let row: BuildDataRecord = decode(value.value(), "build data")?;
            out.push(BuildData {
                node_name: row.node_name,
                task_id: TaskId(row.task_id),
                collected_date: row.collected_date,
                generator: row.generator,
                data_format: row.data_format,
                data_element: row.data_element,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Action;

    #[tokio::test]
    async fn redb_store_conforms() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RedbStore::open(dir.path().join("drydock.redb")).expect("open");
        super::super::conformance::run_all(Arc::new(store)).await;
    }

    #[tokio::test]
    async fn the_revision_moves_with_every_write_and_only_then() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RedbStore::open(dir.path().join("drydock.redb")).expect("open");
        let start = store.task_revision().expect("redb counts its writes");
        let task = store.task_create(&Task::new(Action::Noop, None)).await.expect("create");
        let created = store.task_revision().expect("counted");
        assert!(created > start);
        store.task_get(task.id).await.expect("read");
        store.task_list_with_messages(&TaskQuery::default()).await.expect("list");
        assert_eq!(store.task_revision(), Some(created), "reads leave it");
        store.result_message_add(task.id, &StatusMessage::task_wide("hello", false)).await.expect("message");
        assert!(store.task_revision().expect("counted") > created);
        // A write that fails moves it too (it may have changed nothing, never less).
        let before = store.task_revision().expect("counted");
        store.task_create(&task).await.expect_err("duplicate");
        assert!(store.task_revision().expect("counted") > before);
    }
}

#[cfg(test)]
mod durability_tests {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    use super::*;
    use crate::store::StoreErrorKind;
    use crate::task::Action;

    fn writer_binary() -> PathBuf {
        crate::test_support::example_binary("redb_writer")
    }

    #[tokio::test]
    async fn every_acknowledged_write_survives_sigkill() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("crash.redb");
        for round in 0..3 {
            let mut child = Command::new(writer_binary())
                .arg(&path)
                .stdout(Stdio::piped())
                .spawn()
                .expect("start redb_writer (built by cargo test as an example)");
            let stdout = child.stdout.take().expect("stdout");
            let mut acked = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let line = line.expect("line");
                if let Some(id) = line.strip_prefix("acked ") {
                    acked.push(id.parse::<TaskId>().expect("task id"));
                }
                if acked.len() >= 150 + round * 50 {
                    break;
                }
            }
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
            // Crash recovery is not damage: the check at open calls it clean.
            let report = RedbStore::check(&path).expect("checks after SIGKILL");
            assert_eq!(report.integrity, Integrity::Clean, "round {round}");
            let store = RedbStore::open(&path).expect("reopens cleanly after SIGKILL");
            let found = store.task_get_many(&acked).await.expect("read back");
            assert_eq!(found.len(), acked.len(), "round {round}: every acknowledged task is there");
            for id in acked.iter().take(5) {
                assert_eq!(store.result_messages(*id).await.expect("messages").len(), 1);
            }
        }
    }

    #[tokio::test]
    async fn a_panic_inside_redb_is_corrupt_not_a_retry_and_stops_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RedbStore::open(dir.path().join("drydock.redb")).expect("open");
        let task = store.task_create(&Task::new(Action::Noop, None)).await.expect("create");
        // What redb does on some damaged pages: panic on the blocking pool.
        let shared = store.shared.clone();
        let error = tokio::task::spawn_blocking(move || {
            shared.run(Access::Read, |_, _| -> StoreResult<()> { panic!("called `Option::unwrap()` on a `None` value") })
        })
        .await
        .expect("the panic is contained in the worker")
        .expect_err("a panic is an error");
        assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{error}");
        assert!(!error.is_transient());
        assert!(error.to_string().contains("drydock.redb") && error.to_string().contains("restore"), "{error}");
        // From now on writes are refused and the health checks fail; what
        // still reads can be rescued.
        let write = store.task_create(&Task::new(Action::Noop, None)).await.expect_err("writes refused");
        assert_eq!(write.kind(), StoreErrorKind::Corrupt, "{write}");
        assert_eq!(store.ping().await.expect_err("unhealthy").kind(), StoreErrorKind::Corrupt);
        assert_eq!(store.check_writable().await.expect_err("unwritable").kind(), StoreErrorKind::Corrupt);
        assert_eq!(store.task_get(task.id).await.expect("reads go on").id, task.id);
    }

    #[test]
    fn corrupt_truncated_locked_and_newer_files_are_refused_clearly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let garbage = dir.path().join("garbage.redb");
        std::fs::write(&garbage, vec![0x5a; 8192]).expect("write");
        let error = RedbStore::open(&garbage).expect_err("garbage");
        assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{error}");
        assert!(error.to_string().contains("garbage.redb"), "{error}");

        let good = dir.path().join("good.redb");
        drop(RedbStore::open(&good).expect("create"));
        let bytes = std::fs::read(&good).expect("read");
        let truncated = dir.path().join("truncated.redb");
        std::fs::write(&truncated, &bytes[..bytes.len() / 3]).expect("write");
        match RedbStore::open(&truncated) {
            Err(error) => assert!(matches!(error.kind(), StoreErrorKind::Corrupt | StoreErrorKind::Unavailable), "{error}"),
            // redb may recover a truncated file to its last durable commit; that is fine too.
            Ok(store) => drop(store),
        }

        let store = RedbStore::open(&good).expect("open");
        let error = RedbStore::open(&good).expect_err("second open");
        assert_eq!(error.kind(), StoreErrorKind::Unavailable);
        assert!(error.to_string().contains("in use by another process"), "{error}");
        {
            let slot = store.shared.read_slot();
            let txn = slot.db.as_ref().expect("open").begin_write().expect("txn");
            txn.open_table(META).expect("meta").insert("schema_version", SCHEMA_VERSION + 1).expect("bump");
            txn.commit().expect("commit");
        }
        drop(store);
        let error = RedbStore::open(&good).expect_err("newer schema");
        assert_eq!(error.kind(), StoreErrorKind::Corrupt);
        assert!(error.to_string().contains("newer than this Drydock"), "{error}");
    }
}
