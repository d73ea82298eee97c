//! MaaS request bodies: form fields encoded as `multipart/form-data` with
//! base64 parts, as MaaS's own client sends them (compat: drivers spec §2.1).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The fields of one request, in order; a field may repeat (lists).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// An empty form.
    pub fn new() -> Self {
        Form::default()
    }

    /// Add a field (builder style).
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.push(name, value);
        self
    }

    /// Add a field only when there is a value.
    pub fn with_opt(mut self, name: &str, value: Option<impl Into<String>>) -> Self {
        if let Some(value) = value {
            self.push(name, value);
        }
        self
    }

    /// Add one part per element (an empty list adds nothing).
    pub fn with_list<I, S>(mut self, name: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for value in values {
            self.push(name, value);
        }
        self
    }

    /// Add a field.
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.fields.push((name.to_owned(), value.into()));
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields, in order.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// The value of the first field called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// The multipart body and its content type, or `None` for an empty form
    /// (MaaS gets an empty body then).
    pub fn encode(&self, boundary: &str) -> Option<(String, Vec<u8>)> {
        if self.fields.is_empty() {
            return None;
        }
        let mut body = String::new();
        for (name, value) in &self.fields {
            body.push_str("--");
            body.push_str(boundary);
            body.push_str("\r\nContent-Disposition: form-data; name=\"");
            body.push_str(&name.replace('"', "%22"));
            body.push_str("\"\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
            body.push_str(&STANDARD.encode(value.as_bytes()));
            body.push_str("\r\n");
        }
        body.push_str("--");
        body.push_str(boundary);
        body.push_str("--\r\n");
        Some((format!("multipart/form-data; boundary={boundary}"), body.into_bytes()))
    }
}

/// MaaS's spelling of a boolean form value.
pub fn flag(value: bool) -> &'static str {
    if value { "True" } else { "False" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_base64_and_lists_repeat() {
        let form = Form::new().with("name", "bond0").with_list("parents", ["7", "8"]).with_list("tags", Vec::<String>::new());
        let (content_type, body) = form.encode("XyZ").expect("body");
        assert_eq!(content_type, "multipart/form-data; boundary=XyZ");
        let body = String::from_utf8(body).expect("utf-8");
        assert_eq!(body.matches("name=\"parents\"").count(), 2);
        assert!(!body.contains("name=\"tags\""));
        assert!(body.contains("Content-Transfer-Encoding: base64\r\n\r\nYm9uZDA=\r\n"), "{body}");
        assert!(body.ends_with("--XyZ--\r\n"));
    }

    #[test]
    fn an_empty_form_has_no_body() {
        assert!(Form::new().encode("b").is_none());
        assert_eq!(flag(true), "True");
    }
}
