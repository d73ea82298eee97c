//! `prepare_nodes` through the orchestrator on treasuremap-v1.9's
//! seaworthy-virt site, whose three nodes are libvirt domains: their
//! `libvirt_uri` is rewritten from the site's hypervisor
//! (`qemu+ssh://virtmgr@172.24.1.1/system`, never contacted) to the test
//! hypervisor's fixture, and MaaS is drydock-sim with the site's machines
//! not yet enlisted. A domain powered on with network boot first "PXE
//! boots": the decorator below tells the simulator, which enlists the
//! machine under a MaaS-made hostname, as a real PXE-booted VM would. The
//! MaaS driver finds it by boot MAC, names it and makes MaaS power it by
//! virsh over the node's URI; commissioning ends it Ready.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use drydock_core::compile::compile;
use drydock_core::drivers::libvirt::LibvirtDriver;
use drydock_core::drivers::maas::{MaasConfig, MaasDriver};
use drydock_core::drivers::{BootDevice, DriverError, NodeDriver, OobDriver, OobRegistry, OobTarget, PowerAction, PowerState};
use drydock_core::ids::{DesignRef, Secret};
use drydock_core::ingest::source::DefaultSource;
use drydock_core::ingest::{EnvelopeMode, Ingester};
use drydock_core::lab::{LabOptions, lab_scenario};
use drydock_core::orchestrator::{Dependencies, Orchestrator, OrchestratorConfig};
use drydock_core::store::memory::MemoryStore;
use drydock_core::task::{Action, ActionResult, TaskStatus};
use drydock_sim::SimLab;
use serde_json::json;

use crate::common::messages;
use crate::support::{fixture_uri, lab_driver, target};

const NODES: [&str; 3] = ["n1", "n2", "n3"];
const SITE_HYPERVISOR: &str = "qemu+ssh://virtmgr@172.24.1.1/system";

/// The libvirt driver, telling the simulated MaaS when a domain starts with
/// network boot first (its PXE boot), and recording the power actions.
struct PxeBoots {
    inner: Arc<LibvirtDriver>,
    control_url: String,
    http: reqwest::Client,
    actions: Mutex<Vec<String>>,
}

#[async_trait]
impl OobDriver for PxeBoots {
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
        self.actions.lock().expect("lock").push(format!("{action:?} {}", target.node));
        self.inner.power_action(target, action).await?;
        let network_first = self.inner.boot_order(target).await?.first().is_some_and(|device| device == "network");
        if matches!(action, PowerAction::On | PowerAction::Cycle) && network_first {
            let url = format!("{}/bmcs/{}-bmc/power", self.control_url, target.node);
            let reply = self.http.put(url).json(&json!({"power": "On", "pxe": true})).send().await.expect("simulator");
            assert!(reply.status().is_success(), "the simulator took the boot");
        }
        Ok(())
    }
    async fn set_boot_device(&self, target: &OobTarget, device: BootDevice, persistent: bool) -> Result<(), DriverError> {
        self.inner.set_boot_device(target, device, persistent).await
    }
}

