//! The JSONPath subset Deckhand's layering actions and substitutions use to
//! point into a document's `data`: `.` (the whole data), `.a.b`, `.a[0].b`,
//! quoted keys (`."beta.kubernetes.io/os"`, `['a b']`), a leading `$`
//! tolerated. Wildcards, filters, slices and recursive descent are refused
//! (Deckhand takes the first match of such a path; a rendering that depends
//! on which match is "first" is not one to reproduce).
//!
//! Reading ([`DataPath::get`]), writing with the creation of missing maps
//! and list positions ([`DataPath::set`], Deckhand's "data expansion") and
//! removal ([`DataPath::remove`]). Pure; bounded by the path's length, which
//! is itself bounded when parsed.

use std::fmt;

use crate::ingest::value::{Map, Seq, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A map key.
    Key(String),
    /// A list position.
    Index(usize),
}

/// A parsed path into a document's `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPath {
    text: String,
    steps: Vec<Step>,
}

/// Why a path does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path {path:?}: {reason}")]
pub struct PathError {
    /// The path as written.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Why a value cannot be written at a path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot write at {path}: {reason}")]
pub struct WriteError {
    /// The path.
    pub path: String,
    /// Why (what stands in the way, by type; never a value).
    pub reason: String,
}

/// Characters that mean JSONPath syntax we do not support.
const UNSUPPORTED: &[char] = &['*', '(', ')', '?', '@', ',', ':', '$', '|', '&', '='];

impl DataPath {
    /// Parse `text`, refusing paths of more than `max_steps` steps.
    pub fn parse(text: &str, max_steps: usize) -> Result<DataPath, PathError> {
        let fail = |reason: &str| PathError { path: text.to_owned(), reason: reason.to_owned() };
        let mut rest = text.strip_prefix('$').unwrap_or(text);
        let mut steps = Vec::new();
        if rest.is_empty() || rest == "." {
            return Ok(DataPath { text: text.to_owned(), steps });
        }
        if !rest.starts_with(['.', '[']) {
            return Err(fail("a path starts with '.' or '$'"));
        }
        while !rest.is_empty() {
            if steps.len() >= max_steps {
                return Err(fail(&format!("more than {max_steps} steps")));
            }
            if let Some(after) = rest.strip_prefix('[') {
                let close = after.find(']').ok_or_else(|| fail("'[' without ']'"))?;
                let inside = after[..close].trim();
                let step = match unquote(inside) {
                    Some(key) => Step::Key(key.to_owned()),
                    None => Step::Index(inside.parse().map_err(|_| {
                        fail("a bracket holds a list position (a number from 0) or a quoted key; wildcards, slices and filters are not supported")
                    })?),
                };
                steps.push(step);
                rest = &after[close + 1..];
            } else if let Some(after) = rest.strip_prefix('.') {
                if after.starts_with('.') {
                    return Err(fail("recursive descent ('..') is not supported"));
                }
                let (key, tail) = if after.starts_with(['"', '\'']) {
                    let quote = after.as_bytes()[0] as char;
                    let end = after[1..].find(quote).ok_or_else(|| fail("an unterminated quoted key"))?;
                    (&after[1..end + 1], &after[end + 2..])
                } else {
                    let end = after.find(['.', '[']).unwrap_or(after.len());
                    let key = &after[..end];
                    if key.is_empty() {
                        return Err(fail("an empty key"));
                    }
                    if key.contains(UNSUPPORTED) || key.contains(char::is_whitespace) || key.contains(['"', '\'', ']']) {
                        return Err(fail(&format!(
                            "the key {key:?} needs quotes (wildcards, filters and other JSONPath operators are not supported)"
                        )));
                    }
                    (key, &after[end..])
                };
                steps.push(Step::Key(key.to_owned()));
                rest = tail;
            } else {
                return Err(fail("expected '.' or '[' between steps"));
            }
        }
        Ok(DataPath { text: text.to_owned(), steps })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this is the whole data (`.`).
    pub fn is_root(&self) -> bool {
        self.steps.is_empty()
    }

    /// The steps.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The value at the path, if every step exists.
    pub fn get<'v>(&self, data: &'v Value) -> Option<&'v Value> {
        let mut here = data;
        for step in &self.steps {
            here = match (step, here) {
                (Step::Key(key), Value::Map(map)) => map.get(key)?,
                (Step::Index(index), Value::Seq(seq)) => seq.items.get(*index)?,
                _ => return None,
            };
        }
        Some(here)
    }

