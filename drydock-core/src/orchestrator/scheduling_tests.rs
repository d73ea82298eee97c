//! Component tests of the leader loop's scheduling (docs/scheduling.md)
//! against the in-process fake drivers and the memory store: instant pickup,
//! concurrent tasks with node exclusivity in creation order, read-only and
//! site-wide tasks, the concurrency limit, termination of queued and running
//! tasks among others, and the immediate resume on an exclusive store.
//! Most run on tokio's paused clock with a fake latency per driver call, and
//! observe when each task starts and ends by sampling the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::engine::{Dependencies, Orchestrator, OrchestratorConfig};
use crate::drivers::fake::{FakeKubernetesDriver, FakeNodeDriver, FakeOobDriver, FakeWorld};
use crate::drivers::{MachineStatus, NodeDriver, OobRegistry};
use crate::ids::{DesignRef, TaskId};
use crate::ingest::source::DefaultSource;
use crate::store::memory::MemoryStore;
use crate::store::{ParentFilter, StateStore, StoreError, TaskQuery, UpdateGuard};
use crate::task::{Action, ActionResult, Task, TaskStatus, node_names_filter};

fn example_ref() -> DesignRef {
    DesignRef(format!("file://{}/../examples/site.yaml", env!("CARGO_MANIFEST_DIR")))
}

/// A lab whose every driver call takes `latency`.
fn world(latency: Duration) -> Arc<FakeWorld> {
    let world = FakeWorld::new();
    if let Ok(mut slot) = world.latency.lock() {
        *slot = latency;
    }
    world
}

fn orchestrator_on(store: Arc<dyn StateStore>, world: Arc<FakeWorld>, config: OrchestratorConfig) -> Orchestrator {
    let deps = Dependencies {
        store,
        source: Arc::new(DefaultSource::default()),
        node_driver: Some(Arc::new(FakeNodeDriver(world.clone())) as Arc<dyn NodeDriver>),
        oob: OobRegistry::new(vec![Arc::new(FakeOobDriver(world.clone()))]),
        kubernetes: Some(Arc::new(FakeKubernetesDriver(world))),
    };
    Orchestrator::new(deps, config)
}

fn orchestrator(world: Arc<FakeWorld>, config: OrchestratorConfig) -> Orchestrator {
    orchestrator_on(Arc::new(MemoryStore::new()), world, config)
}

/// Paused-clock timings: a one-second poll (so the fallback poll cannot be
/// mistaken for a wake-up only because it is long).
fn config() -> OrchestratorConfig {
    OrchestratorConfig { poll_interval: Duration::from_secs(1), status_poll: Duration::from_secs(1), ..OrchestratorConfig::default() }
}

async fn submit(orchestrator: &Orchestrator, action: Action, nodes: Option<&[&str]>) -> Task {
    let filter = nodes.map(|nodes| node_names_filter(&nodes.iter().map(|node| node.to_string()).collect::<Vec<_>>()));
    orchestrator.submit(action, example_ref(), filter, Some("tester".into())).await.expect("submit")
}

/// The leader loop, running until [`Leader::stop`].
struct Leader {
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<Result<(), StoreError>>,
}

impl Leader {
    fn start(orchestrator: &Orchestrator) -> Self {
        let stop = CancellationToken::new();
        let handle = tokio::spawn({
            let orchestrator = orchestrator.clone();
            let stop = stop.clone();
            async move { orchestrator.run(stop).await }
        });
        Leader { stop, handle }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.handle.await.expect("join").expect("the loop stops cleanly");
    }
}

/// When each top-level task was first seen started and finished, and the
/// most seen running at once, sampled from the store every 50 ms.
#[derive(Clone, Default)]
struct Timeline(Arc<Mutex<Samples>>);

#[derive(Default)]
struct Samples {
    started: HashMap<TaskId, Instant>,
    ended: HashMap<TaskId, Instant>,
    most_running: usize,
}

