//! In-process fake drivers (compat: api spec §3.3.3 asks for reference test
//! doubles): a fake node provisioner whose machines enlist when their fake
//! BMC powers on with PXE set, then commission, deploy and release through
//! status sequences. Every call can be slowed down or made to fail (always
//! or once), hang or panic, per operation and node, for tests, benchmarks
//! and examples.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::{
    BootDevice, ChangeSummary, CollectedData, DeployRequest, DriverError, DriverErrorKind, ErasePolicy, KubernetesDriver, MachineRef,
    MachineStatus, NodeDriver, OobDriver, OobTarget, PowerAction, PowerState, lock,
};
use crate::compile::EffectiveSite;
use crate::model::{BaremetalNode, StringMap};

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Return a permanent error.
    Error,
    /// Never return.
    Hang,
    /// Panic (a driver defect).
    Panic,
    /// Return a permanent error once, then behave normally (the fault is
    /// removed when it fires): a failure a retry gets past.
    ErrorOnce,
}

/// The shared state of a fake lab.
#[derive(Debug, Default)]
pub struct FakeWorld {
    machines: Mutex<HashMap<String, (MachineStatus, VecDeque<MachineStatus>)>>,
    power: Mutex<HashMap<String, (PowerState, Option<BootDevice>)>>,
    calls: Mutex<Vec<String>>,
    faults: Mutex<HashMap<(String, Option<String>), Fault>>,
    /// Nodes whose deployment ends in `Failed deployment`.
    pub fail_deploy: Mutex<HashSet<String>>,
    /// Nodes whose deployment never ends.
    pub hang_deploy: Mutex<HashSet<String>>,
    /// Delay added to every driver call.
    pub latency: Mutex<Duration>,
    /// Record calls (turn off for benchmarks).
    pub record: Mutex<bool>,
    /// How many driver calls were made.
    pub call_count: std::sync::atomic::AtomicUsize,
    /// The user data of each node's last deployment request.
    pub user_data: Mutex<HashMap<String, String>>,
}

impl FakeWorld {
    /// An empty lab that records calls.
    pub fn new() -> Arc<Self> {
        let world = FakeWorld::default();
        *lock(&world.record) = true;
        Arc::new(world)
    }

    /// Put a machine for `node` in the provisioner with `status`.
    pub fn enlist(&self, node: &str, status: MachineStatus) {
        lock(&self.machines).insert(node.to_owned(), (status, VecDeque::new()));
    }

    /// The calls made so far, in order.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.calls).clone()
    }

    /// Make `operation` (on `node`, or on every node) behave as `fault`.
    pub fn inject(&self, operation: &str, node: Option<&str>, fault: Fault) {
        lock(&self.faults).insert((operation.to_owned(), node.map(str::to_owned)), fault);
    }

    /// Remove every injected fault.
    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    /// A machine's current status (without advancing it).
    pub fn status(&self, node: &str) -> Option<MachineStatus> {
        lock(&self.machines).get(node).map(|(status, _)| status.clone())
    }

    /// Latency, faults and call recording for one call.
    async fn enter(&self, operation: &'static str, node: &str) -> Result<(), DriverError> {
        self.call_count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let latency = *lock(&self.latency);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if *lock(&self.record) {
            lock(&self.calls).push(format!("{operation} {node}"));
        }
        let fault = {
            let mut faults = lock(&self.faults);
            let specific = (operation.to_owned(), Some(node.to_owned()));
            let key = if faults.contains_key(&specific) { specific } else { (operation.to_owned(), None) };
            let fault = faults.get(&key).copied();
            if fault == Some(Fault::ErrorOnce) {
                faults.remove(&key);
            }
            fault
        };
        match fault {
            None => Ok(()),
            Some(Fault::Error | Fault::ErrorOnce) => Err(DriverError::new(DriverErrorKind::Permanent, operation, node, "injected failure")),
            Some(Fault::Hang) => {
                std::future::pending::<()>().await;
                Ok(())
            }
            Some(Fault::Panic) => panic!("injected panic in {operation} on {node}"),
        }
    }

    fn set_machine(&self, node: &str, now: MachineStatus, next: impl IntoIterator<Item = MachineStatus>) {
        if let Some((status, pending)) = lock(&self.machines).get_mut(node) {
            *status = now;
            *pending = next.into_iter().collect();
        }
    }
}

/// The fake node provisioner.
#[derive(Debug, Clone)]
pub struct FakeNodeDriver(pub Arc<FakeWorld>);

