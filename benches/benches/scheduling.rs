//! The leader loop's scheduling (issue 17), printing a table: how soon a
//! task submitted to an idle leader starts (default 10 s poll interval), 100
//! queued `validate_design` tasks on `examples/site.yaml` (target: all done
//! within 3 s; one task per poll interval before, ~1,000 s), and 10
//! `deploy_nodes` tasks on the 10 disjoint racks of a 200-node `gen_site.py`
//! design (seed 1) against the fake drivers, beside one such task (target
//! ≤ 1.5× its wall time; 10× before, one task at a time).
//!
//! Everything runs in process: memory store, fake drivers with a latency
//! per call, the real leader loop (`Orchestrator::run`).
//!
//! Run: `cargo bench -p drydock-benches --bench scheduling`

use std::sync::Arc;
use std::time::{Duration, Instant};

use drydock_benches::generated_site_file;
use drydock_core::drivers::fake::{FakeNodeDriver, FakeOobDriver, FakeWorld};
use drydock_core::drivers::{MachineStatus, OobRegistry};
use drydock_core::ids::{DesignRef, TaskId};
use drydock_core::ingest::source::DefaultSource;
use drydock_core::orchestrator::fanout::FanoutLimits;
use drydock_core::orchestrator::{Dependencies, Orchestrator, OrchestratorConfig};
use drydock_core::store::StateStore;
use drydock_core::store::memory::MemoryStore;
use drydock_core::task::{Action, ActionResult, TaskStatus};
use tokio_util::sync::CancellationToken;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn example_ref() -> DesignRef {
    DesignRef(format!("file://{}/../examples/site.yaml", env!("CARGO_MANIFEST_DIR")))
}

/// An orchestrator over a fresh memory store and fake lab, its leader loop
/// running (and leading) when this returns.
async fn leader(world: Arc<FakeWorld>, config: OrchestratorConfig) -> (Orchestrator, CancellationToken, tokio::task::JoinHandle<()>) {
    let orchestrator = Orchestrator::new(
        Dependencies {
            store: Arc::new(MemoryStore::new()),
            source: Arc::new(DefaultSource::default()),
            node_driver: Some(Arc::new(FakeNodeDriver(world.clone()))),
            oob: OobRegistry::new(vec![Arc::new(FakeOobDriver(world))]),
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
    while orchestrator.store().leader_current().await.expect("lease").map(|lease| lease.holder) != Some(orchestrator.instance) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
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

/// `deploy_nodes` of `racks` (one task per rack) of the 200-node site:
/// seconds until all are done, and the nodes deployed.
async fn deploy_racks(design: &DesignRef, names: &[String], racks: &[usize], latency: Duration, site_wide: usize) -> (f64, usize) {
    let world = FakeWorld::new();
    *world.record.lock().expect("lock") = false;
    *world.latency.lock().expect("lock") = latency;
    for name in names {
        world.enlist(name, MachineStatus::Ready);
    }
    let config = OrchestratorConfig {
        status_poll: latency.max(Duration::from_millis(1)),
        bootaction_final_status: Duration::ZERO,
        limits: FanoutLimits { site_wide, per_endpoint: site_wide },
        ..OrchestratorConfig::default()
    };
    let (orchestrator, stop, handle) = leader(world, config).await;
    let store = orchestrator.store().clone();
    let started = Instant::now();
    let mut ids = Vec::new();
    for rack in racks {
        let filter = serde_json::json!({
            "filter_set_type": "union",
            "filter_set": [{"filter_type": "union", "rack_names": [format!("rack{rack:02}")]}],
        });
        ids.push(orchestrator.submit(Action::DeployNodes, design.clone(), Some(filter), None).await.expect("submit").id);
    }
    let tasks = wait_all(&store, &ids).await;
    let seconds = started.elapsed().as_secs_f64();
    let mut deployed = 0;
    for task in &tasks {
        let steps = store.task_get_many(&task.subtasks).await.expect("steps");
        deployed += steps.iter().find(|step| step.action == Action::DeployNode).map(|step| step.result.successes.len()).unwrap_or(0);
    }
    stop.cancel();
    let _ = handle.await;
    (seconds, deployed)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!("{:<58} {:>12} {:>14} {:>22}", "scenario", "measured", "target", "before (one at a time)");

    let times = runtime.block_on(pickup(100));
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "{:<58} {:>12} {:>14} {:>22}",
        "pickup on an idle leader, 10 s poll, p50 (100 tasks)",
        format!("{:.2} ms", at(0.5).as_secs_f64() * 1e3),
        "",
        "up to 10 s"
    );
    println!(
        "{:<58} {:>12} {:>14} {:>22}",
        "pickup on an idle leader, 10 s poll, p99 (100 tasks)",
        format!("{:.2} ms", at(0.99).as_secs_f64() * 1e3),
        "≤ 50 ms",
        "up to 10 s"
    );

    let (seconds, succeeded) = runtime.block_on(hundred_validations());
    assert_eq!(succeeded, 100, "every validation succeeds");
    println!("{:<58} {:>12} {:>14} {:>22}", "100 validate_design, examples/site.yaml", format!("{seconds:.2} s"), "≤ 3 s", "~1,000 s");

    let site = generated_site_file(200, 10, 1);
    let (path, names) = (&site.path, &site.nodes);
    let design = DesignRef(format!("file://{}", path.display()));
    let latency = Duration::from_millis(50);
    let all: Vec<usize> = (1..=10).collect();
    for site_wide in [256, 64] {
        let (one, one_deployed) = runtime.block_on(deploy_racks(&design, names, &[1], latency, site_wide));
        let (ten, ten_deployed) = runtime.block_on(deploy_racks(&design, names, &all, latency, site_wide));
        assert_eq!((one_deployed, ten_deployed), (20, 200), "every node of the racks deployed");
        println!(
            "{:<58} {:>12} {:>14} {:>22}",
            format!("deploy_nodes, 1 rack of 20, 50 ms calls, fan-out {site_wide}"),
            format!("{one:.2} s"),
            "",
            ""
        );
        println!(
            "{:<58} {:>12} {:>14} {:>22}",
            format!("deploy_nodes, 10 racks of 20 at once, fan-out {site_wide}"),
            format!("{ten:.2} s"),
            "",
            format!("~{:.1} s", one * 10.0)
        );
        println!("{:<58} {:>12} {:>14} {:>22}", "  ten / one", format!("{:.2}x", ten / one), "≤ 1.5x", "~10x");
    }
}
