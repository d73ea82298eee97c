//! The PostgreSQL [`StateStore`]: several Drydock replicas share one
//! database with the original's schema (compat: api spec §4), so the Rust
//! service can also run against a database the Python one created.
//!
//! A connection pool (deadpool) serves every method; a method that must be
//! atomic over several statements runs them in one transaction. Time comes
//! from the database (`now()` in UTC), so leases do not depend on the
//! replicas' clocks. Connection failures are `Unavailable` (retry);
//! authentication and schema problems are reported once, clearly, at start-up.

mod leases;
mod listener;
mod migrations;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

use super::{
    Admitted, Decide, ParentFilter, PurgeReport, RunningTask, StateStore, StoreError, StoreResult, TaskCursor, TaskPage, TaskQuery,
    TaskWithMessages, UpdateGuard, check_bootaction_begin, latest_per_generator,
};
use crate::ids::{BootActionId, DesignRef, TaskId};
use crate::task::records::{BootActionContext, BootActionStatus, BuildData, DesignPart, DesignRecord};
use crate::task::{Action, ActionResult, RawJson, StatusMessage, Task, TaskResult, TaskStatus};

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    target: String,
    /// For the `LISTEN` connection, outside the pool.
    config: tokio_postgres::Config,
    /// Started by the first [`StateStore::task_events`] call.
    listener: std::sync::Arc<std::sync::OnceLock<listener::Listener>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("target", &self.target).finish()
    }
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Most connections in the pool.
    pub max_connections: usize,
    /// How long to wait for a connection (and to connect).
    pub connect_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions { max_connections: 16, connect_timeout: Duration::from_secs(5) }
    }
}

/// Map a driver error: connection problems are transient, unique
/// violations are conflicts, a full disk is `Full` (transient: writes work
/// again once space is freed), authentication and the rest are permanent.
fn classify(target: &str, error: tokio_postgres::Error) -> StoreError {
    if let Some(db) = error.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION {
            return StoreError::conflict(db.message().to_owned());
        }
        if *code == SqlState::DISK_FULL {
            return StoreError::Full { detail: format!("PostgreSQL at {target} has no space left: {}", db.message()) };
        }
        if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            return StoreError::Corrupt { detail: format!("PostgreSQL at {target} refused the credentials: {}", db.message()) };
        }
        if code.code().starts_with("08") || code.code().starts_with("57P") || *code == SqlState::TOO_MANY_CONNECTIONS {
            return StoreError::Unavailable { detail: format!("PostgreSQL at {target}: {}", db.message()) };
        }
        return StoreError::Corrupt { detail: format!("PostgreSQL at {target}: {} ({})", db.message(), code.code()) };
    }
    // No SQLSTATE: the connection failed or closed.
    let mut detail = error.to_string();
    if let Some(source) = std::error::Error::source(&error) {
        detail = format!("{detail}: {source}");
    }
    StoreError::Unavailable { detail: format!("PostgreSQL at {target}: {detail}") }
}

fn pool_error(target: &str, error: deadpool_postgres::PoolError) -> StoreError {
    match error {
        deadpool_postgres::PoolError::Backend(error) => classify(target, error),
        other => StoreError::Unavailable { detail: format!("PostgreSQL at {target}: {other}") },
    }
}

fn naive(time: DateTime<Utc>) -> NaiveDateTime {
    time.naive_utc()
}

fn utc(time: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(time, Utc)
}

fn id_from(bytes: &[u8]) -> StoreResult<TaskId> {
    let array: [u8; 16] =
        bytes.try_into().map_err(|_| StoreError::Corrupt { detail: format!("a stored task id has {} bytes", bytes.len()) })?;
    Ok(TaskId::from_bytes(array))
}

fn key32(bytes: &[u8]) -> StoreResult<[u8; 32]> {
    bytes.try_into().map_err(|_| StoreError::Corrupt { detail: format!("a stored identity key has {} bytes", bytes.len()) })
}

/// The task columns, in the order [`task_from_row`] reads them. The links
/// and the request context come back as their JSON text: the links are
/// usually `{}` and the request context is kept as text, so neither is
/// parsed into a value tree on the way.
const TASK_COLUMNS: &str = "task_id, parent_task_id, subtask_id_list, result_status, result_message, result_reason, \
     result_successes, result_failures, result_links::text, retry, status, created, created_by, updated, design_ref, \
     request_context::text, node_filter, action, terminated, terminated_by, terminate, generation";

fn links_json(links: &[(String, Vec<String>)]) -> serde_json::Value {
    serde_json::Value::Object(links.iter().map(|(rel, hrefs)| (rel.clone(), serde_json::json!(hrefs))).collect())
}

