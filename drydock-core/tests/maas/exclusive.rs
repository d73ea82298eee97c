//! A NodeDriver decorator that records any moment two calls work on the
//! same machine at once (the orchestrator promises that never happens).

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use drydock_core::compile::EffectiveSite;
use drydock_core::drivers::{ChangeSummary, CollectedData, DeployRequest, DriverError, ErasePolicy, MachineRef, MachineStatus, NodeDriver};
use drydock_core::model::BaremetalNode;

/// Wraps a driver; `overlaps()` counts concurrent calls on one machine.
pub struct Exclusive {
    inner: Arc<dyn NodeDriver>,
    busy: Mutex<HashSet<String>>,
    overlaps: AtomicUsize,
    /// Calls seen, for sanity.
    pub calls: AtomicUsize,
}

struct Guard<'a>(&'a Exclusive, String);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.busy.lock().expect("lock").remove(&self.1);
    }
}

impl Exclusive {
    pub fn new(inner: Arc<dyn NodeDriver>) -> Arc<Exclusive> {
        Arc::new(Exclusive { inner, busy: Mutex::new(HashSet::new()), overlaps: AtomicUsize::new(0), calls: AtomicUsize::new(0) })
    }

    pub fn overlaps(&self) -> usize {
        self.overlaps.load(Ordering::SeqCst)
    }

    fn enter(&self, key: &str) -> Guard<'_> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if !self.busy.lock().expect("lock").insert(key.to_owned()) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        Guard(self, key.to_owned())
    }
}

#[async_trait]
impl NodeDriver for Exclusive {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn check(&self) -> Result<(), DriverError> {
        self.inner.check().await
    }
    async fn ensure_network_template(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        self.inner.ensure_network_template(site).await
    }
    async fn ensure_user_credentials(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        self.inner.ensure_user_credentials(site).await
    }
    async fn ensure_provisioner_config(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        self.inner.ensure_provisioner_config(site).await
    }
    async fn ensure_boot_media(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        self.inner.ensure_boot_media(site).await
    }
    async fn identify(&self, site: &EffectiveSite, node: &BaremetalNode) -> Result<Option<MachineRef>, DriverError> {
        let _guard = self.enter(&format!("node:{}", node.name()));
        self.inner.identify(site, node).await
    }
    async fn machine_status(&self, machine: &MachineRef) -> Result<MachineStatus, DriverError> {
        let _guard = self.enter(&machine.id);
        self.inner.machine_status(machine).await
    }
    async fn commission(&self, machine: &MachineRef) -> Result<(), DriverError> {
        let _guard = self.enter(&machine.id);
        self.inner.commission(machine).await
    }
    async fn apply_networking(&self, site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError> {
        let _guard = self.enter(&machine.id);
        self.inner.apply_networking(site, node, machine).await
    }
    async fn apply_storage(&self, site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError> {
        let _guard = self.enter(&machine.id);
        self.inner.apply_storage(site, node, machine).await
    }
    async fn apply_platform(&self, site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError> {
        let _guard = self.enter(&machine.id);
        self.inner.apply_platform(site, node, machine).await
    }
    async fn deploy(&self, machine: &MachineRef, request: &DeployRequest) -> Result<(), DriverError> {
        let _guard = self.enter(&machine.id);
        self.inner.deploy(machine, request).await
    }
    async fn release(&self, machine: &MachineRef, erase: ErasePolicy) -> Result<(), DriverError> {
        let _guard = self.enter(&machine.id);
        self.inner.release(machine, erase).await
    }
    async fn build_data(&self, machine: &MachineRef) -> Result<Vec<CollectedData>, DriverError> {
        let _guard = self.enter(&machine.id);
        self.inner.build_data(machine).await
    }
    async fn images(&self) -> Result<Vec<(String, Vec<String>)>, DriverError> {
        self.inner.images().await
    }
}
