//! `drydock serve --otlp-endpoint`: trace spans exported over OTLP/HTTP
//! (protobuf) to a receiver on loopback, decoded with the OpenTelemetry
//! protocol's own types: a span per request (method, route template,
//! request id, status) and per task (task id, action, result), the
//! resource named `drydock`, and the last spans flushed on SIGTERM.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;

/// One request the receiver got: path, content type, body.
type Received = (String, String, Vec<u8>);

/// A minimal OTLP/HTTP receiver on 127.0.0.1: every request (keep-alive
/// connections included) is answered `200` with an empty
/// `ExportTraceServiceResponse` and handed to the test.
fn receiver() -> (u16, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (sender, received) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let sender = sender.clone();
            std::thread::spawn(move || serve_connection(stream, &sender));
        }
    });
    (port, received)
}

fn serve_connection(stream: TcpStream, sender: &mpsc::Sender<Received>) {
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
        }
        let length: usize = headers.get("content-length").and_then(|value| value.parse().ok()).expect("a Content-Length body");
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
        let content_type = headers.get("content-type").cloned().unwrap_or_default();
        let _ = sender.send((path, content_type, body));
        let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// Sends one request to the server; returns status, headers (lowercase
/// names) and body.
fn call(port: u16, method: &str, path: &str, body: Option<&str>) -> (u16, HashMap<String, String>, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|line| line.split_whitespace().nth(1)).and_then(|code| code.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(any_value::Value::IntValue(number)) => number.to_string(),
        Some(any_value::Value::BoolValue(flag)) => flag.to_string(),
        other => format!("{other:?}"),
    }
}

fn attributes(attributes: &[KeyValue]) -> HashMap<String, String> {
    attributes.iter().map(|kv| (kv.key.clone(), kv.value.as_ref().map(text).unwrap_or_default())).collect()
}

