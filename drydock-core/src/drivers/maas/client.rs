//! The MaaS 2.0 HTTP client: OAuth 1.0 PLAINTEXT signing, `op` in the query
//! string, multipart bodies, timeouts, and HTTP failures mapped to
//! [`DriverError`] kinds. No retries here: the orchestrator's retry policies
//! own them (architecture: one place for retries). The API key is a
//! [`Secret`] and never reaches an error or a log line.

use std::fmt;
use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::form::Form;
use crate::drivers::{DriverError, DriverErrorKind};
use crate::encode::percent_encode;
use crate::ids::Secret;

/// A MaaS API key, `<consumer_key>:<token_key>:<token_secret>`.
#[derive(Clone)]
pub struct ApiKey {
    consumer: String,
    token: String,
    secret: Secret,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey").field("consumer", &self.consumer).field("token", &"***").field("secret", &self.secret).finish()
    }
}

impl ApiKey {
    /// Parse `consumer:token:secret`. The error never repeats the key.
    pub fn parse(key: &Secret) -> Result<ApiKey, DriverError> {
        let parts: Vec<&str> = key.expose().trim().split(':').collect();
        match parts.as_slice() {
            [consumer, token, secret] if !consumer.is_empty() && !token.is_empty() && !secret.is_empty() => {
                Ok(ApiKey { consumer: (*consumer).to_owned(), token: (*token).to_owned(), secret: Secret::new(*secret) })
            }
            _ => Err(DriverError::new(
                DriverErrorKind::Auth,
                "maas_api_key",
                "maas",
                "the MaaS API key must have three parts, consumer:token:secret",
            )),
        }
    }

    /// The `Authorization` header for one request (fresh nonce and time).
    pub fn authorization(&self, nonce: u64, timestamp: u64) -> String {
        format!(
            "OAuth realm=\"OAuth\", oauth_nonce=\"{nonce}\", oauth_timestamp=\"{timestamp}\", oauth_version=\"1.0\", \
             oauth_signature_method=\"PLAINTEXT\", oauth_consumer_key=\"{}\", oauth_token=\"{}\", oauth_signature=\"%26{}\"",
            percent_encode(&self.consumer),
            percent_encode(&self.token),
            percent_encode(self.secret.expose())
        )
    }
}

/// One MaaS region API.
#[derive(Clone)]
pub struct MaasClient {
    http: reqwest::Client,
    base: String,
    endpoint: String,
    key: ApiKey,
}

impl fmt::Debug for MaasClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaasClient").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

/// The HTTP verbs MaaS uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// Read.
    Get,
    /// Create or operation.
    Post,
    /// Update.
    Put,
    /// Delete.
    Delete,
}

impl Verb {
    fn method(self) -> Method {
        match self {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Put => Method::PUT,
            Verb::Delete => Method::DELETE,
        }
    }

    /// `GET`, `POST`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Delete => "DELETE",
        }
    }
}

impl MaasClient {
    /// A client of the MaaS at `url` (e.g. `http://maas:5240/MAAS`); the API
    /// lives at `url + "/api/2.0/"`. Connect timeout 5 s, read timeout 60 s.
    pub fn new(url: &str, key: &Secret) -> Result<MaasClient, DriverError> {
        Self::with_timeouts(url, key, Duration::from_secs(5), Duration::from_secs(60))
    }

