//! `POST /api/v1.0/validatedesign` and the design cache.

use poem::http::Method;
use serde_json::json;

use crate::support::{Call, admin, normalise, site_ref, site_text};

fn body(href: &str) -> serde_json::Value {
    json!({"rel": "design", "href": href, "type": "application/x-yaml"})
}

#[tokio::test]
async fn a_valid_design_passes() {
    let server = admin();
    let reply = server.post("/api/v1.0/validatedesign", &body(&site_ref())).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let report = reply.json();
    assert_eq!(report["status"], "Success");
    assert_eq!(report["code"], 200);
    assert!(report["details"]["messageList"][0]["ts"].as_str().is_some_and(|ts| ts.ends_with("+00:00")));
    insta::assert_json_snapshot!("validatedesign_valid", normalise(&report));
}

#[tokio::test]
async fn an_invalid_design_is_400_with_the_status_document() {
    let server = admin();
    let dir = tempfile::tempdir().expect("tempdir");
    // Two copies of one document: duplicate definitions fail validation or
    // ingestion; either way the answer is a 400 Status document.
    let broken = site_text().replace("cidr: ", "cidr: 300.");
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, broken).expect("write");
    let reply = server.post("/api/v1.0/validatedesign", &body(&format!("file://{}", path.display()))).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    let report = reply.json();
    assert_eq!(report["code"], 400);
    assert!(report["details"]["errorCount"].as_u64().is_some_and(|count| count > 0));
    assert!(report["status"].as_str().is_some_and(|status| status.eq_ignore_ascii_case("failure")));
    insta::assert_json_snapshot!("validatedesign_invalid", normalise(&report));
}

#[tokio::test]
async fn a_design_that_does_not_parse_is_lowercase_failure() {
    let server = admin();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, "---\nschema: drydock/BaremetalNode/v1\nmetadata: {name: n1}\ndata: [1, 2]\n").expect("write");
    let reply = server.post("/api/v1.0/validatedesign", &body(&format!("file://{}", path.display()))).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.json()["status"], "failure");
}

#[tokio::test]
async fn a_yaml_syntax_error_is_one_error_in_a_failure_document() {
    let server = admin();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("syntax.yaml");
    std::fs::write(&path, "---\nschema: drydock/Region/v1\nmetadata: {name: [unclosed\n").expect("write");
    let reply = server.post("/api/v1.0/validatedesign", &body(&format!("file://{}", path.display()))).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    let report = reply.json();
    assert_eq!(report["status"], "failure");
    assert_eq!(report["code"], 400);
    assert_eq!(report["details"]["errorCount"], 1);
    let message = &report["details"]["messageList"][0];
    assert_eq!(message["name"], "DD001");
    assert!(message["message"].as_str().is_some_and(|text| text.contains("Error parsing YAML")), "{message}");
}

#[tokio::test]
async fn request_errors() {
    let server = admin();
    let empty = server.send(Call::new(Method::POST, "/api/v1.0/validatedesign").header("content-type", "application/json")).await;
    empty.assert_envelope(400, "Request body must not be empty for validation.");
    let href = r#"The "href" key must be provided in the request body."#;
    server.post("/api/v1.0/validatedesign", &json!({})).await.assert_envelope(400, href);
    server.post("/api/v1.0/validatedesign", &json!({"href": ""})).await.assert_envelope(400, href);
    server.post("/api/v1.0/validatedesign", &json!({"href": 5})).await.assert_envelope(400, href);
    let garbage = server
        .send(Call::new(Method::POST, "/api/v1.0/validatedesign").header("content-type", "application/json").body(b"{href".to_vec()))
        .await;
    assert_eq!(garbage.status, 400);
    assert!(garbage.json()["message"].as_str().is_some_and(|text| text.starts_with("Invalid JSON")));
    // A reference naming nothing, or with a scheme no handler reads, is a 400 naming it.
    let missing = server.post("/api/v1.0/validatedesign", &body("file:///no/such/site.yaml")).await;
    assert_eq!(missing.status, 400);
    assert!(missing.json()["message"].as_str().is_some_and(|text| text.contains("/no/such/site.yaml") && text.contains("not found")));
    let scheme = server.post("/api/v1.0/validatedesign", &body("gopher://x/y")).await;
    assert_eq!(scheme.status, 400);
    // One that cannot be reached is the server's problem: 500 with the reason.
    let unreachable = server.post("/api/v1.0/validatedesign", &body("http://127.0.0.1:9/site.yaml")).await;
    assert_eq!(unreachable.status, 500);
    assert_eq!(unreachable.json()["type"], "error");
    assert!(unreachable.json()["message"].as_str().is_some_and(|text| !text.is_empty() && text != "Unknown error"));
}

#[tokio::test]
async fn designs_are_parsed_once_per_content() {
    let server = admin();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("site.yaml");
    std::fs::write(&path, site_text()).expect("write");
    let href = format!("file://{}", path.display());
    for _ in 0..3 {
        assert_eq!(server.post("/api/v1.0/validatedesign", &body(&href)).await.status, 200);
    }
    assert_eq!(server.state.designs.len(), 1, "same reference and content: one evaluation");
    std::fs::write(&path, format!("{}\n# changed\n", site_text())).expect("rewrite");
    assert_eq!(server.post("/api/v1.0/validatedesign", &body(&href)).await.status, 200);
    assert_eq!(server.state.designs.len(), 2, "new content is evaluated again");
    let names = server.post("/api/v1.0/nodefilter", &json!({"design_ref": href})).await;
    assert_eq!(names.json().as_array().map(Vec::len), Some(6));
    assert_eq!(server.state.designs.len(), 2, "nodefilter reuses the cached evaluation");
}
