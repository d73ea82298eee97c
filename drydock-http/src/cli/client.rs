//! The HTTP client the `drydock` API commands share: global options
//! (`--url`, `--token`, `--output`), the original client's headers and
//! timeouts (20 s connect, 30 s read), one-line errors and YAML/JSON output.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde_json::Value;

/// Options every API command takes.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Drydock base URL, `scheme://host[:port]` (any path is ignored).
    #[arg(long, short = 'u', env = "DD_URL", global = true)]
    pub url: Option<String>,
    /// Token sent as `X-Auth-Token` (also read from `OS_TOKEN`).
    #[arg(long, visible_alias = "os_token", env = "DD_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Keystone v3 URL for password authentication when no token is given
    /// (the original CLI's `--os_*` options).
    #[arg(long = "os_auth_url", visible_alias = "os-auth-url", env = "OS_AUTH_URL", global = true)]
    pub os_auth_url: Option<String>,
    /// Keystone user name.
    #[arg(long = "os_username", visible_alias = "os-username", env = "OS_USERNAME", global = true)]
    pub os_username: Option<String>,
    /// Keystone password.
    #[arg(long = "os_password", visible_alias = "os-password", env = "OS_PASSWORD", hide_env_values = true, global = true)]
    pub os_password: Option<String>,
    /// Keystone project name.
    #[arg(long = "os_project_name", visible_alias = "os-project-name", env = "OS_PROJECT_NAME", global = true)]
    pub os_project_name: Option<String>,
    /// Keystone project domain name.
    #[arg(
        long = "os_project_domain_name",
        visible_alias = "os-project-domain-name",
        env = "OS_PROJECT_DOMAIN_NAME",
        default_value = "default",
        global = true
    )]
    pub os_project_domain_name: String,
    /// Keystone user domain name.
    #[arg(
        long = "os_user_domain_name",
        visible_alias = "os-user-domain-name",
        env = "OS_USER_DOMAIN_NAME",
        default_value = "default",
        global = true
    )]
    pub os_user_domain_name: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = ClientOutput::Text, global = true)]
    pub output: ClientOutput,
}

/// How an API command prints its result (the output format of every
/// command).
pub type ClientOutput = super::output::OutputFormat;

/// Why a command failed: usage/configuration (exit 2) or request (exit 1).
#[derive(Debug)]
pub enum Failure {
    /// Bad options or local input: exit 2.
    Usage(String),
    /// The request failed or the server refused it: exit 1.
    Request(String),
}

impl Failure {
    /// Print the one-line error and return the exit code.
    pub fn report(self) -> ExitCode {
        let style = super::output::Style::stderr();
        match self {
            Failure::Usage(text) => {
                eprintln!("{}: {}", style.error("error"), one_line(&text));
                ExitCode::from(2)
            }
            Failure::Request(text) => {
                eprintln!("{}: {}", style.error("error"), one_line(&text));
                ExitCode::from(1)
            }
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A client of one Drydock server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// The base URL (`scheme://host[:port]`) of a `--url` value; any path is dropped.
pub fn base_url(url: &str) -> Result<String, String> {
    let invalid = || "URL must specify a scheme and hostname, optionally a port".to_string();
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| invalid())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid());
    }
    let host = parsed.host_str().filter(|host| !host.is_empty()).ok_or_else(invalid)?;
    let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_owned() };
    Ok(match parsed.port() {
        Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
        None => format!("{}://{host}", parsed.scheme()),
    })
}

/// The Keystone password credentials of the global options, when an auth
/// URL is given.
fn keystone_auth(args: &ClientArgs) -> Result<Option<crate::keystone::PasswordAuth>, Failure> {
    let Some(auth_url) = args.os_auth_url.as_deref().filter(|url| !url.trim().is_empty()) else {
        return Ok(None);
    };
    let need = |value: &Option<String>, option: &str| {
        value
            .clone()
            .filter(|value| !value.is_empty())
            .ok_or_else(|| Failure::Usage(format!("Keystone password authentication needs --{option} (or {})", option.to_uppercase())))
    };
    Ok(Some(crate::keystone::PasswordAuth {
        auth_url: auth_url.trim().to_owned(),
        username: need(&args.os_username, "os_username")?,
        user_domain_name: args.os_user_domain_name.clone(),
        password: drydock_core::ids::Secret::new(need(&args.os_password, "os_password")?),
        project: crate::keystone::ProjectScope::Name {
            name: need(&args.os_project_name, "os_project_name")?,
            domain_name: args.os_project_domain_name.clone(),
        },
    }))
}

