//! The machine listing behind `GET /api/v1.0/nodes` for a MaaS node
//! provisioner (compat: api spec §1.3.9): every machine with its hardware
//! summary, power state, boot MAC and address, and the BMC address from
//! the power parameters.

use std::collections::HashMap;

use drydock_core::drivers::maas::client::MaasClient;
use serde::Deserialize;

use super::api::{NodeInventory, NodeSummary};

#[derive(Deserialize)]
struct Link {
    #[serde(default)]
    ip_address: Option<String>,
}

#[derive(Deserialize)]
struct BootInterface {
    #[serde(default)]
    mac_address: Option<String>,
    #[serde(default)]
    links: Vec<Link>,
}

#[derive(Deserialize)]
struct Machine {
    system_id: String,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    memory: Option<u64>,
    #[serde(default)]
    cpu_count: Option<u64>,
    #[serde(default)]
    status_name: Option<String>,
    #[serde(default)]
    power_state: Option<String>,
    #[serde(default)]
    boot_interface: Option<BootInterface>,
}

/// Lists machines through a MaaS client.
pub struct MaasInventory {
    client: MaasClient,
}

impl std::fmt::Debug for MaasInventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaasInventory").finish_non_exhaustive()
    }
}

impl MaasInventory {
    /// An inventory over `client`.
    pub fn new(client: MaasClient) -> MaasInventory {
        MaasInventory { client }
    }
}

#[async_trait::async_trait]
impl NodeInventory for MaasInventory {
    async fn machines(&self) -> Result<Vec<NodeSummary>, String> {
        let machines: Vec<Machine> = self.client.get("list_machines", "machines/", None, &[]).await.map_err(|error| error.to_string())?;
        let bmcs: HashMap<String, String> = self.client.power_addresses().await.map_err(|error| error.to_string())?.into_iter().collect();
        Ok(machines
            .into_iter()
            .map(|machine| {
                let boot = machine.boot_interface;
                NodeSummary {
                    hostname: machine.hostname.unwrap_or_default(),
                    memory: machine.memory.unwrap_or(0),
                    cpu_count: machine.cpu_count.unwrap_or(0),
                    status_name: machine.status_name.unwrap_or_default(),
                    boot_mac: boot.as_ref().and_then(|boot| boot.mac_address.clone()),
                    power_state: machine.power_state,
                    power_address: bmcs.get(&machine.system_id).cloned(),
                    boot_ip: boot.and_then(|boot| boot.links.into_iter().find_map(|link| link.ip_address)),
                }
            })
            .collect())
    }
}
