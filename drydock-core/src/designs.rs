//! The one design-loading service, shared by the server, the orchestrator
//! and the Python module: a design is fetched on every use (its content may
//! change behind its reference) but ingested, compiled and validated once
//! per distinct reference, content, envelope mode and platform catalogue,
//! and kept immutably in a small cache. All of that CPU work runs on the
//! blocking pool through [`DesignWorkers`], a few designs at a time, so it
//! never stalls the async runtime and memory stays bounded however many
//! callers arrive together. [`PlatformSource`] keeps the node driver's
//! image catalogue for a short while, so validating a design does not ask
//! the provisioner every time.
//!
//! A site repository's reference (`pegleg+file://…?site=NAME`) fetches to a
//! bundle of the site's files; its evaluation renders them first
//! ([`crate::validate::evaluate_site`]) and is cached the same way.
//!
//! Fetching (and retrying a fetch) stays with the caller: the server
//! answers at once, the orchestrator retries under its policy.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::drivers::NodeDriver;
use crate::ingest::repo::SiteFiles;
use crate::ingest::source::SourceBytes;
use crate::ingest::{EnvelopeMode, Ingester};
use crate::validate::{Evaluation, PlatformCatalog, ValidationOptions, evaluate, evaluate_site};

/// At most `capacity` values, the most recently used last (a handful of
/// entries: a linear scan is the simple, fast choice).
pub struct Recent<K, V> {
    capacity: usize,
    entries: Mutex<VecDeque<(K, V)>>,
}

impl<K, V: Clone> Recent<K, V> {
    /// Empty, keeping at most `capacity` (at least one).
    pub fn new(capacity: usize) -> Self {
        Recent { capacity: capacity.max(1), entries: Mutex::new(VecDeque::new()) }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, VecDeque<(K, V)>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value of the first key `matches` accepts, now the most recent.
    pub fn get(&self, matches: impl Fn(&K) -> bool) -> Option<V> {
        let mut entries = self.entries();
        let position = entries.iter().position(|(key, _)| matches(key))?;
        let entry = entries.remove(position)?;
        let value = entry.1.clone();
        entries.push_back(entry);
        Some(value)
    }

    /// Keep `value`, dropping the least recently used beyond capacity.
    pub fn put(&self, key: K, value: V) {
        let mut entries = self.entries();
        if entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back((key, value));
    }

    /// How many are kept.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Why a design could not be evaluated at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvaluateError {
    /// The bytes are not a design stream (not YAML, too deep, over budget, …).
    #[error("{0}")]
    Ingest(#[source] crate::ingest::IngestError),
    /// Parsing failed in another way (a caller's own parse, as text).
    #[error("{0}")]
    Parse(String),
    /// The evaluation thread failed.
    #[error("design evaluation failed: {0}")]
    Worker(String),
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
#[derive(Clone)]
struct Entry {
    design_ref: String,
    envelope: EnvelopeMode,
    hash: u64,
    options: ValidationOptions,
    content: Arc<Vec<u8>>,
}

impl Entry {
    fn matches(&self, design_ref: &str, envelope: EnvelopeMode, hash: u64, content: &[u8], options: &ValidationOptions) -> bool {
        self.hash == hash
            && self.envelope == envelope
            && self.design_ref == design_ref
            && self.content.as_slice() == content
            && self.options == *options
    }
}

/// An evaluation under way: later callers for the same input wait for it
/// instead of parsing the same design again (`None`: it failed, and each
/// waiter tries on its own, so it gets its own error).
type InFlight = Arc<tokio::sync::OnceCell<Option<Arc<Evaluation>>>>;

fn content_hash(content: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    content.hash(&mut hasher);
    hasher.finish()
}

/// The design-loading service: evaluations cached by what they were made
/// from. Cheap to clone (one shared cache).
#[derive(Clone)]
pub struct DesignService {
    entries: Arc<Recent<Entry, Arc<Evaluation>>>,
    in_flight: Arc<Mutex<Vec<(Entry, InFlight)>>>,
    workers: DesignWorkers,
    platform: Arc<PlatformSource>,
    /// Validation accepts libvirt test URIs ([`ValidationOptions::libvirt_test_uris`]).
    libvirt_test_uris: bool,
}

impl std::fmt::Debug for DesignService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesignService").field("capacity", &self.entries.capacity()).finish_non_exhaustive()
    }
}

/// Designs kept by default.
pub const DEFAULT_CAPACITY: usize = 8;

/// Designs evaluated at once by default.
pub const DEFAULT_WORKERS: usize = 2;

impl Default for DesignService {
    fn default() -> Self {
        DesignService::new(DEFAULT_CAPACITY, DesignWorkers::new(DEFAULT_WORKERS), PlatformSource::new(None))
    }
}

impl DesignService {
    /// A service keeping at most `capacity` evaluations, evaluating with
    /// `workers`, validating against `platform`'s catalogue.
    pub fn new(capacity: usize, workers: DesignWorkers, platform: PlatformSource) -> DesignService {
        DesignService {
            entries: Arc::new(Recent::new(capacity)),
            in_flight: Arc::default(),
            workers,
            platform: Arc::new(platform),
            libvirt_test_uris: false,
        }
    }

