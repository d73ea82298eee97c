//! The validatedesign response body (compat: site-design spec §6.2): a
//! `Status` object whose `details.messageList` holds `ValidationMessage`s
//! and plain status messages. The typed structs here are both the body and
//! its OpenAPI schema.

use drydock_core::model::{Finding, Level};
use drydock_core::validate::{DesignReport, DesignStatus, ReportMessage};
use poem_openapi::types::{Example, ToJSON};
use poem_openapi::{Object, Union};
use serde_json::Value;

use super::task::{Zone, py_datetime};
use super::types::{AnyObject, Compat};

/// The HTTP status the original answers with for this report.
pub fn http_code(report: &DesignReport) -> u16 {
    if report.status == DesignStatus::Success { 200 } else { 400 }
}

/// A document a finding is about.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "FindingDocument")]
pub struct DocumentRef {
    /// The document's schema (`drydock/BaremetalNode/v1`, …).
    pub schema: String,
    /// Its `metadata.name`.
    pub name: String,
}

/// A finding (`kind: ValidationMessage`).
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "ValidationMessage")]
pub struct FindingBody {
    /// Always `ValidationMessage`.
    pub kind: String,
    /// The rule's code (`DD1001`, …).
    pub name: String,
    /// What was found.
    pub message: String,
    /// Whether it blocks the design (level `Error`).
    pub error: bool,
    // Severity. (A plain comment: see `wire::types` on enum fields.)
    #[allow(missing_docs)]
    pub level: Compat<Level>,
    /// How to fix it (may be empty).
    pub diagnostic: String,
    /// When (Python `str(datetime)`, `+00:00`).
    pub ts: String,
    /// The documents concerned.
    pub documents: Vec<DocumentRef>,
}

/// A plain message of a validation report.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "ValidationNote")]
pub struct PlainBody {
    /// The text.
    pub message: String,
    /// Whether it reports an error.
    pub error: bool,
    /// Always `NA`.
    pub context_type: String,
    /// Always `NA`.
    pub context: String,
    /// When (Python `str(datetime)`, `+00:00`).
    pub ts: String,
    /// Always empty.
    pub extra: AnyObject,
}

/// One message of a validation report: a finding or a plain message.
#[derive(Union, Debug, Clone, PartialEq)]
#[oai(one_of, rename = "ValidationReportMessage")]
pub enum MessageBody {
    /// A finding.
    Finding(FindingBody),
    /// A plain message.
    Plain(PlainBody),
}

/// The findings of a validation.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "ValidationDetails")]
pub struct DetailsBody {
    /// How many findings are errors.
    #[oai(rename = "errorCount")]
    pub error_count: i64,
    /// The findings and messages.
    #[oai(rename = "messageList")]
    pub message_list: Vec<MessageBody>,
}

/// The validatedesign report, a Status document (compat §1.3.12): `code`
/// 200 with status `Success`, else 400.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "ValidationStatus", example)]
pub struct ReportBody {
    /// Always `Status`.
    pub kind: String,
    /// Always `v1.0`.
    #[oai(rename = "apiVersion")]
    pub api_version: String,
    /// Always empty.
    pub metadata: AnyObject,
    /// A summary, when set.
    #[oai(nullable)]
    pub message: Option<String>,
    /// Why, when set.
    #[oai(nullable)]
    pub reason: Option<String>,
    /// The outcome: `Success`, `Failure`, or `failure` (lowercase) when the
    /// design could not be evaluated (a string, not an enum: two values
    /// differ only by case).
    pub status: Compat<DesignStatus>,
    /// The findings.
    pub details: DetailsBody,
    /// The HTTP status of the answer: 200 or 400.
    pub code: i64,
}

impl Example for ReportBody {
    fn example() -> Self {
        let mut finding = Finding::new("DD1001", Level::Error, "Node compute01 has no network link for interface pxe", "");
        finding.timestamp = chrono::DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default();
        let report = DesignReport {
            status: DesignStatus::Failure,
            message: Some("Site design validation failed".into()),
            reason: Some("Validation".into()),
            error_count: 1,
            messages: vec![ReportMessage::Finding(finding)],
        };
        report_typed(&report)
    }
}

/// The whole body, typed.
pub fn report_typed(report: &DesignReport) -> ReportBody {
    ReportBody {
        kind: "Status".into(),
        api_version: "v1.0".into(),
        metadata: AnyObject::default(),
        message: report.message.clone(),
        reason: report.reason.clone(),
        status: Compat(report.status),
        details: DetailsBody { error_count: report.error_count as i64, message_list: report.messages.iter().map(message_body).collect() },
        code: i64::from(http_code(report)),
    }
}

/// The whole body as JSON (the CLI's `validate -o json`).
pub fn report_body(report: &DesignReport) -> Value {
    report_typed(report).to_json().unwrap_or(Value::Null)
}

/// One message.
pub fn message_body(message: &ReportMessage) -> MessageBody {
    match message {
        ReportMessage::Finding(finding) => MessageBody::Finding(finding_body(finding)),
        ReportMessage::Plain { message, error, timestamp } => MessageBody::Plain(PlainBody {
            message: message.clone(),
            error: *error,
            context_type: "NA".into(),
            context: "NA".into(),
            ts: py_datetime(timestamp, Zone::Aware),
            extra: AnyObject::default(),
        }),
    }
}

/// A `ValidationMessage`.
pub fn finding_body(finding: &Finding) -> FindingBody {
    FindingBody {
        kind: "ValidationMessage".into(),
        name: finding.code.to_owned(),
        message: finding.message.clone(),
        error: finding.is_error(),
        level: Compat(finding.level),
        diagnostic: finding.diagnostic.clone(),
        ts: py_datetime(&finding.timestamp, Zone::Aware),
        documents: finding.documents.iter().map(|doc| DocumentRef { schema: doc.schema.clone(), name: doc.name.clone() }).collect(),
    }
}
