//! Versions, health (a store that is down, a store that is full), routing
//! edge cases, request ids, Swagger UI.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use drydock_core::ids::{BootActionId, TaskId};
use drydock_core::store::memory::MemoryStore;
use drydock_core::store::{
    Admitted, Decide, PurgeReport, RunningTask, StateStore, StoreError, StoreResult, TaskPage, TaskQuery, UpdateGuard,
};
use drydock_core::task::records::{BootActionContext, BootActionStatus, BuildData, DesignPart, DesignRecord};
use drydock_core::task::{Action, ActionResult, StatusMessage, Task};
use poem::http::Method;
use serde_json::json;

use crate::support::{Call, DownStore, Setup, admin, harness, site_ref};

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
    // The Status branch of the documented oneOf, not the envelope.
    crate::conformance::assert_documented("get", "/api/v1.0/health/extended", 503, &extended.json());
    insta::assert_json_snapshot!("health_extended_down", extended.json());
}

#[tokio::test]
async fn extended_health_when_healthy() {
    let reply = admin().get("/api/v1.0/health/extended").await;
    assert_eq!(reply.status, 200);
    insta::assert_json_snapshot!("health_extended_ok", reply.json());
}

/// A store whose disk is full: it answers reads, and every write (the
/// writability probe included) fails with `Full`, as the redb store does on
/// ENOSPC (drydock-core/tests/store_faults).
struct FullStore(MemoryStore);

fn full<T>() -> StoreResult<T> {
    Err(StoreError::Full { detail: "no space left for database file /var/lib/drydock/state.redb".into() })
}

#[async_trait]
impl StateStore for FullStore {
    async fn now(&self) -> StoreResult<DateTime<Utc>> {
        self.0.now().await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.0.ping().await
    }
    async fn check_writable(&self) -> StoreResult<()> {
        full()
    }
    async fn design_create(&self) -> StoreResult<DesignRecord> {
        full()
    }
    async fn design_get(&self, id: TaskId) -> StoreResult<DesignRecord> {
        self.0.design_get(id).await
    }
    async fn design_part_add(&self, _: TaskId, _: &str, _: &[u8]) -> StoreResult<DesignPart> {
        full()
    }
    async fn design_parts(&self, id: TaskId) -> StoreResult<Vec<DesignPart>> {
        self.0.design_parts(id).await
    }
    async fn design_list(&self, after: Option<TaskId>, limit: usize) -> StoreResult<Vec<DesignRecord>> {
        self.0.design_list(after, limit).await
    }
    async fn task_create(&self, _: &Task) -> StoreResult<Task> {
        full()
    }
    async fn task_import(&self, _: &[Task]) -> StoreResult<()> {
        full()
    }
    async fn task_get(&self, id: TaskId) -> StoreResult<Task> {
        self.0.task_get(id).await
    }
    async fn task_get_many(&self, ids: &[TaskId]) -> StoreResult<Vec<Task>> {
        self.0.task_get_many(ids).await
    }
    async fn task_list(&self, query: &TaskQuery) -> StoreResult<TaskPage> {
        self.0.task_list(query).await
    }
    async fn task_children(&self, id: TaskId) -> StoreResult<Vec<Task>> {
        self.0.task_children(id).await
    }
    async fn task_update(&self, _: &Task, _: UpdateGuard) -> StoreResult<Task> {
        full()
    }
    async fn task_add_subtask(&self, _: TaskId, _: TaskId) -> StoreResult<()> {
        full()
    }
    async fn task_mark_terminate(&self, _: TaskId, _: &str, _: bool) -> StoreResult<()> {
        full()
    }
    async fn task_purge(&self, _: DateTime<Utc>) -> StoreResult<PurgeReport> {
        full()
    }
    async fn result_message_add(&self, _: TaskId, _: &StatusMessage) -> StoreResult<()> {
        full()
    }
    async fn result_messages(&self, task: TaskId) -> StoreResult<Vec<StatusMessage>> {
        self.0.result_messages(task).await
    }
    async fn build_data_insert(&self, _: &BuildData) -> StoreResult<()> {
        full()
    }
    async fn build_data_for_node(&self, node: &str, latest: bool) -> StoreResult<Vec<BuildData>> {
        self.0.build_data_for_node(node, latest).await
    }
    async fn build_data_for_task(&self, task: TaskId) -> StoreResult<Vec<BuildData>> {
        self.0.build_data_for_task(task).await
    }
    async fn bootaction_context_upsert(&self, _: &BootActionContext) -> StoreResult<()> {
        full()
    }
    async fn bootaction_context(&self, node: &str) -> StoreResult<Option<BootActionContext>> {
        self.0.bootaction_context(node).await
    }
    async fn bootaction_status_insert(&self, _: &BootActionStatus) -> StoreResult<()> {
        full()
    }
    async fn bootaction_status_get(&self, action_id: BootActionId) -> StoreResult<BootActionStatus> {
        self.0.bootaction_status_get(action_id).await
    }
    async fn bootaction_status_for_node(&self, node: &str) -> StoreResult<Vec<BootActionStatus>> {
        self.0.bootaction_status_for_node(node).await
    }
    async fn bootaction_status_update(&self, _: BootActionId, _: ActionResult) -> StoreResult<BootActionStatus> {
        full()
    }
    async fn task_admit(&self, _: uuid::Uuid, _: std::time::Duration, _: Decide) -> StoreResult<Admitted> {
        full()
    }
    async fn task_lease_renew(&self, _: uuid::Uuid, _: &[TaskId], _: std::time::Duration) -> StoreResult<Vec<TaskId>> {
        full()
    }
    async fn task_lease_release(&self, _: uuid::Uuid, _: &[TaskId]) -> StoreResult<()> {
        full()
    }
    async fn task_leases(&self) -> StoreResult<Vec<RunningTask>> {
        self.0.task_leases().await
    }
}

