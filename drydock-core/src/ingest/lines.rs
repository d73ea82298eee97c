//! Lines of several files numbered in one space, so a value parsed from any
//! of them — and copied anywhere by rendering — still tells which file and
//! line it came from. A site repository's files are parsed with each file's
//! lines moved past the previous file's ([`super::yaml::parse_stream_at`]);
//! a [`LineMap`] turns such a line back into a file and its own line.
//!
//! Pure data; no I/O.

use std::sync::Arc;

use crate::model::SourceLocation;

/// The files of one line space, in the order their ranges were given.
#[derive(Debug, Clone, Default)]
pub struct LineMap {
    /// Each file's offset (its first line is `offset + 1`) and name.
    files: Vec<(u32, Arc<str>)>,
    /// The first line after the last file.
    next: u32,
}

/// The files hold more lines together than one line space can number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the files hold more than {} lines together", u32::MAX)]
pub struct LineSpaceFull;

impl LineMap {
    /// An empty space.
    pub fn new() -> Self {
        LineMap::default()
    }

    /// Reserve the lines of a file of `text` named `file`; returns the offset
    /// to parse it at.
    pub fn add(&mut self, file: Arc<str>, text: &str) -> Result<u32, LineSpaceFull> {
        let lines = u32::try_from(text.bytes().filter(|&byte| byte == b'\n').count() + 1).map_err(|_| LineSpaceFull)?;
        let offset = self.next;
        self.next = offset.checked_add(lines).and_then(|next| next.checked_add(1)).ok_or(LineSpaceFull)?;
        self.files.push((offset, file));
        Ok(offset)
    }

    /// The file and line behind `line` of the space (`None` for 0 or a line
    /// no file holds).
    pub fn locate(&self, line: u32) -> Option<SourceLocation> {
        if line == 0 || line >= self.next {
            return None;
        }
        let after = self.files.partition_point(|(offset, _)| *offset < line);
        let (offset, file) = self.files.get(after.checked_sub(1)?)?;
        Some(SourceLocation { file: Some(file.clone()), line: line - offset })
    }

    /// How many files the space holds.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the space holds no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_map_back_to_their_file() {
        let mut map = LineMap::new();
        let first = map.add("a.yaml".into(), "one\ntwo\n").expect("room");
        let second = map.add("b.yaml".into(), "x").expect("room");
        assert_eq!(first, 0);
        assert_eq!(second, 4);
        let at = |line| map.locate(line).map(|location| location.to_string());
        assert_eq!(at(1).as_deref(), Some("a.yaml:1"));
        assert_eq!(at(3).as_deref(), Some("a.yaml:3"));
        assert_eq!(at(5).as_deref(), Some("b.yaml:1"));
        assert_eq!(at(0), None);
        assert_eq!(at(6), None);
    }
}
