//! `drydock validatedesign`, `drydock design create` and `drydock part
//! create|list|show` through the API (the local `drydock validate` is
//! separate).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Client, ClientArgs, ClientOutput, Failure, Resolved, cell, print_table, print_value};
use super::task::encode;

/// Arguments of `drydock validatedesign`.
#[derive(Debug, Args)]
pub struct ValidateDesignArgs {
    /// Server and output options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// The design: a local file (uploaded through the designs API) or a URL the server can read.
    pub design_ref: String,
}

/// `drydock design ...`.
#[derive(Debug, Args)]
pub struct DesignArgs {
    /// Server and output options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: DesignCommand,
}

/// The design subcommands.
#[derive(Debug, Subcommand)]
pub enum DesignCommand {
    /// Create a design (optionally a copy of another's parts); prints its id.
    Create {
        /// Copy the parts of this design.
        #[arg(long)]
        base_design_id: Option<String>,
    },
    /// List the stored designs' ids (every page).
    List,
    /// Show a design: its parts (`designed`), or its validation and nodes
    /// (`compiled`).
    Show {
        /// The design id.
        #[arg(long, short = 'd')]
        design_id: String,
        /// `designed` or `compiled`.
        #[arg(long, short = 's', default_value = "designed", value_parser = ["designed", "compiled"])]
        source: String,
    },
}

/// `drydock part ...`.
#[derive(Debug, Args)]
pub struct PartArgs {
    /// Server and output options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: PartCommand,
}

/// The part subcommands.
#[derive(Debug, Subcommand)]
pub enum PartCommand {
    /// Add a YAML file to a design.
    Create {
        /// The design id.
        #[arg(long, short = 'd')]
        design_id: String,
        /// The YAML file.
        #[arg(long, short = 'f')]
        file: std::path::PathBuf,
    },
    /// List a design's parts.
    List {
        /// The design id.
        #[arg(long, short = 'd')]
        design_id: String,
    },
    /// Show the documents of one kind (and name) in a design.
    Show {
        /// The design id.
        #[arg(long, short = 'd')]
        design_id: String,
        /// The document kind, e.g. BaremetalNode.
        #[arg(long, short = 'k')]
        kind: String,
        /// The document name.
        #[arg(long, short = 'n')]
        name: Option<String>,
    },
}

/// Run `drydock validatedesign`: exit 0 when the design passes, 1 otherwise.
pub async fn validate(args: ValidateDesignArgs) -> ExitCode {
    let format = args.client.output;
    let result = async {
        let client = Client::connect(&args.client).await?;
        let href = match client.resolve_design(&args.design_ref).await? {
            Resolved::Ready(href) => href,
            Resolved::Refused(reason) => {
                eprintln!("{}: site design {} failed validation: {reason}", super::output::Style::stderr().error("error"), args.design_ref);
                return Ok(ExitCode::from(1));
            }
        };
        let (status, text) = client.call(Method::POST, "validatedesign", Some(&json!({"href": href}))).await?;
        let report: Value = match serde_json::from_str::<Value>(&text) {
            Ok(body)
                if matches!(status, 200 | 400)
                    && body.get("kind").and_then(Value::as_str) == Some("Status")
                    && body.get("details").is_some() =>
            {
                body
            }
            _ => return Err(Failure::Request(super::client::status_error(status, &text))),
        };
        let passed = report.get("status").and_then(Value::as_str) == Some("Success");
        match format {
            ClientOutput::Text => {
                let messages = report.pointer("/details/messageList").and_then(Value::as_array).cloned().unwrap_or_default();
                let rows: Vec<Vec<String>> = messages
                    .iter()
                    .filter(|message| message.get("level").and_then(Value::as_str) != Some("Info"))
                    .map(|message| vec![cell(message, "level"), cell(message, "name"), cell(message, "message")])
                    .collect();
                if !rows.is_empty() {
                    print_table(&["Level", "Rule", "Message"], &rows);
                }
                outln!(
                    "{} ({} error{})",
                    if passed { "Site design passed validation" } else { "Site design failed validation" },
                    report.pointer("/details/errorCount").and_then(Value::as_u64).unwrap_or(0),
                    if report.pointer("/details/errorCount").and_then(Value::as_u64) == Some(1) { "" } else { "s" }
                );
            }
            other => print_value(&report, other),
        }
        if passed {
            Ok(ExitCode::SUCCESS)
        } else {
            eprintln!("{}: site design {} failed validation", super::output::Style::stderr().error("error"), args.design_ref);
            Ok(ExitCode::from(1))
        }
    }
    .await;
    result.unwrap_or_else(Failure::report)
}

