//! Task endpoints: create, list with paging, show with build data, sub-task
//! errors and layers, task build data, retention purge (never of unfinished
//! work; `days` must be a whole number of days from 0 to 36500).

use std::sync::Arc;

use drydock_core::store::{StateStore, TaskQuery, UpdateGuard};
use drydock_core::task::{Action, Task, TaskStatus};
use poem::http::Method;
use serde_json::json;

use crate::conformance::assert_documented;
use crate::support::{Call, Normaliser, admin, build_data, message, normalise, site_ref, stored_task};

#[tokio::test]
async fn create_queues_a_task_for_the_orchestrator() {
    let server = admin();
    let filter = json!({"filter_set_type": "union", "filter_set": [{"filter_type": "union", "node_names": ["n01"]}]});
    let reply = server
        .post("/api/v1.0/tasks", &json!({"action": "deploy_nodes", "design_ref": site_ref(), "node_filter": filter, "extra": 1}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let body = reply.json();
    let id = body["task_id"].as_str().expect("task_id").to_owned();
    assert_eq!(reply.header("location"), Some(format!("/api/v1.0/tasks/{id}").as_str()));
    assert!(body["created"].as_str().is_some_and(|ts| ts.ends_with("+00:00")), "POST timestamps are aware");
    let mut body = body;
    body["design_ref"] = json!("<site>");
    insta::assert_json_snapshot!("task_created", normalise(&body));
    let stored = server.store().task_get(id.parse().expect("uuid")).await.expect("stored");
    assert_eq!(stored.status, TaskStatus::Queued);
    assert_eq!(stored.created_by.as_deref(), Some("noauth"));
    assert_eq!(stored.node_filter, Some(filter));
    let recorded = stored.request_context.expect("request context recorded").to_value();
    assert_eq!(recorded["user"], "noauth");
    assert_eq!(recorded["roles"], json!(["admin"]));
    let keys: Vec<&str> = recorded.as_object().expect("an object").keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "user",
            "user_id",
            "user_domain_id",
            "project_id",
            "project_domain_id",
            "roles",
            "is_admin_project",
            "authenticated",
            "external_marker",
            "end_user"
        ],
        "the original's keys, in its order"
    );
}

#[tokio::test]
async fn create_rejects_what_the_original_rejects() {
    let server = admin();
    let cases = [
        (json!({"design_ref": "file:///x"}), "Unsupported action None"),
        (json!({"action": "verify_node", "design_ref": "file:///x"}), "Unsupported action verify_node"),
        (json!({"action": "noop", "design_ref": "file:///x"}), "Unsupported action noop"),
        (json!({"action": 7, "design_ref": "file:///x"}), "Unsupported action None"),
        (json!({"action": "verify_site"}), "Task creation requires fields design_ref, action"),
        (json!({"action": "verify_site", "design_ref": ""}), "Task creation requires fields design_ref, action"),
        (json!({"action": "verify_site", "design_ref": "file:///x", "node_filter": "all"}), "node_filter must be an object or null"),
        (json!(["verify_site"]), "The request body must be a JSON object"),
    ];
    for (body, message) in cases {
        server.post("/api/v1.0/tasks", &body).await.assert_envelope(400, message);
    }
    // Beyond the original (it fails such a task when it runs): a node filter
    // no design can evaluate is refused at creation, and nothing is queued.
    let unusable = [
        json!({"filter_set_type": "union", "filter_set": [{"filter_type": "intersection"}]}),
        json!({"filter_set_type": "intersection", "filter_set": []}),
        json!({"filter_set_type": "sideways", "filter_set": [{"filter_type": "union", "node_names": ["a"]}]}),
        json!({"filter_set_type": "union", "filter_set": [{"node_names": ["a"]}]}),
        json!({"filter_set_type": "union", "filter_set": "a"}),
    ];
    let before = server.get("/api/v1.0/tasks").await.json();
    for filter in unusable {
        let answer =
            server.post("/api/v1.0/tasks", &json!({"action": "deploy_nodes", "design_ref": "file:///x", "node_filter": filter})).await;
        assert_eq!(answer.status, 400, "{filter}: {}", answer.body);
        assert!(answer.body.contains("Invalid node_filter: "), "{filter}: {}", answer.body);
    }
    assert_eq!(server.get("/api/v1.0/tasks").await.json(), before, "nothing was queued");
    let empty = server.send(Call::new(Method::POST, "/api/v1.0/tasks").header("content-type", "application/json")).await;
    empty.assert_envelope(400, "Request body must not be empty");
    let text = server.send(Call::new(Method::POST, "/api/v1.0/tasks").header("content-type", "text/plain").body(b"{}".to_vec())).await;
    text.assert_envelope(400, "Content-Type must be application/json");
    let charset = server
        .send(
            Call::new(Method::POST, "/api/v1.0/tasks")
                .header("content-type", "application/json; charset=utf-8")
                .body(json!({"action": "verify_site", "design_ref": "file:///x"}).to_string().into_bytes()),
        )
        .await;
    assert_eq!(charset.status, 201, "media-type parameters are accepted: {}", charset.body);
    let broken = server
        .send(Call::new(Method::POST, "/api/v1.0/tasks").header("content-type", "application/json").body(b"{\"action\":".to_vec()))
        .await;
    assert_eq!(broken.status, 400);
    assert!(broken.json()["message"].as_str().is_some_and(|text| text.starts_with("Invalid JSON in request body")));
    let page = server.store().task_list(&TaskQuery::default()).await.expect("list");
    assert_eq!(page.tasks.len(), 1, "only the charset request created a task");
}

