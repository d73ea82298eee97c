//! End to end through the orchestrator: prepare_site, prepare_nodes,
//! deploy_nodes and destroy_nodes over a 50-node generated site against the
//! MaaS emulator in Auto mode, with a 5xx burst, fabrics that vanish for a
//! while, one machine stuck deploying and one whose commissioning fails.
//! Every task ends with the right per-node results and reasons, and no
//! machine is ever worked on by two calls at once.

use std::sync::Arc;
use std::time::Duration;

use drydock_core::drivers::{NodeDriver, OobRegistry};
use drydock_core::ids::DesignRef;
use drydock_core::ingest::source::DefaultSource;
use drydock_core::lab::{LabOptions, lab_scenario};
use drydock_core::orchestrator::{Dependencies, Orchestrator, OrchestratorConfig};
use drydock_core::store::StateStore;
use drydock_core::store::memory::MemoryStore;
use drydock_core::task::{Action, ActionResult, Task};
use drydock_sim::{FaultSpec, SimLab};
use serde_json::json;

use super::common::messages;
use super::exclusive::Exclusive;
use super::support::{driver, generated_text, site_from};

const STUCK: usize = 7;
const BROKEN: usize = 5;

fn fault(value: serde_json::Value) -> FaultSpec {
    serde_json::from_value(value).expect("fault")
}

async fn run(orchestrator: &Orchestrator, design: &DesignRef, action: Action) -> Task {
    let task = orchestrator.submit(action, design.clone(), None, Some("e2e".into())).await.expect("submit");
    orchestrator.execute(task.id).await.expect("execute")
}