    /// A client with other timeouts (tests use short ones).
    pub fn with_timeouts(url: &str, key: &Secret, connect: Duration, read: Duration) -> Result<MaasClient, DriverError> {
        let key = ApiKey::parse(key)?;
        let http = reqwest::Client::builder()
            .connect_timeout(connect)
            .read_timeout(read)
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| DriverError::new(DriverErrorKind::Permanent, "maas_client", url, e.to_string()))?;
        let endpoint = url.trim_end_matches('/').to_owned();
        Ok(MaasClient { http, base: format!("{endpoint}/api/2.0/"), endpoint, key })
    }

    /// The MaaS URL, for messages.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Send one request and return its JSON answer (`null` for an empty one).
    /// MaaS answers a few operations in plain text (`set_boot_disk`: `OK`;
    /// `boot-resources/?op=import`: `Import of boot resources started`);
    /// such a `text/plain` answer is returned as a JSON string.
    pub async fn call(
        &self,
        operation: &'static str,
        verb: Verb,
        path: &str,
        op: Option<&str>,
        query: &[(&str, &str)],
        form: &Form,
    ) -> Result<Value, DriverError> {
        let (bytes, content_type) = self.send(operation, verb, path, op, query, form).await?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        if content_type.is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("text/plain")) {
            return Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            DriverError::new(
                DriverErrorKind::Permanent,
                operation,
                &self.endpoint,
                format!("MaaS answered {path} with unreadable JSON: {e}"),
            )
        })
    }

    /// Send one request and return the raw answer body.
    pub async fn call_raw(
        &self,
        operation: &'static str,
        verb: Verb,
        path: &str,
        op: Option<&str>,
        query: &[(&str, &str)],
        form: &Form,
    ) -> Result<Vec<u8>, DriverError> {
        self.send(operation, verb, path, op, query, form).await.map(|(body, _)| body)
    }

    /// Send one request; the answer's body and `Content-Type`.
    async fn send(
        &self,
        operation: &'static str,
        verb: Verb,
        path: &str,
        op: Option<&str>,
        query: &[(&str, &str)],
        form: &Form,
    ) -> Result<(Vec<u8>, Option<String>), DriverError> {
        let url = format!("{}{}", self.base, path.trim_start_matches('/'));
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(query.len() + 1);
        if let Some(op) = op {
            pairs.push(("op", op));
        }
        pairs.extend_from_slice(query);
        let timestamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let nonce: u64 = rand::random::<u64>() % 100_000_000_000;
        let mut request = self
            .http
            .request(verb.method(), &url)
            .query(&pairs)
            .header("Accept", "application/json")
            .header("Authorization", self.key.authorization(nonce, timestamp));
        let boundary = format!("drydock{:016x}", rand::random::<u64>());
        if let Some((content_type, body)) = form.encode(&boundary) {
            request = request.header("Content-Type", content_type).body(body);
        }
        let response = request.send().await.map_err(|e| self.transport_error(operation, path, &e))?;
        let status = response.status();
        let content_type = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = response.bytes().await.map_err(|e| self.transport_error(operation, path, &e))?;
        if status.as_u16() >= 400 {
            let kind = match status.as_u16() {
                401 | 403 => DriverErrorKind::Auth,
                404 => DriverErrorKind::NotFound,
                408 | 429 | 500.. => DriverErrorKind::Transient,
                _ => DriverErrorKind::Permanent,
            };
            let text = String::from_utf8_lossy(&body);
            let mut text: String = text.chars().take(300).collect();
            if kind == DriverErrorKind::Auth {
                text = "MaaS API authentication failed (check the API key)".into();
            }
            let what = match op {
                Some(op) => format!("{} {path}?op={op}", verb.as_str()),
                None => format!("{} {path}", verb.as_str()),
            };
            return Err(DriverError::new(kind, operation, &self.endpoint, format!("MAAS Error: {} - {text} ({what})", status.as_u16())));
        }
        Ok((body.to_vec(), content_type))
    }

    fn transport_error(&self, operation: &'static str, path: &str, error: &reqwest::Error) -> DriverError {
        let detail = if error.is_timeout() {
            format!("MaaS did not answer {path} in time")
        } else if error.is_connect() {
            "cannot connect to MaaS".to_owned()
        } else {
            format!("{path}: {}", error.to_string().replace(&self.base, ""))
        };
        DriverError::new(DriverErrorKind::Transient, operation, &self.endpoint, detail)
    }

    /// `GET` and decode.
    pub async fn get<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        op: Option<&str>,
        query: &[(&str, &str)],
    ) -> Result<T, DriverError> {
        let value = self.call(operation, Verb::Get, path, op, query, &Form::new()).await?;
        self.decode(operation, path, value)
    }

    /// `POST` (an operation or a create) and decode the answer.
    pub async fn post<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        op: Option<&str>,
        form: &Form,
    ) -> Result<T, DriverError> {
        let value = self.call(operation, Verb::Post, path, op, &[], form).await?;
        self.decode(operation, path, value)
    }

    /// Decode a JSON answer into `T`.
    pub fn decode<T: DeserializeOwned>(&self, operation: &'static str, path: &str, value: Value) -> Result<T, DriverError> {
        serde_json::from_value(value).map_err(|e| {
            DriverError::new(DriverErrorKind::Permanent, operation, &self.endpoint, format!("unexpected MaaS answer to {path}: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_signature_is_the_percent_encoded_secret() {
        let key = ApiKey::parse(&Secret::new("ck:tk:s3cr/t")).expect("key");
        let header = key.authorization(42, 1700000000);
        assert!(header.starts_with("OAuth realm=\"OAuth\", oauth_nonce=\"42\", oauth_timestamp=\"1700000000\""));
        assert!(header.contains("oauth_signature_method=\"PLAINTEXT\""));
        assert!(header.contains("oauth_consumer_key=\"ck\", oauth_token=\"tk\", oauth_signature=\"%26s3cr%2Ft\""));
        assert!(!format!("{key:?}").contains("s3cr"), "the secret never prints");
    }

    #[test]
    fn a_malformed_key_is_an_auth_error_that_does_not_echo_it() {
        let error = ApiKey::parse(&Secret::new("only-one-part-secret")).expect_err("bad key");
        assert_eq!(error.kind(), DriverErrorKind::Auth);
        assert!(!error.to_string().contains("only-one-part-secret"));
    }
}
