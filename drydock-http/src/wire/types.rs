//! Typed building blocks of the wire bodies: the core's compat enums as
//! OpenAPI enums ([`Compat`], whose values come from the core's own
//! `ALL`/`as_str`, so the document lists exactly what is sent; a set whose
//! values differ only by case is a described string instead), JSON values
//! documented with a known schema ([`Shaped`]), and the node filter.
//!
//! Enum fields: an object field whose type is a named enum carries its
//! meaning in a `//` comment (with `#[allow(missing_docs)]`), not a `///`
//! doc. poem-openapi turns a field doc into `allOf: [{$ref}, {description}]`
//! around the reference, which openapi-python-client cannot take for a
//! non-object ("Cannot take allOf a non-object"); without it the field is a
//! plain `$ref` and the enum's own description says what the values mean.

use std::borrow::Cow;
use std::marker::PhantomData;

use drydock_core::model::Level;
use drydock_core::task::{Action, ActionResult, TaskStatus};
use drydock_core::validate::DesignStatus;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use poem_openapi::{Enum, Object};
use serde_json::Value;

/// A core enum with wire strings.
pub trait WireEnum: Copy + Send + Sync + 'static {
    /// The schema name in `components/schemas`.
    const NAME: &'static str;
    /// What the schema says.
    const DESCRIPTION: &'static str;
    /// Whether the values are documented as a named enum. Generated clients
    /// (progenitor, openapi-python-client) cannot take an enum whose values
    /// differ only by case: such a set is documented as a string, inline,
    /// with [`WireEnum::DESCRIPTION`] naming the values.
    const ENUMERATED: bool = true;
    /// Every value, in declaration order.
    fn all() -> &'static [Self];
    /// The wire string.
    fn wire(self) -> &'static str;
}

macro_rules! wire_enum {
    ($ty:ty, $name:literal, $description:literal, $all:expr) => {
        impl WireEnum for $ty {
            const NAME: &'static str = $name;
            const DESCRIPTION: &'static str = $description;
            fn all() -> &'static [Self] {
                $all
            }
            fn wire(self) -> &'static str {
                self.as_str()
            }
        }
    };
}

wire_enum!(Action, "TaskAction", "What a task does (compat §2.2.3).", Action::ALL);
wire_enum!(TaskStatus, "TaskStatus", "Execution state of a task (compat §2.2.1).", TaskStatus::ALL);
wire_enum!(ActionResult, "ResultStatus", "Outcome of a task or a boot action (compat §2.2.2).", ActionResult::ALL);
wire_enum!(Level, "FindingLevel", "Severity of a validation finding.", &[Level::Error, Level::Warning, Level::Info]);

impl WireEnum for DesignStatus {
    const NAME: &'static str = "ValidationResult";
    const DESCRIPTION: &'static str =
        "Outcome of a design validation: `Success`, `Failure`, or `failure` (lowercase) when the design could not be evaluated.";
    // `Failure` and `failure` differ only by case.
    const ENUMERATED: bool = false;
    fn all() -> &'static [Self] {
        &[DesignStatus::Success, DesignStatus::Failure, DesignStatus::NotEvaluated]
    }
    fn wire(self) -> &'static str {
        self.as_str()
    }
}

/// A core enum on the wire: its compat string, documented as a named enum
/// of every value (or, when not [`WireEnum::ENUMERATED`], as a described
/// string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compat<E>(pub E);

impl<E: WireEnum> Type for Compat<E> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        Cow::Borrowed(E::NAME)
    }
    fn schema_ref() -> MetaSchemaRef {
        if E::ENUMERATED {
            MetaSchemaRef::Reference(E::NAME.into())
        } else {
            MetaSchemaRef::Inline(Box::new(MetaSchema { description: Some(E::DESCRIPTION), ..MetaSchema::new("string") }))
        }
    }
    fn register(registry: &mut Registry) {
        if !E::ENUMERATED {
            return;
        }
        registry.create_schema::<Self, _>(E::NAME.into(), |_| MetaSchema {
            description: Some(E::DESCRIPTION),
            enum_items: E::all().iter().map(|value| Value::String(value.wire().into())).collect(),
            ..MetaSchema::new("string")
        });
    }
    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }
    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl<E: WireEnum> ToJSON for Compat<E> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.wire().into()))
    }
}

