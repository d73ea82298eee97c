//! Boot actions (compat: site-design spec §5, api spec §4.7): what a
//! deployed node fetches after its OS is installed. Identity keys and action
//! ids, the asset pipelines, Jinja2-compatible templates over the node's
//! context, package lists, and the GNU tarballs the API serves.
//!
//! Rendering is pure except for assets with a `location`, which are fetched
//! through the design-reference resolver ([`crate::ingest::source`]).

pub mod cloudinit;
pub mod context;
pub mod packages;
pub(crate) mod pipeline;
pub mod render;
pub mod tarball;

use std::fmt;

pub use context::{ActionIdentity, template_context};
pub use render::{RenderedAsset, render_assets};

/// A node's 32-byte identity key for one deployment (hex on the wire, in
/// the `X-Bootaction-Key` header). Never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityKey([u8; 32]);

impl IdentityKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        IdentityKey(rand::random())
    }

    /// From 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        IdentityKey(bytes)
    }

    /// Parse 64 hex characters (either case).
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(IdentityKey(bytes))
    }

    /// The raw bytes (the compat schema stores `bytea`).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex characters, for templates and the node.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Compare with a presented hex key in constant time.
    pub fn matches_hex(&self, presented: &str) -> bool {
        match IdentityKey::from_hex(presented) {
            Some(other) => self.0.iter().zip(other.0.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0,
            None => false,
        }
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityKey(***)")
    }
}

/// Why an asset could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootActionError {
    /// A pipeline segment got the wrong input or bad data.
    #[error("Error when running bootaction pipeline segment {segment}: {detail} (boot action {action}, asset {asset})")]
    Pipeline {
        /// The boot action.
        action: String,
        /// The asset's position.
        asset: usize,
        /// The segment.
        segment: &'static str,
        /// What failed.
        detail: String,
    },
    /// A template failed to parse or render.
    #[error("template error in boot action {action}, asset {asset}: {detail}")]
    Template {
        /// The boot action.
        action: String,
        /// The asset's position.
        asset: usize,
        /// The engine's message.
        detail: String,
    },
    /// The asset's location could not be fetched.
    #[error("cannot fetch the location of boot action {action}, asset {asset}")]
    Location {
        /// The boot action.
        action: String,
        /// The asset's position.
        asset: usize,
        /// Why.
        #[source]
        source: crate::ingest::source::SourceError,
    },
    /// A fetched package list is malformed.
    #[error("package list of boot action {action}, asset {asset}: {detail}")]
    PackageList {
        /// The boot action.
        action: String,
        /// The asset's position.
        asset: usize,
        /// What is wrong.
        detail: String,
    },
    /// A unit or file asset has no target path.
    #[error("asset {asset} of boot action {action} has no path")]
    MissingPath {
        /// The boot action.
        action: String,
        /// The asset's position.
        asset: usize,
    },
    /// The node has an addressing entry on a network the design lacks.
    #[error("node {node} has an address on network {network}, which is not defined")]
    UnknownNetwork {
        /// The node.
        node: String,
        /// The network.
        network: String,
    },
    /// Writing the tarball failed.
    #[error("cannot build the tarball")]
    Tarball(#[source] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hex_and_never_printed() {
        let key = IdentityKey::generate();
        let text = key.to_hex();
        assert_eq!(text.len(), 64);
        assert!(key.matches_hex(&text));
        assert!(key.matches_hex(&text.to_uppercase()));
        assert!(!key.matches_hex(&"0".repeat(64)));
        assert!(!key.matches_hex("zz"));
        assert_eq!(format!("{key:?}"), "IdentityKey(***)");
    }
}
