//! Run an orchestrator on a redb store with the fake drivers: the
//! machines of `examples/site.yaml` are Ready in a fake provisioner whose
//! calls take `DEMO_LATENCY_MS` (default 50 ms), and the "nodes" report their boot actions. Used by the
//! restart test (which kills it mid-deployment) and to watch a deployment.
//!
//! Run: `cargo run -p drydock-core --example orchestrator_demo -- /tmp/demo.redb --submit --exit-when-idle`
//! Prints `submitted <task id>`, then `idle` when no task is queued or running.

use std::sync::Arc;
use std::time::Duration;

use drydock_core::drivers::MachineStatus;
use drydock_core::drivers::OobRegistry;
use drydock_core::drivers::fake::{FakeNodeDriver, FakeOobDriver, FakeWorld};
use drydock_core::ids::DesignRef;
use drydock_core::ingest::source::DefaultSource;
use drydock_core::orchestrator::{Dependencies, Orchestrator, OrchestratorConfig};
use drydock_core::store::redb_store::RedbStore;
use drydock_core::store::{ParentFilter, StateStore, TaskQuery};
use drydock_core::task::{Action, ActionResult, TaskStatus};
use tokio_util::sync::CancellationToken;

const NODES: [&str; 6] = ["cp-r01-n01", "cp-r01-n02", "cp-r02-n01", "cmp-r01-n03", "cmp-r02-n02", "cmp-r02-n03"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: orchestrator_demo <file.redb> [--submit] [--exit-when-idle]")?;
    let flags: Vec<String> = args.collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let store: Arc<dyn StateStore> = Arc::new(RedbStore::open(&path)?);
        let world = FakeWorld::new();
        let latency: u64 = std::env::var("DEMO_LATENCY_MS").ok().and_then(|ms| ms.parse().ok()).unwrap_or(50);
        *world.latency.lock().map_err(|_| "lock")? = Duration::from_millis(latency);
        for node in NODES {
            world.enlist(node, MachineStatus::Ready);
        }
        let config = OrchestratorConfig {
            poll_interval: Duration::from_millis(200),
            leader_grace_period: Duration::from_secs(2),
            status_poll: Duration::from_millis(100),
            bootaction_final_status: Duration::from_secs(20),
            ..OrchestratorConfig::default()
        };
        let orchestrator = Orchestrator::new(
            Dependencies {
                store: store.clone(),
                source: Arc::new(DefaultSource::default()),
                node_driver: Some(Arc::new(FakeNodeDriver(world.clone()))),
                oob: OobRegistry::new(vec![Arc::new(FakeOobDriver(world))]),
                kubernetes: None,
            },
            config,
        );
        if flags.iter().any(|flag| flag == "--submit") {
            let design = DesignRef(format!("file://{}/../examples/site.yaml", env!("CARGO_MANIFEST_DIR")));
            let task = orchestrator.submit(Action::DeployNodes, design, None, Some("demo".into())).await?;
            println!("submitted {}", task.id);
        }
        // The nodes: report every incomplete boot action as a success.
        let reporter_store = store.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(300)).await;
                for node in NODES {
                    for row in reporter_store.bootaction_status_for_node(node).await.unwrap_or_default() {
                        if row.action_status == ActionResult::Incomplete {
                            let _ = reporter_store.bootaction_status_update(row.action_id, ActionResult::Success).await;
                        }
                    }
                }
            }
        });
        let shutdown = CancellationToken::new();
        let leader = tokio::spawn({
            let orchestrator = orchestrator.clone();
            let shutdown = shutdown.clone();
            async move { orchestrator.run(shutdown).await }
        });
        if flags.iter().any(|flag| flag == "--exit-when-idle") {
            loop {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let busy = [TaskStatus::Queued, TaskStatus::Running].into_iter().map(|status| TaskQuery {
                    status: Some(status),
                    parent: ParentFilter::Root,
                    limit: 1,
                    ..TaskQuery::default()
                });
                let mut any = false;
                for query in busy {
                    any |= !store.task_list(&query).await?.tasks.is_empty();
                }
                if !any {
                    println!("idle");
                    break;
                }
            }
            shutdown.cancel();
        }
        leader.await??;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
