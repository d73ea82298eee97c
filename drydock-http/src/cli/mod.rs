//! The `drydock` command tree (clap). Each subcommand lives in its own file
//! and returns an exit code; `main` only parses, sets up logging and
//! dispatches.
//!
//! Results go to standard output through `outln!` and `out!` (never
//! `println!`): when the reader has gone away (`drydock … | head`), the
//! command stops quietly with success instead of panicking on the broken
//! pipe.

/// `println!` for command results: see [`output::write_out`].
macro_rules! outln {
    () => {
        $crate::cli::output::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for command results: see [`output::write_out`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write_out(format_args!($($arg)*))
    };
}

pub mod client;
pub mod config;
pub mod db;
pub mod design;
pub mod json_log;
pub mod lab;
pub mod load;
pub mod logging;
pub mod node;
pub mod oslo;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod output;
pub mod render;
pub mod serve;
pub mod shell;
pub mod store;
pub mod task;
pub mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Drydock: declarative bare-metal provisioning.
#[derive(Debug, Parser)]
#[command(name = "drydock", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a site design: ingest, compile and run every validation rule.
    Validate(validate::ValidateArgs),
    /// Render a Pegleg site repository as Deckhand does (layering,
    /// substitution, replacement) and print the documents.
    Render(render::RenderArgs),
    /// Run the /api/v1.0 REST server and the orchestrator.
    Serve(Box<serve::ServeArgs>),
    /// Validate a site design on a Drydock server (`POST /validatedesign`).
    Validatedesign(design::ValidateDesignArgs),
    /// Tasks on a Drydock server.
    Task(task::TaskArgs),
    /// Nodes known to a Drydock server.
    Node(node::NodeArgs),
    /// Designs stored on a Drydock server.
    Design(design::DesignArgs),
    /// Parts of a stored design.
    Part(design::PartArgs),
    /// Configuration files.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Simulated labs for trying Drydock without hardware.
    #[command(subcommand)]
    Lab(lab::LabCommand),
    /// The embedded store file (`drydock store check PATH`).
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// The PostgreSQL store's schema (`drydock db migrate`, the db-sync job).
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions(shell::CompletionsArgs),
    /// Print the man page (roff).
    Man,
}

/// Parse the command line; for `serve --config FILE`, the file's options
/// are added below the command line and the environment.
fn parse() -> Result<Cli, ExitCode> {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().get_matches();
    if let Some(("serve", serve)) = matches.subcommand()
        && (serve.contains_id("config") || serve.contains_id("config_file"))
    {
        let fail = |error: String| {
            eprintln!("error: {error}");
            ExitCode::from(2)
        };
        let mut extra = match serve.get_one::<std::path::PathBuf>("config") {
            Some(path) => config::file_arguments(path, serve).map_err(fail)?,
            None => Vec::new(),
        };
        if let Some(path) = serve.get_one::<std::path::PathBuf>("config_file") {
            let (oslo, ignored) = config::oslo_arguments(path, serve, &extra).map_err(fail)?;
            if !ignored.is_empty() {
                eprintln!("note: {} options with no counterpart in drydock serve (ignored): {}", path.display(), ignored.join(", "));
            }
            extra.extend(oslo);
        }
        let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
        let at = argv.iter().position(|arg| arg == "serve").map_or(argv.len(), |index| index + 1);
        argv.splice(at..at, extra);
        return Ok(Cli::parse_from(argv));
    }
    Cli::from_arg_matches(&matches).map_err(|error| error.exit())
}

/// Parse the command line and run it.
pub fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Validate(args) => validate::run(args).await,
            Command::Render(args) => render::run(args).await,
            Command::Lab(command) => lab::run(command).await,
            Command::Store(command) => store::run(command),
            Command::Db(command) => db::run(command).await,
            Command::Completions(args) => shell::completions(&args),
            Command::Man => shell::man(),
            Command::Serve(args) => serve::run(*args).await,
            Command::Config(command) => config::run(command),
            Command::Validatedesign(args) => design::validate(args).await,
            Command::Task(args) => task::run(args).await,
            Command::Node(args) => node::run(args).await,
            Command::Design(args) => design::design(args).await,
            Command::Part(args) => design::part(args).await,
        }
    });
    // Work stuck in blocking I/O (a hung file system, a BMC library call)
    // must not keep the process alive once the command is done: it gets a
    // moment to finish, then the process exits regardless.
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_GRACE);
    code
}

/// How long blocking work may run on after a command has finished.
const RUNTIME_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);
