//! Fabrics (`fabrics/`) and their VLANs (`fabrics/{id}/vlans/`).

use serde::Deserialize;
use serde_json::Value;

use super::null_default;
use crate::drivers::DriverError;
use crate::drivers::maas::client::MaasClient;

/// A fabric with its VLANs.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Fabric {
    /// Id.
    pub id: i64,
    /// Name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// VLANs (MaaS embeds them in the fabric).
    #[serde(default, deserialize_with = "null_default")]
    pub vlans: Vec<Vlan>,
}

/// A VLAN.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Vlan {
    /// Id.
    pub id: i64,
    /// Tag (0 = untagged).
    #[serde(default)]
    pub vid: i64,
    /// Name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// MTU.
    #[serde(default)]
    pub mtu: i64,
    /// DHCP served by MaaS.
    #[serde(default)]
    pub dhcp_on: bool,
    /// Fabric id.
    #[serde(default)]
    pub fabric_id: i64,
    /// Primary rack controller.
    #[serde(default)]
    pub primary_rack: Option<String>,
    /// Secondary rack controller.
    #[serde(default)]
    pub secondary_rack: Option<String>,
    /// DHCP relay VLAN (an object or null).
    #[serde(default)]
    pub relay_vlan: Option<Value>,
}

impl Fabric {
    /// The VLAN tagged `vid`.
    pub fn vlan(&self, vid: i64) -> Option<&Vlan> {
        self.vlans.iter().find(|vlan| vlan.vid == vid)
    }
}

impl MaasClient {
    /// `GET fabrics/`.
    pub async fn fabrics(&self) -> Result<Vec<Fabric>, DriverError> {
        self.get("list_fabrics", "fabrics/", None, &[]).await
    }
}
