//! Ingest, compile and validate a site design with the library, printing how
//! long each phase took and the findings that are errors or warnings.
//!
//! Run: `cargo run --release -p drydock-examples --example validate_site -- examples/site.yaml`
//!
//! Expected output (for the example site): the phase timings, then
//! `status: Success, 0 errors, 1 warnings` (DD3001: no node driver offline).

use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use drydock_core::compile::compile;
use drydock_core::ingest::Ingester;
use drydock_core::model::Level;
use drydock_core::validate::{ValidationOptions, validate};

fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "examples/site.yaml".into());
    let started = Instant::now();
    let bytes = std::fs::read(&path)?;
    let read = started.elapsed();
    let ingested = Ingester::new().ingest_bytes(&bytes, Some(&path))?;
    let ingest = started.elapsed();
    anyhow::ensure!(ingested.is_success(), "ingestion failed: {:?}", ingested.findings);
    let site = compile(ingested.design)?;
    let compiled = started.elapsed();
    let findings = validate(&site, &ValidationOptions::default());
    let validated = started.elapsed();
    println!(
        "read {:.3}s  ingest {:.3}s  compile {:.3}s  validate {:.3}s  ({} nodes)",
        read.as_secs_f64(),
        (ingest - read).as_secs_f64(),
        (compiled - ingest).as_secs_f64(),
        (validated - compiled).as_secs_f64(),
        site.nodes().len()
    );
    let errors = findings.iter().filter(|f| f.level == Level::Error).count();
    let warnings = findings.iter().filter(|f| f.level == Level::Warning).count();
    for finding in findings.iter().filter(|f| f.level != Level::Info) {
        println!("{} {}: {}", finding.level.as_str(), finding.code, finding.message);
    }
    println!("status: {}, {errors} errors, {warnings} warnings", if errors == 0 { "Success" } else { "Failure" });
    Ok(())
}
