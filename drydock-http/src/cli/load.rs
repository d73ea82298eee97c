//! Loading a design for a command: resolve the reference, ingest, evaluate.
//! Errors come back as the one line the command prints before exiting 2.

use drydock_core::ids::DesignRef;
use drydock_core::ingest::source::{DefaultSource, DesignSource};
use drydock_core::ingest::{EnvelopeMode, Ingester};
use drydock_core::validate::{Evaluation, ValidationOptions, evaluate};

/// Fetch, ingest and evaluate `design_ref`.
pub async fn load_design(design_ref: &str, envelope: EnvelopeMode, options: &ValidationOptions) -> Result<Evaluation, String> {
    let source = DefaultSource::default();
    let bytes = source.fetch(&DesignRef(design_ref.to_owned())).await.map_err(|error| error.to_string())?;
    let ingester = Ingester { envelope, ..Ingester::default() };
    let ingested = ingester.ingest_bytes(&bytes.bytes, Some(&bytes.name)).map_err(|error| error.to_string())?;
    Ok(evaluate(ingested, options))
}
