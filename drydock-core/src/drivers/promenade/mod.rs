//! The Promenade Kubernetes driver (compat: drivers spec §7): a node's
//! labels set with one `PUT <promenade>/api/v1.0/node-labels/<node>` whose
//! body is the label map, `X-Auth-Token` and `X-Context-Marker` headers. A
//! 2xx answer with a JSON body is success; 401, 403, any other status and a
//! body that is not JSON are errors naming the status and what Promenade
//! said (its error document's message and reason, else a bounded excerpt).
//!
//! Promenade is found at a configured URL (`--promenade-url`) or, as the
//! original does, in the Keystone catalogue: the `kubernetesprovisioner`
//! service's `internal` endpoint, of which only the scheme, host and port are
//! kept. Tokens and the catalogue come from a [`ServiceAuth`] (the server's
//! Keystone service user, or a fixed token); when Promenade answers 401 the
//! token is asked for again once and the request repeated. One call per
//! `relabel`; retries and deadlines are the orchestrator's.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::{DriverError, DriverErrorKind, KubernetesDriver};
use crate::encode::percent_encode;
use crate::ids::Secret;
use crate::model::StringMap;

#[cfg(test)]
mod tests;

/// The catalogue's service type for Promenade.
pub const SERVICE_TYPE: &str = "kubernetesprovisioner";
/// The catalogue interface the driver uses.
pub const INTERFACE: &str = "internal";
/// Most characters of Promenade's answer quoted in an error.
const EXCERPT_CHARS: usize = 300;
/// Most bytes of an answer read (Promenade's are a few hundred).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Where the driver's token and, without a configured URL, Promenade's
/// address come from: Keystone, as the server's service user.
#[async_trait]
pub trait ServiceAuth: Send + Sync {
    /// A token; `renew` asks for a new one rather than the one in hand
    /// (Promenade refused it).
    async fn token(&self, renew: bool) -> Result<Secret, AuthError>;
    /// The URL of the `interface` endpoint of the `service_type` service in
    /// the catalogue, `None` when it has none.
    async fn endpoint(&self, service_type: &str, interface: &str) -> Result<Option<String>, AuthError>;
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Keystone could not be reached or answered badly (may pass).
    #[error("cannot get a token from Keystone: {0}")]
    Unavailable(String),
    /// Keystone refused the service credentials.
    #[error("Keystone refused the service credentials: {0}")]
    Refused(String),
}

/// A fixed token (`--promenade-token`): renewing gives the same one, and
/// there is no catalogue.
#[derive(Debug, Clone)]
pub struct StaticToken(pub Secret);

#[async_trait]
impl ServiceAuth for StaticToken {
    async fn token(&self, _renew: bool) -> Result<Secret, AuthError> {
        Ok(self.0.clone())
    }

    async fn endpoint(&self, _service_type: &str, _interface: &str) -> Result<Option<String>, AuthError> {
        Ok(None)
    }
}

/// Promenade driver settings.
#[derive(Debug, Clone)]
pub struct PromenadeConfig {
    /// Promenade's base URL; requests go to `<url>/api/v1.0/…` (a trailing
    /// `/api` or `/api/v1.0` is dropped). `None`: the Keystone catalogue.
    pub url: Option<String>,
    /// Connect timeout (20 s, as the original).
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of an answer (30 s, as the original).
    pub read_timeout: Duration,
}

impl Default for PromenadeConfig {
    fn default() -> Self {
        PromenadeConfig { url: None, connect_timeout: Duration::from_secs(20), read_timeout: Duration::from_secs(30) }
    }
}

