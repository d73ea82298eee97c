//! `prepare_nodes` through the orchestrator over real BMC peers: the example
//! site's six nodes, three behind `ipmi_sim` BMCs, two behind
//! `sushy-emulator` (Redfish) and one whose IPMI BMC does not exist. The
//! provisioner is the fake one; a node "enlists" there when its real BMC
//! accepted PXE and power-on (the decorator below), as a PXE-booted machine
//! would. Reachable nodes end PXE-set and powered on, as their BMCs confirm;
//! the unreachable one fails with a reason naming its BMC address.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use drydock_core::drivers::fake::{FakeNodeDriver, FakeWorld};
use drydock_core::drivers::ipmi::{IpmiConfig, IpmiDriver};
use drydock_core::drivers::redfish::{RedfishConfig, RedfishDriver};
use drydock_core::drivers::{
    BootDevice, DriverError, MachineStatus, NodeDriver, OobDriver, OobRegistry, OobTarget, PowerAction, PowerState,
};
use drydock_core::ids::DesignRef;
use drydock_core::ingest::source::DefaultSource;
use drydock_core::orchestrator::{Dependencies, Orchestrator, OrchestratorConfig};
use drydock_core::store::memory::MemoryStore;
use drydock_core::task::{Action, ActionResult, TaskStatus};
use drydock_sim::external::{self, IpmiSim, Sushy};

/// A real OOB driver whose successful "PXE set, then power on" enlists the
/// node in the fake provisioner.
struct Enlisting {
    inner: Arc<dyn OobDriver>,
    world: Arc<FakeWorld>,
    pxe: std::sync::Mutex<Vec<String>>,
}

#[async_trait]
impl OobDriver for Enlisting {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn oob_types(&self) -> &'static [&'static str] {
        self.inner.oob_types()
    }
    async fn check(&self, target: &OobTarget) -> Result<(), DriverError> {
        self.inner.check(target).await
    }
    async fn power_state(&self, target: &OobTarget) -> Result<PowerState, DriverError> {
        self.inner.power_state(target).await
    }
    async fn power_action(&self, target: &OobTarget, action: PowerAction) -> Result<(), DriverError> {
        self.inner.power_action(target, action).await?;
        let pxe = self.pxe.lock().expect("lock").contains(&target.node.0);
        if action == PowerAction::On && pxe && self.world.status(target.node.as_str()).is_none() {
            self.world.enlist(target.node.as_str(), MachineStatus::New);
        }
        Ok(())
    }
    async fn set_boot_device(&self, target: &OobTarget, device: BootDevice, persistent: bool) -> Result<(), DriverError> {
        self.inner.set_boot_device(target, device, persistent).await?;
        if device == BootDevice::Pxe {
            self.pxe.lock().expect("lock").push(target.node.0.clone());
        }
        Ok(())
    }
}

/// The example site with each node's `oob` block replaced.
fn site_with_oob(blocks: &[(&str, String)]) -> String {
    let mut text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/site.yaml")).expect("example site");
    for (node, block) in blocks {
        let at = text.find(&format!("  name: {node}\n")).unwrap_or_else(|| panic!("{node} in the example"));
        let start = at + text[at..].find("\n  oob:\n").expect("oob block") + 1;
        let credential = start + text[start..].find("    credential: ").expect("credential");
        let end = credential + text[credential..].find('\n').expect("line end") + 1;
        text.replace_range(start..end, block);
    }
    text
}

fn ipmi_block(port: u16) -> String {
    format!(
        "  oob:\n    type: ipmi\n    address: 127.0.0.1\n    port: '{port}'\n    account: {}\n    credential: {}\n",
        external::USER,
        external::PASSWORD
    )
}