#[tokio::test]
async fn list_returns_every_task_with_messages_and_pages_on_request() {
    let server = admin();
    let store = server.store().clone();
    let first = stored_task(&store, Action::VerifySite, 3).await;
    store.result_message_add(first.id, &message("checked", false)).await.expect("message");
    store.result_message_add(first.id, &message("broken", true)).await.expect("message");
    stored_task(&store, Action::PrepareSite, 2).await;
    stored_task(&store, Action::DeployNodes, 1).await;
    let all = server.get("/api/v1.0/tasks").await;
    assert_eq!(all.status, 200);
    assert!(all.header("x-drydock-next-marker").is_none());
    let mut body = all.json();
    for task in body.as_array_mut().expect("array") {
        task["design_ref"] = json!("<site>");
    }
    assert!(body[0]["created"].as_str().is_some_and(|ts| !ts.ends_with("+00:00")), "stored timestamps are naive");
    insta::assert_json_snapshot!("task_list", normalise(&body));

    let page = server.get("/api/v1.0/tasks?limit=2").await;
    assert_eq!(page.json().as_array().map(Vec::len), Some(2));
    let marker = page.header("x-drydock-next-marker").expect("more pages").to_owned();
    let rest = server.get(&format!("/api/v1.0/tasks?limit=2&marker={marker}")).await;
    let rest_body = rest.json();
    assert_eq!(rest_body.as_array().map(Vec::len), Some(1));
    assert_eq!(rest_body[0]["action"], "deploy_nodes");
    assert!(rest.header("x-drydock-next-marker").is_none());
    server.get("/api/v1.0/tasks?limit=0").await.assert_envelope(400, "limit must be a positive integer");
    server.get("/api/v1.0/tasks?limit=x").await.assert_envelope(400, "limit must be a positive integer");
    server.get("/api/v1.0/tasks?marker=nonsense").await.assert_envelope(400, "Invalid marker");
}

#[tokio::test]
async fn list_caps_the_page_size() {
    let mut setup = crate::support::Setup::default();
    setup.config.paging = drydock_http::server::Paging { default_page: 2, max_page: 3 };
    let server = crate::support::harness(setup);
    for age in 0..4 {
        stored_task(server.store(), Action::VerifySite, age).await;
    }
    let default = server.get("/api/v1.0/tasks").await;
    assert_eq!(default.json().as_array().map(Vec::len), Some(2));
    let capped = server.get("/api/v1.0/tasks?limit=100").await;
    assert_eq!(capped.json().as_array().map(Vec::len), Some(3));
    assert!(capped.header("x-drydock-next-marker").is_some());
}