    /// The value at the path, mutably, if every step exists.
    pub fn get_mut<'v>(&self, data: &'v mut Value) -> Option<&'v mut Value> {
        let mut here = data;
        for step in &self.steps {
            here = match (step, here) {
                (Step::Key(key), Value::Map(map)) => map_get_mut(map, key)?,
                (Step::Index(index), Value::Seq(seq)) => seq.items.get_mut(*index)?,
                _ => return None,
            };
        }
        Some(here)
    }

    /// Write `value` at the path, creating missing maps on the way and
    /// growing lists with empty maps up to a missing position (Deckhand's
    /// data expansion: `.keys[0]` on an empty list makes a one-item list). A
    /// null on the way counts as missing. A scalar on the way is an error.
    pub fn set(&self, data: &mut Value, value: Value) -> Result<(), WriteError> {
        let mut here = data;
        for (position, step) in self.steps.iter().enumerate() {
            if here.is_null() {
                *here = match step {
                    Step::Key(_) => Value::Map(Map::default()),
                    Step::Index(_) => Value::Seq(Seq::default()),
                };
            }
            let blocked = |found: &Value| WriteError {
                path: self.text.clone(),
                reason: format!("{} is a {}, not a {}", self.prefix(position), found.py_type_name(), step_container(step)),
            };
            here = match (step, here) {
                (Step::Key(key), Value::Map(map)) => {
                    if map.get(key).is_none() {
                        let next = match self.steps.get(position + 1) {
                            Some(Step::Index(_)) => Value::Seq(Seq::default()),
                            _ => Value::Map(Map::default()),
                        };
                        map.entries.push((Value::Str(key.clone()), next));
                    }
                    map_get_mut(map, key).ok_or_else(|| WriteError { path: self.text.clone(), reason: "the key vanished".into() })?
                }
                (Step::Index(index), Value::Seq(seq)) => {
                    while seq.items.len() <= *index {
                        seq.items.push(Value::Map(Map::default()));
                    }
                    &mut seq.items[*index]
                }
                (_, other) => return Err(blocked(other)),
            };
        }
        *here = value;
        Ok(())
    }

    /// Remove the value at the path; `false` when there is none. Removing
    /// the root (`.`) leaves an empty map.
    pub fn remove(&self, data: &mut Value) -> bool {
        let Some((last, parents)) = self.steps.split_last() else {
            *data = Value::Map(Map::default());
            return true;
        };
        let parent = DataPath { text: String::new(), steps: parents.to_vec() };
        match (last, parent.get_mut(data)) {
            (Step::Key(key), Some(Value::Map(map))) => {
                let before = map.entries.len();
                map.entries.retain(|(existing, _)| existing.as_str() != Some(key.as_str()));
                map.entries.len() != before
            }
            (Step::Index(index), Some(Value::Seq(seq))) if *index < seq.items.len() => {
                seq.items.remove(*index);
                true
            }
            _ => false,
        }
    }

    /// The path's first `steps` steps, written out (`.a[0]`), for messages.
    fn prefix(&self, steps: usize) -> String {
        if steps == 0 {
            return "the data".into();
        }
        let mut out = String::new();
        for step in &self.steps[..steps] {
            match step {
                Step::Key(key) => {
                    out.push('.');
                    out.push_str(key);
                }
                Step::Index(index) => out.push_str(&format!("[{index}]")),
            }
        }
        out
    }
}

