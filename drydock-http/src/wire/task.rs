//! The Task, Status and build-data JSON shapes (compat: api spec §0.2, §2.1,
//! §2.3, §2.4, §1.3.8) with Python's timestamp spelling.

use chrono::{DateTime, Datelike, Timelike, Utc};
use drydock_core::ids::TaskId;
use drydock_core::store::TaskWithMessages;
use drydock_core::task::records::BuildData;
use drydock_core::task::{Action, ActionResult, TaskStatus};
use drydock_core::task::{StatusMessage, Task, TaskResult};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{Example, ToJSON, Type};
use poem_openapi::{Object, Union};
use serde_json::{Map, Value};

use super::types::{AnyObject, Compat, StoredFilter};

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
    let mut buffer = [0u8; PY_DATETIME_MAX];
    if let Some(text) = py_datetime_ascii(timestamp, zone, &mut buffer) {
        return text.to_owned();
    }
    let naive = timestamp.naive_utc();
    let micros = naive.nanosecond() / 1_000 % 1_000_000;
    let mut text = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        naive.year(),
        naive.month(),
        naive.day(),
        naive.hour(),
        naive.minute(),
        naive.second()
    );
    if micros != 0 {
        text.push_str(&format!(".{micros:06}"));
    }
    if zone == Zone::Aware {
        text.push_str("+00:00");
    }
    text
}

/// The longest [`py_datetime_ascii`] text.
const PY_DATETIME_MAX: usize = 32;

/// [`py_datetime`] formatted by hand into `buffer` (chrono's strftime
/// parsing, and then `write!` per field, dominated the task list), for
/// years 0 to 9999; `None` for the others.
fn py_datetime_ascii<'b>(timestamp: &DateTime<Utc>, zone: Zone, buffer: &'b mut [u8; PY_DATETIME_MAX]) -> Option<&'b str> {
    let naive = timestamp.naive_utc();
    let year = u32::try_from(naive.year()).ok().filter(|year| *year <= 9999)?;
    let micros = naive.nanosecond() / 1_000 % 1_000_000;
    buffer[..26].copy_from_slice(b"0000-00-00 00:00:00.000000");
    let mut put = |at: usize, width: usize, mut value: u32| {
        for index in (at..at + width).rev() {
            buffer[index] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, naive.month());
    put(8, 2, naive.day());
    put(11, 2, naive.hour());
    put(14, 2, naive.minute());
    put(17, 2, naive.second());
    put(20, 6, micros);
    let mut end = if micros == 0 { 19 } else { 26 };
    if zone == Zone::Aware {
        buffer[end..end + 6].copy_from_slice(b"+00:00");
        end += 6;
    }
    // Only ASCII digits and separators were written.
    std::str::from_utf8(&buffer[..end]).ok()
}

fn py_datetime_opt(timestamp: Option<&DateTime<Utc>>, zone: Zone) -> Option<String> {
    timestamp.map(|timestamp| py_datetime(timestamp, zone))
}

/// A status message of a task (compat §2.4).
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "StatusMessage")]
pub struct MessageBody {
    /// The text.
    pub message: String,
    /// Whether it reports an error.
    pub error: bool,
    /// What `context` names: `node`, `task`, `bootaction`, …
    pub context_type: String,
    /// The node (or task, or boot action) the message is about.
    pub context: String,
    /// When it was recorded (Python `str(datetime)`).
    pub ts: String,
    /// Further fields: a JSON object written as a string (as upstream), `"{}"` when none.
    pub extra: String,
}

/// A link of a task's result.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "Link")]
pub struct LinkBody {
    /// The relation (`detail_logs`, …).
    pub rel: String,
    /// The URL.
    pub href: String,
}

/// The messages of a task's result.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "TaskResultDetails")]
pub struct ResultDetails {
    /// How many messages are errors.
    #[oai(rename = "errorCount")]
    pub error_count: i64,
    /// The messages, oldest first.
    #[oai(rename = "messageList")]
    pub message_list: Vec<MessageBody>,
}

