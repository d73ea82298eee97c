//! How the redb store encodes tasks and status messages: a compact binary
//! record (format 2), read field by field without a JSON parser, which is
//! what the task list spends its time on. Records of format 1 — JSON, as
//! stores written before it hold — are still read (their first byte is
//! `{`, a format byte never is); every write uses format 2.
//!
//! Format 2: the byte `2`, then the fields in a fixed order. Strings and
//! byte strings are a LEB128 length and the bytes; an optional value is a
//! byte `0` (absent) or `1` and the value; a list is a LEB128 count and its
//! items; a time is its seconds (i64) and nanoseconds (u32), little-endian;
//! the compat enums are their wire strings (so reordering an enum cannot
//! change what a record means). JSON values (node filter, request context,
//! a message's extra fields) are their JSON text.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::ids::{DesignRef, TaskId};
use crate::store::{StoreError, StoreResult};
use crate::task::{Action, ActionResult, RawJson, StatusMessage, Task, TaskResult, TaskStatus};

/// The first byte of a format-2 record.
const FORMAT_2: u8 = 2;

/// The first byte of a format-1 (JSON object) record.
const JSON_OBJECT: u8 = b'{';

/// A task as a format-2 record.
pub(super) fn encode_task(task: &Task) -> Vec<u8> {
    let mut out = Writer(Vec::with_capacity(256 + task.request_context.as_ref().map_or(0, |context| context.as_str().len())));
    out.byte(FORMAT_2);
    out.bytes_fixed(&task.id.to_bytes());
    out.str(task.action.as_str());
    out.option(task.parent.as_ref(), |out, parent| out.bytes_fixed(&parent.to_bytes()));
    out.option(task.design_ref.as_ref(), |out, design| out.str(design.as_str()));
    out.str(task.status.as_str());
    out.str(task.result.status.as_str());
    out.option(task.result.message.as_ref(), |out, text| out.str(text));
    out.option(task.result.reason.as_ref(), |out, text| out.str(text));
    out.strs(&task.result.successes);
    out.strs(&task.result.failures);
    out.len(task.result.links.len());
    for (rel, hrefs) in &task.result.links {
        out.str(rel);
        out.strs(hrefs);
    }
    out.option(task.node_filter.as_ref(), |out, filter| out.str(&filter.to_string()));
    out.len(task.subtasks.len());
    for id in &task.subtasks {
        out.bytes_fixed(&id.to_bytes());
    }
    out.time(&task.created);
    out.option(task.created_by.as_ref(), |out, text| out.str(text));
    out.option(task.updated.as_ref(), Writer::time);
    out.option(task.terminated.as_ref(), Writer::time);
    out.option(task.terminated_by.as_ref(), |out, text| out.str(text));
    out.byte(u8::from(task.terminate));
    out.u64(u64::from(task.retry));
    out.option(task.request_context.as_ref(), |out, context| out.str(context.as_str()));
    out.u64(task.generation);
    out.0
}

/// A stored task record of either format.
pub(super) fn decode_task(bytes: &[u8]) -> StoreResult<Task> {
    match bytes.first() {
        Some(&FORMAT_2) => {
            let mut reader = Reader { bytes: &bytes[1..], what: "task" };
            let task = read_task(&mut reader)?;
            reader.end()?;
            Ok(task)
        }
        Some(&JSON_OBJECT) => serde_json::from_slice::<TaskRecordV1>(bytes).map_err(|error| unreadable("task", &error))?.into_task(),
        _ => Err(unreadable("task", &"unknown record format")),
    }
}

fn read_task(r: &mut Reader<'_>) -> StoreResult<Task> {
    let id = TaskId::from_bytes(r.fixed()?);
    let bad = |what: &str, value: &str| StoreError::Corrupt { detail: format!("stored task {id} has an unknown {what} '{value}'") };
    let action = r.str()?;
    let action = Action::parse(action).ok_or_else(|| bad("action", action))?;
    let parent = r.option(|r| r.fixed().map(TaskId::from_bytes))?;
    let design_ref = r.option(|r| r.string().map(DesignRef))?;
    let status = r.str()?;
    let status = TaskStatus::parse(status).ok_or_else(|| bad("status", status))?;
    let result_status = r.str()?;
    let result_status = ActionResult::parse(result_status).ok_or_else(|| bad("result", result_status))?;
    let result = TaskResult {
        status: result_status,
        message: r.option(Reader::string)?,
        reason: r.option(Reader::string)?,
        successes: r.strings()?,
        failures: r.strings()?,
        links: r.list(|r| Ok((r.string()?, r.strings()?)))?,
    };
    let node_filter = r.option(|r| serde_json::from_str(r.str()?).map_err(|error| unreadable("task node filter", &error)))?;
    let subtasks = r.list(|r| r.fixed().map(TaskId::from_bytes))?;
    Ok(Task {
        id,
        action,
        parent,
        design_ref,
        status,
        result,
        node_filter,
        subtasks,
        created: r.time()?,
        created_by: r.option(Reader::string)?,
        updated: r.option(Reader::time)?,
        terminated: r.option(Reader::time)?,
        terminated_by: r.option(Reader::string)?,
        terminate: r.byte()? != 0,
        retry: u32::try_from(r.u64()?).map_err(|_| unreadable("task", &"retry out of range"))?,
        request_context: r.option(|r| r.str().map(RawJson::from_stored))?,
        generation: r.u64()?,
    })
}

