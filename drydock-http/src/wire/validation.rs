//! The validatedesign response body (compat: site-design spec §6.2): a
//! `Status` object whose `details.messageList` holds `ValidationMessage`s
//! and plain status messages.

use drydock_core::model::Finding;
use drydock_core::validate::{DesignReport, DesignStatus, ReportMessage};
use serde_json::{Value, json};

use super::task::{Zone, py_datetime};

/// The HTTP status the original answers with for this report.
pub fn http_code(report: &DesignReport) -> u16 {
    if report.status == DesignStatus::Success { 200 } else { 400 }
}

/// The whole body.
pub fn report_body(report: &DesignReport) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1.0",
        "metadata": {},
        "message": report.message,
        "reason": report.reason,
        "status": report.status.as_str(),
        "details": {
            "errorCount": report.error_count,
            "messageList": report.messages.iter().map(message_body).collect::<Vec<_>>(),
        },
        "code": http_code(report),
    })
}

/// One message.
pub fn message_body(message: &ReportMessage) -> Value {
    match message {
        ReportMessage::Finding(finding) => finding_body(finding),
        ReportMessage::Plain { message, error, timestamp } => json!({
            "message": message,
            "error": error,
            "context_type": "NA",
            "context": "NA",
            "ts": py_datetime(timestamp, Zone::Aware),
            "extra": {},
        }),
    }
}

/// A `ValidationMessage`.
pub fn finding_body(finding: &Finding) -> Value {
    json!({
        "kind": "ValidationMessage",
        "name": finding.code,
        "message": finding.message,
        "error": finding.is_error(),
        "level": finding.level.as_str(),
        "diagnostic": finding.diagnostic,
        "ts": py_datetime(&finding.timestamp, Zone::Aware),
        "documents": finding.documents.iter().map(|doc| json!({"schema": doc.schema, "name": doc.name})).collect::<Vec<_>>(),
    })
}
