//! Power status from 100 IPMI BMCs (issue 8): 100 `ipmi_sim` processes on
//! loopback ports, a 100-node generated site pointing at them, and
//! `verify_nodes` (login check and power read per node) through the
//! orchestrator with its default fan-out (64 site-wide, 16 per BMC). Also
//! prints one session's latency and 100 concurrent driver reads without the
//! orchestrator, for scale. Target: the orchestrated run ≤ 2 s.
//!
//! Run: `cargo bench -p drydock-benches --bench oob` (needs ipmi_sim:
//! `source scripts/setup/oob.sh`).

use std::sync::Arc;
use std::time::Instant;

use drydock_benches::generated_site;
use drydock_core::drivers::ipmi::{IpmiConfig, IpmiDriver};
use drydock_core::drivers::{OobDriver, OobRegistry, OobTarget, PowerState};
use drydock_core::ids::{DesignRef, Secret};
use drydock_core::ingest::source::DefaultSource;
use drydock_core::orchestrator::{Dependencies, Orchestrator, OrchestratorConfig};
use drydock_core::store::memory::MemoryStore;
use drydock_core::task::{Action, ActionResult};
use drydock_sim::external::{self, IpmiSim};

const BMCS: usize = 100;

/// The generated site with node `i`'s BMC at 127.0.0.1:`ports[i]`.
fn site(ports: &[u16]) -> String {
    let text = generated_site(BMCS, 4, 42);
    let marker = "\n  oob:\n    account: admin\n    credential: ";
    let mut parts = text.split(marker);
    let mut out = parts.next().expect("head").to_owned();
    for (index, part) in parts.enumerate() {
        let rest = &part[part.find('\n').expect("credential line")..];
        out.push_str(&format!(
            "\n  oob:\n    type: ipmi\n    address: 127.0.0.1\n    port: '{}'\n    account: {}\n    credential: {}",
            ports[index],
            external::USER,
            external::PASSWORD
        ));
        out.push_str(rest);
    }
    out
}

fn target(port: u16) -> OobTarget {
    OobTarget {
        node: "bench".into(),
        oob_type: "ipmi".into(),
        address: "127.0.0.1".into(),
        port: Some(port),
        account: external::USER.into(),
        credential: Secret::new(external::PASSWORD),
        parameters: Default::default(),
    }
}

async fn verify_nodes(path: &std::path::Path) -> (f64, usize) {
    let orchestrator = Orchestrator::new(
        Dependencies {
            store: Arc::new(MemoryStore::new()),
            source: Arc::new(DefaultSource::default()),
            node_driver: None,
            oob: OobRegistry::new(vec![Arc::new(IpmiDriver::default())]),
            kubernetes: None,
        },
        OrchestratorConfig::default(),
    );
    let task = orchestrator.submit(Action::VerifyNodes, DesignRef(format!("file://{}", path.display())), None, None).await.expect("submit");
    let started = Instant::now();
    let done = orchestrator.execute(task.id).await.expect("execute");
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(done.result.status, ActionResult::Success, "{:?}", done.result);
    // verify_nodes aggregates only the status; the node lists are on its step.
    let steps = orchestrator.store().task_get_many(&done.subtasks).await.expect("steps");
    let read = steps.iter().filter(|t| t.action == Action::InterrogateOob).map(|t| t.result.successes.len()).sum();
    (seconds, read)
}

fn main() {
    if !external::require("ipmi_sim", external::ipmi_sim_installed(), "source scripts/setup/oob.sh") {
        return;
    }
    let ports = external::free_udp_ports(BMCS);
    let started = Instant::now();
    let sims: Vec<IpmiSim> =
        ports.iter().enumerate().map(|(i, port)| IpmiSim::start_on(&format!("bmc{i:03}"), *port).expect("ipmi_sim")).collect();
    println!("started {} ipmi_sim BMCs in {:.1} s", sims.len(), started.elapsed().as_secs_f64());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("site.yaml");
    std::fs::write(&path, site(&ports)).expect("write site");

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let driver = Arc::new(IpmiDriver::new(IpmiConfig::default()));
    println!("{:<58} {:>10} {:>10}", "scenario", "seconds", "ok");

    // One session (login, privilege, Get Chassis Status, close), sequentially.
    let rounds = 20;
    let started = Instant::now();
    for round in 0..rounds {
        let state = runtime.block_on(driver.power_state(&target(ports[round % BMCS]))).expect("power state");
        assert_eq!(state, PowerState::Off);
    }
    println!("{:<58} {:>10.4} {:>10}", "one power read (mean of 20, sequential)", started.elapsed().as_secs_f64() / rounds as f64, rounds);

    // 100 concurrent reads straight through the driver.
    let started = Instant::now();
    let ok = runtime.block_on(async {
        let mut reads = tokio::task::JoinSet::new();
        for port in &ports {
            let driver = driver.clone();
            let target = target(*port);
            reads.spawn(async move { driver.power_state(&target).await });
        }
        reads.join_all().await.into_iter().filter(|r| r.is_ok()).count()
    });
    println!("{:<58} {:>10.3} {:>10}", "100 BMCs, concurrent driver reads", started.elapsed().as_secs_f64(), ok);
    assert_eq!(ok, BMCS);

    // verify_nodes through the orchestrator, default fan-out; best of 3.
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(runtime.block_on(verify_nodes(&path)));
    }
    let best = runs.iter().map(|(s, _)| *s).fold(f64::INFINITY, f64::min);
    let worst = runs.iter().map(|(s, _)| *s).fold(0.0, f64::max);
    assert!(runs.iter().all(|(_, ok)| *ok == BMCS), "every node read");
    println!("{:<58} {:>10.3} {:>10}", "100 BMCs, verify_nodes, default fan-out (best of 3)", best, BMCS);
    println!("{:<58} {:>10.3} {:>10}", "100 BMCs, verify_nodes, default fan-out (worst of 3)", worst, BMCS);
    println!("target: ≤ 2 s -> {}", if best <= 2.0 { "met" } else { "NOT met" });
    drop(sims);
}
