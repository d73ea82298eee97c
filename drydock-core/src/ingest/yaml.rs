//! Multi-document YAML parsing with the YAML 1.1 behaviours the original
//! relies on (compat: site-design spec §1.3): `yes`/`on`/`off` booleans,
//! octal/hex/binary/sexagesimal integers, sexagesimal floats, timestamps,
//! duplicate keys where the last value wins, merge keys, anchors and aliases.
//!
//! Events come from `yaml-rust2` (chosen by measurement, see README.md); the
//! value tree is built here so scalars can be typed by YAML 1.1 rules and every
//! map and sequence keeps its line. Large streams are split at document
//! markers and parsed on several threads; any error re-parses the whole stream
//! in one piece so the reported error is the one a sequential parse gives.
//!
//! Limits guard against hostile input: document size and nesting depth are
//! bounded per document; the nodes built and the nodes added by alias
//! expansion ("billion laughs") are budgeted per stream, across every
//! document and every parsing thread, so a stream of many small bombs fails
//! as early as one big one. Characters PyYAML refuses (NUL and other control
//! characters) are refused before parsing, as PyYAML's reader does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

use super::value::{Map, Seq, Value};

/// Bounds on what one parse may build.
#[derive(Debug, Clone, Copy)]
pub struct YamlLimits {
    /// Largest single document, in bytes.
    pub max_document_bytes: usize,
    /// Deepest nesting of maps and sequences.
    pub max_depth: usize,
    /// Most nodes that alias expansion may add to a whole stream.
    pub max_alias_nodes: usize,
    /// Most nodes (scalars, sequences and mappings, aliases expanded) a
    /// whole stream may build.
    pub max_nodes: usize,
}

impl Default for YamlLimits {
    fn default() -> Self {
        YamlLimits { max_document_bytes: 32 << 20, max_depth: 256, max_alias_nodes: 1_000_000, max_nodes: 10_000_000 }
    }
}

/// The per-stream node budgets, shared by every thread parsing the stream.
struct Budget<'l> {
    limits: &'l YamlLimits,
    nodes: AtomicUsize,
    alias_nodes: AtomicUsize,
}

/// Nodes a builder counts locally before charging the shared budget (keeps
/// parallel parsing off one contended counter).
const BUDGET_BATCH: usize = 4096;

impl<'l> Budget<'l> {
    fn new(limits: &'l YamlLimits) -> Self {
        Budget { limits, nodes: AtomicUsize::new(0), alias_nodes: AtomicUsize::new(0) }
    }

    /// What has been charged so far.
    fn snapshot(&self) -> (usize, usize) {
        (self.nodes.load(Ordering::Relaxed), self.alias_nodes.load(Ordering::Relaxed))
    }

    /// Go back to a snapshot (a stream parsed again after a failed attempt).
    fn restore(&self, (nodes, alias_nodes): (usize, usize)) {
        self.nodes.store(nodes, Ordering::Relaxed);
        self.alias_nodes.store(alias_nodes, Ordering::Relaxed);
    }

    /// Charge `nodes` built nodes; an error once the stream is over budget.
    fn charge_nodes(&self, nodes: usize) -> Result<(), String> {
        let total = self.nodes.fetch_add(nodes, Ordering::Relaxed).saturating_add(nodes);
        if total > self.limits.max_nodes {
            return Err(format!("the stream builds more than the limit of {} nodes", self.limits.max_nodes));
        }
        Ok(())
    }

    /// Charge `nodes` added by expanding an alias.
    fn charge_alias(&self, nodes: usize) -> Result<(), String> {
        let total = self.alias_nodes.fetch_add(nodes, Ordering::Relaxed).saturating_add(nodes);
        if total > self.limits.max_alias_nodes {
            return Err(format!(
                "alias expansion exceeds the limit of {} nodes for the whole stream (possible YAML bomb)",
                self.limits.max_alias_nodes
            ));
        }
        self.charge_nodes(nodes)
    }
}

/// Refuse the characters PyYAML's reader refuses (everything outside
/// `#x9 #xA #xD #x20-#x7E #x85 #xA0-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF`),
/// with its message and the character's line and column.
fn check_printable(text: &str) -> Result<(), YamlError> {
    let bytes = text.as_bytes();
    let bad = bytes.iter().enumerate().position(|(index, &byte)| match byte {
        b'\t' | b'\n' | b'\r' => false,
        0..0x20 | 0x7F => true,
        // C1 controls (U+0080-U+009F) except NEL (U+0085).
        0xC2 => matches!(bytes.get(index + 1), Some(&next) if (0x80..0xA0).contains(&next) && next != 0x85),
        // U+FFFE and U+FFFF.
        0xEF => bytes.get(index + 1) == Some(&0xBF) && matches!(bytes.get(index + 2), Some(0xBE | 0xBF)),
        _ => false,
    });
    let Some(offset) = bad else { return Ok(()) };
    let character = text[offset..].chars().next().unwrap_or('\0');
    let before = &text[..offset];
    let line = before.matches('\n').count() as u32 + 1;
    let column = before.rsplit('\n').next().map_or(0, |tail| tail.chars().count()) as u32 + 1;
    Err(YamlError {
        message: format!("unacceptable character #x{:04x}: special characters are not allowed", u32::from(character)),
        line,
        column,
    })
}

