//! Component tests of the orchestrator against in-process fake drivers on
//! tokio's paused clock: a fake provisioner whose machines enlist when their
//! fake BMC powers on with PXE set, commission, deploy and release through
//! status sequences, with per-node failures and hangs on demand.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::engine::{Dependencies, Orchestrator, OrchestratorConfig};
use crate::drivers::fake::{FakeKubernetesDriver, FakeNodeDriver, FakeOobDriver, FakeWorld, Fault};
use crate::drivers::{MachineStatus, NodeDriver, OobRegistry};
use crate::ids::DesignRef;
use crate::ingest::source::DefaultSource;
use crate::store::StateStore;
use crate::store::memory::MemoryStore;
use crate::task::{Action, ActionResult, Task, TaskStatus};

fn example_ref() -> DesignRef {
    DesignRef(format!("file://{}/../examples/site.yaml", env!("CARGO_MANIFEST_DIR")))
}

fn orchestrator(world: Arc<FakeWorld>, with_node_driver: bool) -> Orchestrator {
    let deps = Dependencies {
        store: Arc::new(MemoryStore::new()),
        source: Arc::new(DefaultSource::default()),
        node_driver: with_node_driver.then(|| Arc::new(FakeNodeDriver(world.clone())) as Arc<dyn NodeDriver>),
        oob: OobRegistry::new(vec![Arc::new(FakeOobDriver(world.clone()))]),
        kubernetes: Some(Arc::new(FakeKubernetesDriver(world))),
    };
    Orchestrator::new(deps, OrchestratorConfig::default())
}

const NODES: [&str; 6] = ["cp-r01-n01", "cp-r01-n02", "cp-r02-n01", "cmp-r01-n03", "cmp-r02-n02", "cmp-r02-n03"];

async fn run(orchestrator: &Orchestrator, action: Action) -> Task {
    let task = orchestrator.submit(action, example_ref(), None, Some("tester".into())).await.expect("submit");
    orchestrator.execute(task.id).await.expect("execute")
}

async fn messages(orchestrator: &Orchestrator, task: &Task) -> Vec<String> {
    orchestrator.store().result_messages(task.id).await.expect("messages").into_iter().map(|m| m.message).collect()
}

/// Report every incomplete boot action of the current deployments as `status`, repeatedly.
fn report_boot_actions(store: Arc<dyn StateStore>, status: ActionResult) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(30)).await;
            for node in NODES {
                for row in store.bootaction_status_for_node(node).await.unwrap_or_default() {
                    if row.action_status == ActionResult::Incomplete {
                        let _ = store.bootaction_status_update(row.action_id, status).await;
                    }
                }
            }
        }
    })
}

#[tokio::test(start_paused = true)]
async fn site_actions_and_missing_drivers() {
    let world = FakeWorld::new();
    let orchestrator = orchestrator(world.clone(), true);
    let prepared = run(&orchestrator, Action::PrepareSite).await;
    assert_eq!((prepared.status, prepared.result.status), (TaskStatus::Complete, ActionResult::Success));
    assert_eq!(prepared.subtasks.len(), 3, "network template, credentials, provisioner config");
    let children = orchestrator.store().task_get_many(&prepared.subtasks).await.expect("children");
    assert_eq!(
        children.iter().map(|t| t.action).collect::<Vec<_>>(),
        [Action::CreateNetworkTemplate, Action::ConfigureUserCredentials, Action::ConfigureNodeProvisioner]
    );
    assert!(world.calls().iter().any(|call| call.starts_with("ensure_network_template")));
    let verified = run(&orchestrator, Action::VerifySite).await;
    assert_eq!(verified.result.status, ActionResult::Success);

    let bare = self::orchestrator(world, false);
    let failed = run(&bare, Action::DeployNodes).await;
    assert_eq!((failed.status, failed.result.status), (TaskStatus::Complete, ActionResult::Failure));
    assert_eq!(failed.result.message.as_deref(), Some("No NodeDriver enabled."));
    assert!(messages(&bare, &failed).await.contains(&"No node driver enabled, ending task.".to_string()));
}

