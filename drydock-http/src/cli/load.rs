//! Loading a design for a command: resolve the reference, ingest, evaluate.
//! Errors come back as the one line the command prints before exiting 2.

use drydock_core::ids::DesignRef;
use drydock_core::ingest::source::{DefaultSource, DesignSource};
use drydock_core::ingest::{EnvelopeMode, Ingester};
use drydock_core::validate::{Evaluation, ValidationOptions, evaluate};

/// Fetch, ingest and evaluate `design_ref`.
pub async fn load_design(design_ref: &str, envelope: EnvelopeMode, options: &ValidationOptions) -> Result<Evaluation, String> {
    load_designs(&[design_ref.to_owned()], envelope, options).await
}

/// Fetch and ingest each of `design_refs` in order as one design (a site
/// split across files; findings name each document's own file and line),
/// then evaluate it.
pub async fn load_designs(design_refs: &[String], envelope: EnvelopeMode, options: &ValidationOptions) -> Result<Evaluation, String> {
    let source = DefaultSource::default();
    let ingester = Ingester { envelope, ..Ingester::default() };
    let mut merged: Option<drydock_core::ingest::Ingested> = None;
    for design_ref in design_refs {
        let bytes = source.fetch(&DesignRef(design_ref.clone())).await.map_err(|error| error.to_string())?;
        let ingested = ingester.ingest_bytes(&bytes.bytes, Some(&bytes.name)).map_err(|error| error.to_string())?;
        match merged.as_mut() {
            Some(merged) => merged.append(ingested),
            None => merged = Some(ingested),
        }
    }
    let merged = merged.ok_or_else(|| "no design given".to_owned())?;
    Ok(evaluate(merged, options))
}
