//! The generic YAML value the ingester works on before mapping documents into
//! the model: YAML 1.1 scalar types, ordered maps with any scalar key, and the
//! source line of every map and sequence so findings can cite it.
//!
//! Also holds Python-compatible rendering (`py_repr`, `py_str`) because the
//! original's messages print values the way Python does (compat: site-design
//! spec §1.4 "Python repr of the offending value").

use std::fmt::Write as _;

/// A parsed YAML node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null`, empty.
    Null,
    /// YAML 1.1 booleans (`yes`, `on`, `True`, …).
    Bool(bool),
    /// Integers (decimal, octal `0755`, hex, binary, sexagesimal).
    Int(i64),
    /// Floats (including sexagesimal floats such as `0000:00:03.0`).
    Float(f64),
    /// Strings (quoted, block, or plain that resolves to nothing else).
    Str(String),
    /// A YAML 1.1 timestamp (`2017-02-17`), kept as written. PyYAML turns it
    /// into a date object, which is not a string for the schemas.
    Timestamp(String),
    /// A sequence.
    Seq(Seq),
    /// A mapping.
    Map(Map),
}

/// A YAML sequence and the line it starts on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Seq {
    /// 1-based line of the sequence in its source (0 when unknown).
    pub line: u32,
    /// The items.
    pub items: Vec<Value>,
}

/// A YAML mapping: entries in first-insertion order, the last value of a
/// duplicated key winning (PyYAML's dict semantics), and its line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map {
    /// 1-based line of the mapping in its source (0 when unknown).
    pub line: u32,
    /// The entries.
    pub entries: Vec<(Value, Value)>,
}

impl Map {
    /// The value of the string key `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| matches!(k, Value::Str(s) if s == key)).map(|(_, v)| v)
    }

    /// Whether the string key `key` is present (even with a null value).
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Value {
    /// The map inside, if this is a map.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(text) => Some(text),
            _ => None,
        }
    }

    /// Whether this is null.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The line of this node when it is a map or sequence.
    pub fn line(&self) -> Option<u32> {
        match self {
            Value::Map(map) if map.line > 0 => Some(map.line),
            Value::Seq(seq) if seq.line > 0 => Some(seq.line),
            _ => None,
        }
    }

    /// Python's truthiness (`if value:`).
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) | Value::Timestamp(s) => !s.is_empty(),
            Value::Seq(seq) => !seq.items.is_empty(),
            Value::Map(map) => !map.entries.is_empty(),
        }
    }

    /// Python's name for the type of this value (`str`, `int`, `list`, `dict`, …).
    pub fn py_type_name(&self) -> &'static str {
        match self {
            Value::Null => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Timestamp(_) => "date",
            Value::Seq(_) => "list",
            Value::Map(_) => "dict",
        }
    }

    /// The value as Python's `repr()` would print it.
    pub fn py_repr(&self) -> String {
        let mut out = String::new();
        write_repr(&mut out, self);
        out
    }

    /// The value as Python's `str()` would print it (strings unquoted).
    pub fn py_str(&self) -> String {
        match self {
            Value::Str(text) | Value::Timestamp(text) => text.clone(),
            other => other.py_repr(),
        }
    }

    /// Key equality as in a Python dict: `1`, `1.0` and `True` are one key.
    pub(crate) fn key_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Null, Value::Null) => true,
            (Value::Timestamp(a), Value::Timestamp(b)) => a == b,
            _ => match (self.as_number(), other.as_number()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }

    fn as_number(&self) -> Option<f64> {
        match self {
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// Python's `repr()` of a float.
pub fn py_float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let abs = value.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Python switches to exponent form: 1e+16, 1.5e-05.
        let text = format!("{value:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let text = format!("{value}");
    if text.contains('.') { text } else { format!("{text}.0") }
}

fn write_repr(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&py_float_repr(*f)),
        Value::Str(text) => write_str_repr(out, text),
        Value::Timestamp(text) => {
            let parts: Vec<&str> = text.get(..10).unwrap_or(text).split('-').collect();
            let numbers: Vec<u32> = parts.iter().filter_map(|p| p.parse().ok()).collect();
            if numbers.len() == 3 && text.len() == 10 {
                let _ = write!(out, "datetime.date({}, {}, {})", numbers[0], numbers[1], numbers[2]);
            } else {
                let _ = write!(out, "datetime.datetime({text:?})");
            }
        }
        Value::Seq(seq) => {
            out.push('[');
            for (index, item) in seq.items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push('{');
            for (index, (key, item)) in map.entries.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_repr(out, key);
                out.push_str(": ");
                write_repr(out, item);
            }
            out.push('}');
        }
    }
}

/// Python's `repr()` of a string: single quotes unless the text holds a single
/// quote and no double quote.
pub fn write_str_repr(out: &mut String, text: &str) {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    out.push(quote);
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Python `repr()` of a string.
pub fn py_str_repr(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    write_str_repr(&mut out, text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::Str(text.into())
    }

    #[test]
    fn repr_matches_python() {
        assert_eq!(s("it's").py_repr(), "\"it's\"");
        assert_eq!(s("a\\b\n").py_repr(), "'a\\\\b\\n'");
        assert_eq!(Value::Float(3.0).py_repr(), "3.0");
        assert_eq!(Value::Float(1e16).py_repr(), "1e+16");
        assert_eq!(Value::Float(0.5).py_repr(), "0.5");
        assert_eq!(Value::Float(1.5e-5).py_repr(), "1.5e-05");
        assert_eq!(Value::Timestamp("2017-02-17".into()).py_repr(), "datetime.date(2017, 2, 17)");
        let seq = Value::Seq(Seq { line: 1, items: vec![s("pkg1"), Value::Int(2), Value::Null] });
        assert_eq!(seq.py_repr(), "['pkg1', 2, None]");
        let map = Value::Map(Map { line: 1, entries: vec![(s("k"), Value::Bool(true))] });
        assert_eq!(map.py_repr(), "{'k': True}");
    }

    #[test]
    fn dict_key_equality_is_pythons() {
        assert!(Value::Int(1).key_eq(&Value::Float(1.0)));
        assert!(Value::Int(1).key_eq(&Value::Bool(true)));
        assert!(!s("1").key_eq(&Value::Int(1)));
    }
}