impl Client {
    /// A client from the global options: the token given (`--token`,
    /// `DD_TOKEN`, `OS_TOKEN`) or one from Keystone password authentication
    /// (`--os_*`); the URL given, or the `physicalprovisioner` internal
    /// endpoint of the Keystone catalogue.
    pub async fn connect(args: &ClientArgs) -> Result<Client, Failure> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(20))
            .read_timeout(Duration::from_secs(30))
            .user_agent(concat!("drydock-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| Failure::Usage(format!("cannot build the HTTP client: {error}")))?;
        let mut token = args.token.clone().or_else(|| std::env::var("OS_TOKEN").ok()).filter(|token| !token.is_empty());
        let mut catalog = Value::Null;
        if token.is_none()
            && let Some(auth) = keystone_auth(args)?
        {
            let issued = crate::keystone::issue(&http, &auth)
                .await
                .map_err(|error| Failure::Request(format!("Unable to authenticate with Keystone: {error}")))?;
            token = Some(issued.token);
            catalog = issued.catalog;
        }
        let url = match args.url.as_deref().filter(|url| !url.trim().is_empty()) {
            Some(url) => url.to_owned(),
            None if !catalog.is_null() => crate::keystone::endpoint(&catalog, "physicalprovisioner", "internal").ok_or_else(|| {
                Failure::Usage(
                    "Unable to discover Drydock API URL: the Keystone catalogue has no internal physicalprovisioner endpoint; give --url"
                        .into(),
                )
            })?,
            None => return Err(Failure::Usage("no Drydock URL: give --url or set DD_URL".into())),
        };
        let base = base_url(&url).map_err(Failure::Usage)?;
        if let Some(token) = &token
            && reqwest::header::HeaderValue::from_str(token).is_err()
        {
            return Err(Failure::Usage("the token contains characters a header cannot carry".into()));
        }
        Ok(Client { http, base, token })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, format!("{}/api/v1.0/{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("X-Auth-Token", token);
        }
        request
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(u16, String), Failure> {
        self.send_with_headers(request).await.map(|(status, _, text)| (status, text))
    }

    /// [`Client::send`] with the response headers.
    async fn send_with_headers(&self, request: reqwest::RequestBuilder) -> Result<(u16, reqwest::header::HeaderMap, String), Failure> {
        let response = request.send().await.map_err(|error| {
            let what = if error.is_connect() {
                "cannot connect"
            } else if error.is_timeout() {
                "timed out"
            } else {
                "request failed"
            };
            Failure::Request(format!("{what}: {}", self.base))
        })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|error| Failure::Request(format!("cannot read the response: {error}")))?;
        Ok((status, headers, text))
    }

    /// A request whose 2xx body is JSON; any other answer is an error.
    pub async fn json(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Value, Failure> {
        let (status, text) = self.call(method, path, body).await?;
        if !(200..300).contains(&status) {
            return Err(Failure::Request(status_error(status, &text)));
        }
        serde_json::from_str(&text).map_err(|_| Failure::Request(format!("the server answered {status} with a body that is not JSON")))
    }

    /// A request; the status and body, whatever the status.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<(u16, String), Failure> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.send(request).await
    }

    /// POST a YAML body (`Content-Type: application/x-yaml`) with query
    /// parameters; the 2xx body as JSON.
    pub async fn post_yaml(&self, path: &str, query: &[(&str, String)], body: Vec<u8>) -> Result<Value, Failure> {
        let request = self.request(reqwest::Method::POST, path).query(query).header("Content-Type", "application/x-yaml").body(body);
        let (status, text) = self.send(request).await?;
        if !(200..300).contains(&status) {
            return Err(Failure::Request(status_error(status, &text)));
        }
        serde_json::from_str(&text).map_err(|_| Failure::Request(format!("the server answered {status} with a body that is not JSON")))
    }

    /// Every item of a paged JSON-array listing (`tasks`, `designs`):
    /// follows `X-Drydock-Next-Marker` until the last page.
    pub async fn pages(&self, path: &str) -> Result<Vec<Value>, Failure> {
        let mut items = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut request = self.request(reqwest::Method::GET, path);
            if let Some(marker) = &marker {
                request = request.query(&[("marker", marker)]);
            }
            let (status, headers, text) = self.send_with_headers(request).await?;
            let next = headers.get("X-Drydock-Next-Marker").and_then(|value| value.to_str().ok()).map(str::to_owned);
            if !(200..300).contains(&status) {
                return Err(Failure::Request(status_error(status, &text)));
            }
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Array(page)) => items.extend(page),
                _ => return Err(Failure::Request(format!("the server answered {status} with a body that is not a JSON list"))),
            }
            match next {
                Some(next) if marker.as_ref() != Some(&next) => marker = Some(next),
                _ => return Ok(items),
            }
        }
    }

    /// A GET with query parameters whose 2xx body is JSON.
    pub async fn get_query(&self, path: &str, query: &[(&str, String)]) -> Result<Value, Failure> {
        let (status, text) = self.send(self.request(reqwest::Method::GET, path).query(query)).await?;
        if !(200..300).contains(&status) {
            return Err(Failure::Request(status_error(status, &text)));
        }
        serde_json::from_str(&text).map_err(|_| Failure::Request(format!("the server answered {status} with a body that is not JSON")))
    }
}

