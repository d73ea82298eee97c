//! Moving data: a layering action applied to the data rendered so far
//! (`merge`, `replace`, `delete` at a path), and one substitution written
//! into a destination (plain, with a `pattern`, recursively), all under the
//! rendering budget. Every copy of a value goes through [`Budget::copy`],
//! which charges its nodes and string bytes and checks its depth before the
//! copy is made, so no rendering can grow past the limits.

use regex::{NoExpand, Regex};

use crate::ingest::value::{Map, Seq, Value};

use super::RenderLimits;
use super::document::{Action, Dest, Method};
use super::path::{DataPath, WriteError};

/// Which limit a rendering went past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    Nodes(usize),
    Bytes(usize),
    Depth(usize),
}

/// What has been produced so far against the limits.
#[derive(Debug)]
pub(crate) struct Budget<'l> {
    limits: &'l RenderLimits,
    nodes: usize,
    bytes: usize,
}

impl<'l> Budget<'l> {
    pub(crate) fn new(limits: &'l RenderLimits) -> Self {
        Budget { limits, nodes: 0, bytes: 0 }
    }

    /// Nodes produced so far.
    pub(crate) fn nodes(&self) -> usize {
        self.nodes
    }

    fn charge(&mut self, nodes: usize, bytes: usize) -> Result<(), Exceeded> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > self.limits.max_nodes {
            return Err(Exceeded::Nodes(self.limits.max_nodes));
        }
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > self.limits.max_string_bytes {
            return Err(Exceeded::Bytes(self.limits.max_string_bytes));
        }
        Ok(())
    }

    /// A copy of `value` to be placed `depth` levels deep, charged.
    pub(crate) fn copy(&mut self, value: &Value, depth: usize) -> Result<Value, Exceeded> {
        if depth > self.limits.max_depth {
            return Err(Exceeded::Depth(self.limits.max_depth));
        }
        match value {
            Value::Str(text) | Value::Timestamp(text) => {
                self.charge(1, text.len())?;
                Ok(value.clone())
            }
            Value::Seq(seq) => {
                self.charge(1, 0)?;
                let mut items = Vec::with_capacity(seq.items.len());
                for item in &seq.items {
                    items.push(self.copy(item, depth + 1)?);
                }
                Ok(Value::Seq(Seq { line: seq.line, items }))
            }
            Value::Map(map) => {
                self.charge(1, 0)?;
                let mut entries = Vec::with_capacity(map.entries.len());
                for (key, item) in &map.entries {
                    entries.push((self.copy(key, depth + 1)?, self.copy(item, depth + 1)?));
                }
                Ok(Value::Map(Map { line: map.line, entries }))
            }
            _ => {
                self.charge(1, 0)?;
                Ok(value.clone())
            }
        }
    }

    /// Charge a string about to be built of `bytes` bytes.
    fn string(&mut self, bytes: usize) -> Result<(), Exceeded> {
        self.charge(0, bytes)
    }
}

/// Why an action or substitution could not be applied.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A rule was broken: the reason, and the write that failed if any.
    Broken(String, Option<WriteError>),
    /// A limit was passed.
    Limit(Exceeded),
}

impl From<Exceeded> for Failure {
    fn from(exceeded: Exceeded) -> Failure {
        Failure::Limit(exceeded)
    }
}

fn broken(reason: String) -> Failure {
    Failure::Broken(reason, None)
}

fn write_failed(error: WriteError) -> Failure {
    Failure::Broken("the path cannot be written".into(), Some(error))
}

/// A value that counts as there (Deckhand's JSONPath lookup answers `None`
/// both for a missing path and for a null at it).
fn present<'v>(path: &DataPath, data: &'v Value) -> Option<&'v Value> {
    path.get(data).filter(|value| !value.is_null())
}

