//! The behaviour every [`StateStore`] must show, as one suite run against
//! each implementation: every method, paging (with and without messages),
//! concurrent admission passes (exactly one winner), task leases (renewal,
//! guarded takeover, letting go, tasks left without one),
//! guarded updates that lose, a deployment attempt's boot actions replacing
//! the previous attempt's (all or nothing), purge (which never deletes
//! unfinished work), the writability probe.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::{
    Admission, Decide, ParentFilter, RunningTask, StartTask, StateStore, StoreErrorKind, TakeOver, TaskLease, TaskQuery, TaskWithMessages,
    UpdateGuard,
};
use crate::ids::{BootActionId, DesignRef, TaskId};
use crate::task::records::{BootActionContext, BootActionStatus, BuildData};
use crate::task::{Action, ActionResult, StatusMessage, Task, TaskStatus};

/// Run the whole suite against a fresh, empty store.
pub(crate) async fn run_all(store: Arc<dyn StateStore>) {
    designs(store.as_ref()).await;
    tasks_round_trip(store.as_ref()).await;
    guarded_updates(store.as_ref()).await;
    subtasks_and_termination(store.as_ref()).await;
    paging(store.as_ref()).await;
    import(store.as_ref()).await;
    concurrent_admissions(store.clone()).await;
    messages(store.as_ref()).await;
    tasks_with_messages(store.as_ref()).await;
    build_data(store.as_ref()).await;
    boot_actions(store.as_ref()).await;
    boot_action_attempts(store.as_ref()).await;
    purge(store.as_ref()).await;
    writable(store.as_ref()).await;
}

fn task(action: Action) -> Task {
    let mut task = Task::new(action, Some(DesignRef("file:///site.yaml".into())));
    // Stores keep microseconds (the compat schema's timestamp precision).
    task.created = micros(task.created);
    task
}

fn micros(time: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp_micros(time.timestamp_micros()).unwrap_or(time)
}

async fn designs(store: &dyn StateStore) {
    let design = store.design_create().await.expect("create design");
    assert_eq!(design.part_count, 0);
    store.design_part_add(design.id, "file:///a.yaml", b"---\na: 1\n").await.expect("part a");
    let second = store.design_part_add(design.id, "request body", b"---\nb: 2\n").await.expect("part b");
    assert_eq!(second.sequence, 1);
    let parts = store.design_parts(design.id).await.expect("parts");
    assert_eq!(parts.iter().map(|p| p.content.as_slice()).collect::<Vec<_>>(), [&b"---\na: 1\n"[..], b"---\nb: 2\n"]);
    assert_eq!(store.design_get(design.id).await.expect("get").part_count, 2);
    let missing = store.design_get(TaskId::generate()).await.expect_err("missing");
    assert_eq!(missing.kind(), StoreErrorKind::NotFound);
    assert_eq!(store.design_part_add(TaskId::generate(), "x", b"").await.expect_err("no design").kind(), StoreErrorKind::NotFound);
    // Listing pages through every design once, in id order.
    let mut created: Vec<TaskId> = vec![design.id];
    for _ in 0..4 {
        created.push(store.design_create().await.expect("create design").id);
    }
    let mut listed = Vec::new();
    let mut after = None;
    loop {
        let page = store.design_list(after, 2).await.expect("list designs");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        listed.extend(page.iter().map(|record| (record.id, record.part_count)));
    }
    let ours: Vec<(TaskId, usize)> = listed.iter().copied().filter(|(id, _)| created.contains(id)).collect();
    assert_eq!(ours.len(), created.len(), "every design listed once");
    assert!(listed.windows(2).all(|pair| pair[0].0 < pair[1].0), "in id order");
    assert!(ours.contains(&(design.id, 2)), "with its part count");
}

