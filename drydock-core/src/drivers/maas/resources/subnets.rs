//! Subnets (`subnets/`), IP ranges (`ipranges/`) and static routes
//! (`static-routes/`).

use serde::Deserialize;

use super::{IdRef, VlanRef, null_default};
use crate::drivers::DriverError;
use crate::drivers::maas::client::MaasClient;

/// A subnet.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Subnet {
    /// Id.
    pub id: i64,
    /// Name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// CIDR.
    #[serde(default, deserialize_with = "null_default")]
    pub cidr: String,
    /// Its VLAN.
    #[serde(default)]
    pub vlan: VlanRef,
    /// Gateway.
    #[serde(default)]
    pub gateway_ip: Option<String>,
    /// DNS servers.
    #[serde(default, deserialize_with = "null_default")]
    pub dns_servers: Vec<String>,
}

/// An IP range.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IpRange {
    /// Id.
    pub id: i64,
    /// `reserved` or `dynamic`.
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    pub kind: String,
    /// First address.
    #[serde(default, deserialize_with = "null_default")]
    pub start_ip: String,
    /// Last address.
    #[serde(default, deserialize_with = "null_default")]
    pub end_ip: String,
    /// Subnet.
    #[serde(default)]
    pub subnet: IdRef,
}

/// A static route.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StaticRoute {
    /// Id.
    pub id: i64,
    /// Source subnet.
    #[serde(default)]
    pub source: IdRef,
    /// Destination subnet.
    #[serde(default)]
    pub destination: IdRef,
    /// Next hop.
    #[serde(default, deserialize_with = "null_default")]
    pub gateway_ip: String,
    /// Metric.
    #[serde(default)]
    pub metric: i64,
}

impl MaasClient {
    /// `GET subnets/`.
    pub async fn subnets(&self) -> Result<Vec<Subnet>, DriverError> {
        self.get("list_subnets", "subnets/", None, &[]).await
    }

    /// `GET ipranges/`.
    pub async fn ip_ranges(&self) -> Result<Vec<IpRange>, DriverError> {
        self.get("list_ipranges", "ipranges/", None, &[]).await
    }

    /// `GET static-routes/`.
    pub async fn static_routes(&self) -> Result<Vec<StaticRoute>, DriverError> {
        self.get("list_static_routes", "static-routes/", None, &[]).await
    }
}
