//! Request-body and query-string decoding for the MaaS front end.
//!
//! MaaS clients send fields as `multipart/form-data` (python-libmaas and the
//! Drydock driver base64-encode every part, spec drivers.md §2.1) or as
//! `application/x-www-form-urlencoded`. Repeated names form a list. This module
//! only decodes; it knows nothing about resources.

use base64::Engine as _;
use std::collections::BTreeMap;

/// Decoded form fields: name -> values in arrival order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    fields: BTreeMap<String, Vec<String>>,
}

impl Form {
    /// Adds one value for `name`.
    pub fn push(&mut self, name: &str, value: String) {
        self.fields.entry(name.to_owned()).or_default().push(value);
    }

    /// First value of `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(|v| v.first()).map(String::as_str)
    }

    /// First value of `name` unless it is empty.
    pub fn get_nonempty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// All values of `name` (empty slice when absent).
    pub fn all(&self, name: &str) -> &[String] {
        self.fields.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether `name` was sent at all.
    pub fn has(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }

    /// Boolean value of `name` (`true`, `1`, `on`, `yes`, case-insensitive).
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(parse_bool)
    }

    /// All fields (sorted by name).
    pub fn fields(&self) -> &BTreeMap<String, Vec<String>> {
        &self.fields
    }

    /// Merges the fields of `other` into this form.
    pub fn merge(&mut self, other: Form) {
        for (name, values) in other.fields {
            self.fields.entry(name).or_default().extend(values);
        }
    }
}

/// Parses the usual MaaS spellings of a boolean.
pub fn parse_bool(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "1" | "on" | "yes")
}

/// Percent-decodes `input` (also `+` as space when `plus_is_space`).
pub fn percent_decode(input: &str, plus_is_space: bool) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        index += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        index += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses an `application/x-www-form-urlencoded` string (also a query string).
pub fn parse_urlencoded(input: &str) -> Form {
    let mut form = Form::default();
    for pair in input.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        form.push(&percent_decode(name, true), percent_decode(value, true));
    }
    form
}

/// Decodes a request body according to its `Content-Type` header.
///
/// Unknown content types and empty bodies give an empty form.
pub fn parse_body(content_type: Option<&str>, body: &[u8]) -> Form {
    if body.is_empty() {
        return Form::default();
    }
    let content_type = content_type.unwrap_or("");
    let lower = content_type.to_ascii_lowercase();
    if lower.starts_with("multipart/form-data") {
        match boundary_of(content_type) {
            Some(boundary) => parse_multipart(&boundary, body),
            None => Form::default(),
        }
    } else if lower.starts_with("application/x-www-form-urlencoded") {
        parse_urlencoded(&String::from_utf8_lossy(body))
    } else {
        Form::default()
    }
}

fn boundary_of(content_type: &str) -> Option<String> {
    content_type.split(';').map(str::trim).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim().eq_ignore_ascii_case("boundary").then(|| value.trim().trim_matches('"').to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len()).find(|&i| &haystack[i..i + needle.len()] == needle)
}

/// Parses a multipart body; each part's `Content-Transfer-Encoding` (base64,
/// quoted-printable, 7bit/8bit/binary) is undone.
fn parse_multipart(boundary: &str, body: &[u8]) -> Form {
    let mut form = Form::default();
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut cursor = match find(body, delimiter, 0) {
        Some(start) => start + delimiter.len(),
        None => return form,
    };
    loop {
        if body[cursor..].starts_with(b"--") {
            break;
        }
        let Some(next) = find(body, delimiter, cursor) else {
            break;
        };
        let part = trim_crlf(&body[cursor..next]);
        if let Some((name, value)) = decode_part(part) {
            form.push(&name, value);
        }
        cursor = next + delimiter.len();
    }
    form
}

fn trim_crlf(part: &[u8]) -> &[u8] {
    let part = part.strip_prefix(b"\r\n").or_else(|| part.strip_prefix(b"\n")).unwrap_or(part);
    part.strip_suffix(b"\r\n").or_else(|| part.strip_suffix(b"\n")).unwrap_or(part)
}

fn decode_part(part: &[u8]) -> Option<(String, String)> {
    let (head, content) = match find(part, b"\r\n\r\n", 0) {
        Some(at) => (&part[..at], &part[at + 4..]),
        None => {
            let at = find(part, b"\n\n", 0)?;
            (&part[..at], &part[at + 2..])
        }
    };
    let head = String::from_utf8_lossy(head);
    let mut name = None;
    let mut encoding = String::new();
    for line in head.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        if key == "content-disposition" {
            name = value.split(';').map(str::trim).find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim() == "name").then(|| v.trim().trim_matches('"').to_owned())
            });
        } else if key == "content-transfer-encoding" {
            encoding = value.trim().to_ascii_lowercase();
        }
    }
    let bytes = match encoding.as_str() {
        "base64" => {
            let compact: Vec<u8> = content.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
            base64::engine::general_purpose::STANDARD.decode(compact).ok()?
        }
        "quoted-printable" => decode_quoted_printable(content),
        _ => content.to_vec(),
    };
    Some((name?, String::from_utf8_lossy(&bytes).into_owned()))
}

fn decode_quoted_printable(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len());
    let mut index = 0;
    while index < content.len() {
        if content[index] == b'=' {
            let rest = &content[index + 1..];
            if rest.starts_with(b"\r\n") {
                index += 3;
                continue;
            }
            if rest.starts_with(b"\n") {
                index += 2;
                continue;
            }
            if rest.len() >= 2
                && let Ok(byte) = u8::from_str_radix(&String::from_utf8_lossy(&rest[..2]), 16)
            {
                out.push(byte);
                index += 3;
                continue;
            }
        }
        out.push(content[index]);
        index += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_base64_parts_and_repeats_decode() {
        let body = "--XyZ\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: form-data; name=\"hostname\"\r\n\r\nbm9kZTAx\r\n--XyZ\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\na\r\n--XyZ\r\nContent-Disposition: form-data; name=\"tags\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nb=3Dc\r\n--XyZ--\r\n";
        let form = parse_body(Some("multipart/form-data; boundary=\"XyZ\""), body.as_bytes());
        assert_eq!(form.get("hostname"), Some("node01"));
        assert_eq!(form.all("tags"), ["a".to_owned(), "b=c".to_owned()]);
    }

    #[test]
    fn urlencoded_and_query_decode() {
        let form = parse_urlencoded("op=allocate&name=a%20b&x=1+2&x=3");
        assert_eq!(form.get("op"), Some("allocate"));
        assert_eq!(form.get("name"), Some("a b"));
        assert_eq!(form.all("x"), ["1 2".to_owned(), "3".to_owned()]);
        assert_eq!(percent_decode("%26secret", false), "&secret");
        assert_eq!(percent_decode("100%", false), "100%");
    }
}