/// A task's result: a Status document with the nodes it succeeded and
/// failed on, its links and its messages (compat §2.3).
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "TaskResult")]
pub struct ResultBody {
    /// Always `Status`.
    pub kind: String,
    /// Always `v1.0`.
    #[oai(rename = "apiVersion")]
    pub api_version: String,
    /// Always empty.
    pub metadata: AnyObject,
    /// A summary, when set.
    #[oai(nullable)]
    pub message: Option<String>,
    /// Why, when set.
    #[oai(nullable)]
    pub reason: Option<String>,
    // The outcome. (A plain comment: see `wire::types` on enum fields.)
    #[allow(missing_docs)]
    pub status: Compat<ActionResult>,
    /// Nodes (or entities) the task succeeded on.
    pub successes: Vec<String>,
    /// Nodes (or entities) the task failed on.
    pub failures: Vec<String>,
    /// Related links.
    pub links: Vec<LinkBody>,
    // The messages. A plain comment: with a field doc the reference would be
    // wrapped in an `allOf`, from which openapi-python-client derives an
    // inline model named `TaskResultDetails`, clashing with the named schema.
    #[allow(missing_docs)]
    pub details: ResultDetails,
}

/// A task (compat §2.1); timestamps are Python `str(datetime)` text (UTC;
/// `+00:00` only on the answer to the task's creation).
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "Task", example)]
pub struct TaskBody {
    /// Always `Task`.
    pub kind: String,
    /// Always `v1`.
    #[oai(rename = "apiVersion")]
    pub api_version: String,
    /// The task's id (a UUID).
    pub task_id: String,
    // What the task does. (A plain comment: see `wire::types` on enum fields.)
    #[allow(missing_docs)]
    pub action: Compat<Action>,
    /// The parent task, for a sub-task.
    #[oai(nullable)]
    pub parent_task_id: Option<String>,
    /// The design reference.
    #[oai(nullable)]
    pub design_ref: Option<String>,
    // Execution state. (A plain comment: see `wire::types` on enum fields.)
    #[allow(missing_docs)]
    pub status: Compat<TaskStatus>,
    // The result. A plain comment, as `TaskResult.details`: a field doc
    // would make openapi-python-client derive an inline `TaskResult` model.
    #[allow(missing_docs)]
    pub result: ResultBody,
    /// The nodes the task is about (null: every node of the design).
    pub node_filter: Option<StoredFilter>,
    /// Sub-tasks, in creation order.
    pub subtask_id_list: Vec<String>,
    /// Creation time.
    pub created: String,
    /// Who created it.
    #[oai(nullable)]
    pub created_by: Option<String>,
    /// Last update.
    #[oai(nullable)]
    pub updated: Option<String>,
    /// When it was terminated.
    #[oai(nullable)]
    pub terminated: Option<String>,
    /// Who terminated it.
    #[oai(nullable)]
    pub terminated_by: Option<String>,
    /// Whether termination was requested.
    pub terminate: bool,
    /// Retries so far.
    pub retry: i64,
}

impl Example for TaskBody {
    fn example() -> Self {
        let mut task = Task::new(
            Action::DeployNodes,
            Some(drydock_core::ids::DesignRef("http://deckhand/api/v1.0/revisions/1/rendered-documents".into())),
        );
        task.id = TaskId(uuid::Uuid::from_u128(0x6d7f_9a3c_52e1_4e0b_9b1a_2f4c_8d3e_7a10));
        task.created = chrono::DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default();
        task.created_by = Some("shipyard".into());
        task.node_filter =
            Some(serde_json::json!({"filter_set_type": "union", "filter_set": [{"filter_type": "union", "node_names": ["compute01"]}]}));
        task_body(&task, &[], Zone::Naive)
    }
}

/// A status message (compat §2.4); `extra` is emitted as a JSON string.
pub fn message_body(message: &StatusMessage, zone: Zone) -> MessageBody {
    MessageBody {
        message: message.message.clone(),
        error: message.error,
        context_type: message.context_type.clone(),
        context: message.context.clone(),
        ts: py_datetime(&message.timestamp, zone),
        extra: Value::Object(message.extra.clone()).to_string(),
    }
}

