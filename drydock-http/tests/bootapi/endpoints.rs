//! Every boot-action endpoint and error path through poem's test client:
//! tarball contents, key checks in the original's order, the status state
//! machine, messages in the deploy task, introspection, and golden error
//! bodies.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use drydock_core::ids::BootActionId;
use drydock_core::store::StateStore;
use drydock_core::task::ActionResult;
use serde_json::json;

use crate::conformance::assert_documented;
use crate::support::{Answer, Deployed, FULLSITE, MemorySource, client, deploy, members, store};

struct Fixture {
    store: Arc<dyn StateStore>,
    source: Arc<MemorySource>,
    compute01: Deployed,
    compute02: Deployed,
    /// One API instance for the whole test (its design cache included).
    client: poem::test::TestClient<poem::Route>,
}

async fn fixture() -> Fixture {
    let store = store();
    let source = Arc::new(MemorySource::fullsite());
    let site = source.site(FULLSITE);
    let compute01 = deploy(store.as_ref(), &site, FULLSITE, "compute01").await;
    let compute02 = deploy(store.as_ref(), &site, FULLSITE, "compute02").await;
    let client = client(store.clone(), source.clone());
    Fixture { store, source, compute01, compute02, client }
}

async fn get(fixture: &Fixture, path: &str, key: Option<&str>) -> Answer {
    let mut request = fixture.client.get(path);
    if let Some(key) = key {
        request = request.header("X-Bootaction-Key", key);
    }
    Answer::of(request.send().await).await
}

async fn post(fixture: &Fixture, action_id: &str, key: Option<&str>, content_type: Option<&str>, body: &str) -> Answer {
    let mut request = fixture.client.post(format!("/api/v1.0/bootactions/{action_id}")).body(body.to_owned());
    if let Some(key) = key {
        request = request.header("X-Bootaction-Key", key);
    }
    if let Some(content_type) = content_type {
        request = request.content_type(content_type);
    }
    Answer::of(request.send().await).await
}

const JSON: Option<&str> = Some("application/json");

#[tokio::test]
async fn units_and_files_are_gnu_tarballs_of_the_rendered_assets() {
    let fixture = fixture().await;
    let key = fixture.compute01.key.to_hex();
    assert_eq!(fixture.compute01.actions.len(), 2, "helloworld and hw_filtered target compute01");

    let units = get(&fixture, "/api/v1.0/bootactions/nodes/compute01/units", Some(&key)).await;
    assert_eq!(units.status, 200);
    assert_eq!(units.header("content-type"), Some("application/gzip"));
    assert_eq!(units.header("content-disposition"), Some("attachment; filename=\"compute01-unit.tar.gz\""));
    let unit_members = members(&units.body);
    let service = b"[Unit]\nDescription=Hello World\n\n[Service]\nType=oneshot\nExecStart=/var/tmp/hello.sh\n\n[Install]\nWantedBy=multi-user.target\n";
    assert_eq!(unit_members.len(), 2, "one unit per targeting boot action");
    for member in &unit_members {
        assert_eq!(member.name, "/lib/systemd/system/hello.service", "absolute name kept");
        assert_eq!((member.mode, member.uid, member.gid, member.mtime, member.gnu), (0o600, 0, 0, 0, true));
        assert_eq!(member.content, service);
    }
    // The raw header: the name field starts with '/' and the magic is GNU's.
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(units.body.as_slice()), &mut raw).expect("gunzip");
    assert_eq!(&raw[..33], b"/lib/systemd/system/hello.service");
    assert_eq!(&raw[257..265], b"ustar  \0");

    let files = get(&fixture, "/api/v1.0/bootactions/nodes/compute01/files", Some(&key)).await;
    assert_eq!(files.status, 200);
    assert_eq!(files.header("content-disposition"), Some("attachment; filename=\"compute01-file.tar.gz\""));
    let file_members = members(&files.body);
    let names: Vec<_> = file_members.iter().map(|m| (m.name.as_str(), m.mode)).collect();
    assert_eq!(
        names,
        [("/var/tmp/hello.sh", 0o555), ("/var/tmp/hello.sh", 0o555), ("/var/tmp/designref.sh", 0o500)],
        "design order (hw_filtered, helloworld), then asset order"
    );
    assert_eq!(file_members[0].content, b"#!/bin/bash\n\necho 'Hello World! -from compute01'");
    let designref = String::from_utf8(file_members[2].content.clone()).expect("utf-8");
    assert_eq!(designref, format!("{FULLSITE}\n{}\n{key}", fixture.compute01.id("helloworld")), "one trailing newline dropped");

    // compute02's tarballs come from its own rows and key.
    let other = get(&fixture, "/api/v1.0/bootactions/nodes/compute02/files", Some(&fixture.compute02.key.to_hex())).await;
    let other_members = members(&other.body);
    assert!(other_members.iter().any(|m| m.content.ends_with(b"-from compute02'")));
    assert_eq!(fixture.source.fetches.load(Ordering::SeqCst), 1, "the compiled design is cached");
}

