//! `drydock completions SHELL` and `drydock man`: shell completions and a
//! man page (roff), both generated from the clap command tree, so they never
//! drift from the commands.

use std::process::ExitCode;

use clap::{Args, CommandFactory};

/// `drydock completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell. Install with e.g.
    /// `drydock completions bash > /etc/bash_completion.d/drydock`.
    pub shell: clap_complete::Shell,
}

/// Print the completion script for `args.shell`.
pub fn completions(args: &CompletionsArgs) -> ExitCode {
    let mut command = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "drydock", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    ExitCode::SUCCESS
}

/// Print the man page `drydock(1)` (install with
/// `drydock man > /usr/local/share/man/man1/drydock.1`): the commands, their
/// options and the subcommands, as `drydock --help` shows them.
pub fn man() -> ExitCode {
    let mut page = Vec::new();
    if let Err(error) = clap_mangen::Man::new(super::Cli::command()).render(&mut page) {
        eprintln!("error: cannot render the man page: {error}");
        return ExitCode::from(2);
    }
    out!("{}", String::from_utf8_lossy(&page));
    ExitCode::SUCCESS
}
