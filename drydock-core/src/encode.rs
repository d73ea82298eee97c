//! Text encodings shared across modules: RFC 3986 percent-encoding (OAuth
//! header values, URL path segments).
//!
//! Rank 0: imports nothing else from the crate.

/// Percent-encode everything but RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_unreserved_characters_stay() {
        assert_eq!(super::percent_encode("a-Z_0.9~"), "a-Z_0.9~");
        assert_eq!(super::percent_encode("s3cr/t &é"), "s3cr%2Ft%20%26%C3%A9");
    }
}
