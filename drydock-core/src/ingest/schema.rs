//! The eight embedded Drydock JSON schemas (Draft 4) and the check that runs
//! them against a document's `data` (DD001, compat: site-design spec §1.4,
//! §2.0).
//!
//! The schemas use a small Draft-4 subset (`type`, `properties`,
//! `additionalProperties`, `items`, `enum`, `pattern`, `required`, `oneOf`);
//! this module interprets exactly that subset and words every violation the
//! way Python's `jsonschema` does (`600 is not of type 'string'`), so messages
//! match the original's. `format` is not enforced, `pattern` is an unanchored
//! search, and the schemas' typos (`additionalPropties`, `propertes`) stay
//! inert, all as upstream. Any other keyword fails the schema load, so a
//! schema can never be silently half-checked.

use std::sync::OnceLock;

use regex::Regex;

use super::value::{Map, Value, py_str_repr};
use super::yaml::{YamlLimits, parse_stream};

/// The schema sources, keyed by the document schema they check.
const SCHEMA_SOURCES: [(&str, &str); 8] = [
    ("drydock/Region/v1", include_str!("../../schemas/region.yaml")),
    ("drydock/NetworkLink/v1", include_str!("../../schemas/networkLink.yaml")),
    ("drydock/Network/v1", include_str!("../../schemas/network.yaml")),
    ("drydock/HardwareProfile/v1", include_str!("../../schemas/hardwareProfile.yaml")),
    ("drydock/HostProfile/v1", include_str!("../../schemas/hostProfile.yaml")),
    ("drydock/BaremetalNode/v1", include_str!("../../schemas/baremetalNode.yaml")),
    ("drydock/Rack/v1", include_str!("../../schemas/rack.yaml")),
    ("drydock/BootAction/v1", include_str!("../../schemas/bootaction.yaml")),
];

/// Keywords that carry no validation meaning here (annotations, inert typos).
const IGNORED_KEYWORDS: [&str; 6] = ["$schema", "id", "format", "description", "additionalPropties", "propertes"];

/// One schema violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// The validator's message, as Python `jsonschema` words it.
    pub message: String,
    /// Line of the nearest map or sequence holding the offending value.
    pub line: Option<u32>,
}

/// A compiled schema node.
#[derive(Debug)]
struct Node {
    /// Keywords in schema order (errors come out in this order, as upstream).
    checks: Vec<Check>,
}

#[derive(Debug)]
enum Check {
    Type(Vec<JsonType>),
    Properties(Vec<(String, Node)>),
    AdditionalProperties { known: Vec<String>, rule: Additional },
    Items(Box<Node>),
    Enum(Vec<Value>),
    Pattern { source: String, regex: Regex },
    Required(Vec<String>),
    OneOf(Vec<Node>),
}

#[derive(Debug)]
enum Additional {
    Allowed,
    Forbidden,
    Schema(Box<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonType {
    Object,
    Array,
    String,
    Number,
    Integer,
    Boolean,
    Null,
}

impl JsonType {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "object" => JsonType::Object,
            "array" => JsonType::Array,
            "string" => JsonType::String,
            "number" => JsonType::Number,
            "integer" => JsonType::Integer,
            "boolean" => JsonType::Boolean,
            "null" => JsonType::Null,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            JsonType::Object => "object",
            JsonType::Array => "array",
            JsonType::String => "string",
            JsonType::Number => "number",
            JsonType::Integer => "integer",
            JsonType::Boolean => "boolean",
            JsonType::Null => "null",
        }
    }

    fn matches(self, value: &Value) -> bool {
        match self {
            JsonType::Object => matches!(value, Value::Map(_)),
            JsonType::Array => matches!(value, Value::Seq(_)),
            JsonType::String => matches!(value, Value::Str(_)),
            JsonType::Number => matches!(value, Value::Int(_) | Value::Float(_)),
            JsonType::Integer => matches!(value, Value::Int(_)),
            JsonType::Boolean => matches!(value, Value::Bool(_)),
            JsonType::Null => matches!(value, Value::Null),
        }
    }
}

/// The embedded schemas, compiled once.
pub struct SchemaSet {
    schemas: Vec<(&'static str, Node)>,
}

impl std::fmt::Debug for SchemaSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.schemas.iter().map(|(name, _)| name)).finish()
    }
}

/// The schemas could not be loaded: a build defect, reported rather than panicking.
#[derive(Debug, Clone, thiserror::Error)]
#[error("embedded schema {schema} is unusable: {detail}")]
pub struct SchemaLoadError {
    /// Which schema.
    pub schema: String,
    /// What is wrong with it.
    pub detail: String,
}

