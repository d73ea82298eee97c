//! Typed views of the MaaS resources the driver reads, one file per
//! resource, each with the calls that fetch it. Only the fields the driver
//! uses are decoded; everything else MaaS sends is ignored.

pub mod account;
pub mod boot;
pub mod domains;
pub mod fabrics;
pub mod interfaces;
pub mod machines;
pub mod racks;
pub mod repositories;
pub mod results;
pub mod storage;
pub mod subnets;
pub mod tags;

use serde::{Deserialize, Deserializer};

/// Decode `null` as the type's default (MaaS sends `null` for empty fields).
pub(crate) fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The VLAN an interface or a subnet is on, as MaaS nests it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VlanRef {
    /// VLAN id.
    #[serde(default)]
    pub id: i64,
    /// Tag.
    #[serde(default)]
    pub vid: i64,
    /// Fabric id.
    #[serde(default)]
    pub fabric_id: i64,
}

/// A nested object of which only the id matters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct IdRef {
    /// The id.
    #[serde(default)]
    pub id: i64,
}