/// What went wrong relabelling a node.
#[derive(Debug, thiserror::Error)]
pub enum PromenadeError {
    /// No URL configured and none in the catalogue.
    #[error("no Promenade endpoint: no URL configured and no `kubernetesprovisioner` `internal` endpoint in the Keystone catalogue")]
    NoEndpoint,
    /// The configured or catalogued URL is not an absolute http(s) URL.
    #[error("Promenade URL {url:?} is not usable: {reason}")]
    BadUrl {
        /// The URL (no credentials: those come as tokens).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No token could be had.
    #[error("no token for Promenade")]
    Token(#[source] AuthError),
    /// The HTTP client could not be built.
    #[error("cannot build the Promenade HTTP client")]
    Client(#[source] reqwest::Error),
    /// Promenade did not answer within the timeouts.
    #[error("Promenade did not answer in time at {endpoint}")]
    Timeout {
        /// Promenade's base URL.
        endpoint: String,
        /// Cause.
        #[source]
        source: reqwest::Error,
    },
    /// Promenade could not be reached or the connection failed.
    #[error("cannot reach Promenade at {endpoint}")]
    Transport {
        /// Promenade's base URL.
        endpoint: String,
        /// Cause.
        #[source]
        source: reqwest::Error,
    },
    /// 401, also after a new token when there is a token source.
    #[error("Promenade refused the credentials (HTTP 401{}) at {endpoint}: {excerpt}", if *.renewed { ", also with a new token" } else { "" })]
    Unauthorized {
        /// Promenade's base URL.
        endpoint: String,
        /// Whether a new token was tried.
        renewed: bool,
        /// The start of Promenade's answer.
        excerpt: String,
    },
    /// 403: the credentials do not allow relabelling.
    #[error("Promenade forbids relabelling with these credentials (HTTP 403) at {endpoint}: {excerpt}")]
    Forbidden {
        /// Promenade's base URL.
        endpoint: String,
        /// The start of Promenade's answer.
        excerpt: String,
    },
    /// Any other non-2xx answer.
    #[error("Promenade answered HTTP {status} at {endpoint}: {excerpt}")]
    Status {
        /// Promenade's base URL.
        endpoint: String,
        /// The status code.
        status: u16,
        /// The start of Promenade's answer.
        excerpt: String,
    },
    /// A 2xx answer whose body is not JSON.
    #[error("Promenade answered HTTP {status} at {endpoint} with a body that is not JSON: {excerpt:?}")]
    NotJson {
        /// Promenade's base URL.
        endpoint: String,
        /// The status code.
        status: u16,
        /// The start of the body.
        excerpt: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

impl PromenadeError {
    /// What the orchestrator should do about it.
    pub fn kind(&self) -> DriverErrorKind {
        match self {
            PromenadeError::NoEndpoint | PromenadeError::BadUrl { .. } | PromenadeError::Client(_) | PromenadeError::NotJson { .. } => {
                DriverErrorKind::Permanent
            }
            PromenadeError::Token(AuthError::Unavailable(_)) | PromenadeError::Timeout { .. } | PromenadeError::Transport { .. } => {
                DriverErrorKind::Transient
            }
            PromenadeError::Token(AuthError::Refused(_)) | PromenadeError::Unauthorized { .. } | PromenadeError::Forbidden { .. } => {
                DriverErrorKind::Auth
            }
            PromenadeError::Status { status, .. } => match status {
                404 => DriverErrorKind::NotFound,
                408 | 429 | 500.. => DriverErrorKind::Transient,
                _ => DriverErrorKind::Permanent,
            },
        }
    }

    /// The driver error for a failed `operation` on `node`: the message and
    /// its causes on one line.
    pub fn into_driver_error(self, operation: &'static str, node: &str) -> DriverError {
        let mut detail = self.to_string();
        let mut source = std::error::Error::source(&self);
        while let Some(cause) = source {
            detail.push_str(": ");
            detail.push_str(&cause.to_string());
            source = cause.source();
        }
        DriverError::new(self.kind(), operation, node, detail)
    }
}

/// Promenade's base URL from a catalogue entry: only `scheme://host[:port]`
/// is kept (the original drops any path and appends `/api/` itself).
///
/// The original also forces the scheme to `http`; this keeps the
/// catalogue's, so an `https` endpoint is reached over TLS rather than
/// refused (the same request for the usual `http` entries).
pub fn base_from_catalog(url: &str) -> Result<String, PromenadeError> {
    let parsed = parse_http_url(url)?;
    let host = parsed.host_str().unwrap_or_default();
    Ok(match parsed.port() {
        Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
        None => format!("{}://{host}", parsed.scheme()),
    })
}

/// Promenade's base URL from configuration: the URL less a trailing `/`,
/// `/api` or `/api/v1.0` (a path before those, such as an ingress prefix,
/// is kept). Query strings, fragments and user info are refused.
pub fn base_from_config(url: &str) -> Result<String, PromenadeError> {
    let parsed = parse_http_url(url)?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(PromenadeError::BadUrl { url: redacted(url), reason: "a query or fragment has no place in a base URL".into() });
    }
    let mut base = parsed.as_str().trim_end_matches('/').to_owned();
    for suffix in ["/api/v1.0", "/api"] {
        if let Some(stripped) = base.strip_suffix(suffix) {
            base = stripped.to_owned();
            break;
        }
    }
    Ok(base)
}

/// The node-labels URL of `node` under `base` (the name percent-encoded as
/// one path segment).
pub fn node_labels_url(base: &str, node: &str) -> String {
    format!("{}/api/v1.0/node-labels/{}", base.trim_end_matches('/'), percent_encode(node))
}

/// A URL with any user info masked, for messages.
fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url.trim()) {
        Ok(mut parsed) => {
            if !parsed.username().is_empty() || parsed.password().is_some() {
                let _ = parsed.set_username("***");
                let _ = parsed.set_password(None);
            }
            parsed.to_string()
        }
        Err(_) => match url.rsplit_once('@') {
            Some((_, rest)) => format!("***@{rest}"),
            None => url.to_owned(),
        },
    }
}

fn parse_http_url(url: &str) -> Result<reqwest::Url, PromenadeError> {
    let bad = |reason: String| PromenadeError::BadUrl { url: redacted(url), reason };
    let parsed = reqwest::Url::parse(url.trim()).map_err(|error| bad(error.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(format!("scheme {:?} is not http or https", parsed.scheme())));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host".into()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("user info is not allowed (Promenade takes tokens)".into()));
    }
    Ok(parsed)
}

/// The start of an answer for a message: at most [`EXCERPT_CHARS`]
/// characters on one line, with the token (should Promenade echo it) masked.
fn excerpt(body: &[u8], token: Option<&Secret>) -> String {
    let text = String::from_utf8_lossy(body);
    let mut text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(token) = token.filter(|token| !token.is_empty()) {
        text = text.replace(token.expose(), "***");
    }
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "(empty body)".into(),
        None => text,
    }
}

/// What an error answer says: Promenade's error document (the UCP status
/// format) as `message: reason`, anything else as its [`excerpt`].
fn summary(body: &[u8], token: Option<&Secret>) -> String {
    let document: Option<Value> = serde_json::from_slice(body).ok();
    let text = |key: &str| {
        document.as_ref().and_then(|document| document.get(key)).and_then(Value::as_str).map(str::trim).filter(|text| !text.is_empty())
    };
    match (text("message"), text("reason")) {
        (Some(message), Some(reason)) => excerpt(format!("{message}: {reason}").as_bytes(), token),
        (Some(message), None) => excerpt(message.as_bytes(), token),
        _ => excerpt(body, token),
    }
}

/// The Promenade driver.
#[derive(Clone)]
pub struct PromenadeDriver {
    http: reqwest::Client,
    /// The configured base URL, already normalised.
    base: Option<String>,
    auth: Option<Arc<dyn ServiceAuth>>,
}

impl std::fmt::Debug for PromenadeDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromenadeDriver").field("base", &self.base).field("auth", &self.auth.is_some()).finish_non_exhaustive()
    }
}

