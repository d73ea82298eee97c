//! BootAction objects: assets placed on nodes after deployment
//! (compat: site-design spec §2.8, §5).

use super::{DocMeta, NodeFilter};

/// Kind of asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetType {
    /// A systemd unit.
    Unit,
    /// A file.
    File,
    /// Packages to install.
    PkgList,
}

impl AssetType {
    /// Parse the document spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "unit" => Some(AssetType::Unit),
            "file" => Some(AssetType::File),
            "pkg_list" => Some(AssetType::PkgList),
            _ => None,
        }
    }

    /// The document spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AssetType::Unit => "unit",
            AssetType::File => "file",
            AssetType::PkgList => "pkg_list",
        }
    }
}

/// A pipeline segment (compat §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineSegment {
    /// bytes → base64 bytes.
    Base64Encode,
    /// base64 → bytes.
    Base64Decode,
    /// bytes → string.
    Utf8Decode,
    /// string → bytes.
    Utf8Encode,
    /// Jinja2 template, string → string.
    Template,
}

impl PipelineSegment {
    /// Parse the document spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "base64_encode" => Some(PipelineSegment::Base64Encode),
            "base64_decode" => Some(PipelineSegment::Base64Decode),
            "utf8_decode" => Some(PipelineSegment::Utf8Decode),
            "utf8_encode" => Some(PipelineSegment::Utf8Encode),
            "template" => Some(PipelineSegment::Template),
            _ => None,
        }
    }

    /// The document spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PipelineSegment::Base64Encode => "base64_encode",
            PipelineSegment::Base64Decode => "base64_decode",
            PipelineSegment::Utf8Decode => "utf8_decode",
            PipelineSegment::Utf8Encode => "utf8_encode",
            PipelineSegment::Template => "template",
        }
    }
}

/// One asset of a boot action.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Asset {
    /// Kind.
    pub asset_type: AssetType,
    /// Target path on the node.
    pub path: Option<String>,
    /// URL to fetch the content from.
    pub location: Option<String>,
    /// Inline content (unit/file), cleared for inline package lists.
    pub data: Option<String>,
    /// Inline package list (`name → version or null`).
    pub package_list: Option<indexmap::IndexMap<String, Option<String>>>,
    /// Pipeline for `location` (absent = empty).
    pub location_pipeline: Vec<PipelineSegment>,
    /// Pipeline for the data (absent = empty).
    pub data_pipeline: Vec<PipelineSegment>,
    /// File mode, parsed as octal.
    pub permissions: Option<u32>,
}

/// A `drydock/BootAction/v1` document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BootAction {
    /// Document reference and position.
    pub meta: DocMeta,
    /// Whether the node reports status (default true).
    pub signaling: bool,
    /// Assets in document order.
    pub assets: Vec<Asset>,
    /// Which nodes it targets; `None` = every node.
    pub node_filter: Option<NodeFilter>,
}