#[tokio::test(start_paused = true)]
async fn validate_design_succeeds_on_a_valid_design_and_errors_end_tasks() {
    let orchestrator = orchestrator(FakeWorld::new(), true);
    let valid = run(&orchestrator, Action::ValidateDesign).await;
    assert_eq!(valid.result.status, ActionResult::Success, "the original always failed here");
    assert!(messages(&orchestrator, &valid).await.iter().any(|m| m.ends_with("Validation successful.")));

    let missing =
        orchestrator.submit(Action::DeployNodes, DesignRef("file:///no/such/site.yaml".into()), None, None).await.expect("submit");
    let ended = orchestrator.execute(missing.id).await.expect("execute");
    assert_eq!((ended.status, ended.result.status), (TaskStatus::Complete, ActionResult::Failure));
    let texts = messages(&orchestrator, &ended).await;
    assert!(texts.iter().any(|m| m.contains("could not be loaded") && m.contains("not found")), "{texts:?}");
}

#[tokio::test(start_paused = true)]
async fn prepare_nodes_pxe_boots_enlists_and_commissions_new_nodes() {
    let world = FakeWorld::new();
    world.enlist("cp-r01-n01", MachineStatus::Ready);
    let orchestrator = orchestrator(world.clone(), true);
    let task = run(&orchestrator, Action::PrepareNodes).await;
    assert_eq!(task.result.status, ActionResult::Success);
    assert_eq!(task.result.successes.len(), 6, "{:?}", task.result);
    assert!(task.result.failures.is_empty());
    let calls = world.calls();
    assert!(!calls.iter().any(|c| c.ends_with(" cp-r01-n01") && c.starts_with("power")), "known nodes skip OOB");
    for node in &NODES[1..] {
        assert!(calls.contains(&format!("set_boot_device {node}")));
        assert!(calls.contains(&format!("power_action {node}")));
        assert!(calls.contains(&format!("commission {node}")));
        assert!(calls.contains(&format!("build_data {node}")), "build data collected after commissioning");
    }
    assert!(!calls.contains(&"commission cp-r01-n01".to_string()), "already Ready");
    assert!(messages(&orchestrator, &task).await.contains(&"Node found in provisioner, skipping OOB management".to_string()));
}

#[tokio::test(start_paused = true)]
async fn deploy_nodes_reports_boot_actions_and_keeps_going_past_failures() {
    let world = FakeWorld::new();
    world.fail_deploy.lock().expect("lock").insert("cmp-r01-n03".to_string());
    for node in NODES {
        world.enlist(node, MachineStatus::Ready);
    }
    let orchestrator = orchestrator(world.clone(), true);
    let reporter = report_boot_actions(orchestrator.store().clone(), ActionResult::Success);
    let task = run(&orchestrator, Action::DeployNodes).await;
    reporter.abort();
    assert_eq!(task.result.status, ActionResult::PartialSuccess, "{:?}", task.result);
    assert_eq!(task.result.successes.len(), 5);
    assert_eq!(task.result.failures, ["cmp-r01-n03"]);
    let calls = world.calls();
    // Retries observe the machine first: a `Failed deployment` machine is not
    // redeployed (compat §3.4.7), so the deployment is attempted once.
    assert_eq!(calls.iter().filter(|c| c.starts_with("deploy cmp-r01-n03")).count(), 1);
    assert!(calls.iter().any(|c| c == "user_data cp-r01-n01 true"), "user data with the boot-action key");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/site.yaml")).expect("site");
    let site = crate::compile::compile(crate::ingest::Ingester::new().ingest_str(&text, None).expect("ingest").design).expect("compile");
    for node in NODES.iter().filter(|node| **node != "cmp-r01-n03") {
        let position = site.node_position(node).expect("node");
        let targeting: Vec<_> = site.boot_actions_for(position).collect();
        let rows = orchestrator.store().bootaction_status_for_node(node).await.expect("rows");
        assert_eq!(rows.len(), targeting.len(), "one record per boot action targeting {node}");
        for action in targeting {
            let row = rows.iter().find(|row| row.action_name == action.meta.name()).expect("record");
            let expected = if action.signaling { ActionResult::Success } else { ActionResult::Unreported };
            assert_eq!(row.action_status, expected, "{node} {}", action.meta.name());
        }
    }
    // The tree: every step is registered (storage too, unlike the original).
    let children = orchestrator.store().task_get_many(&task.subtasks).await.expect("children");
    assert_eq!(
        children.iter().map(|t| t.action).collect::<Vec<_>>(),
        [Action::ApplyNodeNetworking, Action::ApplyNodeStorage, Action::ApplyNodePlatform, Action::DeployNode, Action::BootactionReport]
    );
    let report = children.last().expect("report");
    assert!(messages(&orchestrator, report).await.iter().any(|m| m.ends_with("completed with status success")));
}