/// Run a design subcommand.
pub async fn design(args: DesignArgs) -> ExitCode {
    let format = args.client.output;
    let result = async {
        let client = Client::connect(&args.client).await?;
        match args.command {
            DesignCommand::Create { base_design_id } => {
                let body = json!({"base_design_id": base_design_id});
                let design = client.json(Method::POST, "designs", Some(&body)).await?;
                match format {
                    ClientOutput::Text => outln!("{}", cell(&design, "id")),
                    other => print_value(&design, other),
                }
            }
            DesignCommand::List => {
                let ids = client.pages("designs").await?;
                match format {
                    ClientOutput::Text => ids.iter().for_each(|id| outln!("{}", id.as_str().unwrap_or_default())),
                    other => print_value(&Value::Array(ids), other),
                }
            }
            DesignCommand::Show { design_id, source } => {
                let path = format!("designs/{}?source={source}", super::task::encode(&design_id));
                let design = client.json(Method::GET, &path, None).await?;
                match format {
                    ClientOutput::Text => print_design(&design),
                    other => print_value(&design, other),
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
    .await;
    result.unwrap_or_else(Failure::report)
}

/// Parts as a table.
fn print_parts(parts: &Value) {
    let rows: Vec<Vec<String>> = parts
        .as_array()
        .into_iter()
        .flatten()
        .map(|part| vec![cell(part, "sequence"), cell(part, "source"), cell(part, "bytes"), cell(part, "added")])
        .collect();
    print_table(&["Sequence", "Source", "Bytes", "Added"], &rows);
}

/// A design as text: id, creation, parts; for `compiled`, the validation
/// status and the node names.
fn print_design(design: &Value) {
    outln!("{:<10} {}", "Design ID", cell(design, "id"));
    outln!("{:<10} {}", "Created", cell(design, "created"));
    outln!("{:<10} {}", "Parts", cell(design, "part_count"));
    if let Some(validation) = design.get("validation") {
        outln!("{:<10} {}", "Validation", cell(validation, "status"));
        for message in validation.pointer("/details/messageList").and_then(Value::as_array).into_iter().flatten() {
            if message.get("error").and_then(Value::as_bool) == Some(true) {
                outln!("  error: {}", cell(message, "message"));
            }
        }
    }
    if let Some(nodes) = design.get("nodes").and_then(Value::as_array) {
        let names: Vec<&str> = nodes.iter().filter_map(Value::as_str).collect();
        outln!("{:<10} {} ({})", "Nodes", names.len(), names.join(", "));
    }
    if let Some(parts) = design.get("parts") {
        outln!();
        print_parts(parts);
    }
}

/// Run a part subcommand.
pub async fn part(args: PartArgs) -> ExitCode {
    let format = args.client.output;
    let result = async {
        let client = Client::connect(&args.client).await?;
        match args.command {
            PartCommand::Create { design_id, file } => {
                let content = std::fs::read(&file).map_err(|error| Failure::Usage(format!("cannot read {}: {error}", file.display())))?;
                let part = client
                    .post_yaml(&format!("designs/{}/parts", encode(&design_id)), &[("ingester", "yaml".to_string())], content)
                    .await?;
                match format {
                    ClientOutput::Text => print_parts(&Value::Array(vec![part])),
                    other => print_value(&part, other),
                }
            }
            PartCommand::List { design_id } => {
                let parts = client.json(Method::GET, &format!("designs/{}/parts", encode(&design_id)), None).await?;
                match format {
                    ClientOutput::Text => print_parts(&parts),
                    other => print_value(&parts, other),
                }
            }
            PartCommand::Show { design_id, kind, name } => {
                let mut path = format!("designs/{}/parts/{}", encode(&design_id), encode(&kind));
                if let Some(name) = &name {
                    path.push('/');
                    path.push_str(&encode(name));
                }
                let documents = client.json(Method::GET, &path, None).await?;
                print_value(&documents, if format == ClientOutput::Text { ClientOutput::Yaml } else { format });
            }
        }
        Ok(ExitCode::SUCCESS)
    }
    .await;
    result.unwrap_or_else(Failure::report)
}
