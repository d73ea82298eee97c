//! Terminal output helpers: output formats and colour (only on a terminal,
//! never when `NO_COLOR` is set).

use std::io::{IsTerminal, Write};

/// Write a command's result to standard output. A reader that has gone
/// away (a closed pipe: `drydock validate -o json | head`) ends the command
/// at once with success — nothing more can be said to it, and the error is
/// not the command's; any other write error ends it with exit code 1 and a
/// message on standard error. Never a panic.
pub fn write_out(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        let _ = writeln!(std::io::stderr(), "error: cannot write the output: {error}");
        std::process::exit(1);
    }
}

/// How a command prints its result: one set of `-o` values for every
/// command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Readable text, tables for lists (`table` is the same).
    #[default]
    #[value(alias = "table")]
    Text,
    /// JSON for scripts (an API command prints the API's body).
    Json,
    /// YAML (the same content as JSON).
    Yaml,
}

/// ANSI styling that switches itself off when stdout is not a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    enabled: bool,
}

impl Style {
    /// Style for stdout.
    pub fn stdout() -> Self {
        Style { enabled: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() }
    }

    /// Style for stderr.
    pub fn stderr() -> Self {
        Style { enabled: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.enabled { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }

    /// Bold red.
    pub fn error(self, text: &str) -> String {
        self.paint("1;31", text)
    }

    /// Bold yellow.
    pub fn warning(self, text: &str) -> String {
        self.paint("1;33", text)
    }

    /// Blue.
    pub fn info(self, text: &str) -> String {
        self.paint("34", text)
    }

    /// Dim.
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    /// Bold green.
    pub fn success(self, text: &str) -> String {
        self.paint("1;32", text)
    }
}
