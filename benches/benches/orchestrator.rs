//! deploy_nodes over generated sites with the fake drivers, printing a table
//! (issue 5): orchestrator overhead with drivers that answer at once (1,000
//! and 10,000 nodes; target ≤ 3 s and ≤ 300 MiB at 10,000, linear), and
//! 10,000 nodes with 100 ms per driver call and a fan-out limit of 1,000
//! (target ≤ 1.5× the ideal time the limit allows).
//!
//! Run: `cargo bench -p drydock-benches --bench orchestrator`

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use drydock_benches::{generated_site_file, peak_mib};
use drydock_core::drivers::fake::{FakeNodeDriver, FakeOobDriver, FakeWorld};
use drydock_core::drivers::{MachineStatus, OobRegistry};
use drydock_core::ids::DesignRef;
use drydock_core::ingest::source::DefaultSource;
use drydock_core::orchestrator::fanout::FanoutLimits;
use drydock_core::orchestrator::{Dependencies, Orchestrator, OrchestratorConfig};
use drydock_core::store::memory::MemoryStore;
use drydock_core::task::Action;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Run {
    seconds: f64,
    calls: usize,
    successes: usize,
}

/// `deploy_nodes` of every node in one task, at most `fanout` steps and as
/// many driver calls in flight at once.
async fn deploy(nodes: usize, racks: usize, latency: Duration, fanout: usize) -> Run {
    let site = generated_site_file(nodes, racks, 42);
    let (path, names) = (&site.path, &site.nodes);
    let world = FakeWorld::new();
    *world.record.lock().expect("lock") = false;
    *world.latency.lock().expect("lock") = latency;
    for name in names {
        world.enlist(name, MachineStatus::Ready);
    }
    let config = OrchestratorConfig {
        status_poll: latency.max(Duration::from_millis(1)),
        poll_interval: Duration::from_millis(10),
        bootaction_final_status: Duration::ZERO,
        limits: FanoutLimits { task_steps: fanout, endpoint_calls: fanout, process_calls: fanout },
        ..OrchestratorConfig::default()
    };
    let orchestrator = Orchestrator::new(
        Dependencies {
            store: Arc::new(MemoryStore::new()),
            source: Arc::new(DefaultSource::default()),
            node_driver: Some(Arc::new(FakeNodeDriver(world.clone()))),
            oob: OobRegistry::new(vec![Arc::new(FakeOobDriver(world.clone()))]),
            kubernetes: None,
        },
        config,
    );
    let design = DesignRef(format!("file://{}", path.display()));
    let task = orchestrator.submit(Action::DeployNodes, design, None, None).await.expect("submit");
    let started = Instant::now();
    let done = orchestrator.execute(task.id).await.expect("execute");
    let seconds = started.elapsed().as_secs_f64();
    let deploy = orchestrator.store().task_get_many(&done.subtasks).await.expect("steps");
    let successes = deploy.iter().find(|t| t.action == Action::DeployNode).map(|t| t.result.successes.len()).unwrap_or(0);
    Run { seconds, calls: world.call_count.load(Ordering::Relaxed), successes }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!("{:<44} {:>8} {:>10} {:>12} {:>10}", "scenario", "nodes", "seconds", "calls/node", "peak MiB");
    for nodes in [1_000, 10_000] {
        let run = runtime.block_on(deploy(nodes, nodes / 40, Duration::ZERO, 64));
        assert_eq!(run.successes, nodes, "every node deployed");
        println!(
            "{:<44} {:>8} {:>10.2} {:>12.1} {:>10}",
            "instant drivers, fan-out 64",
            nodes,
            run.seconds,
            run.calls as f64 / nodes as f64,
            peak_mib()
        );
    }
    let latency = Duration::from_millis(100);
    let nodes = 10_000;
    let run = runtime.block_on(deploy(nodes, 250, latency, 1_000));
    let per_node_calls = run.calls as f64 / nodes as f64;
    let ideal = per_node_calls * latency.as_secs_f64() * (nodes as f64 / 1_000.0).ceil();
    println!("{:<44} {:>8} {:>10.2} {:>12.1} {:>10}", "100 ms per call, fan-out 1,000", nodes, run.seconds, per_node_calls, peak_mib());
    println!("ideal for 100 ms calls at fan-out 1,000: {ideal:.2} s; measured/ideal = {:.2} (target ≤ 1.5)", run.seconds / ideal);
}
