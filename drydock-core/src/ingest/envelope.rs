//! Recognising Drydock documents in a YAML stream: the Deckhand envelope
//! (`schema`/`metadata`/`data`) and the legacy one (`apiVersion`/`kind`/
//! `metadata`/`spec`) (compat: site-design spec §1.4, §1.5). Everything else
//! is skipped silently, as upstream does.

use super::map::Kind;
use super::value::{Map, Value};

/// Which envelope(s) the ingester accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnvelopeMode {
    /// Per document: `schema` → Deckhand, else `apiVersion` → legacy.
    #[default]
    Auto,
    /// Only Deckhand documents (the original's Deckhand plugin).
    Deckhand,
    /// Only legacy documents (the original's YAML plugin).
    Legacy,
}

/// What a document is.
#[derive(Debug)]
pub(crate) enum Envelope<'v> {
    /// Not a Drydock document: skipped without a finding.
    Skip,
    /// Not a mapping at all: reported.
    NotAMapping,
    /// A Drydock document.
    Drydock(DrydockDocument<'v>),
}

/// The parts of a Drydock document the ingester needs.
#[derive(Debug)]
pub(crate) struct DrydockDocument<'v> {
    /// The full schema string used in document references.
    pub(crate) schema: String,
    /// The kind part (may be unknown).
    pub(crate) kind_name: String,
    /// The kind, when it is one of the eight.
    pub(crate) kind: Option<Kind>,
    /// The version part (`v1`).
    pub(crate) version: String,
    /// `metadata.name`, `Unknown` when absent, or an error when empty/null.
    pub(crate) name: Result<String, &'static str>,
    /// The body (`data` or `spec`); `None` when the key is absent.
    pub(crate) data: Option<&'v Value>,
    /// Whether this came in the legacy envelope.
    pub(crate) legacy: bool,
}

pub(crate) fn classify(value: &Value, mode: EnvelopeMode) -> Envelope<'_> {
    let map = match value {
        Value::Null => return Envelope::Skip,
        Value::Map(map) => map,
        _ => return Envelope::NotAMapping,
    };
    let deckhand = map.contains_key("schema");
    match mode {
        EnvelopeMode::Deckhand => deckhand_envelope(map),
        EnvelopeMode::Legacy => legacy_envelope(map),
        EnvelopeMode::Auto if deckhand => deckhand_envelope(map),
        EnvelopeMode::Auto => legacy_envelope(map),
    }
}

fn document_name(map: &Map) -> Result<String, &'static str> {
    match map.get("metadata") {
        None => Ok("Unknown".into()),
        Some(Value::Map(metadata)) => match metadata.get("name") {
            None => Ok("Unknown".into()),
            Some(Value::Null) => Err("metadata.name is null"),
            Some(Value::Str(name)) if name.is_empty() => Err("metadata.name is empty"),
            Some(Value::Seq(_) | Value::Map(_)) => Err("metadata.name is not a string"),
            Some(name) => Ok(name.py_str()),
        },
        Some(_) => Err("metadata is not a mapping"),
    }
}

fn deckhand_envelope(map: &Map) -> Envelope<'_> {
    let Some(Value::Str(schema)) = map.get("schema") else {
        return Envelope::Skip;
    };
    let parts: Vec<&str> = schema.split('/').collect();
    let [namespace, kind_name, version] = parts[..] else {
        return Envelope::Skip;
    };
    if namespace != "drydock" {
        return Envelope::Skip;
    }
    Envelope::Drydock(DrydockDocument {
        schema: schema.clone(),
        kind_name: kind_name.to_owned(),
        kind: Kind::parse(kind_name),
        version: version.to_owned(),
        name: document_name(map),
        data: map.get("data"),
        legacy: false,
    })
}

fn legacy_envelope(map: &Map) -> Envelope<'_> {
    let Some(Value::Str(api_version)) = map.get("apiVersion") else {
        return Envelope::Skip;
    };
    if !api_version.starts_with("drydock/") {
        return Envelope::Skip;
    }
    let kind_name = map.get("kind").map(Value::py_str).unwrap_or_default();
    Envelope::Drydock(DrydockDocument {
        schema: format!("drydock/{kind_name}/v1"),
        kind: Kind::parse(&kind_name),
        kind_name,
        version: "v1".into(),
        name: document_name(map),
        data: map.get("spec"),
        legacy: true,
    })
}
