//! A raw document as the renderer sees it: its identity, its
//! `metadata.layeringDefinition`, labels, substitutions, replacement and
//! storage policy, parsed and checked against Deckhand's own document
//! schemas (`deckhand/Base/v1`, `metadata/Document/v1`,
//! `metadata/Control/v1`, `deckhand/LayeringPolicy/v1` and the secret
//! kinds), which Deckhand applies before rendering. Every problem is
//! collected with the line it is on; nothing here renders.

use regex::Regex;

use crate::ingest::lines::LineMap;
use crate::ingest::value::{Map, Value};
use crate::ingest::yaml::YamlDocument;

use super::error::{DocId, DocIdentity, FormatProblem};
use super::path::DataPath;

/// The Deckhand kinds whose `data` is one string (a secret).
pub const SECRET_SCHEMAS: &[&str] = &[
    "deckhand/Certificate/v1",
    "deckhand/CertificateAuthority/v1",
    "deckhand/CertificateAuthorityKey/v1",
    "deckhand/CertificateKey/v1",
    "deckhand/Passphrase/v1",
    "deckhand/PrivateKey/v1",
    "deckhand/PublicKey/v1",
];

/// Largest compiled size of a substitution pattern.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A layering action's method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Merge,
    Replace,
    Delete,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Merge => "merge",
            Method::Replace => "replace",
            Method::Delete => "delete",
        }
    }
}

/// One entry of `layeringDefinition.actions`.
#[derive(Debug, Clone)]
pub(crate) struct Action {
    pub(crate) method: Method,
    pub(crate) path: DataPath,
}

/// `src` of a substitution.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) schema: String,
    pub(crate) name: String,
    pub(crate) path: DataPath,
    pub(crate) pattern: Option<Regex>,
    pub(crate) match_group: usize,
}

/// One `dest` of a substitution.
#[derive(Debug, Clone)]
pub(crate) struct Dest {
    pub(crate) path: DataPath,
    pub(crate) pattern: Option<Regex>,
    /// `recurse.depth` (-1: no limit).
    pub(crate) recurse: Option<i64>,
}

/// One entry of `metadata.substitutions`.
#[derive(Debug, Clone)]
pub(crate) struct Substitution {
    pub(crate) src: Source,
    pub(crate) dests: Vec<Dest>,
}

/// A document ready for layering.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub(crate) id: DocId,
    /// The document's line (in the line space of the input).
    pub(crate) line: u32,
    /// `metadata.schema` is `metadata/Control/v*`.
    pub(crate) control: bool,
    pub(crate) is_abstract: bool,
    pub(crate) replacement: bool,
    /// `storagePolicy: encrypted`.
    pub(crate) encrypted: bool,
    pub(crate) labels: Vec<(Value, Value)>,
    pub(crate) selector: Vec<(Value, Value)>,
    pub(crate) actions: Vec<Action>,
    pub(crate) substitutions: Vec<Substitution>,
    /// The whole document as written.
    pub(crate) value: Value,
}

impl Document {
    /// The document's own `data`.
    pub(crate) fn data(&self) -> &Value {
        self.value.as_map().and_then(|map| map.get("data")).unwrap_or(&Value::Null)
    }

    /// Whether this is a `deckhand/LayeringPolicy/*`.
    pub(crate) fn is_layering_policy(&self) -> bool {
        self.id.schema.starts_with("deckhand/LayeringPolicy/")
    }
}

/// Collects problems for one document.
struct Checker<'a> {
    lines: &'a LineMap,
    document_line: u32,
    problems: Vec<(u32, String)>,
}

