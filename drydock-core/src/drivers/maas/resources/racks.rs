//! Rack controllers (`rackcontrollers/`): their interfaces (for DHCP) and
//! service health.

use serde::Deserialize;

use super::interfaces::Interface;
use super::null_default;
use crate::drivers::DriverError;
use crate::drivers::maas::client::MaasClient;

/// A rack controller.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RackController {
    /// System id.
    pub system_id: String,
    /// Hostname.
    #[serde(default, deserialize_with = "null_default")]
    pub hostname: String,
    /// Interfaces.
    #[serde(default, deserialize_with = "null_default")]
    pub interface_set: Vec<Interface>,
    /// Services and their status.
    #[serde(default, deserialize_with = "null_default")]
    pub service_set: Vec<Service>,
}

/// A rack service.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Service {
    /// `rackd`, `tftp`, `http`, `dhcpd`, …
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `running`, `off`, `dead`, …
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
}

impl RackController {
    /// Healthy: `http`, `dhcpd`, `rackd` and `tftp` are each `running` or
    /// `off` (a missing one is unhealthy) (compat: drivers spec §2.4.1).
    pub fn is_healthy(&self) -> bool {
        ["http", "dhcpd", "rackd", "tftp"].iter().all(|wanted| {
            self.service_set.iter().any(|service| service.name == *wanted && matches!(service.status.as_str(), "running" | "off"))
        })
    }
}

impl MaasClient {
    /// `GET rackcontrollers/`.
    pub async fn rack_controllers(&self) -> Result<Vec<RackController>, DriverError> {
        self.get("list_rack_controllers", "rackcontrollers/", None, &[]).await
    }
}