impl<E: WireEnum> ParseFromJSON for Compat<E> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let value = value.unwrap_or_default();
        let found = value.as_str().and_then(|text| E::all().iter().copied().find(|item| item.wire() == text));
        found.map(Compat).ok_or_else(|| ParseError::expected_type(value))
    }
}

/// The documented shape of a JSON value the server passes through (a
/// stored node filter, a design document).
pub trait Shape: Send + Sync + 'static {
    /// The schema where the value appears (usually a reference).
    fn schema_ref() -> MetaSchemaRef;
    /// Registers the named schemas it refers to.
    fn register(registry: &mut Registry);
}

/// A JSON value as it was stored or written, documented as `S`.
pub struct Shaped<S>(pub Value, PhantomData<S>);

impl<S> Shaped<S> {
    /// Wrap a value.
    pub fn new(value: Value) -> Self {
        Shaped(value, PhantomData)
    }
}

impl<S> Clone for Shaped<S> {
    fn clone(&self) -> Self {
        Shaped::new(self.0.clone())
    }
}

impl<S> PartialEq for Shaped<S> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<S> std::fmt::Debug for Shaped<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<S: Shape> Type for Shaped<S> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Value;
    type RawElementValueType = Value;

    fn name() -> Cow<'static, str> {
        Cow::Borrowed("shaped")
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

impl<S: Shape> ToJSON for Shaped<S> {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.clone())
    }
}

impl<S: Shape> ParseFromJSON for Shaped<S> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Ok(Shaped::new(value.unwrap_or_default()))
    }
}

/// How a filter set combines its entries, and how an entry combines its
/// criteria.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum FilterLogic {
    /// Nodes any part selects.
    Union,
    /// Nodes every part selects.
    Intersection,
}

/// One entry of a node filter: criteria combined by `filter_type`; an
/// empty list or object counts as not given.
#[derive(Object, Debug, Clone)]
#[oai(rename = "NodeFilterSet", deny_unknown_fields)]
pub struct NodeFilterSetSchema {
    // How the criteria of this entry combine. (A plain comment: see `wire::types` on enum fields.)
    #[allow(missing_docs)]
    #[oai(skip_serializing_if_is_none)]
    pub filter_type: Option<FilterLogic>,
    /// Nodes by name.
    #[oai(skip_serializing_if_is_none, nullable)]
    pub node_names: Option<Vec<String>>,
    /// Nodes carrying any of these tags.
    #[oai(skip_serializing_if_is_none, nullable)]
    pub node_tags: Option<Vec<String>>,
    /// Nodes whose labels (`owner_data`) match any of these pairs (values compared as strings).
    #[oai(skip_serializing_if_is_none, nullable)]
    pub node_labels: Option<AnyObject>,
    /// Nodes in these racks.
    #[oai(skip_serializing_if_is_none, nullable)]
    pub rack_names: Option<Vec<String>>,
    /// Accepted and ignored (as upstream).
    #[oai(skip_serializing_if_is_none, nullable)]
    pub rack_labels: Option<AnyObject>,
}

/// A node filter (compat: api spec §2.6): which of a design's nodes a task
/// or a query is about.
#[derive(Object, Debug, Clone)]
#[oai(rename = "NodeFilter", deny_unknown_fields, example)]
pub struct NodeFilterSchema {
    // How the entries combine. (A plain comment: see `wire::types` on enum fields.)
    #[allow(missing_docs)]
    pub filter_set_type: FilterLogic,
    /// The entries (absent or empty: no node).
    #[oai(skip_serializing_if_is_none, nullable)]
    pub filter_set: Option<Vec<NodeFilterSetSchema>>,
}

impl poem_openapi::types::Example for NodeFilterSchema {
    fn example() -> Self {
        NodeFilterSchema {
            filter_set_type: FilterLogic::Union,
            filter_set: Some(vec![NodeFilterSetSchema {
                filter_type: Some(FilterLogic::Union),
                node_names: Some(vec!["compute01".into(), "compute02".into()]),
                node_tags: None,
                node_labels: None,
                rack_names: None,
                rack_labels: None,
            }]),
        }
    }
}