/// Nodes "report" their boot actions as they come up.
fn report_boot_actions(store: Arc<dyn StateStore>, nodes: Vec<String>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            for node in &nodes {
                for row in store.bootaction_status_for_node(node).await.unwrap_or_default() {
                    if row.action_status == ActionResult::Incomplete {
                        let _ = store.bootaction_status_update(row.action_id, ActionResult::Success).await;
                    }
                }
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_nodes_with_faults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = generated_text(50, 2);
    let path = dir.path().join("site.yaml");
    std::fs::write(&path, &text).expect("write design");
    let design = DesignRef(format!("file://{}", path.display()));
    let site = site_from(&text, "gen_site");
    let names: Vec<String> = site.nodes().iter().map(|node| node.name().to_owned()).collect();

    let mut scenario = lab_scenario(&site, &LabOptions { enlisted: true, ..LabOptions::default() });
    for machine in scenario["machines"].as_array_mut().expect("machines") {
        machine["status"] = json!("New");
    }
    scenario["machines"][BROKEN]["script"] =
        json!({"commission": ["fail_commissioning", "fail_commissioning", "fail_commissioning", "fail_commissioning"]});
    scenario["machines"][STUCK]["script"] = json!({"deploy": ["hang"]});
    let lab = SimLab::start(serde_json::from_value(scenario).expect("scenario")).await.expect("lab");

    let exclusive = Exclusive::new(driver(&lab) as Arc<dyn NodeDriver>);
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let config = OrchestratorConfig {
        status_poll: Duration::from_millis(100),
        deploy_node: Duration::from_secs(20),
        configure_hardware: Duration::from_secs(30),
        destroy_node: Duration::from_secs(30),
        bootaction_final_status: Duration::from_secs(30),
        ..OrchestratorConfig::default()
    };
    let deps = Dependencies {
        store: store.clone(),
        source: Arc::new(DefaultSource::default()),
        node_driver: Some(exclusive.clone() as Arc<dyn NodeDriver>),
        oob: OobRegistry::new(vec![]),
        kubernetes: None,
    };
    let orchestrator = Orchestrator::new(deps, config);

    // prepare_site through a burst of 503s.
    lab.add_fault(fault(json!({"kind": "status", "status": 503, "times": 3, "path_regex": "subnets/$"}))).expect("fault");
    let site_task = run(&orchestrator, &design, Action::PrepareSite).await;
    assert_eq!(site_task.result.status, ActionResult::Success, "{:#?}", messages(&store, &site_task).await);
    assert!(lab.requests().iter().any(|r| r.fault.is_some() && r.status == 503), "the burst happened");

    // prepare_nodes: every machine is New and known by name; one fails commissioning.
    let prepare = run(&orchestrator, &design, Action::PrepareNodes).await;
    let broken = &names[BROKEN];
    assert_eq!(prepare.result.failures, vec![broken.clone()], "{:#?}", prepare.result);
    assert_eq!(prepare.result.successes.len(), 49);
    assert_eq!(prepare.result.status, ActionResult::PartialSuccess);
    let said = messages(&store, &prepare).await;
    assert!(said.iter().any(|m| m.starts_with(broken.as_str()) && m.contains("commissioning failed")), "{said:#?}");
    for (index, name) in names.iter().enumerate() {
        let sid = lab.system_id_of(name).expect("machine");
        let want = if index == BROKEN { "Failed commissioning" } else { "Ready" };
        assert_eq!(lab.machine_status(&sid).as_deref(), Some(want), "{name}");
    }

    // deploy_nodes while the fabrics vanish for a few reads; one machine hangs deploying.
    lab.add_fault(fault(json!({"kind": "vanish_fabrics", "times": 4}))).expect("fault");
    let reporter = report_boot_actions(store.clone(), names.clone());
    let deploy = run(&orchestrator, &design, Action::DeployNodes).await;
    reporter.abort();
    let stuck = &names[STUCK];
    let mut failures = deploy.result.failures.clone();
    failures.sort();
    let mut expected = vec![broken.clone(), stuck.clone()];
    expected.sort();
    assert_eq!(failures, expected, "{:#?}", messages(&store, &deploy).await);
    assert_eq!(deploy.result.successes.len(), 48, "{:#?}", deploy.result);
    assert!(lab.requests().iter().any(|r| r.fault.as_deref() == Some("vanish_fabrics")), "fabrics vanished");
    let said = messages(&store, &deploy).await;
    assert!(said.iter().any(|m| m.starts_with(stuck.as_str()) && m.contains("deadline") && m.contains("Deploying")), "{said:#?}");
    assert!(said.iter().any(|m| m.starts_with(broken.as_str()) && m.contains("Failed commissioning")), "{said:#?}");
    for (index, name) in names.iter().enumerate() {
        let sid = lab.system_id_of(name).expect("machine");
        let want = match index {
            BROKEN => "Failed commissioning",
            STUCK => "Deploying",
            _ => "Deployed",
        };
        assert_eq!(lab.machine_status(&sid).as_deref(), Some(want), "{name}");
    }

    // destroy_nodes releases everything that was deployed or deploying.
    let destroy = run(&orchestrator, &design, Action::DestroyNodes).await;
    assert_eq!(destroy.result.status, ActionResult::Success, "{:#?}", messages(&store, &destroy).await);
    for (index, name) in names.iter().enumerate() {
        let sid = lab.system_id_of(name).expect("machine");
        let want = if index == BROKEN { "Failed commissioning" } else { "Ready" };
        assert_eq!(lab.machine_status(&sid).as_deref(), Some(want), "{name}");
    }
    assert_eq!(exclusive.overlaps(), 0, "no machine was worked on by two calls at once");
    assert!(exclusive.calls.load(std::sync::atomic::Ordering::SeqCst) > 50 * 8);
}

/// A deploy_nodes resumed after its orchestrator died finds machines the
/// first attempt left `Allocated` (acquired, not yet deployed) and
/// `Deploying`: their configuration steps leave them as they are (MaaS only
/// changes Ready machines) and every node ends deployed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_deployment_carries_on_with_allocated_and_deploying_machines() {
    use drydock_core::drivers::maas::client::{MaasClient, Verb};
    use drydock_core::drivers::maas::form::Form;

    let dir = tempfile::tempdir().expect("tempdir");
    let text = generated_text(4, 1);
    let path = dir.path().join("site.yaml");
    std::fs::write(&path, &text).expect("write design");
    let design = DesignRef(format!("file://{}", path.display()));
    let site = site_from(&text, "gen_site");
    let names: Vec<String> = site.nodes().iter().map(|node| node.name().to_owned()).collect();
    let scenario = lab_scenario(&site, &LabOptions { enlisted: true, phase_ms: 1500, ..LabOptions::default() });
    let lab = SimLab::start(serde_json::from_value(scenario).expect("scenario")).await.expect("lab");
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let config = OrchestratorConfig {
        status_poll: Duration::from_millis(100),
        deploy_node: Duration::from_secs(20),
        bootaction_final_status: Duration::from_secs(20),
        ..OrchestratorConfig::default()
    };
    let deps = Dependencies {
        store: store.clone(),
        source: Arc::new(DefaultSource::default()),
        node_driver: Some(driver(&lab) as Arc<dyn NodeDriver>),
        oob: OobRegistry::new(vec![]),
        kubernetes: None,
    };
    let orchestrator = Orchestrator::new(deps, config);
    assert_eq!(run(&orchestrator, &design, Action::PrepareSite).await.result.status, ActionResult::Success);

    // What the first attempt left behind: one machine acquired, one installing.
    let client = MaasClient::new(&lab.maas_url(), &drydock_core::ids::Secret::new(lab.api_key())).expect("client");
    let allocated = lab.system_id_of(&names[0]).expect("machine");
    let deploying = lab.system_id_of(&names[1]).expect("machine");
    for sid in [&allocated, &deploying] {
        client
            .call("test", Verb::Post, "machines/", Some("allocate"), &[], &Form::new().with("system_id", sid.as_str()))
            .await
            .expect("allocate");
    }
    client.call("test", Verb::Post, &format!("machines/{deploying}/"), Some("deploy"), &[], &Form::new()).await.expect("deploy");
    assert_eq!(lab.machine_status(&allocated).as_deref(), Some("Allocated"));
    assert_eq!(lab.machine_status(&deploying).as_deref(), Some("Deploying"));

    let reporter = report_boot_actions(store.clone(), names.clone());
    let deploy = run(&orchestrator, &design, Action::DeployNodes).await;
    reporter.abort();
    assert_eq!(deploy.result.status, ActionResult::Success, "{:#?}", messages(&store, &deploy).await);
    for name in &names {
        assert_eq!(lab.machine_status(&lab.system_id_of(name).expect("machine")).as_deref(), Some("Deployed"), "{name}");
    }
}
