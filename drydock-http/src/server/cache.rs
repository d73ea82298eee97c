//! Stored designs' parsed documents, cached by design id and part count
//! (parts are only ever appended, so the two name one content). Evaluated
//! designs live in `drydock_core::designs::DesignService`, shared with the
//! orchestrator; the parsing here runs on that service's workers, so all of
//! the server's CPU-heavy design work is bounded together.

use std::sync::Arc;

use drydock_core::designs::{DesignWorkers, EvaluateError, Recent};

/// One document of a stored design: its kind (from `schema`, or `kind`),
/// its `metadata.name` and the document itself.
#[derive(Debug)]
pub struct StoredDocument {
    /// `BaremetalNode`, `Network`, …
    pub kind: String,
    /// `metadata.name` (empty when absent).
    pub name: String,
    /// The document as JSON.
    pub document: serde_json::Value,
}

/// The parsed documents of recently read stored designs, by design id and
/// part count.
pub struct DocumentCache {
    entries: Recent<(drydock_core::ids::TaskId, usize), Arc<Vec<StoredDocument>>>,
    workers: DesignWorkers,
}

impl std::fmt::Debug for DocumentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentCache").field("capacity", &self.entries.capacity()).finish_non_exhaustive()
    }
}

impl DocumentCache {
    /// A cache of at most `capacity` designs, parsed by `workers`.
    pub fn new(capacity: usize, workers: DesignWorkers) -> DocumentCache {
        DocumentCache { entries: Recent::new(capacity), workers }
    }

    /// The documents of design `id` with `part_count` parts, if cached.
    pub fn cached(&self, id: drydock_core::ids::TaskId, part_count: usize) -> Option<Arc<Vec<StoredDocument>>> {
        self.entries.get(|key| *key == (id, part_count))
    }

    /// Parse the documents of design `id` with `part_count` parts on a
    /// blocking thread, and keep them.
    pub async fn parse(
        &self,
        id: drydock_core::ids::TaskId,
        part_count: usize,
        parse: impl FnOnce() -> Result<Vec<StoredDocument>, String> + Send + 'static,
    ) -> Result<Arc<Vec<StoredDocument>>, EvaluateError> {
        let documents = self.workers.run(parse).await?.map_err(EvaluateError::Parse)?;
        let documents = Arc::new(documents);
        self.entries.put((id, part_count), documents.clone());
        Ok(documents)
    }
}
