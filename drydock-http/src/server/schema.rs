//! OpenAPI schemas for the response bodies the server writes as JSON values
//! (`wire/`): the bodies stay exactly the original's (key order, Python
//! timestamps, nulls), and [`Documented`] / [`crate::server::body::JsonText`]
//! give the document their shape from the descriptions here. schemathesis
//! checks every response it provokes against them (scripts/checks).

use std::borrow::Cow;
use std::marker::PhantomData;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use serde_json::Value;

/// The documented shape of a response body.
pub trait Shape: Send + Sync + 'static {
    /// The schema where the body appears (usually a reference).
    fn schema_ref() -> MetaSchemaRef;
    /// Registers the named schemas it refers to.
    fn register(registry: &mut Registry);
}

/// A JSON array of `S`.
pub struct ListOf<S>(PhantomData<S>);

impl<S: Shape> Shape for ListOf<S> {
    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema { items: Some(Box::new(S::schema_ref())), ..MetaSchema::new("array") }))
    }
    fn register(registry: &mut Registry) {
        S::register(registry);
    }
}

/// A JSON value documented as `S`.
pub struct Documented<S>(pub Value, PhantomData<S>);

impl<S> Documented<S> {
    /// Wrap a body.
    pub fn new(value: Value) -> Self {
        Documented(value, PhantomData)
    }
}

impl<S: Shape> Type for Documented<S> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Value;
    type RawElementValueType = Value;

    fn name() -> Cow<'static, str> {
        Cow::Borrowed("documented")
    }
    fn schema_ref() -> MetaSchemaRef {
        S::schema_ref()
    }
    fn register(registry: &mut Registry) {
        S::register(registry);
    }
    fn as_raw_value(&self) -> Option<&Value> {
        Some(&self.0)
    }
    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Value> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl<S: Shape> ToJSON for Documented<S> {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.clone())
    }
}

fn inline(schema: MetaSchema) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(schema))
}

fn string() -> MetaSchemaRef {
    inline(MetaSchema::new("string"))
}

fn nullable_string() -> MetaSchemaRef {
    inline(MetaSchema { nullable: true, ..MetaSchema::new("string") })
}

fn boolean() -> MetaSchemaRef {
    inline(MetaSchema::new("boolean"))
}

fn integer() -> MetaSchemaRef {
    inline(MetaSchema::new("integer"))
}

/// An object of any properties.
fn object_map() -> MetaSchemaRef {
    inline(MetaSchema::new("object"))
}

fn any() -> MetaSchemaRef {
    inline(MetaSchema::ANY)
}

fn array(items: MetaSchemaRef) -> MetaSchemaRef {
    inline(MetaSchema { items: Some(Box::new(items)), ..MetaSchema::new("array") })
}

/// An object whose listed properties are all present.
fn object(description: &'static str, properties: Vec<(&'static str, MetaSchemaRef)>) -> MetaSchema {
    MetaSchema {
        description: Some(description),
        required: properties.iter().map(|(name, _)| *name).collect(),
        properties,
        ..MetaSchema::new("object")
    }
}

/// An object with `required` properties present and the others optional.
fn object_with(description: &'static str, required: &[&'static str], properties: Vec<(&'static str, MetaSchemaRef)>) -> MetaSchema {
    MetaSchema { description: Some(description), required: required.to_vec(), properties, ..MetaSchema::new("object") }
}

