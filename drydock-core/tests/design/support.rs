//! Helpers shared by the design tests: where the shared corpus lives, loading
//! and evaluating a file, and summarising a report by rule.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use drydock_core::compile::{EffectiveSite, compile};
use drydock_core::ingest::{EnvelopeMode, IngestError, Ingester};
use drydock_core::model::Level;
use drydock_core::validate::{DesignReport, Evaluation, PlatformCatalog, ReportMessage, ValidationOptions, evaluate};

/// `shared/corpus`, beside the repository (override with `DRYDOCK_SHARED`).
pub fn corpus_dir() -> PathBuf {
    shared_dir().join("corpus")
}

/// `shared/`, beside the repository (override with `DRYDOCK_SHARED`).
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("DRYDOCK_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

/// Ingest and evaluate a file.
pub fn evaluate_path(path: &Path, mode: EnvelopeMode, platform: Option<PlatformCatalog>) -> Result<Evaluation, IngestError> {
    let bytes = std::fs::read(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    evaluate_bytes(&bytes, &path.display().to_string(), mode, platform)
}

/// Ingest and evaluate bytes.
pub fn evaluate_bytes(bytes: &[u8], name: &str, mode: EnvelopeMode, platform: Option<PlatformCatalog>) -> Result<Evaluation, IngestError> {
    let ingester = Ingester { envelope: mode, ..Ingester::default() };
    let ingested = ingester.ingest_bytes(bytes, Some(name))?;
    Ok(evaluate(ingested, &ValidationOptions { platform, ..ValidationOptions::default() }))
}

/// Ingest and compile text that must be clean.
pub fn compile_text(text: &str) -> EffectiveSite {
    let ingested = Ingester::new().ingest_str(text, Some("fixture")).expect("fixture parses");
    assert!(ingested.is_success(), "fixture ingests cleanly: {:#?}", ingested.findings);
    compile(ingested.design).expect("fixture compiles")
}

/// A report reduced to what the spec's tables give.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    /// `Success`, `Failure` or `failure`.
    pub status: &'static str,
    /// Number of messages.
    pub messages: usize,
    /// Error counts by rule long name (DD000/DD001 by code).
    pub errors: BTreeMap<String, usize>,
    /// Warning counts likewise.
    pub warnings: BTreeMap<String, usize>,
    /// Plain (effective-site failure) messages.
    pub plain: Vec<String>,
}

/// Summarise a report.
pub fn summarize(report: &DesignReport) -> Summary {
    let mut summary = Summary {
        status: report.status.as_str(),
        messages: report.messages.len(),
        errors: BTreeMap::new(),
        warnings: BTreeMap::new(),
        plain: Vec::new(),
    };
    for message in &report.messages {
        match message {
            ReportMessage::Plain { message, .. } => summary.plain.push(message.clone()),
            ReportMessage::Finding(finding) => {
                let key = finding.rule.map(str::to_owned).unwrap_or_else(|| finding.code.to_owned());
                match finding.level {
                    Level::Error => *summary.errors.entry(key).or_default() += 1,
                    Level::Warning => *summary.warnings.entry(key).or_default() += 1,
                    Level::Info => {}
                }
            }
        }
    }
    summary
}

/// Run `tools/gen_site.py` and return its YAML.
pub fn generate_site(nodes: usize, racks: usize, seed: u64) -> String {
    let script = shared_dir().join("tools/gen_site.py");
    let output = std::process::Command::new("python3")
        .arg(&script)
        .args(["--nodes", &nodes.to_string(), "--racks", &racks.to_string(), "--seed", &seed.to_string()])
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", script.display()));
    assert!(output.status.success(), "gen_site.py failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("gen_site.py writes UTF-8")
}

/// A compiled design's documents by kind: regions, network links, networks,
/// hardware profiles, host profiles, baremetal nodes, boot actions.
pub fn counts_by_kind(design: &drydock_core::model::SiteDesign) -> [usize; 7] {
    [
        design.regions.len(),
        design.network_links.len(),
        design.networks.len(),
        design.hardware_profiles.len(),
        design.host_profiles.len(),
        design.baremetal_nodes.len(),
        design.boot_actions.len(),
    ]
}
