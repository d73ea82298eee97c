//! Authentication: turns a request's credentials into a [`RequestContext`]
//! (compat: api spec §5.1, §5.2, §5.8). Four modes: `noauth` (development),
//! `token` (bearer tokens from a file), `keystone` (validate `X-Auth-Token`
//! against Keystone v3) and `keystone` with trusted identity headers (set by
//! keystonemiddleware in front). No mode rejects a request: unauthenticated
//! requests reach the handler, whose policy check answers 401, so health and
//! versions stay reachable. Tokens are never logged or echoed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::http::HeaderMap;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::policy::Credentials;

/// The caller of one request.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// Whether the identity is confirmed.
    pub authenticated: bool,
    /// User name.
    pub user: Option<String>,
    /// What the policy sees.
    pub credentials: Credentials,
    /// `X-Context-Marker`, when it is a UUID v4.
    pub external_marker: Option<String>,
    /// `X-End-User`, or the user name.
    pub end_user: Option<String>,
}

/// Why authentication cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token file cannot be read.
    #[error("cannot read the token file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The token file is malformed (the message never contains a token).
    #[error("the token file {path} is malformed: {detail}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// The Keystone client cannot be built.
    #[error("cannot build the Keystone client: {0}")]
    Client(String),
}

/// One entry of a token file.
#[derive(Clone, Deserialize)]
struct TokenEntry {
    token: String,
    user: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    project: Option<String>,
}

#[derive(Deserialize)]
struct TokenFileDoc {
    #[serde(default, rename = "token")]
    tokens: Vec<TokenEntry>,
}

/// Static bearer tokens mapped to identities.
#[derive(Clone, Default)]
pub struct TokenTable {
    by_token: HashMap<String, Identity>,
}

impl std::fmt::Debug for TokenTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenTable").field("tokens", &self.by_token.len()).finish()
    }
}

impl TokenTable {
    /// Read a TOML file of `[[token]]` tables with `token`, `user`, `roles`
    /// and optional `project`.
    pub fn from_file(path: &Path) -> Result<TokenTable, AuthError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read { path: shown.clone(), source })?;
        TokenTable::from_toml(&text).map_err(|detail| AuthError::Format { path: shown, detail })
    }

    /// Parse the token file format.
    pub fn from_toml(text: &str) -> Result<TokenTable, String> {
        // The parser's message may quote the offending line, which may hold a
        // token: report only its position.
        let doc: TokenFileDoc = toml::from_str(text).map_err(|error| match error.span() {
            Some(span) => format!("invalid TOML at byte {}", span.start),
            None => "invalid TOML".to_owned(),
        })?;
        let mut by_token = HashMap::new();
        for (index, entry) in doc.tokens.into_iter().enumerate() {
            if entry.token.len() < 16 {
                return Err(format!("token {index} is shorter than 16 characters"));
            }
            let identity = Identity {
                user: entry.user.clone(),
                user_id: entry.user,
                project_id: entry.project,
                roles: entry.roles,
                ..Identity::default()
            };
            if by_token.insert(entry.token, identity).is_some() {
                return Err(format!("token {index} appears twice"));
            }
        }
        Ok(TokenTable { by_token })
    }

    fn lookup(&self, token: &str) -> Option<&Identity> {
        self.by_token.get(token)
    }
}

/// A confirmed identity.
#[derive(Debug, Clone, Default)]
struct Identity {
    user: String,
    user_id: String,
    user_domain_id: Option<String>,
    project_id: Option<String>,
    project_domain_id: Option<String>,
    roles: Vec<String>,
    is_admin_project: bool,
}

/// Most validation results kept.
const MAX_CACHED_TOKENS: usize = 10_000;

/// Keystone v3 token validation with a result cache (compat §5.8).
pub struct KeystoneValidator {
    url: String,
    service: ServiceCredentials,
    client: reqwest::Client,
    cache_time: Duration,
    service_token: Mutex<Option<String>>,
    cache: Mutex<HashMap<String, (Instant, Option<Identity>)>>,
}

impl std::fmt::Debug for KeystoneValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeystoneValidator").field("url", &self.url).finish_non_exhaustive()
    }
}

/// How the server authenticates itself to Keystone to validate tokens
/// (`[keystone_authtoken]`, compat §6.2).
#[derive(Clone)]
pub struct ServiceCredentials {
    /// User name.
    pub username: String,
    /// Password (never logged).
    pub password: drydock_core::ids::Secret,
    /// The project the service token is scoped to (by id, or by name in a
    /// domain).
    pub project: crate::keystone::ProjectScope,
    /// User domain name.
    pub user_domain_name: String,
}