async fn tasks_round_trip(store: &dyn StateStore) {
    let mut original = task(Action::DeployNodes);
    original.node_filter = Some(serde_json::json!({"filter_set_type": "union", "filter_set": []}));
    original.created_by = Some("shipyard".into());
    original.request_context = Some(serde_json::json!({"user": "shipyard", "roles": ["admin"]}).into());
    let stored = store.task_create(&original).await.expect("create");
    assert_eq!(stored.generation, 1);
    let read = store.task_get(original.id).await.expect("get");
    assert_eq!(read.id, original.id);
    assert_eq!(read.action, Action::DeployNodes);
    assert_eq!(read.design_ref, original.design_ref);
    assert_eq!(read.node_filter, original.node_filter);
    assert_eq!(read.created_by.as_deref(), Some("shipyard"));
    assert_eq!(read.created, original.created);
    assert_eq!(read.request_context, original.request_context, "the request context reads back as written");
    assert_eq!(read.status, TaskStatus::Requested);
    assert_eq!(read.result.status, ActionResult::Incomplete);
    assert_eq!(store.task_create(&original).await.expect_err("duplicate").kind(), StoreErrorKind::Conflict);
    assert_eq!(store.task_get(TaskId::generate()).await.expect_err("missing").kind(), StoreErrorKind::NotFound);

    let mut update = read.clone();
    update.status = TaskStatus::Complete;
    update.result.success(Some("n1"));
    update.result.failure(Some("n2"));
    update.result.message = Some("done".into());
    update.result.add_link("detail_logs", "http://x/tasks/1/builddata");
    update.retry = 2;
    let updated = store.task_update(&update, UpdateGuard::Unconditional).await.expect("update");
    assert_eq!(updated.generation, 2);
    let read = store.task_get(original.id).await.expect("get");
    assert_eq!(read.status, TaskStatus::Complete);
    assert_eq!(read.result, update.result);
    assert_eq!(read.retry, 2);
    assert!(read.updated.is_some());
    let many = store.task_get_many(&[TaskId::generate(), original.id]).await.expect("many");
    assert_eq!(many.iter().map(|t| t.id).collect::<Vec<_>>(), [original.id]);
}

async fn guarded_updates(store: &dyn StateStore) {
    let created = store.task_create(&task(Action::PrepareSite)).await.expect("create");
    let mut first = created.clone();
    first.status = TaskStatus::Running;
    let after_first = store.task_update(&first, UpdateGuard::Generation(created.generation)).await.expect("first wins");
    let mut stale = created.clone();
    stale.status = TaskStatus::Complete;
    let lost = store.task_update(&stale, UpdateGuard::Generation(created.generation)).await.expect_err("stale loses");
    assert_eq!(lost.kind(), StoreErrorKind::Conflict);
    let lost = store.task_update(&stale, UpdateGuard::Status(TaskStatus::Queued)).await.expect_err("wrong status");
    assert_eq!(lost.kind(), StoreErrorKind::Conflict);
    store.task_update(&stale, UpdateGuard::Status(TaskStatus::Running)).await.expect("status guard holds");
    assert_eq!(store.task_get(created.id).await.expect("get").generation, after_first.generation + 1);
    let mut ghost = task(Action::Noop);
    ghost.status = TaskStatus::Complete;
    assert_eq!(store.task_update(&ghost, UpdateGuard::Unconditional).await.expect_err("missing").kind(), StoreErrorKind::NotFound);
}

async fn subtasks_and_termination(store: &dyn StateStore) {
    let parent = store.task_create(&task(Action::DeployNodes)).await.expect("parent");
    let child = store.task_create(&parent.child(Action::DeployNode)).await.expect("child");
    let mut grandchild_task = child.child(Action::DeployNode);
    grandchild_task.created = micros(Utc::now());
    let grandchild = store.task_create(&grandchild_task).await.expect("grandchild");
    store.task_add_subtask(parent.id, child.id).await.expect("register child");
    store.task_add_subtask(child.id, grandchild.id).await.expect("register grandchild");
    store.task_add_subtask(parent.id, child.id).await.expect("registering twice is harmless");
    let read = store.task_get(parent.id).await.expect("parent");
    assert_eq!(read.subtasks, [child.id]);
    assert_eq!(store.task_get(child.id).await.expect("child").parent, Some(parent.id));
    let children = store.task_children(parent.id).await.expect("children");
    assert_eq!(children.iter().map(|t| t.id).collect::<Vec<_>>(), [child.id]);

    // A stale full update must not drop the sub-task list.
    let mut stale = parent.clone();
    stale.status = TaskStatus::Running;
    store.task_update(&stale, UpdateGuard::Unconditional).await.expect("update");
    assert_eq!(store.task_get(parent.id).await.expect("parent").subtasks, [child.id]);

    store.task_mark_terminate(parent.id, "operator", true).await.expect("terminate");
    for id in [parent.id, child.id, grandchild.id] {
        let task = store.task_get(id).await.expect("task");
        assert!(task.terminate, "{id} flagged");
        assert_eq!(task.terminated_by.as_deref(), Some("operator"));
        assert!(task.terminated.is_some());
    }
    assert_eq!(store.task_mark_terminate(TaskId::generate(), "x", true).await.expect_err("missing").kind(), StoreErrorKind::NotFound);
}

