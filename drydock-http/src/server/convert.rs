//! Value conversions at the HTTP boundary: JSON node filters into the core's
//! filter type, and YAML documents (parsed with the design path's limits)
//! into JSON for the designs API and policy files.

use drydock_core::ingest::value::{Map, Seq, Value};
use drydock_core::model::NodeFilter;

/// Deepest JSON nesting converted (serde_json itself stops at 128).
const MAX_DEPTH: usize = 64;

fn json_to_value(value: &serde_json::Value, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("the node filter is nested too deeply".into());
    }
    Ok(match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(flag) => Value::Bool(*flag),
        serde_json::Value::Number(number) => match number.as_i64() {
            Some(int) => Value::Int(int),
            None => Value::Float(number.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(text) => Value::Str(text.clone()),
        serde_json::Value::Array(items) => {
            Value::Seq(Seq { line: 0, items: items.iter().map(|item| json_to_value(item, depth + 1)).collect::<Result<_, _>>()? })
        }
        serde_json::Value::Object(map) => Value::Map(Map {
            line: 0,
            entries: map
                .iter()
                .map(|(key, item)| Ok((Value::Str(key.clone()), json_to_value(item, depth + 1)?)))
                .collect::<Result<_, String>>()?,
        }),
    })
}

/// A node filter from its JSON form (compat: api spec §2.6.1).
pub fn node_filter(value: &serde_json::Value) -> Result<NodeFilter, String> {
    let value = json_to_value(value, 0)?;
    drydock_core::ingest::map::node_filter_from_value(&value, false).map_err(|error| error.to_string())
}

/// A parsed YAML value as JSON (mapping keys become strings).
pub fn value_to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(flag) => (*flag).into(),
        Value::Int(int) => (*int).into(),
        Value::Float(float) => serde_json::Number::from_f64(*float).map_or(serde_json::Value::Null, Into::into),
        Value::Str(text) | Value::Timestamp(text) => text.clone().into(),
        Value::Seq(seq) => seq.items.iter().map(value_to_json).collect(),
        Value::Map(map) => map
            .entries
            .iter()
            .map(|(key, item)| {
                let key = match value_to_json(key) {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
                (key, value_to_json(item))
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// Parse a YAML stream with the design path's limits (depth, size, aliases)
/// into JSON documents.
pub fn yaml_documents(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let limits = drydock_core::ingest::YamlLimits::default();
    let documents = drydock_core::ingest::yaml::parse_stream(text, &limits).map_err(|error| error.to_string())?;
    Ok(documents.iter().map(|document| value_to_json(&document.value)).collect())
}
