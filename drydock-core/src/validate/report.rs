//! Evaluating a design end to end — ingest, compile, validate — into the
//! status report the validatedesign API returns (compat: site-design spec
//! §1.6, §3.1, §6.2). The report is plain data; the HTTP layer owns its JSON.

use std::sync::Arc;

use crate::compile::{EffectiveSite, compile};
use crate::ingest::{IngestError, Ingested, Ingester};
use crate::model::Finding;

use super::{ValidationOptions, validate};

/// The overall outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DesignStatus {
    /// Validation ran and found no error.
    Success,
    /// Validation ran and found errors.
    Failure,
    /// Ingestion failed, or the effective site could not be built
    /// (the original's lowercase `failure`).
    NotEvaluated,
}

impl DesignStatus {
    /// The compat string (`Success`, `Failure`, `failure`).
    pub fn as_str(self) -> &'static str {
        match self {
            DesignStatus::Success => "Success",
            DesignStatus::Failure => "Failure",
            DesignStatus::NotEvaluated => "failure",
        }
    }
}

/// One message of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportMessage {
    /// An ingestion or validation finding (wire kind `ValidationMessage`).
    Finding(Finding),
    /// A plain status message (the effective-site failure).
    Plain {
        /// The text.
        message: String,
        /// Whether it is an error.
        error: bool,
        /// When it was made.
        timestamp: chrono::DateTime<chrono::Utc>,
    },
}

impl ReportMessage {
    /// Whether the message is an error.
    pub fn is_error(&self) -> bool {
        match self {
            ReportMessage::Finding(finding) => finding.is_error(),
            ReportMessage::Plain { error, .. } => *error,
        }
    }

    /// The message text.
    pub fn message(&self) -> &str {
        match self {
            ReportMessage::Finding(finding) => &finding.message,
            ReportMessage::Plain { message, .. } => message,
        }
    }
}

/// The result of evaluating a design.
#[derive(Debug, Clone, PartialEq)]
pub struct DesignReport {
    /// Overall status.
    pub status: DesignStatus,
    /// `Site design passed validation` / `Site design failed validation.`;
    /// `None` when validation did not run.
    pub message: Option<String>,
    /// `See detail messages.` on failure.
    pub reason: Option<String>,
    /// Number of error messages.
    pub error_count: usize,
    /// Every message in order.
    pub messages: Vec<ReportMessage>,
}

impl DesignReport {
    /// Whether the design is usable (status exactly `Success`).
    pub fn is_success(&self) -> bool {
        self.status == DesignStatus::Success
    }

    /// The findings (excluding plain messages).
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.messages.iter().filter_map(|message| match message {
            ReportMessage::Finding(finding) => Some(finding),
            ReportMessage::Plain { .. } => None,
        })
    }
}

/// A report and, when compilation succeeded, the effective site it is about.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The report.
    pub report: DesignReport,
    /// The effective site, shared and immutable.
    pub site: Option<Arc<EffectiveSite>>,
}

/// Evaluate an ingested design.
pub fn evaluate(ingested: Ingested, options: &ValidationOptions) -> Evaluation {
    let mut messages: Vec<ReportMessage> = ingested.findings.into_iter().map(ReportMessage::Finding).collect();
    if messages.iter().any(ReportMessage::is_error) {
        let error_count = messages.iter().filter(|message| message.is_error()).count();
        let report = DesignReport { status: DesignStatus::NotEvaluated, message: None, reason: None, error_count, messages };
        return Evaluation { report, site: None };
    }
    let site = match compile(ingested.design) {
        Ok(site) => site,
        Err(error) => {
            messages.push(ReportMessage::Plain {
                message: format!("Error loading effective site: {error}"),
                error: true,
                timestamp: chrono::Utc::now(),
            });
            let error_count = messages.iter().filter(|message| message.is_error()).count();
            let report = DesignReport { status: DesignStatus::NotEvaluated, message: None, reason: None, error_count, messages };
            return Evaluation { report, site: None };
        }
    };
    messages.extend(validate(&site, options).into_iter().map(ReportMessage::Finding));
    let error_count = messages.iter().filter(|message| message.is_error()).count();
    let report = if error_count == 0 {
        DesignReport {
            status: DesignStatus::Success,
            message: Some("Site design passed validation".into()),
            reason: None,
            error_count,
            messages,
        }
    } else {
        DesignReport {
            status: DesignStatus::Failure,
            message: Some("Site design failed validation.".into()),
            reason: Some("See detail messages.".into()),
            error_count,
            messages,
        }
    };
    Evaluation { report, site: Some(Arc::new(site)) }
}

/// Ingest and evaluate a YAML stream.
pub fn evaluate_str(
    ingester: &Ingester,
    text: &str,
    source_name: Option<&str>,
    options: &ValidationOptions,
) -> Result<Evaluation, IngestError> {
    Ok(evaluate(ingester.ingest_str(text, source_name)?, options))
}