/// seaworthy-virt with every node on the fixture hypervisor.
fn site_text() -> String {
    // `shared/` beside the repository (override with `DRYDOCK_SHARED`).
    let shared = match std::env::var_os("DRYDOCK_SHARED") {
        Some(shared) => std::path::PathBuf::from(shared),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    };
    let path = shared.join("corpus/treasuremap-v1.9/rendered/seaworthy-virt.drydock.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(text.matches(SITE_HYPERVISOR).count(), 3, "the site names its hypervisor in its three host profiles");
    text.replace(SITE_HYPERVISOR, &fixture_uri())
}

fn orchestrator(lab: &SimLab, oob: Arc<dyn OobDriver>, libvirt_test_uris: bool) -> Orchestrator {
    let maas = MaasDriver::new(MaasConfig::new(lab.maas_url(), Secret::new(lab.api_key()))).expect("maas driver");
    let config = OrchestratorConfig {
        power_poll: Duration::from_millis(100),
        status_poll: Duration::from_millis(100),
        poll_interval: Duration::from_millis(50),
        drydock_timeout: Duration::from_secs(60),
        identify_node: Duration::from_secs(30),
        configure_hardware: Duration::from_secs(30),
        libvirt_test_uris,
        ..OrchestratorConfig::default()
    };
    Orchestrator::new(
        Dependencies {
            store: Arc::new(MemoryStore::new()),
            source: Arc::new(DefaultSource::default()),
            node_driver: Some(Arc::new(maas) as Arc<dyn NodeDriver>),
            oob: OobRegistry::new(vec![oob]),
            kubernetes: None,
        },
        config,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_nodes_on_seaworthy_virt_powers_its_domains_through_the_test_hypervisor() {
    let text = site_text();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("seaworthy-virt.yaml");
    std::fs::write(&path, &text).expect("write site");
    let design = DesignRef(format!("file://{}", path.display()));

    // The lab: MaaS knows none of the nodes; each enlists when it PXE boots,
    // under a name MaaS made up.
    let ingester = Ingester { envelope: EnvelopeMode::Deckhand, ..Ingester::default() };
    let site = compile(ingester.ingest_str(&text, Some("seaworthy-virt")).expect("ingests").design).expect("compiles");
    let mut scenario = lab_scenario(&site, &LabOptions::default());
    for (index, bmc) in scenario["bmcs"].as_array_mut().expect("bmcs").iter_mut().enumerate() {
        bmc["enlist"]["hostname"] = json!(format!("enlisted-{index}"));
    }
    let lab = SimLab::start(serde_json::from_value(scenario).expect("scenario")).await.expect("lab");

    let libvirt = Arc::new(lab_driver(Duration::from_secs(10)));
    let oob = Arc::new(PxeBoots {
        inner: libvirt.clone(),
        control_url: lab.control_url(),
        http: reqwest::Client::new(),
        actions: Mutex::default(),
    });

    // Without the lab switch the design's test URIs fail validation (DD4002)
    // and nothing is powered.
    let strict = orchestrator(&lab, oob.clone(), false);
    let task = strict.submit(Action::PrepareNodes, design.clone(), None, None).await.expect("submit");
    let task = strict.execute(task.id).await.expect("execute");
    assert_eq!(task.result.status, ActionResult::Failure);
    let said = messages(strict.store(), &task).await;
    assert!(said.iter().any(|m| m.contains("libvirt_uri has invalid scheme")), "{said:#?}");
    assert!(oob.actions.lock().expect("lock").is_empty());

    // With it: prepare_site (the networks and DNS domains the machines are
    // named into), then prepare_nodes boots every node from the network and
    // commissions it.
    let orchestrator = orchestrator(&lab, oob.clone(), true);
    let task = orchestrator.submit(Action::PrepareSite, design.clone(), None, None).await.expect("submit");
    let task = orchestrator.execute(task.id).await.expect("execute");
    assert_eq!(task.result.status, ActionResult::Success, "{:#?}", messages(orchestrator.store(), &task).await);
    assert!(oob.actions.lock().expect("lock").is_empty(), "prepare_site leaves the nodes alone");
    let task = orchestrator.submit(Action::PrepareNodes, design, None, None).await.expect("submit");
    let task = tokio::time::timeout(Duration::from_secs(120), orchestrator.execute(task.id)).await.expect("in time").expect("execute");
    let said = messages(orchestrator.store(), &task).await;
    assert_eq!(task.status, TaskStatus::Complete);
    assert_eq!(task.result.status, ActionResult::Success, "{said:#?}");
    let mut succeeded = task.result.successes.clone();
    succeeded.sort();
    assert_eq!(succeeded, NODES);

    // The hypervisor (the driver's connection holds its state): every
    // domain runs, network boot first; only n2, running before, was stopped.
    let uri = fixture_uri();
    for node in NODES {
        assert_eq!(libvirt.power_state(&target(node, &uri)).await.expect("power"), PowerState::On, "{node}");
        assert_eq!(libvirt.boot_order(&target(node, &uri)).await.expect("boot"), ["network", "hd"], "{node}");
    }
    let actions = oob.actions.lock().expect("lock").clone();
    assert_eq!(actions.iter().filter(|a| a.starts_with("HardOff")).collect::<Vec<_>>(), ["HardOff n2"], "{actions:?}");
    assert_eq!(actions.iter().filter(|a| a.starts_with("On")).count(), 3, "{actions:?}");

    // MaaS: each machine found by boot MAC, named after its node, powered by
    // virsh over the node's URI with the node's name as domain, and Ready.
    let requests = lab.requests();
    for node in NODES {
        let sid = lab.system_id_of(node).unwrap_or_else(|| panic!("{node} is named in MaaS"));
        assert_eq!(lab.machine_status(&sid).as_deref(), Some("Ready"), "{node}");
        let virsh = requests.iter().find(|r| {
            r.method == "PUT" && r.path.ends_with(&format!("/machines/{sid}/")) && r.form.get("power_type").is_some_and(|v| v == &["virsh"])
        });
        let virsh = virsh.unwrap_or_else(|| panic!("{node}: no virsh power parameters sent"));
        assert_eq!(virsh.form.get("power_parameters_power_address"), Some(&vec![uri.clone()]), "{node}");
        assert_eq!(virsh.form.get("power_parameters_power_id"), Some(&vec![node.to_owned()]), "{node}");
    }
    assert!(!requests.iter().any(|r| format!("{r:?}").contains("qemu+ssh")), "the site's own hypervisor URI is gone");
}
