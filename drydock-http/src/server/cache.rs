//! Parsed designs, cached immutably by design reference, content and the
//! provisioner's image catalogue: a design is fetched on every request (its
//! content may change behind the reference) but ingested, compiled and
//! validated only once per distinct content and catalogue. Evaluation runs
//! on a blocking thread so large designs do not stall the server's workers.
//! [`DocumentCache`] keeps a stored design's parsed documents (parts are
//! only ever appended, so a design id and part count name one content);
//! [`PlatformSource`] keeps the node driver's catalogue for a short while.
//! All of this CPU work goes through [`DesignWorkers`]: at most a few
//! designs are parsed at once, so memory stays bounded however many
//! requests arrive together.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use drydock_core::ingest::Ingester;
use drydock_core::ingest::source::SourceBytes;
use drydock_core::validate::{Evaluation, ValidationOptions, evaluate};

/// At most `capacity` values, the most recently used last (a handful of
/// designs: a linear scan is the simple, fast choice).
struct Recent<K, V> {
    capacity: usize,
    entries: Mutex<VecDeque<(K, V)>>,
}

impl<K, V: Clone> Recent<K, V> {
    fn new(capacity: usize) -> Self {
        Recent { capacity: capacity.max(1), entries: Mutex::new(VecDeque::new()) }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, VecDeque<(K, V)>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value of the first key `matches` accepts, now the most recent.
    fn get(&self, matches: impl Fn(&K) -> bool) -> Option<V> {
        let mut entries = self.entries();
        let position = entries.iter().position(|(key, _)| matches(key))?;
        let entry = entries.remove(position)?;
        let value = entry.1.clone();
        entries.push_back(entry);
        Some(value)
    }

    /// Keep `value`, dropping the least recently used beyond capacity.
    fn put(&self, key: K, value: V) {
        let mut entries = self.entries();
        if entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back((key, value));
    }

    fn len(&self) -> usize {
        self.entries().len()
    }
}

/// Runs CPU-heavy design work (parsing, compiling, validating) on the
/// blocking pool, at most a fixed number at once; the rest wait their turn.
#[derive(Debug, Clone)]
pub struct DesignWorkers {
    permits: Arc<Semaphore>,
}

impl DesignWorkers {
    /// At most `workers` (at least one) jobs at once.
    pub fn new(workers: usize) -> Self {
        DesignWorkers { permits: Arc::new(Semaphore::new(workers.max(1))) }
    }

    /// Run `work` on a blocking thread once a worker is free.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, EvaluateError> {
        let permit = self.permits.clone().acquire_owned().await.map_err(|error| EvaluateError::Worker(error.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|error| EvaluateError::Worker(error.to_string()))
    }
}

/// What a cached evaluation was made from.
struct Entry {
    design_ref: String,
    hash: u64,
    options: ValidationOptions,
    content: Arc<Vec<u8>>,
}

/// Why a design could not be evaluated at all.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// The bytes are not a design stream (not YAML, too deep, …).
    #[error("{0}")]
    Ingest(String),
    /// The evaluation thread failed.
    #[error("design evaluation failed: {0}")]
    Worker(String),
}

/// A bounded cache of evaluations, most recent last.
pub struct DesignCache {
    entries: Recent<Entry, Arc<Evaluation>>,
    workers: DesignWorkers,
}

impl std::fmt::Debug for DesignCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesignCache").field("capacity", &self.entries.capacity).finish_non_exhaustive()
    }
}

fn content_hash(content: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    content.hash(&mut hasher);
    hasher.finish()
}

impl DesignCache {
    /// A cache of at most `capacity` designs, evaluated by `workers`.
    pub fn new(capacity: usize, workers: DesignWorkers) -> DesignCache {
        DesignCache { entries: Recent::new(capacity), workers }
    }

    fn lookup(&self, design_ref: &str, hash: u64, content: &[u8], options: &ValidationOptions) -> Option<Arc<Evaluation>> {
        self.entries.get(|entry| {
            entry.hash == hash
                && entry.design_ref == design_ref
                && entry.content.as_slice() == content
                && entry.options.platform == options.platform
        })
    }

    /// The evaluation of `fetched` (read from `design_ref`) with `options`,
    /// from the cache when the same reference had the same content and
    /// catalogue before.
    pub async fn evaluate(
        &self,
        design_ref: &str,
        fetched: SourceBytes,
        options: ValidationOptions,
    ) -> Result<Arc<Evaluation>, EvaluateError> {
        let hash = content_hash(&fetched.bytes);
        if let Some(hit) = self.lookup(design_ref, hash, &fetched.bytes, &options) {
            return Ok(hit);
        }
        let content = Arc::new(fetched.bytes);
        let kept = options.clone();
        let input = content.clone();
        let name = fetched.name;
        let evaluation = self
            .workers
            .run(move || {
                let started = std::time::Instant::now();
                let ingested = Ingester::new().ingest_bytes(&input, Some(&name));
                let ingest_ms = started.elapsed().as_millis() as u64;
                let evaluation = ingested.map(|ingested| evaluate(ingested, &options));
                tracing::debug!(ingest_ms, evaluate_ms = started.elapsed().as_millis() as u64 - ingest_ms, "design evaluated");
                evaluation
            })
            .await?
            .map_err(|error| EvaluateError::Ingest(error.to_string()))?;
        let evaluation = Arc::new(evaluation);
        self.entries.put(Entry { design_ref: design_ref.to_owned(), hash, options: kept, content }, evaluation.clone());
        Ok(evaluation)
    }