#[async_trait]
impl NodeDriver for FakeNodeDriver {
    fn name(&self) -> &'static str {
        "fake-provisioner"
    }
    async fn check(&self) -> Result<(), DriverError> {
        self.0.enter("check", "site").await
    }
    async fn ensure_network_template(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        self.0.enter("ensure_network_template", "site").await?;
        Ok(ChangeSummary { changes: vec![format!("{} networks in place", site.design.networks.len())] })
    }
    async fn ensure_user_credentials(&self, _: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        self.0.enter("ensure_user_credentials", "site").await?;
        Ok(ChangeSummary::default())
    }
    async fn ensure_provisioner_config(&self, _: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        self.0.enter("ensure_provisioner_config", "site").await?;
        Ok(ChangeSummary::default())
    }
    async fn ensure_boot_media(&self, _: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        self.0.enter("ensure_boot_media", "site").await?;
        Ok(ChangeSummary::default())
    }
    async fn identify(&self, _: &EffectiveSite, node: &BaremetalNode) -> Result<Option<MachineRef>, DriverError> {
        self.0.enter("identify", node.name()).await?;
        let known = lock(&self.0.machines).contains_key(node.name());
        Ok(known.then(|| MachineRef { id: format!("m-{}", node.name()), hostname: node.name().to_owned() }))
    }
    async fn machine_status(&self, machine: &MachineRef) -> Result<MachineStatus, DriverError> {
        self.0.enter("machine_status", &machine.hostname).await?;
        let mut machines = lock(&self.0.machines);
        let (status, pending) = machines
            .get_mut(&machine.hostname)
            .ok_or_else(|| DriverError::new(DriverErrorKind::NotFound, "machine_status", &machine.hostname, "no such machine"))?;
        if let Some(next) = pending.pop_front() {
            *status = next;
        }
        Ok(status.clone())
    }
    async fn commission(&self, machine: &MachineRef) -> Result<(), DriverError> {
        self.0.enter("commission", &machine.hostname).await?;
        self.0.set_machine(&machine.hostname, MachineStatus::Commissioning, [MachineStatus::Commissioning, MachineStatus::Ready]);
        Ok(())
    }
    async fn apply_networking(&self, _: &EffectiveSite, node: &BaremetalNode, _: &MachineRef) -> Result<(), DriverError> {
        self.0.enter("apply_networking", node.name()).await
    }
    async fn apply_storage(&self, _: &EffectiveSite, node: &BaremetalNode, _: &MachineRef) -> Result<(), DriverError> {
        self.0.enter("apply_storage", node.name()).await
    }
    async fn apply_platform(&self, _: &EffectiveSite, node: &BaremetalNode, _: &MachineRef) -> Result<(), DriverError> {
        self.0.enter("apply_platform", node.name()).await
    }
    async fn deploy(&self, machine: &MachineRef, request: &DeployRequest) -> Result<(), DriverError> {
        self.0.enter("deploy", &machine.hostname).await?;
        if *lock(&self.0.record) {
            lock(&self.0.calls).push(format!("user_data {} {}", machine.hostname, request.user_data.is_some()));
        }
        if let Some(user_data) = &request.user_data {
            lock(&self.0.user_data).insert(machine.hostname.clone(), user_data.clone());
        }
        let next: Vec<MachineStatus> = if lock(&self.0.fail_deploy).contains(&machine.hostname) {
            vec![MachineStatus::Failed { phase: "deployment".into(), detail: "installation failed".into() }]
        } else if lock(&self.0.hang_deploy).contains(&machine.hostname) {
            Vec::new()
        } else {
            vec![MachineStatus::Deploying, MachineStatus::Deployed]
        };
        self.0.set_machine(&machine.hostname, MachineStatus::Deploying, next);
        Ok(())
    }
    async fn release(&self, machine: &MachineRef, _: ErasePolicy) -> Result<(), DriverError> {
        self.0.enter("release", &machine.hostname).await?;
        self.0.set_machine(&machine.hostname, MachineStatus::Releasing, [MachineStatus::Ready]);
        Ok(())
    }
    async fn build_data(&self, machine: &MachineRef) -> Result<Vec<CollectedData>, DriverError> {
        self.0.enter("build_data", &machine.hostname).await?;
        Ok(Vec::new())
    }
    async fn images(&self) -> Result<Vec<(String, Vec<String>)>, DriverError> {
        Ok(vec![("jammy".into(), vec!["ga-22.04".into(), "hwe-22.04".into()])])
    }
}

/// The fake BMC (handles `ipmi`, `redfish` and `manual`).
#[derive(Debug, Clone)]
pub struct FakeOobDriver(pub Arc<FakeWorld>);

#[async_trait]
impl OobDriver for FakeOobDriver {
    fn name(&self) -> &'static str {
        "fake-bmc"
    }
    fn oob_types(&self) -> &'static [&'static str] {
        &["ipmi", "redfish", "manual"]
    }
    async fn check(&self, target: &OobTarget) -> Result<(), DriverError> {
        self.0.enter("oob_check", target.node.as_str()).await
    }
    async fn power_state(&self, target: &OobTarget) -> Result<PowerState, DriverError> {
        self.0.enter("power_state", target.node.as_str()).await?;
        Ok(lock(&self.0.power).get(target.node.as_str()).map(|(state, _)| *state).unwrap_or(PowerState::Off))
    }
    async fn power_action(&self, target: &OobTarget, action: PowerAction) -> Result<(), DriverError> {
        self.0.enter("power_action", target.node.as_str()).await?;
        let enlist = {
            let mut power = lock(&self.0.power);
            let entry = power.entry(target.node.0.clone()).or_insert((PowerState::Off, None));
            match action {
                PowerAction::On | PowerAction::Cycle => {
                    entry.0 = PowerState::On;
                    entry.1 == Some(BootDevice::Pxe)
                }
                PowerAction::HardOff | PowerAction::SoftOff => {
                    entry.0 = PowerState::Off;
                    false
                }
            }
        };
        if enlist && !lock(&self.0.machines).contains_key(target.node.as_str()) {
            self.0.enlist(target.node.as_str(), MachineStatus::New);
        }
        Ok(())
    }
    async fn set_boot_device(&self, target: &OobTarget, device: BootDevice, _: bool) -> Result<(), DriverError> {
        self.0.enter("set_boot_device", target.node.as_str()).await?;
        lock(&self.0.power).entry(target.node.0.clone()).or_insert((PowerState::Off, None)).1 = Some(device);
        Ok(())
    }
}

/// The fake Kubernetes driver.
#[derive(Debug, Clone)]
pub struct FakeKubernetesDriver(pub Arc<FakeWorld>);

#[async_trait]
impl KubernetesDriver for FakeKubernetesDriver {
    async fn relabel(&self, node: &str, _: &StringMap) -> Result<(), DriverError> {
        self.0.enter("relabel", node).await
    }
}