async fn paging(store: &dyn StateStore) {
    let parent = store.task_create(&task(Action::PrepareNodes)).await.expect("parent");
    let base = micros(Utc::now()) + chrono::Duration::days(1);
    let mut ids = Vec::new();
    for index in 0..25 {
        let mut child = parent.child(if index % 2 == 0 { Action::IdentifyNode } else { Action::ConfigureHardware });
        child.created = base + chrono::Duration::milliseconds(index);
        ids.push(store.task_create(&child).await.expect("child").id);
    }
    let mut seen = Vec::new();
    let mut query = TaskQuery { parent: ParentFilter::Of(parent.id), limit: 10, ..TaskQuery::default() };
    let mut pages = 0;
    loop {
        let page = store.task_list(&query).await.expect("page");
        pages += 1;
        assert!(page.tasks.len() <= 10);
        seen.extend(page.tasks.iter().map(|t| t.id));
        match page.next {
            Some(cursor) => query.after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every child once, oldest first");
    assert_eq!(pages, 3);
    let filtered = store
        .task_list(&TaskQuery {
            parent: ParentFilter::Of(parent.id),
            action: Some(Action::ConfigureHardware),
            limit: 100,
            ..TaskQuery::default()
        })
        .await
        .expect("filtered");
    assert_eq!(filtered.tasks.len(), 12);
    assert!(filtered.next.is_none());
    let roots = store.task_list(&TaskQuery { parent: ParentFilter::Root, limit: 1000, ..TaskQuery::default() }).await.expect("roots");
    assert!(roots.tasks.iter().all(|t| t.parent.is_none()));
    assert!(roots.tasks.iter().any(|t| t.id == parent.id));
}

async fn import(store: &dyn StateStore) {
    let batch: Vec<Task> = (0..20).map(|_| task(Action::ValidateDesign)).collect();
    store.task_import(&batch).await.expect("import");
    let read = store.task_get_many(&batch.iter().map(|t| t.id).collect::<Vec<_>>()).await.expect("read back");
    assert_eq!(read.len(), 20);
    assert!(read.iter().all(|t| t.generation == 1 && t.action == Action::ValidateDesign));
    let clash = vec![task(Action::ValidateDesign), batch[0].clone()];
    assert_eq!(store.task_import(&clash).await.expect_err("existing id").kind(), StoreErrorKind::Conflict);
    assert_eq!(store.task_get(clash[0].id).await.expect_err("all or none").kind(), StoreErrorKind::NotFound);
}

/// Two processes' admission passes race over three queued tasks with a
/// rule that admits one task at a time: exactly one pass starts the oldest,
/// the other sees it running and starts nothing.
async fn concurrent_admissions(store: Arc<dyn StateStore>) {
    let base = micros(Utc::now()) + chrono::Duration::days(2);
    let mut queued = Vec::new();
    for index in 0..3 {
        let mut next = task(Action::PrepareSite);
        next.status = TaskStatus::Queued;
        next.created = base + chrono::Duration::milliseconds(index);
        queued.push(store.task_create(&next).await.expect("queued"));
    }
    let ours: Vec<TaskId> = queued.iter().map(|task| task.id).collect();
    // A running task without a lease, as an older version leaves it (before
    // the first pass: a single-process store may look for these only once
    // per open).
    let mut orphan = task(Action::VerifySite);
    orphan.status = TaskStatus::Running;
    orphan.created = base - chrono::Duration::milliseconds(1);
    let orphan = store.task_create(&orphan).await.expect("orphan");
    let one_at_a_time = |queued: Vec<Task>| -> Decide {
        let ours: Vec<TaskId> = queued.iter().map(|task| task.id).collect();
        Arc::new(move |_now, running: &[RunningTask]| {
            if running.iter().any(|task| ours.contains(&task.id)) {
                return Admission::default();
            }
            let first = &queued[0];
            Admission { start: vec![StartTask { id: first.id, generation: first.generation, claim: "site".into() }], take_over: Vec::new() }
        })
    };
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let (first, second) = (store.clone(), store.clone());
    let (decide_a, decide_b) = (one_at_a_time(queued.clone()), one_at_a_time(queued.clone()));
    let lease = Duration::from_secs(60);
    let (by_a, by_b) = tokio::join!(
        tokio::spawn(async move { first.task_admit(a, lease, decide_a).await }),
        tokio::spawn(async move { second.task_admit(b, lease, decide_b).await }),
    );
    let (by_a, by_b) = (by_a.expect("join").expect("admit a"), by_b.expect("join").expect("admit b"));
    assert_eq!(by_a.started.len() + by_b.started.len(), 1, "exactly one pass starts the task");
    let (winner, loser) = if by_a.started.is_empty() { (b, a) } else { (a, b) };
    let started = by_a.started.iter().chain(&by_b.started).next().expect("started").clone();
    assert_eq!((started.id, started.status, started.generation), (ours[0], TaskStatus::Running, queued[0].generation + 1));
    assert_eq!(store.task_get(ours[1]).await.expect("second").status, TaskStatus::Queued);

    // A start whose generation is stale is skipped.
    let first_id = ours[0];
    let stale = Arc::new(move |_now, _running: &[RunningTask]| Admission {
        start: vec![StartTask { id: first_id, generation: 0, claim: String::new() }],
        take_over: Vec::new(),
    });
    assert!(store.task_admit(loser, lease, stale).await.expect("stale").started.is_empty());

    // The lease names the winner and keeps the claim.
    let held = lease_of(store.as_ref(), ours[0]).await.expect("leased");
    assert_eq!((held.holder, held.claim.as_str()), (Some(winner), "site"));
    assert!(held.expires > Utc::now() + chrono::Duration::seconds(30), "{:?}", held.expires);
    assert!(store.task_lease_renew(loser, &[ours[0]], lease).await.expect("renew").is_empty(), "only the holder renews");
    assert_eq!(store.task_lease_renew(winner, &[ours[0], ours[1]], lease).await.expect("renew"), [ours[0]]);

    // A takeover is skipped when the lease changed since the pass saw it,
    // and applied when it did not; the old holder cannot renew any more.
    let take = |seen: TaskLease| -> Decide {
        Arc::new(move |_now, _running: &[RunningTask]| Admission {
            start: Vec::new(),
            take_over: vec![TakeOver { id: first_id, seen: seen.clone(), claim: "nodes".into() }],
        })
    };
    let mut outdated = lease_of(store.as_ref(), ours[0]).await.expect("leased");
    outdated.expires -= chrono::Duration::seconds(1);
    assert!(store.task_admit(loser, lease, take(outdated)).await.expect("outdated").taken_over.is_empty());
    let current = lease_of(store.as_ref(), ours[0]).await.expect("leased");
    let taken = store.task_admit(loser, lease, take(current)).await.expect("take over");
    assert_eq!(taken.taken_over.iter().map(|task| task.id).collect::<Vec<_>>(), [ours[0]]);
    let held = lease_of(store.as_ref(), ours[0]).await.expect("leased");
    assert_eq!((held.holder, held.claim.as_str()), (Some(loser), "nodes"));
    assert!(store.task_lease_renew(winner, &[ours[0]], lease).await.expect("renew").is_empty(), "taken over");

    // Letting go: a no-op for others, and lapsed at once for the holder.
    store.task_lease_release(winner, &[ours[0]]).await.expect("release by a non-holder");
    assert_eq!(lease_of(store.as_ref(), ours[0]).await.expect("leased").holder, Some(loser));
    store.task_lease_release(loser, &[ours[0]]).await.expect("release");
    let released = lease_of(store.as_ref(), ours[0]).await.expect("still running, so still listed");
    assert_eq!(released.holder, None);
    assert!(released.expires <= Utc::now());

    // The running task without a lease is leased to nobody, lapsing a lease
    // after its last update; a finished task's lease is dropped.
    let mut done = store.task_get(ours[0]).await.expect("first");
    done.status = TaskStatus::Complete;
    store.task_update(&done, UpdateGuard::Unconditional).await.expect("finish");
    let seen: Arc<std::sync::Mutex<Vec<RunningTask>>> = Arc::default();
    let record = seen.clone();
    let observe: Decide = Arc::new(move |_now, running: &[RunningTask]| {
        record.lock().expect("lock").extend(running.iter().cloned());
        Admission::default()
    });
    store.task_admit(winner, lease, observe).await.expect("observe");
    let seen = seen.lock().expect("lock").clone();
    assert!(!seen.iter().any(|task| task.id == ours[0]), "finished: no lease");
    let found = seen.iter().find(|task| task.id == orphan.id).expect("the orphan is seen");
    assert_eq!((found.action, found.lease.holder, found.lease.claim.as_str()), (Action::VerifySite, None, ""));
    let updated = orphan.updated.unwrap_or(orphan.created);
    assert!((found.lease.expires - (updated + chrono::Duration::seconds(60))).num_seconds().abs() <= 1, "{found:?} {updated}");
    let listed = store.task_leases().await.expect("leases");
    assert!(listed.iter().any(|task| task.id == orphan.id) && !listed.iter().any(|task| task.id == ours[0]));

    // Leave nothing running or queued for later sections.
    for id in ours[1..].iter().chain([&orphan.id]) {
        let mut finished = store.task_get(*id).await.expect("task");
        finished.status = TaskStatus::Complete;
        store.task_update(&finished, UpdateGuard::Unconditional).await.expect("finish");
    }
}

async fn lease_of(store: &dyn StateStore, id: TaskId) -> Option<TaskLease> {
    store.task_leases().await.expect("leases").into_iter().find(|task| task.id == id).map(|task| task.lease)
}

async fn messages(store: &dyn StateStore) {
    let owner = store.task_create(&task(Action::Noop)).await.expect("task");
    let mut long = StatusMessage::node("n1", "x".repeat(200), true);
    long.extra.insert("retry".into(), serde_json::json!(true));
    store.result_message_add(owner.id, &StatusMessage::task_wide("first", false)).await.expect("first");
    store.result_message_add(owner.id, &long).await.expect("long");
    let read = store.result_messages(owner.id).await.expect("messages");
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].message, "first");
    assert_eq!(read[1].message.len(), 127, "cut as upstream");
    assert!(read[1].error);
    assert_eq!((read[1].context_type.as_str(), read[1].context.as_str()), ("node", "n1"));
    assert_eq!(read[1].extra.get("retry"), Some(&serde_json::json!(true)));
    assert!(store.result_messages(TaskId::generate()).await.expect("none").is_empty());
}