/// The result (Status object, compat §2.3); `errorCount` is recomputed from
/// the messages.
pub fn result_body(result: &TaskResult, messages: &[StatusMessage], zone: Zone) -> ResultBody {
    ResultBody {
        kind: "Status".into(),
        api_version: "v1.0".into(),
        metadata: AnyObject::default(),
        message: result.message.clone(),
        reason: result.reason.clone(),
        status: Compat(result.status),
        successes: result.successes.clone(),
        failures: result.failures.clone(),
        links: result
            .links
            .iter()
            .flat_map(|(rel, hrefs)| hrefs.iter().map(move |href| LinkBody { rel: rel.clone(), href: href.clone() }))
            .collect(),
        details: ResultDetails {
            error_count: messages.iter().filter(|message| message.error).count() as i64,
            message_list: messages.iter().map(|message| message_body(message, zone)).collect(),
        },
    }
}

/// The Task object in the original's key order (compat §2.1).
pub fn task_body(task: &Task, messages: &[StatusMessage], zone: Zone) -> TaskBody {
    TaskBody {
        kind: "Task".into(),
        api_version: "v1".into(),
        task_id: task.id.to_string(),
        action: Compat(task.action),
        parent_task_id: task.parent.map(|parent| parent.to_string()),
        design_ref: task.design_ref.as_ref().map(|design| design.as_str().to_owned()),
        status: Compat(task.status),
        result: result_body(&task.result, messages, zone),
        node_filter: task.node_filter.clone().map(StoredFilter::new),
        subtask_id_list: task.subtasks.iter().map(ToString::to_string).collect(),
        created: py_datetime(&task.created, zone),
        created_by: task.created_by.clone(),
        updated: py_datetime_opt(task.updated.as_ref(), zone),
        terminated: py_datetime_opt(task.terminated.as_ref(), zone),
        terminated_by: task.terminated_by.clone(),
        terminate: task.terminate,
        retry: i64::from(task.retry),
    }
}

/// Data a task collected about a node (compat §1.3.8).
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "BuildData")]
pub struct BuildDataBody {
    /// The node.
    pub node_name: String,
    /// The task that collected it.
    pub task_id: String,
    /// When (Python `str(datetime)`, `+00:00`).
    pub collected_date: String,
    /// What produced it (`lshw`, …).
    pub generator: String,
    /// Its media type (`text/plain`, `application/json`, …).
    pub data_format: String,
    /// The data itself, as text.
    pub data_element: String,
}

/// A build-data record (compat §1.3.8); `collected_date` is re-tagged UTC.
pub fn build_data_body(record: &BuildData) -> BuildDataBody {
    BuildDataBody {
        node_name: record.node_name.clone(),
        task_id: record.task_id.to_string(),
        collected_date: py_datetime(&record.collected_date, Zone::Aware),
        generator: record.generator.clone(),
        data_format: record.data_format.clone(),
        data_element: record.data_element.clone(),
    }
}

/// A JSON object whose keys are not known in advance (task ids), in the
/// order the server adds them, documented with `additionalProperties: V`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyedBy<V>(pub Vec<(String, V)>);

impl<V> Default for KeyedBy<V> {
    fn default() -> Self {
        KeyedBy(Vec::new())
    }
}

impl<V: Type> Type for KeyedBy<V> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> std::borrow::Cow<'static, str> {
        format!("map_{}", V::name()).into()
    }
    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema { additional_properties: Some(Box::new(V::schema_ref())), ..MetaSchema::new("object") }))
    }
    fn register(registry: &mut Registry) {
        V::register(registry);
    }
    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }
    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl<V: ToJSON> ToJSON for KeyedBy<V> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::Object(self.0.iter().map(|(key, value)| (key.clone(), value.to_json().unwrap_or(Value::Null))).collect()))
    }
}

impl<V: poem_openapi::types::ParseFromJSON> poem_openapi::types::ParseFromJSON for KeyedBy<V> {
    fn parse_from_json(value: Option<Value>) -> poem_openapi::types::ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::Object(map) => map
                .into_iter()
                .map(|(key, value)| {
                    V::parse_from_json(Some(value)).map(|value| (key, value)).map_err(poem_openapi::types::ParseError::propagate)
                })
                .collect::<Result<_, _>>()
                .map(KeyedBy),
            other => Err(poem_openapi::types::ParseError::expected_type(other)),
        }
    }
}

/// A descendant with errors, in `subtask_errors`: its result and its id.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "SubtaskError")]
pub struct SubtaskErrorBody {
    /// The descendant's result.
    #[oai(flatten)]
    pub result: ResultBody,
    /// The descendant.
    pub task_id: String,
}