impl Timeline {
    fn watch(store: Arc<dyn StateStore>) -> (Timeline, tokio::task::JoinHandle<()>) {
        let timeline = Timeline::default();
        let samples = timeline.0.clone();
        let handle = tokio::spawn(async move {
            loop {
                let query = TaskQuery { parent: ParentFilter::Root, limit: 1000, ..TaskQuery::default() };
                if let Ok(page) = store.task_list(&query).await {
                    let now = Instant::now();
                    let mut samples = samples.lock().expect("samples");
                    let running = page.tasks.iter().filter(|task| task.status == TaskStatus::Running).count();
                    samples.most_running = samples.most_running.max(running);
                    for task in page.tasks {
                        if matches!(task.status, TaskStatus::Running) || task.status.is_finished() {
                            samples.started.entry(task.id).or_insert(now);
                        }
                        if task.status.is_finished() {
                            samples.ended.entry(task.id).or_insert(now);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        (timeline, handle)
    }

    fn started(&self, task: &Task) -> Instant {
        *self.0.lock().expect("samples").started.get(&task.id).unwrap_or_else(|| panic!("{} never started", task.action))
    }

    fn ended(&self, task: &Task) -> Instant {
        *self.0.lock().expect("samples").ended.get(&task.id).unwrap_or_else(|| panic!("{} never ended", task.action))
    }

    fn most_running(&self) -> usize {
        self.0.lock().expect("samples").most_running
    }
}

/// Wait (on the test's clock) until every task in `tasks` has finished, at
/// most `limit`; returns them as stored.
async fn finished(store: &Arc<dyn StateStore>, tasks: &[&Task], limit: Duration) -> Vec<Task> {
    let deadline = Instant::now() + limit;
    loop {
        let current: Vec<Task> = store.task_get_many(&tasks.iter().map(|task| task.id).collect::<Vec<_>>()).await.expect("tasks");
        if current.iter().all(|task| task.status.is_finished()) {
            return current;
        }
        assert!(
            Instant::now() < deadline,
            "not finished within {limit:?}: {:?}",
            current.iter().map(|task| (task.action, task.status)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn status(store: &Arc<dyn StateStore>, task: &Task) -> TaskStatus {
    store.task_get(task.id).await.expect("task").status
}

/// Every task of `done` ended with result `success`.
fn assert_all_succeeded(done: &[Task]) {
    assert!(
        done.iter().all(|task| task.result.status == ActionResult::Success),
        "{:?}",
        done.iter().map(|t| &t.result).collect::<Vec<_>>()
    );
}

/// Real time, a 60 s poll interval: a task submitted to an idle leader runs
/// at once (woken by the submission), not at the next poll.
#[tokio::test]
async fn a_submitted_task_starts_at_once_not_at_the_next_poll() {
    let config = OrchestratorConfig { poll_interval: Duration::from_secs(60), ..OrchestratorConfig::default() };
    let orchestrator = orchestrator(FakeWorld::new(), config);
    let store = orchestrator.store().clone();
    let leader = Leader::start(&orchestrator);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while store.leader_current().await.expect("lease").map(|lease| lease.holder) != Some(orchestrator.instance) {
        assert!(std::time::Instant::now() < deadline, "the loop became the leader");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Let the loop settle into waiting for work.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..3 {
        let submitted = std::time::Instant::now();
        let task = submit(&orchestrator, Action::ValidateDesign, None).await;
        let done = finished(&store, &[&task], Duration::from_secs(10)).await;
        assert_eq!(done[0].result.status, ActionResult::Success);
        assert!(submitted.elapsed() < Duration::from_secs(5), "took {:?} with a 60 s poll interval", submitted.elapsed());
    }
    leader.stop().await;
}

/// Tasks over overlapping nodes run one after the other in creation order
/// — also when a later one overlaps only an earlier one that is itself
/// waiting — while a task over other nodes runs beside them.
#[tokio::test(start_paused = true)]
async fn overlapping_node_sets_serialise_in_creation_order_and_disjoint_ones_overlap() {
    let orchestrator = orchestrator(world(Duration::from_secs(1)), config());
    let store = orchestrator.store().clone();
    let first = submit(&orchestrator, Action::VerifyNodes, Some(&["cp-r01-n01", "cp-r01-n02"])).await;
    let second = submit(&orchestrator, Action::VerifyNodes, Some(&["cp-r01-n02", "cp-r02-n01"])).await;
    let third = submit(&orchestrator, Action::VerifyNodes, Some(&["cp-r02-n01"])).await;
    let other = submit(&orchestrator, Action::VerifyNodes, Some(&["cmp-r01-n03"])).await;
    let (timeline, watcher) = Timeline::watch(store.clone());
    let leader = Leader::start(&orchestrator);
    let done = finished(&store, &[&first, &second, &third, &other], Duration::from_secs(600)).await;
    watcher.abort();
    leader.stop().await;
    assert_all_succeeded(&done);
    assert!(timeline.started(&other) < timeline.ended(&first), "disjoint nodes: runs beside the first");
    assert!(timeline.started(&second) >= timeline.ended(&first), "shares cp-r01-n02 with the first");
    assert!(timeline.started(&third) >= timeline.ended(&second), "shares cp-r02-n01 with the waiting second: may not overtake it");
}

/// Read-only actions start and finish while a long node task runs and a
/// site-wide task waits for it.
#[tokio::test(start_paused = true)]
async fn read_only_tasks_never_wait_behind_node_tasks() {
    let world = world(Duration::from_millis(200));
    for node in ["cp-r01-n01", "cp-r01-n02"] {
        world.enlist(node, MachineStatus::Ready);
        world.hang_deploy.lock().expect("lock").insert(node.to_string());
    }
    let orchestrator = orchestrator(world, config());
    let store = orchestrator.store().clone();
    let leader = Leader::start(&orchestrator);
    let deploy = submit(&orchestrator, Action::DeployNodes, Some(&["cp-r01-n01", "cp-r01-n02"])).await;
    let site = submit(&orchestrator, Action::PrepareSite, None).await;
    let validate = submit(&orchestrator, Action::ValidateDesign, None).await;
    let verify = submit(&orchestrator, Action::VerifySite, None).await;
    let done = finished(&store, &[&validate, &verify], Duration::from_secs(60)).await;
    assert!(done.iter().all(|task| task.result.status == ActionResult::Success));
    assert_eq!(status(&store, &deploy).await, TaskStatus::Running, "the deployment hangs");
    assert_eq!(status(&store, &site).await, TaskStatus::Queued, "the site-wide task waits for the deployment");
    leader.stop().await;
}

/// A site-wide task waits for every running node task and holds back every
/// later one; a whole-site destroy_nodes is site-wide too.
#[tokio::test(start_paused = true)]
async fn site_wide_tasks_wait_for_and_block_node_tasks() {
    let orchestrator = orchestrator(world(Duration::from_secs(1)), config());
    let store = orchestrator.store().clone();
    let first = submit(&orchestrator, Action::VerifyNodes, Some(&["cp-r01-n01"])).await;
    let second = submit(&orchestrator, Action::VerifyNodes, Some(&["cp-r01-n02"])).await;
    let site = submit(&orchestrator, Action::PrepareSite, None).await;
    let after_site = submit(&orchestrator, Action::VerifyNodes, Some(&["cp-r02-n01"])).await;
    let destroy_all = submit(&orchestrator, Action::DestroyNodes, None).await;
    let after_destroy = submit(&orchestrator, Action::VerifyNodes, Some(&["cmp-r02-n03"])).await;
    let (timeline, watcher) = Timeline::watch(store.clone());
    let leader = Leader::start(&orchestrator);
    let done = finished(&store, &[&first, &second, &site, &after_site, &destroy_all, &after_destroy], Duration::from_secs(600)).await;
    watcher.abort();
    leader.stop().await;
    assert_all_succeeded(&done);
    assert!(timeline.started(&second) < timeline.ended(&first), "disjoint node tasks run together");
    assert!(timeline.started(&site) >= timeline.ended(&first).max(timeline.ended(&second)), "the site waits for both");
    assert!(timeline.started(&after_site) >= timeline.ended(&site), "a later node task waits for the site");
    assert!(timeline.started(&destroy_all) >= timeline.ended(&after_site), "destroying every node waits for node tasks");
    assert!(timeline.started(&after_destroy) >= timeline.ended(&destroy_all), "and holds back later ones");
}

/// At most `max_concurrent_tasks` run at once, and that many do.
#[tokio::test(start_paused = true)]
async fn max_concurrent_tasks_is_honoured() {
    let config = OrchestratorConfig { max_concurrent_tasks: 2, ..config() };
    let orchestrator = orchestrator(world(Duration::from_secs(1)), config);
    let store = orchestrator.store().clone();
    let mut tasks = Vec::new();
    for node in ["cp-r01-n01", "cp-r01-n02", "cp-r02-n01", "cmp-r01-n03", "cmp-r02-n02"] {
        tasks.push(submit(&orchestrator, Action::VerifyNodes, Some(&[node])).await);
    }
    let (timeline, watcher) = Timeline::watch(store.clone());
    let leader = Leader::start(&orchestrator);
    let done = finished(&store, &tasks.iter().collect::<Vec<_>>(), Duration::from_secs(600)).await;
    watcher.abort();
    leader.stop().await;
    assert!(done.iter().all(|task| task.result.status == ActionResult::Success));
    assert_eq!(timeline.most_running(), 2);
    // Creation order among equals: the first two run first.
    let first_end = timeline.ended(&tasks[0]).min(timeline.ended(&tasks[1]));
    for later in &tasks[2..] {
        assert!(timeline.started(later) >= first_end, "{later:?}");
    }
}

/// Among concurrent tasks, a queued one flagged for termination ends
/// `terminated` without running, and a running one ends `terminated`
/// promptly while the others carry on.
#[tokio::test(start_paused = true)]
async fn terminating_queued_and_running_tasks_under_concurrency() {
    let world = world(Duration::from_millis(200));
    for node in ["cp-r01-n01", "cp-r01-n02"] {
        world.enlist(node, MachineStatus::Ready);
        world.hang_deploy.lock().expect("lock").insert(node.to_string());
    }
    let orchestrator = orchestrator(world.clone(), config());
    let store = orchestrator.store().clone();
    let leader = Leader::start(&orchestrator);
    let hanging = submit(&orchestrator, Action::DeployNodes, Some(&["cp-r01-n01"])).await;
    let beside = submit(&orchestrator, Action::DeployNodes, Some(&["cp-r01-n02"])).await;
    let queued = submit(&orchestrator, Action::VerifyNodes, Some(&["cp-r01-n01"])).await;
    let next = submit(&orchestrator, Action::VerifyNodes, Some(&["cp-r01-n01"])).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(status(&store, &hanging).await, TaskStatus::Running);
    assert_eq!(status(&store, &beside).await, TaskStatus::Running, "disjoint: runs beside the first");
    assert_eq!(status(&store, &queued).await, TaskStatus::Queued);

    store.task_mark_terminate(queued.id, "operator", true).await.expect("terminate");
    let ended = finished(&store, &[&queued], Duration::from_secs(5)).await;
    assert_eq!(ended[0].status, TaskStatus::Terminated);
    assert!(ended[0].subtasks.is_empty(), "it never ran");
    assert_eq!(status(&store, &hanging).await, TaskStatus::Running);
    assert_eq!(status(&store, &next).await, TaskStatus::Queued, "still behind the running deployment");

    store.task_mark_terminate(hanging.id, "operator", true).await.expect("terminate");
    let ended = finished(&store, &[&hanging], Duration::from_secs(10)).await;
    assert_eq!((ended[0].status, ended[0].result.status), (TaskStatus::Terminated, ActionResult::Failure));
    // Its node is free again: the next task over it runs; the other deployment goes on.
    let done = finished(&store, &[&next], Duration::from_secs(60)).await;
    assert_eq!(done[0].result.status, ActionResult::Success);
    assert_eq!(status(&store, &beside).await, TaskStatus::Running, "terminating one task stops only that one");

    store.task_mark_terminate(beside.id, "operator", true).await.expect("terminate");
    let ended = finished(&store, &[&beside], Duration::from_secs(10)).await;
    assert_eq!(ended[0].status, TaskStatus::Terminated);
    leader.stop().await;
}

/// Real time, default timings (300 s grace, 30 s claim interval): on an
/// exclusive store a lease left by an instance no longer alive is taken
/// over at once and its stranded task resumed; a live holder in this
/// process keeps its lease.
#[tokio::test]
async fn an_exclusive_store_resumes_a_stranded_task_at_once() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    assert!(store.exclusive());
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(crate::store::redb_store::RedbStore::open(dir.path().join("lease.redb")).expect("open").exclusive());

    let dead = uuid::Uuid::new_v4();
    assert!(store.leader_claim(dead, Duration::from_secs(300)).await.expect("claim"));
    let orchestrator = orchestrator_on(store.clone(), FakeWorld::new(), OrchestratorConfig::default());
    let task = submit(&orchestrator, Action::PrepareSite, None).await;
    let mut stranded = store.task_get(task.id).await.expect("task");
    stranded.status = TaskStatus::Running;
    store.task_update(&stranded, UpdateGuard::Unconditional).await.expect("strand");

    let started = std::time::Instant::now();
    let leader = Leader::start(&orchestrator);
    // Well within the 300 s grace period.
    let resumed = finished(&store, &[&task], Duration::from_secs(10)).await.remove(0);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!((resumed.status, resumed.result.status, resumed.retry), (TaskStatus::Complete, ActionResult::Success, 1));
    assert_eq!(store.leader_current().await.expect("lease").map(|lease| lease.holder), Some(orchestrator.instance));

    // A second loop in this process does not take the live leader's lease.
    let second = orchestrator_on(store.clone(), FakeWorld::new(), OrchestratorConfig::default());
    let second_leader = Leader::start(&second);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.leader_current().await.expect("lease").map(|lease| lease.holder), Some(orchestrator.instance));
    second_leader.stop().await;
    leader.stop().await;
}

/// Real time, a 60 s poll interval: a queued task whose termination is
/// requested through the `Orchestrator` ends `terminated` at once (the
/// request wakes the leader), not at the next poll.
#[tokio::test]
async fn terminating_a_queued_task_wakes_the_leader() {
    let world = world(Duration::from_millis(5));
    world.enlist("cp-r01-n01", MachineStatus::Ready);
    world.hang_deploy.lock().expect("lock").insert("cp-r01-n01".to_string());
    let config = OrchestratorConfig { poll_interval: Duration::from_secs(60), ..OrchestratorConfig::default() };
    let orchestrator = orchestrator(world, config);
    let store = orchestrator.store().clone();
    let leader = Leader::start(&orchestrator);
    let hanging = submit(&orchestrator, Action::DeployNodes, Some(&["cp-r01-n01"])).await;
    let queued = submit(&orchestrator, Action::VerifyNodes, Some(&["cp-r01-n01"])).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while status(&store, &hanging).await != TaskStatus::Running {
        assert!(std::time::Instant::now() < deadline, "the deployment did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the leader settle into waiting (the queued task's claim is known).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status(&store, &queued).await, TaskStatus::Queued, "behind the deployment on its node");

    let started = std::time::Instant::now();
    orchestrator.terminate(queued.id, "operator").await.expect("terminate");
    // Well before the 60 s poll.
    let ended = finished(&store, &[&queued], Duration::from_secs(5)).await.remove(0);
    assert_eq!(ended.status, TaskStatus::Terminated);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(status(&store, &hanging).await, TaskStatus::Running);
    orchestrator.terminate(hanging.id, "operator").await.expect("terminate");
    leader.stop().await;
}
