//! `drydock-sim`: serve a simulated lab (MaaS 2.0 + Redfish BMCs + the
//! test-control API) on 127.0.0.1 until interrupted.
//!
//! Prints one JSON line with `maas_url`, `api_key`, `control_url`,
//! `redfish_urls` and `redfish_base` so scripts can parse it, e.g.
//! `drydock-sim --scenario lab.json --port 0`. The main port also works as an
//! HTTP proxy in front of the BMC network: a Redfish request whose `Host` is
//! a BMC's design address reaches that BMC.

use clap::Parser;
use drydock_sim::{LabOptions, Scenario, SimLab, SimMode};
use std::path::PathBuf;
use std::time::Instant;

/// Serve a simulated MaaS region and its BMCs on loopback.
#[derive(Debug, Parser)]
#[command(name = "drydock-sim", version)]
struct Args {
    /// Scenario file (JSON); default: an empty lab.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Add N generated Ready machines with BMCs (scale testing).
    #[arg(long)]
    generate: Option<usize>,
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Override the scenario's time model.
    #[arg(long, value_parser = ["auto", "explicit", "reads"])]
    mode: Option<String>,
    /// Zero all phase durations (Auto mode completes at the next request).
    #[arg(long)]
    instant: bool,
    /// Also serve each BMC's Redfish on its own port.
    #[arg(long)]
    bmc_ports: bool,
    /// Run each deployed machine's user data (cloud-init) in DIR/<hostname>,
    /// so boot actions really execute and report back.
    #[arg(long, value_name = "DIR")]
    boot_root: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let mut scenario = match &args.scenario {
        Some(path) => Scenario::from_file(path)?,
        None => Scenario::default(),
    };
    if let Some(count) = args.generate {
        let generated = Scenario::generated(count);
        if scenario.fabrics.is_empty() {
            scenario.fabrics = generated.fabrics;
        }
        scenario.machines.extend(generated.machines);
    }
    if let Some(mode) = &args.mode {
        scenario.mode = match mode.as_str() {
            "explicit" => SimMode::Explicit,
            "reads" => SimMode::Reads,
            _ => SimMode::Auto,
        };
    }
    if args.instant {
        scenario.durations = drydock_sim::Durations {
            commissioning_ms: 0,
            testing_ms: 0,
            deploying_ms: 0,
            releasing_ms: 0,
            erasing_ms: 0,
            ..scenario.durations
        };
    }
    let lab = SimLab::start_with(
        scenario,
        LabOptions { port: args.port, bmc_ports: args.bmc_ports, no_warm_up: false, boot_root: args.boot_root.clone() },
    )
    .await?;
    let mut info = lab.info();
    info["startup_ms"] = serde_json::Value::from(started.elapsed().as_millis() as u64);
    println!("{info}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
