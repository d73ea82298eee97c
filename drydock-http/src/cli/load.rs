//! Loading a design for a command: resolve the reference, ingest, evaluate
//! (or, for a site repository, read its files, render and evaluate).
//! Errors come back as the one line the command prints before exiting 2.

use drydock_core::ids::DesignRef;
use drydock_core::ingest::repo::{SiteFiles, read_site};
use drydock_core::ingest::source::ReferencePolicy;
use drydock_core::ingest::source::{DefaultSource, DesignSource};
use drydock_core::ingest::{EnvelopeMode, Ingester};
use drydock_core::validate::{Evaluation, ValidationOptions, evaluate, evaluate_site};

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
        if let Some(site) = SiteFiles::from_bundle(&bytes.bytes) {
            // A pegleg+file:// reference: a site repository, rendered.
            if design_refs.len() > 1 {
                return Err(format!("{design_ref} is a site repository: give it alone"));
            }
            let files = site.map_err(|error| format!("{design_ref}: {error}"))?;
            let options = options.clone();
            return tokio::task::spawn_blocking(move || evaluate_site(&files, &options))
                .await
                .map_err(|error| format!("evaluating the site did not finish: {error}"))?
                .map_err(|error| error.to_string());
        }
        let ingested = ingester.ingest_bytes(&bytes.bytes, Some(&bytes.name)).map_err(|error| error.to_string())?;
        match merged.as_mut() {
            Some(merged) => merged.append(ingested),
            None => merged = Some(ingested),
        }
    }
    let merged = merged.ok_or_else(|| "no design given".to_owned())?;
    Ok(evaluate(merged, options))
}

/// The files of `site` in the Pegleg repository `repository` (a path as
/// the user gave it: findings name files under it).
pub async fn read_site_files(repository: &str, site: &str) -> Result<SiteFiles, String> {
    let (root, site) = (std::path::PathBuf::from(repository), site.to_owned());
    let reference = DesignRef(format!("{repository}?site={site}"));
    tokio::task::spawn_blocking(move || read_site(&root, &site, &reference, &ReferencePolicy::default(), 512 << 20))
        .await
        .map_err(|error| format!("reading the site did not finish: {error}"))?
        .map_err(|error| error.to_string())
}

/// Read, render and evaluate a site of a repository.
pub async fn load_site(repository: &str, site: &str, options: &ValidationOptions) -> Result<Evaluation, String> {
    let files = read_site_files(repository, site).await?;
    let options = options.clone();
    tokio::task::spawn_blocking(move || evaluate_site(&files, &options))
        .await
        .map_err(|error| format!("evaluating the site did not finish: {error}"))?
        .map_err(|error| error.to_string())
}
