//! `drydock/BootAction/v1` → [`BootAction`] (compat: site-design spec §2.8):
//! assets with their pipelines, octal permissions and inline package lists,
//! and the node filter (also used for filters that arrive as JSON).

use super::coerce::{MapError, MapResult, as_map, cannot_be_none, key_string, opt_bool, opt_string, to_string, to_string_list};
use crate::ingest::value::{Map, Value};
use crate::model::{Asset, AssetType, BootAction, DocMeta, FilterSetType, LabelPairs, NodeFilter, NodeFilterEntry, PipelineSegment};

pub(super) fn map(meta: DocMeta, data: &Map) -> MapResult<BootAction> {
    let assets = match data.get("assets") {
        Some(Value::Seq(seq)) => seq.items.iter().map(|item| map_asset(as_map(item, "assets")?)).collect::<MapResult<Vec<_>>>()?,
        Some(other) if !other.is_null() => {
            return Err(MapError::new(format!("A list is required in field assets, not a {}", other.py_type_name())));
        }
        _ => return Err(MapError::new("a boot action needs an assets list (it may be empty)").at(Some(data.line))),
    };
    let node_filter = match data.get("node_filter") {
        None | Some(Value::Null) => None,
        Some(value) => Some(node_filter_from_value(value, true).map_err(|error| error.at(value.line()))?),
    };
    Ok(BootAction { meta, signaling: opt_bool(data, "signaling").unwrap_or(true), assets, node_filter })
}

fn pipeline(entry: &Map, key: &str) -> MapResult<Vec<PipelineSegment>> {
    match entry.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(value) => to_string_list(value, key)?
            .into_iter()
            .map(|name| PipelineSegment::parse(&name).ok_or_else(|| MapError::new(format!("Bootaction pipeline segment {name} unknown."))))
            .collect(),
    }
}

fn map_asset(entry: &Map) -> MapResult<Asset> {
    let type_text = opt_string(entry, "type")?.ok_or_else(|| cannot_be_none("type").at(Some(entry.line)))?;
    let asset_type = AssetType::parse(&type_text).ok_or_else(|| MapError::new(format!("Field value {type_text} is invalid")))?;
    let permissions = match opt_string(entry, "permissions")? {
        Some(text) => Some(parse_octal(&text)?),
        None => None,
    };
    let location = opt_string(entry, "location")?;
    let mut asset = Asset {
        asset_type,
        path: opt_string(entry, "path")?,
        location: location.clone(),
        data: None,
        package_list: None,
        location_pipeline: pipeline(entry, "location_pipeline")?,
        data_pipeline: pipeline(entry, "data_pipeline")?,
        permissions,
    };
    let data = entry.get("data");
    if asset_type == AssetType::PkgList {
        match data {
            Some(Value::Map(packages)) => asset.package_list = Some(package_list(packages)?),
            _ if location.is_none() => return Err(MapError::new("Requires a top-level mapping/object.").at(Some(entry.line))),
            _ => {}
        }
    } else if let Some(data) = data {
        asset.data = to_string(data, "data")?;
    }
    Ok(asset)
}

/// compat §2.8: keys strings, values strings or falsy.
fn package_list(packages: &Map) -> MapResult<indexmap::IndexMap<String, Option<String>>> {
    let mut list = indexmap::IndexMap::new();
    for (key, value) in &packages.entries {
        let Value::Str(name) = key else {
            return Err(MapError::new("Keys and values must be strings.").at(Some(packages.line)));
        };
        let version = match value {
            Value::Str(text) => Some(text.clone()),
            other if !other.is_truthy() => None,
            _ => return Err(MapError::new("Keys and values must be strings.").at(Some(packages.line))),
        };
        list.insert(name.clone(), version);
    }
    Ok(list)
}

