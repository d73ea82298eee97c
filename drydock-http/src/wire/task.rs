//! The Task, Status and build-data JSON shapes (compat: api spec §0.2, §2.1,
//! §2.3, §2.4, §1.3.8) with Python's timestamp spelling.

use chrono::{DateTime, Timelike, Utc};
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
    let mut text = timestamp.format("%Y-%m-%d %H:%M:%S").to_string();
    let micros = timestamp.nanosecond() / 1_000 % 1_000_000;
    if micros != 0 {
        text.push_str(&format!(".{micros:06}"));
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn python_datetime_spelling() {
        let whole = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).single().expect("valid date");
        assert_eq!(py_datetime(&whole, Zone::Naive), "2024-05-01 10:00:00");
        assert_eq!(py_datetime(&whole, Zone::Aware), "2024-05-01 10:00:00+00:00");
        let fraction = whole + chrono::Duration::microseconds(4512);
        assert_eq!(py_datetime(&fraction, Zone::Naive), "2024-05-01 10:00:00.004512");
    }
}
