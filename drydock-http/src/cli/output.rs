//! Terminal output helpers: output formats and colour (only on a terminal,
//! never when `NO_COLOR` is set).

use std::io::IsTerminal;

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Readable text.
    #[default]
    Text,
    /// JSON for scripts.
    Json,
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
