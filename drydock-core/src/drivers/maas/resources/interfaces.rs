//! Machine interfaces (`nodes/{sid}/interfaces/`) and their subnet links.

use serde::Deserialize;

use super::{VlanRef, null_default};
use crate::drivers::DriverError;
use crate::drivers::maas::client::MaasClient;

/// One interface of a machine.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Interface {
    /// Id.
    pub id: i64,
    /// Kernel name (`eno1`, `bond0`, `bond0.100`).
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `physical`, `bond`, `vlan`, `bridge`.
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    pub kind: String,
    /// MAC address.
    #[serde(default, deserialize_with = "null_default")]
    pub mac_address: String,
    /// The VLAN it is connected to (`null` when disconnected).
    #[serde(default)]
    pub vlan: Option<VlanRef>,
    /// Parent interface names.
    #[serde(default, deserialize_with = "null_default")]
    pub parents: Vec<String>,
    /// Subnet links.
    #[serde(default, deserialize_with = "null_default")]
    pub links: Vec<Link>,
    /// The MTU in effect.
    #[serde(default)]
    pub effective_mtu: i64,
}

/// A link of an interface to a subnet.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Link {
    /// Link id.
    pub id: i64,
    /// `auto`, `dhcp`, `static`, `link_up`.
    #[serde(default, deserialize_with = "null_default")]
    pub mode: String,
    /// The subnet.
    #[serde(default)]
    pub subnet: Option<LinkSubnet>,
    /// Assigned address.
    #[serde(default)]
    pub ip_address: Option<String>,
}

/// The subnet of a link.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LinkSubnet {
    /// Subnet id.
    pub id: i64,
    /// CIDR.
    #[serde(default, deserialize_with = "null_default")]
    pub cidr: String,
}

impl Interface {
    /// The fabric the interface is on.
    pub fn fabric_id(&self) -> Option<i64> {
        self.vlan.as_ref().map(|vlan| vlan.fabric_id)
    }
}

impl MaasClient {
    /// `GET nodes/{sid}/interfaces/`.
    pub async fn interfaces(&self, system_id: &str) -> Result<Vec<Interface>, DriverError> {
        self.get("list_interfaces", &format!("nodes/{system_id}/interfaces/"), None, &[]).await
    }
}