/// The head every Status document shares (`kind`, `apiVersion`, `metadata`,
/// `message`, `reason`, `status`), followed by `rest`.
fn status_document(text: fn() -> MetaSchemaRef, rest: Vec<(&'static str, MetaSchemaRef)>) -> Vec<(&'static str, MetaSchemaRef)> {
    let mut properties = vec![
        ("kind", string()),
        ("apiVersion", string()),
        ("metadata", object_map()),
        ("message", text()),
        ("reason", text()),
        ("status", string()),
    ];
    properties.extend(rest);
    properties
}

/// A shape registered under a name in `components/schemas`.
macro_rules! named {
    ($(#[$doc:meta])* $shape:ident, $name:literal, $schema:expr) => {
        $(#[$doc])*
        pub struct $shape;

        impl Shape for $shape {
            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Reference($name.into())
            }
            fn register(registry: &mut Registry) {
                registry.create_schema::<$shape, _>($name.into(), $schema);
            }
        }
    };
}

named!(
    /// `GET /versions`.
    Versions,
    "Versions",
    |registry| {
        VersionEntry::register(registry);
        object("The API versions this server offers.", vec![("v1.0", VersionEntry::schema_ref())])
    }
);

named!(
    /// One entry of [`Versions`].
    VersionEntry,
    "VersionEntry",
    |_| object("Where a version lives and whether it is stable.", vec![("path", string()), ("status", string())])
);

named!(
    /// A task status message (compat §2.4).
    StatusMessage,
    "StatusMessage",
    |_| object(
        "A status message of a task; `context` names the node (or the task) it is about; `extra` is a JSON object written as a string.",
        vec![
            ("message", string()),
            ("error", boolean()),
            ("context_type", string()),
            ("context", string()),
            ("ts", string()),
            ("extra", string()),
        ],
    )
);

named!(
    /// A task's result, a Status document (compat §2.3).
    TaskResult,
    "TaskResult",
    |registry| {
        StatusMessage::register(registry);
        let link = object("A related link.", vec![("rel", string()), ("href", string())]);
        let details = object(
            "The messages recorded on the task.",
            vec![("errorCount", integer()), ("messageList", array(StatusMessage::schema_ref()))],
        );
        object(
            "A Status document: the task's result, the nodes it succeeded and failed on, and its messages.",
            status_document(
                nullable_string,
                vec![
                    ("successes", array(string())),
                    ("failures", array(string())),
                    ("links", array(inline(link))),
                    ("details", inline(details)),
                ],
            ),
        )
    }
);

/// The properties of a task body, all present (compat §2.1).
fn task_properties() -> Vec<(&'static str, MetaSchemaRef)> {
    vec![
        ("kind", string()),
        ("apiVersion", string()),
        ("task_id", string()),
        ("action", string()),
        ("parent_task_id", nullable_string()),
        ("design_ref", nullable_string()),
        ("status", string()),
        ("result", TaskResult::schema_ref()),
        ("node_filter", any()),
        ("subtask_id_list", array(string())),
        ("created", string()),
        ("created_by", nullable_string()),
        ("updated", nullable_string()),
        ("terminated", nullable_string()),
        ("terminated_by", nullable_string()),
        ("terminate", boolean()),
        ("retry", integer()),
    ]
}

named!(
    /// A task (compat §2.1).
    Task,
    "Task",
    |registry| {
        TaskResult::register(registry);
        object("A task: timestamps are Python `str(datetime)` text (UTC, no zone).", task_properties())
    }
);

named!(
    /// `GET /tasks/{id}`: the task, or with `layers` the task and its
    /// descendants by id (compat §1.3.4).
    TaskDetail,
    "TaskDetail",
    |registry| {
        Task::register(registry);
        BuildData::register(registry);
        SubtaskErrors::register(registry);
        let mut task = task_properties();
        let required: Vec<&'static str> = task.iter().map(|(name, _)| *name).collect();
        task.extend([("build_data", array(BuildData::schema_ref())), ("subtask_errors", SubtaskErrors::schema_ref())]);
        let task = object_with("The task; with `builddata` its build data, with `subtaskerrors` its descendants' errors.", &required, task);
        // With `builddata` each task also has its `build_data`; a descendant
        // no longer stored is null.
        let layer = MetaSchema { nullable: true, all_of: vec![Task::schema_ref()], ..MetaSchema::ANY };
        let layers = MetaSchema {
            additional_properties: Some(Box::new(inline(layer))),
            ..object_with(
                "With `layers` (N > 0, or -1 for all): the task and its descendants down to that depth, by task id.",
                &["init_task_id"],
                vec![("init_task_id", string()), ("subtask_errors", SubtaskErrors::schema_ref())],
            )
        };
        MetaSchema {
            description: Some("A task, or with `layers` the task tree by id."),
            any_of: vec![inline(task), inline(layers)],
            ..MetaSchema::ANY
        }
    }
);

named!(
    /// `subtask_errors` of a task read.
    SubtaskErrors,
    "SubtaskErrors",
    |registry| {
        SubtaskError::register(registry);
        MetaSchema {
            description: Some("With `subtaskerrors`: every descendant whose messages include an error, by task id."),
            additional_properties: Some(Box::new(SubtaskError::schema_ref())),
            ..MetaSchema::new("object")
        }
    }
);

named!(
    /// A descendant's result in `subtask_errors`.
    SubtaskError,
    "SubtaskError",
    |registry| {
        TaskResult::register(registry);
        MetaSchema {
            description: Some("A descendant task's result (it has errors) and its id."),
            all_of: vec![TaskResult::schema_ref(), inline(object("The descendant.", vec![("task_id", string())]))],
            ..MetaSchema::new("object")
        }
    }
);

named!(
    /// A build-data record (compat §1.3.8).
    BuildData,
    "BuildData",
    |_| object(
        "Data a task collected about a node (e.g. lshw output).",
        vec![
            ("node_name", string()),
            ("task_id", string()),
            ("collected_date", string()),
            ("generator", string()),
            ("data_format", string()),
            ("data_element", string()),
        ],
    )
);

named!(
    /// One message of a validation report: a finding or a plain message.
    ValidationMessage,
    "ValidationMessage",
    |_| {
        let document = object("A document a finding is about.", vec![("schema", string()), ("name", string())]);
        object_with(
            "A finding (`kind: ValidationMessage`, with `name`, `level`, `diagnostic`, `documents`) or a plain message \
             (`context_type`, `context`, `extra`).",
            &["message", "error", "ts"],
            vec![
                ("kind", string()),
                ("name", string()),
                ("message", string()),
                ("error", boolean()),
                ("level", string()),
                ("diagnostic", nullable_string()),
                ("ts", string()),
                ("documents", array(inline(document))),
                ("context_type", string()),
                ("context", string()),
                ("extra", any()),
            ],
        )
    }
);

named!(
    /// The validatedesign report, a Status document (compat §1.3.12).
    ValidationStatus,
    "ValidationStatus",
    |registry| {
        ValidationMessage::register(registry);
        let details = object(
            "The findings.",
            vec![("errorCount", integer()), ("messageList", array(ValidationMessage::schema_ref()))],
        );
        object(
            "A Status document with the design's findings; `code` is 200 or 400.",
            status_document(nullable_string, vec![("details", inline(details)), ("code", integer())]),
        )
    }
);

named!(
    /// A machine as `GET /nodes` lists it (compat §1.3.9).
    Node,
    "Node",
    |_| object(
        "A machine known to the node provisioner.",
        vec![
            ("hostname", string()),
            ("memory", integer()),
            ("cpu_count", integer()),
            ("status_name", string()),
            ("boot_mac", nullable_string()),
            ("power_state", nullable_string()),
            ("power_address", nullable_string()),
            ("boot_ip", nullable_string()),
        ],
    )
);

named!(
    /// `GET /health/extended`.
    HealthStatus,
    "HealthStatus",
    |_| {
        let message =
            object("A failed check.", vec![("message", string()), ("error", boolean()), ("kind", string())]);
        let details = object("The failed checks.", vec![("errorCount", integer()), ("messageList", array(inline(message)))]);
        object(
            "A Status document: `Success` with code 200, or `Failure` with code 503 and the failed checks.",
            status_document(string, vec![("details", inline(details)), ("code", integer())]),
        )
    }
);

named!(
    /// One part of a stored design.
    DesignPart,
    "DesignPart",
    |_| object(
        "A YAML stream added to a design, from a request body or a design reference.",
        vec![("design_id", string()), ("sequence", integer()), ("source", string()), ("added", string()), ("bytes", integer())],
    )
);

named!(
    /// A stored design.
    Design,
    "Design",
    |registry| {
        DesignPart::register(registry);
        ValidationStatus::register(registry);
        object_with(
            "A stored design: with `source=designed` its parts, with `source=compiled` its validation report and node names.",
            &["id", "created", "part_count"],
            vec![
                ("id", string()),
                ("created", string()),
                ("part_count", integer()),
                ("parts", array(DesignPart::schema_ref())),
                ("validation", ValidationStatus::schema_ref()),
                ("nodes", array(string())),
            ],
        )
    }
);

named!(
    /// One document of a stored design, as it was written.
    DesignDocument,
    "DesignDocument",
    |_| object_with(
        "A design document as written: Deckhand form (`schema`, `metadata`, `data`) or the legacy form (`apiVersion`, `kind`, \
         `metadata`, `spec`).",
        &[],
        vec![
            ("schema", string()),
            ("apiVersion", string()),
            ("kind", string()),
            ("metadata", object_map()),
            ("data", any()),
            ("spec", any()),
        ],
    )
);

named!(
    /// A boot action's status row, as `POST /bootactions/{action_id}`
    /// answers (compat §1.3.14; never the key).
    BootActionStatus,
    "BootActionStatus",
    |_| object(
        "A boot action of a node and its status: `incomplete` until the node reports `success` or `failure`.",
        vec![
            ("node_name", string()),
            ("action_id", string()),
            ("action_name", string()),
            ("task_id", string()),
            ("action_status", string()),
        ],
    )
);

named!(
    /// The framework's error body (format B: boot-action API, router errors).
    FrameworkError,
    "FrameworkError",
    |_| object_with(
        "An error in the framework's form (format B): a `title` such as `404 Not Found` and, mostly, a `description`.",
        &["title"],
        vec![("title", string()), ("description", string())],
    )
);

fn list_of_objects() -> MetaSchemaRef {
    array(object_map())
}

named!(
    /// What a deployed node sees of itself (a Rust addition, docs/compat.md).
    NodeIntrospection,
    "NodeIntrospection",
    |_| {
        let storage = object(
            "Physical devices with their partitions, and volume groups with their logical volumes.",
            vec![("physical_devices", list_of_objects()), ("volume_groups", list_of_objects())],
        );
        let platform =
            object("Image, kernel and kernel parameters.", vec![("image", nullable_string()), ("kernel", nullable_string()), ("kernel_params", object_map())]);
        let metadata = object(
            "Tags, owner data, rack, PXE MAC and hardware profile.",
            vec![
                ("tags", array(string())),
                ("owner_data", object_map()),
                ("rack", nullable_string()),
                ("boot_mac", nullable_string()),
                ("hardware_profile", nullable_string()),
            ],
        );
        object(
            "The node's effective configuration as deployed by `task_id` from `design_ref` (credentials redacted).",
            vec![
                ("hostname", string()),
                ("domain", string()),
                ("fqdn", string()),
                ("task_id", string()),
                ("design_ref", string()),
                ("primary_network", nullable_string()),
                ("interfaces", list_of_objects()),
                ("addresses", list_of_objects()),
                ("routes", list_of_objects()),
                ("storage", inline(storage)),
                ("platform", inline(platform)),
                ("metadata", inline(metadata)),
            ],
        )
    }
);

/// A list of node names.
pub type NodeNames = ListOf<Text>;

/// A string.
pub struct Text;

impl Shape for Text {
    fn schema_ref() -> MetaSchemaRef {
        string()
    }
    fn register(_: &mut Registry) {}
}
