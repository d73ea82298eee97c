//! Hostile input never panics and never reaches a 500: malformed JSON,
//! wrong types, deep nesting, huge bodies (with and without
//! Content-Length), unknown ids, bad UUIDs and bad filters. A panic in a
//! handler (mounted through the extension point) becomes the framework's
//! 500 body; a slow handler hits the request timeout.

use std::time::Duration;

use poem::http::Method;
use poem_openapi::OpenApi;
use poem_openapi::payload::PlainText;
use serde_json::json;

use crate::support::{Call, Setup, admin, harness, harness_with, site_ref};

const BODY_ROUTES: &[&str] = &[
    "/api/v1.0/tasks",
    "/api/v1.0/nodefilter",
    "/api/v1.0/validatedesign",
    "/api/v1.0/designs",
    "/api/v1.0/designs/0c6d0a52-5a8e-4ad1-9a8e-0f9e0d2b6b1a/parts",
];

fn hostile_bodies() -> Vec<Vec<u8>> {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
    vec![
        b"{".to_vec(),
        b"null".to_vec(),
        b"42".to_vec(),
        b"\"text\"".to_vec(),
        b"[]".to_vec(),
        b"\xff\xfe\x00".to_vec(),
        deep.into_bytes(),
        deep_object.into_bytes(),
        json!({"action": ["deploy_nodes"], "design_ref": {"x": 1}, "node_filter": [1]}).to_string().into_bytes(),
        json!({"action": "deploy_nodes", "design_ref": 12, "href": 12}).to_string().into_bytes(),
        json!({"design_ref": site_ref(), "node_filter": {"filter_set_type": 1, "filter_set": [null, 1, "x"]}}).to_string().into_bytes(),
        json!({"design_ref": site_ref(), "node_filter": {"filter_set_type": "union", "filter_set": [{"filter_type": "union", "node_labels": [1], "node_tags": "x"}]}}).to_string().into_bytes(),
        json!({"design_ref": site_ref(), "node_filter": {"filter_set_type": "intersection", "filter_set": []}}).to_string().into_bytes(),
        json!({"href": "file:///dev/null"}).to_string().into_bytes(),
        json!({"base_design_id": "../../etc/passwd"}).to_string().into_bytes(),
    ]
}

#[tokio::test]
async fn hostile_bodies_are_client_errors() {
    let server = admin();
    for route in BODY_ROUTES {
        for body in hostile_bodies() {
            for content_type in ["application/json", "application/x-yaml"] {
                let reply = server.send(Call::new(Method::POST, route).header("content-type", content_type).body(body.clone())).await;
                assert!(
                    reply.status < 500,
                    "{route} {content_type} {:?} → {} {}",
                    String::from_utf8_lossy(&body[..body.len().min(60)]),
                    reply.status,
                    reply.body
                );
            }
        }
    }
}

#[tokio::test]
async fn hostile_yaml_parts_are_client_errors() {
    let server = admin();
    let id = server.post("/api/v1.0/designs", &json!({})).await.json()["id"].as_str().expect("id").to_owned();
    let parts = format!("/api/v1.0/designs/{id}/parts?ingester=yaml");
    let deep = "[".repeat(200_000);
    let deep_map: String = (0..2_000).map(|depth| format!("{}k:\n", " ".repeat(depth))).collect();
    let aliases = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    for body in [deep.as_str(), deep_map.as_str(), "\t- x", "a: *nowhere", "\u{0}", "--- !!python/object:os.system ls"] {
        let reply = server.send(Call::new(Method::POST, &parts).body(body.as_bytes().to_vec())).await;
        assert!(reply.status < 500, "{:?} → {} {}", &body[..body.len().min(40)], reply.status, reply.body);
    }
    let bomb = server.send(Call::new(Method::POST, &parts).body(aliases.as_bytes().to_vec())).await;
    assert!(bomb.status < 500, "{}", bomb.body);
    // Whatever was accepted can be read back.
    let listing = server.get(&format!("/api/v1.0/designs/{id}/parts/anything")).await;
    assert!(listing.status < 500, "{}", listing.body);
    let compiled = server.get(&format!("/api/v1.0/designs/{id}?source=compiled")).await;
    assert!(compiled.status < 500, "{}", compiled.body);
}

