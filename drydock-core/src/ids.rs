//! Typed identifiers shared across the crate: task ids (UUIDs, feature
//! `runtime`), boot-action ids (ULIDs, feature `bootaction`), node names, design references and document references, plus the
//! redacting [`Secret`] wrapper for credentials.
//!
//! Rank 0: this module imports nothing else from the crate.

use std::fmt;
#[cfg(any(feature = "bootaction", feature = "runtime"))]
use std::str::FromStr;

/// A task identifier: a UUID v4, lowercase and hyphenated on the wire, 16
/// raw bytes in the compat database (compat: api spec §0.2).
#[cfg(feature = "runtime")]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub uuid::Uuid);

#[cfg(feature = "runtime")]
impl TaskId {
    /// A fresh random id.
    pub fn generate() -> Self {
        TaskId(uuid::Uuid::new_v4())
    }

    /// The 16 raw bytes (the PostgreSQL compat schema stores `bytea`).
    pub fn to_bytes(self) -> [u8; 16] {
        *self.0.as_bytes()
    }

    /// From 16 raw bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        TaskId(uuid::Uuid::from_bytes(bytes))
    }
}

#[cfg(feature = "runtime")]
impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

#[cfg(feature = "runtime")]
impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskId({})", self.0.hyphenated())
    }
}

#[cfg(feature = "runtime")]
impl FromStr for TaskId {
    type Err = InvalidId;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(text).map(TaskId).map_err(|_| InvalidId { text: text.to_owned() })
    }
}

/// The text was not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a valid id")]
pub struct InvalidId {
    /// The rejected text (ids are not secret).
    pub text: String,
}

/// A boot-action instance id: a ULID, 26 upper-case base32 characters
/// (compat: site-design spec §5.2).
#[cfg(feature = "bootaction")]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BootActionId(pub ulid::Ulid);

#[cfg(feature = "bootaction")]
impl BootActionId {
    /// A fresh id.
    pub fn generate() -> Self {
        BootActionId(ulid::Ulid::generate())
    }
}

#[cfg(feature = "bootaction")]
impl fmt::Display for BootActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(feature = "bootaction")]
impl fmt::Debug for BootActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BootActionId({})", self.0)
    }
}

#[cfg(feature = "bootaction")]
impl FromStr for BootActionId {
    type Err = InvalidId;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ulid::Ulid::from_string(text).map(BootActionId).map_err(|_| InvalidId { text: text.to_owned() })
    }
}

/// The name of a baremetal node, which is also its hostname.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct NodeName(pub String);

impl NodeName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for NodeName {
    fn from(name: &str) -> Self {
        NodeName(name.to_owned())
    }
}

/// A design reference: a URL naming where the site design lives
/// (`file:///…`, a plain path, `http(s)://…`, `deckhand+http(s)://…`).
///
/// Its `Display` hides any `user:password@` part so it is safe to log.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct DesignRef(pub String);

impl DesignRef {
    /// The reference exactly as given (may contain credentials: do not log).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The reference with any `user:password@` userinfo replaced by `***@`.
    pub fn redacted(&self) -> String {
        let text = &self.0;
        let Some(scheme_end) = text.find("://") else {
            return text.clone();
        };
        let authority_start = scheme_end + 3;
        let rest = &text[authority_start..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => format!("{}***@{}", &text[..authority_start], &rest[at + 1..]),
            None => text.clone(),
        }
    }
}

impl From<&str> for DesignRef {
    fn from(reference: &str) -> Self {
        DesignRef(reference.to_owned())
    }
}

impl From<String> for DesignRef {
    fn from(reference: String) -> Self {
        DesignRef(reference)
    }
}

impl fmt::Display for DesignRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DesignRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DesignRef({})", self.redacted())
    }
}

/// A reference to one design document: its full schema string
/// (`drydock/BaremetalNode/v1`) and its `metadata.name`
/// (compat: site-design spec §1.4).
#[derive(Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, serde::Serialize)]
pub struct DocRef {
    /// The document's `schema` (Deckhand) or `drydock/<kind>/v1` (legacy).
    pub schema: String,
    /// The document's `metadata.name`, or `Unknown` when absent.
    pub name: String,
}

impl DocRef {
    /// A reference for `drydock/<kind>/v1` named `name`.
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        DocRef { schema: schema.into(), name: name.into() }
    }
}

impl fmt::Display for DocRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} '{}'", self.schema, self.name)
    }
}

/// A secret value (BMC password, MaaS API key, token, boot-action key) that
/// never shows itself in `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_ref_hides_credentials() {
        let design = DesignRef("https://user:hunter2@deckhand.example/api/v1.0/revisions/1".into());
        assert_eq!(design.to_string(), "https://***@deckhand.example/api/v1.0/revisions/1");
        assert!(!format!("{design:?}").contains("hunter2"));
        let plain = DesignRef("file:///srv/site.yaml".into());
        assert_eq!(plain.to_string(), "file:///srv/site.yaml");
    }

    #[test]
    fn secret_never_prints() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret} {secret:?}"), "*** Secret(***)");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[cfg(feature = "runtime")]
    #[test]
    fn task_id_round_trips() {
        let id = TaskId::generate();
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(text, text.to_lowercase());
        assert_eq!(text.parse::<TaskId>().unwrap(), id);
        assert_eq!(TaskId::from_bytes(id.to_bytes()), id);
        assert!("not-a-ulid".parse::<TaskId>().is_err());
    }
}