/// Apply one action of a child whose own data is `own` to `rendered` (the
/// parent's rendered data so far).
pub(crate) fn apply_action(budget: &mut Budget<'_>, action: &Action, own: &Value, rendered: &mut Value) -> Result<(), Failure> {
    let path = &action.path;
    let depth = path.steps().len();
    match action.method {
        Method::Delete => {
            if path.is_root() {
                *rendered = Value::Map(Map::default());
            } else if present(path, rendered).is_none() || !path.remove(rendered) {
                return Err(broken(format!("the parent's rendered data has nothing at {path} to delete")));
            }
        }
        Method::Replace => {
            let child = present(path, own).ok_or_else(|| broken(format!("this document's data has nothing at {path} to replace with")))?;
            let copy = budget.copy(child, depth)?;
            path.set(rendered, copy).map_err(write_failed)?;
        }
        Method::Merge => {
            let child = present(path, own).ok_or_else(|| broken(format!("this document's data has nothing at {path} to merge")))?;
            match (path.get_mut(rendered), child) {
                (Some(Value::Map(target)), Value::Map(source)) => deep_merge(budget, target, source, depth)?,
                _ => {
                    let copy = budget.copy(child, depth)?;
                    path.set(rendered, copy).map_err(write_failed)?;
                }
            }
        }
    }
    Ok(())
}

/// Deckhand's `deep_merge`: each key of `source` goes into `target`; where
/// both hold maps they merge, otherwise `source`'s value wins (lists are
/// replaced, not joined). The merged map takes `source`'s line: the most
/// specific layer that wrote it.
fn deep_merge(budget: &mut Budget<'_>, target: &mut Map, source: &Map, depth: usize) -> Result<(), Exceeded> {
    if depth > budget.limits.max_depth {
        return Err(Exceeded::Depth(budget.limits.max_depth));
    }
    if source.line > 0 {
        target.line = source.line;
    }
    for (key, value) in &source.entries {
        match target.entries.iter().position(|(existing, _)| existing.key_eq(key)) {
            Some(position) => match (&mut target.entries[position].1, value) {
                (Value::Map(inner), Value::Map(incoming)) => deep_merge(budget, inner, incoming, depth + 1)?,
                (slot, _) => *slot = budget.copy(value, depth + 1)?,
            },
            None => {
                let key = budget.copy(key, depth + 1)?;
                let value = budget.copy(value, depth + 1)?;
                target.entries.push((key, value));
            }
        }
    }
    Ok(())
}

/// The text a pattern substitution inserts: Python's `str()` of the value.
fn insert_text(value: &Value) -> String {
    value.py_str()
}

/// Replace every match of `pattern` in `text` with `insert`, literally;
/// `None` when nothing matched.
fn replace_matches(budget: &mut Budget<'_>, pattern: &Regex, text: &str, insert: &str) -> Result<Option<String>, Exceeded> {
    let matches = pattern.find_iter(text).count();
    if matches == 0 {
        return Ok(None);
    }
    budget.string(text.len().saturating_add(matches.saturating_mul(insert.len())))?;
    Ok(Some(pattern.replace_all(text, NoExpand(insert)).into_owned()))
}

/// Write `value` (the source's data) into `data` at one destination;
/// `Ok(false)` when a pattern matched nothing.
pub(crate) fn substitute(budget: &mut Budget<'_>, dest: &Dest, value: &Value, data: &mut Value) -> Result<bool, Failure> {
    let path = &dest.path;
    let Some(pattern) = &dest.pattern else {
        let copy = budget.copy(value, path.steps().len())?;
        path.set(data, copy).map_err(write_failed)?;
        return Ok(true);
    };
    let insert = insert_text(value);
    let target = path.get_mut(data).ok_or_else(|| {
        broken(format!("the destination has nothing at {path}: a pattern replaces text in a string that is already there"))
    })?;
    match (target, dest.recurse) {
        (Value::Str(text), _) => match replace_matches(budget, pattern, text, &insert)? {
            Some(replaced) => {
                *text = replaced;
                Ok(true)
            }
            None => Ok(false),
        },
        (target @ (Value::Map(_) | Value::Seq(_)), Some(depth)) => replace_recursively(budget, pattern, &insert, target, 0, depth),
        (other, _) => Err(broken(format!(
            "the destination holds a {} at {path}; pattern {} replaces text in a string{}",
            other.py_type_name(),
            pattern.as_str(),
            if dest.recurse.is_some() { " or in the strings of a map or list" } else { " (add recurse for a map or list)" }
        ))),
    }
}

