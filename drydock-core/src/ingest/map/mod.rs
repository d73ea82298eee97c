//! Turning one document's `data` into a model object, one file per kind
//! (compat: site-design spec §2). Every failure is a `MapError` naming the
//! field, which the ingester reports as DD000 for that document.

mod boot_action;
pub(crate) mod coerce;
mod hardware_profile;
mod host;
mod network;
mod network_link;
mod rack;
mod region;

use crate::ingest::value::Value;
use crate::model::DocMeta;

pub use coerce::MapError;

/// The eight document kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `Region`
    Region,
    /// `NetworkLink`
    NetworkLink,
    /// `Network`
    Network,
    /// `HardwareProfile`
    HardwareProfile,
    /// `HostProfile`
    HostProfile,
    /// `BaremetalNode`
    BaremetalNode,
    /// `Rack`
    Rack,
    /// `BootAction`
    BootAction,
}

impl Kind {
    /// Parse a kind name as documents spell it.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "Region" => Kind::Region,
            "NetworkLink" => Kind::NetworkLink,
            "Network" => Kind::Network,
            "HardwareProfile" => Kind::HardwareProfile,
            "HostProfile" => Kind::HostProfile,
            "BaremetalNode" => Kind::BaremetalNode,
            "Rack" => Kind::Rack,
            "BootAction" => Kind::BootAction,
            _ => return None,
        })
    }

    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Region => "Region",
            Kind::NetworkLink => "NetworkLink",
            Kind::Network => "Network",
            Kind::HardwareProfile => "HardwareProfile",
            Kind::HostProfile => "HostProfile",
            Kind::BaremetalNode => "BaremetalNode",
            Kind::Rack => "Rack",
            Kind::BootAction => "BootAction",
        }
    }
}

/// A mapped model object.
#[derive(Debug, Clone)]
pub(crate) enum Part {
    Region(crate::model::Region),
    NetworkLink(crate::model::NetworkLink),
    Network(crate::model::Network),
    HardwareProfile(crate::model::HardwareProfile),
    HostProfile(crate::model::HostProfile),
    BaremetalNode(crate::model::BaremetalNode),
    Rack(crate::model::Rack),
    BootAction(crate::model::BootAction),
}

/// Map `data` of a document of `kind` into its model object.
pub(crate) fn map_document(kind: Kind, meta: DocMeta, data: &Value) -> Result<Part, MapError> {
    let data_map = coerce::as_map(data, "data")?;
    let line = Some(data_map.line);
    let part = match kind {
        Kind::Region => Part::Region(region::map(meta, data_map)?),
        Kind::NetworkLink => Part::NetworkLink(network_link::map(meta, data_map)?),
        Kind::Network => Part::Network(network::map(meta, data_map)?),
        Kind::HardwareProfile => Part::HardwareProfile(hardware_profile::map(meta, data_map)?),
        Kind::HostProfile => Part::HostProfile(host::map_profile(meta, data_map)?),
        Kind::BaremetalNode => Part::BaremetalNode(host::map_node(meta, data_map)?),
        Kind::Rack => Part::Rack(rack::map(meta, data_map)?),
        Kind::BootAction => Part::BootAction(boot_action::map(meta, data_map)?),
    };
    let _ = line;
    Ok(part)
}

/// Node-filter mapping is shared with the HTTP and Python front ends, which
/// receive filters as JSON-like values.
pub use boot_action::{node_filter_from_json, node_filter_from_value};
