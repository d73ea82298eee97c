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
#[non_exhaustive]
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

/// A node filter as a client sends it with a task (api spec §2.6.1) that
/// cannot be used with any design.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestFilterError {
    /// It does not have the shape of a node filter.
    #[error("Invalid node_filter: {0}")]
    Malformed(#[source] crate::ingest::map::MapError),
    /// It has the shape but no design could evaluate it.
    #[error("Invalid node_filter: {0}")]
    Invalid(#[source] SelectError),
}

/// Parse a task's node filter and [`check`] it, so a filter no design can
/// evaluate is refused when the task is created instead of failing the task
/// when it runs.
pub fn request_filter(value: &serde_json::Value) -> Result<NodeFilter, RequestFilterError> {
    let filter = crate::ingest::map::node_filter_from_json(value).map_err(RequestFilterError::Malformed)?;
    check(&filter).map_err(RequestFilterError::Invalid)?;
    Ok(filter)
}

/// The errors [`select`] gives for `filter` over any non-empty set of nodes,
/// found without nodes: they depend on the filter's shape alone (which
/// criteria each filter has), never on what the nodes are.
pub fn check(filter: &NodeFilter) -> Result<(), SelectError> {
    let mut unconstrained = Vec::with_capacity(filter.filter_set.len());
    for (index, entry) in filter.filter_set.iter().enumerate() {
        let Some(filter_type) = &entry.filter_type else {
            return Err(SelectError::MissingFilterType { index });
        };
        let has_criteria = entry.node_names.as_ref().is_some_and(|names| !names.is_empty())
            || entry.node_tags.as_ref().is_some_and(|tags| !tags.is_empty())
            || entry.rack_names.as_ref().is_some_and(|racks| !racks.is_empty())
            || entry.node_labels.as_ref().is_some_and(|labels| !labels.is_empty());
        unconstrained.push(match filter_type {
            FilterSetType::Union => false,
            FilterSetType::Intersection => !has_criteria,
            FilterSetType::Other(_) => true,
        });
    }
    match &filter.filter_set_type {
        FilterSetType::Union => match unconstrained.iter().position(|unconstrained| *unconstrained) {
            Some(index) => Err(SelectError::UnboundedUnionMember { index }),
            None => Ok(()),
        },
        FilterSetType::Intersection if filter.filter_set.is_empty() => Err(SelectError::EmptyIntersection),
        FilterSetType::Intersection => Ok(()),
        FilterSetType::Other(kind) => Err(SelectError::UnknownSetType(kind.clone())),
    }
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

    /// `check` finds exactly the errors `select` gives over real nodes, for
    /// every combination of set type, filter types and criteria.
    #[test]
    fn check_agrees_with_select() {
        let kinds = [Some(U), Some(I), Some(FilterSetType::Other("odd".into())), None];
        let criteria: [fn(NodeFilterEntry) -> NodeFilterEntry; 5] = [
            |entry| entry,
            |entry| NodeFilterEntry { node_names: strings(&["c1"]), ..entry },
            |entry| NodeFilterEntry { node_tags: Some(Vec::new()), ..entry },
            |entry| NodeFilterEntry { node_labels: labels(&[("k", "v")]), ..entry },
            |entry| NodeFilterEntry { rack_labels: labels(&[("a", "b")]), ..entry },
        ];
        let mut entries = Vec::new();
        for kind in &kinds {
            for make in criteria {
                entries.push(make(NodeFilterEntry { filter_type: kind.clone(), ..NodeFilterEntry::default() }));
            }
        }
        let mut checked = 0;
        for set in [U, I, FilterSetType::Other("odd".into())] {
            let mut sets: Vec<Vec<NodeFilterEntry>> = vec![Vec::new()];
            sets.extend(entries.iter().map(|entry| vec![entry.clone()]));
            for first in &entries {
                for second in &entries {
                    sets.push(vec![first.clone(), second.clone()]);
                }
            }
            for filter_set in sets {
                let filter = NodeFilter { filter_set_type: set.clone(), filter_set };
                assert_eq!(check(&filter), select(&nodes(), Some(&filter)).map(drop), "{filter:?}");
                checked += 1;
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    #[test]
    fn request_filters_are_parsed_and_checked() {
        let good = serde_json::json!({"filter_set_type": "union", "filter_set": [{"filter_type": "union", "node_names": ["c1"]}]});
        assert!(request_filter(&good).is_ok());
        let unbounded = serde_json::json!({"filter_set_type": "union", "filter_set": [{"filter_type": "intersection"}]});
        assert!(matches!(request_filter(&unbounded), Err(RequestFilterError::Invalid(SelectError::UnboundedUnionMember { index: 0 }))));
        let malformed = serde_json::json!({"filter_set_type": "union", "filter_set": "c1"});
        let error = request_filter(&malformed).expect_err("malformed");
        assert!(matches!(error, RequestFilterError::Malformed(_)) && error.to_string().starts_with("Invalid node_filter: "), "{error}");
    }

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
