//! Field coercion as the original's object model does it (compat:
//! site-design spec §1.7): numbers and booleans become strings in string
//! fields, numeric strings become integers, lists and maps are checked, and
//! required fields without a default are errors that name the field.

use indexmap::IndexMap;

use crate::ingest::value::{Map, Value};
use crate::model::StringMap;

/// A document could not be turned into a model object (becomes DD000).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MapError {
    /// What is wrong, naming the field.
    pub message: String,
    /// Line of the nearest map, when known.
    pub line: Option<u32>,
}

impl MapError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        MapError { message: message.into(), line: None }
    }

    pub(crate) fn at(mut self, line: Option<u32>) -> Self {
        if self.line.is_none() {
            self.line = line;
        }
        self
    }
}

pub(crate) type MapResult<T> = Result<T, MapError>;

/// `Field `<f>' cannot be None`.
pub(crate) fn cannot_be_none(field: &str) -> MapError {
    MapError::new(format!("Field `{field}' cannot be None"))
}

/// A string field: strings as they are, numbers and booleans as Python's `str()`.
pub(crate) fn to_string(value: &Value, field: &str) -> MapResult<Option<String>> {
    match value {
        Value::Null => Ok(None),
        Value::Str(text) | Value::Timestamp(text) => Ok(Some(text.clone())),
        Value::Bool(_) | Value::Int(_) | Value::Float(_) => Ok(Some(value.py_str())),
        Value::Seq(_) | Value::Map(_) => {
            Err(MapError::new(format!("A string is required in field {field}, not a {}", value.py_type_name())).at(value.line()))
        }
    }
}

/// An optional string field of `map`.
pub(crate) fn opt_string(map: &Map, key: &str) -> MapResult<Option<String>> {
    match map.get(key) {
        Some(value) => to_string(value, key),
        None => Ok(None),
    }
}

/// A string field with a default used when absent or null.
pub(crate) fn string_or(map: &Map, key: &str, default: &str) -> MapResult<String> {
    Ok(opt_string(map, key)?.unwrap_or_else(|| default.to_owned()))
}

/// A required string field.
pub(crate) fn req_string(map: &Map, key: &str) -> MapResult<String> {
    opt_string(map, key)?.ok_or_else(|| cannot_be_none(key).at(Some(map.line)))
}

/// An integer field: integers, truncated floats, numeric strings.
pub(crate) fn to_int(value: &Value, field: &str) -> MapResult<Option<i64>> {
    match value {
        Value::Null => Ok(None),
        Value::Int(number) => Ok(Some(*number)),
        Value::Bool(flag) => Ok(Some(i64::from(*flag))),
        Value::Float(number) if number.is_finite() => Ok(Some(number.trunc() as i64)),
        Value::Str(text) => text
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| MapError::new(format!("invalid literal for int() with base 10: {} (field {field})", value.py_repr()))),
        other => Err(MapError::new(format!("An integer is required in field {field}, not a {}", other.py_type_name()))),
    }
}

/// An optional integer field of `map`.
pub(crate) fn opt_int(map: &Map, key: &str) -> MapResult<Option<i64>> {
    match map.get(key) {
        Some(value) => to_int(value, key),
        None => Ok(None),
    }
}

/// A boolean field: Python truthiness.
pub(crate) fn opt_bool(map: &Map, key: &str) -> Option<bool> {
    map.get(key).filter(|value| !value.is_null()).map(Value::is_truthy)
}

/// A list of strings; absent or null gives an empty list.
pub(crate) fn string_list(map: &Map, key: &str) -> MapResult<Vec<String>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(value) => to_string_list(value, key),
    }
}

/// A list of strings from a value.
pub(crate) fn to_string_list(value: &Value, field: &str) -> MapResult<Vec<String>> {
    match value {
        Value::Seq(seq) => {
            seq.items.iter().map(|item| to_string(item, field)?.ok_or_else(|| cannot_be_none(field).at(Some(seq.line)))).collect()
        }
        other => Err(MapError::new(format!("A list is required in field {field}, not a {}", other.py_type_name())).at(other.line())),
    }
}

/// A map with string keys.
pub(crate) fn as_map<'v>(value: &'v Value, field: &str) -> MapResult<&'v Map> {
    value.as_map().ok_or_else(|| MapError::new(format!("A dict is required in field {field}, not a {}", value.py_type_name())))
}

/// The key of a map entry as a string.
pub(crate) fn key_string(key: &Value, field: &str) -> MapResult<String> {
    match key {
        Value::Str(text) => Ok(text.clone()),
        other => Err(MapError::new(format!("A string key is required in field {field}, not a {}", other.py_type_name()))),
    }
}

/// A map of strings (null values are errors).
pub(crate) fn string_map(map: &Map, key: &str) -> MapResult<StringMap> {
    let mut out = StringMap::new();
    let Some(value) = map.get(key).filter(|value| !value.is_null()) else {
        return Ok(out);
    };
    let inner = as_map(value, key)?;
    for (entry_key, entry_value) in &inner.entries {
        let name = key_string(entry_key, key)?;
        let field = format!("{key}[{name}]");
        let text = to_string(entry_value, &field)?.ok_or_else(|| cannot_be_none(&field).at(Some(inner.line)))?;
        out.insert(name, text);
    }
    Ok(out)
}

/// A map of nullable strings (labels).
pub(crate) fn nullable_string_map(map: &Map, key: &str) -> MapResult<IndexMap<String, Option<String>>> {
    let mut out = IndexMap::new();
    let Some(value) = map.get(key).filter(|value| !value.is_null()) else {
        return Ok(out);
    };
    let inner = as_map(value, key)?;
    for (entry_key, entry_value) in &inner.entries {
        let name = key_string(entry_key, key)?;
        let text = to_string(entry_value, &format!("{key}[{name}]"))?;
        out.insert(name, text);
    }
    Ok(out)
}

/// A sub-map that may be absent or null (empty then).
pub(crate) fn sub_map<'v>(map: &'v Map, key: &str) -> MapResult<Option<&'v Map>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => as_map(value, key).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_coerce_like_python() {
        assert_eq!(to_string(&Value::Bool(true), "f"), Ok(Some("True".into())));
        assert_eq!(to_string(&Value::Int(5), "f"), Ok(Some("5".into())));
        assert_eq!(to_string(&Value::Float(3.0), "f"), Ok(Some("3.0".into())));
        let error = to_string(&Value::Seq(Default::default()), "f").expect_err("list");
        assert_eq!(error.message, "A string is required in field f, not a list");
    }

    #[test]
    fn integers_coerce_like_python() {
        assert_eq!(to_int(&Value::Str(" 12 ".into()), "f"), Ok(Some(12)));
        assert_eq!(to_int(&Value::Float(9.7), "f"), Ok(Some(9)));
        assert!(to_int(&Value::Str("1.5".into()), "f").is_err());
    }
}
