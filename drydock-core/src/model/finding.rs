//! Findings: what ingestion and validation report about a design (a DD code,
//! a level, a message, a hint and the documents it is about).
//!
//! Findings are data, not errors: a bad document is ordinary input.

use std::sync::Arc;

use crate::ids::DocRef;

/// Severity of a finding (compat: site-design spec §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Level {
    /// Blocks the design.
    Error,
    /// Worth a look; does not block.
    Warning,
    /// A rule passed.
    Info,
}

impl Level {
    /// The compat spelling (`Error`, `Warning`, `Info`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "Error",
            Level::Warning => "Warning",
            Level::Info => "Info",
        }
    }
}

/// A position in a source file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct SourceLocation {
    /// File name or design reference, when known.
    pub file: Option<Arc<str>>,
    /// 1-based line.
    pub line: u32,
}

impl std::fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{file}:{}", self.line),
            None => write!(f, "line {}", self.line),
        }
    }
}

/// One ingestion or validation finding.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    /// The DD code (`DD2002`); codes are not unique across rules.
    pub code: &'static str,
    /// The rule's long name (`IP Locality Check`) for validation findings.
    pub rule: Option<&'static str>,
    /// Severity.
    pub level: Level,
    /// The full message, including the rule's long-name prefix.
    pub message: String,
    /// The hint (upstream's `diagnostic`); may be empty.
    pub diagnostic: String,
    /// The documents the finding is about, in the original's order.
    pub documents: Vec<DocRef>,
    /// Where the first cited document (or the offending field) is.
    pub location: Option<SourceLocation>,
    /// When the finding was made.
    pub timestamp: chrono::DateTime<chrono::Utc>,
}

impl Finding {
    /// A finding with no documents yet.
    pub fn new(code: &'static str, level: Level, message: impl Into<String>, diagnostic: impl Into<String>) -> Self {
        Finding {
            code,
            rule: None,
            level,
            message: message.into(),
            diagnostic: diagnostic.into(),
            documents: Vec::new(),
            location: None,
            timestamp: chrono::Utc::now(),
        }
    }

    /// Whether the finding is an error.
    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }

    /// Add a cited document; the first one with a location sets ours.
    pub fn cite(mut self, meta: &super::DocMeta) -> Self {
        self.documents.push(meta.doc_ref.clone());
        if self.location.is_none() {
            self.location = meta.location.clone();
        }
        self
    }

    /// Set the location explicitly (a field's line).
    pub fn at(mut self, location: Option<SourceLocation>) -> Self {
        if location.is_some() {
            self.location = location;
        }
        self
    }
}
