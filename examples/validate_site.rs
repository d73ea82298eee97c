//! Ingest, compile and validate a site design with the library, printing how
//! long each phase took and the findings that are errors or warnings.
//!
//! Run: `cargo run --release -p drydock-examples --example validate_site -- examples/site.yaml`
//! (without an argument it validates `examples/site.yaml`).
//!
//! Expected output (for the example site): the phase timings, then
//! `status: Success, 0 errors, 1 warnings` (DD3001: no node driver offline).
//! `drydock_core::load` does all of this in one call; this example takes the
//! steps one by one to time them.

use std::io::Write;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use drydock_core::{Ingester, Level, ValidationOptions, compile, validate};

/// The example site next to this file.
const EXAMPLE_SITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/site.yaml");

fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| EXAMPLE_SITE.into());
    let errors = run(&path, &mut std::io::stdout().lock())?;
    if errors > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// Validate the design at `path`, writing the report to `out`; the number
/// of errors found.
fn run(path: &str, out: &mut impl Write) -> anyhow::Result<usize> {
    let started = Instant::now();
    let bytes = std::fs::read(path)?;
    let read = started.elapsed();
    let ingested = Ingester::new().ingest_bytes(&bytes, Some(path))?;
    let ingest = started.elapsed();
    anyhow::ensure!(ingested.is_success(), "ingestion failed: {:?}", ingested.findings);
    let site = compile(ingested.design)?;
    let compiled = started.elapsed();
    let findings = validate(&site, &ValidationOptions::default());
    let validated = started.elapsed();
    writeln!(
        out,
        "read {:.3}s  ingest {:.3}s  compile {:.3}s  validate {:.3}s  ({} nodes)",
        read.as_secs_f64(),
        (ingest - read).as_secs_f64(),
        (compiled - ingest).as_secs_f64(),
        (validated - compiled).as_secs_f64(),
        site.nodes().len()
    )?;
    let errors = findings.iter().filter(|f| f.level == Level::Error).count();
    let warnings = findings.iter().filter(|f| f.level == Level::Warning).count();
    for finding in findings.iter().filter(|f| f.level != Level::Info) {
        writeln!(out, "{} {}: {}", finding.level.as_str(), finding.code, finding.message)?;
    }
    writeln!(out, "status: {}, {errors} errors, {warnings} warnings", if errors == 0 { "Success" } else { "Failure" })?;
    Ok(errors)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_example_site_is_valid_with_one_offline_warning() {
        let mut out = Vec::new();
        assert_eq!(super::run(super::EXAMPLE_SITE, &mut out).expect("runs"), 0);
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.contains("(6 nodes)"), "{text}");
        assert!(text.contains("Warning DD3001: "), "{text}");
        assert!(text.ends_with("status: Success, 0 errors, 1 warnings\n"), "{text}");
    }

    #[test]
    fn a_broken_design_is_an_error() {
        let dir = std::env::temp_dir().join(format!("drydock-example-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("broken.yaml");
        std::fs::write(&path, "schema: drydock/Network/v1\nmetadata:\n  name: oob\ndata:\n  mtu: big\n").expect("write");
        let error = super::run(path.to_str().expect("utf-8 path"), &mut Vec::new()).expect_err("does not ingest");
        assert!(error.to_string().starts_with("ingestion failed"), "{error}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
