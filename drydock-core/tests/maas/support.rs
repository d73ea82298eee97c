//! Helpers for the MaaS driver tests: a design, a simulated lab matching it,
//! a driver pointed at the lab, and the lab's request log as short lines.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use drydock_core::compile::{EffectiveSite, compile};
use drydock_core::drivers::maas::{MaasConfig, MaasDriver};
use drydock_core::ids::Secret;
use drydock_core::ingest::Ingester;
use drydock_core::lab::{LabOptions, lab_scenario};
use drydock_sim::{RequestRecord, SimLab};

/// `shared/`, beside the repository (override with `DRYDOCK_SHARED`).
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("DRYDOCK_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

/// Compile design text.
pub fn site_from(text: &str, name: &str) -> EffectiveSite {
    let ingested = Ingester::new().ingest_str(text, Some(name)).expect("design parses");
    compile(ingested.design).expect("design compiles")
}

/// `deckhand_fullsite.yaml` from the corpus.
pub fn fullsite() -> EffectiveSite {
    let path = shared_dir().join("corpus/drydock-samples/deckhand_fullsite.yaml");
    site_from(&std::fs::read_to_string(&path).expect("corpus sample"), "deckhand_fullsite.yaml")
}

/// A `gen_site.py` site of `nodes` nodes.
pub fn generated(nodes: usize, racks: usize) -> EffectiveSite {
    site_from(&generated_text(nodes, racks), "gen_site")
}

/// The text of a `gen_site.py` site of `nodes` nodes (seed 7).
pub fn generated_text(nodes: usize, racks: usize) -> String {
    let output = std::process::Command::new("python3")
        .arg(shared_dir().join("tools/gen_site.py"))
        .args(["--nodes", &nodes.to_string(), "--racks", &racks.to_string(), "--seed", "7"])
        .output()
        .expect("gen_site.py runs");
    assert!(output.status.success(), "gen_site.py: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8")
}

/// A lab matching `site` (machines enlisted and Ready when `enlisted`), in
/// `mode` (`explicit`, `auto`, `reads`).
pub async fn lab(site: &EffectiveSite, enlisted: bool, mode: &str) -> SimLab {
    let options = LabOptions { enlisted, ..LabOptions::default() };
    let mut scenario = lab_scenario(site, &options);
    scenario["mode"] = serde_json::json!(mode);
    let scenario: drydock_sim::Scenario = serde_json::from_value(scenario).expect("scenario");
    SimLab::start(scenario).await.expect("lab starts")
}

/// A driver of the lab's MaaS.
pub fn driver(lab: &SimLab) -> Arc<MaasDriver> {
    Arc::new(MaasDriver::new(MaasConfig::new(lab.maas_url(), Secret::new(lab.api_key()))).expect("driver"))
}

/// One request as `METHOD path[?op=op]`, system ids replaced by `{sid}`.
pub fn line(record: &RequestRecord) -> String {
    let mut path = record.path.replace("/MAAS/api/2.0/", "");
    if let Some(sid) = path.split('/').nth(1).filter(|_| path.starts_with("machines/") || path.starts_with("nodes/"))
        && sid.len() >= 6
    {
        path = path.replacen(&sid.to_owned(), "{sid}", 1);
    }
    let mut query: Vec<String> = record.op.iter().map(|op| format!("op={op}")).collect();
    for (key, values) in &record.query {
        query.extend(values.iter().map(|value| format!("{key}={value}")));
    }
    if query.is_empty() { format!("{} {path}", record.method) } else { format!("{} {path}?{}", record.method, query.join("&")) }
}

/// The MaaS requests since the last clear, each followed by its form fields
/// (indented, `name=value`; long values shortened).
pub fn log_with_forms(lab: &SimLab) -> Vec<String> {
    let mut lines = Vec::new();
    for record in lab.requests().iter().filter(|record| record.service == "maas") {
        lines.push(line(record));
        for (name, values) in &record.form {
            for value in values {
                let shown: String = if value.len() > 72 { format!("{}… ({} bytes)", &value[..60], value.len()) } else { value.clone() };
                lines.push(format!("    {name}={shown}"));
            }
        }
    }
    lines
}
