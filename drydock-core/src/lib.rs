//! Drydock's domain: the site design (model, ingestion, compile, validation),
//! tasks, the state store, drivers and the orchestrator.
//!
//! This crate knows nothing of HTTP frameworks, wire JSON shapes, clap or pyo3;
//! the front ends (`drydock-http`, `drydock-py`) translate at their boundary.
//! See `ARCHITECTURE.md` at the repository root for the code map and the
//! invariants (the module rank table in particular).
//!
//! # Loading and validating a design
//!
//! A site design is a stream of YAML documents. [`load`] reads one from a
//! path (or a `file://` URL), ingests it, compiles the effective site and
//! runs the 18 validation rules; [`load_str`] does the same for text in
//! memory. Problems in the design are [`Finding`]s in the report, not
//! errors: an `Err` means the design could not be read at all.
//!
//! ```
//! use drydock_core::{DesignStatus, Level};
//!
//! let evaluation = drydock_core::load("../examples/site.yaml")?;
//! let report = &evaluation.report;
//! assert_eq!(report.status, DesignStatus::Success);
//! // Offline, no provisioner tells which images exist: DD3001 warns.
//! let notes: Vec<_> = report.findings().filter(|finding| finding.level != Level::Info).collect();
//! assert_eq!(notes.len(), 1);
//! assert_eq!((notes[0].code, notes[0].level), ("DD3001", Level::Warning));
//! # Ok::<(), drydock_core::LoadError>(())
//! ```
//!
//! A design with errors still gives a report; each finding names its code,
//! level, message and, for ingestion findings, the file and line:
//!
//! ```
//! let evaluation = drydock_core::load_str("schema: drydock/Network/v1\nmetadata:\n  name: oob\ndata:\n  mtu: big\n")?;
//! assert!(!evaluation.report.is_success());
//! assert!(evaluation.site.is_none(), "no effective site for a design that does not ingest");
//! let finding = evaluation.report.findings().next().expect("a finding");
//! assert_eq!(finding.code, "DD001");
//! assert!(finding.message.contains("schema validation error"), "{}", finding.message);
//! assert_eq!(finding.location.as_ref().map(|at| at.line), Some(5));
//! # Ok::<(), drydock_core::IngestError>(())
//! ```
//!
//! # The effective site and its nodes
//!
//! When the design compiles, [`Evaluation::site`] holds the
//! [`EffectiveSite`]: every node with its host profiles' inheritance applied
//! (interfaces and their networks, storage, platform, tags, labels). It is
//! immutable and shared behind an `Arc`.
//!
//! ```
//! let evaluation = drydock_core::load("../examples/site.yaml")?;
//! let site = evaluation.site.as_deref().expect("the example compiles");
//! assert_eq!(site.nodes().len(), 6);
//!
//! let node = site.node("cp-r01-n01").expect("a node of the example");
//! assert_eq!(site.node_fqdn(node), "cp-r01-n01.mgmt.synth.example.net");
//! assert_eq!(node.config.primary_network.as_deref(), Some("mgmt"));
//! assert_eq!(node.address_on("mgmt"), Some("10.30.0.16"));
//! // bond0 comes from the host profile; the node adds a network to it
//! // (the node's own list first, then the inherited entries).
//! let bond = node.config.interface("bond0").expect("inherited");
//! assert_eq!(bond.networks, ["calico-r01", "mgmt", "storage"]);
//! // Storage is inherited whole from the `defaults` profile.
//! let root = &node.config.storage.physical_devices[0].partitions[0];
//! assert_eq!((root.name.as_str(), root.mountpoint.as_deref()), ("root", Some("/")));
//! # Ok::<(), drydock_core::LoadError>(())
//! ```
//!
//! # Node filters
//!
//! A [`NodeFilter`] (the shape boot actions and tasks use) selects nodes of
//! an effective site; [`EffectiveSite::select`] gives their positions in
//! design order. Filters arrive as data ([`compile::select::request_filter`]
//! reads the JSON a task carries) or are built directly:
//!
//! ```
//! use drydock_core::model::{FilterSetType, NodeFilterEntry};
//! use drydock_core::NodeFilter;
//!
//! let evaluation = drydock_core::load("../examples/site.yaml")?;
//! let site = evaluation.site.as_deref().expect("compiled");
//! let compute_in_rack02 = NodeFilter {
//!     filter_set_type: FilterSetType::Union,
//!     filter_set: vec![NodeFilterEntry {
//!         filter_type: Some(FilterSetType::Intersection),
//!         node_tags: Some(vec!["compute".into()]),
//!         rack_names: Some(vec!["rack02".into()]),
//!         ..NodeFilterEntry::default()
//!     }],
//! };
//! let names: Vec<&str> = site.select(Some(&compute_in_rack02))?.into_iter().map(|at| site.nodes()[at].name()).collect();
//! assert_eq!(names, ["cmp-r02-n02", "cmp-r02-n03"]);
//!
//! let from_json = drydock_core::compile::select::request_filter(&serde_json::json!({
//!     "filter_set_type": "union",
//!     "filter_set": [{"filter_type": "union", "node_names": ["cp-r01-n01", "cp-r02-n01"]}],
//! }))?;
//! assert_eq!(site.select(Some(&from_json))?.len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Step by step
//!
//! [`load`] is [`FileSource`] → [`Ingester`] → [`evaluate`] (which is
//! [`compile()`] then [`validate()`]). Each step is public, for a caller
//! that has its own bytes, wants other limits, or knows the provisioner's
//! images ([`ValidationOptions`]):
//!
//! ```
//! use drydock_core::validate::PlatformCatalog;
//! use drydock_core::{Ingester, ValidationOptions, compile, validate};
//!
//! let text = std::fs::read_to_string("../examples/site.yaml")?;
//! let ingested = Ingester::new().ingest_str(&text, Some("site.yaml"))?;
//! assert!(ingested.is_success(), "{:?}", ingested.findings);
//! let site = compile(ingested.design)?;
//! let images = PlatformCatalog::Available(vec![("jammy".into(), vec!["hwe-22.04".into()])]);
//! let findings = validate(&site, &ValidationOptions { platform: Some(images), ..ValidationOptions::default() });
//! assert!(findings.iter().all(|finding| finding.level == drydock_core::Level::Info));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Site repositories
//!
//! An Airship site kept as a Pegleg repository (`global/`, `type/<type>/`,
//! `site/<site>/`) is rendered the way Deckhand renders it — layering,
//! substitution, replacement — by [`render`], and [`load_site_repo`] reads,
//! renders and evaluates one in a call; findings name the repository file
//! and line each value was written at. [`ingest::repo`] reads the files
//! (also behind `pegleg+file:///repo?site=NAME` references),
//! [`render::site`] renders them, [`render::emit`] prints the result with
//! secrets masked, and [`validate::evaluate_site`] evaluates it.
//!
//! # Features
//!
//! With no features (`default-features = false`) the crate is the design
//! path alone — ingest, rendering of site repositories, compile, validate,
//! node filters, [`FileSource`] and the lab scenario ([`lab`]) — with no
//! async runtime, no templates and no network. The default is everything.
//!
//! | Feature | Adds | Implies |
//! |---|---|---|
//! | `bootaction` | `bootaction`: identity keys and ids, asset pipelines, Jinja2 templates (minijinja), package lists, tarballs, the cloud-init agent | |
//! | `runtime` | the tokio side: `task`, `store` (in memory), `drivers` (traits, fakes, manual), `designs` (the design service), `orchestrator`, `DefaultSource` | `bootaction` |
//! | `remote-sources` | `http(s)://` and `deckhand+http(s)://` design references | `runtime` |
//! | `store-redb`, `store-postgres` | the embedded and the PostgreSQL state stores | `runtime` |
//! | `driver-maas`, `driver-redfish`, `driver-ipmi` | the MaaS node driver, the Redfish and IPMI OOB drivers | `runtime` |
//! | `driver-promenade` | the Promenade Kubernetes driver (`relabel_nodes`) | `runtime` |
//!
//! The `drydock-examples` crate in the repository has runnable programs:
//! validating a site, listing nodes with their networks and storage,
//! running the orchestrator against the fake drivers, and a custom
//! `NodeDriver`.