impl KeystoneValidator {
    /// A validator against Keystone at `url` (the `auth_url`, e.g.
    /// `http://keystone/v3`), caching results for `cache_time`.
    pub fn new(url: &str, service: ServiceCredentials, cache_time: Duration) -> Result<KeystoneValidator, AuthError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|error| AuthError::Client(error.to_string()))?;
        Ok(KeystoneValidator {
            url: url.trim_end_matches('/').to_owned(),
            service,
            client,
            cache_time,
            service_token: Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
        })
    }

    async fn service_token(&self, renew: bool) -> Option<String> {
        let mut slot = self.service_token.lock().await;
        if !renew && let Some(token) = slot.as_ref() {
            return Some(token.clone());
        }
        let auth = crate::keystone::PasswordAuth {
            auth_url: self.url.clone(),
            username: self.service.username.clone(),
            user_domain_name: self.service.user_domain_name.clone(),
            password: self.service.password.clone(),
            project: self.service.project.clone(),
        };
        let token = match crate::keystone::issue(&self.client, &auth).await {
            Ok(issued) => issued.token,
            Err(error) => {
                tracing::error!(%error, "cannot authenticate the service user with Keystone");
                return None;
            }
        };
        *slot = Some(token.clone());
        Some(token)
    }

    async fn validate(&self, token: &str) -> Option<Identity> {
        {
            let cache = self.cache.lock().await;
            if let Some((when, identity)) = cache.get(token)
                && when.elapsed() < self.cache_time
            {
                return identity.clone();
            }
        }
        let mut identity = None;
        for renew in [false, true] {
            let service = self.service_token(renew).await?;
            let response = self
                .client
                .get(format!("{}/auth/tokens", self.url))
                .header("X-Auth-Token", service)
                .header("X-Subject-Token", token)
                .send()
                .await;
            let response = match response {
                Ok(response) => response,
                Err(error) => {
                    tracing::error!(error = %error.without_url(), "cannot reach Keystone to validate a token");
                    return None;
                }
            };
            match response.status().as_u16() {
                200 => {
                    identity = response.json::<serde_json::Value>().await.ok().and_then(|body| identity_of(&body));
                    break;
                }
                // The service token expired: get a new one and try again.
                401 if !renew => continue,
                // 404: the subject token is invalid or expired.
                _ => break,
            }
        }
        let mut cache = self.cache.lock().await;
        if cache.len() >= MAX_CACHED_TOKENS {
            cache.retain(|_, (when, _)| when.elapsed() < self.cache_time);
            // A flood of distinct (forged) tokens must not grow memory without
            // bound: start over rather than keep them all.
            if cache.len() >= MAX_CACHED_TOKENS {
                cache.clear();
            }
        }
        cache.insert(token.to_owned(), (Instant::now(), identity.clone()));
        identity
    }
}

fn identity_of(body: &serde_json::Value) -> Option<Identity> {
    let token = body.get("token")?;
    let text = |value: Option<&serde_json::Value>| value.and_then(serde_json::Value::as_str).map(str::to_owned);
    let user = token.get("user")?;
    Some(Identity {
        user: text(user.get("name"))?,
        user_id: text(user.get("id"))?,
        user_domain_id: text(user.pointer("/domain/id")),
        project_id: text(token.pointer("/project/id")),
        project_domain_id: text(token.pointer("/project/domain/name")),
        roles: token
            .get("roles")
            .and_then(serde_json::Value::as_array)
            .map(|roles| roles.iter().filter_map(|role| text(role.get("name"))).collect())
            .unwrap_or_default(),
        is_admin_project: token.get("is_admin_project").and_then(serde_json::Value::as_bool).unwrap_or(false),
    })
}

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum AuthMode {
    /// Development only: a request without `X-Auth-Token` is the `noauth`
    /// user with these roles; one with a token is unauthenticated (compat
    /// §5.1 quirk).
    NoAuth {
        /// Forged roles (default `admin`).
        roles: Vec<String>,
    },
    /// `Authorization: Bearer <token>` or `X-Auth-Token: <token>` looked up
    /// in a table.
    Token(Arc<TokenTable>),
    /// Keystone validates `X-Auth-Token` (or, when present, `X-Service-Token`,
    /// whose identity then applies exclusively).
    Keystone(Arc<KeystoneValidator>),
    /// keystonemiddleware (with `delay_auth_decision`) runs in front and
    /// sets the identity headers; only safe behind that proxy. With
    /// `proxies`, the headers are honoured only from those source networks
    /// (other callers are unauthenticated); `None` trusts every source.
    TrustedHeaders {
        /// Networks the proxy connects from.
        proxies: Option<Vec<ipnet::IpNet>>,
    },
}

