//! A Pegleg site's files into rendered documents (compat: site-design spec
//! §8.2): every file parsed with its lines in one line space and one node
//! budget for the whole site; documents that are not Deckhand documents
//! skipped as Pegleg skips them; Pegleg-managed documents unwrapped as
//! `pegleg site render` does; then [`super::render`]. Pure: the files come
//! from [`crate::ingest::repo`].

use std::sync::Arc;

use crate::ingest::lines::{LineMap, LineSpaceFull};
use crate::ingest::repo::SiteFiles;
use crate::ingest::value::Value;
use crate::ingest::yaml::{StreamBudget, YamlDocument, YamlError, YamlLimits, parse_stream_at};

use super::document::{identify, is_deckhand_document};
use super::error::DocId;
use super::{RenderError, RenderLimits, Rendered, render};

/// The schema of Pegleg's wrapper around managed (generated or encrypted)
/// documents.
const PEGLEG_MANAGED: &str = "pegleg/PeglegManagedDocument/v1";

/// Why a site cannot be rendered.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SiteError {
    /// A file is not YAML (or breaks a YAML limit).
    #[error("{file}:{line}: Error parsing YAML at (l:{line}, c:{column}): {message}", line = .error.line, column = .error.column, message = .error.message)]
    Yaml {
        /// The file.
        file: String,
        /// The parser's error, with the file's own line.
        error: YamlError,
    },
    /// The site has more lines than one line space numbers.
    #[error("the site's files are too many lines to number together")]
    TooManyLines(#[source] LineSpaceFull),
    /// A Pegleg-managed document is still encrypted.
    #[error("{}: {document}: the document is encrypted by Pegleg; decrypt the site's secrets first (pegleg site secrets decrypt)", .document.at())]
    PeglegEncrypted {
        /// The wrapped document.
        document: DocId,
    },
    /// The documents do not render.
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// The documents of a site's files, each file's lines in `lines`' space;
/// also the number of documents skipped as not Deckhand's.
pub fn documents(files: &SiteFiles, limits: &YamlLimits) -> Result<(Vec<YamlDocument>, LineMap, usize), SiteError> {
    let mut lines = LineMap::new();
    let mut offsets = Vec::with_capacity(files.files.len());
    for file in &files.files {
        offsets.push(lines.add(Arc::from(file.name.as_str()), &file.text).map_err(SiteError::TooManyLines)?);
    }
    let budget = StreamBudget::new(limits);
    let parse = |index: usize| {
        let (file, offset) = (&files.files[index], offsets[index]);
        parse_stream_at(&file.text, offset, &budget).map_err(|error| SiteError::Yaml {
            file: file.name.clone(),
            error: YamlError { line: error.line.saturating_sub(offset), ..error },
        })
    };
    // Files are parsed on several threads (one budget for all of them),
    // then taken in order: the first error in file order is the one
    // reported.
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
    let per_thread = files.files.len().div_ceil(threads).max(1);
    let parsed_files: Vec<Result<Vec<YamlDocument>, SiteError>> = if threads < 2 || files.files.len() < 4 {
        (0..files.files.len()).map(parse).collect()
    } else {
        let indexes: Vec<usize> = (0..files.files.len()).collect();
        std::thread::scope(|scope| {
            let parse = &parse;
            let handles: Vec<_> = indexes
                .chunks(per_thread)
                .map(|chunk| scope.spawn(move || chunk.iter().map(|&index| parse(index)).collect::<Vec<_>>()))
                .collect();
            handles.into_iter().flat_map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
        })
    };
    let mut documents = Vec::new();
    let mut skipped = 0;
    for parsed in parsed_files {
        for document in parsed? {
            match unwrap_managed(document, &lines)? {
                Some(document) if is_deckhand_document(&document.value) => documents.push(document),
                Some(document) if document.value.is_null() => {}
                _ => skipped += 1,
            }
        }
    }
    Ok((documents, lines, skipped))
}

/// A Pegleg-managed document's wrapped document (others pass through).
fn unwrap_managed(document: YamlDocument, lines: &LineMap) -> Result<Option<YamlDocument>, SiteError> {
    let managed = document.value.as_map().and_then(|map| map.get("schema")).and_then(Value::as_str) == Some(PEGLEG_MANAGED);
    if !managed {
        return Ok(Some(document));
    }
    let data = document.value.as_map().and_then(|map| map.get("data")).and_then(Value::as_map);
    let Some(inner) = data.and_then(|data| data.get("managedDocument")) else {
        return Ok(None);
    };
    let line = inner.line().unwrap_or(document.line);
    if data.is_some_and(|data| data.contains_key("encrypted")) {
        return Err(SiteError::PeglegEncrypted { document: identify(inner, line, lines) });
    }
    Ok(Some(YamlDocument { line, value: inner.clone() }))
}

/// Render a site's files.
pub fn render_site(files: &SiteFiles, yaml_limits: &YamlLimits, limits: &RenderLimits) -> Result<Rendered, SiteError> {
    let (documents, lines, _) = documents(files, yaml_limits)?;
    Ok(render(documents, lines, limits)?)
}