/// One document of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlDocument {
    /// 1-based line where the document starts (its `---` or first content).
    pub line: u32,
    /// The document's root value (`Null` for an empty document).
    pub value: Value,
}

/// Why a stream could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (line {line}, column {column})")]
pub struct YamlError {
    /// What went wrong.
    pub message: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// Parse a whole multi-document stream.
pub fn parse_stream(text: &str, limits: &YamlLimits) -> Result<Vec<YamlDocument>, YamlError> {
    parse_stream_map(text, limits, &|document| document)
}

/// Parse a stream and hand each document to `map` as soon as it is built, in
/// worker threads for large streams; results come back in stream order. This
/// keeps only one document's value tree alive per thread.
pub fn parse_stream_map<T: Send>(text: &str, limits: &YamlLimits, map: &(dyn Fn(YamlDocument) -> T + Sync)) -> Result<Vec<T>, YamlError> {
    parse_budgeted(text, 0, &Budget::new(limits), map)
}

/// The node budgets of several streams read as one input (the files of a
/// site repository): every node built and every alias expanded in any of
/// them is charged here, so many files cannot together build more than one
/// stream may.
pub struct StreamBudget<'l> {
    budget: Budget<'l>,
}

impl<'l> StreamBudget<'l> {
    /// A budget of `limits`' node counts, nothing charged yet.
    pub fn new(limits: &'l YamlLimits) -> Self {
        StreamBudget { budget: Budget::new(limits) }
    }

    /// Nodes charged so far (built and expanded).
    pub fn nodes(&self) -> usize {
        self.budget.nodes.load(Ordering::Relaxed)
    }
}

/// Parse one stream of several charged to `budget`, with every line (of
/// documents, maps, sequences and errors) moved down by `line_offset`: the
/// stream's first line is `line_offset + 1`. Callers that number the lines
/// of several files in one space (a site repository's) give each file its
/// own range.
pub fn parse_stream_at(text: &str, line_offset: u32, budget: &StreamBudget<'_>) -> Result<Vec<YamlDocument>, YamlError> {
    parse_budgeted(text, line_offset, &budget.budget, &|document| document)
}

fn parse_budgeted<T: Send>(
    text: &str,
    line_offset: u32,
    budget: &Budget<'_>,
    map: &(dyn Fn(YamlDocument) -> T + Sync),
) -> Result<Vec<T>, YamlError> {
    check_printable(text).map_err(|error| YamlError { line: error.line.saturating_add(line_offset), ..error })?;
    let chunks = split_documents(text);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
    if chunks.len() < 2 || threads < 2 || text.len() < 256 * 1024 {
        return parse_chunk(text, line_offset, budget, map);
    }
    let charged = budget.snapshot();
    match parse_chunks_parallel(text, line_offset, &chunks, threads, budget, map) {
        Some(results) => Ok(results),
        // Some chunk failed: parse sequentially so the error is exactly the
        // one a single pass over the stream reports (with the budget as it
        // was before this stream).
        None => {
            budget.restore(charged);
            parse_chunk(text, line_offset, budget, map)
        }
    }
}

/// A slice of the stream starting at a document marker, with its first line.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    start: usize,
    end: usize,
    first_line: u32,
}

