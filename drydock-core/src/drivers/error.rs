//! `DriverError`: what went wrong talking to a BMC, provisioner or cluster,
//! with a [`DriverErrorKind`] that retry policies and results act on.
//! Messages name the node or endpoint, never a credential.

/// What the caller should do about a driver error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DriverErrorKind {
    /// Unreachable, busy, a 5xx: retrying may work.
    Transient,
    /// The request can never succeed as made.
    Permanent,
    /// Credentials refused; retrying will not help.
    Auth,
    /// The driver cannot do this (for this node or at all).
    Unsupported,
    /// The node, machine or resource does not exist.
    NotFound,
}

/// A driver failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} on {target} failed: {detail}")]
pub struct DriverError {
    /// What kind of failure.
    pub kind: DriverErrorKind,
    /// The operation (`power_state`, `deploy`, …).
    pub operation: &'static str,
    /// The node or endpoint (a BMC address, the MaaS URL) — never a secret.
    pub target: String,
    /// What happened.
    pub detail: String,
}

impl DriverError {
    /// A new error.
    pub fn new(kind: DriverErrorKind, operation: &'static str, target: impl Into<String>, detail: impl Into<String>) -> Self {
        DriverError { kind, operation, target: target.into(), detail: detail.into() }
    }

    /// The error's kind.
    pub fn kind(&self) -> DriverErrorKind {
        self.kind
    }

    /// Whether a retry may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind == DriverErrorKind::Transient
    }

    /// "Not supported by this driver".
    pub fn unsupported(operation: &'static str, target: impl Into<String>) -> Self {
        DriverError::new(DriverErrorKind::Unsupported, operation, target, "not supported by this driver")
    }
}
