//! Ingestion: bytes of a YAML stream in, a (possibly partial) [`SiteDesign`]
//! and DD000/DD001 findings out (compat: site-design spec §1-2).
//!
//! The pipeline per document is: parse (YAML 1.1, [`yaml`]) → recognise the
//! envelope ([`envelope`]) → check the kind's embedded JSON schema
//! ([`schema`]) → map into the model ([`map`]). Documents are processed in
//! parallel on large streams and reassembled in stream order. Apart from
//! [`source`], which resolves design references, nothing here does I/O.

pub mod envelope;
pub mod lines;
pub mod map;
pub mod policy;
pub mod repo;
pub mod schema;
pub mod source;
pub mod value;
pub mod yaml;

use std::sync::Arc;

pub use envelope::EnvelopeMode;
pub use lines::LineMap;
pub use map::Kind;
pub use yaml::{YamlDocument, YamlError, YamlLimits};

use crate::ids::DocRef;
use crate::model::{DocMeta, Finding, Level, SiteDesign, SourceLocation};
use envelope::{Envelope, classify};
use map::Part;
use schema::SchemaSet;
use value::Value;

/// DD000's hint.
const DD000_DIAGNOSTIC: &str = "Exception during document processing - see Drydock Troubleshooting Guide for DD000";
/// DD001's hint.
const DD001_DIAGNOSTIC: &str = "Invalid input file - see Drydock Troubleshooting Guide for DD001";

/// The design could not be read at all (as opposed to findings about it).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The bytes are not UTF-8.
    #[error("{source_name}: the design is not valid UTF-8 (first bad byte at offset {offset}, line {line})")]
    InvalidUtf8 {
        /// File or reference name.
        source_name: String,
        /// Byte offset of the first invalid sequence.
        offset: usize,
        /// Its line.
        line: u32,
    },
    /// The YAML stream does not parse.
    #[error("{source_name}:{}: Error parsing YAML at (l:{}, c:{}): {}", .error.line, .error.line, .error.column, .error.message)]
    Yaml {
        /// File or reference name.
        source_name: String,
        /// The parser's error.
        error: YamlError,
    },
    /// The embedded schemas failed to load (a build defect).
    #[error("the embedded document schemas cannot be used")]
    Schemas(#[source] schema::SchemaLoadError),
}

impl IngestError {
    /// The line the error is on, when there is one.
    pub fn line(&self) -> Option<u32> {
        match self {
            IngestError::InvalidUtf8 { line, .. } => Some(*line),
            IngestError::Yaml { error, .. } => Some(error.line),
            IngestError::Schemas(_) => None,
        }
    }
}

/// The result of ingesting a stream.
#[derive(Debug, Clone)]
pub struct Ingested {
    /// Every document that mapped cleanly, in stream order.
    pub design: SiteDesign,
    /// DD000/DD001 findings, in stream order.
    pub findings: Vec<Finding>,
    /// How many documents the stream held (including skipped ones).
    pub document_count: usize,
}

impl Ingested {
    /// Add the result of ingesting the stream that follows this one (a
    /// design split across files): its documents and findings after these.
    pub fn append(&mut self, other: Ingested) {
        self.design.append(other.design);
        self.findings.extend(other.findings);
        self.document_count += other.document_count;
    }

    /// Whether ingestion found no errors (upstream status `Success`).
    pub fn is_success(&self) -> bool {
        !self.findings.iter().any(Finding::is_error)
    }
}

/// Turns YAML streams into site designs.
#[derive(Debug, Clone, Default)]
pub struct Ingester {
    /// Accepted envelopes.
    pub envelope: EnvelopeMode,
    /// Parser limits.
    pub limits: YamlLimits,
}

/// What happened to one document.
enum Outcome {
    Skipped,
    Part(Box<Part>),
    Findings(Vec<Finding>),
}

impl Ingester {
    /// An ingester accepting both envelopes with default limits.
    pub fn new() -> Self {
        Ingester::default()
    }

    /// Ingest raw bytes (must be UTF-8). `source_name` names the file or
    /// reference in findings and errors.
    pub fn ingest_bytes(&self, bytes: &[u8], source_name: Option<&str>) -> Result<Ingested, IngestError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.ingest_str(text, source_name),
            Err(error) => {
                let offset = error.valid_up_to();
                let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() as u32 + 1;
                Err(IngestError::InvalidUtf8 { source_name: source_name.unwrap_or("<input>").to_owned(), offset, line })
            }
        }
    }

    /// Ingest a YAML stream.
    pub fn ingest_str(&self, text: &str, source_name: Option<&str>) -> Result<Ingested, IngestError> {
        let schemas = SchemaSet::embedded().map_err(IngestError::Schemas)?;
        let file: Option<Arc<str>> = source_name.map(Arc::from);
        let mode = self.envelope;
        let locate = |line: u32| SourceLocation { file: file.clone(), line };
        let outcomes = yaml::parse_stream_map(text, &self.limits, &|document| {
            process_document(&document.value, document.line, &locate, mode, schemas)
        })
        .map_err(|error| IngestError::Yaml { source_name: source_name.unwrap_or("<input>").to_owned(), error })?;
        Ok(assemble(outcomes, file))
    }

    /// Ingest documents already parsed (a rendered site), each with its line:
    /// those lines, and the lines of the documents' maps and sequences, are
    /// in `lines`' space,
    /// so findings name the file and line each value was written at.
    /// `source_name` names the design as a whole.
    pub fn ingest_documents(
        &self,
        documents: &[(&Value, u32)],
        lines: &LineMap,
        source_name: Option<&str>,
    ) -> Result<Ingested, IngestError> {
        let schemas = SchemaSet::embedded().map_err(IngestError::Schemas)?;
        let mode = self.envelope;
        let locate = |line: u32| lines.locate(line).unwrap_or(SourceLocation { file: None, line });
        let process = |&(value, line): &(&Value, u32)| process_document(value, line, &locate, mode, schemas);
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
        let outcomes: Vec<Outcome> = if documents.len() < 512 || threads < 2 {
            documents.iter().map(process).collect()
        } else {
            let per_thread = documents.len().div_ceil(threads);
            std::thread::scope(|scope| {
                let handles: Vec<_> =
                    documents.chunks(per_thread).map(|chunk| scope.spawn(move || chunk.iter().map(process).collect::<Vec<_>>())).collect();
                // A worker only panics on a defect: carry it to the caller
                // rather than lose its documents quietly.
                handles.into_iter().flat_map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
            })
        };
        Ok(assemble(outcomes, source_name.map(Arc::from)))
    }
}