#[tokio::test]
async fn redeployment_serves_only_the_current_context() {
    let fixture = fixture().await;
    let site = fixture.source.site(FULLSITE);
    // Redeploying makes a new context; the old rows are not this deployment's.
    let again = deploy(fixture.store.as_ref(), &site, FULLSITE, "controller01").await;
    let key = again.key.to_hex();
    assert_eq!(again.actions.len(), 1, "only helloworld targets controller01");
    let units = get(&fixture, "/api/v1.0/bootactions/nodes/controller01/units", Some(&key)).await;
    assert_eq!(members(&units.body).len(), 1);
    let old_key = fixture.compute01.key.to_hex();
    let redeployed = deploy(fixture.store.as_ref(), &site, FULLSITE, "compute01").await;
    let stale = get(&fixture, "/api/v1.0/bootactions/nodes/compute01/units", Some(&old_key)).await;
    assert_eq!(stale.status, 403, "the previous deployment's key no longer works");
    let fresh = get(&fixture, "/api/v1.0/bootactions/nodes/compute01/units", Some(&redeployed.key.to_hex())).await;
    assert_eq!(members(&fresh.body).len(), 2, "only the current deployment's rows, not four");
}

#[tokio::test]
async fn asset_errors_in_the_original_order() {
    let fixture = fixture().await;
    let key = fixture.compute01.key.to_hex();
    let units = "/api/v1.0/bootactions/nodes/compute01/units";

    let unknown = get(&fixture, "/api/v1.0/bootactions/nodes/nosuchnode/units", None).await;
    assert_eq!(unknown.status, 404, "lookup before the key check");
    insta::assert_json_snapshot!("asset_unknown_node", unknown.json());
    assert_eq!(get(&fixture, "/api/v1.0/bootactions/nodes/nosuchnode/files", Some(&key)).await.status, 404);

    let missing = get(&fixture, units, None).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.header("www-authenticate"), Some("Bootaction-Key"));
    insta::assert_json_snapshot!("asset_missing_key", missing.json());
    assert_eq!(get(&fixture, units, Some("")).await.status, 401, "empty counts as missing");

    let wrong = get(&fixture, units, Some(&fixture.compute02.key.to_hex())).await;
    assert_eq!(wrong.status, 403);
    insta::assert_json_snapshot!("asset_wrong_key", wrong.json());
    assert_eq!(get(&fixture, units, Some("not-hex")).await.status, 403, "non-hex is 403, not 500");
    assert_eq!(get(&fixture, units, Some(&key[..62])).await.status, 403, "short key");
    assert_eq!(get(&fixture, units, Some(&key.to_uppercase())).await.status, 200, "hex in either case");
    for answer in [&missing, &wrong] {
        assert!(!String::from_utf8_lossy(&answer.body).contains(&key), "no key in error bodies");
    }
}

#[tokio::test]
async fn rendering_failures_are_500_with_the_reason_as_title() {
    let fixture = fixture().await;
    let site = fixture.source.site(FULLSITE);
    let ghost = deploy(fixture.store.as_ref(), &site, FULLSITE, "ghost").await;
    let answer = get(&fixture, "/api/v1.0/bootactions/nodes/ghost/units", Some(&ghost.key.to_hex())).await;
    assert_eq!(answer.status, 500);
    insta::assert_json_snapshot!("asset_node_not_in_design", answer.json());

    let lost = deploy(fixture.store.as_ref(), &site, "memory://gone.yaml", "compute01").await;
    let answer = get(&fixture, "/api/v1.0/bootactions/nodes/compute01/files", Some(&lost.key.to_hex())).await;
    assert_eq!(answer.status, 500);
    insta::assert_json_snapshot!("asset_design_not_found", answer.json());
    let later = get(&fixture, "/api/v1.0/bootactions/nodes/compute01/files", Some(&lost.key.to_hex())).await;
    assert_eq!(later.status, 500);
    assert_eq!(fixture.source.fetches.load(Ordering::SeqCst), 3, "one for the site, failures are not cached");
}

