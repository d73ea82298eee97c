//! The layering plan, before any data moves: the layering policy and its
//! layer order, every document's layer, each document's parent by its
//! `parentSelector` (Deckhand's parent selection, error cases included),
//! the replacement rules, and the map of substitution sources by schema and
//! name. Pure; linear in the documents plus the label matches.

use std::collections::HashMap;

use crate::ingest::value::Value;

use super::RenderNote;
use super::document::Document;
use super::error::RenderError;

/// What layering decided about each document (indexed like the input).
#[derive(Debug)]
pub(crate) struct Plan {
    /// The document each one's `parentSelector` chose.
    pub(crate) parent: Vec<Option<usize>>,
    /// The replacement of each replaced document.
    pub(crate) replaced_by: Vec<Option<usize>>,
    /// The document each `(schema, name)` substitutes from (a replaced
    /// document's replacement; concrete documents only).
    pub(crate) sources: HashMap<(String, String), usize>,
    /// Warnings.
    pub(crate) notes: Vec<RenderNote>,
}

impl Plan {
    /// The document `index` layers on: its parent or, when the parent is
    /// replaced by another document, that replacement (Deckhand's
    /// `_get_ancestor`).
    pub(crate) fn ancestor(&self, index: usize) -> Option<usize> {
        let parent = self.parent[index]?;
        match self.replaced_by[parent] {
            Some(replacement) if replacement != index => Some(replacement),
            _ => Some(parent),
        }
    }
}

/// Build the plan for `documents`.
pub(crate) fn plan(documents: &[Document]) -> Result<Plan, RenderError> {
    let mut notes = Vec::new();
    let policies: Vec<&Document> = documents.iter().filter(|document| document.is_layering_policy()).collect();
    let Some(policy) = policies.first() else {
        return Err(RenderError::NoLayeringPolicy);
    };
    for extra in &policies[1..] {
        notes.push(RenderNote {
            document: Some(extra.id.clone()),
            message: format!("a second layering policy; the first, {}, is used (as Deckhand does)", policy.id.cited()),
        });
    }
    let order: Vec<&str> = policy
        .data()
        .as_map()
        .and_then(|data| data.get("layerOrder"))
        .and_then(|order| match order {
            Value::Seq(seq) => Some(seq.items.iter().filter_map(Value::as_str).collect()),
            _ => None,
        })
        .unwrap_or_default();

    check_duplicates(documents)?;
    let mut layer = Vec::with_capacity(documents.len());
    for document in documents {
        match (&document.id.layer, document.control) {
            (Some(name), false) => match order.iter().position(|known| known == name) {
                Some(position) => layer.push(Some(position)),
                None => {
                    return Err(RenderError::UnknownLayer {
                        document: document.id.clone(),
                        layer: name.clone(),
                        order: order.join(", "),
                        policy: policy.id.clone(),
                    });
                }
            },
            _ => layer.push(None),
        }
    }
    let parent = select_parents(documents, &layer, &order, &mut notes)?;
    let replaced_by = check_replacements(documents, &parent)?;
    let mut sources = HashMap::new();
    for (index, document) in documents.iter().enumerate() {
        if document.is_abstract {
            continue;
        }
        let source = replaced_by[index].unwrap_or(index);
        sources.insert((document.id.schema.clone(), document.id.name.clone()), source);
    }
    Ok(Plan { parent, replaced_by, sources, notes })
}

/// No two documents share schema, layer and name.
fn check_duplicates(documents: &[Document]) -> Result<(), RenderError> {
    let mut seen: HashMap<(&str, Option<&str>, &str), usize> = HashMap::with_capacity(documents.len());
    for (index, document) in documents.iter().enumerate() {
        let key = (document.id.schema.as_str(), document.id.layer.as_deref(), document.id.name.as_str());
        if let Some(&first) = seen.get(&key) {
            return Err(RenderError::Duplicate { document: document.id.clone(), first: documents[first].id.clone() });
        }
        seen.insert(key, index);
    }
    Ok(())
}

/// Python's `==` for label values (`1 == 1.0 == True`; containers deep).
pub(crate) fn python_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Seq(a), Value::Seq(b)) => a.items.len() == b.items.len() && a.items.iter().zip(&b.items).all(|(a, b)| python_equal(a, b)),
        (Value::Map(a), Value::Map(b)) => {
            a.entries.len() == b.entries.len()
                && a.entries
                    .iter()
                    .all(|(key, value)| b.entries.iter().any(|(other_key, other)| other_key.key_eq(key) && python_equal(value, other)))
        }
        (Value::Float(a), Value::Float(b)) => a == b,
        _ => a.key_eq(b),
    }
}

/// A hashable form of a label pair that equal pairs share.
fn label_key(key: &Value, value: &Value) -> (String, String) {
    fn scalar(value: &Value) -> String {
        match value {
            Value::Str(text) => format!("s{text}"),
            Value::Timestamp(text) => format!("t{text}"),
            Value::Null => "z".into(),
            Value::Bool(flag) => format!("n{}", u8::from(*flag)),
            Value::Int(number) => format!("n{number}"),
            Value::Float(number) if number.fract() == 0.0 && number.abs() < 9.0e15 => format!("n{}", *number as i64),
            Value::Float(number) => format!("f{number}"),
            Value::Seq(_) | Value::Map(_) => "c".into(),
        }
    }
    (scalar(key), scalar(value))
}

/// Whether `labels` hold every pair of `selector`.
fn selects(selector: &[(Value, Value)], labels: &[(Value, Value)]) -> bool {
    selector
        .iter()
        .all(|(key, wanted)| labels.iter().find(|(label, _)| label.key_eq(key)).is_some_and(|(_, value)| python_equal(value, wanted)))
}