async fn tasks_with_messages(store: &dyn StateStore) {
    let parent = store.task_create(&task(Action::DeployNodes)).await.expect("parent");
    let base = micros(Utc::now()) + chrono::Duration::days(3);
    let mut ids = Vec::new();
    for index in 0..7 {
        let mut child = parent.child(Action::DeployNode);
        child.created = base + chrono::Duration::milliseconds(index);
        let child = store.task_create(&child).await.expect("child");
        // 0, 1, 2, 0, 1, 2, 0 messages, interleaved between tasks.
        for number in 0..index % 3 {
            let mut message = StatusMessage::node(&format!("n{index}"), format!("task {index} message {number}"), number == 1);
            message.extra.insert("number".into(), serde_json::json!(number));
            store.result_message_add(child.id, &message).await.expect("message");
        }
        ids.push(child.id);
    }
    // Each page equals task_list's page with result_messages of each task.
    let mut query = TaskQuery { parent: ParentFilter::Of(parent.id), limit: 3, ..TaskQuery::default() };
    let mut seen = Vec::new();
    loop {
        let page = store.task_list_with_messages(&query).await.expect("page with messages");
        let plain = store.task_list(&query).await.expect("page");
        assert_eq!(page.next, plain.next);
        assert_eq!(page.tasks.iter().map(|entry| &entry.task).collect::<Vec<_>>(), plain.tasks.iter().collect::<Vec<_>>());
        for entry in &page.tasks {
            assert_eq!(entry.messages, store.result_messages(entry.task.id).await.expect("messages"), "task {}", entry.task.id);
        }
        seen.extend(page.tasks.into_iter().map(|entry| (entry.task.id, entry.messages.len())));
        match page.next {
            Some(cursor) => query.after = Some(cursor),
            None => break,
        }
    }
    let expected: Vec<(TaskId, usize)> = ids.iter().enumerate().map(|(index, id)| (*id, index % 3)).collect();
    assert_eq!(seen, expected, "every task once, oldest first, with its own messages");
    let two = store
        .task_list_with_messages(&TaskQuery { parent: ParentFilter::Of(parent.id), limit: 100, ..TaskQuery::default() })
        .await
        .expect("whole listing");
    let texts: Vec<&str> = two.tasks[2].messages.iter().map(|message| message.message.as_str()).collect();
    assert_eq!(texts, ["task 2 message 0", "task 2 message 1"], "insertion order");
    assert!(two.tasks[2].messages[1].error && !two.tasks[2].messages[0].error);
    assert_eq!(two.tasks[2].messages[1].extra.get("number"), Some(&serde_json::json!(1)));
    assert_eq!(two.tasks[2].messages[1].context, "n2");
    assert!(two.next.is_none());

    // By id: in the order asked, the missing left out.
    let asked = [ids[5], TaskId::generate(), ids[0], ids[1]];
    let many = store.task_get_many_with_messages(&asked).await.expect("many with messages");
    let summary: Vec<(TaskId, usize)> = many.iter().map(|entry| (entry.task.id, entry.messages.len())).collect();
    assert_eq!(summary, [(ids[5], 2), (ids[0], 0), (ids[1], 1)]);
    let TaskWithMessages { task: fifth, messages } = &many[0];
    assert_eq!(fifth, &store.task_get(ids[5]).await.expect("task"));
    assert_eq!(messages, &store.result_messages(ids[5]).await.expect("messages"));
    assert!(store.task_get_many_with_messages(&[]).await.expect("none asked").is_empty());
}

