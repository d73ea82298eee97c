//! Evaluating a Pegleg site repository: its files rendered the way Deckhand
//! renders them ([`crate::render`]), Drydock's documents ingested with the
//! file and line each value was written at, then the usual compile and
//! rules. A site that does not render is a report, not an error: one DD010
//! error finding per problem, citing the document, file and line; warnings
//! of the rendering are DD011 findings. Messages that could quote a secret
//! (`storagePolicy: encrypted` data) are redacted.

use crate::ids::DocRef;
use crate::ingest::repo::SiteFiles;
use crate::ingest::yaml::YamlLimits;
use crate::ingest::{EnvelopeMode, IngestError, Ingested, Ingester};
use crate::model::{Finding, Level};
use crate::render::site::{SiteError, documents};
use crate::render::{DocId, RenderError, RenderLimits, RenderNote, Rendered, render};

use super::ValidationOptions;
use super::report::{Evaluation, ReportMessage, evaluate};

/// The code of a site that cannot be rendered.
pub const RENDER_ERROR: &str = "DD010";
/// The code of a rendering warning.
pub const RENDER_WARNING: &str = "DD011";

const RENDER_ERROR_HINT: &str =
    "The site's documents cannot be rendered (Deckhand layering, substitution or replacement); fix the document named";
const RENDER_WARNING_HINT: &str = "Deckhand renders this, but it is likely a mistake";

/// Render, ingest, compile and validate a site's files. `Err` only when a
/// file is not YAML (as for any design stream).
pub fn evaluate_site(files: &SiteFiles, options: &ValidationOptions) -> Result<Evaluation, IngestError> {
    Ok(evaluate_site_rendered(files, options)?.0)
}

/// [`evaluate_site`], also returning the rendered documents when the site
/// rendered.
pub fn evaluate_site_rendered(files: &SiteFiles, options: &ValidationOptions) -> Result<(Evaluation, Option<Rendered>), IngestError> {
    let source_name = format!("{}?site={}", files.root, files.site);
    let (parsed, lines, _) = match documents(files, &YamlLimits::default()) {
        Ok(parsed) => parsed,
        Err(SiteError::Yaml { file, error }) => return Err(IngestError::Yaml { source_name: file, error }),
        Err(other) => return Ok((failed(site_error_findings(&other), &source_name), None)),
    };
    let rendered = match render(parsed, lines, &RenderLimits::default()) {
        Ok(rendered) => rendered,
        Err(error) => return Ok((failed(render_error_findings(&error), &source_name), None)),
    };
    let ingester = Ingester { envelope: EnvelopeMode::Deckhand, ..Ingester::default() };
    let mut ingested = rendered.ingest(&ingester, Some(&source_name))?;
    let mut findings: Vec<Finding> = rendered.notes.iter().map(note_finding).collect();
    findings.append(&mut ingested.findings);
    ingested.findings = findings;
    let mut evaluation = evaluate(ingested, options);
    if rendered.has_secrets() {
        redact(&mut evaluation, &rendered);
    }
    Ok((evaluation, Some(rendered)))
}

/// Secrets out of every message of the report.
fn redact(evaluation: &mut Evaluation, rendered: &Rendered) {
    for message in &mut evaluation.report.messages {
        match message {
            ReportMessage::Finding(finding) => {
                finding.message = rendered.redact(&finding.message);
                finding.diagnostic = rendered.redact(&finding.diagnostic);
            }
            ReportMessage::Plain { message, .. } => *message = rendered.redact(message),
        }
    }
}

/// A report of a site that did not render.
fn failed(findings: Vec<Finding>, source_name: &str) -> Evaluation {
    let mut ingested = Ingested { design: Default::default(), findings, document_count: 0 };
    ingested.design.source_name = Some(source_name.into());
    evaluate(ingested, &ValidationOptions::default())
}

fn cite(finding: Finding, document: Option<&DocId>) -> Finding {
    match document {
        Some(document) => {
            let mut finding = finding;
            finding.documents.push(DocRef::new(&document.schema, &document.name));
            finding.location = document.location.clone();
            finding
        }
        None => finding,
    }
}

/// One DD010 finding per problem of a rendering error.
pub fn render_error_findings(error: &RenderError) -> Vec<Finding> {
    match error {
        RenderError::Format { problems } => problems
            .iter()
            .map(|problem| {
                let finding = Finding::new(RENDER_ERROR, Level::Error, format!("Error rendering site: {problem}"), RENDER_ERROR_HINT);
                let mut finding = cite(finding, Some(&problem.document));
                if problem.location.is_some() {
                    finding.location = problem.location.clone();
                }
                finding
            })
            .collect(),
        other => {
            let finding = Finding::new(RENDER_ERROR, Level::Error, format!("Error rendering site: {}", chain(other)), RENDER_ERROR_HINT);
            vec![cite(finding, other.document())]
        }
    }
}

fn site_error_findings(error: &SiteError) -> Vec<Finding> {
    match error {
        SiteError::Render(error) => render_error_findings(error),
        SiteError::PeglegEncrypted { document } => {
            vec![cite(
                Finding::new(RENDER_ERROR, Level::Error, format!("Error rendering site: {error}"), RENDER_ERROR_HINT),
                Some(document),
            )]
        }
        other => vec![Finding::new(RENDER_ERROR, Level::Error, format!("Error rendering site: {}", chain(other)), RENDER_ERROR_HINT)],
    }
}

/// An error and its causes, `: `-separated.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

fn note_finding(note: &RenderNote) -> Finding {
    let finding = Finding::new(RENDER_WARNING, Level::Warning, format!("Site rendering: {}", note.message), RENDER_WARNING_HINT);
    cite(finding, note.document.as_ref())
}