/// A design from the outcomes of a stream's documents, in stream order.
fn assemble(outcomes: Vec<Outcome>, source_name: Option<Arc<str>>) -> Ingested {
    let mut design = SiteDesign { source_name, ..SiteDesign::default() };
    let mut findings = Vec::new();
    let document_count = outcomes.len();
    for outcome in outcomes {
        match outcome {
            Outcome::Skipped => {}
            Outcome::Findings(mut found) => findings.append(&mut found),
            Outcome::Part(part) => add_part(&mut design, *part),
        }
    }
    Ingested { design, findings, document_count }
}

fn add_part(design: &mut SiteDesign, part: Part) {
    match part {
        Part::Region(item) => design.regions.push(item),
        Part::NetworkLink(item) => design.network_links.push(item),
        Part::Network(item) => design.networks.push(item),
        Part::HardwareProfile(item) => design.hardware_profiles.push(item),
        Part::HostProfile(item) => design.host_profiles.push(item),
        Part::BaremetalNode(item) => design.baremetal_nodes.push(item),
        Part::Rack(item) => design.racks.push(item),
        Part::BootAction(item) => design.boot_actions.push(item),
    }
}

fn dd000(message: String, doc_ref: DocRef, location: Option<SourceLocation>) -> Finding {
    let mut finding = Finding::new("DD000", Level::Error, format!("Error processing document: {message}"), DD000_DIAGNOSTIC);
    finding.documents.push(doc_ref);
    finding.location = location;
    finding
}

fn process_document(
    value: &Value,
    line: u32,
    locate: &(dyn Fn(u32) -> SourceLocation + Sync),
    mode: EnvelopeMode,
    schemas: &SchemaSet,
) -> Outcome {
    let location = |at: Option<u32>| Some(locate(at.unwrap_or(line)));
    let document = match classify(value, mode) {
        Envelope::Skip => return Outcome::Skipped,
        Envelope::NotAMapping => {
            return Outcome::Findings(vec![dd000(
                format!("a document must be a mapping, not a {}", value.py_type_name()),
                DocRef::new("", "Unknown"),
                location(None),
            )]);
        }
        Envelope::Drydock(document) => document,
    };
    let name = match document.name {
        Ok(name) => name,
        Err(reason) => {
            return Outcome::Findings(vec![dd000(reason.to_owned(), DocRef::new(&document.schema, "Unknown"), location(None))]);
        }
    };
    let doc_ref = DocRef::new(&document.schema, &name);
    let kind_schema = format!("drydock/{}/v1", document.kind_name);
    if document.version == "v1" && schemas.has(&kind_schema) {
        // compat §1.4: an absent `data` is validated as an empty list.
        let empty_list = Value::Seq(value::Seq::default());
        let data = document.data.unwrap_or(&empty_list);
        let violations = schemas.check(&kind_schema, data, Some(line));
        if !violations.is_empty() {
            let findings = violations
                .into_iter()
                .map(|violation| {
                    let mut finding = Finding::new(
                        "DD001",
                        Level::Error,
                        format!("{}:{} schema validation error: {}", document.kind_name, document.version, violation.message),
                        DD001_DIAGNOSTIC,
                    );
                    finding.documents.push(doc_ref.clone());
                    finding.location = location(violation.line);
                    finding
                })
                .collect();
            return Outcome::Findings(findings);
        }
    }
    let kind = match document.kind {
        Some(kind) if document.version == "v1" => kind,
        _ => {
            let message = if document.legacy {
                format!("Invalid document Kind {}", document.kind_name)
            } else {
                format!("Invalid document - Kind {} and Version {}", document.kind_name, document.version)
            };
            return Outcome::Findings(vec![dd000(message, doc_ref, location(None))]);
        }
    };
    let meta = DocMeta { doc_ref: doc_ref.clone(), location: location(None) };
    let null = Value::Null;
    match map::map_document(kind, meta, document.data.unwrap_or(&null)) {
        Ok(part) => Outcome::Part(Box::new(part)),
        Err(error) => Outcome::Findings(vec![dd000(error.message, doc_ref, location(error.line))]),
    }
}
