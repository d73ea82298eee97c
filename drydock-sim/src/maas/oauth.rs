//! OAuth 1.0 PLAINTEXT checking of the MaaS `Authorization` header.
//!
//! Compat: drivers.md §2.1 ("OAuth header MaaS expects") and §3.1. The
//! header is `OAuth k="v", ...`; values are percent-decoded, `realm`,
//! `oauth_body_hash` and `oauth_version` are ignored, timestamps are not
//! checked. This module decides only "who is calling"; it never builds a
//! response.

use super::form::percent_decode;
use std::collections::BTreeMap;

/// One configured API key `consumer_key:token_key:token_secret`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// User owning the key.
    pub username: String,
    /// OAuth consumer key.
    pub consumer_key: String,
    /// OAuth token key.
    pub token_key: String,
    /// OAuth token secret.
    pub token_secret: String,
}

impl ApiKey {
    /// Parses `ck:tk:ts`.
    pub fn parse(username: &str, key: &str) -> Option<ApiKey> {
        let mut parts = key.split(':');
        let (ck, tk, ts) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || ck.is_empty() || tk.is_empty() || ts.is_empty() {
            return None;
        }
        Some(ApiKey { username: username.to_owned(), consumer_key: ck.to_owned(), token_key: tk.to_owned(), token_secret: ts.to_owned() })
    }

    /// The `ck:tk:ts` form.
    pub fn to_key_string(&self) -> String {
        format!("{}:{}:{}", self.consumer_key, self.token_key, self.token_secret)
    }
}

/// Why a request was not authenticated (the text is MaaS's 401 body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No header, not OAuth, missing parameters or unknown key/token.
    #[error("Authorization Error: Invalid API key.")]
    InvalidKey,
    /// Known key but the signature does not match.
    #[error("Authorization Error: 'Invalid signature.'")]
    InvalidSignature,
}

const REQUIRED: [&str; 6] =
    ["oauth_consumer_key", "oauth_token", "oauth_signature_method", "oauth_signature", "oauth_timestamp", "oauth_nonce"];

/// Parses the parameters of an `OAuth ...` header.
pub fn parse_header(header: &str) -> Option<BTreeMap<String, String>> {
    let rest = header.trim().strip_prefix("OAuth")?;
    let mut params = BTreeMap::new();
    for item in rest.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (key, value) = item.split_once('=')?;
        let value = value.trim().trim_matches('"');
        params.insert(key.trim().to_owned(), percent_decode(value, false));
    }
    Some(params)
}

/// Checks a header against the configured keys; returns the username.
pub fn authenticate<'a>(header: Option<&str>, keys: &'a [ApiKey]) -> Result<&'a str, AuthFailure> {
    let params = header.and_then(parse_header).ok_or(AuthFailure::InvalidKey)?;
    if REQUIRED.iter().any(|name| !params.contains_key(*name)) {
        return Err(AuthFailure::InvalidKey);
    }
    let key = keys
        .iter()
        .find(|k| Some(&k.consumer_key) == params.get("oauth_consumer_key") && Some(&k.token_key) == params.get("oauth_token"))
        .ok_or(AuthFailure::InvalidKey)?;
    let method = params.get("oauth_signature_method").map(String::as_str).unwrap_or("");
    let signature = params.get("oauth_signature").map(String::as_str).unwrap_or("");
    if method == "PLAINTEXT" && signature == format!("&{}", key.token_secret) {
        Ok(&key.username)
    } else {
        Err(AuthFailure::InvalidSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<ApiKey> {
        ApiKey::parse("admin", "ck:tk:ts").into_iter().collect()
    }

    #[test]
    fn libmaas_style_header_is_accepted() {
        let header = r#"OAuth realm="OAuth", oauth_nonce="123", oauth_timestamp="1700000000", oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key="ck", oauth_token="tk", oauth_signature="%26ts""#;
        assert_eq!(authenticate(Some(header), &keys()), Ok("admin"));
    }

    #[test]
    fn bad_or_missing_credentials_are_refused() {
        let wrong_sig = r#"OAuth oauth_nonce="1", oauth_timestamp="1", oauth_signature_method="PLAINTEXT", oauth_consumer_key="ck", oauth_token="tk", oauth_signature="%26nope""#;
        assert_eq!(authenticate(Some(wrong_sig), &keys()), Err(AuthFailure::InvalidSignature));
        let unknown = wrong_sig.replace("\"tk\"", "\"other\"");
        assert_eq!(authenticate(Some(&unknown), &keys()), Err(AuthFailure::InvalidKey));
        let missing_nonce = r#"OAuth oauth_timestamp="1", oauth_signature_method="PLAINTEXT", oauth_consumer_key="ck", oauth_token="tk", oauth_signature="%26ts""#;
        assert_eq!(authenticate(Some(missing_nonce), &keys()), Err(AuthFailure::InvalidKey));
        assert_eq!(authenticate(None, &keys()), Err(AuthFailure::InvalidKey));
        assert_eq!(authenticate(Some("Basic abc"), &keys()), Err(AuthFailure::InvalidKey));
    }
}
