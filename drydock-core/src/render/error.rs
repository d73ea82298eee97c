//! Why a set of documents cannot be rendered: one variant per failure
//! Deckhand's engine reports (format, layering policy, layer, parent,
//! replacement, layering action, substitution, dependency cycle), each naming
//! the document by `[schema, layer] name` and the file and line it was
//! written at. Messages never quote document data (it may be a secret): they
//! name paths, patterns and documents only.

use std::fmt;
use std::sync::Arc;

use crate::model::SourceLocation;

use super::path::WriteError;

/// A document as errors and notes name it: its [`DocIdentity`], shared
/// (errors stay small, copies are cheap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocId(Arc<DocIdentity>);

impl DocId {
    /// The id of a document.
    pub fn new(identity: DocIdentity) -> Self {
        DocId(Arc::new(identity))
    }
}

impl std::ops::Deref for DocId {
    type Target = DocIdentity;

    fn deref(&self) -> &DocIdentity {
        &self.0
    }
}

/// What identifies a document and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocIdentity {
    /// `schema`.
    pub schema: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.layeringDefinition.layer` (control documents have none).
    pub layer: Option<String>,
    /// Where the document starts.
    pub location: Option<SourceLocation>,
}

impl DocIdentity {
    /// `FILE:LINE`, or `<input>` when unknown.
    pub fn at(&self) -> String {
        self.location.as_ref().map_or_else(|| "<input>".to_owned(), SourceLocation::to_string)
    }

    /// `[schema, layer] name (FILE:LINE)`: another document, cited.
    pub fn cited(&self) -> String {
        format!("{self} ({})", self.at())
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for DocIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.layer {
            Some(layer) => write!(f, "[{}, {layer}] {}", self.schema, self.name),
            None => write!(f, "[{}] {}", self.schema, self.name),
        }
    }
}

/// One document that does not have Deckhand's document format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatProblem {
    /// The document, as far as it could be identified.
    pub document: DocId,
    /// Where the offending part is (the document's start when unknown).
    pub location: Option<SourceLocation>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FormatProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.location.as_ref().or(self.document.location.as_ref());
        match at {
            Some(at) => write!(f, "{at}: {}: {}", self.document, self.message),
            None => write!(f, "<input>: {}: {}", self.document, self.message),
        }
    }
}

/// Why documents cannot be rendered.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// Documents fail Deckhand's format checks (`metadata/Document/v1`,
    /// `metadata/Control/v1`, the layering policy and secret schemas).
    #[error("{} not in Deckhand's document format: {}", count(.problems.len()), first(.problems))]
    Format {
        /// Every problem found, in input order.
        problems: Vec<FormatProblem>,
    },
    /// No `deckhand/LayeringPolicy/v1` among the documents.
    #[error("no deckhand/LayeringPolicy/v1 document: one is needed to layer documents (Pegleg keeps it in global/)")]
    NoLayeringPolicy,
    /// A document's layer is not in the policy's `layerOrder`.
    #[error("{}: {document}: layer {layer:?} is not in the layerOrder [{order}] of {}", .document.at(), .policy.cited())]
    UnknownLayer {
        /// The document.
        document: DocId,
        /// Its layer.
        layer: String,
        /// The policy's layers, comma separated.
        order: String,
        /// The layering policy.
        policy: DocId,
    },
    /// Two documents share schema, layer and name.
    #[error("{}: {document}: another document has the same schema, layer and name: {}", .document.at(), .first.cited())]
    Duplicate {
        /// The second document.
        document: DocId,
        /// The first one.
        first: DocId,
    },
    /// A `parentSelector` matches a document that cannot be the parent.
    #[error("{}: {child}: its parentSelector matches {}, which {reason}", .child.at(), .parent.cited())]
    InvalidParent {
        /// The document with the selector.
        child: DocId,
        /// The document its selector matches.
        parent: DocId,
        /// Why that cannot be its parent.
        reason: String,
    },
    /// A `parentSelector` matches several documents in one layer.
    #[error("{}: {child}: its parentSelector matches {} documents in layer {layer} (a document has at most one parent): {}",
        .child.at(), .candidates.len(), cited(.candidates))]
    IndeterminateParent {
        /// The document with the selector.
        child: DocId,
        /// The layer holding several matches.
        layer: String,
        /// The matches.
        candidates: Vec<DocId>,
    },
    /// A replacement rule is broken.
    #[error("{}: {document}: {reason}", .document.at())]
    Replacement {
        /// The document.
        document: DocId,
        /// Which rule, in Deckhand's words.
        reason: String,
    },
    /// A layering action cannot be applied.
    #[error("{}: {document}: layering action {method} {path} (parent {}): {reason}", .document.at(), .parent.cited())]
    Action {
        /// The child document.
        document: DocId,
        /// Its parent.
        parent: DocId,
        /// `merge`, `replace` or `delete`.
        method: &'static str,
        /// The action's path.
        path: String,
        /// What is missing or in the way.
        reason: String,
        /// The write that failed, if that was the cause.
        #[source]
        cause: Option<Box<WriteError>>,
    },
    /// A substitution names a source no concrete document provides.
    #[error("{}: {document}: substitution {index} takes data from [{schema}] {name}, but no concrete document has that schema and name",
        .document.at())]
    SourceNotFound {
        /// The destination document.
        document: DocId,
        /// The substitution's position (from 0) in `metadata.substitutions`.
        index: usize,
        /// `src.schema`.
        schema: String,
        /// `src.name`.
        name: String,
    },
    /// A substitution's source has nothing at `src.path`.
    #[error("{}: {document}: substitution {index}: {} has no data at {path}", .document.at(), .source_document.cited())]
    SourceDataNotFound {
        /// The destination document.
        document: DocId,
        /// The substitution's position.
        index: usize,
        /// The source document.
        source_document: DocId,
        /// `src.path`.
        path: String,
    },
    /// A substitution cannot be applied to its destination.
    #[error("{}: {document}: substitution {index} (from {}): {reason}", .document.at(), .source_document.cited())]
    Substitution {
        /// The destination document.
        document: DocId,
        /// The substitution's position.
        index: usize,
        /// The source document.
        source_document: DocId,
        /// What went wrong (paths and patterns only).
        reason: String,
        /// The write that failed, if that was the cause.
        #[source]
        cause: Option<Box<WriteError>>,
    },
    /// Documents depend on each other in a cycle.
    #[error("documents depend on each other in a cycle (each layers on or substitutes from the next): {}", cycle(.documents))]
    Cycle {
        /// The cycle, each document depending on the next and the last on the first.
        documents: Vec<DocId>,
    },
    /// Rendering grew past a limit.
    #[error("{}: {document}: rendering exceeds the limit of {limit} {what}", .document.at())]
    TooLarge {
        /// The document being rendered.
        document: DocId,
        /// `nodes`, `bytes of strings` or `levels of nesting`.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
}

impl RenderError {
    /// The document the error is about (the first, for a cycle; none for a
    /// missing policy).
    pub fn document(&self) -> Option<&DocId> {
        match self {
            RenderError::Format { problems } => problems.first().map(|problem| &problem.document),
            RenderError::NoLayeringPolicy => None,
            RenderError::UnknownLayer { document, .. }
            | RenderError::Duplicate { document, .. }
            | RenderError::Replacement { document, .. }
            | RenderError::Action { document, .. }
            | RenderError::SourceNotFound { document, .. }
            | RenderError::SourceDataNotFound { document, .. }
            | RenderError::Substitution { document, .. }
            | RenderError::TooLarge { document, .. } => Some(document),
            RenderError::InvalidParent { child, .. } | RenderError::IndeterminateParent { child, .. } => Some(child),
            RenderError::Cycle { documents } => documents.first(),
        }
    }

    /// Every line of the error for a terminal: the message, then (for
    /// format errors) one line per problem.
    pub fn lines(&self) -> Vec<String> {
        match self {
            RenderError::Format { problems } => problems.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        }
    }
}

fn count(problems: usize) -> String {
    if problems == 1 { "1 document is".to_owned() } else { format!("{problems} documents are") }
}

fn first(problems: &[FormatProblem]) -> String {
    match problems {
        [] => String::new(),
        [only] => only.to_string(),
        [first, ..] => format!("{first} (and {} more)", problems.len() - 1),
    }
}

fn cited(documents: &[DocId]) -> String {
    documents.iter().map(|document| document.cited()).collect::<Vec<_>>().join(", ")
}

fn cycle(documents: &[DocId]) -> String {
    let mut names: Vec<String> = documents.iter().map(|document| document.cited()).collect();
    if let Some(first) = documents.first() {
        names.push(first.to_string());
    }
    names.join(" -> ")
}