impl fmt::Display for DataPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn step_container(step: &Step) -> &'static str {
    match step {
        Step::Key(_) => "map",
        Step::Index(_) => "list",
    }
}

/// A quoted key's text (`'a'`, `"a"`).
fn unquote(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    if bytes.len() >= 2 && (bytes[0] == b'"' || bytes[0] == b'\'') && bytes[bytes.len() - 1] == bytes[0] {
        Some(&text[1..text.len() - 1])
    } else {
        None
    }
}

/// The value of the string key `key`, mutably.
pub(crate) fn map_get_mut<'m>(map: &'m mut Map, key: &str) -> Option<&'m mut Value> {
    map.entries.iter_mut().find(|(existing, _)| existing.as_str() == Some(key)).map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::yaml::{YamlLimits, parse_stream};

    fn yaml(text: &str) -> Value {
        parse_stream(text, &YamlLimits::default()).expect("yaml").remove(0).value
    }

    fn path(text: &str) -> DataPath {
        DataPath::parse(text, 64).expect("path")
    }

    #[test]
    fn paths_parse_like_deckhands() {
        assert!(path(".").is_root());
        assert!(path("$").is_root());
        assert_eq!(path(".a.b").steps(), [Step::Key("a".into()), Step::Key("b".into())]);
        assert_eq!(path("$.a[2].b").steps(), [Step::Key("a".into()), Step::Index(2), Step::Key("b".into())]);
        assert_eq!(path(".\"beta.kubernetes.io/os\"").steps(), [Step::Key("beta.kubernetes.io/os".into())]);
        assert_eq!(path(".a['x y']").steps(), [Step::Key("a".into()), Step::Key("x y".into())]);
        assert_eq!(path(".some-key_1").steps(), [Step::Key("some-key_1".into())]);
        for bad in ["a.b", ".a[*]", ".a..b", ".a[1:2]", ".a[?(@.x)]", ".a.", ".'open", ".a[0", ".a b"] {
            assert!(DataPath::parse(bad, 64).is_err(), "{bad}");
        }
        let error = DataPath::parse(".a.b.c", 2).expect_err("too long");
        assert!(error.to_string().contains("more than 2 steps"), "{error}");
    }

    #[test]
    fn get_set_and_remove() {
        let mut data = yaml("a: {x: 1}\nlist: [1, 2]\n");
        assert_eq!(path(".a.x").get(&data), Some(&Value::Int(1)));
        assert_eq!(path(".list[1]").get(&data), Some(&Value::Int(2)));
        assert_eq!(path(".list[5]").get(&data), None);
        assert_eq!(path(".a[0]").get(&data), None);

        path(".keys[0]").set(&mut data, Value::Str("k".into())).expect("set");
        assert_eq!(path(".keys").get(&data).map(Value::py_repr).as_deref(), Some("['k']"));
        path(".b.c[2].d").set(&mut data, Value::Int(4)).expect("expand");
        assert_eq!(path(".b").get(&data).map(Value::py_repr).as_deref(), Some("{'c': [{}, {}, {'d': 4}]}"));
        let error = path(".a.x.y").set(&mut data, Value::Null).expect_err("through a scalar");
        assert_eq!(error.to_string(), "cannot write at .a.x.y: .a.x is a int, not a map");

        assert!(path(".a.x").remove(&mut data));
        assert!(!path(".a.x").remove(&mut data));
        assert!(path(".list[0]").remove(&mut data));
        assert_eq!(path(".list").get(&data).map(Value::py_repr).as_deref(), Some("[2]"));
        assert!(path(".").remove(&mut data));
        assert_eq!(data.py_repr(), "{}");
    }

    #[test]
    fn set_on_null_data_creates_the_map() {
        let mut data = Value::Null;
        path(".a").set(&mut data, Value::Int(1)).expect("set");
        assert_eq!(data.py_repr(), "{'a': 1}");
        let mut whole = yaml("a: 1");
        path(".").set(&mut whole, Value::Str("s".into())).expect("root");
        assert_eq!(whole, Value::Str("s".into()));
    }
}
