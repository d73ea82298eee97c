//! The Task, Status and build-data JSON shapes (compat: api spec §0.2, §2.1,
//! §2.3, §2.4, §1.3.8) with Python's timestamp spelling.

use chrono::{DateTime, Datelike, Timelike, Utc};
use drydock_core::task::records::BuildData;
use drydock_core::task::{StatusMessage, Task, TaskResult};
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
    use std::fmt::Write;
    // Formatted by hand: chrono's strftime parsing dominated the task list.
    let mut text = String::with_capacity(32);
    let _ = write!(
        text,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        timestamp.year(),
        timestamp.month(),
        timestamp.day(),
        timestamp.hour(),
        timestamp.minute(),
        timestamp.second()
    );
    let micros = timestamp.nanosecond() / 1_000 % 1_000_000;
    if micros != 0 {
        let _ = write!(text, ".{micros:06}");
    }
    if zone == Zone::Aware {
        text.push_str("+00:00");
    }
    text
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

/// The Task object as a borrowed, directly serialisable view: the same JSON
/// as [`task_body`] without building a `Value` tree (the task list's hot
/// path).
#[derive(Debug, serde::Serialize)]
pub struct TaskView<'a> {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    task_id: String,
    action: &'static str,
    parent_task_id: Option<String>,
    design_ref: Option<&'a str>,
    status: &'static str,
    result: ResultView<'a>,
    node_filter: Option<&'a Value>,
    subtask_id_list: Vec<String>,
    created: String,
    created_by: Option<&'a str>,
    updated: Option<String>,
    terminated: Option<String>,
    terminated_by: Option<&'a str>,
    terminate: bool,
    retry: u32,
}

#[derive(Debug, serde::Serialize)]
struct ResultView<'a> {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    metadata: Map<String, Value>,
    message: Option<&'a str>,
    reason: Option<&'a str>,
    status: &'static str,
    successes: &'a [String],
    failures: &'a [String],
    links: Vec<LinkView<'a>>,
    details: DetailsView<'a>,
}

#[derive(Debug, serde::Serialize)]
struct LinkView<'a> {
    rel: &'a str,
    href: &'a str,
}

#[derive(Debug, serde::Serialize)]
struct DetailsView<'a> {
    #[serde(rename = "errorCount")]
    error_count: usize,
    #[serde(rename = "messageList")]
    message_list: Vec<MessageView<'a>>,
}

#[derive(Debug, serde::Serialize)]
struct MessageView<'a> {
    message: &'a str,
    error: bool,
    context_type: &'a str,
    context: &'a str,
    ts: String,
    extra: String,
}

impl<'a> TaskView<'a> {
    /// The view of `task` with its `messages`.
    pub fn new(task: &'a Task, messages: &'a [StatusMessage], zone: Zone) -> TaskView<'a> {
        let result = &task.result;
        TaskView {
            kind: "Task",
            api_version: "v1",
            task_id: task.id.to_string(),
            action: task.action.as_str(),
            parent_task_id: task.parent.map(|parent| parent.to_string()),
            design_ref: task.design_ref.as_ref().map(|design| design.as_str()),
            status: task.status.as_str(),
            result: ResultView {
                kind: "Status",
                api_version: "v1.0",
                metadata: Map::new(),
                message: result.message.as_deref(),
                reason: result.reason.as_deref(),
                status: result.status.as_str(),
                successes: &result.successes,
                failures: &result.failures,
                links: result.links.iter().flat_map(|(rel, hrefs)| hrefs.iter().map(move |href| LinkView { rel, href })).collect(),
                details: DetailsView {
                    error_count: messages.iter().filter(|message| message.error).count(),
                    message_list: messages
                        .iter()
                        .map(|message| MessageView {
                            message: &message.message,
                            error: message.error,
                            context_type: &message.context_type,
                            context: &message.context,
                            ts: py_datetime(&message.timestamp, zone),
                            extra: serde_json::to_string(&message.extra).unwrap_or_else(|_| "{}".into()),
                        })
                        .collect(),
                },
            },
            node_filter: task.node_filter.as_ref(),
            subtask_id_list: task.subtasks.iter().map(ToString::to_string).collect(),
            created: py_datetime(&task.created, zone),
            created_by: task.created_by.as_deref(),
            updated: task.updated.as_ref().map(|timestamp| py_datetime(timestamp, zone)),
            terminated: task.terminated.as_ref().map(|timestamp| py_datetime(timestamp, zone)),
            terminated_by: task.terminated_by.as_deref(),
            terminate: task.terminate,
            retry: task.retry,
        }
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
    }
}