impl PromenadeDriver {
    /// A driver with `config`, taking tokens (and, without a URL, the
    /// catalogue) from `auth`; without `auth` requests carry no token.
    /// Nothing is contacted until the first call.
    pub fn new(config: PromenadeConfig, auth: Option<Arc<dyn ServiceAuth>>) -> Result<Self, PromenadeError> {
        let base = config.url.as_deref().map(base_from_config).transpose()?;
        if base.is_none() && auth.is_none() {
            return Err(PromenadeError::NoEndpoint);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .build()
            .map_err(PromenadeError::Client)?;
        Ok(PromenadeDriver { http, base, auth })
    }

    /// Promenade's base URL: the configured one, else the catalogue's.
    async fn base(&self) -> Result<String, PromenadeError> {
        if let Some(base) = &self.base {
            return Ok(base.clone());
        }
        let auth = self.auth.as_ref().ok_or(PromenadeError::NoEndpoint)?;
        let url = auth.endpoint(SERVICE_TYPE, INTERFACE).await.map_err(PromenadeError::Token)?.ok_or(PromenadeError::NoEndpoint)?;
        base_from_catalog(&url)
    }

    /// Set `node`'s labels; Promenade's (JSON) answer.
    pub async fn relabel_node(&self, node: &str, labels: &StringMap) -> Result<Value, PromenadeError> {
        let marker = uuid::Uuid::new_v4().to_string();
        let mut renewed = false;
        loop {
            let token = match &self.auth {
                Some(auth) => Some(auth.token(renewed).await.map_err(PromenadeError::Token)?),
                None => None,
            };
            let base = self.base().await?;
            let url = node_labels_url(&base, node);
            tracing::debug!(%node, endpoint = %base, context_marker = %marker, "Promenade: PUT node-labels");
            let mut request = self.http.put(&url).header("X-Context-Marker", &marker).json(labels);
            if let Some(token) = &token {
                request = request.header("X-Auth-Token", token.expose());
            }
            let transport = |source: reqwest::Error| {
                let source = source.without_url();
                if source.is_timeout() {
                    PromenadeError::Timeout { endpoint: base.clone(), source }
                } else {
                    PromenadeError::Transport { endpoint: base.clone(), source }
                }
            };
            let mut response = request.send().await.map_err(transport)?;
            let status = response.status().as_u16();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(transport)? {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_ANSWER_BYTES {
                    break;
                }
            }
            let quoted = || summary(&body, token.as_ref());
            match status {
                401 if !renewed && self.auth.is_some() => {
                    tracing::debug!(%node, endpoint = %base, "Promenade refused the token; asking for a new one");
                    renewed = true;
                    continue;
                }
                401 => return Err(PromenadeError::Unauthorized { endpoint: base, renewed, excerpt: quoted() }),
                403 => return Err(PromenadeError::Forbidden { endpoint: base, excerpt: quoted() }),
                200..=299 => {
                    return serde_json::from_slice(&body).map_err(|source| PromenadeError::NotJson {
                        endpoint: base,
                        status,
                        excerpt: excerpt(&body, token.as_ref()),
                        source,
                    });
                }
                _ => return Err(PromenadeError::Status { endpoint: base, status, excerpt: quoted() }),
            }
        }
    }
}

#[async_trait]
impl KubernetesDriver for PromenadeDriver {
    async fn relabel(&self, node: &str, labels: &StringMap) -> Result<(), DriverError> {
        self.relabel_node(node, labels).await.map(drop).map_err(|error| error.into_driver_error("relabel", node))
    }
}
