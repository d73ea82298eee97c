//! Rendering a site the way Deckhand does (compat: site-design spec §8.3):
//! documents in layers (`deckhand/LayeringPolicy/v1`'s `layerOrder`), each
//! layered on its parent (`metadata.layeringDefinition`: `parentSelector`
//! by labels, actions `merge`/`replace`/`delete` at a path), given data
//! from other documents (`metadata.substitutions`: source by schema and
//! name, `src.path`/`pattern`/`match_group`, one or several `dest`s with
//! `path`, `pattern` and `recurse`), replaced by a lower layer
//! (`metadata.replacement`), abstract ones dropped. Secrets
//! (`storagePolicy: encrypted`) render like everything else but are
//! marked, so printing masks them and messages can be redacted.
//!
//! [`render`] takes parsed documents whose lines are in one
//! [`LineMap`] space, so every rendered value keeps
//! the file and line of the layer that wrote it: maps and lists carry their
//! line through copies, merges and substitutions. [`site`] assembles a
//! Pegleg site repository's files into that input; [`emit`] prints the
//! result. Pure: no I/O, no global state; every copy is charged to a budget
//! ([`RenderLimits`]) and dependency cycles are errors, so a hostile set of
//! documents ends in an error, not a hang or an exhausted memory.
//!
//! Where this renderer differs from Deckhand on purpose, docs/compat.md
//! ("Rendering site repositories") says so.

mod apply;
pub mod document;
pub mod emit;
mod error;
mod layering;
mod order;
pub mod path;
pub mod site;

use std::fmt;

pub use error::{DocId, DocIdentity, FormatProblem, RenderError};

use crate::ingest::lines::LineMap;
use crate::ingest::value::{Map, Value};
use crate::ingest::yaml::YamlDocument;
use crate::ingest::{IngestError, Ingested, Ingester};
use crate::model::SourceLocation;

use apply::{Budget, Exceeded, Failure};
use path::DataPath;

/// Bounds on what rendering may produce (the input is bounded by the YAML
/// limits it was parsed under).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderLimits {
    /// Most nodes (scalars, maps, lists) rendering may copy, over all
    /// documents.
    pub max_nodes: usize,
    /// Most bytes of strings rendering may copy or build, over all
    /// documents.
    pub max_string_bytes: usize,
    /// Deepest nesting of a rendered value (and most steps in a path).
    pub max_depth: usize,
}

impl Default for RenderLimits {
    fn default() -> Self {
        RenderLimits { max_nodes: 10_000_000, max_string_bytes: 512 << 20, max_depth: 256 }
    }
}

/// A warning from rendering: something Deckhand accepts but that is likely
/// a mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderNote {
    /// The document it is about.
    pub document: Option<DocId>,
    /// What happened.
    pub message: String,
}

impl fmt::Display for RenderNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.document {
            Some(document) => write!(f, "{}: {document}: {}", document.at(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Which part of a rendered document holds secret data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secrecy {
    /// None.
    Clear,
    /// All of its data: `storagePolicy: encrypted`, or layered on such a
    /// document.
    Whole,
    /// The values written by substitutions from secret documents.
    Paths(Vec<DataPath>),
}

/// What a masked value is printed as.
pub const MASK: &str = "<redacted: storagePolicy encrypted>";

/// One rendered document.
#[derive(Debug, Clone)]
pub struct RenderedDocument {
    /// Its schema, name, layer and where it was written.
    pub id: DocId,
    /// `schema`, `metadata` as written and the rendered `data`, with the
    /// document's line (in the rendered set's line space).
    pub document: YamlDocument,
    /// The document its data was layered on, if any.
    pub parent: Option<DocId>,
    /// The document it replaces, if it is a replacement.
    pub replaces: Option<DocId>,
    /// Whether it carries secrets.
    pub secrecy: Secrecy,
}

impl RenderedDocument {
    /// The rendered `data`.
    pub fn data(&self) -> &Value {
        self.document.value.as_map().and_then(|map| map.get("data")).unwrap_or(&Value::Null)
    }

    /// The document with its secrets masked: what may be printed (a copy
    /// only when there is something to mask).
    pub fn masked(&self) -> std::borrow::Cow<'_, Value> {
        if self.secrecy == Secrecy::Clear {
            return std::borrow::Cow::Borrowed(&self.document.value);
        }
        let mut value = self.document.value.clone();
        let Some(data) = data_mut(&mut value) else {
            return std::borrow::Cow::Owned(value);
        };
        match &self.secrecy {
            Secrecy::Clear => {}
            Secrecy::Whole => *data = Value::Str(MASK.into()),
            Secrecy::Paths(paths) => {
                for path in paths {
                    if let Some(slot) = path.get_mut(data) {
                        *slot = Value::Str(MASK.into());
                    }
                }
            }
        }
        std::borrow::Cow::Owned(value)
    }
}

fn data_mut(document: &mut Value) -> Option<&mut Value> {
    match document {
        Value::Map(map) => path::map_get_mut(map, "data"),
        _ => None,
    }
}

/// The rendered documents of a set: every control document and every
/// concrete document that is not replaced, in input order.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The documents.
    pub documents: Vec<RenderedDocument>,
    /// Warnings.
    pub notes: Vec<RenderNote>,
    /// The line space the documents' lines are in.
    pub lines: LineMap,
    /// Secret strings, longest first, for [`Rendered::redact`].
    secrets: Vec<String>,
    /// Nodes rendering copied.
    pub nodes: usize,
}

impl Rendered {
    /// `text` with every secret string masked (for messages about
    /// documents that may quote their values).
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }

    /// Whether any document carries secrets.
    pub fn has_secrets(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// The file and line behind a line of the rendered set.
    pub fn locate(&self, line: u32) -> Option<SourceLocation> {
        self.lines.locate(line)
    }

    /// Ingest the rendered documents (Drydock's own are taken, the rest
    /// skipped, as Drydock's Deckhand ingester does): findings name the
    /// file and line each value was written at. `source_name` names the
    /// design as a whole.
    pub fn ingest(&self, ingester: &Ingester, source_name: Option<&str>) -> Result<Ingested, IngestError> {
        let documents: Vec<(&Value, u32)> = self
            .documents
            .iter()
            .filter(|document| document.id.schema.starts_with("drydock/"))
            .map(|document| (&document.document.value, document.document.line))
            .collect();
        ingester.ingest_documents(&documents, &self.lines, source_name)
    }
}

/// Render `documents` (parsed with their lines in `lines`' space).
pub fn render(documents: Vec<YamlDocument>, lines: LineMap, limits: &RenderLimits) -> Result<Rendered, RenderError> {
    let mut parsed: Vec<document::Document> = Vec::with_capacity(documents.len());
    let mut problems = Vec::new();
    for document in documents {
        match document::parse(document, &lines, limits.max_depth) {
            Ok(document) => parsed.push(document),
            Err(found) => problems.extend(found),
        }
    }
    if !problems.is_empty() {
        return Err(RenderError::Format { problems });
    }
    let mut plan = layering::plan(&parsed)?;
    let order = order::sort(&parsed, &plan)?;

    let mut budget = Budget::new(limits);
    let mut rendered: Vec<Option<Value>> = vec![None; parsed.len()];
    let mut secret_whole = vec![false; parsed.len()];
    let mut secret_paths: Vec<Vec<DataPath>> = vec![Vec::new(); parsed.len()];
    let mut secrets: Vec<String> = Vec::new();
    for &index in &order {
        let document = &parsed[index];
        let too_large = |exceeded: Exceeded| too_large(document, exceeded);
        let ancestor = plan.ancestor(index).filter(|_| !document.control);
        secret_whole[index] = document.encrypted || ancestor.is_some_and(|ancestor| secret_whole[ancestor]);
        if document.encrypted {
            collect_strings(document.data(), &mut secrets);
        }
        let mut data = match ancestor {
            Some(ancestor) if !document.actions.is_empty() => {
                let base = rendered[ancestor].as_ref().unwrap_or(&Value::Null);
                let mut data = budget.copy(base, 0).map_err(too_large)?;
                for action in &document.actions {
                    apply::apply_action(&mut budget, action, document.data(), &mut data).map_err(|failure| match failure {
                        Failure::Limit(exceeded) => too_large(exceeded),
                        Failure::Broken(reason, cause) => RenderError::Action {
                            document: document.id.clone(),
                            parent: parsed[ancestor].id.clone(),
                            method: action.method.as_str(),
                            path: action.path.to_string(),
                            reason,
                            cause: cause.map(Box::new),
                        },
                    })?;
                }
                data
            }
            _ => budget.copy(document.data(), 0).map_err(too_large)?,
        };
        for (position, substitution) in document.substitutions.iter().enumerate() {
            // `sort` checked every source exists and ordered it first.
            let Some(&source_index) = plan.sources.get(&(substitution.src.schema.clone(), substitution.src.name.clone())) else {
                continue;
            };
            let source = &parsed[source_index];
            let source_data = rendered[source_index].as_ref().unwrap_or(&Value::Null);
            let fail = |reason: String, cause| RenderError::Substitution {
                document: document.id.clone(),
                index: position,
                source_document: source.id.clone(),
                reason,
                cause,
            };
            // Deckhand takes the path only inside a mapping; a secret's
            // data (a string) is taken whole.
            let value = match source_data {
                Value::Map(_) => substitution.src.path.get(source_data),
                other => Some(other),
            };
            let Some(value) = value.filter(|value| !value.is_null()) else {
                return Err(RenderError::SourceDataNotFound {
                    document: document.id.clone(),
                    index: position,
                    source_document: source.id.clone(),
                    path: substitution.src.path.to_string(),
                });
            };
            let extracted;
            let value = match &substitution.src.pattern {
                None => value,
                Some(pattern) => {
                    let Value::Str(text) = value else {
                        return Err(fail(
                            format!(
                                "src.pattern applies to a string, but the source holds a {} at {}",
                                value.py_type_name(),
                                substitution.src.path
                            ),
                            None,
                        ));
                    };
                    match pattern.captures(text) {
                        None => {
                            plan.notes.push(RenderNote {
                                document: Some(document.id.clone()),
                                message: format!(
                                    "substitution {position}: src.pattern {} matches nothing in {} at {}; the whole value is used (as Deckhand does)",
                                    pattern.as_str(),
                                    source.id,
                                    substitution.src.path
                                ),
                            });
                            value
                        }
                        Some(captures) => {
                            let group = substitution.src.match_group;
                            if group >= captures.len() {
                                return Err(fail(format!("src.pattern {} has no group {group}", pattern.as_str()), None));
                            }
                            let Some(found) = captures.get(group) else {
                                return Err(fail(
                                    format!("group {group} of src.pattern {} took no part in the match", pattern.as_str()),
                                    None,
                                ));
                            };
                            extracted = Value::Str(found.as_str().to_owned());
                            &extracted
                        }
                    }
                }
            };
            let from_secret = secret_whole[source_index];
            if from_secret {
                collect_strings(value, &mut secrets);
            }
            for dest in &substitution.dests {
                let changed = apply::substitute(&mut budget, dest, value, &mut data).map_err(|failure| match failure {
                    Failure::Limit(exceeded) => too_large(exceeded),
                    Failure::Broken(reason, cause) => fail(format!("dest {}: {reason}", dest.path), cause.map(Box::new)),
                })?;
                if !changed {
                    plan.notes.push(RenderNote {
                        document: Some(document.id.clone()),
                        message: format!(
                            "substitution {position}: dest.pattern {} matches nothing at {}",
                            dest.pattern.as_ref().map_or("", |pattern| pattern.as_str()),
                            dest.path
                        ),
                    });
                }
                if from_secret {
                    secret_paths[index].push(dest.path.clone());
                }
            }
        }
        rendered[index] = Some(data);
        // Nothing reads a document's own data once it is rendered (children
        // and substitutions read rendered data): free it now.
        if let Some(own) = data_mut(&mut parsed[index].value) {
            *own = Value::Null;
        }
    }

    secrets.sort_unstable_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    secrets.dedup();
    let ids: Vec<DocId> = parsed.iter().map(|document| document.id.clone()).collect();
    let mut output = Vec::new();
    for (index, document) in parsed.into_iter().enumerate() {
        if !document.control && (document.is_abstract || plan.replaced_by[index].is_some()) {
            continue;
        }
        let data = rendered[index].take().unwrap_or(Value::Null);
        let secrecy = if secret_whole[index] {
            Secrecy::Whole
        } else if secret_paths[index].is_empty() {
            Secrecy::Clear
        } else {
            Secrecy::Paths(std::mem::take(&mut secret_paths[index]))
        };
        let parent = plan.ancestor(index).filter(|_| !document.control).map(|ancestor| ids[ancestor].clone());
        let replaces = if document.replacement { plan.parent[index].map(|replaced| ids[replaced].clone()) } else { None };
        let line = document.line;
        output.push(RenderedDocument {
            id: document.id,
            document: YamlDocument { line, value: with_data(document.value, data) },
            parent,
            replaces,
            secrecy,
        });
    }
    Ok(Rendered { documents: output, notes: plan.notes, lines, secrets, nodes: budget.nodes() })
}

fn too_large(document: &document::Document, exceeded: Exceeded) -> RenderError {
    let (what, limit) = match exceeded {
        Exceeded::Nodes(limit) => ("nodes", limit),
        Exceeded::Bytes(limit) => ("bytes of strings", limit),
        Exceeded::Depth(limit) => ("levels of nesting", limit),
    };
    RenderError::TooLarge { document: document.id.clone(), what, limit }
}

/// Every string (keys and values) under `value`.
fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Str(text) if !text.is_empty() => out.push(text.clone()),
        Value::Seq(seq) => seq.items.iter().for_each(|item| collect_strings(item, out)),
        Value::Map(map) => map.entries.iter().for_each(|(key, item)| {
            collect_strings(key, out);
            collect_strings(item, out);
        }),
        _ => {}
    }
}

/// The document `value` with `data` replaced by `data`.
fn with_data(value: Value, data: Value) -> Value {
    match value {
        Value::Map(map) => {
            let mut data = Some(data);
            let entries = map
                .entries
                .into_iter()
                .map(|(key, item)| if key.as_str() == Some("data") { (key, data.take().unwrap_or(item)) } else { (key, item) })
                .collect();
            Value::Map(Map { line: map.line, entries })
        }
        other => other,
    }
}

#[cfg(test)]
mod tests;