/// The `message` of an error body (format A or a Status document), when
/// it has a non-empty one.
fn error_message(text: &str) -> Option<String> {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|body| body.get("message").and_then(Value::as_str).map(str::to_owned))
        .filter(|message| !message.is_empty())
}

/// A one-line description of a non-2xx answer: the Status document's
/// message when there is one.
pub fn status_error(status: u16, text: &str) -> String {
    let message = error_message(text);
    let prefix = match status {
        401 => "unauthorized (check --token)".to_string(),
        403 => "forbidden".to_string(),
        _ => format!("the server answered {status}"),
    };
    match message {
        Some(message) => format!("{prefix}: {message}"),
        None if !text.trim().is_empty() && text.len() < 200 && status != 401 => format!("{prefix}: {}", text.trim()),
        None => prefix,
    }
}

/// A local design's bytes: it must be a readable file.
fn read_local_design(reference: &str) -> Result<Vec<u8>, Failure> {
    let path = std::path::Path::new(reference);
    let metadata = std::fs::metadata(path).map_err(|_| Failure::Usage(format!("design {reference} not found")))?;
    if !metadata.is_file() {
        return Err(Failure::Usage(format!("design {reference} is not a file")));
    }
    std::fs::read(path).map_err(|error| Failure::Usage(format!("cannot read design {reference}: {error}")))
}

/// A design as the server will read it.
#[derive(Debug)]
pub enum Resolved {
    /// A reference to send.
    Ready(String),
    /// A local file the server refused to store (not YAML, over its
    /// budgets), with the server's reason.
    Refused(String),
}