/// Deckhand's parent selection: a document's parent is the document of the
/// same schema whose labels hold every pair of its `parentSelector`, in the
/// nearest more general layer. A match of another schema, or in a layer
/// that is not more general, is an error; so are two matches in one layer
/// (Deckhand counts them in any layer, not only the nearest); no match
/// leaves the document without a parent.
fn select_parents(
    documents: &[Document],
    layer: &[Option<usize>],
    order: &[&str],
    notes: &mut Vec<RenderNote>,
) -> Result<Vec<Option<usize>>, RenderError> {
    let mut by_label: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (index, document) in documents.iter().enumerate() {
        if layer[index].is_none() {
            continue;
        }
        for (key, value) in &document.labels {
            by_label.entry(label_key(key, value)).or_default().push(index);
        }
    }
    let mut parents = vec![None; documents.len()];
    for (child_index, child) in documents.iter().enumerate() {
        let (Some((first_key, first_value)), Some(child_layer)) = (child.selector.first(), layer[child_index]) else {
            continue;
        };
        let candidates = by_label.get(&label_key(first_key, first_value)).map(Vec::as_slice).unwrap_or_default();
        let mut chosen: Vec<usize> = Vec::new();
        for &candidate_index in candidates {
            let candidate = &documents[candidate_index];
            if candidate_index == child_index || !selects(&child.selector, &candidate.labels) {
                continue;
            }
            let invalid = |reason: String| RenderError::InvalidParent { child: child.id.clone(), parent: candidate.id.clone(), reason };
            if candidate.id.schema != child.id.schema {
                return Err(invalid(format!(
                    "has schema {} (documents of different schemas are never layered together)",
                    candidate.id.schema
                )));
            }
            let candidate_layer = layer[candidate_index].unwrap_or(usize::MAX);
            if candidate_layer >= child_layer {
                return Err(invalid(format!(
                    "is in layer {}, not in a layer more general than {} (layerOrder: {})",
                    order.get(candidate_layer).unwrap_or(&"?"),
                    order.get(child_layer).unwrap_or(&"?"),
                    order.join(", ")
                )));
            }
            chosen.push(candidate_index);
        }
        let mut per_layer: HashMap<usize, Vec<usize>> = HashMap::new();
        for &candidate_index in &chosen {
            per_layer.entry(layer[candidate_index].unwrap_or(0)).or_default().push(candidate_index);
        }
        if let Some((&ambiguous, matches)) = per_layer.iter().filter(|(_, matches)| matches.len() > 1).min_by_key(|(layer, _)| **layer) {
            return Err(RenderError::IndeterminateParent {
                child: child.id.clone(),
                layer: order.get(ambiguous).unwrap_or(&"?").to_string(),
                candidates: matches.iter().map(|&index| documents[index].id.clone()).collect(),
            });
        }
        parents[child_index] = chosen.iter().copied().max_by_key(|&index| layer[index]);
        if parents[child_index].is_none() && !child.replacement {
            notes.push(RenderNote {
                document: Some(child.id.clone()),
                message: format!(
                    "its parentSelector {} matches no document of a more general layer; it is rendered from its own data alone",
                    selector_text(&child.selector)
                ),
            });
        }
    }
    Ok(parents)
}

fn selector_text(selector: &[(Value, Value)]) -> String {
    let pairs: Vec<String> = selector.iter().map(|(key, value)| format!("{}: {}", key.py_str(), value.py_str())).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Deckhand's replacement rules; returns each replaced document's
/// replacement.
fn check_replacements(documents: &[Document], parent: &[Option<usize>]) -> Result<Vec<Option<usize>>, RenderError> {
    let mut replaced_by: Vec<Option<usize>> = vec![None; documents.len()];
    let mut non_replacements: HashMap<(&str, &str), usize> = HashMap::new();
    for (index, document) in documents.iter().enumerate() {
        let fail = |reason: String| RenderError::Replacement { document: document.id.clone(), reason };
        let same_identity = |other: &Document| other.id.schema == document.id.schema && other.id.name == document.id.name;
        if document.replacement {
            let Some(parent_index) = parent[index] else {
                return Err(fail(
                    "has replacement: true but no parent: a replacement's parentSelector must select the document it replaces".into(),
                ));
            };
            let replaced = &documents[parent_index];
            if !same_identity(replaced) {
                return Err(fail(format!(
                    "has replacement: true, but its parent {} has another schema or name (a replacement has the same schema and metadata.name as the document it replaces)",
                    replaced.id.cited()
                )));
            }
            if replaced.replacement {
                return Err(fail(format!(
                    "replaces {}, which is itself a replacement: a replacement document cannot itself be replaced",
                    replaced.id.cited()
                )));
            }
            if let Some(earlier) = replaced_by[parent_index] {
                return Err(fail(format!("replaces {}, which {} replaces already", replaced.id.cited(), documents[earlier].id.cited())));
            }
            replaced_by[parent_index] = Some(index);
        } else {
            if let Some(parent_index) = parent[index]
                && same_identity(&documents[parent_index])
            {
                return Err(fail(format!(
                    "has the schema and metadata.name of its parent {} but not replacement: true (add it, or give the document another name)",
                    documents[parent_index].id.cited()
                )));
            }
            if !document.control {
                let key = (document.id.name.as_str(), document.id.schema.as_str());
                if let Some(&first) = non_replacements.get(&key) {
                    return Err(fail(format!(
                        "{} has the same schema and metadata.name and neither has replacement: true (one document of a schema and name is rendered; the other must replace it)",
                        documents[first].id.cited()
                    )));
                }
                non_replacements.insert(key, index);
            }
        }
    }
    Ok(replaced_by)
}