    /// The same service, validating with libvirt test URIs accepted or not
    /// ([`ValidationOptions::libvirt_test_uris`]; labs and tests only).
    pub fn with_libvirt_test_uris(mut self, allow: bool) -> DesignService {
        self.libvirt_test_uris = allow;
        self
    }

    /// Where its CPU work runs (for other design work to share the bound).
    pub fn workers(&self) -> &DesignWorkers {
        &self.workers
    }

    /// The validation options of this moment: the provisioner's catalogue
    /// as [`PlatformSource`] has it (none without a node driver), and
    /// whether libvirt test URIs are accepted.
    pub async fn options(&self) -> ValidationOptions {
        ValidationOptions { libvirt_test_uris: self.libvirt_test_uris, ..self.platform.options().await }
    }

    /// How many evaluations are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The evaluation of `fetched` (read from `design_ref`) against the
    /// catalogue of this moment, from the cache when the same reference
    /// had the same content and catalogue before.
    pub async fn evaluate(&self, design_ref: &str, fetched: SourceBytes) -> Result<Arc<Evaluation>, EvaluateError> {
        let options = self.options().await;
        self.evaluate_with(design_ref, fetched, EnvelopeMode::Auto, options).await
    }

    /// [`DesignService::evaluate`] with an envelope mode and options of the
    /// caller's choosing. `fetched.name` names the source in findings (none
    /// when empty); `design_ref` is only the cache key's reference.
    pub async fn evaluate_with(
        &self,
        design_ref: &str,
        fetched: SourceBytes,
        envelope: EnvelopeMode,
        options: ValidationOptions,
    ) -> Result<Arc<Evaluation>, EvaluateError> {
        let hash = content_hash(&fetched.bytes);
        let hit = self.entries.get(|entry| entry.matches(design_ref, envelope, hash, &fetched.bytes, &options));
        if let Some(hit) = hit {
            return Ok(hit);
        }
        let content = Arc::new(fetched.bytes);
        let key = Entry { design_ref: design_ref.to_owned(), envelope, hash, options, content };
        let (cell, leader) = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match in_flight.iter().find(|(other, _)| other.matches(design_ref, envelope, hash, &key.content, &key.options)) {
                Some((_, cell)) => (cell.clone(), false),
                None => {
                    let cell = InFlight::default();
                    in_flight.push((key.clone(), cell.clone()));
                    (cell, true)
                }
            }
        };
        // The caller that registered the evaluation takes it off the list
        // when it is done — or dropped (a deadline), so the list never keeps
        // a stale entry.
        let registered = leader.then(|| Registered { in_flight: &self.in_flight, cell: cell.clone() });
        let mut own_error = None;
        let shared = cell
            .get_or_init(|| async {
                match self.run(&key, &fetched.name).await {
                    Ok(evaluation) => Some(evaluation),
                    Err(error) => {
                        own_error = Some(error);
                        None
                    }
                }
            })
            .await
            .clone();
        match (shared, own_error) {
            (Some(evaluation), _) => {
                if leader {
                    self.entries.put(key, evaluation.clone());
                }
                // Off the in-flight list only once it is in the cache.
                drop(registered);
                Ok(evaluation)
            }
            (None, Some(error)) => Err(error),
            // The evaluation this call waited for failed: try on its own.
            (None, None) => self.run(&key, &fetched.name).await,
        }
    }

    /// Parse and evaluate `key`'s content on a worker.
    async fn run(&self, key: &Entry, name: &str) -> Result<Arc<Evaluation>, EvaluateError> {
        let (input, options, envelope, name) = (key.content.clone(), key.options.clone(), key.envelope, name.to_owned());
        let evaluation = self
            .workers
            .run(move || {
                let started = Instant::now();
                // A site repository (`pegleg+file://`) arrives as a bundle of
                // its files: rendered, then evaluated.
                if let Some(site) = SiteFiles::from_bundle(&input) {
                    let files = site.map_err(EvaluateError::Parse)?;
                    let evaluation = evaluate_site(&files, &options).map_err(EvaluateError::Ingest);
                    tracing::debug!(
                        evaluate_ms = started.elapsed().as_millis() as u64,
                        files = files.files.len(),
                        "site rendered and evaluated"
                    );
                    return evaluation;
                }
                let ingester = Ingester { envelope, ..Ingester::default() };
                // An empty name is no name (text loaded without one).
                let ingested = ingester.ingest_bytes(&input, Some(name.as_str()).filter(|name| !name.is_empty()));
                let ingest_ms = started.elapsed().as_millis() as u64;
                let evaluation = ingested.map(|ingested| evaluate(ingested, &options));
                tracing::debug!(ingest_ms, evaluate_ms = started.elapsed().as_millis() as u64 - ingest_ms, "design evaluated");
                evaluation.map_err(EvaluateError::Ingest)
            })
            .await??;
        Ok(Arc::new(evaluation))
    }
}

/// Takes an in-flight evaluation off the list when dropped.
struct Registered<'a> {
    in_flight: &'a Mutex<Vec<(Entry, InFlight)>>,
    cell: InFlight,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        in_flight.retain(|(_, other)| !Arc::ptr_eq(other, &self.cell));
    }
}

