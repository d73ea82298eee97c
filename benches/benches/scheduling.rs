//! The leader loop's scheduling (issue 17), printing a table: how soon a
//! task submitted to an idle leader starts (default 10 s poll interval), 100
//! queued `validate_design` tasks on `examples/site.yaml` (target: all done
//! within 3 s; one task per poll interval before, ~1,000 s), and 10
//! `deploy_nodes` tasks on the 10 disjoint racks of a 200-node `gen_site.py`
//! design (seed 1) beside one such task (target ≤ 1.5× its wall time; 10×
//! before, one task at a time): against the fake drivers, and against
//! drydock-sim's MaaS with the real MaaS driver.
//!
//! Everything runs in process: memory store, the real leader loop
//! (`Orchestrator::run`), and either the fake drivers with a latency per
//! call or a `drydock_sim::SimLab` on 127.0.0.1 (its MaaS in Auto mode, the
//! machines enlisted and Ready, no OOB driver: only the simulator's loopback
//! address is ever contacted).
//!
//! Run: `cargo bench -p drydock-benches --bench scheduling`

use std::sync::Arc;
use std::time::{Duration, Instant};

use drydock_benches::generated_site_file;
use drydock_core::compile::compile;
use drydock_core::drivers::fake::{FakeNodeDriver, FakeOobDriver, FakeWorld};
use drydock_core::drivers::maas::{MaasConfig, MaasDriver};
use drydock_core::drivers::{MachineStatus, NodeDriver, OobRegistry};
use drydock_core::ids::{DesignRef, Secret, TaskId};
use drydock_core::ingest::Ingester;
use drydock_core::ingest::source::DefaultSource;
use drydock_core::lab::{LabOptions, lab_scenario};
use drydock_core::orchestrator::fanout::FanoutLimits;
use drydock_core::orchestrator::{Dependencies, Orchestrator, OrchestratorConfig};
use drydock_core::store::StateStore;
use drydock_core::store::memory::MemoryStore;
use drydock_core::task::{Action, ActionResult, TaskStatus};
use drydock_sim::SimLab;
use tokio_util::sync::CancellationToken;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn example_ref() -> DesignRef {
    DesignRef(format!("file://{}/../examples/site.yaml", env!("CARGO_MANIFEST_DIR")))
}

/// An orchestrator over a fresh memory store and fake lab, its leader loop
/// running (and leading) when this returns.
async fn leader(world: Arc<FakeWorld>, config: OrchestratorConfig) -> (Orchestrator, CancellationToken, tokio::task::JoinHandle<()>) {
    leader_with(Arc::new(FakeNodeDriver(world.clone())), OobRegistry::new(vec![Arc::new(FakeOobDriver(world))]), config).await
}