pub mod encode;
pub mod ids;

pub mod model;

pub mod compile;
pub mod ingest;
pub mod render;
#[cfg(feature = "runtime")]
pub mod task;

#[cfg(feature = "bootaction")]
pub mod bootaction;
#[cfg(feature = "runtime")]
pub mod drivers;
#[cfg(feature = "runtime")]
pub mod store;
pub mod validate;

#[cfg(feature = "runtime")]
pub mod designs;

pub mod lab;

#[cfg(all(test, feature = "store-redb"))]
mod test_support;

#[cfg(feature = "runtime")]
pub mod metrics;

#[cfg(feature = "runtime")]
pub mod orchestrator;

pub use compile::{CompileError, EffectiveSite, SelectError, compile};
pub use ids::DesignRef;
pub use ingest::source::{FileSource, SourceError};
pub use ingest::{IngestError, Ingested, Ingester};
pub use model::{BaremetalNode, Finding, Level, NodeFilter};
pub use validate::{DesignReport, DesignStatus, Evaluation, ValidationOptions, evaluate, validate};

#[cfg(feature = "runtime")]
pub use drivers::{NodeDriver, OobDriver};
#[cfg(feature = "runtime")]
pub use ingest::source::{DefaultSource, DesignSource};
#[cfg(feature = "runtime")]
pub use orchestrator::{Dependencies, Orchestrator, OrchestratorConfig};
#[cfg(feature = "runtime")]
pub use store::StateStore;