impl Checker<'_> {
    fn problem(&mut self, line: Option<u32>, message: impl Into<String>) {
        self.problems.push((line.filter(|line| *line > 0).unwrap_or(self.document_line), message.into()));
    }

    /// `map[key]` must be a string if present (`required`: and present).
    fn string<'v>(&mut self, map: &'v Map, key: &str, at: &str, required: bool) -> Option<&'v str> {
        match map.get(key) {
            Some(Value::Str(text)) => Some(text),
            Some(other) => {
                self.problem(map_line(map), format!("{at}.{key} must be a string, not a {}", other.py_type_name()));
                None
            }
            None if required => {
                self.problem(map_line(map), format!("{at}.{key} is required"));
                None
            }
            None => None,
        }
    }

    fn boolean(&mut self, map: &Map, key: &str, at: &str) -> bool {
        match map.get(key) {
            Some(Value::Bool(value)) => *value,
            Some(other) => {
                self.problem(map_line(map), format!("{at}.{key} must be a boolean, not a {}", other.py_type_name()));
                false
            }
            None => false,
        }
    }

    fn only_keys(&mut self, map: &Map, allowed: &[&str], at: &str) {
        for (key, _) in &map.entries {
            let known = key.as_str().is_some_and(|key| allowed.contains(&key));
            if !known {
                self.problem(map_line(map), format!("{at} has an unexpected key {} (allowed: {})", key.py_repr(), allowed.join(", ")));
            }
        }
    }

    fn path(&mut self, map: &Map, key: &str, at: &str, max_steps: usize, strip_data: bool) -> Option<DataPath> {
        let text = self.string(map, key, at, true)?;
        let text = if strip_data { strip_data_prefix(text) } else { text };
        match DataPath::parse(text, max_steps) {
            Ok(path) => Some(path),
            Err(error) => {
                self.problem(map_line(map), format!("{at}.{key}: {error}"));
                None
            }
        }
    }

    fn pattern(&mut self, map: &Map, at: &str) -> Option<Regex> {
        let text = self.string(map, "pattern", at, false)?;
        match regex::RegexBuilder::new(text).size_limit(REGEX_SIZE_LIMIT).build() {
            Ok(regex) => Some(regex),
            Err(error) => {
                let reason = match error {
                    regex::Error::CompiledTooBig(limit) => format!("compiles to more than {limit} bytes"),
                    other => other.to_string().lines().last().unwrap_or("invalid").trim().to_owned(),
                };
                self.problem(map_line(map), format!("{at}.pattern is not a regular expression this renderer accepts: {reason}"));
                None
            }
        }
    }
}

/// Deckhand drops a leading `.data` / `$.data` from action paths.
fn strip_data_prefix(text: &str) -> &str {
    for prefix in ["$.data", ".data"] {
        if let Some(rest) = text.strip_prefix(prefix)
            && (rest.is_empty() || rest.starts_with(['.', '[']))
        {
            return if rest.is_empty() { "." } else { rest };
        }
    }
    text
}

fn map_line(map: &Map) -> Option<u32> {
    (map.line > 0).then_some(map.line)
}

/// `^[A-Za-z]+/[A-Za-z]+/v\d+$`, Deckhand's schema pattern.
fn valid_schema(schema: &str) -> bool {
    let parts: Vec<&str> = schema.split('/').collect();
    matches!(parts[..], [namespace, kind, version]
        if !namespace.is_empty() && namespace.bytes().all(|b| b.is_ascii_alphabetic())
        && !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_alphabetic())
        && version.strip_prefix('v').is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())))
}

