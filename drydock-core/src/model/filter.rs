//! Node filters: the shape shared by boot actions, tasks and the nodefilter
//! API (compat: site-design spec §4.1). Evaluation lives in `compile::select`.

/// How the results of the filters of a filter set combine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub enum FilterSetType {
    /// Union of the filters' results.
    Union,
    /// Intersection of the filters' results.
    Intersection,
    /// Anything else (evaluation reports `Unknown filter set type`).
    Other(String),
}

impl FilterSetType {
    /// Parse the wire spelling.
    pub fn parse(text: &str) -> Self {
        match text {
            "union" => FilterSetType::Union,
            "intersection" => FilterSetType::Intersection,
            other => FilterSetType::Other(other.to_owned()),
        }
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            FilterSetType::Union => "union",
            FilterSetType::Intersection => "intersection",
            FilterSetType::Other(text) => text,
        }
    }
}

/// Label criteria: `(key, value)` pairs; a value that was not a string is
/// `None` and never matches.
pub type LabelPairs = Vec<(String, Option<String>)>;

/// One filter of a filter set. Absent criteria are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct NodeFilterEntry {
    /// `union`, `intersection`, something else, or absent.
    pub filter_type: Option<FilterSetType>,
    /// Node names.
    pub node_names: Option<Vec<String>>,
    /// Node tags (any of).
    pub node_tags: Option<Vec<String>>,
    /// Label pairs (any of). A value that was not a string never matches and
    /// is kept as `None`.
    pub node_labels: Option<LabelPairs>,
    /// Rack names.
    pub rack_names: Option<Vec<String>>,
    /// Rack labels: accepted, never restrict anything (compat §4.2).
    pub rack_labels: Option<LabelPairs>,
}

/// A node filter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeFilter {
    /// How the filters combine.
    pub filter_set_type: FilterSetType,
    /// The filters.
    pub filter_set: Vec<NodeFilterEntry>,
}