/// The links from the JSON text of their column (`{}` without a parser).
fn links_from(text: Option<&str>) -> Vec<(String, Vec<String>)> {
    let value = match text.map(str::trim) {
        None | Some("{}" | "null") => return Vec::new(),
        Some(text) => serde_json::from_str(text).ok(),
    };
    match value {
        Some(serde_json::Value::Object(map)) => map
            .into_iter()
            .map(|(rel, hrefs)| {
                let hrefs =
                    hrefs.as_array().map(|list| list.iter().filter_map(|h| h.as_str().map(str::to_owned)).collect()).unwrap_or_default();
                (rel, hrefs)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The JSON text of a column that the original stores double-encoded (a
/// JSON string holding JSON), given the column's own text: the inner JSON
/// when it is a string holding JSON, else the value itself (both forms are
/// accepted on read). PostgreSQL checked the column's text.
fn undouble_text(text: &str) -> RawJson {
    if text.trim_start().starts_with('"')
        && let Ok(inner) = serde_json::from_str::<String>(text)
        && let Ok(raw) = RawJson::parse(&inner)
    {
        return raw;
    }
    RawJson::from_stored(text)
}

/// A message's extra fields from the JSON text of their column (stored
/// double-encoded, compat §2.4; both forms are read): an object, else none.
fn extra_from(text: Option<&str>) -> serde_json::Map<String, serde_json::Value> {
    let Some(text) = text else { return serde_json::Map::new() };
    let inner;
    let object = if text.trim_start().starts_with('"') {
        match serde_json::from_str::<String>(text) {
            Ok(decoded) => {
                inner = decoded;
                inner.as_str()
            }
            Err(_) => return serde_json::Map::new(),
        }
    } else {
        text
    };
    if object.trim() == "{}" {
        return serde_json::Map::new();
    }
    serde_json::from_str(object).unwrap_or_default()
}

fn task_from_row(row: &Row) -> StoreResult<Task> {
    let get_err = |error: tokio_postgres::Error| StoreError::Corrupt { detail: format!("a stored task row is unreadable: {error}") };
    // Borrowed from the row where the value is only looked at.
    let id = id_from(row.try_get::<_, &[u8]>(0).map_err(get_err)?)?;
    let bad = |what: &str, value: &str| StoreError::Corrupt { detail: format!("stored task {id} has an unknown {what} '{value}'") };
    let parent: Option<&[u8]> = row.try_get(1).map_err(get_err)?;
    let subtasks: Option<Vec<&[u8]>> = row.try_get(2).map_err(get_err)?;
    let result_status: &str = row.try_get::<_, Option<&str>>(3).map_err(get_err)?.unwrap_or("incomplete");
    let status: &str = row.try_get::<_, Option<&str>>(10).map_err(get_err)?.unwrap_or("requested");
    let action: &str = row.try_get::<_, Option<&str>>(17).map_err(get_err)?.unwrap_or_default();
    Ok(Task {
        id,
        parent: parent.map(id_from).transpose()?,
        subtasks: subtasks.unwrap_or_default().into_iter().map(id_from).collect::<StoreResult<_>>()?,
        result: TaskResult {
            status: ActionResult::parse(result_status).ok_or_else(|| bad("result", result_status))?,
            message: row.try_get(4).map_err(get_err)?,
            reason: row.try_get(5).map_err(get_err)?,
            successes: row.try_get::<_, Option<Vec<String>>>(6).map_err(get_err)?.unwrap_or_default(),
            failures: row.try_get::<_, Option<Vec<String>>>(7).map_err(get_err)?.unwrap_or_default(),
            links: links_from(row.try_get(8).map_err(get_err)?),
        },
        retry: row.try_get::<_, Option<i32>>(9).map_err(get_err)?.unwrap_or(0).max(0) as u32,
        status: TaskStatus::parse(status).ok_or_else(|| bad("status", status))?,
        created: row.try_get::<_, Option<NaiveDateTime>>(11).map_err(get_err)?.map(utc).unwrap_or_default(),
        created_by: row.try_get(12).map_err(get_err)?,
        updated: row.try_get::<_, Option<NaiveDateTime>>(13).map_err(get_err)?.map(utc),
        design_ref: row.try_get::<_, Option<String>>(14).map_err(get_err)?.map(DesignRef),
        request_context: row.try_get::<_, Option<&str>>(15).map_err(get_err)?.map(undouble_text),
        node_filter: row.try_get(16).map_err(get_err)?,
        action: Action::parse(action).ok_or_else(|| bad("action", action))?,
        terminated: row.try_get::<_, Option<NaiveDateTime>>(18).map_err(get_err)?.map(utc),
        terminated_by: row.try_get(19).map_err(get_err)?,
        terminate: row.try_get::<_, Option<bool>>(20).map_err(get_err)?.unwrap_or(false),
        generation: row.try_get::<_, i64>(21).map_err(get_err)?.max(0) as u64,
    })
}

/// The column after the task columns of `SELECT page.*, <this> FROM (<a task
/// query>) page`: the task's messages as one text array of six runs of
/// equal length, each in insertion order — texts, errors (`true`/`false`),
/// context types, contexts, times (microseconds since the epoch, computed
/// exactly), extra fields (JSON text) — or NULL when it has none. Checked
/// first, so a task without messages costs an index probe rather than an
/// aggregate, and a page and its messages come back from one statement
/// (one snapshot).
const MESSAGES_COLUMN: &str = "CASE WHEN EXISTS (SELECT 1 FROM result_message e WHERE e.task_id = page.task_id) THEN \
     (SELECT array_agg(m.message::text ORDER BY m.sequence) || array_agg(m.error::text ORDER BY m.sequence) \
     || array_agg(m.context_type::text ORDER BY m.sequence) || array_agg(m.context::text ORDER BY m.sequence) \
     || array_agg((extract(epoch FROM date_trunc('second', m.ts))::bigint * 1000000 \
                   + extract(microseconds FROM m.ts)::bigint % 1000000)::text ORDER BY m.sequence) \
     || array_agg(m.extra::text ORDER BY m.sequence) \
     FROM result_message m WHERE m.task_id = page.task_id) END";

/// Where [`MESSAGES_COLUMN`] is in a row (after the task columns).
const MESSAGES_AT: usize = 22;

/// A status message from its stored columns (`extra` as its JSON text).
fn message_from(
    message: Option<String>,
    error: Option<bool>,
    context_type: Option<String>,
    context: Option<String>,
    timestamp: Option<NaiveDateTime>,
    extra: Option<&str>,
) -> StatusMessage {
    StatusMessage {
        message: message.unwrap_or_default(),
        error: error.unwrap_or(false),
        context_type: context_type.unwrap_or_default(),
        context: context.unwrap_or_default(),
        timestamp: timestamp.map(utc).unwrap_or_default(),
        extra: extra_from(extra),
    }
}

/// A task row followed by [`MESSAGES_COLUMN`].
fn task_with_messages_from_row(row: &Row) -> StoreResult<TaskWithMessages> {
    let task = task_from_row(row)?;
    let bad =
        |why: &dyn std::fmt::Display| StoreError::Corrupt { detail: format!("stored messages of task {} are unreadable: {why}", task.id) };
    let fields: Option<Vec<Option<&str>>> = row.try_get(MESSAGES_AT).map_err(|error| bad(&error))?;
    let Some(fields) = fields else { return Ok(TaskWithMessages { task, messages: Vec::new() }) };
    if fields.len() % 6 != 0 {
        return Err(bad(&"they came back misaligned"));
    }
    let count = fields.len() / 6;
    let mut messages = Vec::with_capacity(count);
    for at in 0..count {
        let field = |run: usize| fields[run * count + at];
        let timestamp = match field(4) {
            None => None,
            Some(micros) => {
                let micros: i64 = micros.parse().map_err(|_| bad(&format_args!("time '{micros}'")))?;
                Some(DateTime::from_timestamp_micros(micros).ok_or_else(|| bad(&format_args!("time {micros}")))?.naive_utc())
            }
        };
        messages.push(message_from(
            field(0).map(str::to_owned),
            field(1).map(|error| error == "true"),
            field(2).map(str::to_owned),
            field(3).map(str::to_owned),
            timestamp,
            field(5),
        ));
    }
    Ok(TaskWithMessages { task, messages })
}

/// The insert statement shared by `task_create` and `task_import`.
const TASK_INSERT: &str = "INSERT INTO tasks (task_id, parent_task_id, subtask_id_list, result_status, result_message, result_reason, \
     result_error_count, result_successes, result_failures, result_links, retry, status, created, created_by, updated, \
     design_ref, request_context, node_filter, action, terminated, terminated_by, terminate, generation) \
     VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, 1)";

/// A task as owned column values, in `TASK_INSERT`'s parameter order.
struct TaskRow {
    id: Vec<u8>,
    parent: Option<Vec<u8>>,
    subtasks: Vec<Vec<u8>>,
    result_status: &'static str,
    result_message: Option<String>,
    result_reason: Option<String>,
    successes: Vec<String>,
    failures: Vec<String>,
    links: serde_json::Value,
    retry: i32,
    status: &'static str,
    created: NaiveDateTime,
    created_by: Option<String>,
    updated: Option<NaiveDateTime>,
    design_ref: Option<String>,
    /// compat §4.1: the request context is stored double-encoded.
    request_context: Option<serde_json::Value>,
    node_filter: Option<serde_json::Value>,
    action: &'static str,
    terminated: Option<NaiveDateTime>,
    terminated_by: Option<String>,
    terminate: bool,
}

impl TaskRow {
    fn new(task: &Task) -> Self {
        TaskRow {
            id: task.id.to_bytes().to_vec(),
            parent: task.parent.map(|parent| parent.to_bytes().to_vec()),
            subtasks: task.subtasks.iter().map(|id| id.to_bytes().to_vec()).collect(),
            result_status: task.result.status.as_str(),
            result_message: task.result.message.clone(),
            result_reason: task.result.reason.clone(),
            successes: task.result.successes.clone(),
            failures: task.result.failures.clone(),
            links: links_json(&task.result.links),
            retry: task.retry as i32,
            status: task.status.as_str(),
            created: naive(task.created),
            created_by: task.created_by.clone(),
            updated: task.updated.map(naive),
            design_ref: task.design_ref.as_ref().map(|design| design.0.clone()),
            request_context: task.request_context.as_ref().map(|context| serde_json::Value::String(context.as_str().to_owned())),
            node_filter: task.node_filter.clone(),
            action: task.action.as_str(),
            terminated: task.terminated.map(naive),
            terminated_by: task.terminated_by.clone(),
            terminate: task.terminate,
        }
    }

    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 21] {
        [
            &self.id,
            &self.parent,
            &self.subtasks,
            &self.result_status,
            &self.result_message,
            &self.result_reason,
            &self.successes,
            &self.failures,
            &self.links,
            &self.retry,
            &self.status,
            &self.created,
            &self.created_by,
            &self.updated,
            &self.design_ref,
            &self.request_context,
            &self.node_filter,
            &self.action,
            &self.terminated,
            &self.terminated_by,
            &self.terminate,
        ]
    }
}

fn status_from_row(row: &Row) -> StoreResult<BootActionStatus> {
    let get_err = |error: tokio_postgres::Error| StoreError::Corrupt { detail: format!("a stored boot action row is unreadable: {error}") };
    let action_id: Vec<u8> = row.try_get(1).map_err(get_err)?;
    let action_id: [u8; 16] =
        action_id.as_slice().try_into().map_err(|_| StoreError::Corrupt { detail: "stored boot action id".into() })?;
    let status: String = row.try_get(5).map_err(get_err)?;
    Ok(BootActionStatus {
        node_name: row.try_get(0).map_err(get_err)?,
        action_id: BootActionId(ulid::Ulid::from_bytes(action_id)),
        action_name: row.try_get(2).map_err(get_err)?,
        task_id: id_from(&row.try_get::<_, Vec<u8>>(3).map_err(get_err)?)?,
        identity_key: key32(&row.try_get::<_, Vec<u8>>(4).map_err(get_err)?)?,
        action_status: ActionResult::parse(&status)
            .ok_or_else(|| StoreError::Corrupt { detail: format!("stored boot action status '{status}'") })?,
    })
}

fn build_data_from_row(row: &Row) -> StoreResult<BuildData> {
    let get_err = |error: tokio_postgres::Error| StoreError::Corrupt { detail: format!("a stored build data row is unreadable: {error}") };
    Ok(BuildData {
        node_name: row.try_get(0).map_err(get_err)?,
        task_id: id_from(&row.try_get::<_, Vec<u8>>(1).map_err(get_err)?)?,
        collected_date: utc(row.try_get(2).map_err(get_err)?),
        generator: row.try_get(3).map_err(get_err)?,
        data_format: row.try_get(4).map_err(get_err)?,
        data_element: row.try_get(5).map_err(get_err)?,
    })
}

impl PostgresStore {
    /// Connect to `url` (a libpq URL), apply pending migrations, and refuse a
    /// database whose schema is newer than this code.
    pub async fn connect(url: &str, options: PostgresOptions) -> StoreResult<Self> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|error| StoreError::Corrupt { detail: format!("invalid PostgreSQL URL: {error}") })?;
        config.connect_timeout(options.connect_timeout);
        let target = describe_target(&config);
        let manager = Manager::from_config(config.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(options.max_connections)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|error| StoreError::Corrupt { detail: format!("cannot build the PostgreSQL pool: {error}") })?;
        let store = PostgresStore { pool, target, config, listener: std::sync::Arc::default() };
        store.migrate().await?;
        Ok(store)
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|error| pool_error(&self.target, error))
    }

    fn err(&self, error: tokio_postgres::Error) -> StoreError {
        classify(&self.target, error)
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(|e| self.err(e))?;
        // One migrator at a time across replicas.
        txn.batch_execute("SELECT pg_advisory_xact_lock(7311215361);").await.map_err(|e| self.err(e))?;
        txn.batch_execute("CREATE TABLE IF NOT EXISTS drydock_schema_migrations (version integer PRIMARY KEY, description text NOT NULL, applied timestamp NOT NULL DEFAULT timezone('UTC', now()))")
            .await
            .map_err(|e| self.err(e))?;
        let applied: Vec<i32> = txn
            .query("SELECT version FROM drydock_schema_migrations ORDER BY version", &[])
            .await
            .map_err(|e| self.err(e))?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if let Some(newest) = applied.iter().max().filter(|newest| **newest > migrations::LATEST) {
            return Err(StoreError::Corrupt {
                detail: format!(
                    "the database at {} is at schema version {newest}, newer than this Drydock understands ({}); upgrade Drydock",
                    self.target,
                    migrations::LATEST
                ),
            });
        }
        // A database the original created is at its Alembic head: versions 1-3.
        let alembic_head = if applied.is_empty() {
            let exists: bool =
                txn.query_one("SELECT to_regclass('alembic_version') IS NOT NULL", &[]).await.map_err(|e| self.err(e))?.get(0);
            exists
                && txn
                    .query_opt("SELECT 1 FROM alembic_version WHERE version_num = $1", &[&migrations::ALEMBIC_HEAD])
                    .await
                    .map_err(|e| self.err(e))?
                    .is_some()
        } else {
            false
        };
        for migration in migrations::MIGRATIONS {
            if applied.contains(&migration.version) {
                continue;
            }
            if !(alembic_head && migration.version <= 3) {
                txn.batch_execute(migration.sql).await.map_err(|e| self.err(e))?;
            }
            txn.execute(
                "INSERT INTO drydock_schema_migrations (version, description) VALUES ($1, $2)",
                &[&migration.version, &migration.description],
            )
            .await
            .map_err(|e| self.err(e))?;
        }
        txn.commit().await.map_err(|e| self.err(e))
    }

    /// Rows of a task statement; `sql` is one of a few fixed texts, so it is
    /// prepared once per pooled connection rather than on every call.
    async fn query_tasks(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> StoreResult<Vec<Row>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(|e| self.err(e))?;
        client.query(&statement, params).await.map_err(|e| self.err(e))
    }

    async fn select_tasks(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> StoreResult<Vec<Task>> {
        self.query_tasks(sql, params).await?.iter().map(task_from_row).collect()
    }
}

/// Appended to a task statement's `RETURNING`: tell every replica's
/// [`StateStore::task_events`] (sent at commit, and only if it commits).
const NOTIFY: &str = "pg_notify('drydock_tasks', '')";

/// Boxed query parameters.
type Params = Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>>;

/// The listing query for one page (one row more than the page, to know
/// whether another follows), its parameters and the page size. The page
/// size is a parameter, so the statement text depends only on which
/// filters are given (a few statements, each prepared once per connection).
fn page_query(query: &TaskQuery) -> (String, Params, usize) {
    let limit = query.limit.clamp(1, 100_000);
    let mut clauses: Vec<String> = Vec::new();
    let mut params: Params = Vec::new();
    if let Some(status) = query.status {
        params.push(Box::new(status.as_str()));
        clauses.push(format!("status = ${}", params.len()));
    }
    if let Some(action) = query.action {
        params.push(Box::new(action.as_str()));
        clauses.push(format!("action = ${}", params.len()));
    }
    match query.parent {
        ParentFilter::Any => {}
        ParentFilter::Root => clauses.push("parent_task_id IS NULL".into()),
        ParentFilter::Of(parent) => {
            params.push(Box::new(parent.to_bytes().to_vec()));
            clauses.push(format!("parent_task_id = ${}", params.len()));
        }
    }
    if let Some(cursor) = query.after {
        params.push(Box::new(naive(cursor.created)));
        params.push(Box::new(cursor.id.to_bytes().to_vec()));
        clauses.push(format!("(created, task_id) > (${}, ${})", params.len() - 1, params.len()));
    }
    let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    params.push(Box::new(limit as i64 + 1));
    (format!("SELECT {TASK_COLUMNS} FROM tasks {filter} ORDER BY created, task_id LIMIT ${}", params.len()), params, limit)
}

/// Cut the extra row of [`page_query`] off and make the cursor.
fn paged<T>(mut tasks: Vec<T>, limit: usize, task: impl Fn(&T) -> &Task) -> TaskPage<T> {
    let next = if tasks.len() > limit {
        tasks.truncate(limit);
        tasks.last().map(|last| TaskCursor { created: task(last).created, id: task(last).id })
    } else {
        None
    };
    TaskPage { tasks, next }
}

/// `host:port/database` for messages (never the password).
fn describe_target(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or("postgres"))
}

#[async_trait]
impl StateStore for PostgresStore {
    fn backend_name(&self) -> &'static str {
        "postgresql"
    }

    async fn now(&self) -> StoreResult<DateTime<Utc>> {
        let client = self.client().await?;
        let row = client.query_one("SELECT timezone('UTC', now())", &[]).await.map_err(|e| self.err(e))?;
        Ok(utc(row.get(0)))
    }

    async fn ping(&self) -> StoreResult<()> {
        self.now().await.map(drop)
    }

    async fn check_writable(&self) -> StoreResult<()> {
        // One row, rewritten in its own transaction: fails as the next write would.
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO drydock_probe (name, written) VALUES ('writable', timezone('UTC', now())) \
                 ON CONFLICT (name) DO UPDATE SET written = excluded.written",
                &[],
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn task_events(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let listener = self.listener.get_or_init(|| listener::Listener::start(&runtime, self.config.clone(), self.target.clone()));
        Some(listener.subscribe())
    }

    async fn design_create(&self) -> StoreResult<DesignRecord> {
        let client = self.client().await?;
        let id = TaskId::generate();
        let row = client
            .query_one(
                "INSERT INTO drydock_designs (design_id, created) VALUES ($1, timezone('UTC', now())) RETURNING created",
                &[&id.to_bytes().as_slice()],
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(DesignRecord { id, created: utc(row.get(0)), part_count: 0 })
    }

    async fn design_get(&self, id: TaskId) -> StoreResult<DesignRecord> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT d.created, (SELECT count(*) FROM drydock_design_parts p WHERE p.design_id = d.design_id) FROM drydock_designs d WHERE d.design_id = $1",
                &[&id.to_bytes().as_slice()],
            )
            .await
            .map_err(|e| self.err(e))?
            .ok_or_else(|| StoreError::not_found(format!("design {id}")))?;
        Ok(DesignRecord { id, created: utc(row.get(0)), part_count: row.get::<_, i64>(1) as usize })
    }

    async fn design_part_add(&self, id: TaskId, source: &str, content: &[u8]) -> StoreResult<DesignPart> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(|e| self.err(e))?;
        let key = id.to_bytes();
        let locked = txn
            .query_opt("SELECT 1 FROM drydock_designs WHERE design_id = $1 FOR UPDATE", &[&key.as_slice()])
            .await
            .map_err(|e| self.err(e))?;
        if locked.is_none() {
            return Err(StoreError::not_found(format!("design {id}")));
        }
        let row = txn
            .query_one(
                "INSERT INTO drydock_design_parts (design_id, sequence, source, content, added) \
                 SELECT $1, coalesce(max(sequence) + 1, 0), $2, $3, timezone('UTC', now()) FROM drydock_design_parts WHERE design_id = $1 \
                 RETURNING sequence, added",
                &[&key.as_slice(), &source, &content],
            )
            .await
            .map_err(|e| self.err(e))?;
        txn.commit().await.map_err(|e| self.err(e))?;
        Ok(DesignPart {
            design_id: id,
            sequence: row.get::<_, i32>(0) as u32,
            source: source.to_owned(),
            content: content.to_vec(),
            added: utc(row.get(1)),
        })
    }

    async fn design_list(&self, after: Option<TaskId>, limit: usize) -> StoreResult<Vec<DesignRecord>> {
        let client = self.client().await?;
        let after = after.map(|after| after.to_bytes().to_vec()).unwrap_or_default();
        let rows = client
            .query(
                "SELECT d.design_id, d.created, (SELECT count(*) FROM drydock_design_parts p WHERE p.design_id = d.design_id) \
                 FROM drydock_designs d WHERE d.design_id > $1 ORDER BY d.design_id LIMIT $2",
                &[&after.as_slice(), &(limit.min(i64::MAX as usize) as i64)],
            )
            .await
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|row| {
                let id = <[u8; 16]>::try_from(row.get::<_, &[u8]>(0))
                    .map(TaskId::from_bytes)
                    .map_err(|_| StoreError::Corrupt { detail: "design id".into() })?;
                Ok(DesignRecord { id, created: utc(row.get(1)), part_count: row.get::<_, i64>(2) as usize })
            })
            .collect()
    }

    async fn design_parts(&self, id: TaskId) -> StoreResult<Vec<DesignPart>> {
        self.design_get(id).await?;
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT sequence, source, content, added FROM drydock_design_parts WHERE design_id = $1 ORDER BY sequence",
                &[&id.to_bytes().as_slice()],
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(rows
            .iter()
            .map(|row| DesignPart {
                design_id: id,
                sequence: row.get::<_, i32>(0) as u32,
                source: row.get(1),
                content: row.get(2),
                added: utc(row.get(3)),
            })
            .collect())
    }

    async fn task_create(&self, task: &Task) -> StoreResult<Task> {
        let client = self.client().await?;
        let row = TaskRow::new(task);
        let notify = if task.status == TaskStatus::Queued { format!(", {NOTIFY}") } else { String::new() };
        let sql = format!("{TASK_INSERT} ON CONFLICT (task_id) DO NOTHING RETURNING {TASK_COLUMNS}{notify}");
        let rows = client.query(&sql, &row.params()).await.map_err(|e| self.err(e))?;
        match rows.first() {
            Some(row) => task_from_row(row),
            None => Err(StoreError::conflict(format!("task {} already exists", task.id))),
        }
    }

    async fn task_import(&self, tasks: &[Task]) -> StoreResult<()> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(|e| self.err(e))?;
        let statement = txn.prepare(TASK_INSERT).await.map_err(|e| self.err(e))?;
        for task in tasks {
            let row = TaskRow::new(task);
            txn.execute(&statement, &row.params()).await.map_err(|e| self.err(e))?;
        }
        if tasks.iter().any(|task| task.status == TaskStatus::Queued) {
            txn.execute(&format!("SELECT {NOTIFY}"), &[]).await.map_err(|e| self.err(e))?;
        }
        txn.commit().await.map_err(|e| self.err(e))
    }

    async fn task_get(&self, id: TaskId) -> StoreResult<Task> {
        self.select_tasks(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE task_id = $1"), &[&id.to_bytes().as_slice()])
            .await?
            .pop()
            .ok_or_else(|| StoreError::not_found(format!("task {id}")))
    }

    async fn task_get_many(&self, ids: &[TaskId]) -> StoreResult<Vec<Task>> {
        let keys: Vec<Vec<u8>> = ids.iter().map(|id| id.to_bytes().to_vec()).collect();
        let found = self.select_tasks(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE task_id = ANY($1)"), &[&keys]).await?;
        Ok(ids.iter().filter_map(|id| found.iter().find(|task| task.id == *id).cloned()).collect())
    }

    async fn task_list(&self, query: &TaskQuery) -> StoreResult<TaskPage> {
        let (sql, params, limit) = page_query(query);
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            params.iter().map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
        let tasks = self.select_tasks(&sql, &refs).await?;
        Ok(paged(tasks, limit, |task| task))
    }

    async fn task_list_with_messages(&self, query: &TaskQuery) -> StoreResult<TaskPage<TaskWithMessages>> {
        let (sql, params, limit) = page_query(query);
        let sql = format!("SELECT page.*, {MESSAGES_COLUMN} FROM ({sql}) page ORDER BY page.created, page.task_id");
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            params.iter().map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
        let rows = self.query_tasks(&sql, &refs).await?;
        let tasks = rows.iter().map(task_with_messages_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(paged(tasks, limit, |entry| &entry.task))
    }

    async fn task_get_many_with_messages(&self, ids: &[TaskId]) -> StoreResult<Vec<TaskWithMessages>> {
        let keys: Vec<Vec<u8>> = ids.iter().map(|id| id.to_bytes().to_vec()).collect();
        let sql = format!("SELECT page.*, {MESSAGES_COLUMN} FROM (SELECT {TASK_COLUMNS} FROM tasks WHERE task_id = ANY($1)) page");
        let rows = self.query_tasks(&sql, &[&keys]).await?;
        let mut found: std::collections::HashMap<TaskId, TaskWithMessages> =
            rows.iter().map(|row| task_with_messages_from_row(row).map(|entry| (entry.task.id, entry))).collect::<StoreResult<_>>()?;
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    async fn task_children(&self, id: TaskId) -> StoreResult<Vec<Task>> {
        self.select_tasks(
            &format!("SELECT {TASK_COLUMNS} FROM tasks WHERE parent_task_id = $1 ORDER BY created, task_id"),
            &[&id.to_bytes().as_slice()],
        )
        .await
    }

    async fn task_update(&self, task: &Task, guard: UpdateGuard) -> StoreResult<Task> {
        let client = self.client().await?;
        let (guard_sql, generation, status): (&str, i64, &str) = match guard {
            UpdateGuard::Generation(generation) => ("AND generation = $11 AND $12::text IS NOT NULL", generation as i64, ""),
            UpdateGuard::Status(status) => ("AND status = $12 AND $11::bigint IS NOT NULL", 0, status.as_str()),
            UpdateGuard::Unconditional => ("AND $11::bigint IS NOT NULL AND $12::text IS NOT NULL", 0, ""),
        };
        let notify = if task.status == TaskStatus::Queued { format!(", {NOTIFY}") } else { String::new() };
        let sql = format!(
            "UPDATE tasks SET status = $2, result_status = $3, result_message = $4, result_reason = $5, result_successes = $6, \
             result_failures = $7, result_links = $8, retry = $9, node_filter = $10, updated = timezone('UTC', now()), \
             generation = generation + 1 WHERE task_id = $1 {guard_sql} RETURNING {TASK_COLUMNS}{notify}"
        );
        let rows = client
            .query(
                &sql,
                &[
                    &task.id.to_bytes().as_slice(),
                    &task.status.as_str(),
                    &task.result.status.as_str(),
                    &task.result.message,
                    &task.result.reason,
                    &task.result.successes,
                    &task.result.failures,
                    &links_json(&task.result.links),
                    &(task.retry as i32),
                    &task.node_filter,
                    &generation,
                    &status,
                ],
            )
            .await
            .map_err(|e| self.err(e))?;
        if let Some(row) = rows.first() {
            return task_from_row(row);
        }
        let current = self.task_get(task.id).await?;
        Err(StoreError::conflict(format!(
            "task {} changed concurrently (generation {}, status {})",
            task.id, current.generation, current.status
        )))
    }

    async fn task_add_subtask(&self, parent: TaskId, child: TaskId) -> StoreResult<()> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(|e| self.err(e))?;
        let parent_key = parent.to_bytes();
        let child_key = child.to_bytes();
        let status: String = txn
            .query_opt("SELECT status FROM tasks WHERE task_id = $1 FOR UPDATE", &[&parent_key.as_slice()])
            .await
            .map_err(|e| self.err(e))?
            .map(|row| row.get::<_, Option<String>>(0).unwrap_or_default())
            .ok_or_else(|| StoreError::not_found(format!("task {parent}")))?;
        if status == TaskStatus::Terminating.as_str() {
            return Err(StoreError::conflict(format!("task {parent} is terminating")));
        }
        let updated = txn
            .execute(
                "UPDATE tasks SET parent_task_id = $1, generation = generation + 1 WHERE task_id = $2",
                &[&parent_key.as_slice(), &child_key.as_slice()],
            )
            .await
            .map_err(|e| self.err(e))?;
        if updated == 0 {
            return Err(StoreError::not_found(format!("task {child}")));
        }
        txn.execute(
            "UPDATE tasks SET subtask_id_list = array_append(coalesce(subtask_id_list, '{}'), $2), generation = generation + 1 \
             WHERE task_id = $1 AND NOT ($2 = ANY(coalesce(subtask_id_list, '{}')))",
            &[&parent_key.as_slice(), &child_key.as_slice()],
        )
        .await
        .map_err(|e| self.err(e))?;
        txn.commit().await.map_err(|e| self.err(e))
    }

    async fn task_mark_terminate(&self, id: TaskId, by: &str, propagate: bool) -> StoreResult<()> {
        let client = self.client().await?;
        let key = id.to_bytes();
        let sql = if propagate {
            "WITH RECURSIVE tree(task_id, subtask_id_list) AS ( \
                 SELECT task_id, subtask_id_list FROM tasks WHERE task_id = $1 \
                 UNION SELECT t.task_id, t.subtask_id_list FROM tasks t JOIN tree ON t.task_id = ANY(tree.subtask_id_list)) \
             UPDATE tasks SET terminate = true, terminated = timezone('UTC', now()), terminated_by = $2, generation = generation + 1 \
             WHERE task_id IN (SELECT task_id FROM tree)"
        } else {
            "UPDATE tasks SET terminate = true, terminated = timezone('UTC', now()), terminated_by = $2, generation = generation + 1 WHERE task_id = $1"
        };
        let sql = format!("{sql} RETURNING {NOTIFY}");
        let updated = client.query(&sql, &[&key.as_slice(), &by]).await.map_err(|e| self.err(e))?.len();
        if updated == 0 {
            return Err(StoreError::not_found(format!("task {id}")));
        }
        Ok(())
    }

    async fn task_purge(&self, cutoff: DateTime<Utc>) -> StoreResult<PurgeReport> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(|e| self.err(e))?;
        // compat §4.8 steps 1 and 2 in one statement (old tasks, then their
        // orphaned children one level down), keeping every unfinished task,
        // its ancestors and its descendants (`purge_plan`, in SQL). A NULL
        // status reads as `requested`: unfinished.
        let tasks = txn
            .execute(
                "WITH RECURSIVE
                 unfinished AS (
                     SELECT task_id, parent_task_id FROM tasks
                     WHERE status IS NULL OR status NOT IN ('complete', 'terminated')),
                 ancestors (task_id, parent_task_id) AS (
                     SELECT t.task_id, t.parent_task_id FROM tasks t JOIN unfinished u ON t.task_id = u.parent_task_id
                     UNION
                     SELECT t.task_id, t.parent_task_id FROM tasks t JOIN ancestors a ON t.task_id = a.parent_task_id),
                 descendants (task_id) AS (
                     SELECT task_id FROM unfinished
                     UNION
                     SELECT t.task_id FROM tasks t JOIN descendants d ON t.parent_task_id = d.task_id),
                 kept AS (SELECT task_id FROM ancestors UNION SELECT task_id FROM descendants),
                 old AS (
                     SELECT t.task_id FROM tasks t
                     WHERE t.created < $1 AND NOT EXISTS (SELECT 1 FROM kept k WHERE k.task_id = t.task_id)),
                 orphans AS (
                     SELECT t.task_id FROM tasks t
                     WHERE t.parent_task_id IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM kept k WHERE k.task_id = t.task_id)
                       AND (EXISTS (SELECT 1 FROM old o WHERE o.task_id = t.parent_task_id)
                            OR NOT EXISTS (SELECT 1 FROM tasks p WHERE p.task_id = t.parent_task_id)))
                 DELETE FROM tasks WHERE task_id IN (SELECT task_id FROM old UNION SELECT task_id FROM orphans)",
                &[&naive(cutoff)],
            )
            .await
            .map_err(|e| self.err(e))?;
        // compat §4.8: by task id (upstream matched timestamps, a data hazard).
        let messages = txn
            .execute("DELETE FROM result_message m WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.task_id = m.task_id)", &[])
            .await
            .map_err(|e| self.err(e))?;
        txn.commit().await.map_err(|e| self.err(e))?;
        Ok(PurgeReport { tasks: tasks as usize, messages: messages as usize })
    }

    async fn result_message_add(&self, task: TaskId, message: &StatusMessage) -> StoreResult<()> {
        let client = self.client().await?;
        // compat §2.4: `extra` is stored as a JSON string holding JSON.
        let extra = serde_json::Value::String(serde_json::Value::Object(message.extra.clone()).to_string());
        client
            .execute(
                "INSERT INTO result_message (task_id, message, error, context, context_type, ts, extra) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &task.to_bytes().as_slice(),
                    &message.stored_text(),
                    &message.error,
                    &message.context,
                    &message.context_type,
                    &naive(message.timestamp),
                    &extra,
                ],
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn result_messages(&self, task: TaskId) -> StoreResult<Vec<StatusMessage>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT message, error, context_type, context, ts, extra::text FROM result_message WHERE task_id = $1 ORDER BY sequence",
                &[&task.to_bytes().as_slice()],
            )
            .await
            .map_err(|e| self.err(e))?;
        let get_err = |error: tokio_postgres::Error| StoreError::Corrupt {
            detail: format!("stored messages of task {task} are unreadable: {error}"),
        };
        rows.iter()
            .map(|row| {
                Ok(message_from(
                    row.try_get(0).map_err(get_err)?,
                    row.try_get(1).map_err(get_err)?,
                    row.try_get(2).map_err(get_err)?,
                    row.try_get(3).map_err(get_err)?,
                    row.try_get(4).map_err(get_err)?,
                    row.try_get(5).map_err(get_err)?,
                ))
            })
            .collect()
    }

    async fn build_data_insert(&self, record: &BuildData) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO build_data (node_name, task_id, collected_date, generator, data_format, data_element) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &record.node_name,
                    &record.task_id.to_bytes().as_slice(),
                    &naive(record.collected_date),
                    &record.generator,
                    &record.data_format,
                    &record.data_element,
                ],
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn build_data_for_node(&self, node: &str, latest: bool) -> StoreResult<Vec<BuildData>> {
        let client = self.client().await?;
        let sql = if latest {
            "SELECT DISTINCT ON (generator) node_name, task_id, collected_date, generator, data_format, data_element \
             FROM build_data WHERE node_name = $1 ORDER BY generator, collected_date DESC"
        } else {
            "SELECT node_name, task_id, collected_date, generator, data_format, data_element FROM build_data WHERE node_name = $1 ORDER BY collected_date"
        };
        let rows = client.query(sql, &[&node]).await.map_err(|e| self.err(e))?;
        let records = rows.iter().map(build_data_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(if latest { latest_per_generator(records) } else { records })
    }

    async fn build_data_for_task(&self, task: TaskId) -> StoreResult<Vec<BuildData>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT node_name, task_id, collected_date, generator, data_format, data_element FROM build_data WHERE task_id = $1 ORDER BY collected_date",
                &[&task.to_bytes().as_slice()],
            )
            .await
            .map_err(|e| self.err(e))?;
        rows.iter().map(build_data_from_row).collect()
    }

    async fn bootaction_context_upsert(&self, context: &BootActionContext) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO boot_action (node_name, task_id, identity_key) VALUES ($1, $2, $3) \
                 ON CONFLICT (node_name) DO UPDATE SET task_id = EXCLUDED.task_id, identity_key = EXCLUDED.identity_key",
                &[&context.node_name, &context.task_id.to_bytes().as_slice(), &context.identity_key.as_slice()],
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn bootaction_begin(&self, context: &BootActionContext, statuses: &[BootActionStatus]) -> StoreResult<()> {
        check_bootaction_begin(context, statuses)?;
        let node = context.node_name.as_str();
        let task = context.task_id.to_bytes();
        let names: Vec<&str> = statuses.iter().map(|status| status.node_name.as_str()).collect();
        let ids: Vec<[u8; 16]> = statuses.iter().map(|status| status.action_id.0.to_bytes()).collect();
        let ids: Vec<&[u8]> = ids.iter().map(|id| id.as_slice()).collect();
        let action_names: Vec<&str> = statuses.iter().map(|status| status.action_name.as_str()).collect();
        let tasks: Vec<&[u8]> = statuses.iter().map(|_| task.as_slice()).collect();
        let keys: Vec<&[u8]> = statuses.iter().map(|status| status.identity_key.as_slice()).collect();
        let results: Vec<&str> = statuses.iter().map(|status| status.action_status.as_str()).collect();
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(|e| self.err(e))?;
        txn.execute(
            "INSERT INTO boot_action (node_name, task_id, identity_key) VALUES ($1, $2, $3) \
             ON CONFLICT (node_name) DO UPDATE SET task_id = EXCLUDED.task_id, identity_key = EXCLUDED.identity_key",
            &[&node, &task.as_slice(), &context.identity_key.as_slice()],
        )
        .await
        .map_err(|e| self.err(e))?;
        // An earlier attempt of the same task for this node.
        txn.execute("DELETE FROM boot_action_status WHERE node_name = $1 AND task_id = $2", &[&node, &task.as_slice()])
            .await
            .map_err(|e| self.err(e))?;
        txn.execute(
            "INSERT INTO boot_action_status (node_name, action_id, action_name, task_id, identity_key, action_status) \
             SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[], $4::bytea[], $5::bytea[], $6::text[])",
            &[&names, &ids, &action_names, &tasks, &keys, &results],
        )
        .await
        .map_err(|e| self.err(e))?;
        txn.commit().await.map_err(|e| self.err(e))
    }

    async fn bootaction_context(&self, node: &str) -> StoreResult<Option<BootActionContext>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT task_id, identity_key FROM boot_action WHERE node_name = $1", &[&node])
            .await
            .map_err(|e| self.err(e))?;
        row.map(|row| {
            Ok(BootActionContext {
                node_name: node.to_owned(),
                task_id: id_from(&row.get::<_, Vec<u8>>(0))?,
                identity_key: key32(&row.get::<_, Vec<u8>>(1))?,
            })
        })
        .transpose()
    }

    async fn bootaction_status_insert(&self, status: &BootActionStatus) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO boot_action_status (node_name, action_id, action_name, task_id, identity_key, action_status) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &status.node_name,
                    &status.action_id.0.to_bytes().as_slice(),
                    &status.action_name,
                    &status.task_id.to_bytes().as_slice(),
                    &status.identity_key.as_slice(),
                    &status.action_status.as_str(),
                ],
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn bootaction_status_get(&self, action_id: BootActionId) -> StoreResult<BootActionStatus> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT node_name, action_id, action_name, task_id, identity_key, action_status FROM boot_action_status WHERE action_id = $1",
                &[&action_id.0.to_bytes().as_slice()],
            )
            .await
            .map_err(|e| self.err(e))?
            .ok_or_else(|| StoreError::not_found(format!("boot action {action_id}")))?;
        status_from_row(&row)
    }

    async fn bootaction_status_for_node(&self, node: &str) -> StoreResult<Vec<BootActionStatus>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT node_name, action_id, action_name, task_id, identity_key, action_status FROM boot_action_status WHERE node_name = $1 ORDER BY action_id",
                &[&node],
            )
            .await
            .map_err(|e| self.err(e))?;
        rows.iter().map(status_from_row).collect()
    }

    async fn bootaction_status_update(&self, action_id: BootActionId, status: ActionResult) -> StoreResult<BootActionStatus> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "UPDATE boot_action_status SET action_status = $2 WHERE action_id = $1 AND action_status = 'incomplete' \
                 RETURNING node_name, action_id, action_name, task_id, identity_key, action_status",
                &[&action_id.0.to_bytes().as_slice(), &status.as_str()],
            )
            .await
            .map_err(|e| self.err(e))?;
        match row {
            Some(row) => status_from_row(&row),
            None => {
                let current = self.bootaction_status_get(action_id).await?;
                Err(StoreError::conflict(format!("boot action {action_id} already reported {}", current.action_status)))
            }
        }
    }

    async fn task_admit(&self, me: uuid::Uuid, lease: Duration, decide: Decide) -> StoreResult<Admitted> {
        self.admit(me, lease, decide).await
    }

    async fn task_lease_renew(&self, me: uuid::Uuid, tasks: &[TaskId], lease: Duration) -> StoreResult<Vec<TaskId>> {
        self.lease_renew(me, tasks, lease).await
    }

    async fn task_lease_release(&self, me: uuid::Uuid, tasks: &[TaskId]) -> StoreResult<()> {
        self.lease_release(me, tasks).await
    }

    async fn task_leases(&self) -> StoreResult<Vec<RunningTask>> {
        self.leases().await
    }
}

#[cfg(test)]
mod tests;