/// Python's `int(text, 8)`.
fn parse_octal(text: &str) -> MapResult<u32> {
    let trimmed = text.trim();
    let (negative, body) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let body = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")).unwrap_or(body);
    match u32::from_str_radix(body, 8) {
        Ok(value) if !negative && !body.is_empty() && !body.starts_with('+') => Ok(value),
        _ => Err(MapError::new(format!("invalid literal for int() with base 8: '{text}' (field permissions)"))),
    }
}

/// A node filter from JSON (a task's `node_filter`, a `nodefilter` request,
/// a Python dict): label values that are not strings never match.
pub fn node_filter_from_json(value: &serde_json::Value) -> Result<NodeFilter, super::MapError> {
    node_filter_from_value(&json_to_value(value), false)
}

/// Convert a JSON value to the ingest value type.
fn json_to_value(value: &serde_json::Value) -> crate::ingest::value::Value {
    use crate::ingest::value::{Map, Seq, Value};
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(flag) => Value::Bool(*flag),
        serde_json::Value::Number(number) => match number.as_i64() {
            Some(int) => Value::Int(int),
            None => Value::Float(number.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(text) => Value::Str(text.clone()),
        serde_json::Value::Array(items) => Value::Seq(Seq { line: 0, items: items.iter().map(json_to_value).collect() }),
        serde_json::Value::Object(map) => {
            Value::Map(Map { line: 0, entries: map.iter().map(|(key, item)| (Value::Str(key.clone()), json_to_value(item))).collect() })
        }
    }
}

/// Build a node filter from a value (compat: site-design spec §4.1). With
/// `labels_as_strings`, label values are coerced to strings as boot-action
/// documents are; otherwise (filters from JSON) a non-string value is kept as
/// "never matches".
pub fn node_filter_from_value(value: &Value, labels_as_strings: bool) -> Result<NodeFilter, super::MapError> {
    let map = as_map(value, "node_filter")?;
    let set_type = opt_string(map, "filter_set_type")?.ok_or_else(|| cannot_be_none("filter_set_type").at(Some(map.line)))?;
    let mut filter_set = Vec::new();
    match map.get("filter_set") {
        None | Some(Value::Null) => {}
        Some(Value::Seq(seq)) => {
            for item in &seq.items {
                filter_set.push(filter_entry(as_map(item, "filter_set")?, labels_as_strings)?);
            }
        }
        Some(other) => return Err(MapError::new(format!("A list is required in field filter_set, not a {}", other.py_type_name()))),
    }
    Ok(NodeFilter { filter_set_type: FilterSetType::parse(&set_type), filter_set })
}

fn filter_entry(entry: &Map, labels_as_strings: bool) -> MapResult<NodeFilterEntry> {
    let list = |key: &str| -> MapResult<Option<Vec<String>>> {
        match entry.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => to_string_list(value, key).map(Some),
        }
    };
    let labels = |key: &str| -> MapResult<Option<LabelPairs>> {
        let Some(value) = entry.get(key).filter(|value| !value.is_null()) else {
            return Ok(None);
        };
        let map = as_map(value, key)?;
        let mut pairs = Vec::new();
        for (label_key, label_value) in &map.entries {
            let name = key_string(label_key, key)?;
            let text = if labels_as_strings {
                to_string(label_value, &format!("{key}[{name}]"))?
            } else {
                label_value.as_str().map(str::to_owned)
            };
            pairs.push((name, text));
        }
        Ok(Some(pairs))
    };
    Ok(NodeFilterEntry {
        filter_type: opt_string(entry, "filter_type")?.map(|text| FilterSetType::parse(&text)),
        node_names: list("node_names")?,
        node_tags: list("node_tags")?,
        node_labels: labels("node_labels")?,
        rack_names: list("rack_names")?,
        rack_labels: labels("rack_labels")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_parse_as_python_octal() {
        assert_eq!(parse_octal("555"), Ok(0o555));
        assert_eq!(parse_octal("0755"), Ok(0o755));
        assert!(parse_octal("999").is_err());
        assert!(parse_octal("abc123").is_err());
    }
}