/// A node filter as a client sends it: the typed [`NodeFilterSchema`], or
/// null.
pub struct NodeFilterShape;

impl Shape for NodeFilterShape {
    /// Nullable: an absent filter is null (every node).
    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            nullable: true,
            all_of: vec![<NodeFilterSchema as Type>::schema_ref()],
            ..MetaSchema::new("object")
        }))
    }
    fn register(registry: &mut Registry) {
        <NodeFilterSchema as Type>::register(registry);
    }
}

/// A node filter in a request.
pub type NodeFilterValue = Shaped<NodeFilterShape>;

/// A task's node filter as stored: exactly what the client sent (the server
/// checks it with the core's lenient reading, which also takes values the
/// typed `NodeFilter` does not, such as non-string names), or null.
pub struct StoredFilterShape;

impl Shape for StoredFilterShape {
    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            nullable: true,
            description: Some("The node filter as the client sent it (a `NodeFilter`), or null: every node of the design."),
            additional_properties: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema::ANY)))),
            ..MetaSchema::new("object")
        }))
    }
    fn register(_: &mut Registry) {}
}

/// A task's stored node filter.
pub type StoredFilter = Shaped<StoredFilterShape>;

/// A JSON object of any properties (`metadata`, a plain message's
/// `extra`), documented as such.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnyObject(pub serde_json::Map<String, Value>);

impl Type for AnyObject {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        Cow::Borrowed("object")
    }
    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            additional_properties: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema::ANY)))),
            ..MetaSchema::new("object")
        }))
    }
    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }
    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ToJSON for AnyObject {
    fn to_json(&self) -> Option<Value> {
        Some(Value::Object(self.0.clone()))
    }
}

impl ParseFromJSON for AnyObject {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::Object(map) => Ok(AnyObject(map)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

/// A JSON object of string values in the design's order (labels, kernel
/// parameters, owner data), documented as such.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StringMap(pub indexmap::IndexMap<String, String>);

impl Type for StringMap {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        Cow::Borrowed("string_map")
    }
    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            additional_properties: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))))),
            ..MetaSchema::new("object")
        }))
    }
    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }
    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ToJSON for StringMap {
    fn to_json(&self) -> Option<Value> {
        Some(Value::Object(self.0.iter().map(|(key, value)| (key.clone(), Value::String(value.clone()))).collect()))
    }
}

impl ParseFromJSON for StringMap {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::Object(map) => map
                .into_iter()
                .map(|(key, value)| match value {
                    Value::String(text) => Ok((key, text)),
                    other => Err(ParseError::expected_type(other)),
                })
                .collect::<Result<_, _>>()
                .map(StringMap),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

/// An action a client may create a task for (`POST /tasks`), by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatableAction(pub String);

impl Type for CreatableAction {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CreatableAction")
    }
    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference("CreatableAction".into())
    }
    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>("CreatableAction".into(), |_| MetaSchema {
            description: Some("An action a client may create a task for (compat §1.3.5)."),
            enum_items: Action::CREATABLE.iter().map(|action| Value::String(action.as_str().into())).collect(),
            example: Some(Value::String(Action::DeployNodes.as_str().into())),
            ..MetaSchema::new("string")
        });
    }
    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }
    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ToJSON for CreatableAction {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

impl ParseFromJSON for CreatableAction {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(text) if Action::parse(&text).is_some_and(|action| Action::CREATABLE.contains(&action)) => {
                Ok(CreatableAction(text))
            }
            other => Err(ParseError::expected_type(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compat_enums_round_trip_every_value() {
        fn check<E: WireEnum + PartialEq + std::fmt::Debug>() {
            for value in E::all() {
                let json = Compat(*value).to_json().expect("a string");
                assert_eq!(json, Value::String(value.wire().into()));
                assert_eq!(Compat::<E>::parse_from_json(Some(json)).expect("parses").0, *value);
            }
        }
        check::<Action>();
        check::<TaskStatus>();
        check::<ActionResult>();
        check::<Level>();
        check::<DesignStatus>();
        assert!(Compat::<Action>::parse_from_json(Some(Value::String("fly".into()))).is_err());
    }
}