/// A status message as a format-2 record (its text cut as upstream stores it).
pub(super) fn encode_message(message: &StatusMessage) -> Vec<u8> {
    let mut out = Writer(Vec::with_capacity(64 + message.message.len()));
    out.byte(FORMAT_2);
    out.str(&message.stored_text());
    out.byte(u8::from(message.error));
    out.str(&message.context_type);
    out.str(&message.context);
    out.time(&message.timestamp);
    // No extra fields (the usual case) is an empty text, read without a parser.
    if message.extra.is_empty() {
        out.str("");
    } else {
        out.str(&serde_json::Value::Object(message.extra.clone()).to_string());
    }
    out.0
}

/// A stored status message of either format.
pub(super) fn decode_message(bytes: &[u8]) -> StoreResult<StatusMessage> {
    match bytes.first() {
        Some(&FORMAT_2) => {
            let mut r = Reader { bytes: &bytes[1..], what: "message" };
            let message = StatusMessage {
                message: r.string()?,
                error: r.byte()? != 0,
                context_type: r.string()?,
                context: r.string()?,
                timestamp: r.time()?,
                extra: match r.str()? {
                    "" => serde_json::Map::new(),
                    text => serde_json::from_str(text).map_err(|error| unreadable("message", &error))?,
                },
            };
            r.end()?;
            Ok(message)
        }
        Some(&JSON_OBJECT) => {
            let record: MessageRecordV1 = serde_json::from_slice(bytes).map_err(|error| unreadable("message", &error))?;
            Ok(StatusMessage {
                message: record.message,
                error: record.error,
                context_type: record.context_type,
                context: record.context,
                timestamp: record.timestamp,
                extra: record.extra,
            })
        }
        _ => Err(unreadable("message", &"unknown record format")),
    }
}

fn unreadable(what: &str, why: &dyn std::fmt::Display) -> StoreError {
    StoreError::Corrupt { detail: format!("stored {what} is unreadable: {why}") }
}

/// Appends format-2 fields.
struct Writer(Vec<u8>);

impl Writer {
    fn byte(&mut self, byte: u8) {
        self.0.push(byte);
    }