#[tokio::test]
async fn status_reports_follow_the_state_machine_and_reach_the_deploy_task() {
    let fixture = fixture().await;
    let key = fixture.compute01.key.to_hex();
    let id = fixture.compute01.id("helloworld");

    let details = r#"{"details": [{"message": "Bootaction starting execution.", "error": false, "step": "fetch"}]}"#;
    let first = post(&fixture, &id.to_string(), Some(&key), JSON, details).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("content-type"), Some("application/json; charset=utf-8"));
    let body = first.json();
    assert_documented("post", "/api/v1.0/bootactions/{action_id}", 200, &body);
    assert_eq!(
        body,
        json!({"node_name": "compute01", "action_id": id.to_string(), "action_name": "helloworld",
               "task_id": fixture.compute01.task.id.to_string(), "action_status": "incomplete"})
    );
    // Details-only reports may repeat; lower-case ids and charset parameters are accepted.
    let again = post(&fixture, &id.to_string().to_lowercase(), Some(&key), Some("application/json; charset=utf-8"), "{}").await;
    assert_eq!(again.status, 200);

    let done = r#"{"status": "Success", "details": [{"message": "Bootaction execution successful.", "error": false}]}"#;
    let last = post(&fixture, &id.to_string(), Some(&key), JSON, done).await;
    assert_eq!(last.status, 200);
    assert_documented("post", "/api/v1.0/bootactions/{action_id}", 200, &last.json());
    assert_eq!(last.json()["action_status"], "success");
    let row = fixture.store.bootaction_status_get(id).await.expect("row");
    assert_eq!(row.action_status, ActionResult::Success);

    let conflict = post(&fixture, &id.to_string(), Some(&key), JSON, done).await;
    assert_eq!(conflict.status, 409, "final after a status");
    let mut conflict_body = conflict.json();
    assert_documented("post", "/api/v1.0/bootactions/{action_id}", 409, &conflict_body);
    assert_eq!(conflict_body["description"], format!("Action {id} status finalized, not available for update."));
    conflict_body["description"] = json!("Action [id] status finalized, not available for update.");
    insta::assert_json_snapshot!("status_conflict", conflict_body);
    assert_eq!(post(&fixture, &id.to_string(), Some(&key), JSON, details).await.status, 409, "details too");

    let messages = fixture.store.result_messages(fixture.compute01.task.id).await.expect("messages");
    let seen: Vec<_> = messages.iter().map(|m| (m.message.as_str(), m.error, m.context_type.as_str(), m.context.clone())).collect();
    assert_eq!(
        seen,
        [
            ("Bootaction starting execution.", false, "bootaction", id.to_string()),
            ("Bootaction execution successful.", false, "bootaction", id.to_string()),
            ("Boot action helloworld on compute01 reported status success", false, "bootaction", id.to_string()),
        ]
    );
    assert_eq!(messages[0].extra.get("step"), Some(&json!("fetch")), "extra keys kept");
}

#[tokio::test]
async fn failure_reports_are_error_messages() {
    let fixture = fixture().await;
    let id = fixture.compute02.id("helloworld");
    let failed = r#"{"status": "failure", "details": [{"message": "Bootaction execution failed.", "error": true}]}"#;
    let answer = post(&fixture, &id.to_string(), Some(&fixture.compute02.key.to_hex()), JSON, failed).await;
    assert_eq!((answer.status, answer.json()["action_status"].clone()), (200, json!("failure")));
    let messages = fixture.store.result_messages(fixture.compute02.task.id).await.expect("messages");
    assert!(messages.iter().all(|m| m.error), "{messages:?}");
}