/// Split at `---` lines. A line starting with `---` followed by white space
/// or the end of the line is always a document marker in YAML (such lines are
/// forbidden inside scalars), so each chunk parses as a stream of its own.
fn split_documents(text: &str) -> Vec<Chunk> {
    let bytes = text.as_bytes();
    let mut chunks = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1u32;
    let mut line = 1u32;
    let mut position = 0usize;
    while position < bytes.len() {
        let at_marker =
            bytes[position..].starts_with(b"---") && matches!(bytes.get(position + 3), None | Some(b' ' | b'\t' | b'\n' | b'\r'));
        if at_marker && position > start {
            chunks.push(Chunk { start, end: position, first_line: start_line });
            start = position;
            start_line = line;
        }
        match memchr_newline(&bytes[position..]) {
            Some(offset) => {
                position += offset + 1;
                line += 1;
            }
            None => break,
        }
    }
    chunks.push(Chunk { start, end: bytes.len(), first_line: start_line });
    chunks
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

fn parse_chunks_parallel<T: Send>(
    text: &str,
    line_offset: u32,
    chunks: &[Chunk],
    threads: usize,
    budget: &Budget<'_>,
    map: &(dyn Fn(YamlDocument) -> T + Sync),
) -> Option<Vec<T>> {
    // Contiguous groups of roughly equal byte size, one per thread.
    let target = text.len().div_ceil(threads);
    let mut groups: Vec<&[Chunk]> = Vec::new();
    let mut group_start = 0;
    let mut group_bytes = 0;
    for (index, chunk) in chunks.iter().enumerate() {
        group_bytes += chunk.end - chunk.start;
        if group_bytes >= target && groups.len() + 1 < threads {
            groups.push(&chunks[group_start..=index]);
            group_start = index + 1;
            group_bytes = 0;
        }
    }
    if group_start < chunks.len() {
        groups.push(&chunks[group_start..]);
    }
    let results: Vec<Option<Vec<T>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .iter()
            .map(|group| {
                scope.spawn(move || {
                    let mut documents = Vec::new();
                    for chunk in group.iter() {
                        let slice = &text[chunk.start..chunk.end];
                        let parsed = parse_chunk(slice, (chunk.first_line - 1).saturating_add(line_offset), budget, map).ok()?;
                        documents.extend(parsed);
                    }
                    Some(documents)
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().ok().flatten()).collect()
    });
    let mut documents = Vec::new();
    for result in results {
        documents.extend(result?);
    }
    Some(documents)
}

/// Parse one stream (or chunk of one), adding `line_offset` to every line.
fn parse_chunk<T>(
    text: &str,
    line_offset: u32,
    budget: &Budget<'_>,
    map: &(dyn Fn(YamlDocument) -> T + Sync),
) -> Result<Vec<T>, YamlError> {
    let limits = budget.limits;
    let mut builder = Builder::new(line_offset, budget);
    let mut results = Vec::new();
    let mut parser = Parser::new_from_str(text);
    // A stream that ends inside a block scalar without a final line break:
    // the scalar has no final line break either (PyYAML), where yaml-rust2
    // adds one. Positions are in characters.
    let unterminated_length = (!text.is_empty() && !text.ends_with('\n')).then(|| text.chars().count());
    let mut document_start_index = 0usize;
    loop {
        let (event, marker) = parser.next_token().map_err(|error| YamlError {
            message: error.info().to_owned(),
            line: (error.marker().line() as u32).saturating_add(line_offset),
            column: error.marker().col() as u32 + 1,
        })?;
        let line = (marker.line() as u32).saturating_add(line_offset);
        let column = marker.col() as u32 + 1;
        match event {
            Event::StreamEnd => {
                builder.flush_budget(line, column)?;
                break;
            }
            Event::DocumentStart => {
                document_start_index = marker.index();
                builder.start_document(line);
            }
            Event::DocumentEnd => {
                if builder.last_block
                    && unterminated_length == Some(marker.index())
                    && let Some(root) = builder.root.as_mut()
                {
                    strip_final_line_break(root);
                }
                let size = marker.index().saturating_sub(document_start_index);
                if size > limits.max_document_bytes {
                    return Err(YamlError {
                        message: format!("document is {size} bytes, more than the limit of {} bytes", limits.max_document_bytes),
                        line: builder.document_line,
                        column: 1,
                    });
                }
                results.push(map(builder.end_document()));
            }
            other => builder.event(other, line, column)?,
        }
    }
    Ok(results)
}

enum Frame {
    Seq { seq: Seq, anchor: usize },
    Map { map: Map, anchor: usize, pending_key: Option<Value>, merges: Vec<Value>, index: Option<HashMap<String, usize>> },
}

struct Builder<'l> {
    limits: &'l YamlLimits,
    budget: &'l Budget<'l>,
    line_offset: u32,
    document_line: u32,
    stack: Vec<Frame>,
    root: Option<Value>,
    anchors: HashMap<usize, (Value, usize)>,
    /// Nodes built since the shared budget was last charged.
    uncharged: usize,
    /// Whether the last node built is a block scalar (`|`, `>`).
    last_block: bool,
}

/// Maps larger than this get a hash index for duplicate-key detection, so a
/// hostile map with a million keys stays linear.
const MAP_INDEX_THRESHOLD: usize = 32;

/// Marker used for a plain `<<` key while its map is being built.
const MERGE_KEY: &str = "\u{0}<<merge>>";

impl<'l> Builder<'l> {
    fn new(line_offset: u32, budget: &'l Budget<'l>) -> Self {
        Builder {
            limits: budget.limits,
            budget,
            line_offset,
            document_line: line_offset + 1,
            stack: Vec::new(),
            root: None,
            anchors: HashMap::new(),
            uncharged: 0,
            last_block: false,
        }
    }

    fn start_document(&mut self, line: u32) {
        self.document_line = line.max(self.line_offset + 1);
        self.stack.clear();
        self.root = None;
        self.anchors.clear();
    }

    /// Count one built node, charging the shared budget every
    /// [`BUDGET_BATCH`] nodes.
    fn count_node(&mut self, line: u32, column: u32) -> Result<(), YamlError> {
        self.uncharged += 1;
        if self.uncharged >= BUDGET_BATCH { self.flush_budget(line, column) } else { Ok(()) }
    }

    fn flush_budget(&mut self, line: u32, column: u32) -> Result<(), YamlError> {
        let nodes = std::mem::take(&mut self.uncharged);
        let document_line = self.document_line;
        self.budget.charge_nodes(nodes).map_err(|message| YamlError {
            message: format!("{message} (in the document at line {document_line})"),
            line,
            column,
        })
    }

    fn end_document(&mut self) -> YamlDocument {
        let value = self.root.take().unwrap_or(Value::Null);
        self.anchors.clear();
        YamlDocument { line: self.document_line, value }
    }

    fn event(&mut self, event: Event, line: u32, column: u32) -> Result<(), YamlError> {
        let error = |message: String| YamlError { message, line, column };
        match &event {
            Event::Scalar(_, style, ..) => self.last_block = matches!(style, TScalarStyle::Literal | TScalarStyle::Folded),
            Event::SequenceStart(..) | Event::MappingStart(..) | Event::Alias(_) => self.last_block = false,
            _ => {}
        }
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.count_node(line, column)?;
                let is_plain = style == TScalarStyle::Plain;
                // An empty plain key is only produced for `: value` (an
                // implicit empty key), which YAML 1.1 and PyYAML reject.
                if is_plain && text.is_empty() && anchor == 0 && tag.is_none() && self.expecting_key() {
                    return Err(error("expected a mapping key before ':' (an empty key needs quotes, e.g. '': value)".into()));
                }
                let value = match tag {
                    Some(tag) => resolve_tagged(text, &tag).map_err(error)?,
                    None if is_plain => resolve_plain(&text).unwrap_or(Value::Str(text)),
                    None => Value::Str(text),
                };
                let value = match (&value, self.expecting_key()) {
                    (Value::Str(text), true) if is_plain && text == "<<" => Value::Str(MERGE_KEY.into()),
                    _ => value,
                };
                self.push_value(value, anchor, 1, line, column)
            }
            Event::SequenceStart(anchor, _tag) => {
                self.count_node(line, column)?;
                self.check_depth(line, column)?;
                self.stack.push(Frame::Seq { seq: Seq { line, items: Vec::new() }, anchor });
                Ok(())
            }
            Event::MappingStart(anchor, _tag) => {
                self.count_node(line, column)?;
                self.check_depth(line, column)?;
                self.stack.push(Frame::Map {
                    map: Map { line, entries: Vec::new() },
                    anchor,
                    pending_key: None,
                    merges: Vec::new(),
                    index: None,
                });
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq { seq, anchor }) => {
                    let nodes = if anchor > 0 { 1 + seq.items.iter().map(count_nodes).sum::<usize>() } else { 0 };
                    self.push_value(Value::Seq(seq), anchor, nodes, line, column)
                }
                _ => Err(error("unbalanced sequence end".into())),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map { map, anchor, merges, .. }) => {
                    let map = apply_merges(map, merges).map_err(error)?;
                    let value = Value::Map(map);
                    let nodes = if anchor > 0 { count_nodes(&value) } else { 0 };
                    self.push_value(value, anchor, nodes, line, column)
                }
                _ => Err(error("unbalanced mapping end".into())),
            },
            Event::Alias(id) => {
                let Some((value, nodes)) = self.anchors.get(&id) else {
                    return Err(error("found undefined alias".into()));
                };
                let document_line = self.document_line;
                self.budget
                    .charge_alias(*nodes)
                    .map_err(|message| error(format!("{message} (in the document at line {document_line})")))?;
                let value = value.clone();
                self.push_value(value, 0, 0, line, column)
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::DocumentEnd => Ok(()),
        }
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { pending_key: None, .. }))
    }

    fn check_depth(&self, line: u32, column: u32) -> Result<(), YamlError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(YamlError { message: format!("nesting deeper than the limit of {} levels", self.limits.max_depth), line, column });
        }
        Ok(())
    }

    fn push_value(&mut self, value: Value, anchor: usize, nodes: usize, line: u32, column: u32) -> Result<(), YamlError> {
        if anchor > 0 {
            self.anchors.insert(anchor, (value.clone(), nodes.max(1)));
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(value);
                Ok(())
            }
            Some(Frame::Seq { seq, .. }) => {
                seq.items.push(value);
                Ok(())
            }
            Some(Frame::Map { map, pending_key, merges, index, .. }) => match pending_key.take() {
                None => {
                    if matches!(value, Value::Seq(_) | Value::Map(_)) {
                        return Err(YamlError { message: "found unhashable key".into(), line, column });
                    }
                    *pending_key = Some(value);
                    Ok(())
                }
                Some(Value::Str(key)) if key == MERGE_KEY => {
                    merges.push(value);
                    Ok(())
                }
                Some(key) => {
                    insert_entry(map, index, key, value);
                    Ok(())
                }
            },
        }
    }
}