#[tokio::test(start_paused = true)]
async fn deadlines_fire_and_unreachable_bmcs_fail_their_node_only() {
    let world = FakeWorld::new();
    world.hang_deploy.lock().expect("lock").insert("cp-r02-n01".to_string());
    world.inject("oob_check", Some("cmp-r02-n03"), Fault::Error);
    for node in NODES {
        if node != "cmp-r02-n03" {
            world.enlist(node, MachineStatus::Ready);
        }
    }
    let orchestrator = orchestrator(world.clone(), true);
    let verify = run(&orchestrator, Action::VerifyNodes).await;
    assert_eq!(verify.result.status, ActionResult::PartialSuccess);
    let interrogate = orchestrator.store().task_get(verify.subtasks[0]).await.expect("driver task");
    assert_eq!(interrogate.result.failures, ["cmp-r02-n03"]);

    let reporter = report_boot_actions(orchestrator.store().clone(), ActionResult::Success);
    let started = tokio::time::Instant::now();
    let deploy = run(&orchestrator, Action::DeployNodes).await;
    reporter.abort();
    assert!(deploy.result.failures.contains(&"cp-r02-n01".to_string()), "{:?}", deploy.result);
    assert!(started.elapsed() < Duration::from_secs(4 * 3600), "the hang ended at its deadlines");
    let deploy_task = orchestrator
        .store()
        .task_get_many(&deploy.subtasks)
        .await
        .expect("children")
        .into_iter()
        .find(|t| t.action == Action::DeployNode)
        .expect("deploy");
    let node_tasks = orchestrator.store().task_children(deploy_task.id).await.expect("per node");
    let stuck = node_tasks.iter().find(|t| t.result.failures.contains(&"cp-r02-n01".to_string())).expect("stuck node task");
    let texts = messages(&orchestrator, stuck).await;
    assert!(texts.iter().any(|m| m.contains("Deploying")), "the last observed state is reported: {texts:?}");
}

#[tokio::test(start_paused = true)]
async fn destroy_and_relabel() {
    let world = FakeWorld::new();
    for node in &NODES[..3] {
        world.enlist(node, MachineStatus::Deployed);
    }
    let orchestrator = orchestrator(world.clone(), true);
    let destroyed = run(&orchestrator, Action::DestroyNodes).await;
    assert_eq!(destroyed.result.status, ActionResult::Success);
    assert_eq!(destroyed.result.successes.len(), 6, "unknown nodes count as destroyed");
    assert_eq!(world.calls().iter().filter(|c| c.starts_with("release")).count(), 3);
    let relabelled = run(&orchestrator, Action::RelabelNodes).await;
    assert_eq!(relabelled.result.successes.len(), 6);
}