fn redfish_block(url: &str) -> String {
    format!("  oob:\n    type: redfish\n    redfish_url: {url}\n    account: {}\n    credential: {}\n", external::USER, external::PASSWORD)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_nodes_over_ipmi_and_redfish_bmcs_with_one_unreachable() {
    let peers = external::ipmi_sim_installed() && external::ipmitool_installed() && external::sushy_installed();
    if !external::require("ipmi_sim, ipmitool and sushy-tools", peers, "source scripts/setup/oob.sh") {
        return;
    }
    let ipmi_nodes = ["cp-r01-n01", "cp-r01-n02", "cp-r02-n01"];
    let redfish_nodes = ["cmp-r01-n03", "cmp-r02-n02"];
    let unreachable = "cmp-r02-n03";
    let sims: Vec<IpmiSim> = ipmi_nodes.iter().map(|node| IpmiSim::start(node).expect("ipmi_sim")).collect();
    let sushies: Vec<Sushy> = redfish_nodes.iter().map(|_| Sushy::start(0).expect("sushy-emulator")).collect();
    // Something already powered one IPMI machine on: the step must power it off first.
    sims[0].ipmitool(&["chassis", "power", "on"]).expect("ipmitool on");
    let dead_port = external::free_udp_ports(1)[0];

    let mut blocks: Vec<(&str, String)> = Vec::new();
    for (node, sim) in ipmi_nodes.iter().zip(&sims) {
        blocks.push((node, ipmi_block(sim.port)));
    }
    for (node, sushy) in redfish_nodes.iter().zip(&sushies) {
        blocks.push((node, redfish_block(&sushy.url())));
    }
    blocks.push((unreachable, ipmi_block(dead_port)));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("site.yaml");
    std::fs::write(&path, site_with_oob(&blocks)).expect("write site");

    let world = FakeWorld::new();
    let ipmi = IpmiDriver::new(IpmiConfig { reply_timeout: Duration::from_millis(500), session_deadline: Duration::from_secs(3) });
    let redfish = RedfishDriver::new(RedfishConfig { use_ssl: false, timeout: Duration::from_secs(5), proxy: None }).expect("redfish");
    let oob: Vec<Arc<dyn OobDriver>> = vec![
        Arc::new(Enlisting { inner: Arc::new(ipmi), world: world.clone(), pxe: Default::default() }),
        Arc::new(Enlisting { inner: Arc::new(redfish), world: world.clone(), pxe: Default::default() }),
    ];
    let config = OrchestratorConfig {
        power_poll: Duration::from_millis(250),
        status_poll: Duration::from_millis(100),
        poll_interval: Duration::from_millis(50),
        drydock_timeout: Duration::from_secs(60),
        identify_node: Duration::from_secs(30),
        configure_hardware: Duration::from_secs(30),
        ..OrchestratorConfig::default()
    };
    let orchestrator = Orchestrator::new(
        Dependencies {
            store: Arc::new(MemoryStore::new()),
            source: Arc::new(DefaultSource::default()),
            node_driver: Some(Arc::new(FakeNodeDriver(world.clone())) as Arc<dyn NodeDriver>),
            oob: OobRegistry::new(oob),
            kubernetes: None,
        },
        config,
    );
    let design = DesignRef(format!("file://{}", path.display()));
    let task = orchestrator.submit(Action::PrepareNodes, design, None, None).await.expect("submit");
    let task = tokio::time::timeout(Duration::from_secs(120), orchestrator.execute(task.id)).await.expect("in time").expect("execute");

    assert_eq!(task.status, TaskStatus::Complete);
    assert_eq!(task.result.status, ActionResult::PartialSuccess, "{:?}", task.result);
    let mut succeeded = task.result.successes.clone();
    succeeded.sort();
    let mut expected: Vec<String> = ipmi_nodes.iter().chain(&redfish_nodes).map(|n| n.to_string()).collect();
    expected.sort();
    assert_eq!(succeeded, expected);
    assert_eq!(task.result.failures, [unreachable]);

    // The BMCs agree: PXE next, powered on; the pre-powered one was turned off first.
    for sim in &sims {
        assert_eq!(sim.recorded_boot(), "pxe");
        assert_eq!(sim.recorded_power(), "1");
        assert!(sim.ipmitool(&["chassis", "power", "status"]).expect("ipmitool").contains("is on"));
    }
    assert!(sims[0].events().iter().any(|e| e.ends_with("set power 0")), "{:?}", sims[0].events());
    let redfish = RedfishDriver::new(RedfishConfig { use_ssl: false, timeout: Duration::from_secs(5), proxy: None }).expect("redfish");
    for (node, sushy) in redfish_nodes.iter().zip(&sushies) {
        let target = OobTarget {
            node: (*node).into(),
            oob_type: "redfish".into(),
            address: "127.0.0.1".into(),
            port: None,
            account: external::USER.into(),
            credential: drydock_core::ids::Secret::new(external::PASSWORD),
            parameters: [("redfish_url".to_string(), sushy.url())].into_iter().collect(),
        };
        assert_eq!(redfish.power_state(&target).await.expect("power"), PowerState::On, "{node}");
        assert_eq!(redfish.boot_override(&target).await.expect("boot").as_deref(), Some("Pxe"), "{node}");
    }

    // The unreachable node's failure names its BMC.
    let mut reasons = Vec::new();
    let mut pending = vec![task.id];
    while let Some(id) = pending.pop() {
        let current = orchestrator.store().task_get(id).await.expect("task");
        pending.extend(current.subtasks.iter().copied());
        for message in orchestrator.store().result_messages(id).await.expect("messages") {
            if message.error {
                reasons.push(message.message);
            }
        }
    }
    let bmc = format!("127.0.0.1:{dead_port}");
    assert!(reasons.iter().any(|r| r.contains(&bmc)), "a reason names {bmc}: {reasons:?}");
    assert!(!reasons.iter().any(|r| r.contains(external::PASSWORD)), "{reasons:?}");
}