/// Insert with PyYAML dict semantics: a repeated key keeps its first position
/// and takes the last value.
fn insert_entry(map: &mut Map, index: &mut Option<HashMap<String, usize>>, key: Value, value: Value) {
    if let (Some(index), Value::Str(text)) = (index.as_mut(), &key) {
        if let Some(&position) = index.get(text) {
            map.entries[position].1 = value;
            return;
        }
        index.insert(text.clone(), map.entries.len());
        map.entries.push((key, value));
        return;
    }
    if let Some(existing) = map.entries.iter_mut().find(|(k, _)| k.key_eq(&key)) {
        existing.1 = value;
        return;
    }
    map.entries.push((key, value));
    if index.is_none() && map.entries.len() > MAP_INDEX_THRESHOLD {
        let built: HashMap<String, usize> =
            map.entries.iter().enumerate().filter_map(|(position, (k, _))| k.as_str().map(|text| (text.to_owned(), position))).collect();
        *index = Some(built);
    }
}

/// Apply `<<` merge keys as PyYAML's `flatten_mapping` does: merged entries
/// first (later sources first, earlier ones overriding), then the map's own.
fn apply_merges(map: Map, merges: Vec<Value>) -> Result<Map, String> {
    if merges.is_empty() {
        return Ok(map);
    }
    let mut sources: Vec<Map> = Vec::new();
    for merge in merges {
        match merge {
            Value::Map(source) => sources.push(source),
            Value::Seq(seq) => {
                let mut listed = Vec::new();
                for item in seq.items {
                    match item {
                        Value::Map(source) => listed.push(source),
                        _ => return Err("expected a mapping for merging".into()),
                    }
                }
                listed.reverse();
                sources.extend(listed);
            }
            _ => return Err("expected a mapping or list of mappings for merging".into()),
        }
    }
    let mut merged = Map { line: map.line, entries: Vec::new() };
    let mut index = None;
    for source in sources {
        for (key, value) in source.entries {
            insert_entry(&mut merged, &mut index, key, value);
        }
    }
    for (key, value) in map.entries {
        insert_entry(&mut merged, &mut index, key, value);
    }
    Ok(merged)
}

