//! `drydock-sim`: serve a simulated lab (MaaS 2.0 + Redfish BMCs + Promenade + the
//! test-control API) on 127.0.0.1 until interrupted.
//!
//! Prints one JSON line with `maas_url`, `api_key`, `control_url`, `promenade_url`,
//! `redfish_urls` and `redfish_base` so scripts can parse it, e.g.
//! `drydock-sim --scenario lab.json --port 0`. The main port also works as an
//! HTTP proxy in front of the BMC network: a Redfish request whose `Host` is
//! a BMC's design address reaches that BMC.

use clap::Parser;
use drydock_sim::{LabOptions, Scenario, SimLab, SimMode, external};
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
    /// Also start a real `ipmi_sim` BMC (OpenIPMI) on this UDP port
    /// (repeatable; account admin/password); with `=BMC`, it stands for the
    /// lab's BMC of that name: its power changes reach the lab, and a PXE
    /// power-on enlists the BMC's machine. Stopped with the lab.
    #[arg(long = "ipmi-sim", value_name = "PORT[=BMC]", value_parser = peer)]
    ipmi_sim: Vec<(u16, Option<String>)>,
    /// Also start a real `sushy-emulator --fake` Redfish BMC (one system,
    /// sessions required) on this TCP port (repeatable; admin/password;
    /// `=BMC` as for --ipmi-sim).
    #[arg(long = "sushy", value_name = "PORT[=BMC]", value_parser = peer)]
    sushy: Vec<(u16, Option<String>)>,
}

/// `PORT[=BMC]`.
fn peer(text: &str) -> Result<(u16, Option<String>), String> {
    let (port, bmc) = match text.split_once('=') {
        Some((port, bmc)) => (port, Some(bmc.to_owned())),
        None => (text, None),
    };
    Ok((port.parse().map_err(|_| format!("{port:?} is not a port"))?, bmc))
}

/// The BMC a launcher thread started.
fn join<T>(handle: std::thread::JoinHandle<std::io::Result<T>>) -> anyhow::Result<T> {
    handle.join().map_err(|_| anyhow::anyhow!("a BMC launcher panicked"))?.map_err(anyhow::Error::from)
}

/// Until SIGINT or SIGTERM (so the external BMCs are stopped either way).
async fn stopped() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    Ok(())
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
    // External peers start in parallel (sushy-emulator takes a second or two each).
    let notify = |bmc: &Option<String>| bmc.as_ref().map(|name| format!("{}/bmcs/{name}/power", lab.control_url()));
    let ipmi = args.ipmi_sim.iter().map(|(port, bmc)| {
        let (port, name, url) = (*port, bmc.clone().unwrap_or_else(|| format!("bmc-{port}")), notify(bmc));
        std::thread::spawn(move || external::IpmiSim::start_notifying(&name, port, url.as_deref()))
    });
    let sushy = args.sushy.iter().map(|(port, bmc)| {
        let (port, url) = (*port, notify(bmc));
        std::thread::spawn(move || external::Sushy::start_notifying(port, 0, url.as_deref()))
    });
    let (ipmi, sushy): (Vec<_>, Vec<_>) = (ipmi.collect(), sushy.collect());
    let ipmi: Vec<external::IpmiSim> = ipmi
        .into_iter()
        .map(join)
        .collect::<anyhow::Result<_>>()
        .map_err(|error| error.context("cannot start ipmi_sim (Debian package openipmi; scripts/setup/oob.sh installs it)"))?;
    let sushy: Vec<external::Sushy> =
        sushy.into_iter().map(join).collect::<anyhow::Result<_>>().map_err(|error| {
            error.context("cannot start sushy-emulator (pip install sushy-tools; DRYDOCK_SUSHY_PYTHON names its python)")
        })?;
    let mut info = lab.info();
    info["ipmi_sim"] = ipmi.iter().map(|bmc| serde_json::json!({"port": bmc.port, "state_dir": bmc.state_dir()})).collect();
    info["sushy"] = sushy.iter().map(|bmc| serde_json::json!({"url": bmc.url(), "logins_file": bmc.logins_file()})).collect();
    info["startup_ms"] = serde_json::Value::from(started.elapsed().as_millis() as u64);
    println!("{info}");
    stopped().await?;
    drop((ipmi, sushy));
    Ok(())
}
