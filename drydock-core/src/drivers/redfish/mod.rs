//! The Redfish OOB driver (compat: drivers spec §5): one session per
//! operation (service root → login → the single ComputerSystem → the
//! request → logout; a token the BMC expires mid-operation means one new
//! login and a resend), basic auth when the BMC offers no session service,
//! 200/202/204 all accepted. A power action is skipped when the system is
//! already in the wanted state; waiting until a change holds is the
//! orchestrator's job.
//!
//! The BMC's base URL is `oob.redfish_url` when the node gives one (a
//! simulator or a proxy), else `https://<address>[:port]` (`http://` with
//! `use_ssl = false`). `@odata.id` paths are resolved against it.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{BootDevice, DriverError, DriverErrorKind, OobDriver, OobTarget, PowerAction, PowerState};

/// Redfish driver settings.
#[derive(Debug, Clone)]
pub struct RedfishConfig {
    /// `https://` (true, the default) or `http://` BMC URLs.
    pub use_ssl: bool,
    /// Per-request timeout.
    pub timeout: Duration,
    /// An HTTP proxy in front of the BMC network (`http://host:port`); the
    /// BMC's own address stays in the URL, so the proxy picks the BMC.
    pub proxy: Option<String>,
}

impl Default for RedfishConfig {
    fn default() -> Self {
        RedfishConfig { use_ssl: true, timeout: Duration::from_secs(20), proxy: None }
    }
}

/// The Redfish driver.
#[derive(Debug, Clone)]
pub struct RedfishDriver {
    config: RedfishConfig,
    http: reqwest::Client,
}

/// An open session with one BMC. The token is replaced when the BMC
/// expires it mid-operation (401) and the driver logs in again.
struct Session {
    base: String,
    token: Mutex<Option<String>>,
    location: Mutex<Option<String>>,
    /// Account and password: for a new login, and basic auth without a token.
    credentials: Option<(String, String)>,
    endpoint: String,
    /// The service's session collection, where a new login goes.
    sessions: String,
}

impl Session {
    fn token(&self) -> Option<String> {
        self.token.lock().map(|token| token.clone()).unwrap_or(None)
    }
}

/// What a session login answered.
enum Login {
    /// A token (and the session's URL to log out).
    Token(String, Option<String>),
    /// Logged in, but no token: use basic auth.
    NoToken,
    /// No session service: use basic auth.
    NoService,
}

fn error(kind: DriverErrorKind, operation: &'static str, endpoint: &str, detail: impl Into<String>) -> DriverError {
    DriverError::new(kind, operation, endpoint, detail)
}

fn status_error(operation: &'static str, endpoint: &str, status: StatusCode) -> DriverError {
    let kind = match status.as_u16() {
        401 | 403 => DriverErrorKind::Auth,
        404 => DriverErrorKind::NotFound,
        500.. => DriverErrorKind::Transient,
        _ => DriverErrorKind::Permanent,
    };
    error(kind, operation, endpoint, format!("the BMC answered HTTP {status}"))
}

impl RedfishDriver {
    /// A driver with `config`. BMC certificates are not verified (as the
    /// original does; BMCs rarely carry trusted certificates).
    pub fn new(config: RedfishConfig) -> Result<Self, DriverError> {
        let mut builder =
            reqwest::Client::builder().timeout(config.timeout).connect_timeout(config.timeout).danger_accept_invalid_certs(true);
        if let Some(proxy) = &config.proxy {
            let proxy = reqwest::Proxy::all(proxy.as_str()).map_err(|e| {
                error(DriverErrorKind::Permanent, "redfish_client", "local", format!("bad BMC proxy URL: {}", e.without_url()))
            })?;
            builder = builder.proxy(proxy);
        }
        let http = builder.build().map_err(|e| error(DriverErrorKind::Permanent, "redfish_client", "local", e.to_string()))?;
        Ok(RedfishDriver { config, http })
    }

    fn base_url(&self, target: &OobTarget) -> String {
        if let Some(url) = target.parameters.get("redfish_url") {
            return url.trim_end_matches('/').to_owned();
        }
        let scheme = if self.config.use_ssl { "https" } else { "http" };
        match target.port {
            Some(port) => format!("{scheme}://{}:{port}", target.address),
            None => format!("{scheme}://{}", target.address),
        }
    }

