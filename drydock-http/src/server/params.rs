//! Query parameters documented with the type clients send (integer,
//! boolean, an enum of words) but read as the text they are, so that each
//! handler keeps the original's lenient parsing and its own messages
//! (`subtaskerrors=True`, `layers=abc` read as 0, `days=None`): the
//! document states the contract, the server accepts what the original's
//! clients send.

use std::borrow::Cow;
use std::marker::PhantomData;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseFromParameter, ParseResult, Type};
use serde_json::Value;

/// What a parameter is documented as.
pub trait Declared: Send + Sync + 'static {
    /// The schema.
    fn schema() -> MetaSchema;
}

/// A query value as sent, documented as `D`.
pub struct Lenient<D>(pub String, PhantomData<fn() -> D>);

impl<D> Lenient<D> {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<D: Declared> Type for Lenient<D> {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        Cow::Borrowed(D::schema().ty)
    }
    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(D::schema()))
    }
    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.0)
    }
    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl<D: Declared> ParseFromParameter for Lenient<D> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Lenient(value.to_owned(), PhantomData))
    }
}

/// The text of an optional lenient query value.
pub fn text<D>(value: &Option<Lenient<D>>) -> Option<&str> {
    value.as_ref().map(|value| value.0.as_str())
}

macro_rules! declared {
    ($($(#[$doc:meta])* $name:ident => $schema:expr;)*) => {
        $(
            $(#[$doc])*
            pub struct $name;
            impl Declared for $name {
                fn schema() -> MetaSchema {
                    $schema
                }
            }
        )*
    };
}

fn words(words: &[&str]) -> MetaSchema {
    MetaSchema { enum_items: words.iter().map(|word| Value::String((*word).into())).collect(), ..MetaSchema::new("string") }
}

declared! {
    /// A boolean (`true`/`false`; the server also takes `True`, `yes`, `1`, …).
    Flag => MetaSchema::new("boolean");
    /// A page size, 1 or more (larger values are capped).
    PageSize => MetaSchema { minimum: Some(1.0), example: Some(100.into()), ..MetaSchema::new_with_format("integer", "int64") };
    /// A depth of the task tree: 0 the task, N its descendants down to depth N, -1 all.
    Depth => MetaSchema { minimum: Some(-1.0), example: Some((-1).into()), ..MetaSchema::new_with_format("integer", "int64") };
    /// Whole days, 0 to 36500.
    Days => MetaSchema { minimum: Some(0.0), maximum: Some(36_500.0), example: Some(90.into()), ..MetaSchema::new_with_format("integer", "int64") };
    /// `designed` or `compiled`.
    DesignSource => words(&["designed", "compiled"]);
    /// `yaml`.
    Ingester => words(&["yaml"]);
}