async fn build_data(store: &dyn StateStore) {
    let collector = TaskId::generate();
    let now = micros(Utc::now());
    for (generator, age, data) in [("lshw", 10, "<old/>"), ("lshw", 0, "<new/>"), ("lldp", 5, "<lldp/>")] {
        store
            .build_data_insert(&BuildData {
                node_name: "n1".into(),
                task_id: collector,
                collected_date: now - chrono::Duration::seconds(age),
                generator: generator.into(),
                data_format: "text/xml".into(),
                data_element: data.into(),
            })
            .await
            .expect("insert");
    }
    assert_eq!(store.build_data_for_node("n1", false).await.expect("all").len(), 3);
    let latest = store.build_data_for_node("n1", true).await.expect("latest");
    let summary: Vec<(&str, &str)> = latest.iter().map(|r| (r.generator.as_str(), r.data_element.as_str())).collect();
    assert_eq!(summary, [("lldp", "<lldp/>"), ("lshw", "<new/>")]);
    assert_eq!(store.build_data_for_task(collector).await.expect("by task").len(), 3);
    assert!(store.build_data_for_node("n2", false).await.expect("none").is_empty());
}

async fn boot_actions(store: &dyn StateStore) {
    let deploy = TaskId::generate();
    let key = [7u8; 32];
    store.bootaction_context_upsert(&BootActionContext { node_name: "n1".into(), task_id: deploy, identity_key: key }).await.expect("ctx");
    let newer = TaskId::generate();
    store
        .bootaction_context_upsert(&BootActionContext { node_name: "n1".into(), task_id: newer, identity_key: [8; 32] })
        .await
        .expect("ctx2");
    let context = store.bootaction_context("n1").await.expect("get").expect("some");
    assert_eq!((context.task_id, context.identity_key), (newer, [8; 32]));
    assert!(store.bootaction_context("nobody").await.expect("none").is_none());

    let signalling = BootActionStatus {
        node_name: "n1".into(),
        action_id: BootActionId::generate(),
        action_name: "helloworld".into(),
        task_id: newer,
        identity_key: [8; 32],
        action_status: ActionResult::Incomplete,
    };
    let silent = BootActionStatus {
        action_id: BootActionId::generate(),
        action_name: "quiet".into(),
        action_status: ActionResult::Unreported,
        ..signalling.clone()
    };
    store.bootaction_status_insert(&signalling).await.expect("insert");
    store.bootaction_status_insert(&silent).await.expect("insert");
    assert_eq!(store.bootaction_status_insert(&silent).await.expect_err("duplicate").kind(), StoreErrorKind::Conflict);
    assert_eq!(store.bootaction_status_get(signalling.action_id).await.expect("get"), signalling);
    assert_eq!(store.bootaction_status_for_node("n1").await.expect("for node").len(), 2);
    let done = store.bootaction_status_update(signalling.action_id, ActionResult::Success).await.expect("report");
    assert_eq!(done.action_status, ActionResult::Success);
    let again = store.bootaction_status_update(signalling.action_id, ActionResult::Failure).await.expect_err("final");
    assert_eq!(again.kind(), StoreErrorKind::Conflict);
    let silent_report = store.bootaction_status_update(silent.action_id, ActionResult::Success).await.expect_err("unreported is final");
    assert_eq!(silent_report.kind(), StoreErrorKind::Conflict);
    assert_eq!(store.bootaction_status_get(BootActionId::generate()).await.expect_err("missing").kind(), StoreErrorKind::NotFound);
}

