//! The OpenAPI schema of the one response body that is a JSON value passed
//! through rather than a typed struct: a design's documents as they were
//! written (any YAML document). Every other body is a typed struct in
//! `wire/` or the handlers, which is both the body and its schema.

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};

pub use crate::wire::types::{Shape, Shaped as Documented};

fn inline(schema: MetaSchema) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(schema))
}

fn string() -> MetaSchemaRef {
    inline(MetaSchema::new("string"))
}

/// An object of any properties.
fn object_map() -> MetaSchemaRef {
    inline(MetaSchema::new("object"))
}

fn any() -> MetaSchemaRef {
    inline(MetaSchema::ANY)
}

/// An object with `required` properties present and the others optional.
fn object_with(description: &'static str, required: &[&'static str], properties: Vec<(&'static str, MetaSchemaRef)>) -> MetaSchema {
    MetaSchema { description: Some(description), required: required.to_vec(), properties, ..MetaSchema::new("object") }
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
            ("data", inline(MetaSchema { description: Some("The document's content (Deckhand form): any JSON value, a mapping for Drydock's kinds."), ..MetaSchema::ANY })),
            ("spec", any()),
        ],
    )
);
