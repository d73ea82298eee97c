//! Run Drydock's orchestrator in-process against the fake drivers that
//! ship with the library (`drydock_core::drivers::fake`): a fake MaaS whose
//! machines enlist when their fake BMC PXE-boots them, then commission and
//! deploy, and an in-memory state store. The site is prepared, its nodes
//! enlisted and commissioned (`prepare_nodes`), then deployed with their
//! boot actions reported by a stand-in for the nodes' agents.
//!
//! Run: `cargo run -p drydock-examples --example orchestrator_fake -- examples/site.yaml`
//! (without an argument it uses `examples/site.yaml`). It takes a few
//! seconds and ends with `deploy_nodes: success, 6 succeeded, 0 failed`.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use drydock_core::drivers::OobRegistry;
use drydock_core::drivers::fake::{FakeNodeDriver, FakeOobDriver, FakeWorld};
use drydock_core::store::memory::MemoryStore;
use drydock_core::task::{Action, ActionResult};
use drydock_core::{DefaultSource, Dependencies, DesignRef, Orchestrator, OrchestratorConfig, StateStore};

/// The example site next to this file.
const EXAMPLE_SITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/site.yaml");

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| EXAMPLE_SITE.into());
    let mut out = Vec::new();
    let result = run(&path, &mut out).await;
    std::io::stdout().write_all(&out)?;
    result
}

/// Timings for a lab that answers at once (the defaults poll every 10 s, as
/// a real MaaS warrants).
fn quick_config() -> OrchestratorConfig {
    OrchestratorConfig {
        poll_interval: Duration::from_millis(100),
        status_poll: Duration::from_millis(50),
        power_poll: Duration::from_millis(50),
        bootaction_final_status: Duration::from_secs(30),
        ..OrchestratorConfig::default()
    }
}

async fn run(path: &str, out: &mut impl Write) -> anyhow::Result<()> {
    // The node names, to play the nodes' agents below.
    let evaluation = drydock_core::load(path)?;
    let site = evaluation.site.ok_or_else(|| anyhow::anyhow!("{path}: the design has errors"))?;
    let nodes: Vec<String> = site.nodes().iter().map(|node| node.name().to_owned()).collect();
    writeln!(out, "{} nodes in {path}", nodes.len())?;

    // An empty fake lab: no machine is known to the provisioner yet.
    let world = FakeWorld::new();
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let orchestrator = Orchestrator::new(
        Dependencies {
            store: store.clone(),
            source: Arc::new(DefaultSource::default()),
            node_driver: Some(Arc::new(FakeNodeDriver(world.clone()))),
            oob: OobRegistry::new(vec![Arc::new(FakeOobDriver(world.clone()))]),
            kubernetes: None,
        },
        quick_config(),
    );

    // Deployed nodes run the boot-action agent, which reports each action;
    // here a loop reports every pending one as a success.
    let agents = tokio::spawn({
        let store = store.clone();
        let nodes = nodes.clone();
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

    let design = DesignRef::from(path);
    let mut outcome = Ok(());
    for action in [Action::PrepareSite, Action::PrepareNodes, Action::DeployNodes] {
        // submit() queues the task; a server's main loop (Orchestrator::run)
        // would pick it up. Here we run it to its end directly.
        let task = orchestrator.submit(action, design.clone(), None, Some("example".into())).await?;
        let ended = orchestrator.execute(task.id).await?;
        let result = &ended.result;
        writeln!(
            out,
            "{}: {}, {} succeeded, {} failed",
            action.as_str(),
            result.status.as_str(),
            result.successes.len(),
            result.failures.len()
        )?;
        if result.status != ActionResult::Success {
            for message in store.result_messages(ended.id).await? {
                writeln!(out, "  {}", message.message)?;
            }
            outcome = Err(anyhow::anyhow!("{} ended {}", action.as_str(), result.status.as_str()));
            break;
        }
    }
    agents.abort();
    for node in &nodes {
        let status = world.status(node).map_or_else(|| "unknown".to_owned(), |status| format!("{status:?}"));
        writeln!(out, "{node}: {status}")?;
    }
    writeln!(out, "{} provisioner and BMC calls", world.calls().len())?;
    outcome
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_example_site_is_prepared_and_deployed() {
        let mut out = Vec::new();
        let result = super::run(super::EXAMPLE_SITE, &mut out).await;
        let text = String::from_utf8(out).expect("utf-8");
        result.unwrap_or_else(|error| panic!("{error}:\n{text}"));
        assert!(text.starts_with("6 nodes in "), "{text}");
        assert!(text.contains("\nprepare_site: success, "), "{text}");
        assert!(text.contains("\nprepare_nodes: success, 6 succeeded, 0 failed\n"), "{text}");
        assert!(text.contains("\ndeploy_nodes: success, 6 succeeded, 0 failed\n"), "{text}");
        assert_eq!(text.matches(": Deployed\n").count(), 6, "{text}");
    }
}