/// Drop the final line break of the last scalar of `value` (its
/// right-most leaf), which a block scalar ending the stream without a line
/// break must not have.
fn strip_final_line_break(value: &mut Value) {
    let mut here = value;
    loop {
        here = match here {
            Value::Map(map) => match map.entries.last_mut() {
                Some((_, last)) => last,
                None => return,
            },
            Value::Seq(seq) => match seq.items.last_mut() {
                Some(last) => last,
                None => return,
            },
            Value::Str(text) => {
                if text.ends_with('\n') {
                    text.pop();
                }
                return;
            }
            _ => return,
        };
    }
}

fn count_nodes(value: &Value) -> usize {
    match value {
        Value::Seq(seq) => 1 + seq.items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(map) => 1 + map.entries.iter().map(|(k, v)| count_nodes(k) + count_nodes(v)).sum::<usize>(),
        _ => 1,
    }
}

/// Resolve an explicitly tagged scalar (`!!str 0755`, `!!int "12"`).
fn resolve_tagged(text: String, tag: &Tag) -> Result<Value, String> {
    if tag.handle != "tag:yaml.org,2002:" {
        return Err(format!("could not determine a constructor for the tag '{}{}'", tag.handle, tag.suffix));
    }
    match tag.suffix.as_str() {
        "str" => Ok(Value::Str(text)),
        "null" => Ok(Value::Null),
        "bool" => match resolve_plain(&text) {
            Some(value @ Value::Bool(_)) => Ok(value),
            _ => Err(format!("invalid boolean '{text}'")),
        },
        "int" => match resolve_plain(&text) {
            Some(value @ Value::Int(_)) => Ok(value),
            _ => Err(format!("invalid literal for int(): '{text}'")),
        },
        "float" => match resolve_plain(&text) {
            Some(Value::Int(i)) => Ok(Value::Float(i as f64)),
            Some(value @ Value::Float(_)) => Ok(value),
            _ => Err(format!("could not convert string to float: '{text}'")),
        },
        "timestamp" => Ok(Value::Timestamp(text)),
        other => Err(format!("could not determine a constructor for the tag 'tag:yaml.org,2002:{other}'")),
    }
}

/// Type a plain scalar by YAML 1.1 rules (PyYAML's implicit resolvers).
/// `None` means "a string".
pub fn resolve_plain(text: &str) -> Option<Value> {
    let Some(&first) = text.as_bytes().first() else {
        return Some(Value::Null);
    };
    match first {
        b'~' if text == "~" => Some(Value::Null),
        b'n' | b'N' => match text {
            "null" | "Null" | "NULL" => Some(Value::Null),
            "no" | "No" | "NO" => Some(Value::Bool(false)),
            _ => None,
        },
        b'y' | b'Y' => matches!(text, "yes" | "Yes" | "YES").then_some(Value::Bool(true)),
        b't' | b'T' => matches!(text, "true" | "True" | "TRUE").then_some(Value::Bool(true)),
        b'f' | b'F' => matches!(text, "false" | "False" | "FALSE").then_some(Value::Bool(false)),
        b'o' | b'O' => match text {
            "on" | "On" | "ON" => Some(Value::Bool(true)),
            "off" | "Off" | "OFF" => Some(Value::Bool(false)),
            _ => None,
        },
        b'0'..=b'9' | b'+' | b'-' | b'.' => resolve_number(text).or_else(|| resolve_timestamp(text)),
        _ => None,
    }
}

fn resolve_number(text: &str) -> Option<Value> {
    let (negative, body) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let signed = |magnitude: i128| -> Value {
        let value = if negative { -magnitude } else { magnitude };
        i64::try_from(value).map(Value::Int).unwrap_or(Value::Float(value as f64))
    };
    // Special floats (`.inf`, `.nan`); `.nan` takes no sign.
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return Some(Value::Float(if negative { f64::NEG_INFINITY } else { f64::INFINITY }));
    }
    if matches!(text, ".nan" | ".NaN" | ".NAN") {
        return Some(Value::Float(f64::NAN));
    }
    let bytes = body.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    // Binary 0b…, hex 0x…
    if let Some(digits) = body.strip_prefix("0b") {
        return parse_radix(digits, 2).map(signed);
    }
    if let Some(digits) = body.strip_prefix("0x") {
        return parse_radix(digits, 16).map(signed);
    }
    let is_digit_or_underscore = |b: &u8| b.is_ascii_digit() || *b == b'_';
    // Integers without ':' or '.'.
    if bytes.iter().all(is_digit_or_underscore) {
        if body == "0" {
            return Some(Value::Int(0));
        }
        if bytes[0] == b'0' {
            // Octal `0[0-7_]+`; `08` is no number at all.
            return parse_radix(&body[1..], 8).map(signed);
        }
        if bytes[0] == b'_' {
            return None;
        }
        return parse_radix(body, 10).map(signed);
    }
    // Sexagesimal integer: [1-9][0-9_]*(:[0-5]?[0-9])+
    if body.contains(':') && !body.contains('.') {
        let mut parts = body.split(':');
        let head = parts.next()?;
        if head.is_empty() || !head.as_bytes()[0].is_ascii_digit() || head.as_bytes()[0] == b'0' {
            return None;
        }
        if !head.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
            return None;
        }
        let mut value: i128 = parse_radix(head, 10)?;
        for part in parts {
            value = value.checked_mul(60)?.checked_add(sexagesimal_digit(part)? as i128)?;
        }
        return Some(signed(value));
    }
    resolve_float(negative, body)
}