/// A task as `GET /tasks/{task_id}` shows it: with `builddata` its build
/// data, with `subtaskerrors` its descendants' errors (by task id).
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "TaskDetail")]
pub struct TaskDetailBody {
    /// The task.
    #[oai(flatten)]
    pub task: TaskBody,
    /// With `builddata`: the task's build data.
    #[oai(skip_serializing_if_is_none)]
    pub build_data: Option<Vec<BuildDataBody>>,
    /// With `subtaskerrors`: every descendant whose messages include an error, by task id.
    #[oai(skip_serializing_if_is_none)]
    pub subtask_errors: Option<KeyedBy<SubtaskErrorBody>>,
}

/// One entry of a task tree: the task (with `builddata` its build data),
/// or null for a sub-task no longer stored.
pub type TreeEntry = Option<TaskDetailBody>;

/// `GET /tasks/{task_id}` with `layers`: the task and its descendants down
/// to that depth, by task id, after `init_task_id`; then, with
/// `subtaskerrors`, `subtask_errors`.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskTreeBody {
    /// The task asked for.
    pub init_task_id: String,
    /// The tasks by id, breadth first (null: no longer stored).
    pub tasks: Vec<(String, TreeEntry)>,
    /// With `subtaskerrors`.
    pub subtask_errors: Option<KeyedBy<SubtaskErrorBody>>,
}

impl Type for TaskTreeBody {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> std::borrow::Cow<'static, str> {
        "TaskTree".into()
    }
    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference("TaskTree".into())
    }
    fn register(registry: &mut Registry) {
        <TaskDetailBody as Type>::register(registry);
        registry.create_schema::<Self, _>("TaskTree".into(), |_| {
            let string = MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")));
            let entry = MetaSchema {
                nullable: true,
                all_of: vec![<TaskDetailBody as Type>::schema_ref()],
                description: Some("A task of the tree (null: no longer stored)."),
                ..MetaSchema::new("object")
            };
            MetaSchema {
                description: Some(
                    "With `layers` (N > 0, or -1 for all): `init_task_id`, then the task and its descendants down to that depth by \
                     task id, then with `subtaskerrors` `subtask_errors`.",
                ),
                required: vec!["init_task_id"],
                properties: vec![("init_task_id", string), ("subtask_errors", <KeyedBy<SubtaskErrorBody> as Type>::schema_ref())],
                additional_properties: Some(Box::new(MetaSchemaRef::Inline(Box::new(entry)))),
                ..MetaSchema::new("object")
            }
        });
    }
    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }
    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ToJSON for TaskTreeBody {
    fn to_json(&self) -> Option<Value> {
        let mut body = Map::new();
        body.insert("init_task_id".into(), Value::String(self.init_task_id.clone()));
        for (id, entry) in &self.tasks {
            body.insert(id.clone(), entry.to_json().unwrap_or(Value::Null));
        }
        if let Some(errors) = &self.subtask_errors {
            body.insert("subtask_errors".into(), errors.to_json().unwrap_or(Value::Null));
        }
        Some(Value::Object(body))
    }
}

impl poem_openapi::types::ParseFromJSON for TaskTreeBody {
    fn parse_from_json(value: Option<Value>) -> poem_openapi::types::ParseResult<Self> {
        let Some(Value::Object(mut map)) = value else { return Err(poem_openapi::types::ParseError::custom("expected an object")) };
        let init_task_id = match map.shift_remove("init_task_id") {
            Some(Value::String(id)) => id,
            _ => return Err(poem_openapi::types::ParseError::custom("init_task_id missing")),
        };
        let subtask_errors = map
            .shift_remove("subtask_errors")
            .map(|errors| KeyedBy::parse_from_json(Some(errors)).map_err(poem_openapi::types::ParseError::propagate))
            .transpose()?;
        let tasks = map
            .into_iter()
            .map(|(id, entry)| {
                TreeEntry::parse_from_json(Some(entry)).map(|entry| (id, entry)).map_err(poem_openapi::types::ParseError::propagate)
            })
            .collect::<Result<_, _>>()?;
        Ok(TaskTreeBody { init_task_id, tasks, subtask_errors })
    }
}

