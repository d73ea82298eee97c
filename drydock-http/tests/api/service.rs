//! Versions, health, routing edge cases, request ids, Swagger UI.

use std::sync::Arc;

use drydock_core::store::TaskQuery;
use poem::http::Method;
use serde_json::json;

use crate::support::{Call, DownStore, Setup, admin, harness};

#[tokio::test]
async fn versions_is_exact_and_carries_a_request_id() {
    let server = admin();
    let reply = server.get("/versions").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"v1.0": {"path": "/api/v1.0", "status": "stable"}}));
    let id = reply.header("x-drydock-req").expect("X-Drydock-Req");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let other = server.get("/versions").await;
    assert_ne!(other.header("x-drydock-req"), Some(id), "a fresh id per request");
}

#[tokio::test]
async fn health_is_204_and_writes_nothing() {
    let server = admin();
    for _ in 0..3 {
        let reply = server.get("/api/v1.0/health").await;
        assert_eq!(reply.status, 204);
        assert!(reply.body.is_empty());
    }
    let page = server.store().task_list(&TaskQuery::default()).await.expect("list");
    assert!(page.tasks.is_empty(), "health checks must not create tasks");
}

#[tokio::test]
async fn health_reports_a_store_that_is_down() {
    let server = harness(Setup { store: Arc::new(DownStore), ..Setup::default() });
    let reply = server.get("/api/v1.0/health").await;
    assert_eq!(reply.status, 503);
    assert!(reply.body.is_empty());
    let extended = server.get("/api/v1.0/health/extended").await;
    assert_eq!(extended.status, 503);
    insta::assert_json_snapshot!("health_extended_down", extended.json());
}

#[tokio::test]
async fn extended_health_when_healthy() {
    let reply = admin().get("/api/v1.0/health/extended").await;
    assert_eq!(reply.status, 200);
    insta::assert_json_snapshot!("health_extended_ok", reply.json());
}

#[tokio::test]
async fn a_store_outage_is_503_with_retry() {
    let server = harness(Setup { store: Arc::new(DownStore), ..Setup::default() });
    let reply = server.get("/api/v1.0/tasks").await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json(), json!({"type": "error", "message": "State store unavailable", "retry": true}));
    assert!(!reply.body.contains("connection refused"), "internal detail leaked: {}", reply.body);
}

#[tokio::test]
async fn options_lists_the_methods_without_authentication() {
    let server = harness(Setup { auth: drydock_http::server::auth::AuthMode::TrustedHeaders { proxies: None }, ..Setup::default() });
    for (path, allow) in [
        ("/api/v1.0/tasks", "GET,POST,DELETE"),
        ("/api/v1.0/tasks/abc", "GET"),
        ("/api/v1.0/tasks/abc/builddata", "GET"),
        ("/api/v1.0/nodefilter", "POST"),
        ("/api/v1.0/designs/x/parts", "GET,POST"),
        ("/versions", "GET"),
    ] {
        let reply = server.send(Call::new(Method::OPTIONS, path)).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("allow"), Some(allow), "{path}");
        assert!(reply.body.is_empty());
    }
}

#[tokio::test]
async fn router_errors_use_the_framework_body() {
    let server = admin();
    let missing = server.get("/api/v1.0/nothing-here").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json(), json!({"title": "404 Not Found"}));
    assert!(missing.header("x-drydock-req").is_some());
    let wrong = server.send(Call::new(Method::PUT, "/api/v1.0/tasks")).await;
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("GET,POST,DELETE"));
    assert_eq!(wrong.json(), json!({"title": "405 Method Not Allowed"}));
    // No API terminates a task (compat §2.9): DELETE on one task is 405.
    let delete = server.send(Call::new(Method::DELETE, "/api/v1.0/tasks/0c6d0a52-5a8e-4ad1-9a8e-0f9e0d2b6b1a")).await;
    assert_eq!(delete.status, 405);
}

#[tokio::test]
async fn paths_are_normalised_before_routing() {
    let server = admin();
    assert_eq!(server.get("/api/v1.0/tasks/").await.status, 200);
    assert_eq!(server.get("//api//v1.0/tasks").await.status, 200);
    assert_eq!(server.get("/api/v1.0/health/?x=1").await.status, 204);
}

#[tokio::test]
async fn swagger_ui_and_document_are_served() {
    let server = admin();
    let ui = server.get("/api/v1.0/swagger-ui/").await;
    assert_eq!(ui.status, 200);
    assert!(ui.body.contains("swagger"), "{}", &ui.body[..ui.body.len().min(200)]);
    let document = server.get("/api/v1.0/openapi.json").await;
    assert_eq!(document.status, 200);
    let document = document.json();
    assert_eq!(document["info"]["title"], "Drydock");
    assert!(document["paths"].get("/api/v1.0/tasks/{task_id}").is_some());
}
