//! `drydock serve`'s logs as a log pipeline reads them: `--log-format json`
//! writes one object per line with timestamp, level, target and message;
//! text logs carry no colour when not on a terminal; probes are logged at
//! debug, other requests at `--request-log-level`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `drydock serve` (memory store, no orchestrator) with `args` and
/// `env`, sends GET requests to `paths`, stops it and returns its stdout.
fn serve_and_get(args: &[&str], env: &[(&str, &str)], paths: &[&str]) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let listen = format!("127.0.0.1:{port}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_drydock"));
    command
        .args(["serve", "--store", "memory", "--auth", "noauth", "--no-orchestrator", "--listen", &listen])
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().expect("starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline && child.try_wait().expect("wait").is_none(), "serve listens");
        std::thread::sleep(Duration::from_millis(50));
    }
    for path in paths {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {listen}\r\nConnection: close\r\n\r\n").expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("answer");
        assert!(answer.starts_with("HTTP/1.1 2"), "{path}: {answer}");
    }
    // The request line is written after the answer is sent: give the server
    // a moment, then stop it.
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let output = child.wait_with_output().expect("output");
    String::from_utf8(output.stdout).expect("UTF-8 logs")
}

#[test]
fn json_logs_are_one_object_per_line_and_probes_are_debug() {
    let logs = serve_and_get(&["--log-format", "json"], &[], &["/api/v1.0/health", "/versions"]);
    let lines: Vec<serde_json::Value> =
        logs.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"))).collect();
    assert!(!lines.is_empty(), "the server logged");
    for line in &lines {
        for key in ["timestamp", "level", "target", "message"] {
            assert!(line.get(key).is_some(), "{key} in {line}");
        }
    }
    let requests: Vec<&serde_json::Value> = lines.iter().filter(|line| line["message"] == "request").collect();
    assert_eq!(requests.len(), 1, "only /versions is logged at info: {logs}");
    let versions = requests[0];
    assert_eq!((&versions["level"], &versions["path"], &versions["method"]), (&"INFO".into(), &"/versions".into(), &"GET".into()));
    assert_eq!(versions["status"], 200);
    assert!(versions["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{versions}");
    // The request's span is DEBUG: not recorded at the default level (the
    // line carries its fields itself).
    assert!(versions.get("span").is_none(), "{versions}");
    assert!(lines.iter().any(|line| line["message"] == "serving /api/v1.0"), "{logs}");

    // At debug the probe's line appears, at DEBUG.
    let logs = serve_and_get(&["--log-format", "json"], &[("RUST_LOG", "debug")], &["/api/v1.0/health"]);
    let probe = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["message"] == "request" && line["path"] == "/api/v1.0/health")
        .unwrap_or_else(|| panic!("the probe at debug: {logs}"));
    assert_eq!(probe["level"], "DEBUG");
    // At debug the line is written within the request's span.
    assert_eq!(probe["span"]["name"], "request", "{probe}");
    assert_eq!(probe["span"]["http.route"], "/api/v1.0/health", "{probe}");
    assert_eq!(probe["span"]["request_id"], probe["request_id"], "{probe}");
}

#[test]
fn text_logs_have_colour_only_when_asked_off_a_terminal() {
    let logs = serve_and_get(&[], &[], &["/versions"]);
    assert!(logs.contains("request") && logs.contains("/versions"), "{logs}");
    assert!(!logs.contains('\u{1b}'), "no escape codes in a pipe: {logs}");
    let logs = serve_and_get(&["--log-color", "always"], &[], &["/versions"]);
    assert!(logs.contains('\u{1b}'), "escape codes when asked: {logs}");

    // The request line's level is the operator's; `off` drops it.
    let logs = serve_and_get(&["--request-log-level", "off"], &[], &["/versions"]);
    assert!(!logs.contains("/versions"), "{logs}");
    let logs = serve_and_get(&["--request-log-level", "warn"], &[], &["/versions"]);
    assert!(logs.lines().any(|line| line.contains("WARN") && line.contains("/versions")), "{logs}");
}
