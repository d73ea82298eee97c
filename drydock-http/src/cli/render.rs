//! `drydock render --site NAME DIR`: render a Pegleg site repository the
//! way Deckhand does and print the documents (`-o yaml`, the default, with a
//! comment naming each document's file and line and the document it was
//! layered on; `-o json`; `-o text`, one line per document). Secrets
//! (`storagePolicy: encrypted`, and what was substituted from them) are
//! printed masked. Exit 0 rendered, 1 the site does not render (each error
//! with its file and line), 2 the site cannot be read.

use std::process::ExitCode;

use clap::Args;
use drydock_core::render::emit::{EmitOptions, json_documents, yaml_stream};
use drydock_core::render::site::SiteError;
use drydock_core::render::{RenderedDocument, Secrecy};

use super::load::read_site_files;
use super::output::{OutputFormat, Style};

/// Arguments of `drydock render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The site to render (a folder of `site/` with a `site-definition.yaml`).
    #[arg(long, value_name = "NAME")]
    pub site: String,
    /// The site repository (holding `global/`, `type/` and `site/`).
    #[arg(value_name = "DIR")]
    pub repository: String,
    /// Output format (`yaml`: a document stream; `json`: an array of
    /// documents; `text`: one line per document).
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Yaml)]
    pub output: OutputFormat,
    /// Only documents whose schema starts with this (repeatable), e.g.
    /// `drydock/` for what Drydock reads.
    #[arg(long = "schema", value_name = "PREFIX")]
    pub schemas: Vec<String>,
    /// No `# source:` comments in YAML output.
    #[arg(long)]
    pub no_provenance: bool,
}

/// Run the command.
pub async fn run(args: RenderArgs) -> ExitCode {
    let files = match read_site_files(&args.repository, &args.site).await {
        Ok(files) => files,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let rendered = match tokio::task::spawn_blocking(move || {
        drydock_core::render::site::render_site(&files, &Default::default(), &Default::default())
    })
    .await
    {
        Ok(Ok(rendered)) => rendered,
        Ok(Err(SiteError::Yaml { file, error })) => {
            eprintln!("error: {}", SiteError::Yaml { file, error });
            return ExitCode::from(2);
        }
        Ok(Err(error)) => {
            print_error(&error);
            return ExitCode::from(1);
        }
        Err(error) => {
            eprintln!("error: rendering did not finish: {error}");
            return ExitCode::from(2);
        }
    };
    let style = Style::stderr();
    for note in &rendered.notes {
        eprintln!("{}: {note}", style.warning("warning"));
    }
    let selected: Vec<&RenderedDocument> = rendered
        .documents
        .iter()
        .filter(|document| args.schemas.is_empty() || args.schemas.iter().any(|prefix| document.id.schema.starts_with(prefix.as_str())))
        .collect();
    match args.output {
        OutputFormat::Yaml => out!("{}", yaml_stream(selected.iter().copied(), EmitOptions { provenance: !args.no_provenance })),
        OutputFormat::Json => match serde_json::to_string_pretty(&json_documents(selected.iter().copied())) {
            Ok(text) => outln!("{text}"),
            Err(error) => {
                eprintln!("error: cannot encode the documents: {error}");
                return ExitCode::from(2);
            }
        },
        OutputFormat::Text => print_text(&selected),
    }
    ExitCode::SUCCESS
}

/// Every line of a rendering error (each format problem on its own line),
/// with its causes.
fn print_error(error: &SiteError) {
    let style = Style::stderr();
    let lines = match error {
        SiteError::Render(error) => error.lines(),
        other => vec![other.to_string()],
    };
    for line in lines {
        eprintln!("{}: {line}", style.error("error"));
    }
    let mut cause = std::error::Error::source(error);
    while let Some(next) = cause {
        eprintln!("  {} {next}", style.dim("caused by:"));
        cause = next.source();
    }
}

fn print_text(documents: &[&RenderedDocument]) {
    let rows: Vec<[String; 5]> = documents
        .iter()
        .map(|document| {
            let layer = document.id.layer.clone().unwrap_or_else(|| "-".into());
            let from = match (&document.replaces, &document.parent) {
                (Some(replaced), _) => format!("replaces {replaced}"),
                (None, Some(parent)) => format!("on {parent}"),
                (None, None) => "-".into(),
            };
            let secret = match &document.secrecy {
                Secrecy::Clear => String::new(),
                Secrecy::Whole => " (secret)".into(),
                Secrecy::Paths(paths) => format!(" (secrets at {})", paths.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
            };
            [document.id.schema.clone(), format!("{}{secret}", document.id.name), layer, document.id.at(), from]
        })
        .collect();
    let headers = ["SCHEMA", "NAME", "LAYER", "SOURCE", "LAYERED"];
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut text = String::new();
        for (position, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if position + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:width$}  "));
            }
        }
        text.trim_end().to_owned()
    };
    outln!("{}", line(headers));
    for row in &rows {
        outln!("{}", line([&row[0], &row[1], &row[2], &row[3], &row[4]].map(String::as_str)));
    }
    outln!("{} document{}", rows.len(), if rows.len() == 1 { "" } else { "s" });
}
