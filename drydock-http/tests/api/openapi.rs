//! The served OpenAPI document equals the committed `openapi/drydock-v1.0.json`.
//! Regenerate with `DRYDOCK_UPDATE_OPENAPI=1 cargo test -p drydock-http --test api openapi`
//! (or `drydock serve --print-openapi`).

use std::path::PathBuf;

use crate::support::admin;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi/drydock-v1.0.json")
}

#[tokio::test]
async fn served_document_matches_the_committed_one() {
    let served = admin().get("/api/v1.0/openapi.json").await;
    assert_eq!(served.status, 200);
    let served: serde_json::Value = served.json();
    let path = committed_path();
    if std::env::var_os("DRYDOCK_UPDATE_OPENAPI").is_some() {
        let text = serde_json::to_string_pretty(&served).expect("encode");
        std::fs::write(&path, format!("{text}\n")).expect("write the committed document");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let committed: serde_json::Value = serde_json::from_str(&committed).expect("committed document is JSON");
    assert!(
        served == committed,
        "the served OpenAPI document differs from {}; regenerate it with DRYDOCK_UPDATE_OPENAPI=1 and review the diff",
        path.display()
    );
}

#[test]
fn document_function_matches_the_served_one() {
    let state = std::sync::Arc::new(drydock_http::server::document_state());
    let document: serde_json::Value = serde_json::from_str(&drydock_http::server::openapi_document(state)).expect("JSON");
    let committed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(committed_path()).expect("committed")).expect("JSON");
    assert_eq!(document, committed);
}