async fn boot_action_attempts(store: &dyn StateStore) {
    let deploy = TaskId::generate();
    let context = |key: u8| BootActionContext { node_name: "n7".into(), task_id: deploy, identity_key: [key; 32] };
    let row = |node: &str, task: TaskId, name: &str, key: u8, status: ActionResult| BootActionStatus {
        node_name: node.into(),
        action_id: BootActionId::generate(),
        action_name: name.into(),
        task_id: task,
        identity_key: [key; 32],
        action_status: status,
    };
    let ids = |rows: &[BootActionStatus]| -> Vec<BootActionId> {
        let mut ids: Vec<BootActionId> = rows.iter().map(|row| row.action_id).collect();
        ids.sort();
        ids
    };
    // An earlier deployment of n7 (another task), and n8 under the same task: both stay.
    let earlier_task = TaskId::generate();
    let history = row("n7", earlier_task, "hello", 1, ActionResult::Success);
    store.bootaction_status_insert(&history).await.expect("history");
    let neighbour = row("n8", deploy, "hello", 2, ActionResult::Incomplete);
    store
        .bootaction_begin(
            &BootActionContext { node_name: "n8".into(), task_id: deploy, identity_key: [2; 32] },
            std::slice::from_ref(&neighbour),
        )
        .await
        .expect("n8 begins");

    let first = [row("n7", deploy, "hello", 3, ActionResult::Incomplete), row("n7", deploy, "quiet", 3, ActionResult::Unreported)];
    store.bootaction_begin(&context(3), &first).await.expect("first attempt");
    assert_eq!(store.bootaction_context("n7").await.expect("context"), Some(context(3)));
    let rows = store.bootaction_status_for_node("n7").await.expect("rows");
    assert_eq!(ids(&rows), ids(&[history.clone(), first[0].clone(), first[1].clone()]));
    assert_eq!(store.bootaction_status_get(first[0].action_id).await.expect("row"), first[0]);

    // The retry replaces the first attempt's instances; nothing else moves.
    let second = [row("n7", deploy, "hello", 4, ActionResult::Incomplete), row("n7", deploy, "quiet", 4, ActionResult::Unreported)];
    store.bootaction_begin(&context(4), &second).await.expect("second attempt");
    assert_eq!(store.bootaction_context("n7").await.expect("context"), Some(context(4)));
    let rows = store.bootaction_status_for_node("n7").await.expect("rows");
    assert_eq!(ids(&rows), ids(&[history.clone(), second[0].clone(), second[1].clone()]));
    assert!(rows.iter().all(|row| row.task_id == earlier_task || row.identity_key == [4; 32]));
    for gone in &first {
        assert_eq!(store.bootaction_status_get(gone.action_id).await.expect_err("replaced").kind(), StoreErrorKind::NotFound);
    }
    assert_eq!(store.bootaction_status_get(history.action_id).await.expect("kept"), history);
    assert_eq!(store.bootaction_status_for_node("n8").await.expect("n8"), std::slice::from_ref(&neighbour));
    let reported = store.bootaction_status_update(second[0].action_id, ActionResult::Success).await.expect("report");
    assert_eq!(reported.action_status, ActionResult::Success);

    // Refused attempts change nothing: a row of another node, an id given
    // twice, an id that exists elsewhere.
    let refusals = [
        vec![row("n7", deploy, "hello", 5, ActionResult::Incomplete), row("n8", deploy, "hello", 5, ActionResult::Incomplete)],
        vec![row("n7", TaskId::generate(), "hello", 5, ActionResult::Incomplete)],
        {
            let twice = row("n7", deploy, "hello", 5, ActionResult::Incomplete);
            vec![twice.clone(), twice]
        },
        vec![row("n7", deploy, "hello", 5, ActionResult::Incomplete), BootActionStatus { node_name: "n7".into(), ..neighbour.clone() }],
    ];
    for (case, rows) in refusals.iter().enumerate() {
        let error = store.bootaction_begin(&context(5), rows).await.expect_err("refused");
        assert_eq!(error.kind(), StoreErrorKind::Conflict, "case {case}: {error}");
        assert_eq!(store.bootaction_context("n7").await.expect("context"), Some(context(4)), "case {case}");
        let rows = store.bootaction_status_for_node("n7").await.expect("rows");
        assert_eq!(ids(&rows), ids(&[history.clone(), second[0].clone(), second[1].clone()]), "case {case}");
        assert_eq!(store.bootaction_status_get(second[0].action_id).await.expect("row").action_status, ActionResult::Success);
        assert_eq!(store.bootaction_status_for_node("n8").await.expect("n8"), std::slice::from_ref(&neighbour), "case {case}");
    }

    // A node no boot action targets any more: the context moves on, no rows.
    store.bootaction_begin(&context(6), &[]).await.expect("empty attempt");
    assert_eq!(store.bootaction_context("n7").await.expect("context"), Some(context(6)));
    assert_eq!(ids(&store.bootaction_status_for_node("n7").await.expect("rows")), ids(std::slice::from_ref(&history)));
}

