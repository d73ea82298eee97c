//! The Task, Status and build-data JSON shapes (compat: api spec §0.2, §2.1,
//! §2.3, §2.4, §1.3.8) with Python's timestamp spelling.

use chrono::{DateTime, Datelike, Timelike, Utc};
use drydock_core::ids::TaskId;
use drydock_core::store::TaskWithMessages;
use drydock_core::task::records::BuildData;
use drydock_core::task::{StatusMessage, Task, TaskResult};
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

/// Whether timestamps carry `+00:00`: in-memory values (the POST response)
/// do, values read back from the store do not (compat §0.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// Timezone-aware: `+00:00` suffix.
    Aware,
    /// Read from the database: no suffix.
    Naive,
}

/// `str(datetime)`: a space between date and time, microseconds only when
/// non-zero, `+00:00` only for aware values.
pub fn py_datetime(timestamp: &DateTime<Utc>, zone: Zone) -> String {
    PyDateTime(timestamp, zone).to_string()
}

/// [`py_datetime`] written straight to a formatter (or, as a JSON string,
/// to a serializer) without an intermediate `String`.
struct PyDateTime<'a>(&'a DateTime<Utc>, Zone);

impl std::fmt::Display for PyDateTime<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Formatted by hand into one buffer: chrono's strftime parsing, and
        // then `write!` per field, dominated the task list.
        let PyDateTime(timestamp, zone) = *self;
        let naive = timestamp.naive_utc();
        let year = naive.year();
        let micros = naive.nanosecond() / 1_000 % 1_000_000;
        if !(0..=9999).contains(&year) {
            write!(f, "{year:04}-{:02}-{:02} {:02}:{:02}:{:02}", naive.month(), naive.day(), naive.hour(), naive.minute(), naive.second())?;
            if micros != 0 {
                write!(f, ".{micros:06}")?;
            }
        } else {
            let mut text = *b"0000-00-00 00:00:00.000000";
            let mut put = |at: usize, width: usize, mut value: u32| {
                for index in (at..at + width).rev() {
                    text[index] = b'0' + (value % 10) as u8;
                    value /= 10;
                }
            };
            put(0, 4, year.unsigned_abs());
            put(5, 2, naive.month());
            put(8, 2, naive.day());
            put(11, 2, naive.hour());
            put(14, 2, naive.minute());
            put(17, 2, naive.second());
            put(20, 6, micros);
            let end = if micros == 0 { 19 } else { text.len() };
            // Only ASCII digits and separators were written.
            f.write_str(std::str::from_utf8(&text[..end]).map_err(|_| std::fmt::Error)?)?;
        }
        if zone == Zone::Aware {
            f.write_str("+00:00")?;
        }
        Ok(())
    }
}

fn py_datetime_opt(timestamp: Option<&DateTime<Utc>>, zone: Zone) -> Value {
    timestamp.map_or(Value::Null, |timestamp| Value::String(py_datetime(timestamp, zone)))
}

/// A status message (compat §2.4); `extra` is emitted as a JSON string.
pub fn message_body(message: &StatusMessage, zone: Zone) -> Value {
    json!({
        "message": message.message,
        "error": message.error,
        "context_type": message.context_type,
        "context": message.context,
        "ts": py_datetime(&message.timestamp, zone),
        "extra": Value::Object(message.extra.clone()).to_string(),
    })
}

/// The result (Status object, compat §2.3); `errorCount` is recomputed from
/// the messages.
pub fn result_body(result: &TaskResult, messages: &[StatusMessage], zone: Zone) -> Value {
    let links: Vec<Value> =
        result.links.iter().flat_map(|(rel, hrefs)| hrefs.iter().map(move |href| json!({"rel": rel, "href": href}))).collect();
    json!({
        "kind": "Status",
        "apiVersion": "v1.0",
        "metadata": {},
        "message": result.message,
        "reason": result.reason,
        "status": result.status.as_str(),
        "successes": result.successes,
        "failures": result.failures,
        "links": links,
        "details": {
            "errorCount": messages.iter().filter(|message| message.error).count(),
            "messageList": messages.iter().map(|message| message_body(message, zone)).collect::<Vec<_>>(),
        },
    })
}