/// An orchestrator over a fresh memory store with these drivers, its loop
/// running and picking up tasks when this returns (a first
/// `validate_design` has run through it).
async fn leader_with(
    node_driver: Arc<dyn NodeDriver>,
    oob: OobRegistry,
    config: OrchestratorConfig,
) -> (Orchestrator, CancellationToken, tokio::task::JoinHandle<()>) {
    let orchestrator = Orchestrator::new(
        Dependencies {
            store: Arc::new(MemoryStore::new()),
            source: Arc::new(DefaultSource::default()),
            node_driver: Some(node_driver),
            oob,
            kubernetes: None,
        },
        config,
    );
    let stop = CancellationToken::new();
    let handle = tokio::spawn({
        let orchestrator = orchestrator.clone();
        let stop = stop.clone();
        async move {
            if let Err(error) = orchestrator.run(stop).await {
                eprintln!("leader loop: {error}");
            }
        }
    });
    let first = orchestrator.submit(Action::ValidateDesign, example_ref(), None, None).await.expect("submit");
    wait_all(orchestrator.store(), &[first.id]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    (orchestrator, stop, handle)
}

async fn wait_all(store: &Arc<dyn StateStore>, ids: &[TaskId]) -> Vec<drydock_core::task::Task> {
    loop {
        let tasks = store.task_get_many(ids).await.expect("tasks");
        if tasks.iter().all(|task| task.status.is_finished()) {
            return tasks;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Submit-to-started times of `count` tasks submitted one at a time to an
/// idle leader, sorted.
async fn pickup(count: usize) -> Vec<Duration> {
    let (orchestrator, stop, handle) = leader(FakeWorld::new(), OrchestratorConfig::default()).await;
    let store = orchestrator.store().clone();
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let submitted = Instant::now();
        let task = orchestrator.submit(Action::ValidateDesign, example_ref(), None, None).await.expect("submit");
        loop {
            if store.task_get(task.id).await.expect("task").status != TaskStatus::Queued {
                break;
            }
            tokio::task::yield_now().await;
        }
        times.push(submitted.elapsed());
        wait_all(&store, &[task.id]).await;
    }
    stop.cancel();
    let _ = handle.await;
    times.sort();
    times
}

/// 100 `validate_design` tasks submitted at once: seconds until all are done.
async fn hundred_validations() -> (f64, usize) {
    let (orchestrator, stop, handle) = leader(FakeWorld::new(), OrchestratorConfig::default()).await;
    let store = orchestrator.store().clone();
    let started = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..100 {
        ids.push(orchestrator.submit(Action::ValidateDesign, example_ref(), None, None).await.expect("submit").id);
    }
    let tasks = wait_all(&store, &ids).await;
    let seconds = started.elapsed().as_secs_f64();
    stop.cancel();
    let _ = handle.await;
    (seconds, tasks.iter().filter(|task| task.result.status == ActionResult::Success).count())
}

/// One `deploy_nodes` task per entry of `tasks` (the racks it selects),
/// submitted at once: seconds until all are done, and the nodes deployed.
async fn deploy_tasks(orchestrator: &Orchestrator, design: &DesignRef, tasks: &[Vec<usize>]) -> (f64, usize) {
    let store = orchestrator.store().clone();
    let started = Instant::now();
    let mut ids = Vec::new();
    for racks in tasks {
        let racks: Vec<String> = racks.iter().map(|rack| format!("rack{rack:02}")).collect();
        let filter = serde_json::json!({
            "filter_set_type": "union",
            "filter_set": [{"filter_type": "union", "rack_names": racks}],
        });
        ids.push(orchestrator.submit(Action::DeployNodes, design.clone(), Some(filter), None).await.expect("submit").id);
    }
    let done = wait_all(&store, &ids).await;
    let seconds = started.elapsed().as_secs_f64();
    let mut deployed = 0;
    for task in &done {
        let steps = store.task_get_many(&task.subtasks).await.expect("steps");
        deployed += steps.iter().find(|step| step.action == Action::DeployNode).map(|step| step.result.successes.len()).unwrap_or(0);
    }
    (seconds, deployed)
}

/// [`deploy_tasks`] with the fake drivers, every call taking `latency`.
async fn deploy_fake(design: &DesignRef, names: &[String], tasks: &[Vec<usize>], latency: Duration, limits: FanoutLimits) -> (f64, usize) {
    let world = FakeWorld::new();
    *world.record.lock().expect("lock") = false;
    *world.latency.lock().expect("lock") = latency;
    for name in names {
        world.enlist(name, MachineStatus::Ready);
    }
    let config = OrchestratorConfig {
        status_poll: latency.max(Duration::from_millis(1)),
        bootaction_final_status: Duration::ZERO,
        limits,
        ..OrchestratorConfig::default()
    };
    let (orchestrator, stop, handle) = leader(world, config).await;
    let result = deploy_tasks(&orchestrator, design, tasks).await;
    stop.cancel();
    let _ = handle.await;
    result
}

/// [`deploy_tasks`] with the real MaaS driver against a fresh drydock-sim
/// lab on 127.0.0.1 whose machines of `site` are enlisted and Ready and
/// take `deploy_ms` to deploy (status polled every `status_poll`), after an
/// untimed `prepare_site`. No OOB driver: deploy_nodes needs none, and the
/// design's BMC addresses are never contacted.
async fn deploy_sim(site: &str, design: &DesignRef, tasks: &[Vec<usize>], deploy_ms: u64, status_poll: Duration) -> (f64, usize) {
    let compiled = compile(Ingester::new().ingest_str(site, Some("bench")).expect("ingests").design).expect("compiles");
    let scenario = lab_scenario(&compiled, &LabOptions { enlisted: true, phase_ms: deploy_ms, ..LabOptions::default() });
    let lab = SimLab::start(serde_json::from_value(scenario).expect("scenario")).await.expect("lab");
    assert!(lab.maas_url().starts_with("http://127.0.0.1:"), "the simulator listens on loopback: {}", lab.maas_url());
    let driver = MaasDriver::new(MaasConfig::new(lab.maas_url(), Secret::new(lab.api_key()))).expect("driver");
    let config = OrchestratorConfig { status_poll, bootaction_final_status: Duration::ZERO, ..OrchestratorConfig::default() };
    let (orchestrator, stop, handle) = leader_with(Arc::new(driver), OobRegistry::new(vec![]), config).await;
    let prepare = orchestrator.submit(Action::PrepareSite, design.clone(), None, None).await.expect("submit");
    let prepared = wait_all(orchestrator.store(), &[prepare.id]).await;
    assert_eq!(prepared[0].result.status, ActionResult::Success, "prepare_site");
    let result = deploy_tasks(&orchestrator, design, tasks).await;
    stop.cancel();
    let _ = handle.await;
    result
}

/// One row of the table.
fn row(scenario: &str, measured: String, target: &str, before: String) {
    println!("{scenario:<66} {measured:>12} {target:>14} {before:>22}");
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    row("scenario", "measured".into(), "target", "before (one at a time)".into());

    let times = runtime.block_on(pickup(100));
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    row("pickup on an idle leader, 10 s poll, p50 (100 tasks)", format!("{:.2} ms", at(0.5).as_secs_f64() * 1e3), "", "up to 10 s".into());
    row(
        "pickup on an idle leader, 10 s poll, p99 (100 tasks)",
        format!("{:.2} ms", at(0.99).as_secs_f64() * 1e3),
        "≤ 50 ms",
        "up to 10 s".into(),
    );

    let (seconds, succeeded) = runtime.block_on(hundred_validations());
    assert_eq!(succeeded, 100, "every validation succeeds");
    row("100 validate_design, examples/site.yaml", format!("{seconds:.2} s"), "≤ 3 s", "~1,000 s".into());

    let site = generated_site_file(200, 10, 1);
    let (path, names) = (&site.path, &site.nodes);
    let design = DesignRef(format!("file://{}", path.display()));
    let one_rack = vec![vec![1]];
    let ten_tasks: Vec<Vec<usize>> = (1..=10).map(|rack| vec![rack]).collect();
    let one_task_of_ten = vec![(1..=10).collect::<Vec<usize>>()];

    // Fake drivers, 50 ms per call: per-task fan-out of 64 (the default),
    // with calls in flight per endpoint raised out of the way, then with
    // every limit at its default (16 calls in flight to the provisioner,
    // which each call keeps busy for 50 ms).
    let latency = Duration::from_millis(50);
    let fake_runs = [
        (
            "fan-out 64 per task, 256 calls in flight per endpoint",
            FanoutLimits { endpoint_calls: 256, ..FanoutLimits::default() },
            "≤ 1.5x",
        ),
        ("default limits (16 calls in flight per endpoint)", FanoutLimits::default(), ""),
    ];
    for (label, limits, target) in fake_runs {
        let (one, one_deployed) = runtime.block_on(deploy_fake(&design, names, &one_rack, latency, limits));
        let (ten, ten_deployed) = runtime.block_on(deploy_fake(&design, names, &ten_tasks, latency, limits));
        assert_eq!((one_deployed, ten_deployed), (20, 200), "every node of the racks deployed");
        row(&format!("fake drivers, 50 ms calls, {label}:"), String::new(), "", String::new());
        row("  deploy_nodes, 1 rack of 20", format!("{one:.2} s"), "", String::new());
        row("  deploy_nodes, 10 racks of 20 as 10 tasks at once", format!("{ten:.2} s"), "", format!("~{:.1} s", one * 10.0));
        row("  ten / one", format!("{:.2}x", ten / one), target, "~10x".into());
    }

    // drydock-sim's MaaS through the real MaaS driver, default limits.
    let text = std::fs::read_to_string(path).expect("site");
    let sim_runs = [
        ("deploys take 10 s, status polled every 1 s", 10_000, Duration::from_secs(1), "≤ 1.5x"),
        ("deploys instant, status polled every 50 ms", 0, Duration::from_millis(50), ""),
    ];
    for (label, deploy_ms, poll, target) in sim_runs {
        let (one, one_deployed) = runtime.block_on(deploy_sim(&text, &design, &one_rack, deploy_ms, poll));
        let (ten, ten_deployed) = runtime.block_on(deploy_sim(&text, &design, &ten_tasks, deploy_ms, poll));
        assert_eq!((one_deployed, ten_deployed), (20, 200), "every node of the racks deployed");
        row(&format!("drydock-sim MaaS, {label}:"), String::new(), "", String::new());
        row("  deploy_nodes, 1 rack of 20", format!("{one:.2} s"), "", String::new());
        row("  deploy_nodes, 10 racks of 20 as 10 tasks at once", format!("{ten:.2} s"), "", format!("~{:.1} s", one * 10.0));
        row("  ten / one", format!("{:.2}x", ten / one), target, "~10x".into());
        if deploy_ms > 0 {
            // What the 10 tasks got before steps were budgeted per task: one
            // budget of 64 steps for all 200 nodes.
            let (shared, shared_deployed) = runtime.block_on(deploy_sim(&text, &design, &one_task_of_ten, deploy_ms, poll));
            assert_eq!(shared_deployed, 200, "every node deployed");
            row("  10 racks in one task (one budget of 64 steps, as shared before)", format!("{shared:.2} s"), "", String::new());
            row("  that / one", format!("{:.2}x", shared / one), "", String::new());
        }
    }
}
