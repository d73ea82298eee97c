//! Implement Drydock's `NodeDriver` for a provisioner of your own and let
//! the orchestrator drive it. The provisioner here keeps its machines in
//! memory ("the ledger"): every node of the design is a machine that is
//! already commissioned, networking and storage are recorded from the
//! node's effective configuration, and a deployment completes on the next
//! status read. A real driver would make one provisioner request per call
//! and return: waiting, retries and deadlines are the orchestrator's.
//!
//! `deploy_nodes` runs on the compute nodes only (a node filter), with no
//! OOB driver at all (the provisioner knows every machine, so no BMC is
//! needed); the boot actions are reported by a stand-in for the nodes'
//! agents.
//!
//! Run: `cargo run -p drydock-examples --example custom_node_driver`

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use drydock_core::drivers::{
    ChangeSummary, CollectedData, DeployRequest, DriverError, DriverErrorKind, ErasePolicy, MachineRef, MachineStatus, OobRegistry,
};
use drydock_core::store::memory::MemoryStore;
use drydock_core::task::{Action, ActionResult};
use drydock_core::{
    BaremetalNode, DefaultSource, Dependencies, DesignRef, EffectiveSite, NodeDriver, Orchestrator, OrchestratorConfig, StateStore,
};

/// The example site next to this file.
const EXAMPLE_SITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/site.yaml");

/// One machine of the ledger.
#[derive(Debug)]
struct Machine {
    status: MachineStatus,
    /// What was applied to it, in order.
    applied: Vec<String>,
}

/// The provisioner: machines by hostname, and a log of every call.
#[derive(Debug, Default)]
struct Ledger {
    machines: Mutex<BTreeMap<String, Machine>>,
    log: Mutex<Vec<String>>,
}

impl Ledger {
    /// A ledger holding a commissioned machine for each of `hostnames`.
    fn with_machines<'a>(hostnames: impl IntoIterator<Item = &'a str>) -> Self {
        let machines =
            hostnames.into_iter().map(|name| (name.to_owned(), Machine { status: MachineStatus::Ready, applied: Vec::new() })).collect();
        Ledger { machines: Mutex::new(machines), log: Mutex::new(Vec::new()) }
    }

    fn log(&self, line: String) {
        self.log.lock().expect("log lock").push(line);
    }

    /// Run `change` on the machine behind `machine`, or say it is unknown.
    fn with_machine<T>(
        &self,
        operation: &'static str,
        machine: &MachineRef,
        change: impl FnOnce(&mut Machine) -> T,
    ) -> Result<T, DriverError> {
        let mut machines = self.machines.lock().expect("machines lock");
        let found = machines
            .get_mut(&machine.hostname)
            .ok_or_else(|| DriverError::new(DriverErrorKind::NotFound, operation, &machine.hostname, "not in the ledger"))?;
        Ok(change(found))
    }
}

/// The driver the orchestrator calls; it shares the ledger with `main`.
struct LedgerDriver(Arc<Ledger>);