impl SchemaSet {
    /// The shared compiled schema set.
    pub fn embedded() -> Result<&'static SchemaSet, SchemaLoadError> {
        static SET: OnceLock<Result<SchemaSet, SchemaLoadError>> = OnceLock::new();
        SET.get_or_init(SchemaSet::load).as_ref().map_err(Clone::clone)
    }

    fn load() -> Result<SchemaSet, SchemaLoadError> {
        let mut schemas = Vec::new();
        for (name, source) in SCHEMA_SOURCES {
            let error = |detail: String| SchemaLoadError { schema: name.to_owned(), detail };
            let documents = parse_stream(source, &YamlLimits::default()).map_err(|e| error(e.to_string()))?;
            let data = documents
                .first()
                .and_then(|document| document.value.as_map())
                .and_then(|map| map.get("data"))
                .ok_or_else(|| error("no data".into()))?;
            schemas.push((name, compile(data).map_err(error)?));
        }
        Ok(SchemaSet { schemas })
    }

    /// Whether a schema exists for `schema` (e.g. `drydock/Network/v1`).
    pub fn has(&self, schema: &str) -> bool {
        self.schemas.iter().any(|(name, _)| *name == schema)
    }

    /// Check `data` against the schema for `schema`; every violation is
    /// reported. An unknown schema has no violations.
    pub fn check(&self, schema: &str, data: &Value, line: Option<u32>) -> Vec<SchemaViolation> {
        let mut violations = Vec::new();
        if let Some((_, node)) = self.schemas.iter().find(|(name, _)| *name == schema) {
            validate(node, data, line.or(data.line()), &mut violations);
        }
        violations
    }
}

fn compile(value: &Value) -> Result<Node, String> {
    let map = value.as_map().ok_or_else(|| format!("schema node is not a mapping: {}", value.py_repr()))?;
    let mut checks = Vec::new();
    let known_properties: Vec<String> = match map.get("properties").and_then(Value::as_map) {
        Some(properties) => properties.entries.iter().filter_map(|(k, _)| k.as_str().map(str::to_owned)).collect(),
        None => Vec::new(),
    };
    for (key, item) in &map.entries {
        let key = key.as_str().ok_or("schema key is not a string")?;
        match key {
            "type" => {
                let names: Vec<&str> = match item {
                    Value::Str(name) => vec![name.as_str()],
                    Value::Seq(seq) => seq.items.iter().filter_map(Value::as_str).collect(),
                    _ => return Err("type must be a string or list".into()),
                };
                let types = names.iter().map(|name| JsonType::parse(name).ok_or_else(|| format!("unknown type {name}"))).collect::<Result<
                    Vec<_>,
                    _,
                >>(
                )?;
                checks.push(Check::Type(types));
            }
            "properties" => {
                let properties = item.as_map().ok_or("properties must be a mapping")?;
                let mut compiled = Vec::new();
                for (name, schema) in &properties.entries {
                    let name = name.as_str().ok_or("property name is not a string")?;
                    // Duplicate keys were already merged by the parser (last wins).
                    compiled.push((name.to_owned(), compile(schema)?));
                }
                checks.push(Check::Properties(compiled));
            }
            "additionalProperties" => {
                let rule = match item {
                    Value::Bool(true) => Additional::Allowed,
                    Value::Bool(false) => Additional::Forbidden,
                    Value::Map(_) => Additional::Schema(Box::new(compile(item)?)),
                    _ => return Err("additionalProperties must be a boolean or schema".into()),
                };
                checks.push(Check::AdditionalProperties { known: known_properties.clone(), rule });
            }
            "items" => checks.push(Check::Items(Box::new(compile(item)?))),
            "enum" => match item {
                Value::Seq(seq) => checks.push(Check::Enum(seq.items.clone())),
                _ => return Err("enum must be a list".into()),
            },
            "pattern" => {
                let source = item.as_str().ok_or("pattern must be a string")?.to_owned();
                let regex = Regex::new(&source).map_err(|e| format!("bad pattern {source}: {e}"))?;
                checks.push(Check::Pattern { source, regex });
            }
            "required" => match item {
                Value::Seq(seq) => checks.push(Check::Required(seq.items.iter().filter_map(Value::as_str).map(str::to_owned).collect())),
                _ => return Err("required must be a list".into()),
            },
            "oneOf" => match item {
                Value::Seq(seq) => checks.push(Check::OneOf(seq.items.iter().map(compile).collect::<Result<_, _>>()?)),
                _ => return Err("oneOf must be a list".into()),
            },
            ignored if IGNORED_KEYWORDS.contains(&ignored) => {}
            unknown => return Err(format!("unsupported schema keyword '{unknown}'")),
        }
    }
    Ok(Node { checks })
}

