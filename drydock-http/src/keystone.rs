//! Keystone v3 password authentication, shared by the server (its service
//! user, `--auth keystone`) and the CLI (`--os_*` options, compat §7.1):
//! `POST <auth_url>/auth/tokens`, the token from `X-Subject-Token`, and
//! endpoint discovery in the returned catalogue. [`ServiceSession`] keeps
//! the service user's token and catalogue for the Promenade driver. The
//! password never appears in errors.

use std::time::Duration;

use chrono::{DateTime, Utc};
use drydock_core::drivers::promenade::{AuthError, ServiceAuth};
use drydock_core::ids::Secret;
use serde_json::{Value, json};

/// Whose token to ask for.
#[derive(Debug, Clone)]
pub struct PasswordAuth {
    /// `<auth_url>` (e.g. `http://keystone:5000/v3`).
    pub auth_url: String,
    /// User name.
    pub username: String,
    /// User domain name.
    pub user_domain_name: String,
    /// Password.
    pub password: Secret,
    /// The project scope.
    pub project: ProjectScope,
}

/// A project scope by id, or by name within a domain.
#[derive(Debug, Clone)]
pub enum ProjectScope {
    /// `{"project": {"id": …}}`.
    Id(String),
    /// `{"project": {"name": …, "domain": {"name": …}}}`.
    Name {
        /// Project name.
        name: String,
        /// Project domain name.
        domain_name: String,
    },
}

/// A token and the catalogue that came with it.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The token (`X-Subject-Token`).
    pub token: String,
    /// `token.catalog` (empty when Keystone sent none).
    pub catalog: Value,
    /// `token.expires_at`, when Keystone gave one.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Why Keystone gave no token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KeystoneError {
    /// The request failed on the way (the detail has no URL).
    #[error("cannot reach Keystone: {0}")]
    Unreachable(String),
    /// Keystone answered with an error status.
    #[error("Keystone refused the credentials (HTTP {0})")]
    Refused(reqwest::StatusCode),
    /// Keystone said yes but sent no token.
    #[error("Keystone answered without an X-Subject-Token")]
    NoToken,
}

/// Ask Keystone for a token.
pub async fn issue(client: &reqwest::Client, auth: &PasswordAuth) -> Result<Issued, KeystoneError> {
    let project = match &auth.project {
        ProjectScope::Id(id) => json!({"id": id}),
        ProjectScope::Name { name, domain_name } => json!({"name": name, "domain": {"name": domain_name}}),
    };
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": auth.username,
            "domain": {"name": auth.user_domain_name},
            "password": auth.password.expose(),
        }}},
        "scope": {"project": project},
    }});
    let url = format!("{}/auth/tokens", auth.auth_url.trim_end_matches('/'));
    let response =
        client.post(&url).json(&body).send().await.map_err(|error| KeystoneError::Unreachable(error.without_url().to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(KeystoneError::Refused(status));
    }
    let token =
        response.headers().get("X-Subject-Token").and_then(|value| value.to_str().ok()).map(str::to_owned).ok_or(KeystoneError::NoToken)?;
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let expires_at = body.pointer("/token/expires_at").and_then(Value::as_str).and_then(|text| DateTime::parse_from_rfc3339(text).ok());
    Ok(Issued {
        token,
        catalog: body.pointer("/token/catalog").cloned().unwrap_or(Value::Null),
        expires_at: expires_at.map(|at| at.with_timezone(&Utc)),
    })
}

/// A token is renewed this long before Keystone says it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// A token this recent counts as renewed already: nodes refused at the same
/// time share one new token rather than each asking Keystone for one.
const FRESH: Duration = Duration::from_secs(10);

/// The server's service user (`[keystone_authtoken]`): one token and its
/// catalogue, asked for on first use and again when it is about to expire
/// or a service refused it. The Promenade driver's [`ServiceAuth`].
pub struct ServiceSession {
    client: reqwest::Client,
    auth: PasswordAuth,
    current: tokio::sync::Mutex<Option<(Issued, std::time::Instant)>>,
}

impl std::fmt::Debug for ServiceSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceSession")
            .field("auth_url", &self.auth.auth_url)
            .field("username", &self.auth.username)
            .finish_non_exhaustive()
    }
}

impl ServiceSession {
    /// A session for `auth`; Keystone is first asked on the first use.
    pub fn new(auth: PasswordAuth) -> Result<ServiceSession, reqwest::Error> {
        let client = reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).timeout(Duration::from_secs(15)).build()?;
        Ok(ServiceSession { client, auth, current: tokio::sync::Mutex::new(None) })
    }

    /// The current token and catalogue, a new one when `renew` (unless the
    /// current one is only seconds old) or when it expires within a minute.
    pub async fn issued(&self, renew: bool) -> Result<Issued, KeystoneError> {
        let mut current = self.current.lock().await;
        if let Some((issued, at)) = current.as_ref() {
            let expiring = issued.expires_at.is_some_and(|expires| {
                expires - chrono::Duration::from_std(EXPIRY_MARGIN).unwrap_or_else(|_| chrono::Duration::zero()) <= Utc::now()
            });
            if !expiring && (!renew || at.elapsed() < FRESH) {
                return Ok(issued.clone());
            }
        }
        let issued = issue(&self.client, &self.auth).await?;
        *current = Some((issued.clone(), std::time::Instant::now()));
        Ok(issued)
    }
}

fn auth_error(error: KeystoneError) -> AuthError {
    match error {
        KeystoneError::Refused(status) if status.is_client_error() => AuthError::Refused(error.to_string()),
        _ => AuthError::Unavailable(error.to_string()),
    }
}

#[async_trait::async_trait]
impl ServiceAuth for ServiceSession {
    async fn token(&self, renew: bool) -> Result<Secret, AuthError> {
        self.issued(renew).await.map(|issued| Secret::new(issued.token)).map_err(auth_error)
    }

    async fn endpoint(&self, service_type: &str, interface: &str) -> Result<Option<String>, AuthError> {
        self.issued(false).await.map(|issued| endpoint(&issued.catalog, service_type, interface)).map_err(auth_error)
    }
}

/// The URL of the first `interface` endpoint of a `service_type` service.
pub fn endpoint(catalog: &Value, service_type: &str, interface: &str) -> Option<String> {
    catalog
        .as_array()?
        .iter()
        .filter(|service| service.get("type").and_then(Value::as_str) == Some(service_type))
        .flat_map(|service| service.get("endpoints").and_then(Value::as_array).into_iter().flatten())
        .find(|endpoint| endpoint.get("interface").and_then(Value::as_str) == Some(interface))
        .and_then(|endpoint| endpoint.get("url").and_then(Value::as_str))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_found_by_type_and_interface() {
        let catalog = json!([
            {"type": "identity", "endpoints": [{"interface": "internal", "url": "http://ks"}]},
            {"type": "physicalprovisioner", "endpoints": [
                {"interface": "public", "url": "https://drydock.example"},
                {"interface": "internal", "url": "http://drydock-api.ucp:9000/api/v1.0"}]}
        ]);
        assert_eq!(endpoint(&catalog, "physicalprovisioner", "internal").as_deref(), Some("http://drydock-api.ucp:9000/api/v1.0"));
        assert_eq!(endpoint(&catalog, "physicalprovisioner", "admin"), None);
        assert_eq!(endpoint(&Value::Null, "identity", "internal"), None);
    }
}
