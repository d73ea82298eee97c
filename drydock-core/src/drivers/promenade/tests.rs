//! The Promenade client against the simulator's Promenade (real HTTP on
//! loopback): the request it sends, how answers map to errors (401 with one
//! new token, 403, 404, 5xx, a 2xx that is not JSON, a slow answer, nothing
//! listening), URL handling, and that the token never reaches a message.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use super::*;
use crate::drivers::DriverErrorKind;

async fn lab(tokens: &[&str]) -> drydock_sim::SimLab {
    let scenario: drydock_sim::Scenario = serde_json::from_value(json!({
        "promenade": {"tokens": tokens, "nodes": {"n1": {"kubernetes.io/hostname": "n1", "stale": "x"}, "a b/c": {}}},
    }))
    .expect("scenario");
    drydock_sim::SimLab::start(scenario).await.expect("lab")
}

fn labels(pairs: &[(&str, &str)]) -> StringMap {
    pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
}

fn config(url: &str) -> PromenadeConfig {
    PromenadeConfig { url: Some(url.to_owned()), connect_timeout: Duration::from_secs(2), read_timeout: Duration::from_secs(2) }
}

fn fault(lab: &drydock_sim::SimLab, spec: serde_json::Value) {
    lab.add_fault(serde_json::from_value(spec).expect("fault")).expect("add fault");
}

/// A Keystone stand-in: hands out `tokens` in turn (the last one for ever)
/// and a catalogue URL; counts how often a token was asked for.
struct Tokens {
    tokens: Vec<&'static str>,
    issued: AtomicUsize,
    renewals: AtomicUsize,
    catalog: Option<String>,
}

impl Tokens {
    fn new(tokens: &[&'static str], catalog: Option<String>) -> Arc<Tokens> {
        Arc::new(Tokens { tokens: tokens.to_vec(), issued: AtomicUsize::new(0), renewals: AtomicUsize::new(0), catalog })
    }
}

#[async_trait]
impl ServiceAuth for Tokens {
    async fn token(&self, renew: bool) -> Result<Secret, AuthError> {
        if renew {
            self.renewals.fetch_add(1, Ordering::SeqCst);
            self.issued.fetch_add(1, Ordering::SeqCst);
        }
        let index = self.issued.load(Ordering::SeqCst).min(self.tokens.len() - 1);
        Ok(Secret::new(self.tokens[index]))
    }