#[tokio::test]
async fn a_shared_list_page_never_hides_a_write() {
    // redb counts its writes, so the server keeps rendered pages between
    // requests: every write must still show in the next list.
    let dir = tempfile::tempdir().expect("tempdir");
    let redb = drydock_core::store::redb_store::RedbStore::open(dir.path().join("drydock.redb")).expect("open");
    let store: Arc<dyn StateStore> = Arc::new(redb);
    let server = crate::support::harness(crate::support::Setup { store: store.clone(), ..crate::support::Setup::default() });
    let first = stored_task(&store, Action::VerifySite, 2).await;
    let listed = server.get("/api/v1.0/tasks").await;
    assert_eq!(listed.json().as_array().map(Vec::len), Some(1));
    assert_eq!(server.get("/api/v1.0/tasks").await.body, listed.body, "the same page again");
    store.result_message_add(first.id, &message("checked", false)).await.expect("message");
    let after = server.get("/api/v1.0/tasks").await.json();
    assert_eq!(after[0]["result"]["details"]["messageList"][0]["message"], "checked");
    let mut update = store.task_get(first.id).await.expect("read");
    update.status = TaskStatus::Complete;
    store.task_update(&update, UpdateGuard::Unconditional).await.expect("update");
    assert_eq!(server.get("/api/v1.0/tasks").await.json()[0]["status"], "complete");
    let created = server.post("/api/v1.0/tasks", &json!({"action": "verify_site", "design_ref": site_ref()})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let both = server.get("/api/v1.0/tasks").await.json();
    assert_eq!(both.as_array().map(Vec::len), Some(2));
    assert_eq!(both[1]["task_id"], created.json()["task_id"]);

    // Pages by marker are kept apart, and follow writes too.
    let page = server.get("/api/v1.0/tasks?limit=1").await;
    let marker = page.header("x-drydock-next-marker").expect("more").to_owned();
    let rest = format!("/api/v1.0/tasks?limit=1&marker={marker}");
    assert_eq!(server.get(&rest).await.json()[0]["task_id"], both[1]["task_id"]);
    assert!(server.get(&rest).await.header("x-drydock-next-marker").is_none());
    stored_task(&store, Action::PrepareSite, 0).await;
    assert!(server.get(&rest).await.header("x-drydock-next-marker").is_some(), "a task was added after it");

    // Concurrent readers all get the current page.
    let pages = futures::future::join_all((0..16).map(|_| server.get("/api/v1.0/tasks"))).await;
    assert!(pages.iter().all(|page| page.status == 200 && page.body == pages[0].body));
    assert_eq!(pages[0].json().as_array().map(Vec::len), Some(3));
}

const TASK: &str = "/api/v1.0/tasks/{task_id}";

/// root → (a, b); a → c (c has an error message); b → d (missing).
async fn tree(server: &crate::support::Harness) -> [String; 4] {
    let store = server.store().clone();
    let root = stored_task(&store, Action::DeployNodes, 0).await;
    let a = stored_task(&store, Action::PrepareNodes, 0).await;
    let b = stored_task(&store, Action::DeployNode, 0).await;
    let c = stored_task(&store, Action::IdentifyNode, 0).await;
    store.task_add_subtask(root.id, a.id).await.expect("a");
    store.task_add_subtask(root.id, b.id).await.expect("b");
    store.task_add_subtask(a.id, c.id).await.expect("c");
    store.result_message_add(c.id, &message("node n01 not found", true)).await.expect("message");
    store.result_message_add(root.id, &message("root error", true)).await.expect("message");
    store.build_data_insert(&build_data("n01", root.id, "lshw", 1)).await.expect("build data");
    store.build_data_insert(&build_data("n01", c.id, "lldp", 1)).await.expect("build data");
    [root.id.to_string(), a.id.to_string(), b.id.to_string(), c.id.to_string()]
}

fn redacted(mut value: serde_json::Value) -> serde_json::Value {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                if map.contains_key("design_ref") {
                    map.insert("design_ref".into(), json!("<site>"));
                }
                map.values_mut().for_each(walk);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

#[tokio::test]
async fn show_one_task_plain_and_with_extras() {
    let server = admin();
    let [root, a, b, c] = tree(&server).await;
    let plain = server.get(&format!("/api/v1.0/tasks/{root}")).await;
    assert_eq!(plain.status, 200);
    let body = plain.json();
    assert_documented("get", TASK, 200, &body);
    assert!(body.get("build_data").is_none() && body.get("subtask_errors").is_none());
    let mut names = Normaliser::default();
    for id in [&root, &a, &b, &c] {
        names.value(&json!(id));
    }
    insta::assert_json_snapshot!("task_show_plain", names.value(&redacted(body)));

    let extras = server.get(&format!("/api/v1.0/tasks/{root}?builddata=True&subtaskerrors=yes")).await;
    assert_eq!(extras.status, 200);
    let body = extras.json();
    assert_documented("get", TASK, 200, &body);
    assert_eq!(body["build_data"].as_array().map(Vec::len), Some(1), "only this task's records");
    assert_eq!(body["build_data"][0]["generator"], "lshw");
    let errors = body["subtask_errors"].as_object().expect("subtask_errors");
    assert_eq!(errors.keys().collect::<Vec<_>>(), vec![&c], "grandchild's error, never the task itself");
    assert_eq!(errors[&c]["task_id"], json!(c));
    let mut names = Normaliser::default();
    for id in [&root, &a, &b, &c] {
        names.value(&json!(id));
    }
    insta::assert_json_snapshot!("task_show_extras", names.value(&redacted(body)));

    let none = server.get(&format!("/api/v1.0/tasks/{a}?subtaskerrors=1")).await.json();
    assert_eq!(none["subtask_errors"].as_object().map(|map| map.len()), Some(1));
    let leaf = server.get(&format!("/api/v1.0/tasks/{c}?subtaskerrors=on&builddata=off")).await.json();
    assert_eq!(leaf["subtask_errors"], json!({}));
    assert!(leaf.get("build_data").is_none());
}

#[tokio::test]
async fn show_layers() {
    let server = admin();
    let [root, a, b, c] = tree(&server).await;
    let two = server.get(&format!("/api/v1.0/tasks/{root}?layers=2")).await.json();
    assert_documented("get", TASK, 200, &two);
    let mut keys: Vec<&String> = two.as_object().expect("map").keys().collect();
    keys.sort();
    let mut want = vec!["init_task_id", &root, &a, &b];
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(two["init_task_id"], json!(root));
    assert!(two.get("subtask_errors").is_none());

    let all = server.get(&format!("/api/v1.0/tasks/{root}?layers=-1&subtaskerrors=true&builddata=true")).await.json();
    assert_documented("get", TASK, 200, &all);
    assert!(all.get(&c).is_some(), "layers=-1 reaches the grandchild");
    assert_eq!(all[&c]["build_data"][0]["generator"], "lldp");
    assert_eq!(all["subtask_errors"].as_object().map(|map| map.len()), Some(1));
    let mut names = Normaliser::default();
    for id in [&root, &a, &b, &c] {
        names.value(&json!(id));
    }
    insta::assert_json_snapshot!("task_show_layers_all", names.value(&redacted(all)));

    // subtaskerrors collects at every depth even when layers is smaller.
    let one = server.get(&format!("/api/v1.0/tasks/{root}?layers=1&subtaskerrors=t")).await.json();
    assert_documented("get", TASK, 200, &one);
    assert_eq!(one.as_object().map(|map| map.len()), Some(3), "init_task_id, the task, subtask_errors");
    assert!(one["subtask_errors"].get(&c).is_some());
    // Negative values other than -1 behave like 1; non-integers like 0.
    let negative = server.get(&format!("/api/v1.0/tasks/{root}?layers=-5")).await.json();
    assert_eq!(negative.as_object().map(|map| map.len()), Some(2));
    let text = server.get(&format!("/api/v1.0/tasks/{root}?layers=abc")).await.json();
    assert_eq!(text["task_id"], json!(root));
}

#[tokio::test]
async fn layers_show_missing_children_as_null() {
    let server = admin();
    let store = server.store().clone();
    let root = finished_task(&store, Action::DeployNodes, 0).await;
    let child = finished_task(&store, Action::DeployNode, 100).await;
    store.task_add_subtask(root.id, child.id).await.expect("child");
    store.task_purge(chrono::Utc::now() - chrono::Duration::days(50)).await.expect("purge the child only");
    let body = server.get(&format!("/api/v1.0/tasks/{}?layers=2", root.id)).await.json();
    assert_documented("get", TASK, 200, &body);
    assert_eq!(body.get(child.id.to_string()), Some(&serde_json::Value::Null), "{body}");
    assert!(body.get(root.id.to_string()).is_some_and(|task| task.is_object()));
}

#[tokio::test]
async fn show_errors() {
    let server = admin();
    let unknown = "0c6d0a52-5a8e-4ad1-9a8e-0f9e0d2b6b1a";
    server.get(&format!("/api/v1.0/tasks/{unknown}")).await.assert_envelope(404, &format!("Task {unknown} does not exist"));
    server.get("/api/v1.0/tasks/not-a-uuid").await.assert_envelope(404, "Task not-a-uuid does not exist");
    let task = stored_task(server.store(), Action::VerifySite, 0).await;
    server
        .get(&format!("/api/v1.0/tasks/{}?builddata=maybe", task.id))
        .await
        .assert_envelope(400, "Invalid value for query parameter builddata");
}

#[tokio::test]
async fn task_build_data() {
    let server = admin();
    let task = stored_task(server.store(), Action::DeployNodes, 0).await;
    // The original's 404 has an empty body; ours is the envelope with the
    // text of the node variant (docs/compat.md).
    server.get(&format!("/api/v1.0/tasks/{}/builddata", task.id)).await.assert_envelope(404, "No build data found");
    server.get("/api/v1.0/tasks/zzz/builddata").await.assert_envelope(404, "No build data found");
    server.store().build_data_insert(&build_data("n02", task.id, "lshw", 2)).await.expect("insert");
    let reply = server.get(&format!("/api/v1.0/tasks/{}/builddata", task.id)).await;
    assert_eq!(reply.status, 200);
    insta::assert_json_snapshot!("task_build_data", normalise(&reply.json()));
}

/// A stored task that has finished (`complete`), created `age_days` ago.
async fn finished_task(store: &Arc<dyn StateStore>, action: Action, age_days: i64) -> Task {
    let mut task = stored_task(store, action, age_days).await;
    task.status = TaskStatus::Complete;
    store.task_update(&task, UpdateGuard::Unconditional).await.expect("finished")
}

#[tokio::test]
async fn purge_removes_old_tasks() {
    let server = admin();
    let old = finished_task(server.store(), Action::VerifySite, 100).await;
    let recent = finished_task(server.store(), Action::VerifySite, 10).await;
    // No value, and the original client's `days=None`, mean 90 days.
    let reply = server.send(Call::new(Method::DELETE, "/api/v1.0/tasks?days=None")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "Tables purged successfully.");
    assert!(server.store().task_get(old.id).await.is_err(), "older than the default 90 days");
    assert!(server.store().task_get(recent.id).await.is_ok());
    let reply = server.send(Call::new(Method::DELETE, "/api/v1.0/tasks")).await;
    assert_eq!(reply.status, 200);
    assert!(server.store().task_get(recent.id).await.is_ok());
    let reply = server.send(Call::new(Method::DELETE, "/api/v1.0/tasks?days=5")).await;
    assert_eq!(reply.status, 200);
    assert!(server.store().task_get(recent.id).await.is_err());
}

#[tokio::test]
async fn purge_refuses_days_that_are_not_a_sane_whole_number() {
    let server = admin();
    let old = finished_task(server.store(), Action::VerifySite, 100).await;
    let running = stored_task(server.store(), Action::DeployNodes, 0).await;
    for days in ["-1", "abc", "99999999999", "36501", "1.5", "-99999999999", "9223372036854775807", "1e3"] {
        let reply = server.send(Call::new(Method::DELETE, &format!("/api/v1.0/tasks?days={days}"))).await;
        reply.assert_envelope(400, "Invalid value for query parameter days: expected a whole number of days from 0 to 36500");
    }
    assert!(server.store().task_get(old.id).await.is_ok(), "a refused purge deletes nothing");
    assert!(server.store().task_get(running.id).await.is_ok());
    let reply = server.send(Call::new(Method::DELETE, "/api/v1.0/tasks?days=36500")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn a_purge_never_deletes_unfinished_tasks_or_their_relatives() {
    let server = admin();
    let store = server.store().clone();
    let mut running = stored_task(&store, Action::DeployNodes, 400).await;
    running.status = TaskStatus::Running;
    let running = store.task_update(&running, UpdateGuard::Unconditional).await.expect("running");
    let mut queued = stored_task(&store, Action::PrepareSite, 400).await;
    queued.status = TaskStatus::Queued;
    let queued = store.task_update(&queued, UpdateGuard::Unconditional).await.expect("queued");
    let finished_child = finished_task(&store, Action::DeployNode, 400).await;
    store.task_add_subtask(running.id, finished_child.id).await.expect("child of the running task");
    let finished = finished_task(&store, Action::VerifySite, 400).await;
    // `days=0`: everything finished, however recent.
    let reply = server.send(Call::new(Method::DELETE, "/api/v1.0/tasks?days=0")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(store.task_get(finished.id).await.is_err(), "finished and old: purged");
    for (id, what) in [(running.id, "running"), (queued.id, "queued"), (finished_child.id, "child of a running task")] {
        let task = store.task_get(id).await.unwrap_or_else(|error| panic!("the {what} task survives a purge: {error}"));
        assert_eq!(task.id, id);
    }
    let body = server.get(&format!("/api/v1.0/tasks/{}", running.id)).await;
    assert_eq!(body.status, 200);
    assert_eq!(body.json()["status"], "running");
}

#[tokio::test]
async fn store_failures_keep_the_originals_statuses_with_the_envelope() {
    let server = crate::support::harness(crate::support::Setup {
        store: std::sync::Arc::new(crate::support::DownStore),
        ..crate::support::Setup::default()
    });
    // A failed purge is 404 as in the original, whose body is empty; a
    // failed build-data read is 500 `Unexpected error.`, which the original
    // sends as plain text (both the envelope here: docs/compat.md).
    let purge = server.send(Call::new(Method::DELETE, "/api/v1.0/tasks?days=1")).await;
    purge.assert_envelope(404, "Task purge failed");
    assert_documented("delete", "/api/v1.0/tasks", 404, &purge.json());
    let task = "0c6d0a52-5a8e-4ad1-9a8e-0f9e0d2b6b1a";
    let build_data = server.get(&format!("/api/v1.0/tasks/{task}/builddata")).await;
    build_data.assert_envelope(500, "Unexpected error.");
    assert_documented("get", "/api/v1.0/tasks/{task_id}/builddata", 500, &build_data.json());
}

#[tokio::test]
async fn the_orchestrator_in_the_same_process_runs_queued_tasks() {
    let setup = crate::support::Setup {
        orchestrator: drydock_core::orchestrator::OrchestratorConfig {
            poll_interval: std::time::Duration::from_millis(20),
            ..Default::default()
        },
        ..crate::support::Setup::default()
    };
    let server = crate::support::harness(setup);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let orchestrator = server.state.orchestrator.clone();
    let stop = shutdown.clone();
    let leader = tokio::spawn(async move { orchestrator.run(stop).await });
    let created = server.post("/api/v1.0/tasks", &json!({"action": "validate_design", "design_ref": site_ref()})).await;
    assert_eq!(created.status, 201);
    let id = created.json()["task_id"].as_str().expect("id").to_owned();
    let mut task = serde_json::Value::Null;
    for _ in 0..250 {
        task = server.get(&format!("/api/v1.0/tasks/{id}")).await.json();
        if task["status"] == "complete" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    assert!(leader.await.expect("leader loop").is_ok());
    assert_eq!(task["status"], "complete", "{task}");
    assert_eq!(task["result"]["status"], "success", "{task}");
}