/// `GET /tasks/{task_id}`: the task, or with `layers` the task tree.
// One value per response: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Union, Debug, Clone, PartialEq)]
#[oai(one_of)]
pub enum TaskShown {
    /// The task (`layers` absent or 0).
    Task(TaskDetailBody),
    /// The task tree (`layers` N > 0 or -1).
    Tree(TaskTreeBody),
}

/// A page of tasks with their messages, written as the JSON array of Task
/// objects the task list answers (compat §1.3.4): the same text as
/// [`task_body`] for each, written by hand into one buffer — constant parts
/// as they are, ids and timestamps formatted in place, free text escaped
/// exactly as serde_json escapes it — without a `Value` tree or any
/// per-task copy (the task list's hot path).
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
    pub fn to_json(&self) -> String {
        let estimate: usize = 2 + self
            .tasks
            .iter()
            .map(|entry| {
                let task = &entry.task;
                let text = |value: &Option<String>| value.as_ref().map_or(0, String::len);
                560 + text(&task.created_by)
                    + task.design_ref.as_ref().map_or(0, |design| design.as_str().len())
                    + 40 * task.subtasks.len()
                    + entry.messages.iter().map(|message| 160 + message.message.len()).sum::<usize>()
            })
            .sum::<usize>();
        let mut out = Out(Vec::with_capacity(estimate));
        out.raw("[");
        for (index, entry) in self.tasks.iter().enumerate() {
            if index > 0 {
                out.raw(",");
            }
            out.task(&entry.task, &entry.messages, self.zone);
        }
        out.raw("]");
        // Only whole UTF-8 strings and ASCII were written.
        String::from_utf8(out.0).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
    }
}

/// How serde_json escapes each byte inside a string: 0 (as it is), the
/// letter after a backslash, or `u` (`\u00XX`, lowercase hex).
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// JSON text being written (compact, as serde_json writes it).
struct Out(Vec<u8>);

impl Out {
    /// Text that needs no escaping (JSON punctuation, keys, enum strings).
    fn raw(&mut self, text: &str) {
        self.0.extend_from_slice(text.as_bytes());
    }