/// `metadata/<kind>/v<digits>`.
fn metadata_schema_is(schema: &str, kind: &str) -> bool {
    schema
        .strip_prefix("metadata/")
        .and_then(|rest| rest.strip_prefix(kind))
        .and_then(|rest| rest.strip_prefix("/v"))
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `value` is a Deckhand document at all (Pegleg's test): a map
/// whose `metadata.schema` is a `metadata/Control` or `metadata/Document`
/// schema. Everything else in a site repository is ignored, as Pegleg
/// ignores it.
pub fn is_deckhand_document(value: &Value) -> bool {
    let schema = value.as_map().and_then(|map| map.get("metadata")).and_then(Value::as_map).and_then(|metadata| metadata.get("schema"));
    matches!(schema, Some(Value::Str(schema)) if schema.starts_with("metadata/Control") || schema.starts_with("metadata/Document"))
}

/// Parse and check one document; `max_steps` bounds its paths.
pub(crate) fn parse(document: YamlDocument, lines: &LineMap, max_steps: usize) -> Result<Document, Vec<FormatProblem>> {
    let mut check = Checker { lines, document_line: document.line, problems: Vec::new() };
    let parsed = parse_checked(&mut check, &document, max_steps);
    let Checker { lines, problems, .. } = check;
    let id = identify(&document.value, document.line, lines);
    match parsed {
        Some(mut parsed) if problems.is_empty() => {
            parsed.value = document.value;
            Ok(parsed)
        }
        _ => Err(problems
            .into_iter()
            .map(|(line, message)| FormatProblem { document: id.clone(), location: lines.locate(line), message })
            .collect()),
    }
}

/// The identity of a document, as far as it goes.
pub(crate) fn identify(value: &Value, line: u32, lines: &LineMap) -> DocId {
    let map = value.as_map();
    let text = |value: Option<&Value>| match value {
        Some(Value::Str(text)) => text.clone(),
        Some(other) if !other.is_null() => other.py_str(),
        _ => "?".to_owned(),
    };
    let metadata = map.and_then(|map| map.get("metadata")).and_then(Value::as_map);
    let layer = metadata
        .and_then(|metadata| metadata.get("layeringDefinition"))
        .and_then(Value::as_map)
        .and_then(|definition| definition.get("layer"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    DocId::new(DocIdentity {
        schema: text(map.and_then(|map| map.get("schema"))),
        name: text(metadata.and_then(|metadata| metadata.get("name"))),
        layer,
        location: lines.locate(line),
    })
}

fn parse_checked(check: &mut Checker<'_>, document: &YamlDocument, max_steps: usize) -> Option<Document> {
    let Some(map) = document.value.as_map() else {
        check.problem(None, format!("a document is a mapping, not a {}", document.value.py_type_name()));
        return None;
    };
    check.only_keys(map, &["schema", "metadata", "data"], "the document");
    let schema = check.string(map, "schema", "the document", true).map(str::to_owned);
    if let Some(schema) = &schema
        && !valid_schema(schema)
    {
        check.problem(map_line(map), format!("schema {schema:?} is not of the form namespace/Kind/vN"));
    }
    if !map.contains_key("data") {
        check.problem(map_line(map), "the document has no data (write `data: {}` for none)");
    }
    let metadata = match map.get("metadata") {
        Some(Value::Map(metadata)) => metadata,
        Some(other) => {
            check.problem(map_line(map), format!("metadata must be a mapping, not a {}", other.py_type_name()));
            return None;
        }
        None => {
            check.problem(map_line(map), "metadata is required");
            return None;
        }
    };
    let name = check.string(metadata, "name", "metadata", true).map(str::to_owned);
    let metadata_schema = check.string(metadata, "schema", "metadata", true).unwrap_or_default();
    let control = metadata_schema_is(metadata_schema, "Control");
    let normal = metadata_schema_is(metadata_schema, "Document");
    if !control && !normal && metadata.get("schema").and_then(Value::as_str).is_some() {
        check.problem(
            map_line(metadata),
            format!("metadata.schema {metadata_schema:?} is neither metadata/Document/vN nor metadata/Control/vN"),
        );
    }
    let labels = labels(check, metadata, control);
    let mut parsed = Document {
        id: DocId::new(DocIdentity {
            schema: schema.clone().unwrap_or_default(),
            name: name.unwrap_or_default(),
            layer: None,
            location: None,
        }),
        line: document.line,
        control,
        is_abstract: false,
        replacement: false,
        encrypted: false,
        labels,
        selector: Vec::new(),
        actions: Vec::new(),
        substitutions: Vec::new(),
        value: Value::Null,
    };
    if normal {
        document_metadata(check, metadata, &mut parsed, max_steps);
    }
    if let Some(schema) = &schema {
        check_data(check, map, schema);
    }
    parsed.id = identify(&document.value, document.line, check.lines);
    Some(parsed)
}

fn labels(check: &mut Checker<'_>, metadata: &Map, control: bool) -> Vec<(Value, Value)> {
    match metadata.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Map(labels)) => {
            if control && labels.entries.iter().any(|(_, value)| value.as_str().is_none()) {
                check.problem(map_line(labels), "the labels of a control document are strings");
            }
            labels.entries.clone()
        }
        Some(other) => {
            check.problem(map_line(metadata), format!("metadata.labels must be a mapping, not a {}", other.py_type_name()));
            Vec::new()
        }
    }
}

/// `metadata/Document/v1`'s rules.
fn document_metadata(check: &mut Checker<'_>, metadata: &Map, parsed: &mut Document, max_steps: usize) {
    check.only_keys(
        metadata,
        &["schema", "name", "labels", "replacement", "layeringDefinition", "substitutions", "storagePolicy"],
        "metadata",
    );
    parsed.replacement = check.boolean(metadata, "replacement", "metadata");
    match check.string(metadata, "storagePolicy", "metadata", true) {
        Some("encrypted") => parsed.encrypted = true,
        Some("cleartext") | None => {}
        Some(other) => check.problem(map_line(metadata), format!("metadata.storagePolicy is cleartext or encrypted, not {other:?}")),
    }
    match metadata.get("layeringDefinition") {
        Some(Value::Map(definition)) => layering_definition(check, definition, parsed, max_steps),
        Some(other) => {
            check.problem(map_line(metadata), format!("metadata.layeringDefinition must be a mapping, not a {}", other.py_type_name()))
        }
        None => check.problem(map_line(metadata), "metadata.layeringDefinition is required (with at least `layer`)"),
    }
    match metadata.get("substitutions") {
        None => {}
        Some(Value::Seq(items)) => {
            for (index, item) in items.items.iter().enumerate() {
                if let Some(substitution) = substitution(check, item, index, items.line, max_steps) {
                    parsed.substitutions.push(substitution);
                }
            }
        }
        Some(other) => check.problem(map_line(metadata), format!("metadata.substitutions must be a list, not a {}", other.py_type_name())),
    }
}

fn layering_definition(check: &mut Checker<'_>, definition: &Map, parsed: &mut Document, max_steps: usize) {
    let at = "metadata.layeringDefinition";
    check.only_keys(definition, &["layer", "abstract", "parentSelector", "actions"], at);
    check.string(definition, "layer", at, true);
    parsed.is_abstract = check.boolean(definition, "abstract", at);
    match definition.get("parentSelector") {
        None => {}
        Some(Value::Map(selector)) if !selector.is_empty() => parsed.selector = selector.entries.clone(),
        Some(Value::Map(_)) => check.problem(map_line(definition), format!("{at}.parentSelector must not be empty")),
        Some(other) => {
            check.problem(map_line(definition), format!("{at}.parentSelector must be a mapping, not a {}", other.py_type_name()))
        }
    }
    match definition.get("actions") {
        None => {}
        Some(Value::Seq(actions)) if !actions.items.is_empty() => {
            for (index, item) in actions.items.iter().enumerate() {
                let at = format!("{at}.actions[{index}]");
                let Value::Map(action) = item else {
                    check.problem(Some(actions.line), format!("{at} must be a mapping, not a {}", item.py_type_name()));
                    continue;
                };
                check.only_keys(action, &["method", "path"], &at);
                let method = match check.string(action, "method", &at, true) {
                    Some("merge") => Some(Method::Merge),
                    Some("replace") => Some(Method::Replace),
                    Some("delete") => Some(Method::Delete),
                    Some(other) => {
                        check.problem(map_line(action), format!("{at}.method is merge, replace or delete, not {other:?}"));
                        None
                    }
                    None => None,
                };
                let path = check.path(action, "path", &at, max_steps, true);
                if let (Some(method), Some(path)) = (method, path) {
                    parsed.actions.push(Action { method, path });
                }
            }
        }
        Some(Value::Seq(_)) => check.problem(map_line(definition), format!("{at}.actions must not be empty")),
        Some(other) => check.problem(map_line(definition), format!("{at}.actions must be a list, not a {}", other.py_type_name())),
    }
    // Deckhand's schema: a parentSelector requires actions and actions
    // require a parentSelector.
    let (selector, actions) = (definition.contains_key("parentSelector"), definition.contains_key("actions"));
    if selector && !actions {
        check.problem(map_line(definition), format!("{at} has a parentSelector but no actions (say what to take from the parent)"));
    }
    if actions && !selector {
        check.problem(map_line(definition), format!("{at} has actions but no parentSelector to choose a parent"));
    }
}

fn substitution(check: &mut Checker<'_>, item: &Value, index: usize, list_line: u32, max_steps: usize) -> Option<Substitution> {
    let at = format!("metadata.substitutions[{index}]");
    let Value::Map(entry) = item else {
        check.problem(Some(list_line), format!("{at} must be a mapping, not a {}", item.py_type_name()));
        return None;
    };
    check.only_keys(entry, &["src", "dest"], &at);
    let src = match entry.get("src") {
        Some(Value::Map(src)) => source(check, src, &format!("{at}.src"), max_steps),
        Some(other) => {
            check.problem(map_line(entry), format!("{at}.src must be a mapping, not a {}", other.py_type_name()));
            None
        }
        None => {
            check.problem(map_line(entry), format!("{at}.src is required"));
            None
        }
    };
    let dests = match entry.get("dest") {
        Some(Value::Map(dest)) => destination(check, dest, &format!("{at}.dest"), max_steps).map(|dest| vec![dest]),
        Some(Value::Seq(list)) if !list.items.is_empty() => {
            let mut dests = Vec::new();
            for (position, item) in list.items.iter().enumerate() {
                let at = format!("{at}.dest[{position}]");
                match item {
                    Value::Map(dest) => dests.extend(destination(check, dest, &at, max_steps)),
                    other => check.problem(Some(list.line), format!("{at} must be a mapping, not a {}", other.py_type_name())),
                }
            }
            (dests.len() == list.items.len()).then_some(dests)
        }
        Some(Value::Seq(list)) => {
            check.problem(Some(list.line), format!("{at}.dest must not be an empty list"));
            None
        }
        Some(other) => {
            check.problem(map_line(entry), format!("{at}.dest must be a mapping or a list of them, not a {}", other.py_type_name()));
            None
        }
        None => {
            check.problem(map_line(entry), format!("{at}.dest is required"));
            None
        }
    };
    Some(Substitution { src: src?, dests: dests? })
}

fn source(check: &mut Checker<'_>, src: &Map, at: &str, max_steps: usize) -> Option<Source> {
    check.only_keys(src, &["schema", "name", "path", "pattern", "match_group", "deepcopy"], at);
    let schema = check.string(src, "schema", at, true).map(str::to_owned);
    if let Some(schema) = &schema
        && !valid_schema(schema)
    {
        check.problem(map_line(src), format!("{at}.schema {schema:?} is not of the form namespace/Kind/vN"));
    }
    let name = check.string(src, "name", at, true).map(str::to_owned);
    let path = check.path(src, "path", at, max_steps, false);
    let pattern = check.pattern(src, at);
    let match_group = match src.get("match_group") {
        None => 0,
        Some(Value::Int(group)) if *group >= 0 => usize::try_from(*group).unwrap_or(usize::MAX),
        Some(Value::Int(_)) => {
            check.problem(map_line(src), format!("{at}.match_group must not be negative"));
            0
        }
        Some(other) => {
            check.problem(map_line(src), format!("{at}.match_group must be an integer, not a {}", other.py_type_name()));
            0
        }
    };
    check.boolean(src, "deepcopy", at);
    Some(Source { schema: schema?, name: name?, path: path?, pattern, match_group })
}

fn destination(check: &mut Checker<'_>, dest: &Map, at: &str, max_steps: usize) -> Option<Dest> {
    check.only_keys(dest, &["path", "pattern", "recurse"], at);
    let path = check.path(dest, "path", at, max_steps, false);
    let pattern = check.pattern(dest, at);
    let recurse = match dest.get("recurse") {
        None => None,
        Some(Value::Map(recurse)) => {
            check.only_keys(recurse, &["depth"], &format!("{at}.recurse"));
            match recurse.get("depth") {
                Some(Value::Int(depth)) if *depth >= -1 => Some(*depth),
                Some(Value::Int(_)) => {
                    check.problem(map_line(recurse), format!("{at}.recurse.depth is -1 (no limit) or more"));
                    None
                }
                Some(other) => {
                    check.problem(map_line(recurse), format!("{at}.recurse.depth must be an integer, not a {}", other.py_type_name()));
                    None
                }
                None => {
                    check.problem(map_line(recurse), format!("{at}.recurse.depth is required (-1 for no limit)"));
                    None
                }
            }
        }
        Some(other) => {
            check.problem(map_line(dest), format!("{at}.recurse must be a mapping, not a {}", other.py_type_name()));
            None
        }
    };
    if recurse.is_some() && dest.get("pattern").is_none() {
        check.problem(map_line(dest), format!("{at}.recurse needs a pattern to replace"));
    }
    Some(Dest { path: path?, pattern, recurse })
}

/// The schemas Deckhand knows for the `data` of its own kinds.
fn check_data(check: &mut Checker<'_>, map: &Map, schema: &str) {
    let data = map.get("data");
    if SECRET_SCHEMAS.contains(&schema) {
        if let Some(data) = data
            && data.as_str().is_none()
        {
            check.problem(data.line().or(map_line(map)), format!("the data of a {schema} is a string, not a {}", data.py_type_name()));
        }
        return;
    }
    if schema.starts_with("deckhand/LayeringPolicy/") {
        match data {
            Some(Value::Map(data)) => {
                check.only_keys(data, &["layerOrder"], "data");
                match data.get("layerOrder") {
                    Some(Value::Seq(order)) if order.items.iter().all(|layer| layer.as_str().is_some()) => {}
                    Some(Value::Seq(order)) => check.problem(Some(order.line), "data.layerOrder is a list of layer names (strings)"),
                    Some(other) => check.problem(map_line(data), format!("data.layerOrder must be a list, not a {}", other.py_type_name())),
                    None => check.problem(map_line(data), "data.layerOrder is required"),
                }
            }
            Some(other) => {
                check.problem(map_line(map), format!("the data of a layering policy is a mapping, not a {}", other.py_type_name()))
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::yaml::{YamlLimits, parse_stream};

    fn parse_one(text: &str) -> Result<Document, Vec<String>> {
        let mut lines = LineMap::new();
        lines.add("doc.yaml".into(), text).expect("room");
        let document = parse_stream(text, &YamlLimits::default()).expect("yaml").remove(0);
        parse(document, &lines, 64).map_err(|problems| problems.iter().map(ToString::to_string).collect())
    }

    const GOOD: &str = "schema: example/Kind/v1
metadata:
  schema: metadata/Document/v1
  name: child
  storagePolicy: cleartext
  labels: {a: b}
  layeringDefinition:
    layer: site
    parentSelector: {k: v}
    actions:
      - {method: merge, path: .data.x}
      - {method: delete, path: .}
  substitutions:
    - src: {schema: deckhand/Passphrase/v1, name: p, path: ., pattern: '^(.*)$', match_group: 1}
      dest: [{path: .a}, {path: .b, pattern: X, recurse: {depth: -1}}]
data: {}
";

    #[test]
    fn a_document_parses_with_its_layering_and_substitutions() {
        let document = parse_one(GOOD).expect("valid");
        assert_eq!(document.id.to_string(), "[example/Kind/v1, site] child");
        assert_eq!(document.id.at(), "doc.yaml:1");
        assert_eq!(document.selector.len(), 1);
        assert_eq!(document.actions.len(), 2);
        assert_eq!(document.actions[0].path.as_str(), ".x");
        assert!(document.actions[1].path.is_root());
        assert_eq!(document.substitutions[0].dests.len(), 2);
        assert_eq!(document.substitutions[0].src.match_group, 1);
        assert_eq!(document.substitutions[0].dests[1].recurse, Some(-1));
    }

    #[test]
    fn format_problems_name_the_document_and_line() {
        let bad = GOOD
            .replace("storagePolicy: cleartext", "storagePolicy: secret")
            .replace("method: merge", "method: append")
            .replace("name: p, path: .,", "name: p,")
            .replace("data: {}", "extra: 1");
        let problems = parse_one(&bad).expect_err("invalid");
        let all = problems.join("\n");
        assert!(all.contains("doc.yaml:3: [example/Kind/v1, site] child: metadata.storagePolicy is cleartext or encrypted"), "{all}");
        assert!(all.contains("actions[0].method is merge, replace or delete, not \"append\""), "{all}");
        assert!(all.contains("substitutions[0].src.path is required"), "{all}");
        assert!(all.contains("unexpected key 'extra'"), "{all}");
        assert!(all.contains("has no data"), "{all}");
    }

    #[test]
    fn selectors_and_actions_go_together() {
        let problems = parse_one(&GOOD.replace("    parentSelector: {k: v}\n", "")).expect_err("actions alone");
        assert!(problems.join("\n").contains("has actions but no parentSelector"), "{problems:?}");
        let text = GOOD.replace("    actions:\n      - {method: merge, path: .data.x}\n      - {method: delete, path: .}\n", "");
        let problems = parse_one(&text).expect_err("selector alone");
        assert!(problems.join("\n").contains("has a parentSelector but no actions"), "{problems:?}");
    }

    #[test]
    fn secrets_and_policies_have_their_data_shapes() {
        let secret = "schema: deckhand/Passphrase/v1\nmetadata: {schema: metadata/Document/v1, name: p, storagePolicy: encrypted, layeringDefinition: {layer: site}}\ndata: {a: 1}\n";
        let problems = parse_one(secret).expect_err("not a string");
        assert!(problems[0].contains("the data of a deckhand/Passphrase/v1 is a string, not a dict"), "{problems:?}");
        let ok = parse_one(&secret.replace("data: {a: 1}", "data: hunter2")).expect("a string");
        assert!(ok.encrypted);
        let policy =
            "schema: deckhand/LayeringPolicy/v1\nmetadata: {schema: metadata/Control/v1, name: lp}\ndata: {layerOrder: [global, 2]}\n";
        let problems = parse_one(policy).expect_err("a number");
        assert!(problems[0].contains("layerOrder is a list of layer names"), "{problems:?}");
        assert!(parse_one(&policy.replace(", 2", "")).expect("policy").control);
    }

    #[test]
    fn bad_patterns_are_format_problems() {
        let problems = parse_one(&GOOD.replace("pattern: X", "pattern: '(unclosed'")).expect_err("regex");
        assert!(problems.join("\n").contains("dest[1].pattern is not a regular expression"), "{problems:?}");
        let problems = parse_one(&GOOD.replace("pattern: X", "pattern: '(?<=a)b'")).expect_err("look-behind");
        assert!(problems.join("\n").contains("pattern is not a regular expression"), "{problems:?}");
    }

    #[test]
    fn deckhand_documents_are_recognised_like_pegleg_does() {
        let yaml = |text: &str| parse_stream(text, &YamlLimits::default()).expect("yaml").remove(0).value;
        assert!(is_deckhand_document(&yaml(GOOD)));
        assert!(!is_deckhand_document(&yaml("schema: a/B/v1\nmetadata: {name: x}\n")));
        assert!(!is_deckhand_document(&yaml("just: yaml")));
        assert!(!is_deckhand_document(&Value::Null));
    }
}