/// The Task object in the original's key order (compat §2.1).
pub fn task_body(task: &Task, messages: &[StatusMessage], zone: Zone) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("kind".into(), "Task".into());
    body.insert("apiVersion".into(), "v1".into());
    body.insert("task_id".into(), task.id.to_string().into());
    body.insert("action".into(), task.action.as_str().into());
    body.insert("parent_task_id".into(), task.parent.map_or(Value::Null, |parent| parent.to_string().into()));
    body.insert("design_ref".into(), task.design_ref.as_ref().map_or(Value::Null, |design| design.as_str().into()));
    body.insert("status".into(), task.status.as_str().into());
    body.insert("result".into(), result_body(&task.result, messages, zone));
    body.insert("node_filter".into(), task.node_filter.clone().unwrap_or(Value::Null));
    body.insert("subtask_id_list".into(), task.subtasks.iter().map(|id| Value::String(id.to_string())).collect());
    body.insert("created".into(), py_datetime(&task.created, zone).into());
    body.insert("created_by".into(), task.created_by.clone().map_or(Value::Null, Value::String));
    body.insert("updated".into(), py_datetime_opt(task.updated.as_ref(), zone));
    body.insert("terminated".into(), py_datetime_opt(task.terminated.as_ref(), zone));
    body.insert("terminated_by".into(), task.terminated_by.clone().map_or(Value::Null, Value::String));
    body.insert("terminate".into(), task.terminate.into());
    body.insert("retry".into(), task.retry.into());
    body
}

/// A build-data record (compat §1.3.8); `collected_date` is re-tagged UTC.
pub fn build_data_body(record: &BuildData) -> Value {
    json!({
        "node_name": record.node_name,
        "task_id": record.task_id.to_string(),
        "collected_date": py_datetime(&record.collected_date, Zone::Aware),
        "generator": record.generator,
        "data_format": record.data_format,
        "data_element": record.data_element,
    })
}

/// The Task object as a borrowed view serialised field by field: the same
/// JSON as [`task_body`] without building a `Value` tree or any per-task
/// copy (ids and timestamps are formatted straight into the output; the
/// task list's hot path).
#[derive(Debug, Clone, Copy)]
pub struct TaskView<'a> {
    task: &'a Task,
    messages: &'a [StatusMessage],
    zone: Zone,
}

impl<'a> TaskView<'a> {
    /// The view of `task` with its `messages`.
    pub fn new(task: &'a Task, messages: &'a [StatusMessage], zone: Zone) -> TaskView<'a> {
        TaskView { task, messages, zone }
    }
}

/// A page of tasks with their messages, serialised as the JSON array of
/// Task objects the task list answers (compat §1.3.4).
#[derive(Debug, Clone, Copy)]
pub struct TaskListView<'a> {
    tasks: &'a [TaskWithMessages],
    zone: Zone,
}

impl<'a> TaskListView<'a> {
    /// The view of a page.
    pub fn new(tasks: &'a [TaskWithMessages], zone: Zone) -> TaskListView<'a> {
        TaskListView { tasks, zone }
    }

    /// The JSON text, written once into one buffer sized up front.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let estimate: usize =
            self.tasks.iter().map(|entry| 640 + entry.messages.iter().map(|message| 160 + message.message.len()).sum::<usize>()).sum();
        let mut out = Vec::with_capacity(estimate);
        serde_json::to_writer(&mut out, self)?;
        String::from_utf8(out).map_err(<serde_json::Error as serde::ser::Error>::custom)
    }
}

impl Serialize for TaskListView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.tasks.iter().map(|entry| TaskView::new(&entry.task, &entry.messages, self.zone)))
    }
}

/// A value written with its `Display` as a JSON string.
struct Shown<T>(T);

impl<T: std::fmt::Display> Serialize for Shown<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// Task ids as a JSON array of strings.
struct Ids<'a>(&'a [TaskId]);

impl Serialize for Ids<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(Shown))
    }
}

/// `{}`.
struct EmptyObject;

impl Serialize for EmptyObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_map(Some(0))?.end()
    }
}