fn validate(node: &Node, value: &Value, line: Option<u32>, out: &mut Vec<SchemaViolation>) {
    let line = value.line().or(line);
    let push = |out: &mut Vec<SchemaViolation>, message: String| out.push(SchemaViolation { message, line });
    for check in &node.checks {
        match check {
            Check::Type(types) => {
                if !types.iter().any(|ty| ty.matches(value)) {
                    let names: Vec<String> = types.iter().map(|ty| py_str_repr(ty.name())).collect();
                    push(out, format!("{} is not of type {}", value.py_repr(), names.join(", ")));
                }
            }
            Check::Enum(allowed) => {
                if !allowed.iter().any(|candidate| python_eq(candidate, value)) {
                    let listed = Value::Seq(super::value::Seq { line: 0, items: allowed.clone() });
                    push(out, format!("{} is not one of {}", value.py_repr(), listed.py_repr()));
                }
            }
            Check::Pattern { source, regex } => {
                if let Value::Str(text) = value
                    && !regex.is_match(text)
                {
                    push(out, format!("{} does not match {}", value.py_repr(), py_str_repr(source)));
                }
            }
            Check::Required(names) => {
                if let Value::Map(map) = value {
                    for name in names {
                        if !map.contains_key(name) {
                            push(out, format!("{} is a required property", py_str_repr(name)));
                        }
                    }
                }
            }
            Check::Properties(properties) => {
                if let Value::Map(map) = value {
                    for (name, schema) in properties {
                        if let Some(item) = map.get(name) {
                            validate(schema, item, line, out);
                        }
                    }
                }
            }
            Check::AdditionalProperties { known, rule } => {
                if let Value::Map(map) = value {
                    check_additional(map, known, rule, line, out);
                }
            }
            Check::Items(schema) => {
                if let Value::Seq(seq) = value {
                    for item in &seq.items {
                        validate(schema, item, line, out);
                    }
                }
            }
            Check::OneOf(options) => {
                let valid = options
                    .iter()
                    .filter(|option| {
                        let mut scratch = Vec::new();
                        validate(option, value, line, &mut scratch);
                        scratch.is_empty()
                    })
                    .count();
                if valid == 0 {
                    push(out, format!("{} is not valid under any of the given schemas", value.py_repr()));
                } else if valid > 1 {
                    push(out, format!("{} is valid under each of the given schemas", value.py_repr()));
                }
            }
        }
    }
}

fn check_additional(map: &Map, known: &[String], rule: &Additional, line: Option<u32>, out: &mut Vec<SchemaViolation>) {
    let extras: Vec<&Value> =
        map.entries.iter().map(|(key, _)| key).filter(|key| !key.as_str().is_some_and(|k| known.iter().any(|n| n == k))).collect();
    match rule {
        Additional::Allowed => {}
        Additional::Forbidden => {
            if !extras.is_empty() {
                let names: Vec<String> = extras.iter().map(|key| key.py_repr()).collect();
                let verb = if extras.len() == 1 { "was" } else { "were" };
                out.push(SchemaViolation {
                    message: format!("Additional properties are not allowed ({} {verb} unexpected)", names.join(", ")),
                    line,
                });
            }
        }
        Additional::Schema(schema) => {
            for (key, item) in &map.entries {
                if extras.iter().any(|extra| extra.key_eq(key)) {
                    validate(schema, item, line, out);
                }
            }
        }
    }
}

/// Python `==` for the scalar values enums hold.
fn python_eq(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Seq(_) | Value::Map(_), _) | (_, Value::Seq(_) | Value::Map(_)) => left == right,
        _ => left.key_eq(right),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(text: &str) -> Value {
        parse_stream(text, &YamlLimits::default()).expect("yaml").remove(0).value
    }

    fn messages(schema: &str, text: &str) -> Vec<String> {
        let set = SchemaSet::embedded().expect("schemas load");
        set.check(schema, &data(text), None).into_iter().map(|violation| violation.message).collect()
    }

    #[test]
    fn all_eight_schemas_load() {
        let set = SchemaSet::embedded().expect("schemas load");
        assert_eq!(set.schemas.len(), 8);
        assert!(set.has("drydock/BootAction/v1"));
    }

    #[test]
    fn messages_are_pythons() {
        assert_eq!(messages("drydock/Network/v1", "cidr: 10.0.0.0/24\nvlan: 102\n"), vec!["102 is not of type 'string'"]);
        assert_eq!(
            messages("drydock/Network/v1", "cidr: 10.0.0.0/24\nfoo: 1\n"),
            vec!["Additional properties are not allowed ('foo' was unexpected)"]
        );
        assert_eq!(
            messages("drydock/BootAction/v1", "assets:\n  - type: unit\n    permissions: 600\n    data_pipeline: [foo]\n"),
            vec![
                "'foo' is not one of ['base64_encode', 'template', 'base64_decode', 'utf8_encode', 'utf8_decode']",
                "600 is not of type 'string'"
            ]
        );
        assert_eq!(
            messages("drydock/BootAction/v1", "assets:\n  - type: pkg_list\n    data: [pkg1, pkg2]\n"),
            vec!["['pkg1', 'pkg2'] is not valid under any of the given schemas"]
        );
        assert_eq!(
            messages("drydock/BootAction/v1", "assets:\n  - path: x\n"),
            vec!["'x' does not match '^/.+'", "'type' is a required property"]
        );
        assert_eq!(messages("drydock/BootAction/v1", "assets: []\nsignaling: null\n"), vec!["None is not of type 'boolean'"]);
    }

    #[test]
    fn format_is_not_enforced_and_pattern_is_a_search() {
        assert!(messages("drydock/Network/v1", "cidr: x\nranges: [{type: static, start: notanip, end: x}]\n").is_empty());
        assert!(messages("drydock/BootAction/v1", "assets: [{type: file, path: /x, permissions: 'abc1234'}]\n").is_empty());
    }
}