/// How long the provisioner's image catalogue is reused.
const CATALOGUE_TTL: Duration = Duration::from_secs(30);

/// How long a failed read is remembered, so a MaaS outage costs one slow
/// request per this period rather than one per validation.
const FAILURE_TTL: Duration = Duration::from_secs(5);

/// The node driver's images and kernels for validation (DD3001), read at
/// most once per 30 s (a failed read is remembered 5 s); without a node driver validation runs
/// offline (DD3001 warns), as the original does.
pub struct PlatformSource {
    driver: Option<Arc<dyn NodeDriver>>,
    cached: tokio::sync::Mutex<Option<(Instant, PlatformCatalog)>>,
}

impl std::fmt::Debug for PlatformSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformSource").field("driver", &self.driver.is_some()).finish_non_exhaustive()
    }
}

impl PlatformSource {
    /// A source asking `driver` (none: offline).
    pub fn new(driver: Option<Arc<dyn NodeDriver>>) -> PlatformSource {
        PlatformSource { driver, cached: tokio::sync::Mutex::new(None) }
    }

    /// The validation options of this moment.
    pub async fn options(&self) -> ValidationOptions {
        let Some(driver) = &self.driver else {
            return ValidationOptions::default();
        };
        let mut cached = self.cached.lock().await;
        if let Some((at, catalog)) = cached.as_ref()
            && at.elapsed() < if matches!(catalog, PlatformCatalog::Available(_)) { CATALOGUE_TTL } else { FAILURE_TTL }
        {
            return ValidationOptions { platform: Some(catalog.clone()), ..ValidationOptions::default() };
        }
        let catalog = match driver.images().await {
            Ok(images) => PlatformCatalog::Available(images),
            Err(error) => {
                tracing::warn!(%error, "the node driver's image catalogue is unavailable for validation");
                PlatformCatalog::ImagesUnavailable
            }
        };
        *cached = Some((Instant::now(), catalog.clone()));
        ValidationOptions { platform: Some(catalog), ..ValidationOptions::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "driver-maas")]
    use crate::drivers::maas::{MaasConfig, MaasDriver};

    fn example() -> SourceBytes {
        let path = format!("{}/../examples/site.yaml", env!("CARGO_MANIFEST_DIR"));
        SourceBytes { bytes: std::fs::read(&path).expect("example site"), name: path }
    }

    #[tokio::test]
    async fn an_evaluation_is_made_once_per_reference_content_envelope_and_catalogue() {
        let service = DesignService::new(2, DesignWorkers::new(1), PlatformSource::new(None));
        let first = service.evaluate("file:///site.yaml", example()).await.expect("evaluate");
        let again = service.evaluate("file:///site.yaml", example()).await.expect("evaluate");
        assert!(Arc::ptr_eq(&first, &again), "the same content is evaluated once");
        assert!(first.site.is_some() && first.report.is_success(), "{:?}", first.report);

        let mut changed = example();
        changed.bytes.extend_from_slice(b"\n");
        let other = service.evaluate("file:///site.yaml", changed).await.expect("evaluate");
        assert!(!Arc::ptr_eq(&first, &other), "new content behind the reference is evaluated again");
        let legacy = service
            .evaluate_with("file:///site.yaml", example(), EnvelopeMode::Deckhand, ValidationOptions::default())
            .await
            .expect("evaluate");
        assert!(!Arc::ptr_eq(&first, &legacy), "another envelope mode is another evaluation");
        assert_eq!(service.len(), 2, "at most the capacity is kept");

        // Callers asking at once for the same new content share one evaluation.
        let mut fresh = example();
        fresh.bytes.extend_from_slice(b"\n\n");
        let (a, b, c) = tokio::join!(
            service.evaluate("file:///site.yaml", fresh.clone()),
            service.evaluate("file:///site.yaml", fresh.clone()),
            service.evaluate("file:///site.yaml", fresh),
        );
        let (a, b, c) = (a.expect("a"), b.expect("b"), c.expect("c"));
        assert!(Arc::ptr_eq(&a, &b) && Arc::ptr_eq(&b, &c), "evaluated once for three callers");

        let bad = SourceBytes { bytes: b"a: [unclosed".to_vec(), name: "bad.yaml".into() };
        let error = service.evaluate("file:///bad.yaml", bad).await.expect_err("not YAML");
        assert!(matches!(error, EvaluateError::Ingest(_)), "{error}");
    }

    #[cfg(feature = "driver-maas")]
    #[tokio::test]
    async fn the_catalogue_is_read_once_per_period_and_a_failure_briefly_remembered() {
        let scenario: drydock_sim::Scenario = serde_json::from_value(serde_json::json!({"images": ["jammy"]})).expect("scenario");
        let lab = drydock_sim::SimLab::start(scenario).await.expect("lab");
        let driver: Arc<dyn NodeDriver> =
            Arc::new(MaasDriver::new(MaasConfig::new(lab.maas_url(), crate::ids::Secret::new(lab.api_key()))).expect("driver"));
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
