//! deploy_nodes (identify through deploy) for 1,000 nodes of a generated site
//! against drydock-sim's MaaS in Auto mode with zero phase durations, over
//! real HTTP on loopback, printing a table (issue 7; target ≤ 60 s). Also
//! reports MaaS requests per node and in total. prepare_site runs first and
//! is not timed.
//!
//! Run: `cargo bench -p drydock-benches --bench maas`

use std::sync::Arc;
use std::time::{Duration, Instant};

use drydock_benches::{generated_site, peak_mib};
use drydock_core::compile::compile;
use drydock_core::drivers::maas::{MaasConfig, MaasDriver};
use drydock_core::drivers::{NodeDriver, OobRegistry};
use drydock_core::ids::{DesignRef, Secret};
use drydock_core::ingest::Ingester;
use drydock_core::ingest::source::DefaultSource;
use drydock_core::lab::{LabOptions, lab_scenario};
use drydock_core::orchestrator::{Dependencies, Orchestrator, OrchestratorConfig};
use drydock_core::store::memory::MemoryStore;
use drydock_core::task::{Action, ActionResult};
use drydock_sim::SimLab;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn deploy(nodes: usize) -> (f64, usize, usize) {
    let text = generated_site(nodes, nodes / 40, 42);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("site.yaml");
    std::fs::write(&path, &text).expect("write site");
    let site = compile(Ingester::new().ingest_str(&text, Some("bench")).expect("ingests").design).expect("compiles");
    let scenario = lab_scenario(&site, &LabOptions { enlisted: true, phase_ms: 0, ..LabOptions::default() });
    let lab = SimLab::start(serde_json::from_value(scenario).expect("scenario")).await.expect("lab");
    let driver = MaasDriver::new(MaasConfig::new(lab.maas_url(), Secret::new(lab.api_key()))).expect("driver");
    let config = OrchestratorConfig {
        status_poll: Duration::from_millis(50),
        poll_interval: Duration::from_millis(10),
        bootaction_final_status: Duration::ZERO,
        ..OrchestratorConfig::default()
    };
    let orchestrator = Orchestrator::new(
        Dependencies {
            store: Arc::new(MemoryStore::new()),
            source: Arc::new(DefaultSource::default()),
            node_driver: Some(Arc::new(driver) as Arc<dyn NodeDriver>),
            oob: OobRegistry::new(vec![]),
            kubernetes: None,
        },
        config,
    );
    let design = DesignRef(format!("file://{}", path.display()));
    let prepare = orchestrator.submit(Action::PrepareSite, design.clone(), None, None).await.expect("submit");
    let prepared = orchestrator.execute(prepare.id).await.expect("prepare_site");
    assert_eq!(prepared.result.status, ActionResult::Success, "prepare_site");
    lab.clear_requests();
    let task = orchestrator.submit(Action::DeployNodes, design, None, None).await.expect("submit");
    let started = Instant::now();
    let done = orchestrator.execute(task.id).await.expect("execute");
    let seconds = started.elapsed().as_secs_f64();
    let steps = orchestrator.store().task_get_many(&done.subtasks).await.expect("steps");
    let deployed = steps.iter().find(|t| t.action == Action::DeployNode).map(|t| t.result.successes.len()).unwrap_or(0);
    let requests = lab.requests().iter().filter(|record| record.service == "maas").count();
    if std::env::var_os("DRYDOCK_BENCH_STEPS").is_some() {
        for step in &steps {
            let took = step.updated.map(|end| (end - step.created).num_milliseconds()).unwrap_or(-1);
            eprintln!("  {:<24} {:>8} ms  {:?}", step.action.as_str(), took, step.result.status);
        }
    }
    (seconds, deployed, requests)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!("{:>8} {:>10} {:>10} {:>14} {:>14} {:>10}", "nodes", "seconds", "deployed", "requests", "requests/node", "peak MiB");
    for nodes in [100, 1_000] {
        let (seconds, deployed, requests) = runtime.block_on(deploy(nodes));
        assert_eq!(deployed, nodes, "every node deployed");
        println!(
            "{:>8} {:>10.2} {:>10} {:>14} {:>14.1} {:>10}",
            nodes,
            seconds,
            deployed,
            requests,
            requests as f64 / nodes as f64,
            peak_mib()
        );
    }
}