/// Deckhand's recursive pattern replacement: every string up to
/// `max_depth` levels under `value` (-1: all) that the pattern matches.
fn replace_recursively(
    budget: &mut Budget<'_>,
    pattern: &Regex,
    insert: &str,
    value: &mut Value,
    depth: i64,
    max_depth: i64,
) -> Result<bool, Failure> {
    if depth == max_depth {
        return Ok(false);
    }
    let children: Vec<&mut Value> = match value {
        Value::Map(map) => map.entries.iter_mut().map(|(_, value)| value).collect(),
        Value::Seq(seq) => seq.items.iter_mut().collect(),
        _ => return Ok(false),
    };
    let mut any = false;
    for child in children {
        match child {
            Value::Str(text) => {
                if let Some(replaced) = replace_matches(budget, pattern, text, insert)? {
                    *text = replaced;
                    any = true;
                }
            }
            other => any |= replace_recursively(budget, pattern, insert, other, depth + 1, max_depth)?,
        }
    }
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::yaml::{YamlLimits, parse_stream};

    fn yaml(text: &str) -> Value {
        parse_stream(text, &YamlLimits::default()).expect("yaml").remove(0).value
    }

    fn action(method: Method, path: &str) -> Action {
        Action { method, path: DataPath::parse(path, 64).expect("path") }
    }

    /// Deckhand's documentation examples (layering.rst, "Action Types").
    const CHILD: &str = "{a: {x: 7, z: 3}, b: 4}";
    const PARENT: &str = "{a: {x: 1, y: 2}, c: 9}";

    fn run(method: Method, path: &str) -> Result<String, String> {
        let limits = RenderLimits::default();
        let mut budget = Budget::new(&limits);
        let mut rendered = yaml(PARENT);
        match apply_action(&mut budget, &action(method, path), &yaml(CHILD), &mut rendered) {
            Ok(()) => Ok(rendered.py_repr()),
            Err(Failure::Broken(reason, _)) => Err(reason),
            Err(Failure::Limit(limit)) => Err(format!("{limit:?}")),
        }
    }

    #[test]
    fn merge_follows_deckhands_examples() {
        assert_eq!(run(Method::Merge, ".").as_deref(), Ok("{'a': {'x': 7, 'y': 2, 'z': 3}, 'c': 9, 'b': 4}"));
        assert_eq!(run(Method::Merge, ".a").as_deref(), Ok("{'a': {'x': 7, 'y': 2, 'z': 3}, 'c': 9}"));
        assert_eq!(run(Method::Merge, ".b").as_deref(), Ok("{'a': {'x': 1, 'y': 2}, 'c': 9, 'b': 4}"));
        assert!(run(Method::Merge, ".c").expect_err("missing in child").contains("nothing at .c to merge"));
    }

    #[test]
    fn replace_follows_deckhands_examples() {
        assert_eq!(run(Method::Replace, ".").as_deref(), Ok("{'a': {'x': 7, 'z': 3}, 'b': 4}"));
        assert_eq!(run(Method::Replace, ".a").as_deref(), Ok("{'a': {'x': 7, 'z': 3}, 'c': 9}"));
        assert_eq!(run(Method::Replace, ".b").as_deref(), Ok("{'a': {'x': 1, 'y': 2}, 'c': 9, 'b': 4}"));
        assert!(run(Method::Replace, ".c").expect_err("missing in child").contains("nothing at .c to replace"));
    }

    #[test]
    fn delete_follows_deckhands_examples() {
        assert_eq!(run(Method::Delete, ".").as_deref(), Ok("{}"));
        assert_eq!(run(Method::Delete, ".a").as_deref(), Ok("{'c': 9}"));
        assert_eq!(run(Method::Delete, ".c").as_deref(), Ok("{'a': {'x': 1, 'y': 2}}"));
        assert!(run(Method::Delete, ".b").expect_err("missing in parent").contains("nothing at .b to delete"));
    }

    #[test]
    fn merge_replaces_lists_and_scalars_and_merges_maps_deeply() {
        let limits = RenderLimits::default();
        let mut budget = Budget::new(&limits);
        let mut rendered = yaml("{l: [1, 2], m: {deep: {a: 1, b: [x]}, s: old}, keep: 1}");
        let own = yaml("{l: [3], m: {deep: {b: [y], c: 2}, s: new}}");
        apply_action(&mut budget, &action(Method::Merge, "."), &own, &mut rendered).map_err(|_| "merge").expect("merge");
        assert_eq!(rendered.py_repr(), "{'l': [3], 'm': {'deep': {'a': 1, 'b': ['y'], 'c': 2}, 's': 'new'}, 'keep': 1}");
    }

    fn dest(path: &str, pattern: Option<&str>, recurse: Option<i64>) -> Dest {
        Dest { path: DataPath::parse(path, 64).expect("path"), pattern: pattern.map(|p| Regex::new(p).expect("regex")), recurse }
    }

    fn sub(data: &str, dest: &Dest, value: &str) -> Result<String, String> {
        let limits = RenderLimits::default();
        let mut budget = Budget::new(&limits);
        let mut data = yaml(data);
        match substitute(&mut budget, dest, &Value::Str(value.into()), &mut data) {
            Ok(_) => Ok(data.py_repr()),
            Err(Failure::Broken(reason, cause)) => Err(format!("{reason} {cause:?}")),
            Err(Failure::Limit(limit)) => Err(format!("{limit:?}")),
        }
    }

    #[test]
    fn substitution_writes_creates_and_replaces_patterns() {
        assert_eq!(sub("{keys: []}", &dest(".keys[0]", None, None), "k").as_deref(), Ok("{'keys': ['k']}"));
        assert_eq!(sub("{}", &dest(".a.b", None, None), "v").as_deref(), Ok("{'a': {'b': 'v'}}"));
        let url = "{url: 'http://admin:INSERT_PASSWORD_HERE@svc/v1', other: INSERT_PASSWORD_HERE}";
        assert_eq!(
            sub(url, &dest(".url", Some("INSERT_[A-Z]+_HERE"), None), "pw").as_deref(),
            Ok("{'url': 'http://admin:pw@svc/v1', 'other': 'INSERT_PASSWORD_HERE'}")
        );
        // The inserted text is literal: no group references, no escapes.
        assert_eq!(sub("{s: 'a-X-b'}", &dest(".s", Some("X"), None), r"$1\n").as_deref(), Ok(r"{'s': 'a-$1\\n-b'}"));
        let error = sub("{s: 1}", &dest(".s", Some("X"), None), "v").expect_err("not a string");
        assert!(error.contains("holds a int at .s"), "{error}");
        let error = sub("{}", &dest(".s", Some("X"), None), "v").expect_err("missing");
        assert!(error.contains("has nothing at .s"), "{error}");
    }

    #[test]
    fn recursive_patterns_respect_the_depth() {
        let data = "{values: {a: 'x-HERE', deeper: {b: 'HERE'}, list: ['HERE', 1]}}";
        assert_eq!(
            sub(data, &dest(".values", Some("HERE"), Some(-1)), "v").as_deref(),
            Ok("{'values': {'a': 'x-v', 'deeper': {'b': 'v'}, 'list': ['v', 1]}}")
        );
        assert_eq!(
            sub(data, &dest(".values", Some("HERE"), Some(1)), "v").as_deref(),
            Ok("{'values': {'a': 'x-v', 'deeper': {'b': 'HERE'}, 'list': ['HERE', 1]}}")
        );
        assert_eq!(sub(data, &dest(".values", Some("H.RE"), Some(0)), "v").as_deref(), Ok(&*yaml(data).py_repr()));
    }

    #[test]
    fn the_budget_stops_growth_before_it_happens() {
        let limits = RenderLimits { max_nodes: 10, max_string_bytes: 100, max_depth: 4 };
        let mut budget = Budget::new(&limits);
        let big = yaml("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]");
        assert_eq!(budget.copy(&big, 0).err(), Some(Exceeded::Nodes(10)));
        let mut budget = Budget::new(&limits);
        let long = Value::Str("x".repeat(101));
        assert_eq!(budget.copy(&long, 0).err(), Some(Exceeded::Bytes(100)));
        let mut budget = Budget::new(&limits);
        assert_eq!(budget.copy(&yaml("{a: {b: {c: 1}}}"), 2).err(), Some(Exceeded::Depth(4)));
        let mut budget = Budget::new(&limits);
        let mut data = yaml("{s: 'xxxxxxxxxx'}");
        let result = substitute(&mut budget, &dest(".s", Some("x"), None), &Value::Str("y".repeat(20)), &mut data);
        assert!(matches!(result, Err(Failure::Limit(Exceeded::Bytes(100)))), "{result:?}");
    }
}
