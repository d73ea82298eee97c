//! Printing rendered documents: a YAML stream (block style; strings plain
//! only where YAML 1.1 reads them back as the same string, multi-line text
//! as literal blocks, anything else double-quoted) that parses back to the
//! same values, and JSON. What is printed is [`RenderedDocument::masked`]:
//! secrets never appear.
//!
//! Pure: text in memory. Recursion follows the value's depth, which the
//! parser and the renderer bound.

use std::fmt::Write as _;

use crate::ingest::value::{Value, py_float_repr};
use crate::ingest::yaml::resolve_plain;

use super::{Rendered, RenderedDocument};

/// How much to say about where each document came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmitOptions {
    /// A `# source: FILE:LINE` comment (and the parent or replaced
    /// document) before each document.
    pub provenance: bool,
}

/// The documents as a YAML stream (each opening with `---`).
pub fn yaml_stream<'d>(documents: impl IntoIterator<Item = &'d RenderedDocument>, options: EmitOptions) -> String {
    let mut out = String::new();
    for document in documents {
        out.push_str("---\n");
        if options.provenance {
            let _ = writeln!(out, "# source: {} {}", document.id.at(), document.id);
            if let Some(parent) = &document.parent {
                let _ = writeln!(out, "# layered on: {}", parent.cited());
            }
            if let Some(replaced) = &document.replaces {
                let _ = writeln!(out, "# replaces: {}", replaced.cited());
            }
        }
        write_block(&mut out, &document.masked(), 0);
    }
    out
}

/// One value as a YAML document (opening with `---`), as written: nothing
/// is masked. For tools that write documents of their own.
pub fn yaml_document(value: &Value) -> String {
    let mut out = String::from("---\n");
    write_block(&mut out, value, 0);
    out
}

/// The documents as a JSON array.
pub fn json_documents<'d>(documents: impl IntoIterator<Item = &'d RenderedDocument>) -> serde_json::Value {
    serde_json::Value::Array(documents.into_iter().map(|document| to_json(&document.masked())).collect())
}

/// The warnings of a rendering, one per line.
pub fn notes(rendered: &Rendered) -> Vec<String> {
    rendered.notes.iter().map(ToString::to_string).collect()
}

/// A value as JSON: map keys as Python's `str()` of them, timestamps as
/// their text, non-finite floats as null.
pub fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        Value::Null => Json::Null,
        Value::Bool(flag) => Json::Bool(*flag),
        Value::Int(number) => Json::from(*number),
        Value::Float(number) => serde_json::Number::from_f64(*number).map_or(Json::Null, Json::Number),
        Value::Str(text) | Value::Timestamp(text) => Json::String(text.clone()),
        Value::Seq(seq) => Json::Array(seq.items.iter().map(to_json).collect()),
        Value::Map(map) => Json::Object(map.entries.iter().map(|(key, item)| (key.py_str(), to_json(item))).collect()),
    }
}

/// A value in block style at `indent`, ending with a newline.
fn write_block(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Map(map) if !map.entries.is_empty() => {
            for (position, (key, item)) in map.entries.iter().enumerate() {
                if position > 0 {
                    push_indent(out, indent);
                }
                write_key(out, key);
                out.push(':');
                write_after_indicator(out, item, indent + 2, false);
            }
        }
        Value::Seq(seq) if !seq.items.is_empty() => {
            for (position, item) in seq.items.iter().enumerate() {
                if position > 0 {
                    push_indent(out, indent);
                }
                out.push('-');
                write_after_indicator(out, item, indent + 2, true);
            }
        }
        scalar => {
            write_scalar(out, scalar, indent);
            out.push('\n');
        }
    }
}

