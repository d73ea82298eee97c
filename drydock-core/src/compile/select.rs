//! Node-filter evaluation over compiled nodes (compat: site-design spec
//! §4.2): per-filter union/intersection of criteria, then the filter set's
//! union/intersection, with the original's quirks (labels are OR-ed,
//! `rack_labels` never restricts). Where the original crashes, this returns a
//! [`SelectError`] naming the problem. Results are node indices in design
//! order; every step is linear in the number of nodes.

use std::collections::HashSet;

use crate::model::{BaremetalNode, FilterSetType, NodeFilter, NodeFilterEntry};

/// A filter that cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// A filter has no `filter_type`.
    #[error("Error processing node filter: Field `filter_type' cannot be None (filter {index})")]
    MissingFilterType {
        /// Position of the filter in `filter_set`.
        index: usize,
    },
    /// A union filter set holds a filter that yields "no constraint".
    #[error(
        "Error processing node filter: filter {index} of a union filter set has no usable criterion (an intersection filter with no node_names, node_tags, node_labels or rack_names selects no set to unite)"
    )]
    UnboundedUnionMember {
        /// Position of the filter in `filter_set`.
        index: usize,
    },
    /// An intersection filter set with no filters.
    #[error("Error processing node filter: an intersection filter set needs at least one filter")]
    EmptyIntersection,
    /// An unknown `filter_set_type`.
    #[error("Unknown filter set type {0}")]
    UnknownSetType(String),
}

/// One filter's result: a node set, or "no constraint" (the original's null).
enum Selected {
    Set(Vec<bool>),
    Unconstrained,
}

/// Evaluate `filter` over `nodes`; `None` selects every node.
pub fn select(nodes: &[BaremetalNode], filter: Option<&NodeFilter>) -> Result<Vec<usize>, SelectError> {
    if nodes.is_empty() {
        return Ok(Vec::new());
    }
    let Some(filter) = filter else {
        return Ok((0..nodes.len()).collect());
    };
    let mut results = Vec::with_capacity(filter.filter_set.len());
    for (index, entry) in filter.filter_set.iter().enumerate() {
        results.push(evaluate_entry(nodes, entry, index)?);
    }
    let combined = match &filter.filter_set_type {
        FilterSetType::Union => {
            let mut union = vec![false; nodes.len()];
            for (index, result) in results.iter().enumerate() {
                match result {
                    Selected::Set(set) => union.iter_mut().zip(set).for_each(|(acc, hit)| *acc |= *hit),
                    Selected::Unconstrained => return Err(SelectError::UnboundedUnionMember { index }),
                }
            }
            union
        }
        FilterSetType::Intersection => {
            if results.is_empty() {
                return Err(SelectError::EmptyIntersection);
            }
            let mut intersection: Option<Vec<bool>> = None;
            for result in &results {
                if let Selected::Set(set) = result {
                    match intersection.as_mut() {
                        Some(acc) => acc.iter_mut().zip(set).for_each(|(acc, hit)| *acc &= *hit),
                        None => intersection = Some(set.clone()),
                    }
                }
            }
            // Every filter unconstrained: the original's null, meaning no nodes.
            intersection.unwrap_or_else(|| vec![false; nodes.len()])
        }
        FilterSetType::Other(kind) => return Err(SelectError::UnknownSetType(kind.clone())),
    };
    Ok(combined.iter().enumerate().filter(|(_, hit)| **hit).map(|(index, _)| index).collect())
}