/// A `[0-5]?[0-9]` group of a sexagesimal number.
fn sexagesimal_digit(part: &str) -> Option<u32> {
    let bytes = part.as_bytes();
    match bytes {
        [d] if d.is_ascii_digit() => Some((d - b'0') as u32),
        [t, d] if (b'0'..=b'5').contains(t) && d.is_ascii_digit() => Some(((t - b'0') * 10 + (d - b'0')) as u32),
        _ => None,
    }
}

fn parse_radix(digits: &str, radix: u32) -> Option<i128> {
    let mut value: i128 = 0;
    let mut seen = false;
    for byte in digits.bytes() {
        if byte == b'_' {
            continue;
        }
        let digit = (byte as char).to_digit(radix)?;
        value = value.checked_mul(radix as i128)?.checked_add(digit as i128)?;
        seen = true;
    }
    seen.then_some(value)
}

/// Floats: `[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?`, `\.[0-9_]+([eE][-+][0-9]+)?`
/// and the sexagesimal `[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*`.
fn resolve_float(negative: bool, body: &str) -> Option<Value> {
    let sign = if negative { -1.0 } else { 1.0 };
    if body.contains(':') {
        let (integral, fraction) = body.split_once('.')?;
        if !fraction.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
            return None;
        }
        let mut parts = integral.split(':');
        let head = parts.next()?;
        if head.is_empty() || !head.as_bytes()[0].is_ascii_digit() || !head.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
            return None;
        }
        let groups: Vec<&str> = parts.collect();
        if groups.is_empty() {
            return None;
        }
        let mut value: f64 = head.replace('_', "").parse().ok()?;
        for (position, group) in groups.iter().enumerate() {
            let digit = sexagesimal_digit(group)? as f64;
            if position + 1 == groups.len() {
                let fraction_value: f64 = format!("0.{}", fraction.replace('_', "")).parse().unwrap_or(0.0);
                value = value * 60.0 + digit + fraction_value;
            } else {
                value = value * 60.0 + digit;
            }
        }
        return Some(Value::Float(sign * value));
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(position) => (&body[..position], Some(&body[position + 1..])),
        None => (body, None),
    };
    let (integral, fraction) = mantissa.split_once('.')?;
    let digits_ok = |part: &str| part.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    if !digits_ok(integral) || !digits_ok(fraction) {
        return None;
    }
    if integral.is_empty() {
        // `\.[0-9_]+`: needs at least one fraction character.
        if fraction.is_empty() {
            return None;
        }
    } else if !integral.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    if let Some(exponent) = exponent {
        let bytes = exponent.as_bytes();
        if bytes.len() < 2 || !matches!(bytes[0], b'+' | b'-') || !bytes[1..].iter().all(u8::is_ascii_digit) {
            return None;
        }
    }
    let cleaned: String = body.chars().filter(|&c| c != '_').collect();
    let cleaned = if cleaned.starts_with('.') { format!("0{cleaned}") } else { cleaned };
    let cleaned = cleaned.replace(".e", ".0e").replace(".E", ".0E");
    let value: f64 = cleaned.trim_end_matches('.').parse().ok()?;
    Some(Value::Float(sign * value))
}

