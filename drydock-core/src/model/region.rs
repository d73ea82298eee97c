//! Region (the site) and Rack objects (compat: site-design spec §2.1, §2.7).

use super::{DocMeta, StringMap};

/// A node-tag definition of the region.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TagDefinition {
    /// Tag name.
    pub tag: String,
    /// Always `lshw_xpath`.
    pub definition_type: String,
    /// The XPath expression.
    pub definition: String,
}

/// A package repository.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Repository {
    /// Repository name (its key).
    pub name: String,
    /// URL.
    pub url: Option<String>,
    /// `apt`, …
    pub repo_type: Option<String>,
    /// Signing key.
    pub gpgkey: Option<String>,
    /// Distributions.
    pub distributions: Option<Vec<String>>,
    /// Sub-repositories.
    pub subrepos: Option<Vec<String>>,
    /// Components.
    pub components: Option<Vec<String>>,
    /// Architectures (the nominal default `amd64` is not applied).
    pub arches: Option<Vec<String>>,
    /// Extra options.
    pub options: StringMap,
}

/// The region's repository list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RepositoryList {
    /// Remove repositories not listed here.
    pub remove_unlisted: bool,
    /// The repositories in document order.
    pub repositories: Vec<Repository>,
}

/// A `drydock/Region/v1` document: the site.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Region {
    /// Document reference and position; the name is the site's.
    pub meta: DocMeta,
    /// Node-tag definitions.
    pub tag_definitions: Vec<TagDefinition>,
    /// SSH public keys for deployed nodes.
    pub authorized_keys: Vec<String>,
    /// Package repositories, when given.
    pub repositories: Option<RepositoryList>,
}

/// A top-of-rack switch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TorSwitch {
    /// Switch name.
    pub name: String,
    /// Management address.
    pub mgmt_ip: Option<String>,
    /// SDN API URI (read from the key `sdn_api_url`, compat §2.7).
    pub sdn_api_uri: Option<String>,
}

/// A `drydock/Rack/v1` document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rack {
    /// Document reference and position.
    pub meta: DocMeta,
    /// Switches.
    pub tor_switches: Vec<TorSwitch>,
    /// Location facts (`clli`, `grid`, …).
    pub location: StringMap,
    /// Local networks.
    pub local_networks: Vec<String>,
}
