//! Driver traits: [`OobDriver`] (BMC primitives), [`NodeDriver`] (the node
//! provisioner, MaaS today) and [`KubernetesDriver`] (node relabelling), and
//! the registry that picks a node's OOB driver by its `oob_type`
//! (compat: drivers spec §1).
//!
//! Drivers offer primitives, never workflows: one request or observation,
//! then return. They do not know about tasks, the store or the orchestrator,
//! never write status messages, and never sleep for long; waiting, retrying
//! and deadlines belong to the orchestrator.

#[cfg(any(feature = "driver-ipmi", feature = "driver-libvirt"))]
pub(crate) mod blocking;
pub mod error;
pub mod fake;
#[cfg(feature = "driver-ipmi")]
pub mod ipmi;
pub mod libvirt;
#[cfg(feature = "driver-maas")]
pub mod maas;
pub mod manual;
#[cfg(feature = "driver-promenade")]
pub mod promenade;
#[cfg(feature = "driver-redfish")]
pub mod redfish;
pub mod types;

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::compile::EffectiveSite;
use crate::model::{BaremetalNode, StringMap};
pub use error::{DriverError, DriverErrorKind};
pub use types::{
    BootDevice, ChangeSummary, CollectedData, DeployRequest, ErasePolicy, MachineRef, MachineStatus, OobTarget, PowerAction, PowerState,
};

/// Out-of-band control of one kind of BMC (IPMI, Redfish, manual, …).
#[async_trait]
pub trait OobDriver: Send + Sync {
    /// The driver's name, for messages.
    fn name(&self) -> &'static str;
    /// The `oob_type` values it handles.
    fn oob_types(&self) -> &'static [&'static str];
    /// Check that the BMC answers and accepts the credentials.
    async fn check(&self, target: &OobTarget) -> Result<(), DriverError>;
    /// Read the power state.
    async fn power_state(&self, target: &OobTarget) -> Result<PowerState, DriverError>;
    /// Request a power action; returns once the BMC accepted it.
    async fn power_action(&self, target: &OobTarget, action: PowerAction) -> Result<(), DriverError>;
    /// Set the next boot device (once, or for every boot).
    async fn set_boot_device(&self, target: &OobTarget, device: BootDevice, persistent: bool) -> Result<(), DriverError>;
    /// Inventory facts, where the BMC offers them.
    async fn inventory(&self, target: &OobTarget) -> Result<serde_json::Value, DriverError> {
        Err(DriverError::unsupported("inventory", target.endpoint()))
    }
}