    fn bytes_fixed(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// LEB128.
    fn u64(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn len(&mut self, len: usize) {
        self.u64(len as u64);
    }

    fn str(&mut self, text: &str) {
        self.len(text.len());
        self.0.extend_from_slice(text.as_bytes());
    }

    fn strs(&mut self, texts: &[String]) {
        self.len(texts.len());
        for text in texts {
            self.str(text);
        }
    }

    fn time(&mut self, time: &DateTime<Utc>) {
        self.0.extend_from_slice(&time.timestamp().to_le_bytes());
        self.0.extend_from_slice(&time.timestamp_subsec_nanos().to_le_bytes());
    }

    fn option<T>(&mut self, value: Option<&T>, write: impl FnOnce(&mut Self, &T)) {
        match value {
            None => self.byte(0),
            Some(value) => {
                self.byte(1);
                write(self, value);
            }
        }
    }
}

/// Reads format-2 fields; running out of bytes, or bytes that are not
/// what the field must be, is `Corrupt`.
struct Reader<'a> {
    bytes: &'a [u8],
    /// What the record is, for errors.
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn fail(&self, why: &str) -> StoreError {
        unreadable(self.what, &why)
    }

    fn take(&mut self, count: usize) -> StoreResult<&'a [u8]> {
        if self.bytes.len() < count {
            return Err(self.fail("the record is cut short"));
        }
        let (taken, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Ok(taken)
    }

    fn byte(&mut self) -> StoreResult<u8> {
        Ok(self.take(1)?[0])
    }

    fn fixed<const N: usize>(&mut self) -> StoreResult<[u8; N]> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| self.fail("the record is cut short"))
    }

    fn u64(&mut self) -> StoreResult<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.fail("a number is too long"))
    }

    fn len(&mut self) -> StoreResult<usize> {
        let len = usize::try_from(self.u64()?).map_err(|_| self.fail("a length is out of range"))?;
        // Every item takes at least one byte: a count larger than what is
        // left is damage, not a reason to reserve memory.
        if len > self.bytes.len() {
            return Err(self.fail("the record is cut short"));
        }
        Ok(len)
    }

    fn str(&mut self) -> StoreResult<&'a str> {
        let len = self.len()?;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| self.fail("a text is not UTF-8"))
    }

    fn string(&mut self) -> StoreResult<String> {
        self.str().map(str::to_owned)
    }

    fn strings(&mut self) -> StoreResult<Vec<String>> {
        self.list(Reader::string)
    }

    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> StoreResult<T>) -> StoreResult<Vec<T>> {
        let count = self.len()?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(item(self)?);
        }
        Ok(out)
    }

    fn time(&mut self) -> StoreResult<DateTime<Utc>> {
        let seconds = i64::from_le_bytes(self.fixed()?);
        let nanos = u32::from_le_bytes(self.fixed()?);
        DateTime::from_timestamp(seconds, nanos).ok_or_else(|| self.fail("a time is out of range"))
    }

    fn option<T>(&mut self, read: impl FnOnce(&mut Self) -> StoreResult<T>) -> StoreResult<Option<T>> {
        match self.byte()? {
            0 => Ok(None),
            1 => read(self).map(Some),
            _ => Err(self.fail("an optional field is neither absent nor present")),
        }
    }

    fn end(&self) -> StoreResult<()> {
        if self.bytes.is_empty() { Ok(()) } else { Err(self.fail("bytes follow the record")) }
    }
}

/// A task as format 1 stored it (JSON).
#[derive(Deserialize)]
struct TaskRecordV1 {
    id: uuid::Uuid,
    action: String,
    parent: Option<uuid::Uuid>,
    design_ref: Option<String>,
    status: String,
    result_status: String,
    result_message: Option<String>,
    result_reason: Option<String>,
    successes: Vec<String>,
    failures: Vec<String>,
    links: Vec<(String, Vec<String>)>,
    node_filter: Option<serde_json::Value>,
    subtasks: Vec<uuid::Uuid>,
    created: DateTime<Utc>,
    created_by: Option<String>,
    updated: Option<DateTime<Utc>>,
    terminated: Option<DateTime<Utc>>,
    terminated_by: Option<String>,
    terminate: bool,
    retry: u32,
    request_context: Option<serde_json::Value>,
    generation: u64,
}

impl TaskRecordV1 {
    fn into_task(self) -> StoreResult<Task> {
        let bad =
            |what: &str, value: &str| StoreError::Corrupt { detail: format!("stored task {} has an unknown {what} '{value}'", self.id) };
        Ok(Task {
            id: TaskId(self.id),
            action: Action::parse(&self.action).ok_or_else(|| bad("action", &self.action))?,
            parent: self.parent.map(TaskId),
            design_ref: self.design_ref.clone().map(DesignRef),
            status: TaskStatus::parse(&self.status).ok_or_else(|| bad("status", &self.status))?,
            result: TaskResult {
                status: ActionResult::parse(&self.result_status).ok_or_else(|| bad("result", &self.result_status))?,
                message: self.result_message,
                reason: self.result_reason,
                successes: self.successes,
                failures: self.failures,
                links: self.links,
            },
            node_filter: self.node_filter,
            subtasks: self.subtasks.into_iter().map(TaskId).collect(),
            created: self.created,
            created_by: self.created_by,
            updated: self.updated,
            terminated: self.terminated,
            terminated_by: self.terminated_by,
            terminate: self.terminate,
            retry: self.retry,
            request_context: self.request_context.as_ref().map(RawJson::new),
            generation: self.generation,
        })
    }
}