#[tokio::test]
async fn a_full_store_is_507_with_retry_and_fails_the_extended_health_check() {
    let server = harness(Setup { store: Arc::new(FullStore(MemoryStore::new())), ..Setup::default() });
    let created = server.post("/api/v1.0/tasks", &json!({"action": "verify_site", "design_ref": site_ref()})).await;
    assert_eq!(created.status, 507, "{}", created.body);
    assert_eq!(created.json(), json!({"type": "error", "message": "State store full: no space left for writes", "retry": true}));
    assert!(!created.body.contains("/var/lib"), "internal detail leaked: {}", created.body);
    let purge = server.send(Call::new(Method::DELETE, "/api/v1.0/tasks?days=1")).await;
    assert_eq!(purge.status, 507, "a purge that cannot write says why: {}", purge.body);
    // Reads still work, and plain /health (liveness: the store answers) stays 204.
    assert_eq!(server.get("/api/v1.0/tasks").await.status, 200);
    assert_eq!(server.get("/api/v1.0/health").await.status, 204);
    let extended = server.get("/api/v1.0/health/extended").await;
    assert_eq!(extended.status, 503, "{}", extended.body);
    let body = extended.json();
    assert_eq!(body["status"], "Failure");
    assert_eq!(body["code"], 503);
    assert_eq!(body["details"]["errorCount"], 1);
    assert_eq!(
        body["details"]["messageList"],
        json!([{"message": "State store full: no space left for writes", "error": true, "kind": "SimpleMessage"}])
    );
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

/// A store file whose page holding one task's record has a byte inverted
/// (found by that record's text: in every copy, the live page's and those
/// of pages earlier commits left behind), beside the sound original.
async fn damaged_store(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use drydock_core::store::redb_store::RedbStore;
    let sound = dir.join("sound.redb");
    let marker = "MARKER-the-record-in-the-damaged-page";
    {
        let store = RedbStore::open(&sound).expect("create");
        for index in 0..60 {
            let mut task = Task::new(Action::Noop, None);
            task.result.message = Some(if index == 20 { marker.to_owned() } else { format!("task {index}") });
            store.task_create(&task).await.expect("task");
        }
    }
    let mut bytes = std::fs::read(&sound).expect("read");
    let copies: Vec<usize> =
        bytes.windows(marker.len()).enumerate().filter(|(_, window)| *window == marker.as_bytes()).map(|(at, _)| at).collect();
    assert!(!copies.is_empty(), "the record is in the file");
    for at in copies {
        bytes[at + marker.len() / 2] ^= 0xff;
    }
    let damaged = dir.join("damaged.redb");
    std::fs::write(&damaged, bytes).expect("write");
    (sound, damaged)
}

#[tokio::test]
async fn a_damaged_store_is_refused_by_serve_and_store_check_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sound, damaged) = damaged_store(dir.path()).await;
    let drydock = || std::process::Command::new(env!("CARGO_BIN_EXE_drydock"));

    let output = drydock().args(["store", "check"]).arg(&sound).env("NO_COLOR", "1").output().expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("ok: ") && stdout.contains("60 tasks"), "{stdout}");

    let output = drydock().args(["store", "check"]).arg(&damaged).env("NO_COLOR", "1").output().expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.starts_with("corrupt: ") && stdout.contains("damaged.redb") && stdout.contains("restore"), "{stdout}");

    let output = drydock().args(["store", "check", "-o", "json"]).arg(format!("redb:{}", damaged.display())).output().expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(body["status"], "corrupt");

    let output = drydock().args(["store", "check"]).arg(dir.path().join("missing.redb")).output().expect("runs");
    assert_eq!(output.status.code(), Some(2), "cannot open: {}", String::from_utf8_lossy(&output.stderr));

    // The server refuses to start on it, saying what to do. (redb's repair
    // attempt may have written to the file; the refusal holds all the same,
    // which the hostile suite checks by starting twice.)
    let output = drydock()
        .args(["serve", "--auth", "noauth", "--no-orchestrator", "--listen", "127.0.0.1:0", "--store"])
        .arg(format!("redb:{}", damaged.display()))
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("drydock serve on a damaged store: {stderr}");
    assert!(!output.status.success(), "a damaged store is not served: {stderr}");
    assert!(stderr.contains("damaged.redb") && stderr.contains("drydock store check"), "{stderr}");
}