fn evaluate_entry(nodes: &[BaremetalNode], entry: &NodeFilterEntry, index: usize) -> Result<Selected, SelectError> {
    let Some(filter_type) = &entry.filter_type else {
        return Err(SelectError::MissingFilterType { index });
    };
    let mut criteria: Vec<Vec<bool>> = Vec::new();
    if let Some(names) = entry.node_names.as_ref().filter(|names| !names.is_empty()) {
        let wanted: HashSet<&str> = names.iter().map(String::as_str).collect();
        criteria.push(nodes.iter().map(|node| wanted.contains(node.name())).collect());
    }
    if let Some(tags) = entry.node_tags.as_ref().filter(|tags| !tags.is_empty()) {
        let wanted: HashSet<&str> = tags.iter().map(String::as_str).collect();
        criteria.push(nodes.iter().map(|node| node.config.tags.iter().any(|tag| wanted.contains(tag.as_str()))).collect());
    }
    if let Some(racks) = entry.rack_names.as_ref().filter(|racks| !racks.is_empty()) {
        let wanted: HashSet<&str> = racks.iter().map(String::as_str).collect();
        criteria.push(nodes.iter().map(|node| node.config.rack.as_deref().is_some_and(|rack| wanted.contains(rack))).collect());
    }
    if let Some(labels) = entry.node_labels.as_ref().filter(|labels| !labels.is_empty()) {
        criteria.push(
            nodes
                .iter()
                .map(|node| {
                    labels.iter().any(|(key, value)| {
                        value.as_deref().is_some_and(|value| node.config.owner_data.get(key).is_some_and(|have| have == value))
                    })
                })
                .collect(),
        );
    }
    Ok(match filter_type {
        FilterSetType::Union => {
            let mut union = vec![false; nodes.len()];
            for criterion in &criteria {
                union.iter_mut().zip(criterion).for_each(|(acc, hit)| *acc |= *hit);
            }
            Selected::Set(union)
        }
        FilterSetType::Intersection => {
            let mut iter = criteria.into_iter();
            match iter.next() {
                None => Selected::Unconstrained,
                Some(mut acc) => {
                    for criterion in iter {
                        acc.iter_mut().zip(&criterion).for_each(|(acc, hit)| *acc &= *hit);
                    }
                    Selected::Set(acc)
                }
            }
        }
        FilterSetType::Other(_) => Selected::Unconstrained,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DocMeta, HostConfig};

    fn node(name: &str, tags: &[&str], rack: &str, labels: &[(&str, &str)]) -> BaremetalNode {
        BaremetalNode {
            meta: DocMeta::new("drydock/BaremetalNode/v1", name),
            config: HostConfig {
                tags: tags.iter().map(|t| t.to_string()).collect(),
                rack: Some(rack.into()),
                owner_data: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                ..HostConfig::default()
            },
            addressing: Vec::new(),
            boot_mac: None,
        }
    }

    fn nodes() -> Vec<BaremetalNode> {
        vec![
            node("c1", &["t1"], "r1", &[("k", "v"), ("j", "w")]),
            node("c2", &["t2"], "r2", &[("k", "v2"), ("j", "w")]),
            node("c3", &["t1", "t2"], "r1", &[("k", "v3")]),
        ]
    }

    fn strings(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|i| i.to_string()).collect())
    }

    fn labels(pairs: &[(&str, &str)]) -> Option<Vec<(String, Option<String>)>> {
        Some(pairs.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect())
    }

    fn entry(kind: FilterSetType) -> NodeFilterEntry {
        NodeFilterEntry { filter_type: Some(kind), ..NodeFilterEntry::default() }
    }

    fn run(set: FilterSetType, entries: Vec<NodeFilterEntry>) -> Result<Vec<&'static str>, SelectError> {
        let names = ["c1", "c2", "c3"];
        select(&nodes(), Some(&NodeFilter { filter_set_type: set, filter_set: entries }))
            .map(|indices| indices.into_iter().map(|i| names[i]).collect())
    }

    use FilterSetType::{Intersection as I, Union as U};

    #[test]
    fn spec_table() {
        assert_eq!(select(&nodes(), None), Ok(vec![0, 1, 2]));
        assert_eq!(run(U, vec![NodeFilterEntry { node_names: strings(&["c1", "c3"]), ..entry(U) }]), Ok(vec!["c1", "c3"]));
        assert_eq!(
            run(U, vec![NodeFilterEntry { node_names: strings(&["c1", "c2"]), node_tags: strings(&["t2"]), ..entry(I) }]),
            Ok(vec!["c2"])
        );
        assert_eq!(
            run(U, vec![NodeFilterEntry { node_names: strings(&["c1"]), node_tags: strings(&["t2"]), ..entry(U) }]),
            Ok(vec!["c1", "c2", "c3"])
        );
        assert_eq!(run(U, vec![NodeFilterEntry { node_labels: labels(&[("k", "v"), ("j", "w")]), ..entry(I) }]), Ok(vec!["c1", "c2"]));
        assert_eq!(run(U, vec![NodeFilterEntry { node_labels: labels(&[("k", "nope")]), ..entry(I) }]), Ok(vec![]));
        assert_eq!(
            run(U, vec![NodeFilterEntry { rack_labels: labels(&[("a", "b")]), ..entry(I) }]),
            Err(SelectError::UnboundedUnionMember { index: 0 })
        );
        assert_eq!(run(U, vec![NodeFilterEntry { rack_labels: labels(&[("a", "b")]), ..entry(U) }]), Ok(vec![]));
        assert_eq!(run(U, vec![entry(I)]), Err(SelectError::UnboundedUnionMember { index: 0 }));
        assert_eq!(run(I, vec![entry(U)]), Ok(vec![]));
        assert_eq!(
            run(
                I,
                vec![
                    NodeFilterEntry { rack_names: strings(&["r1"]), ..entry(U) },
                    NodeFilterEntry { node_tags: strings(&["t2"]), ..entry(U) }
                ]
            ),
            Ok(vec!["c3"])
        );
        assert_eq!(
            run(
                U,
                vec![
                    NodeFilterEntry { rack_names: strings(&["r2"]), ..entry(U) },
                    NodeFilterEntry { node_tags: strings(&["t1"]), ..entry(U) }
                ]
            ),
            Ok(vec!["c1", "c2", "c3"])
        );
        assert_eq!(run(U, vec![]), Ok(vec![]));
        assert_eq!(run(I, vec![]), Err(SelectError::EmptyIntersection));
        assert_eq!(
            run(U, vec![NodeFilterEntry { filter_type: None, ..NodeFilterEntry::default() }]),
            Err(SelectError::MissingFilterType { index: 0 })
        );
        assert_eq!(run(FilterSetType::Other("x".into()), vec![]), Err(SelectError::UnknownSetType("x".into())));
        assert_eq!(select(&[], Some(&NodeFilter { filter_set_type: I, filter_set: vec![] })), Ok(vec![]));
    }

    #[test]
    fn non_string_label_values_never_match() {
        let entry = NodeFilterEntry { node_labels: Some(vec![("k".into(), None)]), ..entry(U) };
        assert_eq!(run(U, vec![entry]), Ok(vec![]));
    }
}