#[async_trait]
impl NodeDriver for LedgerDriver {
    fn name(&self) -> &'static str {
        "ledger"
    }

    async fn check(&self) -> Result<(), DriverError> {
        Ok(())
    }

    async fn ensure_network_template(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        let changes: Vec<String> =
            site.design.networks.iter().map(|network| format!("network {} {}", network.meta.name(), network.cidr)).collect();
        self.0.log(format!("ensure_network_template: {} networks", changes.len()));
        Ok(ChangeSummary { changes })
    }

    async fn ensure_user_credentials(&self, _site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        Ok(ChangeSummary::default())
    }

    async fn ensure_provisioner_config(&self, _site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        Ok(ChangeSummary::default())
    }

    async fn ensure_boot_media(&self, _site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        Ok(ChangeSummary::default())
    }

    async fn identify(&self, _site: &EffectiveSite, node: &BaremetalNode) -> Result<Option<MachineRef>, DriverError> {
        let known = self.0.machines.lock().expect("machines lock").contains_key(node.name());
        Ok(known.then(|| MachineRef { id: format!("ledger-{}", node.name()), hostname: node.name().to_owned() }))
    }

    async fn machine_status(&self, machine: &MachineRef) -> Result<MachineStatus, DriverError> {
        self.0.with_machine("machine_status", machine, |found| {
            // A deployment finishes by the time anyone looks again.
            if found.status == MachineStatus::Deploying {
                found.status = MachineStatus::Deployed;
            }
            found.status.clone()
        })
    }

    async fn commission(&self, machine: &MachineRef) -> Result<(), DriverError> {
        self.0.with_machine("commission", machine, |found| found.status = MachineStatus::Ready)
    }

    async fn apply_networking(&self, _site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError> {
        // The node is the effective one: its interfaces include what its
        // host profiles gave it.
        let links: Vec<String> =
            node.config.interfaces.iter().map(|interface| format!("{}={}", interface.name, interface.networks.join("+"))).collect();
        self.0.log(format!("{}: networking {}", node.name(), links.join(" ")));
        self.0.with_machine("apply_networking", machine, |found| found.applied.push("networking".into()))
    }

    async fn apply_storage(&self, _site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError> {
        let storage = &node.config.storage;
        let partitions: usize = storage.physical_devices.iter().map(|device| device.partitions.len()).sum();
        let volumes: usize = storage.volume_groups.iter().map(|group| group.logical_volumes.len()).sum();
        self.0.log(format!("{}: storage {partitions} partitions, {volumes} logical volumes", node.name()));
        self.0.with_machine("apply_storage", machine, |found| found.applied.push("storage".into()))
    }

    async fn apply_platform(&self, _site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError> {
        self.0.with_machine("apply_platform", machine, |found| {
            found.applied.push(format!("kernel {}", node.config.kernel.as_deref().unwrap_or("-")))
        })
    }

    async fn deploy(&self, machine: &MachineRef, request: &DeployRequest) -> Result<(), DriverError> {
        let image = request.image.clone().unwrap_or_default();
        self.0.log(format!("{}: deploy {image}", machine.hostname));
        self.0.with_machine("deploy", machine, |found| {
            found.applied.push(format!("image {image}"));
            found.status = MachineStatus::Deploying;
        })
    }

    async fn release(&self, machine: &MachineRef, _erase: ErasePolicy) -> Result<(), DriverError> {
        self.0.with_machine("release", machine, |found| found.status = MachineStatus::Ready)
    }

    async fn build_data(&self, _machine: &MachineRef) -> Result<Vec<CollectedData>, DriverError> {
        Ok(Vec::new())
    }

    async fn images(&self) -> Result<Vec<(String, Vec<String>)>, DriverError> {
        Ok(vec![("jammy".into(), vec!["ga-22.04".into(), "hwe-22.04".into()])])
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut out = Vec::new();
    let result = run(EXAMPLE_SITE, &mut out).await;
    std::io::stdout().write_all(&out)?;
    result
}

async fn run(path: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let evaluation = drydock_core::load(path)?;
    let site = evaluation.site.ok_or_else(|| anyhow::anyhow!("{path}: the design has errors"))?;
    let ledger = Arc::new(Ledger::with_machines(site.nodes().iter().map(BaremetalNode::name)));

    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let orchestrator = Orchestrator::new(
        Dependencies {
            store: store.clone(),
            source: Arc::new(DefaultSource::default()),
            node_driver: Some(Arc::new(LedgerDriver(ledger.clone()))),
            // Machines the provisioner already knows need no BMC.
            oob: OobRegistry::default(),
            kubernetes: None,
        },
        OrchestratorConfig {
            poll_interval: Duration::from_millis(100),
            status_poll: Duration::from_millis(50),
            bootaction_final_status: Duration::from_secs(30),
            ..OrchestratorConfig::default()
        },
    );
    // The nodes' boot-action agents, played by a loop.
    let agents = tokio::spawn({
        let store = store.clone();
        let nodes: Vec<String> = site.nodes().iter().map(|node| node.name().to_owned()).collect();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                for node in &nodes {
                    for row in store.bootaction_status_for_node(node).await.unwrap_or_default() {
                        if row.action_status == ActionResult::Incomplete {
                            let _ = store.bootaction_status_update(row.action_id, ActionResult::Success).await;
                        }
                    }
                }
            }
        }
    });

    let compute = serde_json::json!({
        "filter_set_type": "union",
        "filter_set": [{"filter_type": "union", "node_tags": ["compute"]}],
    });
    let task = orchestrator.submit(Action::DeployNodes, DesignRef::from(path), Some(compute), Some("example".into())).await?;
    let ended = orchestrator.execute(task.id).await?;
    agents.abort();

    for line in ledger.log.lock().expect("log lock").iter() {
        writeln!(out, "{line}")?;
    }
    for (name, machine) in ledger.machines.lock().expect("machines lock").iter() {
        writeln!(out, "{name}: {:?} [{}]", machine.status, machine.applied.join(", "))?;
    }
    let result = &ended.result;
    writeln!(out, "deploy_nodes: {}, deployed {}", result.status.as_str(), result.successes.join(", "))?;
    anyhow::ensure!(result.status == ActionResult::Success, "deploy_nodes ended {}: {:?}", result.status.as_str(), result);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_compute_nodes_are_deployed_through_the_custom_driver() {
        let mut out = Vec::new();
        let result = super::run(super::EXAMPLE_SITE, &mut out).await;
        let text = String::from_utf8(out).expect("utf-8");
        result.unwrap_or_else(|error| panic!("{error}:\n{text}"));
        for node in ["cmp-r01-n03", "cmp-r02-n02", "cmp-r02-n03"] {
            assert!(text.contains(&format!("\n{node}: deploy jammy\n")), "{node}:\n{text}");
            assert!(
                text.contains(&format!("\n{node}: Deployed [networking, storage, kernel hwe-22.04, image jammy]\n")),
                "{node}:\n{text}"
            );
        }
        for node in ["cp-r01-n01", "cp-r01-n02", "cp-r02-n01"] {
            assert!(text.contains(&format!("\n{node}: Ready []\n")), "not selected, not touched: {node}:\n{text}");
        }
        assert!(text.contains("cmp-r01-n03: storage 3 partitions, 3 logical volumes\n"), "{text}");
        assert!(text.ends_with("deploy_nodes: success, deployed cmp-r01-n03, cmp-r02-n02, cmp-r02-n03\n"), "{text}");
    }
}