    /// The contents of a JSON string, escaped (no quotes).
    fn escaped(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut start = 0;
        for (at, &byte) in bytes.iter().enumerate() {
            let escape = ESCAPE[byte as usize];
            if escape == 0 {
                continue;
            }
            self.0.extend_from_slice(&bytes[start..at]);
            if escape == b'u' {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.0.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]]);
            } else {
                self.0.extend_from_slice(&[b'\\', escape]);
            }
            start = at + 1;
        }
        self.0.extend_from_slice(&bytes[start..]);
    }

    /// A JSON string.
    fn string(&mut self, text: &str) {
        self.0.push(b'"');
        self.escaped(text);
        self.0.push(b'"');
    }

    /// A JSON string, or `null`.
    fn string_or_null(&mut self, text: Option<&str>) {
        match text {
            Some(text) => self.string(text),
            None => self.raw("null"),
        }
    }

    fn strings(&mut self, texts: &[String]) {
        self.raw("[");
        for (index, text) in texts.iter().enumerate() {
            if index > 0 {
                self.raw(",");
            }
            self.string(text);
        }
        self.raw("]");
    }

    fn id(&mut self, id: TaskId) {
        let mut buffer = uuid::Uuid::encode_buffer();
        self.0.push(b'"');
        self.raw(id.0.hyphenated().encode_lower(&mut buffer));
        self.0.push(b'"');
    }

    fn time(&mut self, timestamp: &DateTime<Utc>, zone: Zone) {
        self.0.push(b'"');
        let mut buffer = [0u8; PY_DATETIME_MAX];
        match py_datetime_ascii(timestamp, zone, &mut buffer) {
            Some(text) => self.raw(text),
            None => self.raw(&py_datetime(timestamp, zone)),
        }
        self.0.push(b'"');
    }

    fn time_or_null(&mut self, timestamp: Option<&DateTime<Utc>>, zone: Zone) {
        match timestamp {
            Some(timestamp) => self.time(timestamp, zone),
            None => self.raw("null"),
        }
    }

    fn number(&mut self, value: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = value;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.0.extend_from_slice(&digits[at..]);
    }

    /// A JSON value as serde_json writes it.
    fn value(&mut self, value: &Value) {
        // Writing to a Vec cannot fail, and a Value always serialises.
        if serde_json::to_writer(&mut self.0, value).is_err() {
            self.raw("null");
        }
    }

    /// The Task object (see [`task_body`]).
    fn task(&mut self, task: &Task, messages: &[StatusMessage], zone: Zone) {
        self.raw(r#"{"kind":"Task","apiVersion":"v1","task_id":"#);
        self.id(task.id);
        self.raw(r#","action":""#);
        self.raw(task.action.as_str());
        self.raw(r#"","parent_task_id":"#);
        match task.parent {
            Some(parent) => self.id(parent),
            None => self.raw("null"),
        }
        self.raw(r#","design_ref":"#);
        self.string_or_null(task.design_ref.as_ref().map(|design| design.as_str()));
        self.raw(r#","status":""#);
        self.raw(task.status.as_str());
        self.raw(r#"","result":"#);
        self.result(&task.result, messages, zone);
        self.raw(r#","node_filter":"#);
        match &task.node_filter {
            Some(filter) => self.value(filter),
            None => self.raw("null"),
        }
        self.raw(r#","subtask_id_list":["#);
        for (index, id) in task.subtasks.iter().enumerate() {
            if index > 0 {
                self.raw(",");
            }
            self.id(*id);
        }
        self.raw(r#"],"created":"#);
        self.time(&task.created, zone);
        self.raw(r#","created_by":"#);
        self.string_or_null(task.created_by.as_deref());
        self.raw(r#","updated":"#);
        self.time_or_null(task.updated.as_ref(), zone);
        self.raw(r#","terminated":"#);
        self.time_or_null(task.terminated.as_ref(), zone);
        self.raw(r#","terminated_by":"#);
        self.string_or_null(task.terminated_by.as_deref());
        self.raw(if task.terminate { r#","terminate":true,"retry":"# } else { r#","terminate":false,"retry":"# });
        self.number(u64::from(task.retry));
        self.raw("}");
    }

    /// The Status object of a task (see [`result_body`]).
    fn result(&mut self, result: &TaskResult, messages: &[StatusMessage], zone: Zone) {
        self.raw(r#"{"kind":"Status","apiVersion":"v1.0","metadata":{},"message":"#);
        self.string_or_null(result.message.as_deref());
        self.raw(r#","reason":"#);
        self.string_or_null(result.reason.as_deref());
        self.raw(r#","status":""#);
        self.raw(result.status.as_str());
        self.raw(r#"","successes":"#);
        self.strings(&result.successes);
        self.raw(r#","failures":"#);
        self.strings(&result.failures);
        self.raw(r#","links":["#);
        let links = result.links.iter().flat_map(|(rel, hrefs)| hrefs.iter().map(move |href| (rel, href)));
        for (index, (rel, href)) in links.enumerate() {
            self.raw(if index > 0 { r#",{"rel":"# } else { r#"{"rel":"# });
            self.string(rel);
            self.raw(r#","href":"#);
            self.string(href);
            self.raw("}");
        }
        self.raw(r#"],"details":{"errorCount":"#);
        self.number(messages.iter().filter(|message| message.error).count() as u64);
        self.raw(r#","messageList":["#);
        for (index, message) in messages.iter().enumerate() {
            if index > 0 {
                self.raw(",");
            }
            self.message(message, zone);
        }
        self.raw("]}}");
    }

    /// One status message (see [`message_body`]); `extra` is a JSON string
    /// holding the JSON text of the extra fields.
    fn message(&mut self, message: &StatusMessage, zone: Zone) {
        self.raw(r#"{"message":"#);
        self.string(&message.message);
        self.raw(if message.error { r#","error":true,"context_type":"# } else { r#","error":false,"context_type":"# });
        self.string(&message.context_type);
        self.raw(r#","context":"#);
        self.string(&message.context);
        self.raw(r#","ts":"#);
        self.time(&message.timestamp, zone);
        self.raw(r#","extra":"#);
        if message.extra.is_empty() {
            self.raw(r#""{}""#);
        } else {
            let text = serde_json::to_string(&message.extra).unwrap_or_else(|_| "{}".into());
            self.string(&text);
        }
        self.raw("}");
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

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
    fn python_datetime_spelling_beyond_four_digit_years() {
        let late = Utc.with_ymd_and_hms(12345, 6, 7, 8, 9, 10).single().expect("valid date") + chrono::Duration::microseconds(7);
        assert_eq!(py_datetime(&late, Zone::Aware), "12345-06-07 08:09:10.000007+00:00");
        let early = Utc.with_ymd_and_hms(-44, 3, 15, 0, 0, 0).single().expect("valid date");
        assert_eq!(py_datetime(&early, Zone::Naive), "-044-03-15 00:00:00");
    }

    /// The list's hand-written JSON against the `Value` form, page by page.
    fn assert_list_matches_value_form(page: &[TaskWithMessages]) {
        for zone in [Zone::Aware, Zone::Naive] {
            let text = TaskListView::new(page, zone).to_json();
            // The typed bodies, serialised as the JSON payloads write them.
            let typed: Vec<TaskBody> = page.iter().map(|entry| task_body(&entry.task, &entry.messages, zone)).collect();
            let value = typed.to_json().expect("a JSON array");
            assert_eq!(text, value.to_string());
            // And the text reads back into the same typed bodies.
            let parsed: Value = serde_json::from_str(&text).expect("JSON");
            let read = <Vec<TaskBody> as poem_openapi::types::ParseFromJSON>::parse_from_json(Some(parsed)).expect("typed");
            assert_eq!(read, typed);
        }
    }

    #[test]
    fn the_list_serialises_like_the_value_form() {
        use drydock_core::ids::{DesignRef, TaskId};
        use drydock_core::task::Action;
        let mut task = Task::new(Action::DeployNodes, Some(DesignRef("file:///site.yaml".into())));
        task.parent = Some(TaskId::generate());
        task.subtasks = vec![TaskId::generate(), TaskId::generate()];
        task.result.success(Some("n01"));
        task.result.failure(Some("n02"));
        task.result.add_link("detail_logs", "http://drydock/api/v1.0/tasks/x/builddata");
        task.result.add_link("detail_logs", "http://drydock/other");
        task.result.add_link("other \"rel\"", "http://drydock/\u{7f}");
        task.result.message = Some("partly".into());
        task.result.reason = Some(String::new());
        task.node_filter = Some(json!({"filter_set_type": "union", "filter_set": [{"node_names": ["a\"b", "é"]}]}));
        task.updated = Some(task.created);
        task.terminated = Some(Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).single().expect("valid date"));
        task.terminated_by = Some("ops\n".into());
        task.terminate = true;
        task.retry = u32::MAX;
        task.created_by = Some("shipyard".into());
        let mut noisy = StatusMessage::node("n02", "failed \"badly\"", true);
        noisy.extra.insert("retry".into(), json!(true));
        let messages = vec![StatusMessage::task_wide("started", false), noisy];
        assert_list_matches_value_form(&[TaskWithMessages { task: task.clone(), messages: messages.clone() }]);
        let bare = Task::new(Action::VerifySite, None);
        assert_list_matches_value_form(&[TaskWithMessages { task: bare.clone(), messages: Vec::new() }]);

        // A page: extras with escapes, every control character and non-ASCII
        // text, timestamps with and without microseconds.
        let controls: String = (0u8..0x20).map(char::from).chain(['\u{7f}', '"', '\\', '/', 'ü', '😀']).collect();
        let mut odd = StatusMessage::new(controls.clone(), false, controls.clone(), "tab\there \u{1} “quoted” \\ é");
        odd.extra.insert("path\\key \"x\"".into(), json!({"nested": ["a\nb", 1.5, null, "ü", controls], "n": -3}));
        odd.timestamp = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let mut weird = bare.clone();
        weird.design_ref = Some(DesignRef(format!("file:///{}", (0u8..0x20).map(char::from).collect::<String>())));
        assert_list_matches_value_form(&[
            TaskWithMessages { task: task.clone(), messages: messages.clone() },
            TaskWithMessages { task: bare.clone(), messages: Vec::new() },
            TaskWithMessages { task: bare, messages: vec![odd] },
            TaskWithMessages { task: weird, messages: Vec::new() },
        ]);
        assert_eq!(TaskListView::new(&[], Zone::Naive).to_json(), "[]");
    }
}
