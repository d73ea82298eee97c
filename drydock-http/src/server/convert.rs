//! Value conversions at the HTTP boundary: JSON node filters into the core's
//! filter type, and YAML documents into JSON for the designs API.

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

/// A YAML node as JSON (mapping keys become strings).
pub fn yaml_to_json(node: &yaml_rust2::Yaml) -> serde_json::Value {
    use yaml_rust2::Yaml;
    match node {
        Yaml::Real(text) => text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or(serde_json::Value::Null, Into::into),
        Yaml::Integer(int) => (*int).into(),
        Yaml::String(text) => text.clone().into(),
        Yaml::Boolean(flag) => (*flag).into(),
        Yaml::Array(items) => items.iter().map(yaml_to_json).collect(),
        Yaml::Hash(map) => map
            .iter()
            .map(|(key, value)| {
                let key = match key {
                    Yaml::String(text) => text.clone(),
                    Yaml::Integer(int) => int.to_string(),
                    Yaml::Boolean(flag) => flag.to_string(),
                    Yaml::Real(text) => text.clone(),
                    _ => "null".to_owned(),
                };
                (key, yaml_to_json(value))
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => serde_json::Value::Null,
    }
}