/// What follows `key:` or `-`: a scalar on the same line, or a nested
/// block (a map in a list starts on the dash's line).
fn write_after_indicator(out: &mut String, value: &Value, indent: usize, in_list: bool) {
    match value {
        Value::Map(map) if !map.entries.is_empty() && in_list => {
            out.push(' ');
            write_block(out, value, indent);
        }
        Value::Map(map) if !map.entries.is_empty() => {
            out.push('\n');
            push_indent(out, indent);
            write_block(out, value, indent);
        }
        Value::Seq(seq) if !seq.items.is_empty() => {
            out.push('\n');
            push_indent(out, indent);
            write_block(out, value, indent);
        }
        scalar => {
            out.push(' ');
            write_scalar(out, scalar, indent);
            out.push('\n');
        }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn write_key(out: &mut String, key: &Value) {
    match key {
        Value::Str(text) if !plain_ok(text) => write_double_quoted(out, text),
        Value::Seq(_) | Value::Map(_) => write_double_quoted(out, &key.py_repr()),
        other => write_scalar(out, other, 0),
    }
}

/// A scalar (or an empty collection) where a value goes; block scalars
/// continue on the following lines at `indent`.
fn write_scalar(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(number) => {
            let _ = write!(out, "{number}");
        }
        Value::Float(number) => out.push_str(&yaml_float(*number)),
        Value::Timestamp(text) => out.push_str(text),
        Value::Seq(_) => out.push_str("[]"),
        Value::Map(_) => out.push_str("{}"),
        Value::Str(text) => {
            if plain_ok(text) {
                out.push_str(text);
            } else if indent >= 2 && literal_ok(text) {
                write_literal(out, text, indent);
            } else {
                write_double_quoted(out, text);
            }
        }
    }
}

/// A float YAML 1.1 reads back as the same float (its float syntax needs a
/// `.`: `1.0e+16`, not `1e+16`).
fn yaml_float(number: f64) -> String {
    if number.is_nan() {
        return ".nan".into();
    }
    if number.is_infinite() {
        return if number > 0.0 { ".inf".into() } else { "-.inf".into() };
    }
    let text = py_float_repr(number);
    match text.split_once('e') {
        Some((mantissa, exponent)) if !mantissa.contains('.') => format!("{mantissa}.0e{exponent}"),
        _ => text,
    }
}

/// Whether `text` can be written plain and read back as the same string.
fn plain_ok(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if resolve_plain(text).is_some() || text == "<<" || text == "=" {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`.".contains(first) && !(first == '.' && text.len() > 1 && !text.starts_with("...")) {
        return false;
    }
    let last = text.chars().last().unwrap_or(first);
    if first.is_whitespace() || last.is_whitespace() || last == ':' {
        return false;
    }
    if text.contains(": ") || text.contains(" #") || text.contains(":\t") {
        return false;
    }
    text.chars().all(|character| !character.is_control() && character != '\u{feff}' && !is_special_space(character))
}

/// Characters YAML treats as line breaks or that readers may not keep.
fn is_special_space(character: char) -> bool {
    matches!(character, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{a0}')
}

/// Whether `text` reads back the same from a literal block.
fn literal_ok(text: &str) -> bool {
    text.contains('\n')
        && !text.trim_end_matches('\n').is_empty()
        && text.chars().all(|character| {
            character == '\n' || character == '\t' || (!character.is_control() && !is_special_space(character) && character != '\u{feff}')
        })
        && !text.trim_end_matches('\n').ends_with([' ', '\t'])
}

/// `|2` (the content two columns past its parent collection, where
/// [`write_block`] puts it) with the chomping that keeps exactly the
/// trailing line breaks `text` has.
fn write_literal(out: &mut String, text: &str, indent: usize) {
    let body = text.trim_end_matches('\n');
    let trailing = text.len() - body.len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let _ = write!(out, "|2{chomp}");
    for line in body.split('\n').chain(std::iter::repeat_n("", trailing.saturating_sub(1))) {
        out.push('\n');
        if !line.is_empty() {
            push_indent(out, indent);
            out.push_str(line);
        }
    }
}

fn write_double_quoted(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || is_special_space(c) || c == '\u{feff}' => {
                let code = u32::from(c);
                if code <= 0xff {
                    let _ = write!(out, "\\x{code:02x}");
                } else {
                    let _ = write!(out, "\\u{code:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::value::{Map, Seq};
    use crate::ingest::yaml::{YamlLimits, parse_stream};

    fn round_trip(value: &Value) -> Value {
        let mut out = String::new();
        write_block(&mut out, value, 0);
        let mut documents = parse_stream(&out, &YamlLimits::default()).unwrap_or_else(|error| panic!("{error}\n{out}"));
        assert_eq!(documents.len(), 1, "{out}");
        documents.remove(0).value
    }

    fn string(text: &str) -> Value {
        Value::Str(text.into())
    }

    #[test]
    fn strings_read_back_as_the_same_strings() {
        let texts = [
            "plain",
            "yes",
            "no",
            "on",
            "~",
            "null",
            "1",
            "0755",
            "1_000",
            "1:30",
            "2017-02-17",
            "3.5",
            ".5",
            "-",
            "- a",
            "a: b",
            "a #b",
            "#x",
            "key:",
            "'q'",
            "\"d\"",
            "",
            " lead",
            "trail ",
            "tab\there",
            "multi\nline\n",
            "no trailing\nnewline",
            "two\n\n",
            "\n\nleading",
            "  indented\nfirst",
            "x\r\ny",
            "bell\u{7}",
            "ünïcode",
            "<<",
            "=",
            "...",
            "---",
            "@at",
            "`tick",
            "%pct",
            "!bang",
            "&amp",
            "*star",
            "a\u{2028}b",
            "with ending space \nline",
            ".dot",
            "..two",
            "-1",
            "+1",
            "0x1F",
            ".inf",
            "NaN",
        ];
        for text in texts {
            let mut map = Map::default();
            map.entries.push((string("k"), string(text)));
            map.entries.push((string(text), Value::Int(1)));
            let seq = Value::Seq(Seq { line: 0, items: vec![string(text), Value::Map(map)] });
            let back = round_trip(&seq);
            assert_eq!(back.py_repr(), seq.py_repr(), "{text:?}");
        }
    }

    #[test]
    fn scalars_and_nesting_read_back() {
        let text = "a: {b: [1, 2.5, 1.0e+16, -0.0, true, null, 2017-02-17, [], {}], c: [[x, [y]], {d: e}]}\n3: int key\ntrue: bool key\n";
        let value = parse_stream(text, &YamlLimits::default()).expect("yaml").remove(0).value;
        assert_eq!(round_trip(&value).py_repr(), value.py_repr());
        assert_eq!(yaml_float(1e16), "1.0e+16");
        assert_eq!(yaml_float(f64::NAN), ".nan");
    }

    #[test]
    fn json_keeps_the_shape() {
        let value = parse_stream("a: [1, x, {3: true}]\n", &YamlLimits::default()).expect("yaml").remove(0).value;
        assert_eq!(to_json(&value).to_string(), r#"{"a":[1,"x",{"3":true}]}"#);
    }
}
