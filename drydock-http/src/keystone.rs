//! Keystone v3 password authentication, shared by the server (its service
//! user, `--auth keystone`) and the CLI (`--os_*` options, compat §7.1):
//! `POST <auth_url>/auth/tokens`, the token from `X-Subject-Token`, and
//! endpoint discovery in the returned catalogue. The password never appears
//! in errors.

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
}

/// Ask Keystone for a token.
pub async fn issue(client: &reqwest::Client, auth: &PasswordAuth) -> Result<Issued, String> {
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
    let response = client.post(&url).json(&body).send().await.map_err(|error| format!("cannot reach Keystone: {}", error.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("Keystone refused the credentials (HTTP {status})"));
    }
    let token = response
        .headers()
        .get("X-Subject-Token")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .ok_or("Keystone answered without an X-Subject-Token")?;
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Ok(Issued { token, catalog: body.pointer("/token/catalog").cloned().unwrap_or(Value::Null) })
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