#[tokio::test(start_paused = true)]
async fn running_each_action_twice_gives_the_same_outcome() {
    let world = FakeWorld::new();
    let orchestrator = orchestrator(world.clone(), true);
    let reporter = report_boot_actions(orchestrator.store().clone(), ActionResult::Success);
    for action in [Action::PrepareSite, Action::PrepareNodes, Action::DeployNodes, Action::DestroyNodes] {
        let first = run(&orchestrator, action).await;
        if action == Action::DestroyNodes {
            // Destroying twice: the second finds every node already gone.
            let second = run(&orchestrator, action).await;
            assert_eq!(second.result.status, first.result.status, "{action}");
            continue;
        }
        let second = run(&orchestrator, action).await;
        assert_eq!((first.result.status, second.result.status), (ActionResult::Success, ActionResult::Success), "{action}");
        assert_eq!(first.result.successes.len(), second.result.successes.len(), "{action}");
    }
    reporter.abort();
}

/// A task an older version left `running` (no lease) is resumed as a new
/// retry round; lease sharing between processes is tested in
/// scheduling_tests.rs.
#[tokio::test(start_paused = true)]
async fn a_task_left_running_without_a_lease_is_resumed() {
    let world = FakeWorld::new();
    let orchestrator = orchestrator(world, true);
    let task = orchestrator.submit(Action::PrepareSite, example_ref(), None, None).await.expect("submit");
    let mut stranded = orchestrator.store().task_get(task.id).await.expect("task");
    stranded.status = TaskStatus::Running;
    orchestrator.store().task_update(&stranded, crate::store::UpdateGuard::Unconditional).await.expect("strand");
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let orchestrator = orchestrator.clone();
        let stop = stop.clone();
        async move { orchestrator.run(stop).await }
    });
    tokio::time::sleep(Duration::from_secs(30)).await;
    let resumed = orchestrator.store().task_get(task.id).await.expect("task");
    assert_eq!((resumed.status, resumed.result.status), (TaskStatus::Complete, ActionResult::Success));
    assert_eq!(resumed.retry, 1);
    assert!(messages(&orchestrator, &resumed).await.iter().any(|m| m.contains("resuming the task")));
    stop.cancel();
    running.await.expect("join").expect("stop");
}