/// A status message as format 1 stored it (JSON).
#[derive(Deserialize)]
struct MessageRecordV1 {
    message: String,
    error: bool,
    context_type: String,
    context: String,
    timestamp: DateTime<Utc>,
    extra: serde_json::Map<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn full_task() -> Task {
        let mut task = Task::new(Action::DeployNodes, Some(DesignRef("deckhand+http://site/é".into())));
        task.parent = Some(TaskId::generate());
        task.status = TaskStatus::Terminated;
        task.result.success(Some("n01"));
        task.result.failure(Some("n02"));
        task.result.message = Some("partly \"done\"".into());
        task.result.reason = Some(String::new());
        task.result.add_link("detail_logs", "http://x/1");
        task.result.add_link("detail_logs", "http://x/2");
        task.result.add_link("other", "http://y");
        task.node_filter = Some(json!({"filter_set_type": "union", "filter_set": [{"node_names": ["a", "b"]}]}));
        task.subtasks = vec![TaskId::generate(), TaskId::generate()];
        task.created = DateTime::from_timestamp(1_700_000_000, 123_456_789).expect("time");
        task.created_by = Some("shipyard".into());
        task.updated = Some(DateTime::from_timestamp(-5, 0).expect("time"));
        task.terminated = Some(Utc::now());
        task.terminated_by = Some("ops".into());
        task.terminate = true;
        task.retry = 300;
        task.request_context = Some(RawJson::new(&json!({"user": "shipyard", "roles": ["admin"], "n": 1.5})));
        task.generation = u64::MAX;
        task
    }

    #[test]
    fn tasks_round_trip_in_format_2() {
        for task in [full_task(), Task::new(Action::Noop, None)] {
            let bytes = encode_task(&task);
            assert_eq!(bytes[0], FORMAT_2);
            assert_eq!(decode_task(&bytes).expect("decodes"), task);
        }
    }

    #[test]
    fn format_1_records_are_still_read() {
        // A record as stores before format 2 wrote it (serde_json of the
        // old record type, field order and spelling included).
        let text = r#"{"id":"6f1d2c4e-8a9b-4c3d-9e8f-0a1b2c3d4e5f","action":"deploy_nodes","parent":null,"design_ref":"file:///site.yaml","status":"complete","result_status":"partial_success","result_message":"done","result_reason":null,"successes":["n1"],"failures":["n2"],"links":[["detail_logs",["http://x/1"]]],"node_filter":{"filter_set_type":"union","filter_set":[]},"subtasks":["0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"],"created":"2024-05-01T10:00:00.123456789Z","created_by":"shipyard","updated":"2024-05-01T10:05:00Z","terminated":null,"terminated_by":null,"terminate":false,"retry":2,"request_context":{"user":"shipyard","roles":["admin"]},"generation":7}"#;
        let task = decode_task(text.as_bytes()).expect("format 1 decodes");
        assert_eq!(task.id.to_string(), "6f1d2c4e-8a9b-4c3d-9e8f-0a1b2c3d4e5f");
        assert_eq!(task.action, Action::DeployNodes);
        assert_eq!(task.status, TaskStatus::Complete);
        assert_eq!(task.result.status, ActionResult::PartialSuccess);
        assert_eq!(task.result.links, [("detail_logs".to_owned(), vec!["http://x/1".to_owned()])]);
        assert_eq!(task.node_filter, Some(json!({"filter_set_type": "union", "filter_set": []})));
        assert_eq!(task.created.timestamp_subsec_nanos(), 123_456_789);
        assert_eq!(task.request_context.as_ref().map(RawJson::to_value), Some(json!({"user": "shipyard", "roles": ["admin"]})));
        assert_eq!(task.retry, 2);
        assert_eq!(task.generation, 7);
        // Written again, it is format 2 and means the same.
        assert_eq!(decode_task(&encode_task(&task)).expect("decodes"), task);

        let message = r#"{"message":"started","error":true,"context_type":"node","context":"n1","timestamp":"2024-05-01T10:00:00Z","extra":{"retry":true}}"#;
        let message = decode_message(message.as_bytes()).expect("format 1 decodes");
        assert!(message.error);
        assert_eq!(message.context, "n1");
        assert_eq!(message.extra.get("retry"), Some(&json!(true)));
    }

    #[test]
    fn messages_round_trip_in_format_2_cut_as_stored() {
        let mut message = StatusMessage::node("n01", "x".repeat(200), true);
        message.extra.insert("detail".into(), json!({"a": [1, "two", null]}));
        let read = decode_message(&encode_message(&message)).expect("decodes");
        assert_eq!(read.message, message.stored_text());
        assert_eq!((read.error, read.context_type.as_str(), read.context.as_str()), (true, "node", "n01"));
        assert_eq!((read.timestamp, &read.extra), (message.timestamp, &message.extra));
        let plain = StatusMessage::task_wide("ok", false);
        assert_eq!(decode_message(&encode_message(&plain)).expect("decodes"), plain);
    }