#[tokio::test]
async fn status_errors_in_the_original_order() {
    let fixture = fixture().await;
    let key = fixture.compute01.key.to_hex();
    let id = fixture.compute01.id("helloworld").to_string();
    let unreported = fixture.compute01.id("hw_filtered").to_string();
    let ok_body = r#"{"details": []}"#;

    let unknown = post(&fixture, &BootActionId::generate().to_string(), None, JSON, "nonsense").await;
    assert_eq!(unknown.status, 404, "lookup before key and body");
    insta::assert_json_snapshot!("status_unknown_action", unknown.json());
    assert_eq!(post(&fixture, "not-a-ulid", Some(&key), JSON, ok_body).await.status, 404);

    let missing = post(&fixture, &id, None, JSON, "nonsense").await;
    assert_eq!((missing.status, missing.header("www-authenticate")), (401, Some("Bootaction-Key")), "key before body");
    insta::assert_json_snapshot!("status_missing_key", missing.json());
    let wrong = post(&fixture, &id, Some(&fixture.compute02.key.to_hex()), JSON, "nonsense").await;
    assert_eq!(wrong.status, 403);
    insta::assert_json_snapshot!("status_wrong_key", wrong.json());

    let malformed = [
        (JSON, "nonsense"),
        (JSON, ""),
        (JSON, "[]"),
        (JSON, r#"{"status": "Success", "extra": true}"#),
        (JSON, r#"{"status": "done"}"#),
        (JSON, r#"{"details": [{"message": "no error flag"}]}"#),
        (JSON, r#"{"details": [{"message": "m", "error": "yes"}]}"#),
        (JSON, r#"{"details": [{"message": "m", "error": false, "context": "mine"}]}"#),
        (Some("text/plain"), ok_body),
        (None, ok_body),
    ];
    for (content_type, body) in malformed {
        let answer = post(&fixture, &id, Some(&key), content_type, body).await;
        assert_eq!(answer.status, 400, "{content_type:?} {body}");
        assert_eq!(answer.json(), json!({"title": "400 Bad Request", "description": "Error processing body."}));
    }
    let huge = format!(r#"{{"details": [{{"message": "{}", "error": false}}]}}"#, "x".repeat(1 << 20));
    assert_eq!(post(&fixture, &id, Some(&key), JSON, &huge).await.status, 400, "reports over 1 MiB");
    insta::assert_json_snapshot!("status_malformed_body", post(&fixture, &id, Some(&key), JSON, "{").await.json());
    assert_eq!(post(&fixture, &unreported, Some(&key), JSON, "{").await.status, 400, "body before state");

    let final_from_creation = post(&fixture, &unreported, Some(&key), JSON, ok_body).await;
    assert_eq!(final_from_creation.status, 409, "signalling disabled: unreported is final");
    assert!(
        fixture.store.result_messages(fixture.compute01.task.id).await.expect("messages").is_empty(),
        "no rejected report left a message"
    );
    let row = fixture.store.bootaction_status_get(id.parse().expect("id")).await.expect("row");
    assert_eq!(row.action_status, ActionResult::Incomplete, "nothing changed");
}

#[tokio::test]
async fn introspection_shows_the_effective_node_without_its_key() {
    let fixture = fixture().await;
    let key = fixture.compute01.key.to_hex();
    let path = "/api/v1.0/bootactions/nodes/compute01/introspection";
    let answer = get(&fixture, path, Some(&key)).await;
    assert_eq!(answer.status, 200);
    assert!(!String::from_utf8_lossy(&answer.body).contains(&key));
    let mut body = answer.json();
    assert_documented("get", "/api/v1.0/bootactions/nodes/{hostname}/introspection", 200, &body);
    assert_eq!(body["task_id"], fixture.compute01.task.id.to_string());
    body["task_id"] = json!("[task id]");
    assert!(body["addresses"].as_array().expect("addresses").iter().any(|a| a["network"] == "mgmt" && a["address"] == "172.16.1.21"));
    insta::assert_json_snapshot!("introspection_compute01", body);

    let template = "/api/v1.0/bootactions/nodes/{hostname}/introspection";
    let unknown = get(&fixture, "/api/v1.0/bootactions/nodes/nosuchnode/introspection", Some(&key)).await;
    assert_eq!(unknown.status, 404);
    assert_documented("get", template, 404, &unknown.json());
    let anonymous = get(&fixture, path, None).await;
    assert_eq!(anonymous.status, 401);
    assert_documented("get", template, 401, &anonymous.json());
    let wrong = get(&fixture, path, Some(&fixture.compute02.key.to_hex())).await;
    assert_eq!(wrong.status, 403);
    assert_documented("get", template, 403, &wrong.json());
}

#[tokio::test]
async fn the_openapi_document_lists_the_routes_and_the_report_schema() {
    let api = drydock_http::server::bootactions::BootActionApi::new(store(), Arc::new(MemorySource::fullsite()));
    let spec: serde_json::Value =
        serde_json::from_str(&poem_openapi::OpenApiService::new(api, "bootactions", "1.0").spec()).expect("spec JSON");
    let paths: Vec<_> = spec["paths"].as_object().expect("paths").keys().cloned().collect();
    assert_eq!(
        paths,
        [
            "/api/v1.0/bootactions/nodes/{hostname}/units",
            "/api/v1.0/bootactions/nodes/{hostname}/files",
            "/api/v1.0/bootactions/nodes/{hostname}/introspection",
            "/api/v1.0/bootactions/{action_id}",
        ]
    );
    assert!(spec["components"]["schemas"]["BootActionReport"].is_object(), "{}", spec["components"]);
}
