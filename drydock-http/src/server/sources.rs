//! Design references the server resolves itself: `design://ID` names a
//! design stored through the designs API (its parts, in order, as one
//! stream). This is how `drydock task create -d LOCAL_FILE` works against a
//! remote server without the server reading the client's file system: the
//! CLI uploads the file and refers to the stored design. Every other
//! reference goes to the inner source, under the server's reference policy.

use std::sync::Arc;

use async_trait::async_trait;
use drydock_core::ids::{DesignRef, TaskId};
use drydock_core::ingest::source::{DesignSource, SourceBytes, SourceError};
use drydock_core::store::{StateStore, StoreErrorKind};
use drydock_core::task::records::DesignPart;

/// The scheme of stored designs.
pub const STORED_SCHEME: &str = "design://";

/// Stored designs first, then `inner`.
pub struct StoredDesignSource {
    store: Arc<dyn StateStore>,
    inner: Arc<dyn DesignSource>,
}

impl StoredDesignSource {
    /// Resolve `design://ID` from `store`, everything else through `inner`.
    pub fn new(store: Arc<dyn StateStore>, inner: Arc<dyn DesignSource>) -> Self {
        StoredDesignSource { store, inner }
    }
}

/// A stored design's parts as one YAML stream (each part ends its last
/// document; parts are joined by document markers).
pub fn stream_of(parts: &[DesignPart]) -> Vec<u8> {
    let mut content = Vec::with_capacity(parts.iter().map(|part| part.content.len() + 5).sum());
    for part in parts {
        content.extend_from_slice(&part.content);
        if !content.ends_with(b"\n") {
            content.push(b'\n');
        }
        content.extend_from_slice(b"---\n");
    }
    content
}

#[async_trait]
impl DesignSource for StoredDesignSource {
    async fn fetch(&self, reference: &DesignRef) -> Result<SourceBytes, SourceError> {
        let Some(id) = reference.as_str().strip_prefix(STORED_SCHEME) else {
            return self.inner.fetch(reference).await;
        };
        let not_found = || SourceError::NotFound { reference: reference.to_string() };
        let id: TaskId = id.trim_end_matches('/').parse().map_err(|_| not_found())?;
        let parts = self.store.design_parts(id).await.map_err(|error| match error.kind() {
            StoreErrorKind::NotFound => not_found(),
            _ => SourceError::Unreachable { reference: reference.to_string(), detail: error.to_string() },
        })?;
        if parts.is_empty() {
            // A design without parts: nothing to read (a design that does
            // not exist also reads as no parts in some stores).
            self.store.design_get(id).await.map_err(|_| not_found())?;
        }
        Ok(SourceBytes { bytes: stream_of(&parts), name: reference.to_string() })
    }
}