#[tokio::test]
async fn hostile_paths_and_queries_are_client_errors() {
    let server = admin();
    let paths = [
        "/api/v1.0/tasks/%00",
        "/api/v1.0/tasks/00000000-0000-0000-0000-000000000000",
        "/api/v1.0/tasks/0C6D0A52-5A8E-4AD1-9A8E-0F9E0D2B6B1A?layers=99999999999999999999",
        "/api/v1.0/tasks/0c6d0a52-5a8e-4ad1-9a8e-0f9e0d2b6b1a?layers=-1&subtaskerrors=true&builddata=true",
        "/api/v1.0/tasks/%E2%98%83/builddata",
        "/api/v1.0/tasks?limit=99999999999999999999999",
        "/api/v1.0/tasks?limit=-1",
        "/api/v1.0/tasks?marker=1.2",
        "/api/v1.0/tasks?marker=99999999999999999.5.0c6d0a52-5a8e-4ad1-9a8e-0f9e0d2b6b1a",
        "/api/v1.0/nodes/..%2F..%2Fetc/builddata?latest=TRUE",
        "/api/v1.0/designs/0c6d0a52-5a8e-4ad1-9a8e-0f9e0d2b6b1a?source=compiled",
        "/api/v1.0/designs/x/parts/y/z",
        &format!("/api/v1.0/tasks/{}", "a".repeat(10_000)),
    ];
    for path in paths {
        let reply = server.get(path).await;
        assert!(reply.status < 500, "{path} → {} {}", reply.status, reply.body);
    }
    let purge = server.send(Call::new(Method::DELETE, "/api/v1.0/tasks?days=-99999999999")).await;
    assert_eq!(purge.status, 400, "an absurd retention is refused, not clamped: {}", purge.body);
    let purge = server.send(Call::new(Method::DELETE, "/api/v1.0/tasks?days=9223372036854775807")).await;
    assert_eq!(purge.status, 400, "{}", purge.body);
}

#[tokio::test]
async fn huge_bodies_are_413() {
    let mut setup = Setup::default();
    setup.config.body_limit = 1024;
    let server = harness(setup);
    let big = vec![b' '; 4096];
    // A part is added to a design that exists (an unknown design is a 404
    // before its body is read).
    let design = server.post("/api/v1.0/designs", &json!({})).await.json()["id"].as_str().expect("id").to_owned();
    let parts = format!("/api/v1.0/designs/{design}/parts");
    let routes = BODY_ROUTES.iter().map(|route| if route.ends_with("/parts") { parts.as_str() } else { route });
    for route in routes {
        // Declared length: refused before reading.
        let declared = server
            .send(
                Call::new(Method::POST, route)
                    .header("content-type", "application/json")
                    .header("content-length", "4096")
                    .body(big.clone()),
            )
            .await;
        assert_eq!(declared.status, 413, "{route}");
        assert_eq!(declared.json(), json!({"type": "error", "message": "Request body exceeds 1024 bytes", "retry": false}));
        // No declared length (streamed): refused while reading.
        let streamed = server.send(Call::new(Method::POST, route).header("content-type", "application/json").body(big.clone())).await;
        assert_eq!(streamed.status, 413, "{route}: {}", streamed.body);
    }
    let small = server.post("/api/v1.0/tasks", &json!({"action": "verify_site", "design_ref": "file:///x"})).await;
    assert_eq!(small.status, 201);
}

/// A stand-in for an API mounted through `app_with`.
struct Faulty;

#[OpenApi]
impl Faulty {
    /// Panics.
    #[oai(path = "/test/panic", method = "get")]
    async fn panic(&self) -> PlainText<String> {
        let items: Vec<u8> = Vec::new();
        PlainText(format!("{}", items[std::hint::black_box(3)]))
    }

    /// Sleeps.
    #[oai(path = "/test/slow", method = "get")]
    async fn slow(&self) -> PlainText<String> {
        tokio::time::sleep(Duration::from_secs(5)).await;
        PlainText("late".into())
    }
}

#[tokio::test]
async fn a_panic_is_a_500_with_the_framework_body() {
    let server = harness_with(Setup::default(), Faulty);
    let reply = server.get("/test/panic").await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json(), json!({"title": "500 Internal Server Error"}));
    assert!(reply.header("x-drydock-req").is_some());
    assert!(!reply.body.contains("index out of bounds"));
    // The server keeps answering.
    assert_eq!(server.get("/versions").await.status, 200);
}

#[tokio::test]
async fn extra_apis_declare_their_methods() {
    let server = crate::support::harness_routes(Setup::default(), Faulty, &[("/test/*", "GET")]);
    let options = server.send(Call::new(Method::OPTIONS, "/test/slow")).await;
    assert_eq!(options.status, 200);
    assert_eq!(options.header("allow"), Some("GET"));
    let post = server.send(Call::new(Method::POST, "/test/panic")).await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET"));
}

#[tokio::test]
async fn slow_requests_time_out() {
    let mut setup = Setup::default();
    setup.config.request_timeout = Duration::from_millis(100);
    let server = harness_with(setup, Faulty);
    let reply = server.get("/test/slow").await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json(), json!({"type": "error", "message": "Request timed out", "retry": true}));
}
