//! The site design as plain data: one type per document kind (compat:
//! site-design spec §2), the design that holds them, findings, and the
//! node-filter vocabulary shared with tasks.
//!
//! Rank 1: imports only `ids`. No I/O, no parsing, no behaviour beyond
//! lookups; ingestion fills these types and compile derives from them.

mod bootaction;
mod filter;
mod finding;
mod hardware;
mod host;
mod network;
mod region;

pub use bootaction::{Asset, AssetType, BootAction, PipelineSegment};
pub use filter::{FilterSetType, LabelPairs, NodeFilter, NodeFilterEntry};
pub use finding::{Finding, Level, SourceLocation};
pub use hardware::{DeviceAlias, HardwareProfile, HugepagesConfig};
pub use host::{
    Addressing, BaremetalNode, HostConfig, HostProfile, Interface, LogicalVolume, Partition, PhysicalDevice, SlaveSelector, Storage,
    VolumeGroup,
};
pub use network::{BondingMode, Network, NetworkLink, NetworkRange, RenderedRoutes, Route, TrunkingMode};
pub use region::{Rack, Region, Repository, RepositoryList, TagDefinition, TorSwitch};

use std::sync::Arc;

use crate::ids::DocRef;

/// Ordered string map (document order matters for merges and rendering).
pub type StringMap = indexmap::IndexMap<String, String>;

/// Where a design object came from: its document reference and position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DocMeta {
    /// `{schema, name}` as validation messages cite it.
    pub doc_ref: DocRef,
    /// File and line of the document, when the design came from a file.
    pub location: Option<SourceLocation>,
}

impl DocMeta {
    /// Metadata for a document of `schema` named `name`.
    pub fn new(schema: &str, name: &str) -> Self {
        DocMeta { doc_ref: DocRef::new(schema, name), location: None }
    }

    /// The object's name (`metadata.name`).
    pub fn name(&self) -> &str {
        &self.doc_ref.name
    }
}

/// A whole site design as ingested: every object in stream order.
///
/// Lookups by name return the first object of that name in stream order, and
/// the last `Region` is the site (compat: site-design spec §1.4).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SiteDesign {
    /// Every Region document; the last one is the site.
    pub regions: Vec<Region>,
    /// NetworkLink documents.
    pub network_links: Vec<NetworkLink>,
    /// Network documents.
    pub networks: Vec<Network>,
    /// HardwareProfile documents.
    pub hardware_profiles: Vec<HardwareProfile>,
    /// HostProfile documents.
    pub host_profiles: Vec<HostProfile>,
    /// BaremetalNode documents.
    pub baremetal_nodes: Vec<BaremetalNode>,
    /// Rack documents.
    pub racks: Vec<Rack>,
    /// BootAction documents.
    pub boot_actions: Vec<BootAction>,
    /// The file the design was read from, if any (for diagnostics).
    pub source_name: Option<Arc<str>>,
}

impl SiteDesign {
    /// Add `other`'s documents after this design's, as if its stream
    /// followed this one (a design split across files, read in order; every
    /// document keeps its own file and line). The source name stays the
    /// first one's.
    pub fn append(&mut self, other: SiteDesign) {
        self.regions.extend(other.regions);
        self.network_links.extend(other.network_links);
        self.networks.extend(other.networks);
        self.hardware_profiles.extend(other.hardware_profiles);
        self.host_profiles.extend(other.host_profiles);
        self.baremetal_nodes.extend(other.baremetal_nodes);
        self.racks.extend(other.racks);
        self.boot_actions.extend(other.boot_actions);
        if self.source_name.is_none() {
            self.source_name = other.source_name;
        }
    }

    /// The site: the last Region in stream order.
    pub fn region(&self) -> Option<&Region> {
        self.regions.last()
    }

    /// The first network named `name`.
    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks.iter().find(|network| network.meta.name() == name)
    }

    /// The first network link named `name`.
    pub fn network_link(&self, name: &str) -> Option<&NetworkLink> {
        self.network_links.iter().find(|link| link.meta.name() == name)
    }

    /// The first hardware profile named `name`.
    pub fn hardware_profile(&self, name: &str) -> Option<&HardwareProfile> {
        self.hardware_profiles.iter().find(|profile| profile.meta.name() == name)
    }

    /// The first host profile named `name`.
    pub fn host_profile(&self, name: &str) -> Option<&HostProfile> {
        self.host_profiles.iter().find(|profile| profile.meta.name() == name)
    }

    /// The first baremetal node named `name`.
    pub fn baremetal_node(&self, name: &str) -> Option<&BaremetalNode> {
        self.baremetal_nodes.iter().find(|node| node.meta.name() == name)
    }

    /// The first rack named `name`.
    pub fn rack(&self, name: &str) -> Option<&Rack> {
        self.racks.iter().find(|rack| rack.meta.name() == name)
    }

    /// The first boot action named `name`.
    pub fn boot_action(&self, name: &str) -> Option<&BootAction> {
        self.boot_actions.iter().find(|action| action.meta.name() == name)
    }

    /// How many objects the design holds.
    pub fn object_count(&self) -> usize {
        self.regions.len()
            + self.network_links.len()
            + self.networks.len()
            + self.hardware_profiles.len()
            + self.host_profiles.len()
            + self.baremetal_nodes.len()
            + self.racks.len()
            + self.boot_actions.len()
    }
}