/// A JSON object written as a JSON string holding its JSON text (compat
/// §2.4 `extra`), escaped on the way out instead of built first.
struct JsonTextOf<'a>(&'a Map<String, Value>);

impl std::fmt::Display for JsonTextOf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        /// serde_json writes whole UTF-8 fragments (it splits only at ASCII
        /// escapes), so each write is valid text.
        struct Out<'a, 'b>(&'a mut std::fmt::Formatter<'b>);
        impl std::io::Write for Out<'_, '_> {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                let text = std::str::from_utf8(bytes).map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))?;
                self.0.write_str(text).map_err(std::io::Error::other)?;
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        if self.0.is_empty() {
            return f.write_str("{}");
        }
        serde_json::to_writer(Out(f), self.0).map_err(|_| std::fmt::Error)
    }
}

/// The Status object of a task (see [`result_body`]).
struct ResultView<'a> {
    result: &'a TaskResult,
    messages: &'a [StatusMessage],
    zone: Zone,
}

/// `{"rel": …, "href": …}`.
struct LinkView<'a> {
    rel: &'a str,
    href: &'a str,
}

impl Serialize for LinkView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_struct("Link", 2)?;
        map.serialize_field("rel", self.rel)?;
        map.serialize_field("href", self.href)?;
        map.end()
    }
}

/// `details` of a Status object.
struct DetailsView<'a> {
    messages: &'a [StatusMessage],
    zone: Zone,
}

impl Serialize for DetailsView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_struct("Details", 2)?;
        map.serialize_field("errorCount", &self.messages.iter().filter(|message| message.error).count())?;
        map.serialize_field("messageList", &MessagesView { messages: self.messages, zone: self.zone })?;
        map.end()
    }
}

struct MessagesView<'a> {
    messages: &'a [StatusMessage],
    zone: Zone,
}

impl Serialize for MessagesView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.messages.iter().map(|message| MessageView { message, zone: self.zone }))
    }
}

/// One status message (see [`message_body`]).
struct MessageView<'a> {
    message: &'a StatusMessage,
    zone: Zone,
}

impl Serialize for MessageView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let message = self.message;
        let mut map = serializer.serialize_struct("StatusMessage", 6)?;
        map.serialize_field("message", &message.message)?;
        map.serialize_field("error", &message.error)?;
        map.serialize_field("context_type", &message.context_type)?;
        map.serialize_field("context", &message.context)?;
        map.serialize_field("ts", &Shown(PyDateTime(&message.timestamp, self.zone)))?;
        map.serialize_field("extra", &Shown(JsonTextOf(&message.extra)))?;
        map.end()
    }
}

impl Serialize for ResultView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let result = self.result;
        let mut map = serializer.serialize_struct("Status", 11)?;
        map.serialize_field("kind", "Status")?;
        map.serialize_field("apiVersion", "v1.0")?;
        map.serialize_field("metadata", &EmptyObject)?;
        map.serialize_field("message", &result.message)?;
        map.serialize_field("reason", &result.reason)?;
        map.serialize_field("status", result.status.as_str())?;
        map.serialize_field("successes", &result.successes)?;
        map.serialize_field("failures", &result.failures)?;
        map.serialize_field("links", &Links(&result.links))?;
        map.serialize_field("details", &DetailsView { messages: self.messages, zone: self.zone })?;
        map.end()
    }
}

/// Links flattened to one object per `href`.
struct Links<'a>(&'a [(String, Vec<String>)]);

impl Serialize for Links<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().flat_map(|(rel, hrefs)| hrefs.iter().map(move |href| LinkView { rel, href })))
    }
}