    #[tokio::test]
    async fn a_store_file_of_schema_1_opens_and_reads_its_json_records() {
        use redb::ReadableDatabase;

        use crate::store::redb_store::{MESSAGES, META, RedbStore, SCHEMA_VERSION, TASK_ORDER, TASKS, order_key, prefixed};
        use crate::store::{StateStore, TaskQuery, UpdateGuard};

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.redb");
        // A file as schema 1 wrote it: JSON task and message records.
        let text = r#"{"id":"6f1d2c4e-8a9b-4c3d-9e8f-0a1b2c3d4e5f","action":"verify_site","parent":null,"design_ref":"file:///site.yaml","status":"complete","result_status":"success","result_message":null,"result_reason":null,"successes":[],"failures":[],"links":[],"node_filter":null,"subtasks":[],"created":"2024-05-01T10:00:00.123456Z","created_by":"shipyard","updated":"2024-05-01T10:05:00Z","terminated":null,"terminated_by":null,"terminate":false,"retry":0,"request_context":{"user":"shipyard"},"generation":3}"#;
        let message =
            r#"{"message":"done","error":false,"context_type":"NA","context":"NA","timestamp":"2024-05-01T10:05:00Z","extra":{}}"#;
        let old = decode_task(text.as_bytes()).expect("format 1");
        {
            let store = RedbStore::open(&path).expect("create");
            let slot = store.shared.read_slot();
            let db = slot.db.as_ref().expect("open");
            let txn = db.begin_write().expect("txn");
            {
                txn.open_table(META).expect("meta").insert("schema_version", 1).expect("version 1");
                txn.open_table(TASKS).expect("tasks").insert(old.id.to_bytes().as_slice(), text.as_bytes()).expect("task");
                let order = order_key(old.created, old.id);
                txn.open_table(TASK_ORDER).expect("order").insert(order.as_slice(), old.id.to_bytes().as_slice()).expect("index");
                let key = prefixed(&old.id.to_bytes(), &1u64.to_be_bytes());
                txn.open_table(MESSAGES).expect("messages").insert(key.as_slice(), message.as_bytes()).expect("message");
            }
            txn.commit().expect("commit");
        }
        let store = RedbStore::open(&path).expect("a schema 1 file opens");
        let version = {
            let slot = store.shared.read_slot();
            let txn = slot.db.as_ref().expect("open").begin_read().expect("txn");
            txn.open_table(META).expect("meta").get("schema_version").expect("get").map(|value| value.value())
        };
        assert_eq!(version, Some(SCHEMA_VERSION), "brought up to the current schema (older code then refuses it)");
        assert_eq!(store.task_get(old.id).await.expect("read"), old);
        let page = store.task_list_with_messages(&TaskQuery::default()).await.expect("list");
        assert_eq!(page.tasks.len(), 1);
        assert_eq!(page.tasks[0].task, old);
        assert_eq!(page.tasks[0].messages.iter().map(|m| m.message.as_str()).collect::<Vec<_>>(), ["done"]);
        // Written again, the record is format 2 and reads back the same.
        let mut update = old.clone();
        update.retry = 1;
        let updated = store.task_update(&update, UpdateGuard::Generation(3)).await.expect("update");
        let stored = {
            let slot = store.shared.read_slot();
            let txn = slot.db.as_ref().expect("open").begin_read().expect("txn");
            txn.open_table(TASKS).expect("tasks").get(old.id.to_bytes().as_slice()).expect("get").expect("there").value().to_vec()
        };
        assert_eq!(stored[0], FORMAT_2);
        assert_eq!(store.task_get(old.id).await.expect("read"), updated);
        assert_eq!(updated.request_context, old.request_context);
        assert_eq!(RedbStore::check(&path).err().map(|error| error.kind()), Some(crate::store::StoreErrorKind::Unavailable), "in use");
        drop(store);
        assert_eq!(RedbStore::check(&path).expect("checks").tasks, 1);
    }

    #[test]
    fn damaged_records_are_corrupt_never_a_panic() {
        let bytes = encode_task(&full_task());
        for cut in 0..bytes.len() {
            let error = decode_task(&bytes[..cut]).expect_err("a cut record is refused");
            assert_eq!(error.kind(), crate::store::StoreErrorKind::Corrupt, "{error}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_task(&longer).is_err(), "trailing bytes");
        // Every single-byte change decodes to something or is refused.
        for at in 1..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0xff;
            let _ = decode_task(&damaged);
        }
        assert!(decode_task(b"\x09rest").is_err(), "an unknown format");
        assert!(decode_message(&[FORMAT_2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).is_err(), "a huge length");
    }
}
