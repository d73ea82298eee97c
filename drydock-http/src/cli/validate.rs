//! `drydock validate <design-ref>`: ingest, compile and validate a design,
//! print the findings, and exit 0 (no errors), 1 (errors) or 2 (the design
//! cannot be loaded). `--output json` prints the validatedesign response body.
//! `drydock validate --site NAME DIR` renders a Pegleg site repository first
//! (a site that does not render is reported as DD010 findings, exit 1).

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use drydock_core::ingest::EnvelopeMode;
use drydock_core::model::{Finding, Level};
use drydock_core::validate::{DesignStatus, PlatformCatalog, ReportMessage, ValidationOptions};

use super::load::{load_designs, load_site};

use super::output::{OutputFormat, Style};
use crate::wire::validation::report_body;

/// Arguments of `drydock validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The design: a path, file://, http(s)://, deckhand+http(s):// or
    /// pegleg+file:///REPO?site=NAME URL; several are read in order as one
    /// design (a site split across files). With --site: the site
    /// repository's folder.
    #[arg(required = true, num_args = 1..)]
    pub design_refs: Vec<String>,
    /// Render this site of the Pegleg repository given as the design (its
    /// global, type and site layers, as Deckhand renders them), then
    /// validate it; findings name the repository file and line each value
    /// was written at.
    #[arg(long, value_name = "NAME")]
    pub site: Option<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Which document envelopes to accept.
    #[arg(long, value_enum, default_value_t = Envelope::Auto)]
    pub envelope: Envelope,
    /// Also print the Info message of every rule that passed.
    #[arg(long)]
    pub show_info: bool,
    /// An image the node provisioner offers and its kernels, as
    /// `IMAGE=KERNEL[,KERNEL...]` (repeatable). With any given, DD3001 checks
    /// every node's image and kernel against them instead of warning that no
    /// node driver is configured.
    #[arg(long = "image", value_name = "IMAGE=KERNELS", value_parser = parse_image)]
    pub images: Vec<(String, Vec<String>)>,
}

fn parse_image(text: &str) -> Result<(String, Vec<String>), String> {
    let (image, kernels) = text.split_once('=').ok_or("expected IMAGE=KERNEL[,KERNEL...]")?;
    if image.is_empty() {
        return Err("the image name is empty".into());
    }
    Ok((image.to_owned(), kernels.split(',').filter(|k| !k.is_empty()).map(str::to_owned).collect()))
}

/// Envelope choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Envelope {
    /// Deckhand or legacy, per document.
    Auto,
    /// Only Deckhand (`schema`/`metadata`/`data`).
    Deckhand,
    /// Only legacy (`apiVersion`/`kind`/`spec`).
    Legacy,
}

/// Run the command.
pub async fn run(args: ValidateArgs) -> ExitCode {
    let envelope = match args.envelope {
        Envelope::Auto => EnvelopeMode::Auto,
        Envelope::Deckhand => EnvelopeMode::Deckhand,
        Envelope::Legacy => EnvelopeMode::Legacy,
    };
    let platform = (!args.images.is_empty()).then(|| PlatformCatalog::Available(args.images.clone()));
    let options = ValidationOptions { platform, ..ValidationOptions::default() };
    let loaded = match (&args.site, args.design_refs.as_slice()) {
        (Some(site), [repository]) => load_site(repository, site, &options).await,
        (Some(_), _) => Err("--site takes one site repository folder".to_owned()),
        (None, design_refs) => load_designs(design_refs, envelope, &options).await,
    };
    let evaluation = match loaded {
        Ok(evaluation) => evaluation,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let report = &evaluation.report;
    match args.output {
        OutputFormat::Json => match serde_json::to_string_pretty(&report_body(report)) {
            Ok(text) => outln!("{text}"),
            Err(error) => {
                eprintln!("error: cannot encode the report: {error}");
                return ExitCode::from(2);
            }
        },
        OutputFormat::Yaml => out!("{}", super::client::to_yaml(&report_body(report))),
        OutputFormat::Text => print_text(report, args.show_info),
    }
    match report.status {
        DesignStatus::Success => ExitCode::SUCCESS,
        DesignStatus::Failure | DesignStatus::NotEvaluated => ExitCode::from(1),
    }
}

fn print_text(report: &drydock_core::validate::DesignReport, show_info: bool) {
    let style = Style::stdout();
    let mut warnings = 0;
    let mut infos = 0;
    for message in &report.messages {
        match message {
            ReportMessage::Finding(finding) => {
                match finding.level {
                    Level::Warning => warnings += 1,
                    Level::Info => {
                        infos += 1;
                        if !show_info {
                            continue;
                        }
                    }
                    Level::Error => {}
                }
                print_finding(finding, style);
            }
            ReportMessage::Plain { message, .. } => {
                outln!("{}: {message}", style.error("error"));
            }
        }
    }
    let summary = format!(
        "{} error{}, {} warning{}, {} rule{} passed",
        report.error_count,
        if report.error_count == 1 { "" } else { "s" },
        warnings,
        if warnings == 1 { "" } else { "s" },
        infos,
        if infos == 1 { "" } else { "s" }
    );
    match report.status {
        DesignStatus::Success => outln!("{} ({summary})", style.success("Site design passed validation")),
        DesignStatus::Failure => outln!("{} ({summary})", style.error("Site design failed validation")),
        DesignStatus::NotEvaluated => outln!("{} ({summary})", style.error("Site design could not be evaluated")),
    }
}

fn print_finding(finding: &Finding, style: Style) {
    let label = match finding.level {
        Level::Error => style.error(&format!("error[{}]", finding.code)),
        Level::Warning => style.warning(&format!("warning[{}]", finding.code)),
        Level::Info => style.info(&format!("info[{}]", finding.code)),
    };
    outln!("{label}: {}", finding.message);
    for document in &finding.documents {
        let kind = document.schema.split('/').nth(1).unwrap_or(&document.schema);
        match &finding.location {
            Some(location) if finding.documents.first() == Some(document) => {
                outln!("  {} {kind} '{}' at {location}", style.dim("-->"), document.name)
            }
            _ => outln!("  {} {kind} '{}'", style.dim("-->"), document.name),
        }
    }
    if finding.documents.is_empty()
        && let Some(location) = &finding.location
    {
        outln!("  {} {location}", style.dim("-->"));
    }
    if !finding.diagnostic.is_empty() {
        outln!("  {} {}", style.dim("= hint:"), finding.diagnostic);
    }
}