/// `YYYY-MM-DD` or a full YAML 1.1 timestamp.
fn resolve_timestamp(text: &str) -> Option<Value> {
    let bytes = text.as_bytes();
    if bytes.len() < 8 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
        return None;
    }
    if bytes.len() == 10 && bytes[5..7].iter().all(u8::is_ascii_digit) && bytes[7] == b'-' && bytes[8..].iter().all(u8::is_ascii_digit) {
        return Some(Value::Timestamp(text.to_owned()));
    }
    // Date with a time part: YYYY-M(M)-D(D)(T|t| )H(H):MM:SS(.frac)?(zone)?
    let rest = &text[5..];
    let (month, rest) = take_digits(rest, 1, 2)?;
    let rest = rest.strip_prefix('-')?;
    let (day, rest) = take_digits(rest, 1, 2)?;
    let _ = (month, day);
    let rest = if let Some(stripped) = rest.strip_prefix(['T', 't']) {
        stripped
    } else {
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if trimmed.len() == rest.len() {
            return None;
        }
        trimmed
    };
    let (_, rest) = take_digits(rest, 1, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (_, rest) = take_digits(rest, 2, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (_, mut rest) = take_digits(rest, 2, 2)?;
    if let Some(fraction) = rest.strip_prefix('.') {
        rest = fraction.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let zone = rest.trim_start_matches([' ', '\t']);
    let zone_ok = zone.is_empty() || zone == "Z" || {
        let (sign, digits) = zone.split_at(1);
        (sign == "+" || sign == "-") && {
            let (_, after) = take_digits(digits, 1, 2).unwrap_or(("", "x"));
            after.is_empty() || after.strip_prefix(':').is_some_and(|m| m.len() == 2 && m.bytes().all(|b| b.is_ascii_digit()))
        }
    };
    zone_ok.then(|| Value::Timestamp(text.to_owned()))
}

fn take_digits(text: &str, min: usize, max: usize) -> Option<(&str, &str)> {
    let count = text.bytes().take(max).take_while(u8::is_ascii_digit).count();
    (count >= min).then(|| text.split_at(count))
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_block_scalar_ending_the_stream_without_a_line_break_has_none() {
        let value = |text: &str| parse_stream(text, &YamlLimits::default()).expect("yaml").remove(0).value.py_repr();
        // PyYAML: yaml.safe_load("a: |\n  x\n  y") == {'a': 'x\ny'}.
        assert_eq!(value("a: |\n  x\n  y"), "{'a': 'x\\ny'}");
        assert_eq!(value("a: |\n  x\n  y\n"), "{'a': 'x\\ny\\n'}");
        assert_eq!(value("a: >\n  x\n  y"), "{'a': 'x y'}");
        assert_eq!(value("- b: |\n    x"), "[{'b': 'x'}]");
        assert_eq!(value("a: |\n  x\n..."), "{'a': 'x\\n'}");
        assert_eq!(value("a: |\n  x\nb: 'y'"), "{'a': 'x\\n', 'b': 'y'}");
    }
    use super::*;

    fn plain(text: &str) -> Value {
        resolve_plain(text).unwrap_or(Value::Str(text.into()))
    }

    #[test]
    fn yaml_1_1_scalars_match_pyyaml() {
        for (text, expected) in [
            ("yes", Value::Bool(true)),
            ("No", Value::Bool(false)),
            ("ON", Value::Bool(true)),
            ("off", Value::Bool(false)),
            ("True", Value::Bool(true)),
            ("FALSE", Value::Bool(false)),
            ("y", Value::Str("y".into())),
            ("n", Value::Str("n".into())),
            ("0xffff", Value::Int(65535)),
            ("0755", Value::Int(493)),
            ("0b101", Value::Int(5)),
            ("1_000", Value::Int(1000)),
            ("1:30", Value::Int(90)),
            ("-1", Value::Int(-1)),
            ("0", Value::Int(0)),
            ("0000:00:03.0", Value::Float(3.0)),
            ("1.0e+3", Value::Float(1000.0)),
            ("3.", Value::Float(3.0)),
            (".5", Value::Float(0.5)),
            ("-.inf", Value::Float(f64::NEG_INFINITY)),
            ("1e3", Value::Str("1e3".into())),
            ("1.0e3", Value::Str("1.0e3".into())),
            ("0o17", Value::Str("0o17".into())),
            ("08", Value::Str("08".into())),
            ("10g", Value::Str("10g".into())),
            ("172.16.1.21", Value::Str("172.16.1.21".into())),
            ("52:54:00:ab:cd:ef", Value::Str("52:54:00:ab:cd:ef".into())),
            ("2017-02-17", Value::Timestamp("2017-02-17".into())),
            ("2001-12-14t21:59:43.10-05:00", Value::Timestamp("2001-12-14t21:59:43.10-05:00".into())),
            ("17-FEB-2017", Value::Str("17-FEB-2017".into())),
            ("~", Value::Null),
            ("NULL", Value::Null),
            ("-", Value::Str("-".into())),
            ("1.2.3", Value::Str("1.2.3".into())),
            ("+12", Value::Int(12)),
        ] {
            assert_eq!(plain(text), expected, "{text}");
        }
        assert!(matches!(plain(".NaN"), Value::Float(f) if f.is_nan()));
    }

    fn parse(text: &str) -> Vec<YamlDocument> {
        parse_stream(text, &YamlLimits::default()).expect("parses")
    }

    #[test]
    fn documents_keep_lines_and_null_documents() {
        let documents = parse("---\na: 1\n---\n---\nb: [x, 'yes', yes]\n");
        assert_eq!(documents.len(), 3);
        assert_eq!(documents[0].line, 1);
        assert_eq!(documents[1].value, Value::Null);
        assert_eq!(documents[2].line, 4);
        let map = documents[2].value.as_map().expect("map");
        assert_eq!(map.line, 5);
        let Value::Seq(seq) = map.get("b").expect("b") else { panic!("seq") };
        assert_eq!(seq.items, vec![Value::Str("x".into()), Value::Str("yes".into()), Value::Bool(true)]);
    }

    #[test]
    fn duplicate_keys_last_wins_in_first_position() {
        let documents = parse("a: 1\nb: 2\na: 3\n");
        let map = documents[0].value.as_map().expect("map");
        assert_eq!(map.entries.len(), 2);
        assert_eq!(map.entries[0], (Value::Str("a".into()), Value::Int(3)));
    }

    #[test]
    fn merge_keys_and_aliases() {
        let documents = parse("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\nlist: [*b]\n");
        let map = documents[0].value.as_map().expect("map");
        let other = map.get("other").and_then(Value::as_map).expect("other");
        assert_eq!(other.get("x"), Some(&Value::Int(1)));
        assert_eq!(other.get("y"), Some(&Value::Int(3)));
        assert_eq!(other.entries.len(), 2);
        let quoted = parse("'<<': 1\n");
        assert_eq!(quoted[0].value.as_map().and_then(|m| m.get("<<")), Some(&Value::Int(1)));
    }

    #[test]
    fn hostile_input_gives_errors() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..9 {
            let prev = level - 1;
            bomb.push_str(&format!(
                "a{level}: &a{level} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let error = parse_stream(&bomb, &YamlLimits::default()).expect_err("bomb");
        assert!(error.message.contains("alias expansion"), "{error}");

        let deep = format!("{}1{}", "[".repeat(1000), "]".repeat(1000));
        let error = parse_stream(&deep, &YamlLimits::default()).expect_err("deep");
        assert!(error.message.contains("nesting") || error.message.contains("recursion limit"), "{error}");

        let error = parse_stream("a: [1, 2\nb: 3\n", &YamlLimits::default()).expect_err("truncated");
        assert!(error.line >= 1);

        let error = parse_stream("apiVersion:\n: Network\n", &YamlLimits::default()).expect_err("empty key");
        assert_eq!(error.line, 2, "{error}");

        let error = parse_stream("? [a]\n: 1\n", &YamlLimits::default()).expect_err("unhashable");
        assert!(error.message.contains("unhashable"));

        let limits = YamlLimits { max_document_bytes: 64, ..YamlLimits::default() };
        let big = format!("---\na: '{}'\n---\nb: 1\n", "x".repeat(200));
        let error = parse_stream(&big, &limits).expect_err("too big");
        assert!(error.message.contains("limit"), "{error}");
    }

    #[test]
    fn parallel_parse_equals_sequential() {
        let mut text = String::new();
        for index in 0..4000 {
            text.push_str(&format!(
                "---\nschema: drydock/Network/v1\nmetadata:\n  name: net{index}\ndata:\n  cidr: 10.0.{}.0/24\n  on: yes\n",
                index % 250
            ));
        }
        let limits = YamlLimits::default();
        let parallel = parse_stream(&text, &limits).expect("parallel");
        let sequential = parse_chunk(&text, 0, &Budget::new(&limits), &|document| document).expect("sequential");
        assert_eq!(parallel.len(), 4000);
        assert_eq!(parallel, sequential);
    }

    /// One small alias bomb per document: each stays under the old
    /// per-document limit, the stream as a whole is refused.
    fn bomb_stream(documents: usize, pad_bytes: usize) -> String {
        let mut text = String::new();
        for document in 0..documents {
            text.push_str(&format!("---\nname: doc{document}\npad: '{}'\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n", "p".repeat(pad_bytes)));
            for level in 1..5 {
                let prev = level - 1;
                let refs = vec![format!("*a{prev}"); 10].join(", ");
                text.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
            }
        }
        text
    }

    #[test]
    fn alias_budget_counts_across_the_stream() {
        // ~123k alias-expanded nodes per document: fine alone, not 40 times.
        let one = bomb_stream(1, 0);
        parse_stream(&one, &YamlLimits::default()).expect("one document is within the budget");
        let many = bomb_stream(40, 0);
        let error = parse_stream(&many, &YamlLimits::default()).expect_err("the stream is over budget");
        assert!(error.message.contains("whole stream"), "{error}");
        // The same through the parallel path (a stream over 256 KiB).
        let big = bomb_stream(40, 8 * 1024);
        assert!(big.len() > 256 * 1024);
        let error = parse_stream(&big, &YamlLimits::default()).expect_err("parallel: over budget");
        assert!(error.message.contains("whole stream"), "{error}");
    }

    #[test]
    fn node_budget_counts_across_the_stream() {
        let limits = YamlLimits { max_nodes: 10_000, ..YamlLimits::default() };
        let text: String = (0..100).map(|index| format!("---\nitems{index}: [{}]\n", vec!["1"; 150].join(", "))).collect();
        let error = parse_stream(&text, &limits).expect_err("over the node budget");
        assert!(error.message.contains("10000 nodes"), "{error}");
        parse_stream(&text, &YamlLimits::default()).expect("within the default budget");
    }

    #[test]
    fn characters_pyyaml_refuses_are_refused() {
        for (text, code) in [
            ("a: b\nc: x\u{0}y\n", "#x0000"),
            ("a: \u{7}\n", "#x0007"),
            ("a: \u{7f}\n", "#x007f"),
            ("a: \u{85}ok\u{9f}\n", "#x009f"),
            ("a: \u{fffe}\n", "#xfffe"),
        ] {
            let error = parse_stream(text, &YamlLimits::default()).expect_err(text);
            assert!(error.message.starts_with(&format!("unacceptable character {code}: special characters are not allowed")), "{error}");
        }
        let error = parse_stream("a: b\nc: x\u{0}y\n", &YamlLimits::default()).expect_err("nul");
        assert_eq!((error.line, error.column), (2, 5));
        // Tabs, CR/LF, NEL, BOM and characters beyond the BMP are fine.
        parse_stream("\u{feff}a: \"t\tb\"\r\nb: \u{85}x \u{1F600} \u{e9}\n", &YamlLimits::default()).expect("printable");
    }
}