/// The node provisioner. Site-wide operations are idempotent `ensure_*`
/// calls; per-node operations return once the provisioner accepted them and
/// the orchestrator waits on [`NodeDriver::machine_status`].
#[async_trait]
pub trait NodeDriver: Send + Sync {
    /// The driver's name, for messages.
    fn name(&self) -> &'static str;
    /// Check that the provisioner answers, accepts the credentials and its
    /// services are healthy (`validate_node_services`).
    async fn check(&self) -> Result<(), DriverError>;
    /// Fabrics, VLANs, subnets, ranges, routes, DHCP for the design's networks.
    async fn ensure_network_template(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError>;
    /// SSH keys for deployed nodes.
    async fn ensure_user_credentials(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError>;
    /// Package repositories and other provisioner settings.
    async fn ensure_provisioner_config(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError>;
    /// Boot images and their selections.
    async fn ensure_boot_media(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError>;
    /// Find the node among the provisioner's machines (hostname, then BMC
    /// address or boot MAC); `None` when it is not there.
    async fn identify(&self, site: &EffectiveSite, node: &BaremetalNode) -> Result<Option<MachineRef>, DriverError>;
    /// The machine's current status.
    async fn machine_status(&self, machine: &MachineRef) -> Result<MachineStatus, DriverError>;
    /// Start commissioning.
    async fn commission(&self, machine: &MachineRef) -> Result<(), DriverError>;
    /// Apply the node's interfaces, bonds, VLANs and links.
    async fn apply_networking(&self, site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError>;
    /// Apply the node's storage layout.
    async fn apply_storage(&self, site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError>;
    /// Apply the node's kernel, kernel parameters and tags.
    async fn apply_platform(&self, site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError>;
    /// Start deploying.
    async fn deploy(&self, machine: &MachineRef, request: &DeployRequest) -> Result<(), DriverError>;
    /// Start releasing.
    async fn release(&self, machine: &MachineRef, erase: ErasePolicy) -> Result<(), DriverError>;
    /// Data collected while commissioning (lshw, script results).
    async fn build_data(&self, machine: &MachineRef) -> Result<Vec<CollectedData>, DriverError>;
    /// Images the provisioner offers and each one's kernels.
    async fn images(&self) -> Result<Vec<(String, Vec<String>)>, DriverError>;
}

/// Kubernetes node labels (`relabel_nodes`).
#[async_trait]
pub trait KubernetesDriver: Send + Sync {
    /// Set the node's labels to `labels`.
    async fn relabel(&self, node: &str, labels: &StringMap) -> Result<(), DriverError>;
}

/// The configured OOB drivers, in order: a node's driver is the first one
/// that handles its `oob_type` (compat: drivers spec §1.1).
#[derive(Clone, Default)]
pub struct OobRegistry {
    drivers: Vec<Arc<dyn OobDriver>>,
}

impl std::fmt::Debug for OobRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.drivers.iter().map(|driver| driver.name())).finish()
    }
}

impl OobRegistry {
    /// A registry of `drivers`, first match wins.
    pub fn new(drivers: Vec<Arc<dyn OobDriver>>) -> Self {
        OobRegistry { drivers }
    }

    /// The driver for `oob_type`.
    pub fn for_type(&self, oob_type: &str) -> Option<Arc<dyn OobDriver>> {
        self.drivers.iter().find(|driver| driver.oob_types().contains(&oob_type)).cloned()
    }

    /// The same registry, in the same order, with every driver passed
    /// through `wrap` (the orchestrator's metrics time their calls so).
    pub fn map(self, wrap: impl Fn(Arc<dyn OobDriver>) -> Arc<dyn OobDriver>) -> Self {
        OobRegistry { drivers: self.drivers.into_iter().map(wrap).collect() }
    }

    /// Every `oob_type` some driver handles.
    pub fn oob_types(&self) -> Vec<&'static str> {
        self.drivers.iter().flat_map(|driver| driver.oob_types().iter().copied()).collect()
    }
}

/// The OOB target of a node: its `oob` parameters and the address on its
/// OOB network (or an explicit `address` parameter). A libvirt node's
/// address is its hypervisor: `oob.libvirt_uri` without user-info or query
/// ([`libvirt::uri::redacted`]), so the per-endpoint call limits count one
/// hypervisor's domains together.
pub fn oob_target(node: &BaremetalNode) -> Result<OobTarget, DriverError> {
    let parameters = &node.config.oob_parameters;
    let oob_type = node.config.oob_type.clone().unwrap_or_default();
    let address = if oob_type == "libvirt" {
        let uri = parameters.get("libvirt_uri").filter(|uri| !uri.is_empty()).ok_or_else(|| {
            DriverError::new(
                DriverErrorKind::Permanent,
                "oob_target",
                node.name(),
                format!("Node {} has no 'libvirt_url' defined", node.name()),
            )
        })?;
        Some(libvirt::uri::redacted(uri))
    } else {
        parameters
            .get("address")
            .cloned()
            .or_else(|| parameters.get("network").and_then(|network| node.address_on(network)).map(str::to_owned))
    };
    let address = address.ok_or_else(|| {
        DriverError::new(
            DriverErrorKind::Permanent,
            "oob_target",
            node.name(),
            "the node has no OOB address (oob.network has no static address)",
        )
    })?;
    let port = parameters.get("port").and_then(|port| port.parse().ok());
    Ok(OobTarget {
        node: crate::ids::NodeName(node.name().to_owned()),
        oob_type,
        address,
        port,
        account: parameters.get("account").cloned().unwrap_or_default(),
        credential: crate::ids::Secret::new(parameters.get("credential").cloned().unwrap_or_default()),
        parameters: parameters.iter().filter(|(key, _)| *key != "credential").map(|(k, v)| (k.clone(), v.clone())).collect(),
    })
}

/// Lock a driver's small in-memory state, carrying on after a panic in
/// another holder (the state stays usable: every update is one insert or
/// clear).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(&'static str, &'static [&'static str]);

    #[async_trait]
    impl OobDriver for Fake {
        fn name(&self) -> &'static str {
            self.0
        }
        fn oob_types(&self) -> &'static [&'static str] {
            self.1
        }
        async fn check(&self, _: &OobTarget) -> Result<(), DriverError> {
            Ok(())
        }
        async fn power_state(&self, _: &OobTarget) -> Result<PowerState, DriverError> {
            Ok(PowerState::On)
        }
        async fn power_action(&self, _: &OobTarget, _: PowerAction) -> Result<(), DriverError> {
            Ok(())
        }
        async fn set_boot_device(&self, _: &OobTarget, _: BootDevice, _: bool) -> Result<(), DriverError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn first_driver_handling_the_type_wins() {
        let registry = OobRegistry::new(vec![Arc::new(Fake("pyghmi-like", &["ipmi"])), Arc::new(Fake("redfish", &["redfish", "ipmi"]))]);
        assert_eq!(registry.for_type("ipmi").map(|d| d.name()), Some("pyghmi-like"));
        assert_eq!(registry.for_type("redfish").map(|d| d.name()), Some("redfish"));
        assert!(registry.for_type("libvirt").is_none());
        let target = OobTarget {
            node: "n1".into(),
            oob_type: "ipmi".into(),
            address: "10.0.0.1".into(),
            port: None,
            account: "admin".into(),
            credential: crate::ids::Secret::new("hunter2"),
            parameters: Default::default(),
        };
        let error = registry.for_type("ipmi").expect("driver").inventory(&target).await.expect_err("default");
        assert_eq!(error.kind(), DriverErrorKind::Unsupported);
        assert!(!format!("{target:?}").contains("hunter2"), "credentials never print");
    }
}
