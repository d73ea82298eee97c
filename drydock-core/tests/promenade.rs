//! `relabel_nodes` end to end: the orchestrator, the Promenade driver and
//! drydock-sim's Promenade (real HTTP on loopback) on the example site
//! (`examples/site.yaml`). Each node's labels are its `owner_data`; the
//! simulator's cluster holds the deployed machines. One node's calls the
//! simulator refuses (403), one machine is not in the cluster (404), one
//! call fails once (503, retried): the task ends `partial_success` with the
//! two nodes failed and named in their messages, the others labelled.

use std::collections::BTreeMap;
use std::sync::Arc;

use drydock_core::compile::{EffectiveSite, compile};
use drydock_core::drivers::promenade::{PromenadeConfig, PromenadeDriver, StaticToken};
use drydock_core::drivers::{KubernetesDriver, OobRegistry};
use drydock_core::ids::{DesignRef, Secret};
use drydock_core::ingest::Ingester;
use drydock_core::ingest::source::DefaultSource;
use drydock_core::lab::{LabOptions, lab_scenario};
use drydock_core::orchestrator::{Dependencies, Orchestrator, OrchestratorConfig};
use drydock_core::store::StateStore;
use drydock_core::store::memory::MemoryStore;
use drydock_core::task::{Action, ActionResult, Task};
use drydock_sim::{FaultSpec, SimLab};
use serde_json::json;

mod common;
use common::messages;

const TOKEN: &str = "promenade-service-token";

fn example() -> (DesignRef, EffectiveSite) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/site.yaml").canonicalize().expect("example site");
    let text = std::fs::read_to_string(&path).expect("read example site");
    let ingested = Ingester::new().ingest_str(&text, Some("site.yaml")).expect("design parses");
    (DesignRef(format!("file://{}", path.display())), compile(ingested.design).expect("design compiles"))
}

/// A lab matching the site whose machines are deployed (so they are
/// Kubernetes nodes), except `not_deployed`.
async fn lab(site: &EffectiveSite, not_deployed: &[&str]) -> SimLab {
    let mut scenario = lab_scenario(site, &LabOptions { enlisted: true, ..LabOptions::default() });
    for machine in scenario["machines"].as_array_mut().expect("machines") {
        let ready = not_deployed.contains(&machine["hostname"].as_str().unwrap_or(""));
        machine["status"] = json!(if ready { "Ready" } else { "Deployed" });
    }
    scenario["promenade"] = json!({"tokens": [TOKEN]});
    SimLab::start(serde_json::from_value(scenario).expect("scenario")).await.expect("lab")
}

fn orchestrator(lab: &SimLab, token: &str) -> (Orchestrator, Arc<dyn StateStore>) {
    let config = PromenadeConfig { url: Some(lab.promenade_url()), ..PromenadeConfig::default() };
    let driver = PromenadeDriver::new(config, Some(Arc::new(StaticToken(Secret::new(token))))).expect("driver");
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let deps = Dependencies {
        store: store.clone(),
        source: Arc::new(DefaultSource::default()),
        node_driver: None,
        oob: OobRegistry::new(vec![]),
        kubernetes: Some(Arc::new(driver) as Arc<dyn KubernetesDriver>),
    };
    (Orchestrator::new(deps, OrchestratorConfig::default()), store)
}

async fn relabel(orchestrator: &Orchestrator, design: &DesignRef) -> Task {
    let task = orchestrator.submit(Action::RelabelNodes, design.clone(), None, Some("test".into())).await.expect("submit");
    orchestrator.execute(task.id).await.expect("execute")
}