#[test]
fn request_and_task_spans_reach_an_otlp_http_receiver() {
    let (otlp_port, received) = receiver();
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").canonicalize().expect("examples");
    let log = tempfile::NamedTempFile::new().expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["serve", "--store", "memory", "--auth", "noauth", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--poll-interval", "100ms", "--otlp-endpoint", &format!("http://127.0.0.1:{otlp_port}")])
        .arg("--design-root")
        .arg(&examples)
        .env_remove("RUST_LOG")
        .env_remove("DRYDOCK_OTLP_ENDPOINT")
        .stdin(Stdio::null())
        .stdout(log.reopen().expect("log"))
        .stderr(Stdio::null())
        .spawn()
        .expect("drydock serve starts");
    let log_text = || std::fs::read_to_string(log.path()).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline && child.try_wait().expect("wait").is_none(), "serve listens; log:\n{}", log_text());
        std::thread::sleep(Duration::from_millis(50));
    }

    let (status, _, _) = call(port, "GET", "/versions", None);
    assert_eq!(status, 200);
    let design_ref = format!("file://{}", examples.join("site.yaml").display());
    let (status, headers, body) =
        call(port, "POST", "/api/v1.0/tasks", Some(&format!(r#"{{"action": "validate_design", "design_ref": "{design_ref}"}}"#)));
    assert_eq!(status, 201, "{body}");
    let request_id = headers.get("x-drydock-req").expect("x-drydock-req").clone();
    let task: serde_json::Value = serde_json::from_str(&body).expect("task JSON");
    let task_id = task["task_id"].as_str().expect("task_id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, _, body) = call(port, "GET", &format!("/api/v1.0/tasks/{task_id}"), None);
        let task: serde_json::Value = serde_json::from_str(&body).expect("task JSON");
        if task["status"] == "complete" {
            assert_eq!(task["result"]["status"], "success", "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "the task did not finish: {body}; log:\n{}", log_text());
        std::thread::sleep(Duration::from_millis(100));
    }

    // SIGTERM: the server stops and flushes the spans still buffered.
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("drydock serve did not exit after SIGTERM; log:\n{}", log_text());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}; log:\n{}", log_text());

    let mut spans: Vec<Span> = Vec::new();
    let mut services = Vec::new();
    while let Ok((path, content_type, body)) = received.recv_timeout(Duration::from_millis(500)) {
        assert_eq!(path, "/v1/traces");
        assert_eq!(content_type, "application/x-protobuf");
        let export = ExportTraceServiceRequest::decode(body.as_slice()).expect("an OTLP protobuf export");
        for resource_spans in export.resource_spans {
            let resource = attributes(&resource_spans.resource.map(|resource| resource.attributes).unwrap_or_default());
            services.push(resource.get("service.name").cloned().unwrap_or_default());
            spans.extend(resource_spans.scope_spans.into_iter().flat_map(|scope| scope.spans));
        }
    }
    assert!(!spans.is_empty(), "no span arrived; log:\n{}", log_text());
    assert!(services.iter().all(|name| name == "drydock"), "{services:?}");
    let named = |name: &'static str| spans.iter().filter(move |span| span.name == name);

    // The task's POST: a server span with its route template and request id.
    let post = named("request")
        .find(|span| attributes(&span.attributes).get("request_id") == Some(&request_id))
        .unwrap_or_else(|| panic!("no request span with request id {request_id}: {:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>()));
    let post_attributes = attributes(&post.attributes);
    assert_eq!(post_attributes.get("http.route").map(String::as_str), Some("/api/v1.0/tasks"), "{post_attributes:?}");
    assert_eq!(post_attributes.get("http.request.method").map(String::as_str), Some("POST"), "{post_attributes:?}");
    assert_eq!(post_attributes.get("http.response.status_code").map(String::as_str), Some("201"), "{post_attributes:?}");
    assert_eq!(post.kind, SpanKind::Server as i32);
    let queued = post.events.iter().find(|event| event.name == "task queued").expect("the POST's task queued event");
    assert_eq!(attributes(&queued.attributes).get("task_id"), Some(&task_id), "the request links to its task");
    assert!(post.end_time_unix_nano >= post.start_time_unix_nano && post.start_time_unix_nano > 0);
    // The polls of the task: one route template for every id.
    let get = named("request")
        .find(|span| attributes(&span.attributes).get("http.route").map(String::as_str) == Some("/api/v1.0/tasks/*"))
        .expect("a request span for GET /api/v1.0/tasks/*");
    assert_eq!(attributes(&get.attributes).get("http.request.method").map(String::as_str), Some("GET"));
    assert!(named("request").any(|span| attributes(&span.attributes).get("http.route").map(String::as_str) == Some("/versions")));

    // The task: its id, action and result.
    let task_span = named("task")
        .find(|span| attributes(&span.attributes).get("task_id") == Some(&task_id))
        .unwrap_or_else(|| panic!("no task span for {task_id}"));
    let task_attributes = attributes(&task_span.attributes);
    assert_eq!(task_attributes.get("action").map(String::as_str), Some("validate_design"), "{task_attributes:?}");
    assert_eq!(task_attributes.get("result").map(String::as_str), Some("success"), "{task_attributes:?}");
    // Its log lines became events of the span.
    let events: Vec<&str> = task_span.events.iter().map(|event| event.name.as_str()).collect();
    assert!(events.contains(&"task started") && events.contains(&"task finished"), "{events:?}");
}

#[test]
fn an_unusable_otlp_endpoint_stops_the_server_from_starting() {
    let output = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["serve", "--store", "memory", "--auth", "noauth", "--listen", "127.0.0.1:0", "--otlp-endpoint", "ftp://collector"])
        .env_remove("DRYDOCK_OTLP_ENDPOINT")
        .stdin(Stdio::null())
        .output()
        .expect("drydock serve runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--otlp-endpoint \"ftp://collector\": not an http(s) URL"), "{stderr}");
}