    async fn endpoint(&self, service_type: &str, interface: &str) -> Result<Option<String>, AuthError> {
        assert_eq!((service_type, interface), ("kubernetesprovisioner", "internal"));
        Ok(self.catalog.clone())
    }
}

#[tokio::test]
async fn relabel_puts_the_label_map_and_returns_promenades_answer() {
    let lab = lab(&[]).await;
    let driver = PromenadeDriver::new(config(&lab.promenade_url()), None).expect("driver");
    let answer = driver.relabel_node("n1", &labels(&[("rack", "r01"), ("tier", "gold")])).await.expect("relabelled");
    assert_eq!(answer["status"], "Success");
    let want: BTreeMap<String, String> = [("kubernetes.io/hostname", "n1"), ("rack", "r01"), ("tier", "gold")]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    assert_eq!(lab.node_labels("n1"), Some(want));
    let requests = lab.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!((requests[0].method.as_str(), requests[0].path.as_str()), ("PUT", "/api/v1.0/node-labels/n1"));
    assert_eq!(requests[0].auth, "anonymous", "no token without a token source");
    let marker = requests[0].context_marker.clone().expect("an X-Context-Marker");
    assert!(uuid::Uuid::parse_str(&marker).is_ok(), "{marker}");

    // The trait method: success is `()`.
    KubernetesDriver::relabel(&driver, "n1", &labels(&[])).await.expect("relabel through the trait");
}

#[tokio::test]
async fn node_names_are_one_encoded_path_segment() {
    let lab = lab(&[]).await;
    let driver = PromenadeDriver::new(config(&lab.promenade_url()), None).expect("driver");
    driver.relabel_node("a b/c", &labels(&[("k", "v")])).await.expect("relabelled");
    assert_eq!(lab.requests()[0].path, "/api/v1.0/node-labels/a%20b%2Fc");
    assert_eq!(lab.node_labels("a b/c").and_then(|labels| labels.get("k").cloned()).as_deref(), Some("v"));
    assert_eq!(node_labels_url("http://h:1/", "n-1.x_y~z"), "http://h:1/api/v1.0/node-labels/n-1.x_y~z");
    assert_eq!(node_labels_url("http://h:1", "é?#"), "http://h:1/api/v1.0/node-labels/%C3%A9%3F%23");
}

#[tokio::test]
async fn a_refused_token_is_renewed_once() {
    let lab = lab(&["fresh-token"]).await;
    let tokens = Tokens::new(&["stale-token", "fresh-token"], None);
    let driver = PromenadeDriver::new(config(&lab.promenade_url()), Some(tokens.clone())).expect("driver");
    driver.relabel_node("n1", &labels(&[("a", "b")])).await.expect("relabelled with the new token");
    assert_eq!(tokens.renewals.load(Ordering::SeqCst), 1);
    let statuses: Vec<(u16, String)> = lab.requests().iter().map(|record| (record.status, record.auth.clone())).collect();
    assert_eq!(statuses, vec![(401, "failed".to_owned()), (200, "ok".to_owned())]);
    let markers: Vec<Option<String>> = lab.requests().iter().map(|record| record.context_marker.clone()).collect();
    assert!(markers[0].is_some() && markers[0] == markers[1], "the repeated request is the same call: {markers:?}");

    // A token Promenade refuses also when renewed: one renewal, then an auth error.
    let lab = lab_with_tokens(&["other"]).await;
    let tokens = Tokens::new(&["secret-stale", "secret-also-stale"], None);
    let driver = PromenadeDriver::new(config(&lab.promenade_url()), Some(tokens.clone())).expect("driver");
    let error = driver.relabel_node("n1", &labels(&[])).await.expect_err("refused");
    assert!(matches!(error, PromenadeError::Unauthorized { renewed: true, .. }), "{error:?}");
    assert_eq!(tokens.renewals.load(Ordering::SeqCst), 1, "renewed once, not in a loop");
    assert_eq!(lab.requests().len(), 2);
    let error = error.into_driver_error("relabel", "n1");
    assert_eq!(error.kind(), DriverErrorKind::Auth);
    assert!(error.to_string().starts_with("relabel on n1 failed: Promenade refused the credentials (HTTP 401"), "{error}");
    assert!(error.to_string().contains("HTTP 401, also with a new token"), "{error}");
    assert!(!error.to_string().contains("secret"), "no token in messages: {error}");

    // Without a token source a 401 is final at once.
    let driver = PromenadeDriver::new(config(&lab.promenade_url()), None).expect("driver");
    let error = driver.relabel_node("n1", &labels(&[])).await.expect_err("refused");
    assert!(matches!(error, PromenadeError::Unauthorized { renewed: false, .. }), "{error:?}");
}

async fn lab_with_tokens(tokens: &[&str]) -> drydock_sim::SimLab {
    lab(tokens).await
}

#[tokio::test]
async fn answers_map_to_errors_by_status() {
    let lab = lab(&[]).await;
    let driver =
        PromenadeDriver::new(config(&lab.promenade_url()), Some(Arc::new(StaticToken(Secret::new("tok3n-value"))))).expect("driver");
    let cases = [
        (json!({"status": 403, "times": 1, "body": "policy says no to tok3n-value"}), DriverErrorKind::Auth, "HTTP 403"),
        (json!({"status": 500, "times": 1}), DriverErrorKind::Transient, "HTTP 500 at http://127.0.0.1:"),
        (json!({"status": 503, "times": 1}), DriverErrorKind::Transient, "HTTP 503"),
        (json!({"status": 400, "times": 1}), DriverErrorKind::Permanent, "HTTP 400"),
        (
            json!({"status": 200, "times": 1, "body": "OK, labels set"}),
            DriverErrorKind::Permanent,
            "with a body that is not JSON: \"OK, labels set\"",
        ),
        (json!({"status": 204, "times": 1, "body": ""}), DriverErrorKind::Permanent, "with a body that is not JSON: \"(empty body)\""),
    ];
    for (spec, kind, says) in cases {
        fault(&lab, spec.clone());
        let error = driver.relabel_node("n1", &labels(&[])).await.expect_err("fault answers");
        let error = error.into_driver_error("relabel", "n1");
        assert_eq!(error.kind(), kind, "{spec}: {error}");
        assert!(error.to_string().contains(says), "{spec}: {error}");
        let status = spec["status"].as_u64().unwrap_or_default();
        assert!(error.to_string().starts_with("relabel on n1 failed: Promenade"), "{error}");
        assert!(error.to_string().contains(&format!("HTTP {status}")), "{spec}: {error}");
        assert!(!error.to_string().contains("tok3n-value"), "the token is masked: {error}");
    }
    assert!(lab.requests().iter().all(|record| record.fault.is_some()), "every case answered by its fault");
    fault(&lab, json!({"status": 500, "times": 1}));
    let error = driver.relabel_node("n1", &labels(&[])).await.expect_err("500").to_string();
    let want = format!("HTTP 500 at {}: Kubernetes API Error: injected fault", lab.promenade_url());
    assert!(error.ends_with(&want), "Promenade's error document summarised: {error}");

    // An unknown node: Promenade's 404, not retried.
    let error = driver.relabel_node("ghost", &labels(&[])).await.expect_err("not a node").into_driver_error("relabel", "ghost");
    assert_eq!(error.kind(), DriverErrorKind::NotFound);
    assert!(error.to_string().contains("HTTP 404") && error.to_string().contains("Node not found"), "{error}");

    // A long answer is quoted in part.
    fault(&lab, json!({"status": 502, "times": 1, "body": "x".repeat(5000)}));
    let error = driver.relabel_node("n1", &labels(&[])).await.expect_err("502").to_string();
    assert!(error.len() < 600 && error.ends_with('…'), "{} chars: {error}", error.len());
}

#[tokio::test]
async fn slow_and_absent_promenades_are_transient() {
    let lab = lab(&[]).await;
    fault(&lab, json!({"kind": "latency", "latency_ms": 1500, "times": 1}));
    let quick = PromenadeConfig {
        url: Some(lab.promenade_url()),
        connect_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_millis(200),
    };
    let driver = PromenadeDriver::new(quick, None).expect("driver");
    let error = driver.relabel_node("n1", &labels(&[])).await.expect_err("too slow");
    assert!(matches!(error, PromenadeError::Timeout { .. }), "{error:?}");
    assert_eq!(error.kind(), DriverErrorKind::Transient);

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let driver = PromenadeDriver::new(config(&closed), None).expect("driver");
    let error = driver.relabel_node("n1", &labels(&[])).await.expect_err("nothing listens");
    assert!(matches!(error, PromenadeError::Transport { .. }), "{error:?}");
    assert!(error.into_driver_error("relabel", "n1").to_string().contains(&format!("cannot reach Promenade at {closed}")));
}

#[tokio::test]
async fn the_catalogue_endpoint_is_trimmed_to_scheme_host_and_port() {
    let lab = lab(&[]).await;
    let catalog = format!("{}/api/v1.0?ignored=1", lab.promenade_url());
    let tokens = Tokens::new(&["t"], Some(catalog));
    let driver = PromenadeDriver::new(PromenadeConfig { url: None, ..config("") }, Some(tokens)).expect("driver");
    driver.relabel_node("n1", &labels(&[("from", "catalogue")])).await.expect("relabelled");
    assert_eq!(lab.requests()[0].path, "/api/v1.0/node-labels/n1");

    let none = Tokens::new(&["t"], None);
    let driver = PromenadeDriver::new(PromenadeConfig { url: None, ..config("") }, Some(none)).expect("driver");
    let error = driver.relabel_node("n1", &labels(&[])).await.expect_err("no endpoint");
    assert!(matches!(error, PromenadeError::NoEndpoint), "{error:?}");
    assert_eq!(error.kind(), DriverErrorKind::Permanent);
    assert!(matches!(PromenadeDriver::new(PromenadeConfig::default(), None), Err(PromenadeError::NoEndpoint)));

    assert_eq!(base_from_catalog("http://promhost:80/api/v1.0").expect("url"), "http://promhost");
    assert_eq!(base_from_catalog("http://promenade-api.ucp.svc:8080/api/v1.0/").expect("url"), "http://promenade-api.ucp.svc:8080");
    assert_eq!(base_from_catalog("https://[fd00::5]:9443/x?y#z").expect("url"), "https://[fd00::5]:9443");
    assert_eq!(base_from_catalog("HTTP://Prom.Example").expect("url"), "http://prom.example");
    assert!(base_from_catalog("promhost:80").is_err());
    assert!(base_from_catalog("ftp://promhost/").is_err());
}

#[test]
fn configured_urls_keep_a_prefix_and_drop_the_api_path() {
    assert_eq!(base_from_config("http://127.0.0.1:9000").expect("url"), "http://127.0.0.1:9000");
    assert_eq!(base_from_config("http://127.0.0.1:9000/").expect("url"), "http://127.0.0.1:9000");
    assert_eq!(base_from_config("http://prom:80/api/v1.0").expect("url"), "http://prom");
    assert_eq!(base_from_config("http://gw/promenade/api/").expect("url"), "http://gw/promenade");
    assert_eq!(base_from_config("https://gw/promenade").expect("url"), "https://gw/promenade");
    for bad in ["prom:80", "file:///etc/passwd", "http://prom/?a=1", "http://", "not a url"] {
        assert!(matches!(base_from_config(bad), Err(PromenadeError::BadUrl { .. })), "{bad}");
    }
    let error = base_from_config("http://user:pa55word@prom/").expect_err("user info").to_string();
    assert!(error.contains("user info") && !error.contains("pa55word"), "{error}");
}

#[test]
fn excerpts_are_bounded_single_lines_without_the_token() {
    let token = Secret::new("abc123");
    assert_eq!(excerpt(b"line one\n  line two", None), "line one line two");
    assert_eq!(excerpt(b"your token abc123 is bad", Some(&token)), "your token *** is bad");
    assert_eq!(excerpt(b"", None), "(empty body)");
    let long = excerpt("é".repeat(1000).as_bytes(), None);
    assert_eq!(long.chars().count(), EXCERPT_CHARS + 1);
    assert_eq!(excerpt(&[0xff, 0xfe, b'a'], None), "\u{fffd}\u{fffd}a");
    let document = br#"{"kind": "status", "status": "Failure", "message": "Unauthenticated", "reason": "Credentials are not established"}"#;
    assert_eq!(summary(document, None), "Unauthenticated: Credentials are not established");
    assert_eq!(summary(br#"{"message": "Node not found", "reason": null}"#, None), "Node not found");
    assert_eq!(summary(br#"{"message": "", "reason": "abc123"}"#, Some(&token)), r#"{"message": "", "reason": "***"}"#);
    assert_eq!(summary(b"plain abc123", Some(&token)), "plain ***");
}
