//! A tiny HTTP/1.1 client for the tests (one request per connection) and
//! helpers that sign MaaS requests the way python-libmaas/oauthlib do.

use base64::Engine as _;
use drydock_sim::{Scenario, SimLab};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A response.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Sends one request to `url` (must be `http://127.0.0.1:port/...`).
pub(crate) async fn send(method: &str, url: &str, headers: &[(&str, String)], body: &[u8]) -> Answer {
    let rest = url.strip_prefix("http://").expect("test URLs are http");
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect to simulator");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("write request");
    stream.write_all(body).await.expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read response");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status line");
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
    if headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Answer { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 4 + size..];
    }
    out
}

/// The OAuth 1.0 PLAINTEXT header for `ck:tk:ts` (drivers.md §2.1).
pub(crate) fn oauth(key: &str) -> String {
    let parts: Vec<&str> = key.split(':').collect();
    format!(
        "OAuth realm=\"OAuth\", oauth_nonce=\"4242\", oauth_timestamp=\"1700000000\", oauth_version=\"1.0\", oauth_signature_method=\"PLAINTEXT\", oauth_consumer_key=\"{}\", oauth_token=\"{}\", oauth_signature=\"%26{}\"",
        parts[0], parts[1], parts[2]
    )
}

/// A multipart body with base64 parts, as the Drydock driver sends it.
pub(crate) fn multipart(fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "simboundary42";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            base64::engine::general_purpose::STANDARD.encode(value)
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body.into_bytes())
}

/// A lab plus signed-request helpers.
pub(crate) struct Client {
    pub(crate) lab: SimLab,
}

impl Client {
    pub(crate) async fn start(scenario: Scenario) -> Client {
        Client { lab: SimLab::start(scenario).await.expect("lab starts") }
    }

    pub(crate) fn fixture() -> Scenario {
        Scenario::from_json(include_str!("../../fixtures/lab.json")).expect("fixture parses")
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/api/2.0/{path}", self.lab.maas_url())
    }

    pub(crate) async fn get(&self, path: &str) -> Answer {
        send("GET", &self.url(path), &[("Authorization", oauth(&self.lab.api_key())), ("Accept", "application/json".into())], b"").await
    }

    pub(crate) async fn call(&self, method: &str, path: &str, fields: &[(&str, &str)]) -> Answer {
        let (content_type, body) = multipart(fields);
        let body = if fields.is_empty() { Vec::new() } else { body };
        send(method, &self.url(path), &[("Authorization", oauth(&self.lab.api_key())), ("Content-Type", content_type)], &body).await
    }

    pub(crate) async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.call("POST", path, fields).await
    }

    pub(crate) fn sid(&self, hostname: &str) -> String {
        self.lab.system_id_of(hostname).expect("machine exists")
    }
}
