//! `drydock lab scenario <design-ref>`: print the `drydock-sim` scenario
//! (JSON) of a lab whose machines match the design's nodes, for
//! `drydock-sim --scenario FILE`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use drydock_core::ingest::EnvelopeMode;
use drydock_core::lab::{LabOptions, lab_scenario};
use drydock_core::validate::ValidationOptions;

use super::load::load_design;

/// `drydock lab …`
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Print a simulator scenario matching a design.
    Scenario(ScenarioArgs),
}

/// Arguments of `drydock lab scenario`.
#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// The design: a path, file://, http(s)://, or deckhand+http(s):// URL.
    pub design_ref: String,
    /// Seed the machines as already enlisted and Ready (default: powered-off
    /// BMCs whose machines enlist when PXE-booted).
    #[arg(long)]
    pub enlisted: bool,
    /// Duration of each simulated phase (commissioning, deploying, …) in ms.
    #[arg(long, default_value_t = 0)]
    pub phase_ms: u64,
}

/// Run `drydock lab`.
pub async fn run(command: LabCommand) -> ExitCode {
    let LabCommand::Scenario(args) = command;
    let evaluation = match load_design(&args.design_ref, EnvelopeMode::Auto, &ValidationOptions::default()).await {
        Ok(evaluation) => evaluation,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let Some(site) = evaluation.site else {
        eprintln!("error: the design could not be compiled; run `drydock validate {}` for details", args.design_ref);
        return ExitCode::from(1);
    };
    let options = LabOptions { enlisted: args.enlisted, phase_ms: args.phase_ms, ..LabOptions::default() };
    let oob_type = |node: &drydock_core::model::BaremetalNode| node.config.oob_type.clone().unwrap_or_default();
    let not_redfish: Vec<&str> =
        site.nodes().iter().filter(|node| !matches!(oob_type(node).as_str(), "redfish" | "libvirt")).map(|node| node.name()).collect();
    let libvirt = site.nodes().iter().filter(|node| oob_type(node) == "libvirt").count();
    if libvirt > 0 && !args.enlisted {
        eprintln!(
            "note: {libvirt} node(s) use oob type libvirt; a libvirt hypervisor does not tell the simulator when a VM PXE-boots, \
             so seed them --enlisted (labs may point oob.libvirt_uri at libvirt's test hypervisor with drydock serve \
             --libvirt-allow-test-uris)"
        );
    }
    if !not_redfish.is_empty() {
        eprintln!(
            "note: {} node(s) do not use oob type redfish ({}{}); the simulator's BMCs speak Redfish, so give them real peers \
             (drydock-sim --ipmi-sim PORT=<node>-bmc, with oob.address/oob.port pointing at it) or seed them --enlisted",
            not_redfish.len(),
            not_redfish.iter().take(3).copied().collect::<Vec<_>>().join(", "),
            if not_redfish.len() > 3 { ", …" } else { "" }
        );
    }
    match serde_json::to_string_pretty(&lab_scenario(&site, &options)) {
        Ok(text) => {
            outln!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: cannot encode the scenario: {error}");
            ExitCode::from(2)
        }
    }
}