/// Inject a failure into every driver operation an action uses — an error,
/// a hang past the deadline, a panic — and check the task always ends
/// `complete` with a failure (or partial success) and an error message.
#[tokio::test(start_paused = true)]
async fn every_injected_failure_ends_the_task_with_a_reason() {
    let cases: &[(Action, &[&str])] = &[
        (Action::PrepareSite, &["ensure_network_template", "ensure_user_credentials", "ensure_provisioner_config"]),
        (Action::VerifySite, &["check"]),
        (Action::VerifyNodes, &["oob_check", "power_state"]),
        (Action::PrepareNodes, &["identify", "set_boot_device", "power_state", "power_action", "machine_status", "commission"]),
        (Action::DeployNodes, &["identify", "apply_networking", "apply_storage", "apply_platform", "machine_status", "deploy"]),
        (Action::DestroyNodes, &["identify", "machine_status", "release"]),
        (Action::RelabelNodes, &["relabel"]),
    ];
    for (action, operations) in cases {
        for operation in *operations {
            for fault in [Fault::Error, Fault::Hang, Fault::Panic] {
                let world = FakeWorld::new();
                if matches!(action, Action::DeployNodes | Action::DestroyNodes) {
                    for node in NODES {
                        world.enlist(node, if *action == Action::DeployNodes { MachineStatus::Ready } else { MachineStatus::Deployed });
                    }
                }
                if *action == Action::PrepareNodes && *operation == "identify" {
                    // Only the existence check runs identify before any enlisting.
                    world.enlist("cp-r01-n01", MachineStatus::New);
                }
                world.inject(operation, Some("cp-r01-n01"), fault);
                if *operation == "check" || operation.starts_with("ensure_") {
                    world.inject(operation, None, fault);
                }
                let orchestrator = orchestrator(world.clone(), true);
                let reporter = report_boot_actions(orchestrator.store().clone(), ActionResult::Success);
                let task = run(&orchestrator, *action).await;
                reporter.abort();
                let case = format!("{action} / {operation} / {fault:?}");
                assert_eq!(task.status, TaskStatus::Complete, "{case}");
                assert!(matches!(task.result.status, ActionResult::Failure | ActionResult::PartialSuccess), "{case}: {:?}", task.result);
                let mut reasons = Vec::new();
                let mut pending = vec![task.id];
                while let Some(id) = pending.pop() {
                    let current = orchestrator.store().task_get(id).await.expect("task");
                    pending.extend(current.subtasks.iter().copied());
                    reasons.extend(
                        orchestrator
                            .store()
                            .result_messages(id)
                            .await
                            .expect("messages")
                            .into_iter()
                            .filter(|m| m.error)
                            .map(|m| m.message),
                    );
                }
                assert!(!reasons.is_empty() && reasons.iter().all(|r| !r.is_empty()), "{case}: an error message says why");
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn terminating_a_task_cancels_its_remaining_work() {
    let world = FakeWorld::new();
    for node in NODES {
        world.enlist(node, MachineStatus::Ready);
        world.hang_deploy.lock().expect("lock").insert(node.to_string());
    }
    let orchestrator = orchestrator(world, true);
    let task = orchestrator.submit(Action::DeployNodes, example_ref(), None, None).await.expect("submit");
    let running = tokio::spawn({
        let orchestrator = orchestrator.clone();
        async move { orchestrator.execute(task.id).await }
    });
    tokio::time::sleep(Duration::from_secs(120)).await;
    orchestrator.store().task_mark_terminate(task.id, "operator", true).await.expect("terminate");
    let started = tokio::time::Instant::now();
    let ended = running.await.expect("join").expect("execute");
    assert!(started.elapsed() < Duration::from_secs(60), "cancelled promptly, not at the 45-minute deadline");
    assert_eq!(ended.status, TaskStatus::Terminated);
    assert_eq!(ended.result.status, ActionResult::Failure);
}

/// A process running deploy_nodes on a redb store is killed (SIGKILL); a new
/// process on the same file takes the lease over when it expires, resumes
/// the task, and it ends complete with every node's result.
#[cfg(feature = "store-redb")]
#[tokio::test]
async fn a_killed_orchestrator_process_is_resumed_by_the_next() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("orchestrator.redb");
    let demo = crate::test_support::example_binary("orchestrator_demo");
    let mut first =
        Command::new(&demo).arg(&path).arg("--submit").env("DEMO_LATENCY_MS", "1000").stdout(Stdio::piped()).spawn().expect("start");
    let stdout = first.stdout.take().expect("stdout");
    let line = BufReader::new(stdout).lines().next().expect("a line").expect("read");
    let task_id: crate::ids::TaskId = line.strip_prefix("submitted ").expect("submitted").parse().expect("task id");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.kill().expect("SIGKILL");
    first.wait().expect("reap");
    {
        let store = crate::store::redb_store::RedbStore::open(&path).expect("the file opens after SIGKILL");
        let stranded = store.task_get(task_id).await.expect("task kept");
        assert_eq!(stranded.status, TaskStatus::Running, "killed mid-deployment");
    }
    let second = Command::new(&demo).arg(&path).arg("--exit-when-idle").env("DEMO_LATENCY_MS", "20").output().expect("second process");
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    let store = crate::store::redb_store::RedbStore::open(&path).expect("open");
    let task = store.task_get(task_id).await.expect("task");
    assert_eq!((task.status, task.result.status), (TaskStatus::Complete, ActionResult::Success), "{:?}", task.result);
    assert_eq!(task.result.successes.len(), NODES.len());
    assert!(task.result.failures.is_empty());
    assert_eq!(task.retry, 1);
    let messages: Vec<String> = store.result_messages(task_id).await.expect("messages").into_iter().map(|m| m.message).collect();
    assert!(messages.iter().any(|m| m.contains("resuming the task")), "{messages:?}");
    assert!(messages.iter().any(|m| m.starts_with("Started subtask")), "the first process's work is kept");
    // Nothing is left running: the first process's unfinished steps were closed.
    let running = store
        .task_list(&crate::store::TaskQuery { status: Some(TaskStatus::Running), limit: 10, ..Default::default() })
        .await
        .expect("list");
    assert!(running.tasks.is_empty(), "{:?}", running.tasks.iter().map(|t| t.action).collect::<Vec<_>>());
}

/// The boot-action ids the agent in `user_data` reports on (the `post`
/// lines of the script delivered base64-encoded in `write_files`).
fn reported_action_ids(user_data: &str) -> Vec<crate::ids::BootActionId> {
    use base64::Engine;
    user_data
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("content: "))
        .filter_map(|content| base64::engine::general_purpose::STANDARD.decode(content.trim()).ok())
        .filter_map(|bytes| String::from_utf8(bytes).ok())
        .filter(|script| script.starts_with("#!/bin/sh"))
        .flat_map(|script| {
            script
                .lines()
                .filter_map(|line| line.trim_start().strip_prefix("post '"))
                .filter_map(|rest| rest.split('\'').next().and_then(|id| id.parse().ok()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// What deployed nodes do: run the agent of the user data they were last
/// deployed with, which reports that deployment's boot actions (and only
/// those) as `status`, repeatedly.
fn report_as_the_nodes(world: Arc<FakeWorld>, store: Arc<dyn StateStore>, status: ActionResult) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let deployed: Vec<String> = world.user_data.lock().expect("lock").values().cloned().collect();
            for user_data in deployed {
                for id in reported_action_ids(&user_data) {
                    // Already final (409) or unknown (404): as the agent, ignored.
                    let _ = store.bootaction_status_update(id, status).await;
                }
            }
        }
    })
}

/// Issue 17, item 6: the first deployment attempt of a node fails after its
/// boot-action records and user data were made; the retry deploys it with
/// new ones. The node reports the boot actions of the user data it got, and
/// `bootaction_report` ends at once with success: the first attempt's
/// records, which nothing will ever report, were replaced, not left
/// `incomplete` for the report to wait on until its deadline.
#[tokio::test(start_paused = true)]
async fn a_retried_deployment_waits_only_for_the_boot_actions_it_delivered() {
    let world = FakeWorld::new();
    for node in NODES {
        world.enlist(node, MachineStatus::Ready);
    }
    let node = "cp-r01-n01";
    world.inject("deploy", Some(node), Fault::ErrorOnce);
    let config = OrchestratorConfig {
        bootaction_final_status: Duration::from_secs(10 * 60),
        poll_interval: Duration::from_secs(1),
        status_poll: Duration::from_secs(1),
        ..OrchestratorConfig::default()
    };
    let deps = Dependencies {
        store: Arc::new(MemoryStore::new()),
        source: Arc::new(DefaultSource::default()),
        node_driver: Some(Arc::new(FakeNodeDriver(world.clone()))),
        oob: OobRegistry::new(vec![Arc::new(FakeOobDriver(world.clone()))]),
        kubernetes: Some(Arc::new(FakeKubernetesDriver(world.clone()))),
    };
    let orchestrator = Orchestrator::new(deps, config.clone());
    let store = orchestrator.store().clone();
    let reporter = report_as_the_nodes(world.clone(), store.clone(), ActionResult::Success);
    let started = tokio::time::Instant::now();
    let task = run(&orchestrator, Action::DeployNodes).await;
    let took = started.elapsed();
    reporter.abort();

    let deploys = world.calls().iter().filter(|call| *call == &format!("deploy {node}")).count();
    assert_eq!(deploys, 2, "the first attempt failed after its user data was made, the retry deployed");
    assert!(took < config.bootaction_final_status, "the report did not wait for its deadline: {took:?}");
    assert_eq!(task.result.status, ActionResult::Success, "{:?}", task.result);
    assert!(task.result.successes.contains(&node.to_string()) && task.result.failures.is_empty(), "{:?}", task.result);

    let children = store.task_get_many(&task.subtasks).await.expect("children");
    let report = children.iter().find(|child| child.action == Action::BootactionReport).expect("bootaction_report");
    assert_eq!(report.result.status, ActionResult::Success, "{:?}", report.result);
    let texts = messages(&orchestrator, report).await;
    assert!(!texts.iter().any(|text| text.contains("timed out")), "{texts:?}");
    assert!(texts.iter().any(|text| text.ends_with("completed with status success")), "{texts:?}");

    // Only the delivered attempt's records are left, all reported.
    let delivered = reported_action_ids(world.user_data.lock().expect("lock").get(node).expect("user data"));
    assert!(!delivered.is_empty(), "the example site has signalling boot actions on {node}");
    let context = store.bootaction_context(node).await.expect("context").expect("some");
    let rows: Vec<_> =
        store.bootaction_status_for_node(node).await.expect("rows").into_iter().filter(|row| row.task_id == context.task_id).collect();
    assert!(rows.iter().all(|row| row.identity_key == context.identity_key), "one attempt's records: {rows:?}");
    assert!(rows.iter().all(|row| row.action_status != ActionResult::Incomplete), "{rows:?}");
    let mut signalling: Vec<_> = rows.iter().filter(|row| row.action_status == ActionResult::Success).map(|row| row.action_id).collect();
    let mut delivered = delivered;
    signalling.sort();
    delivered.sort();
    assert_eq!(signalling, delivered);
}

/// The spans a task leaves, as a subscriber layer records them: each
/// closed span's name and fields, and its ancestors' names and fields.
mod spans {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing_subscriber::layer::Context;
    use tracing_subscriber::registry::LookupSpan;

    #[derive(Debug, Clone, Default)]
    pub(super) struct Fields(pub(super) HashMap<String, String>);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.insert(field.name().to_owned(), format!("{value:?}"));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.to_owned());
        }
    }

    /// A closed span.
    #[derive(Debug, Clone)]
    pub(super) struct Closed {
        pub(super) name: &'static str,
        pub(super) fields: HashMap<String, String>,
        /// Innermost first.
        pub(super) ancestors: Vec<(&'static str, HashMap<String, String>)>,
    }

    #[derive(Debug, Clone, Default)]
    pub(super) struct Recorder(pub(super) Arc<Mutex<Vec<Closed>>>);

    impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Recorder {
        fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
            let mut fields = Fields::default();
            attributes.record(&mut fields);
            if let Some(span) = context.span(id) {
                span.extensions_mut().insert(fields);
            }
        }
        fn on_record(&self, id: &Id, values: &Record<'_>, context: Context<'_, S>) {
            if let Some(span) = context.span(id)
                && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
            {
                values.record(fields);
            }
        }
        fn on_close(&self, id: Id, context: Context<'_, S>) {
            let Some(span) = context.span(&id) else { return };
            let fields_of = |span: &tracing_subscriber::registry::SpanRef<'_, S>| {
                span.extensions().get::<Fields>().map(|fields| fields.0.clone()).unwrap_or_default()
            };
            let ancestors = span.scope().skip(1).map(|ancestor| (ancestor.name(), fields_of(&ancestor))).collect();
            let closed = Closed { name: span.name(), fields: fields_of(&span), ancestors };
            self.0.lock().expect("lock").push(closed);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_task_its_stages_node_steps_and_driver_calls_are_nested_spans() {
    use tracing_subscriber::layer::SubscriberExt;
    let recorder = spans::Recorder::default();
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.clone()));
    let world = FakeWorld::new();
    let orchestrator = orchestrator(world, true);
    let task = run(&orchestrator, Action::PrepareNodes).await;
    assert_eq!(task.result.status, ActionResult::Success);
    let closed = recorder.0.lock().expect("lock").clone();
    let field = |fields: &std::collections::HashMap<String, String>, name: &str| fields.get(name).cloned().unwrap_or_default();
    let id = task.id.to_string();

    let tasks: Vec<&spans::Closed> = closed.iter().filter(|span| span.name == "task").collect();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(
        (field(&tasks[0].fields, "task_id"), field(&tasks[0].fields, "action"), field(&tasks[0].fields, "result")),
        (id.clone(), "prepare_nodes".to_owned(), "success".to_owned())
    );

    // Every stage runs as a sub-task of this task, within the task's span.
    let stages: Vec<&spans::Closed> = closed.iter().filter(|span| span.name == "stage").collect();
    assert!(!stages.is_empty());
    for stage in &stages {
        assert_eq!(field(&stage.fields, "parent_task_id"), id, "{stage:?}");
        let stage_task =
            orchestrator.store().task_get(field(&stage.fields, "task_id").parse().expect("task id")).await.expect("stage task");
        // (A stage the task does not list has no parent in the store.)
        assert!(stage_task.parent.is_none_or(|parent| parent == task.id), "{stage:?}");
        assert_eq!(stage_task.action.as_str(), field(&stage.fields, "step"), "{stage:?}");
        assert_eq!(stage.ancestors.first().map(|(name, fields)| (*name, field(fields, "task_id"))), Some(("task", id.clone())));
    }
    let steps: Vec<String> = stages.iter().map(|stage| field(&stage.fields, "step")).collect();
    assert!(steps.contains(&"set_node_boot".to_owned()) && steps.contains(&"identify_node".to_owned()), "{steps:?}");

    // Node steps carry the node, the step, its outcome and the node's child
    // task, within their stage (each node is identified once it has
    // enlisted).
    let node_steps: Vec<&spans::Closed> = closed.iter().filter(|span| span.name == "node_step").collect();
    for node in NODES {
        let identify = node_steps
            .iter()
            .find(|span| {
                field(&span.fields, "node") == node
                    && field(&span.fields, "step") == "identify_node"
                    && field(&span.fields, "outcome") == "done"
            })
            .unwrap_or_else(|| panic!("no identify_node step span that found {node}: {node_steps:?}"));
        let child = field(&identify.fields, "task_id");
        let (stage_name, stage_fields) = identify.ancestors.first().expect("a parent");
        assert_eq!((*stage_name, field(stage_fields, "step")), ("stage", "identify_node".to_owned()));
        let stage_task = field(stage_fields, "task_id");
        let stage_children = orchestrator.store().task_get(stage_task.parse().expect("task id")).await.expect("stage task").subtasks;
        assert!(stage_children.iter().any(|c| c.to_string() == child), "{child} is a child of the stage's task");
    }

    // Driver calls happen within a node's step: the node is the step's.
    let calls: Vec<&spans::Closed> = closed.iter().filter(|span| span.name == "driver_call").collect();
    let commission = calls.iter().find(|span| field(&span.fields, "operation") == "commission").expect("a commission driver call");
    assert_eq!(
        (field(&commission.fields, "driver"), field(&commission.fields, "outcome")),
        ("fake-provisioner".to_owned(), "ok".to_owned()),
        "{commission:?}"
    );
    let (step_name, step_fields) = commission.ancestors.first().expect("a parent");
    assert_eq!(*step_name, "node_step");
    assert!(NODES.contains(&field(step_fields, "node").as_str()), "{step_fields:?}");
    assert!(commission.ancestors.iter().any(|(name, fields)| *name == "task" && field(fields, "task_id") == id));
    assert!(calls.iter().any(|span| field(&span.fields, "operation") == "set_boot_device"), "OOB calls too");
}