async fn purge(store: &dyn StateStore) {
    let long_ago = micros(Utc::now()) - chrono::Duration::days(100);
    let aged = |action: Action, status: TaskStatus, parent: Option<&Task>| {
        let mut next = match parent {
            Some(parent) => parent.child(action),
            None => task(action),
        };
        next.status = status;
        next.created = long_ago;
        next
    };
    let old = store.task_create(&aged(Action::Noop, TaskStatus::Complete, None)).await.expect("old");
    let mut orphan = old.child(Action::DeployNode);
    orphan.status = TaskStatus::Complete;
    orphan.created = micros(Utc::now());
    let orphan = store.task_create(&orphan).await.expect("orphan-to-be");
    store.result_message_add(old.id, &StatusMessage::task_wide("old", false)).await.expect("message");
    let mut recent = task(Action::Noop);
    recent.status = TaskStatus::Complete;
    let recent = store.task_create(&recent).await.expect("recent");
    store.result_message_add(recent.id, &StatusMessage::task_wide("recent", false)).await.expect("message");

    // However old, unfinished work stays: the task itself, its ancestors
    // (finished or not) and its descendants (finished or not).
    let mut kept = Vec::new();
    for status in [TaskStatus::Requested, TaskStatus::Queued, TaskStatus::Running, TaskStatus::Terminating] {
        let unfinished = store.task_create(&aged(Action::DeployNodes, status, None)).await.expect("unfinished");
        store.result_message_add(unfinished.id, &StatusMessage::task_wide("working", false)).await.expect("message");
        kept.push(unfinished.id);
    }
    let running_root = store.task_create(&aged(Action::DeployNodes, TaskStatus::Running, None)).await.expect("running root");
    let finished_child = store.task_create(&aged(Action::DeployNode, TaskStatus::Complete, Some(&running_root))).await.expect("child");
    let finished_grandchild =
        store.task_create(&aged(Action::DeployNode, TaskStatus::Terminated, Some(&finished_child))).await.expect("grandchild");
    let finished_root = store.task_create(&aged(Action::PrepareNodes, TaskStatus::Complete, None)).await.expect("finished root");
    let finished_middle =
        store.task_create(&aged(Action::IdentifyNode, TaskStatus::Complete, Some(&finished_root))).await.expect("finished middle");
    let mut running_leaf = finished_middle.child(Action::IdentifyNode);
    running_leaf.status = TaskStatus::Running;
    let running_leaf = store.task_create(&running_leaf).await.expect("running leaf");
    let mut lost = task(Action::DeployNode);
    lost.parent = Some(TaskId::generate());
    lost.status = TaskStatus::Running;
    let lost = store.task_create(&lost).await.expect("running orphan");
    kept.extend([
        running_root.id,
        finished_child.id,
        finished_grandchild.id,
        finished_root.id,
        finished_middle.id,
        running_leaf.id,
        lost.id,
        recent.id,
    ]);
    let mut finished_lost = task(Action::DeployNode);
    finished_lost.parent = Some(TaskId::generate());
    finished_lost.status = TaskStatus::Complete;
    let finished_lost = store.task_create(&finished_lost).await.expect("finished orphan");

    let report = store.task_purge(Utc::now() - chrono::Duration::days(90)).await.expect("purge");
    assert!(report.tasks >= 3, "{report:?}");
    assert!(report.messages >= 1, "{report:?}");
    assert_eq!(store.task_get(old.id).await.expect_err("gone").kind(), StoreErrorKind::NotFound);
    assert_eq!(store.task_get(orphan.id).await.expect_err("orphan gone").kind(), StoreErrorKind::NotFound);
    assert_eq!(store.task_get(finished_lost.id).await.expect_err("finished orphan gone").kind(), StoreErrorKind::NotFound);
    assert!(store.result_messages(old.id).await.expect("messages").is_empty());
    assert_eq!(store.result_messages(recent.id).await.expect("kept").len(), 1);
    let survivors = store.task_get_many(&kept).await.expect("survivors");
    let missing: Vec<TaskId> = kept.iter().copied().filter(|id| !survivors.iter().any(|task| task.id == *id)).collect();
    assert!(missing.is_empty(), "purged unfinished work or its relatives: {missing:?}");
    assert_eq!(store.result_messages(kept[0]).await.expect("messages kept").len(), 1);

    // Everything else finished: a purge with a cutoff in the future leaves
    // only unfinished work and its relatives.
    let report = store.task_purge(Utc::now() + chrono::Duration::days(3650)).await.expect("purge everything");
    assert!(report.tasks > 0, "{report:?}");
    let survivors = store.task_get_many(&kept).await.expect("survivors");
    let recent_gone = !survivors.iter().any(|task| task.id == recent.id);
    assert!(recent_gone, "a finished task goes once it is old enough");
    assert_eq!(survivors.len(), kept.len() - 1, "only unfinished work and its relatives remain");
}

async fn writable(store: &dyn StateStore) {
    store.check_writable().await.expect("writable");
    store.check_writable().await.expect("writable again (the probe is rewritten, not added)");
    store.ping().await.expect("ping");
}

#[tokio::test]
async fn memory_store_conforms() {
    run_all(Arc::new(super::memory::MemoryStore::new())).await;
}
