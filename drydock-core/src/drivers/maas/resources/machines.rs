//! Machines (`machines/`, `machines/{system_id}/`): lookup by hostname, BMC
//! address or MAC, status, and the normalised [`MachineStatus`].

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use super::null_default;
use crate::drivers::DriverError;
use crate::drivers::MachineStatus;
use crate::drivers::maas::client::MaasClient;

/// A machine as MaaS lists it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Machine {
    /// System id.
    pub system_id: String,
    /// Hostname.
    #[serde(default, deserialize_with = "null_default")]
    pub hostname: String,
    /// Status name (`Ready`, `Failed commissioning`, …).
    #[serde(default, deserialize_with = "null_default")]
    pub status_name: String,
    /// Power type (`ipmi`, `redfish`, `manual`, …).
    #[serde(default, deserialize_with = "null_default")]
    pub power_type: String,
    /// Tags on the machine.
    #[serde(default, deserialize_with = "null_default")]
    pub tag_names: Vec<String>,
    /// Workload annotations (owner data).
    #[serde(default, deserialize_with = "null_default")]
    pub owner_data: IndexMap<String, String>,
    /// Domain.
    #[serde(default)]
    pub domain: Option<Named>,
    /// The PXE interface.
    #[serde(default)]
    pub boot_interface: Option<BootInterface>,
}

/// `{ "name": … }`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Named {
    /// The name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
}

/// The boot interface of a machine.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BootInterface {
    /// Its MAC.
    #[serde(default, deserialize_with = "null_default")]
    pub mac_address: String,
}

impl Machine {
    /// The status, normalised for the orchestrator (compat: drivers spec §2.5).
    pub fn status(&self) -> MachineStatus {
        status_of(&self.status_name)
    }

    /// The domain name, if MaaS gave one.
    pub fn domain_name(&self) -> Option<&str> {
        self.domain.as_ref().map(|domain| domain.name.as_str())
    }
}

/// Map a MaaS status name onto [`MachineStatus`].
pub fn status_of(name: &str) -> MachineStatus {
    let failed = |phase: &str| MachineStatus::Failed { phase: phase.into(), detail: name.into() };
    match name {
        "New" => MachineStatus::New,
        "Commissioning" | "Testing" => MachineStatus::Commissioning,
        "Ready" => MachineStatus::Ready,
        "Allocated" => MachineStatus::Allocated,
        "Deploying" => MachineStatus::Deploying,
        "Deployed" => MachineStatus::Deployed,
        "Releasing" | "Disk erasing" => MachineStatus::Releasing,
        "Failed commissioning" => failed("commissioning"),
        "Failed testing" => failed("testing"),
        "Failed deployment" => failed("deployment"),
        "Releasing failed" => failed("releasing"),
        "Failed disk erasing" => failed("erasing"),
        other if other.starts_with("Failed") => failed("other"),
        other => MachineStatus::Other(other.to_owned()),
    }
}

impl MaasClient {
    /// `GET machines/?hostname=<name>`.
    pub async fn machines_by_hostname(&self, hostname: &str) -> Result<Vec<Machine>, DriverError> {
        self.get("find_machine", "machines/", None, &[("hostname", hostname)]).await
    }

    /// `GET machines/?mac_address=<mac>`.
    pub async fn machines_by_mac(&self, mac: &str) -> Result<Vec<Machine>, DriverError> {
        self.get("find_machine", "machines/", None, &[("mac_address", mac)]).await
    }

    /// `GET machines/`.
    pub async fn machines(&self) -> Result<Vec<Machine>, DriverError> {
        self.get("list_machines", "machines/", None, &[]).await
    }

    /// `GET machines/{sid}/`.
    pub async fn machine(&self, system_id: &str) -> Result<Machine, DriverError> {
        self.get("machine_status", &format!("machines/{system_id}/"), None, &[]).await
    }

    /// `GET machines/?op=power_parameters`: system id → its BMC address.
    pub async fn power_addresses(&self) -> Result<Vec<(String, String)>, DriverError> {
        let all: IndexMap<String, Value> = self.get("find_machine", "machines/", Some("power_parameters"), &[]).await?;
        Ok(all
            .into_iter()
            .filter_map(|(sid, params)| params.get("power_address").and_then(Value::as_str).map(|address| (sid, address.to_owned())))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_onto_phases() {
        assert_eq!(status_of("Ready"), MachineStatus::Ready);
        assert_eq!(status_of("Testing"), MachineStatus::Commissioning);
        assert_eq!(
            status_of("Failed commissioning"),
            MachineStatus::Failed { phase: "commissioning".into(), detail: "Failed commissioning".into() }
        );
        assert_eq!(
            status_of("Failed deployment"),
            MachineStatus::Failed { phase: "deployment".into(), detail: "Failed deployment".into() }
        );
        assert_eq!(status_of("Broken"), MachineStatus::Other("Broken".into()));
    }
}