    /// How many designs are cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

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
        f.debug_struct("DocumentCache").field("capacity", &self.entries.capacity).finish_non_exhaustive()
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
        let documents = self.workers.run(parse).await?.map_err(EvaluateError::Ingest)?;
        let documents = Arc::new(documents);
        self.entries.put((id, part_count), documents.clone());
        Ok(documents)
    }
}

/// How long the provisioner's image catalogue is reused.
const CATALOGUE_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// How long a failed read is remembered, so a MaaS outage costs one slow
/// request per this period rather than one per validation.
const FAILURE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// The node driver's images and kernels for validation (DD3001), read at
/// most once per [`CATALOGUE_TTL`]; without a node driver validation runs
/// offline (DD3001 warns), as the original does.
pub struct PlatformSource {
    driver: Option<Arc<dyn drydock_core::drivers::NodeDriver>>,
    cached: tokio::sync::Mutex<Option<(std::time::Instant, drydock_core::validate::PlatformCatalog)>>,
}

impl std::fmt::Debug for PlatformSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformSource").field("driver", &self.driver.is_some()).finish_non_exhaustive()
    }
}

impl PlatformSource {
    /// A source asking `driver` (none: offline).
    pub fn new(driver: Option<Arc<dyn drydock_core::drivers::NodeDriver>>) -> PlatformSource {
        PlatformSource { driver, cached: tokio::sync::Mutex::new(None) }
    }

    /// The validation options of this moment.
    pub async fn options(&self) -> ValidationOptions {
        use drydock_core::validate::PlatformCatalog;
        let Some(driver) = &self.driver else {
            return ValidationOptions::default();
        };
        let mut cached = self.cached.lock().await;
        if let Some((at, catalog)) = cached.as_ref()
            && at.elapsed() < if matches!(catalog, PlatformCatalog::Available(_)) { CATALOGUE_TTL } else { FAILURE_TTL }
        {
            return ValidationOptions { platform: Some(catalog.clone()) };
        }
        let catalog = match driver.images().await {
            Ok(images) => PlatformCatalog::Available(images),
            Err(error) => {
                tracing::warn!(%error, "the node driver's image catalogue is unavailable for validation");
                PlatformCatalog::ImagesUnavailable
            }
        };
        *cached = Some((std::time::Instant::now(), catalog.clone()));
        ValidationOptions { platform: Some(catalog) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drydock_core::drivers::maas::{MaasConfig, MaasDriver};
    use drydock_core::validate::PlatformCatalog;

    #[tokio::test]
    async fn the_catalogue_is_read_once_per_period_and_a_failure_briefly_remembered() {
        let scenario: drydock_sim::Scenario = serde_json::from_value(serde_json::json!({"images": ["jammy"]})).expect("scenario");
        let lab = drydock_sim::SimLab::start(scenario).await.expect("lab");
        let driver: Arc<dyn drydock_core::drivers::NodeDriver> =
            Arc::new(MaasDriver::new(MaasConfig::new(lab.maas_url(), drydock_core::ids::Secret::new(lab.api_key()))).expect("driver"));
        let reads = || lab.requests().iter().filter(|r| r.path.contains("boot-resources")).count();

        let source = PlatformSource::new(Some(driver.clone()));
        assert!(matches!(source.options().await.platform, Some(PlatformCatalog::Available(_))));
        let after_first = reads();
        assert!(after_first > 0);
        assert!(matches!(source.options().await.platform, Some(PlatformCatalog::Available(_))));
        assert_eq!(reads(), after_first, "the catalogue is reused");

        // MaaS failing: the failure is remembered, not asked again at once.
        let fault = serde_json::json!({"kind": "status", "status": 503, "path_regex": "boot-resources"});
        lab.add_fault(serde_json::from_value(fault).expect("fault")).expect("fault");
        let failing = PlatformSource::new(Some(driver));
        assert_eq!(failing.options().await.platform, Some(PlatformCatalog::ImagesUnavailable));
        let after_failure = reads();
        assert_eq!(failing.options().await.platform, Some(PlatformCatalog::ImagesUnavailable));
        assert_eq!(reads(), after_failure, "an outage costs one read per period");
        assert_eq!(PlatformSource::new(None).options().await.platform, None, "no driver: offline");
    }
}