/// Why [`load`] could not read a design at all (problems *in* a design are
/// findings in the report instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The reference could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The bytes are not a YAML stream of documents (or not UTF-8).
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

/// Read the design at `reference` (a path or a `file://` URL), ingest it,
/// compile its effective site and validate it with default options (no
/// provisioner image catalogue: DD3001 warns).
///
/// Files are read with [`FileSource`]'s defaults (any file, at most 512 MiB).
/// For the HTTP schemes use `DefaultSource` (features `runtime` and
/// `remote-sources`) and [`Ingester`] / [`evaluate`].
pub fn load(reference: impl Into<DesignRef>) -> Result<Evaluation, LoadError> {
    let read = FileSource::default().read(&reference.into())?;
    let ingested = Ingester::new().ingest_bytes(&read.bytes, Some(&read.name))?;
    Ok(evaluate(ingested, &ValidationOptions::default()))
}

/// Ingest, compile and validate a YAML stream held in memory, like [`load`].
pub fn load_str(text: &str) -> Result<Evaluation, IngestError> {
    validate::evaluate_str(&Ingester::new(), text, None, &ValidationOptions::default())
}

/// Render the site `site` of the Pegleg repository at `dir` the way
/// Deckhand renders it ([`render`]), then ingest, compile and validate it
/// like [`load`]. Findings name the repository file and line each value was
/// written at; a site that does not render gives a report with DD010
/// findings naming the document, file and line.
///
/// ```
/// let evaluation = drydock_core::load_site_repo("../../shared/corpus/treasuremap-v1.9", "seaworthy")?;
/// assert!(evaluation.report.is_success());
/// let site = evaluation.site.as_deref().expect("compiled");
/// let node = site.node("cab23-r720-12").expect("a node of the site");
/// assert_eq!(node.config.hardware_profile.as_deref(), Some("dell_r720"));
/// // The profile is the site's layer on the global one: it is cited at the
/// // site's file.
/// let profile = site.design.host_profile("dp_r720").expect("a profile");
/// let at = profile.meta.location.as_ref().expect("a location").to_string();
/// assert!(at.ends_with("site/seaworthy/profiles/host/dp_r720.yaml:1"), "{at}");
/// # Ok::<(), drydock_core::LoadError>(())
/// ```
pub fn load_site_repo(dir: impl AsRef<std::path::Path>, site: &str) -> Result<Evaluation, LoadError> {
    let dir = dir.as_ref();
    let reference = DesignRef(format!("{}?site={site}", dir.display()));
    let files = ingest::repo::read_site(dir, site, &reference, &ingest::source::ReferencePolicy::default(), 512 << 20)?;
    Ok(validate::evaluate_site(&files, &ValidationOptions::default())?)
}