impl AuthMode {
    /// The context of a request with these headers from `source` (the peer
    /// address, when it is an IP socket).
    pub async fn authenticate(&self, headers: &HeaderMap, source: Option<std::net::IpAddr>) -> RequestContext {
        let identity = match self {
            AuthMode::NoAuth { roles } => match header(headers, "x-auth-token") {
                Some(_) => None,
                None => Some(Identity {
                    user: "noauth".into(),
                    user_id: "noauth".into(),
                    user_domain_id: Some("noauth".into()),
                    project_id: Some("noauth".into()),
                    project_domain_id: Some("noauth".into()),
                    roles: roles.clone(),
                    is_admin_project: roles.iter().any(|role| role == "admin"),
                }),
            },
            AuthMode::Token(table) => presented_token(headers).and_then(|token| table.lookup(token).cloned()),
            // With an `X-Service-Token`, keystonemiddleware's service identity
            // headers are present and used exclusively (compat §5.2): the
            // service token alone decides.
            AuthMode::Keystone(validator) => match header(headers, "x-service-token").or_else(|| header(headers, "x-auth-token")) {
                Some(token) => validator.validate(token).await,
                None => None,
            },
            AuthMode::TrustedHeaders { proxies } => {
                let trusted = match proxies {
                    None => true,
                    Some(networks) => source.is_some_and(|address| networks.iter().any(|network| network.contains(&address))),
                };
                if trusted {
                    return context_from_identity_headers(headers);
                }
                if headers.contains_key("x-identity-status") || headers.contains_key("x-service-identity-status") {
                    tracing::warn!(source = ?source, "identity headers from an untrusted source ignored");
                }
                None
            }
        };
        let mut context = match identity {
            Some(identity) => RequestContext {
                authenticated: true,
                user: Some(identity.user),
                credentials: Credentials {
                    user_id: Some(identity.user_id),
                    user_domain_id: identity.user_domain_id,
                    project_id: identity.project_id,
                    project_domain_id: identity.project_domain_id,
                    roles: identity.roles,
                    is_admin_project: identity.is_admin_project,
                },
                ..RequestContext::default()
            },
            None => RequestContext::default(),
        };
        add_markers(&mut context, headers);
        context
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok()).filter(|value| !value.is_empty())
}

fn presented_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = header(headers, "authorization") {
        let (scheme, token) = value.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim());
    }
    header(headers, "x-auth-token")
}

/// The identity headers of keystonemiddleware (compat §5.2): the service
/// set when `X-Service-Identity-Status` is present, the user set otherwise.
pub fn context_from_identity_headers(headers: &HeaderMap) -> RequestContext {
    let service = headers.contains_key("x-service-identity-status");
    let pick = |user: &str, svc: &str| header(headers, if service { svc } else { user }).map(str::to_owned);
    let status = pick("x-identity-status", "x-service-identity-status");
    let roles = pick("x-roles", "x-service-roles")
        .map(|roles| roles.split(',').map(|role| role.trim().to_owned()).filter(|role| !role.is_empty()).collect())
        .unwrap_or_default();
    let mut context = RequestContext {
        authenticated: status.as_deref() == Some("Confirmed"),
        user: pick("x-user-name", "x-service-user-name"),
        credentials: Credentials {
            user_id: pick("x-user-id", "x-service-user-id"),
            user_domain_id: pick("x-user-domain-id", "x-service-user-domain-id"),
            project_id: pick("x-project-id", "x-service-project-id"),
            project_domain_id: pick("x-project-domain-name", "x-service-project-domain-id"),
            roles,
            is_admin_project: header(headers, "x-is-admin-project") == Some("True"),
        },
        ..RequestContext::default()
    };
    if !context.authenticated {
        context.credentials = Credentials::default();
    }
    add_markers(&mut context, headers);
    context
}

fn add_markers(context: &mut RequestContext, headers: &HeaderMap) {
    context.external_marker = header(headers, "x-context-marker").filter(|marker| is_uuid_v4(marker)).map(str::to_owned);
    context.end_user = header(headers, "x-end-user").map(str::to_owned).or_else(|| context.user.clone());
}

/// A UUID v4 in the textual form (case-insensitive; compat §1.1).
fn is_uuid_v4(text: &str) -> bool {
    match uuid::Uuid::parse_str(text) {
        Ok(id) => {
            text.len() == 36 && id.get_version_num() == 4 && matches!(text.as_bytes()[19].to_ascii_lowercase(), b'8' | b'9' | b'a' | b'b')
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_errors_never_quote_tokens() {
        let error = TokenTable::from_toml("[[token]]\ntoken = \"supersecretvalue123\nuser = 1").err().unwrap_or_default();
        assert!(!error.contains("supersecret"), "{error}");
        let error = TokenTable::from_toml("[[token]]\ntoken = \"short\"\nuser = \"u\"").err().unwrap_or_default();
        assert!(error.contains("shorter") && !error.contains("short\""), "{error}");
    }

    #[test]
    fn context_markers() {
        assert!(is_uuid_v4("1F0C5E7A-3F0A-4A57-9C1E-2A4F6F0D9B11"));
        assert!(!is_uuid_v4("1f0c5e7a-3f0a-1a57-9c1e-2a4f6f0d9b11"));
        assert!(!is_uuid_v4("1f0c5e7a-3f0a-4a57-7c1e-2a4f6f0d9b11"));
    }
}