    /// Send one request; when the BMC says the session token is no longer
    /// valid (401), log in again once and resend.
    async fn send(
        &self,
        session: &Session,
        operation: &'static str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), DriverError> {
        let (status, value) = self.send_once(session, operation, method.clone(), path, body.clone()).await?;
        if status != StatusCode::UNAUTHORIZED || session.token().is_none() {
            return Ok((status, value));
        }
        tracing::debug!(endpoint = %session.endpoint, operation, "Redfish session expired; logging in again");
        match self.login(session, operation).await? {
            Login::Token(token, location) => {
                if let Ok(mut slot) = session.token.lock() {
                    *slot = Some(token);
                }
                if let Ok(mut slot) = session.location.lock() {
                    *slot = location;
                }
                self.send_once(session, operation, method, path, body).await
            }
            Login::NoToken | Login::NoService => Ok((status, value)),
        }
    }

    async fn send_once(
        &self,
        session: &Session,
        operation: &'static str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), DriverError> {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{}", session.base, path) };
        let mut request = self.http.request(method, &url).header("Accept", "*/*");
        if let Some(token) = session.token() {
            request = request.header("X-Auth-Token", token);
        } else if let Some((user, password)) = &session.credentials {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| {
            let detail = if e.is_timeout() { "no answer in time".to_owned() } else { e.without_url().to_string() };
            error(DriverErrorKind::Transient, operation, &session.endpoint, detail)
        })?;
        let status = response.status();
        let value = response.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, value))
    }

    /// POST the credentials to the session collection.
    async fn login(&self, session: &Session, operation: &'static str) -> Result<Login, DriverError> {
        let Some((account, password)) = &session.credentials else { return Ok(Login::NoService) };
        let url = format!("{}{}", session.base, session.sessions);
        let response = self
            .http
            .post(&url)
            .json(&json!({"UserName": account, "Password": password}))
            .send()
            .await
            .map_err(|e| error(DriverErrorKind::Transient, operation, &session.endpoint, e.without_url().to_string()))?;
        match response.status() {
            status if status.is_success() => {
                let token = response.headers().get("X-Auth-Token").and_then(|v| v.to_str().ok()).map(str::to_owned);
                let location = response.headers().get("Location").and_then(|v| v.to_str().ok()).map(str::to_owned);
                let body: Value = response.json().await.unwrap_or(Value::Null);
                let location = location.or_else(|| body.get("@odata.id").and_then(Value::as_str).map(str::to_owned));
                Ok(match token {
                    Some(token) => Login::Token(token, location),
                    None => Login::NoToken,
                })
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(error(
                DriverErrorKind::Auth,
                operation,
                &session.endpoint,
                format!("the BMC refused the credentials of account {account}"),
            )),
            // No session service: fall back to basic auth.
            _ => Ok(Login::NoService),
        }
    }

    /// Open a session: service root, then a session login, else basic auth.
    async fn open(&self, target: &OobTarget, operation: &'static str) -> Result<Session, DriverError> {
        let base = self.base_url(target);
        let endpoint = target.endpoint();
        let mut session = Session {
            base,
            token: Mutex::new(None),
            location: Mutex::new(None),
            credentials: None,
            endpoint: endpoint.clone(),
            sessions: String::new(),
        };
        let (status, root) = self.send_once(&session, operation, Method::GET, "/redfish/v1/", None).await?;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            return Err(error(DriverErrorKind::Transient, operation, &endpoint, "the BMC is busy (HTTP 503)"));
        }
        if !status.is_success() {
            return Err(error(DriverErrorKind::Transient, operation, &endpoint, format!("service root answered HTTP {status}")));
        }
        session.sessions =
            root.pointer("/Links/Sessions/@odata.id").and_then(Value::as_str).unwrap_or("/redfish/v1/SessionService/Sessions").to_owned();
        session.credentials = Some((target.account.clone(), target.credential.expose().to_owned()));
        if let Login::Token(token, location) = self.login(&session, operation).await? {
            session.token = Mutex::new(Some(token));
            session.location = Mutex::new(location);
        }
        Ok(session)
    }

    async fn close(&self, session: Session) {
        let location = session.location.lock().map(|location| location.clone()).unwrap_or(None);
        if let Some(location) = location {
            let _ = self.send_once(&session, "logout", Method::DELETE, &location, None).await;
        }
    }

    /// The single ComputerSystem's path.
    async fn system(&self, session: &Session, operation: &'static str) -> Result<String, DriverError> {
        let (status, systems) = self.send(session, operation, Method::GET, "/redfish/v1/Systems", None).await?;
        if !status.is_success() {
            return Err(status_error(operation, &session.endpoint, status));
        }
        let members = systems.get("Members").and_then(Value::as_array).cloned().unwrap_or_default();
        match members.as_slice() {
            [only] => only
                .get("@odata.id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| error(DriverErrorKind::Permanent, operation, &session.endpoint, "the system has no @odata.id")),
            [] => Err(error(DriverErrorKind::NotFound, operation, &session.endpoint, "the BMC reports no computer system")),
            _ => Err(error(DriverErrorKind::Permanent, operation, &session.endpoint, "the BMC reports more than one computer system")),
        }
    }

    async fn read_power(&self, session: &Session, system: &str, operation: &'static str) -> Result<PowerState, DriverError> {
        let (status, body) = self.send(session, operation, Method::GET, system, None).await?;
        if !status.is_success() {
            return Err(status_error(operation, &session.endpoint, status));
        }
        Ok(match body.get("PowerState").and_then(Value::as_str) {
            Some("On") => PowerState::On,
            Some("Off") => PowerState::Off,
            _ => PowerState::Unknown,
        })
    }

    /// Run `work` inside a session that is always closed.
    async fn with_session<T>(
        &self,
        target: &OobTarget,
        operation: &'static str,
        work: impl AsyncFnOnce(&Session, &str) -> Result<T, DriverError>,
    ) -> Result<T, DriverError> {
        let session = self.open(target, operation).await?;
        let result = match self.system(&session, operation).await {
            Ok(system) => work(&session, &system).await,
            Err(error) => Err(error),
        };
        self.close(session).await;
        result
    }

    /// The boot override target the BMC reports (`Pxe`, `Hdd`, …).
    pub async fn boot_override(&self, target: &OobTarget) -> Result<Option<String>, DriverError> {
        self.with_session(target, "boot_override", async |session, system| {
            let (status, body) = self.send(session, "boot_override", Method::GET, system, None).await?;
            if !status.is_success() {
                return Err(status_error("boot_override", &session.endpoint, status));
            }
            Ok(body.pointer("/Boot/BootSourceOverrideTarget").and_then(Value::as_str).map(str::to_owned))
        })
        .await
    }
}