fn kubelet_labels(node: &str) -> BTreeMap<String, String> {
    [("kubernetes.io/arch", "amd64"), ("kubernetes.io/hostname", node), ("kubernetes.io/os", "linux")]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

fn fault(lab: &SimLab, spec: serde_json::Value) {
    lab.add_fault(serde_json::from_value::<FaultSpec>(spec).expect("fault")).expect("add fault");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relabel_nodes_on_the_example_site_with_failures() {
    let (design, site) = example();
    let names: Vec<String> = site.nodes().iter().map(|node| node.name().to_owned()).collect();
    assert_eq!(names.len(), 6, "{names:?}");
    let (forbidden, absent, flaky) = (names[1].clone(), names[4].clone(), names[2].clone());
    let lab = lab(&site, &[&absent]).await;
    fault(&lab, json!({"status": 403, "path_regex": format!("/node-labels/{forbidden}$"), "body": "Credentials do not permit access"}));
    fault(&lab, json!({"status": 503, "times": 1, "path_regex": format!("/node-labels/{flaky}$")}));
    let (orchestrator, store) = orchestrator(&lab, TOKEN);

    let task = relabel(&orchestrator, &design).await;
    let said = messages(&store, &task).await;
    assert_eq!(task.result.status, ActionResult::PartialSuccess, "{said:#?}");
    let mut failures = task.result.failures.clone();
    failures.sort();
    let mut want_failures = vec![forbidden.clone(), absent.clone()];
    want_failures.sort();
    assert_eq!(failures, want_failures, "{said:#?}");
    let mut successes = task.result.successes.clone();
    successes.sort();
    let mut want_successes: Vec<String> = names.iter().filter(|name| !want_failures.contains(name)).cloned().collect();
    want_successes.sort();
    assert_eq!(successes, want_successes);

    // The failed nodes' messages name them and say what Promenade answered.
    let about = |node: &str, needle: &str| said.iter().any(|line| line.starts_with(&format!("{node}: ")) && line.contains(needle));
    assert!(about(&forbidden, &format!("relabel on {forbidden} failed: Promenade forbids relabelling")), "{said:#?}");
    assert!(about(&forbidden, "HTTP 403"), "{said:#?}");
    assert!(about(&absent, &format!("relabel on {absent} failed: Promenade answered HTTP 404")), "{said:#?}");
    assert!(about(&absent, "Node not found"), "{said:#?}");
    assert!(!said.iter().any(|line| line.contains(TOKEN)), "the token is in no message");

    // What the simulator's cluster holds: each labelled node's owner_data
    // besides its kubelet's labels; the refused node untouched.
    for node in site.nodes() {
        let name = node.name();
        let mut want = kubelet_labels(name);
        if want_successes.iter().any(|success| success == name) {
            assert!(!node.config.owner_data.is_empty(), "{name} has labels to set");
            want.extend(node.config.owner_data.iter().map(|(key, value)| (key.clone(), value.clone())));
        }
        if *name == absent {
            assert_eq!(lab.node_labels(name), None, "{name} is not a Kubernetes node");
        } else {
            assert_eq!(lab.node_labels(name), Some(want), "{name}");
        }
    }
    let owner_data = &site.node(&names[0]).expect("node").config.owner_data;
    assert_eq!(owner_data.get("site").map(String::as_str), Some("synth7"), "profile owner_data is inherited: {owner_data:?}");

    // One PUT per node, the 503 retried once, every one with the token; the
    // refused node not retried.
    let requests: Vec<_> = lab.requests().into_iter().filter(|record| record.service == "promenade").collect();
    assert_eq!(requests.len(), names.len() + 1, "{requests:#?}");
    assert!(requests.iter().all(|record| record.method == "PUT"), "{requests:#?}");
    assert!(requests.iter().filter(|record| record.fault.is_none()).all(|record| record.auth == "ok"), "{requests:#?}");
    assert_eq!(requests.iter().filter(|record| record.fault.is_some()).count(), 2, "the 403 and the one 503");
    assert_eq!(requests.iter().filter(|record| record.path.ends_with(&format!("/{flaky}"))).count(), 2);
    assert_eq!(requests.iter().filter(|record| record.path.ends_with(&format!("/{forbidden}"))).count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_promenade_refuses_fails_every_node() {
    let (design, site) = example();
    let lab = lab(&site, &[]).await;
    let (orchestrator, store) = orchestrator(&lab, "not-the-token");
    let task = relabel(&orchestrator, &design).await;
    let said = messages(&store, &task).await;
    assert_eq!(task.result.status, ActionResult::Failure, "{said:#?}");
    assert_eq!(task.result.failures.len(), 6);
    assert!(task.result.successes.is_empty());
    for node in site.nodes() {
        let name = node.name();
        assert!(said.iter().any(|line| line.starts_with(&format!("{name}: ")) && line.contains("HTTP 401")), "{name}: {said:#?}");
        assert_eq!(lab.node_labels(name), Some(kubelet_labels(name)), "{name} untouched");
    }
    assert!(!said.iter().any(|line| line.contains("not-the-token")), "the token is in no message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_relabelled() {
    let (design, site) = example();
    let lab = lab(&site, &[]).await;
    let (orchestrator, store) = orchestrator(&lab, TOKEN);
    let task = relabel(&orchestrator, &design).await;
    assert_eq!(task.result.status, ActionResult::Success, "{:#?}", messages(&store, &task).await);
    assert_eq!(task.result.successes.len(), 6);
    for node in site.nodes() {
        let labels = lab.node_labels(node.name()).expect("node");
        for (key, value) in &node.config.owner_data {
            assert_eq!(labels.get(key), Some(value), "{}: {key}", node.name());
        }
    }
}