impl Serialize for TaskView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (task, zone) = (self.task, self.zone);
        let mut map = serializer.serialize_struct("Task", 17)?;
        map.serialize_field("kind", "Task")?;
        map.serialize_field("apiVersion", "v1")?;
        map.serialize_field("task_id", &Shown(task.id))?;
        map.serialize_field("action", task.action.as_str())?;
        map.serialize_field("parent_task_id", &task.parent.map(Shown))?;
        map.serialize_field("design_ref", &task.design_ref.as_ref().map(|design| design.as_str()))?;
        map.serialize_field("status", task.status.as_str())?;
        map.serialize_field("result", &ResultView { result: &task.result, messages: self.messages, zone })?;
        map.serialize_field("node_filter", &task.node_filter)?;
        map.serialize_field("subtask_id_list", &Ids(&task.subtasks))?;
        map.serialize_field("created", &Shown(PyDateTime(&task.created, zone)))?;
        map.serialize_field("created_by", &task.created_by)?;
        map.serialize_field("updated", &task.updated.as_ref().map(|timestamp| Shown(PyDateTime(timestamp, zone))))?;
        map.serialize_field("terminated", &task.terminated.as_ref().map(|timestamp| Shown(PyDateTime(timestamp, zone))))?;
        map.serialize_field("terminated_by", &task.terminated_by)?;
        map.serialize_field("terminate", &task.terminate)?;
        map.serialize_field("retry", &task.retry)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn python_datetime_spelling() {
        let whole = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).single().expect("valid date");
        assert_eq!(py_datetime(&whole, Zone::Naive), "2024-05-01 10:00:00");
        assert_eq!(py_datetime(&whole, Zone::Aware), "2024-05-01 10:00:00+00:00");
        let early = Utc.with_ymd_and_hms(987, 1, 2, 3, 4, 5).single().expect("valid date");
        assert_eq!(py_datetime(&early, Zone::Naive), "0987-01-02 03:04:05");
        let fraction = whole + chrono::Duration::microseconds(4512);
        assert_eq!(py_datetime(&fraction, Zone::Naive), "2024-05-01 10:00:00.004512");
    }

    #[test]
    fn the_view_serialises_like_the_value_form() {
        use drydock_core::ids::{DesignRef, TaskId};
        use drydock_core::task::Action;
        let mut task = Task::new(Action::DeployNodes, Some(DesignRef("file:///site.yaml".into())));
        task.parent = Some(TaskId::generate());
        task.subtasks = vec![TaskId::generate(), TaskId::generate()];
        task.result.success(Some("n01"));
        task.result.failure(Some("n02"));
        task.result.add_link("detail_logs", "http://drydock/api/v1.0/tasks/x/builddata");
        task.result.add_link("detail_logs", "http://drydock/other");
        task.result.message = Some("partly".into());
        task.node_filter = Some(json!({"filter_set_type": "union", "filter_set": []}));
        task.updated = Some(task.created);
        task.terminated_by = Some("ops".into());
        let mut noisy = StatusMessage::node("n02", "failed \"badly\"", true);
        noisy.extra.insert("retry".into(), json!(true));
        let messages = vec![StatusMessage::task_wide("started", false), noisy];
        for zone in [Zone::Aware, Zone::Naive] {
            let view = serde_json::to_string(&TaskView::new(&task, &messages, zone)).expect("serialises");
            let value = Value::Object(task_body(&task, &messages, zone)).to_string();
            assert_eq!(view, value);
        }
        let bare = Task::new(Action::VerifySite, None);
        assert_eq!(
            serde_json::to_string(&TaskView::new(&bare, &[], Zone::Naive)).expect("serialises"),
            Value::Object(task_body(&bare, &[], Zone::Naive)).to_string()
        );

        // A page: extras with escapes, control characters and non-ASCII
        // text, timestamps with and without microseconds.
        let mut odd = StatusMessage::task_wide("tab\there \u{1} “quoted” \\ é", false);
        odd.extra.insert("path\\key \"x\"".into(), json!({"nested": ["a\nb", 1.5, null, "ü"], "n": -3}));
        odd.timestamp = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let page = vec![
            TaskWithMessages { task: task.clone(), messages: messages.clone() },
            TaskWithMessages { task: bare.clone(), messages: Vec::new() },
            TaskWithMessages { task: bare, messages: vec![odd] },
        ];
        for zone in [Zone::Aware, Zone::Naive] {
            let text = TaskListView::new(&page, zone).to_json().expect("serialises");
            let value: Vec<Value> = page.iter().map(|entry| Value::Object(task_body(&entry.task, &entry.messages, zone))).collect();
            assert_eq!(text, Value::Array(value).to_string());
        }
        assert_eq!(TaskListView::new(&[], Zone::Naive).to_json().expect("serialises"), "[]");
    }
}