#[async_trait]
impl OobDriver for RedfishDriver {
    fn name(&self) -> &'static str {
        "redfish"
    }
    fn oob_types(&self) -> &'static [&'static str] {
        &["redfish"]
    }
    async fn check(&self, target: &OobTarget) -> Result<(), DriverError> {
        self.with_session(target, "check", async |_, _| Ok(())).await
    }
    async fn power_state(&self, target: &OobTarget) -> Result<PowerState, DriverError> {
        self.with_session(target, "power_state", async |session, system| self.read_power(session, system, "power_state").await).await
    }
    async fn power_action(&self, target: &OobTarget, action: PowerAction) -> Result<(), DriverError> {
        self.with_session(target, "power_action", async |session, system| {
            let current = self.read_power(session, system, "power_action").await?;
            let reset = match action {
                PowerAction::On if current == PowerState::On => return Ok(()),
                PowerAction::HardOff | PowerAction::SoftOff if current == PowerState::Off => return Ok(()),
                PowerAction::On => "On",
                PowerAction::HardOff => "ForceOff",
                PowerAction::SoftOff => "GracefulShutdown",
                PowerAction::Cycle => "ForceRestart",
            };
            let path = format!("{system}/Actions/ComputerSystem.Reset");
            let (status, _) = self.send(session, "power_action", Method::POST, &path, Some(json!({"ResetType": reset}))).await?;
            if status.is_success() { Ok(()) } else { Err(status_error("power_action", &session.endpoint, status)) }
        })
        .await
    }
    async fn set_boot_device(&self, target: &OobTarget, device: BootDevice, persistent: bool) -> Result<(), DriverError> {
        let boot_target = match device {
            BootDevice::Pxe => "Pxe",
            BootDevice::Disk => "Hdd",
            BootDevice::Cdrom => "Cd",
            BootDevice::Bios => "BiosSetup",
        };
        let enabled = if persistent { "Continuous" } else { "Once" };
        self.with_session(target, "set_boot_device", async |session, system| {
            let body = json!({"Boot": {"BootSourceOverrideEnabled": enabled, "BootSourceOverrideTarget": boot_target}});
            let (status, _) = self.send(session, "set_boot_device", Method::PATCH, system, Some(body)).await?;
            // compat §5.1: 200, 202 and 204 all mean the change was taken.
            if status.is_success() { Ok(()) } else { Err(status_error("set_boot_device", &session.endpoint, status)) }
        })
        .await
    }
}

#[cfg(test)]
mod tests;
