//! `drydock node list` (the original's table columns) and `drydock node
//! builddata NODE [--latest/--no-latest]` through the API.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;

use super::client::{Client, ClientArgs, ClientOutput, Failure, cell, print_table, print_value};

/// `drydock node ...`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Server and output options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: NodeCommand,
}

/// The node subcommands.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// List the machines the node provisioner knows.
    List,
    /// Print a node's build data.
    Builddata(BuildDataArgs),
}

/// Arguments of `node builddata`.
#[derive(Debug, Args)]
pub struct BuildDataArgs {
    /// The node's hostname.
    pub node_name: String,
    /// Only the newest record per generator (the default).
    #[arg(long, overrides_with = "no_latest")]
    pub latest: bool,
    /// Every record.
    #[arg(long, overrides_with = "latest")]
    pub no_latest: bool,
}

/// The columns of `node list` and the fields they show.
pub const COLUMNS: [(&str, &str); 8] = [
    ("Node Name", "hostname"),
    ("Status", "status_name"),
    ("CPUs", "cpu_count"),
    ("Memory", "memory"),
    ("PXE MAC", "boot_mac"),
    ("Mgmt IP", "boot_ip"),
    ("IPMI IP", "power_address"),
    ("Power State", "power_state"),
];

/// Run a node subcommand.
pub async fn run(args: NodeArgs) -> ExitCode {
    let format = args.client.output;
    let result = async {
        let client = Client::connect(&args.client).await?;
        match args.command {
            NodeCommand::List => {
                let nodes = client.json(Method::GET, "nodes", None).await?;
                match format {
                    ClientOutput::Text => {
                        let rows: Vec<Vec<String>> = nodes
                            .as_array()
                            .map(|nodes| nodes.iter().map(|node| COLUMNS.iter().map(|(_, key)| cell(node, key)).collect()).collect())
                            .unwrap_or_default();
                        print_table(&COLUMNS.map(|(title, _)| title), &rows);
                    }
                    other => print_value(&nodes, other),
                }
            }
            NodeCommand::Builddata(data) => {
                let latest = if data.no_latest { "False" } else { "True" };
                let path = format!("nodes/{}/builddata", super::task::encode(&data.node_name));
                let value: Value = client.get_query(&path, &[("latest", latest.to_string())]).await?;
                print_value(&value, if format == ClientOutput::Text { ClientOutput::Yaml } else { format });
            }
        }
        Ok(ExitCode::SUCCESS)
    }
    .await;
    result.unwrap_or_else(Failure::report)
}