impl Client {
    /// A design reference the server can read: a URL passes through; a
    /// local file is uploaded through the designs API (a new design with
    /// the file as its one part) and named as the stored design,
    /// `design://ID`, so the server never reads the client's file system.
    pub async fn resolve_design(&self, reference: &str) -> Result<Resolved, Failure> {
        if reference.contains("://") {
            return Ok(Resolved::Ready(reference.to_owned()));
        }
        let content = read_local_design(reference)?;
        let design = self.json(reqwest::Method::POST, "designs", None).await?;
        let id = design.get("id").and_then(Value::as_str).ok_or_else(|| Failure::Request("the created design has no id".into()))?;
        let request = self
            .request(reqwest::Method::POST, &format!("designs/{id}/parts"))
            .query(&[("ingester", "yaml")])
            .header("Content-Type", "application/x-yaml")
            .body(content);
        match self.send(request).await? {
            (200..300, _) => Ok(Resolved::Ready(format!("design://{id}"))),
            (400, text) => Ok(Resolved::Refused(error_message(&text).unwrap_or(text))),
            (status, text) => Err(Failure::Request(format!("design {reference}: {}", status_error(status, &text)))),
        }
    }

    /// [`Client::resolve_design`], a refused file being an error.
    pub async fn design_ref(&self, reference: &str) -> Result<String, Failure> {
        match self.resolve_design(reference).await? {
            Resolved::Ready(design_ref) => Ok(design_ref),
            Resolved::Refused(reason) => Err(Failure::Request(format!("design {reference} was refused by the server: {reason}"))),
        }
    }
}

/// Print a JSON value as JSON or YAML.
pub fn print_value(value: &Value, format: ClientOutput) {
    match format {
        ClientOutput::Yaml => out!("{}", to_yaml(value)),
        ClientOutput::Json | ClientOutput::Text => {
            outln!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()))
        }
    }
}

/// Block-style YAML for a JSON value; every scalar is written as its JSON
/// spelling, which YAML reads back unchanged.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Array(items) if !items.is_empty() => yaml_seq(items, 0, &mut out),
        Value::Object(map) if !map.is_empty() => yaml_map(map, 0, &mut out),
        other => {
            out.push_str(&other.to_string());
            out.push('\n');
        }
    }
    out
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Array(items) if !items.is_empty() => None,
        Value::Object(map) if !map.is_empty() => None,
        other => Some(other.to_string()),
    }
}

fn yaml_map(map: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    for (key, value) in map {
        let key = Value::String(key.clone()).to_string();
        out.push_str(&" ".repeat(indent));
        match (scalar(value), value) {
            (Some(text), _) => out.push_str(&format!("{key}: {text}\n")),
            (None, Value::Array(items)) => {
                out.push_str(&format!("{key}:\n"));
                yaml_seq(items, indent + 2, out);
            }
            (None, Value::Object(inner)) => {
                out.push_str(&format!("{key}:\n"));
                yaml_map(inner, indent + 2, out);
            }
            (None, _) => {}
        }
    }
}

fn yaml_seq(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        match (scalar(item), item) {
            (Some(text), _) => out.push_str(&format!("- {text}\n")),
            (None, Value::Array(inner)) => {
                out.push_str("-\n");
                yaml_seq(inner, indent + 2, out);
            }
            (None, Value::Object(inner)) => {
                out.push_str("-\n");
                yaml_map(inner, indent + 2, out);
            }
            (None, _) => {}
        }
    }
}

/// Print rows as an aligned table under a header.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|title| title.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        outln!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// A JSON field as table text (`-` when absent or null).
pub fn cell(value: &Value, key: &str) -> String {
    match value.get(key) {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(base_url("http://dd:9000/api/v1.0").as_deref(), Ok("http://dd:9000"));
        assert_eq!(base_url("https://dd").as_deref(), Ok("https://dd"));
        assert!(base_url("dd:9000").is_err());
        assert!(base_url("/api").is_err());
        assert!(base_url("http://").is_err());
    }

    #[test]
    fn yaml_is_block_style() {
        let value = serde_json::json!({"a": [1, {"b": "x: y"}], "c": {}, "d": null});
        assert_eq!(to_yaml(&value), "\"a\":\n  - 1\n  -\n    \"b\": \"x: y\"\n\"c\": {}\n\"d\": null\n");
    }

    #[test]
    fn errors_use_the_status_message() {
        assert_eq!(status_error(404, r#"{"message": "Task x does not exist"}"#), "the server answered 404: Task x does not exist");
        assert_eq!(status_error(401, ""), "unauthorized (check --token)");
    }
}
