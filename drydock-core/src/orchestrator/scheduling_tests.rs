//! Component tests of the main loop's scheduling (runner.rs) (docs/scheduling.md)
//! against the in-process fake drivers and the memory store: instant pickup,
//! concurrent tasks with node exclusivity in creation order, read-only and
//! site-wide tasks, the concurrency limit, termination of queued and running
//! tasks among others, the immediate resume on an exclusive store, and two
//! loops sharing one store (each its own process) sharing its tasks.
//! Most run on tokio's paused clock with a fake latency per driver call, and
//! observe when each task starts and ends by sampling the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::engine::{Dependencies, Orchestrator, OrchestratorConfig};
use super::scheduler::Claim;
use crate::drivers::fake::{FakeKubernetesDriver, FakeNodeDriver, FakeOobDriver, FakeWorld};
use crate::drivers::{MachineStatus, NodeDriver, OobRegistry};
use crate::ids::{DesignRef, TaskId};
use crate::ingest::source::DefaultSource;
use crate::store::memory::MemoryStore;
use crate::store::{Admission, Decide, ParentFilter, RunningTask, StartTask, StateStore, StoreError, TaskLease, TaskQuery};
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

/// The main loop, running until [`Runner::stop`].
struct Runner {
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<Result<(), StoreError>>,
}

impl Runner {
    fn start(orchestrator: &Orchestrator) -> Self {
        let stop = CancellationToken::new();
        let handle = tokio::spawn({
            let orchestrator = orchestrator.clone();
            let stop = stop.clone();
            async move { orchestrator.run(stop).await }
        });
        Runner { stop, handle }
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

/// Real time, a 60 s poll interval: a task submitted to an idle loop runs
/// at once (woken by the submission), not at the next poll.
#[tokio::test]
async fn a_submitted_task_starts_at_once_not_at_the_next_poll() {
    let config = OrchestratorConfig { poll_interval: Duration::from_secs(60), ..OrchestratorConfig::default() };
    let orchestrator = orchestrator(FakeWorld::new(), config);
    let store = orchestrator.store().clone();
    let runner = Runner::start(&orchestrator);
    // Let the loop settle into waiting for work.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..3 {
        let submitted = std::time::Instant::now();
        let task = submit(&orchestrator, Action::ValidateDesign, None).await;
        let done = finished(&store, &[&task], Duration::from_secs(10)).await;
        assert_eq!(done[0].result.status, ActionResult::Success);
        assert!(submitted.elapsed() < Duration::from_secs(5), "took {:?} with a 60 s poll interval", submitted.elapsed());
    }
    runner.stop().await;
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
    let runner = Runner::start(&orchestrator);
    let done = finished(&store, &[&first, &second, &third, &other], Duration::from_secs(600)).await;
    watcher.abort();
    runner.stop().await;
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
    let runner = Runner::start(&orchestrator);
    let deploy = submit(&orchestrator, Action::DeployNodes, Some(&["cp-r01-n01", "cp-r01-n02"])).await;
    let site = submit(&orchestrator, Action::PrepareSite, None).await;
    let validate = submit(&orchestrator, Action::ValidateDesign, None).await;
    let verify = submit(&orchestrator, Action::VerifySite, None).await;
    let done = finished(&store, &[&validate, &verify], Duration::from_secs(60)).await;
    assert!(done.iter().all(|task| task.result.status == ActionResult::Success));
    assert_eq!(status(&store, &deploy).await, TaskStatus::Running, "the deployment hangs");
    assert_eq!(status(&store, &site).await, TaskStatus::Queued, "the site-wide task waits for the deployment");
    runner.stop().await;
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
    let runner = Runner::start(&orchestrator);
    let done = finished(&store, &[&first, &second, &site, &after_site, &destroy_all, &after_destroy], Duration::from_secs(600)).await;
    watcher.abort();
    runner.stop().await;
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
    let runner = Runner::start(&orchestrator);
    let done = finished(&store, &tasks.iter().collect::<Vec<_>>(), Duration::from_secs(600)).await;
    watcher.abort();
    runner.stop().await;
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
    let runner = Runner::start(&orchestrator);
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
    runner.stop().await;
}

/// The lease of running task `id`, if any.
async fn lease_of(store: &Arc<dyn StateStore>, id: TaskId) -> Option<TaskLease> {
    store.task_leases().await.expect("leases").into_iter().find(|task| task.id == id).map(|task| task.lease)
}

/// Start `task` as process `holder` would: an admission pass that starts it.
async fn start_as(store: &Arc<dyn StateStore>, holder: uuid::Uuid, task: &Task) {
    let (id, generation) = (task.id, task.generation);
    let decide: Decide = Arc::new(move |_now, _running: &[RunningTask]| Admission {
        start: vec![StartTask { id, generation, claim: Claim::Site.encode() }],
        take_over: Vec::new(),
    });
    let admitted = store.task_admit(holder, Duration::from_secs(300), decide).await.expect("admit");
    assert_eq!(admitted.started.len(), 1, "started as {holder}");
}

/// Real time, default timings (a 300 s task lease): on an exclusive store a
/// task leased to an instance no longer alive is taken over at once and
/// resumed; a task of a live instance in this process is left to it.
#[tokio::test]
async fn an_exclusive_store_resumes_a_stranded_task_at_once() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    assert!(store.exclusive());
    #[cfg(feature = "store-redb")]
    {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(crate::store::redb_store::RedbStore::open(dir.path().join("lease.redb")).expect("open").exclusive());
    }

    let world = world(Duration::from_millis(5));
    world.enlist("cp-r01-n01", MachineStatus::Ready);
    world.hang_deploy.lock().expect("lock").insert("cp-r01-n01".to_string());
    let orchestrator = orchestrator_on(store.clone(), world.clone(), OrchestratorConfig::default());
    let task = submit(&orchestrator, Action::PrepareSite, None).await;
    start_as(&store, uuid::Uuid::new_v4(), &task).await;

    let started = std::time::Instant::now();
    let runner = Runner::start(&orchestrator);
    // Well within the 300 s lease.
    let resumed = finished(&store, &[&task], Duration::from_secs(10)).await.remove(0);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!((resumed.status, resumed.result.status, resumed.retry), (TaskStatus::Complete, ActionResult::Success, 1));

    // A second loop in this process leaves the first one's running task alone.
    let hanging = submit(&orchestrator, Action::DeployNodes, Some(&["cp-r01-n01"])).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while status(&store, &hanging).await != TaskStatus::Running {
        assert!(std::time::Instant::now() < deadline, "the deployment did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = orchestrator_on(store.clone(), world, OrchestratorConfig::default());
    let second_runner = Runner::start(&second);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(lease_of(&store, hanging.id).await.and_then(|lease| lease.holder), Some(orchestrator.instance));
    second_runner.stop().await;
    orchestrator.terminate(hanging.id, "operator").await.expect("terminate");
    runner.stop().await;
}

/// Two loops on one store stand for two processes sharing a database (the
/// store is not exclusive, so leases lapse only by time): each runs tasks,
/// their claims keep them apart, and when one dies without a word its task
/// is taken over by the other once the lease lapses and finishes there.
/// Real time: lease expiry is judged by the store's clock.
#[tokio::test]
async fn processes_sharing_a_store_share_tasks_and_take_over_a_dead_ones() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new_shared());
    assert!(!store.exclusive());
    let world = world(Duration::from_millis(300));
    let config = OrchestratorConfig {
        max_concurrent_tasks: 1,
        poll_interval: Duration::from_millis(100),
        status_poll: Duration::from_millis(100),
        leader_grace_period: Duration::from_millis(1500),
        ..OrchestratorConfig::default()
    };
    let (first, second) = (orchestrator_on(store.clone(), world.clone(), config.clone()), orchestrator_on(store.clone(), world, config));
    let (first_runner, second_runner) = (Runner::start(&first), Runner::start(&second));
    // One slot each: two disjoint tasks run one on each process; a third
    // over the first task's node waits for it whichever process is free.
    let a = submit(&first, Action::VerifyNodes, Some(&["cp-r01-n01", "cp-r01-n02"])).await;
    let b = submit(&first, Action::VerifyNodes, Some(&["cp-r02-n01"])).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let holders = loop {
        let holders = (lease_of(&store, a.id).await.and_then(|l| l.holder), lease_of(&store, b.id).await.and_then(|l| l.holder));
        if let (Some(x), Some(y)) = holders {
            break (x, y);
        }
        assert!(std::time::Instant::now() < deadline, "both tasks did not start: {holders:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_ne!(holders.0, holders.1, "each process runs one task");
    let done = finished(&store, &[&a, &b], Duration::from_secs(60)).await;
    assert_all_succeeded(&done);

    // A long task on the first process; the first process dies (its loop and
    // tasks stop without letting the lease go).
    let slow = submit(&first, Action::PrepareNodes, Some(&["cp-r01-n01", "cp-r01-n02", "cp-r02-n01", "cmp-r01-n03"])).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lease_of(&store, slow.id).await.and_then(|lease| lease.holder).is_none() {
        assert!(std::time::Instant::now() < deadline, "the slow task did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let holder = lease_of(&store, slow.id).await.and_then(|lease| lease.holder).expect("holder");
    let (dead, survivor, survivor_runner) =
        if holder == first.instance { (first_runner, second.clone(), second_runner) } else { (second_runner, first.clone(), first_runner) };
    tokio::time::sleep(Duration::from_millis(200)).await;
    dead.handle.abort();
    let killed = std::time::Instant::now();
    let deadline = killed + Duration::from_secs(10);
    while lease_of(&store, slow.id).await.and_then(|lease| lease.holder) != Some(survivor.instance) {
        assert!(std::time::Instant::now() < deadline, "not taken over");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = killed.elapsed();
    assert!(took >= Duration::from_millis(1000), "taken over before the lease lapsed: {took:?}");
    assert!(took < Duration::from_millis(1500 + 100 + 1000), "lease + a poll (and slack): {took:?}");
    let resumed = finished(&store, &[&slow], Duration::from_secs(60)).await.remove(0);
    assert_eq!((resumed.status, resumed.result.status, resumed.retry), (TaskStatus::Complete, ActionResult::Success, 1));
    survivor_runner.stop().await;
}

/// Real time, a 60 s poll interval: a queued task whose termination is
/// requested through the `Orchestrator` ends `terminated` at once (the
/// request wakes the loop), not at the next poll.
#[tokio::test]
async fn terminating_a_queued_task_wakes_the_loop() {
    let world = world(Duration::from_millis(5));
    world.enlist("cp-r01-n01", MachineStatus::Ready);
    world.hang_deploy.lock().expect("lock").insert("cp-r01-n01".to_string());
    let config = OrchestratorConfig { poll_interval: Duration::from_secs(60), ..OrchestratorConfig::default() };
    let orchestrator = orchestrator(world, config);
    let store = orchestrator.store().clone();
    let runner = Runner::start(&orchestrator);
    let hanging = submit(&orchestrator, Action::DeployNodes, Some(&["cp-r01-n01"])).await;
    let queued = submit(&orchestrator, Action::VerifyNodes, Some(&["cp-r01-n01"])).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while status(&store, &hanging).await != TaskStatus::Running {
        assert!(std::time::Instant::now() < deadline, "the deployment did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the loop settle into waiting (the queued task's claim is known).
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
    runner.stop().await;
}

/// Fan-out limits seen from the node driver while several `deploy_nodes`
/// tasks run (docs/scheduling.md, "Fan-out limits"): each task has its own
/// budget of steps, and the provisioner's calls in flight stay within its
/// bound across tasks.
mod fanout_limits {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::compile::EffectiveSite;
    use crate::drivers::{ChangeSummary, CollectedData, DeployRequest, DriverError, ErasePolicy, MachineRef};
    use crate::model::BaremetalNode;
    use crate::orchestrator::fanout::FanoutLimits;

    /// The fake node driver, counting its per-node calls in flight.
    struct Counting {
        inner: FakeNodeDriver,
        now: AtomicUsize,
        peak: AtomicUsize,
    }

    impl Counting {
        async fn counted<T>(&self, call: impl std::future::Future<Output = T>) -> T {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            let result = call.await;
            self.now.fetch_sub(1, Ordering::SeqCst);
            result
        }
    }

    #[async_trait]
    impl NodeDriver for Counting {
        fn name(&self) -> &'static str {
            self.inner.name()
        }
        async fn check(&self) -> Result<(), DriverError> {
            self.inner.check().await
        }
        async fn ensure_network_template(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
            self.inner.ensure_network_template(site).await
        }
        async fn ensure_user_credentials(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
            self.inner.ensure_user_credentials(site).await
        }
        async fn ensure_provisioner_config(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
            self.inner.ensure_provisioner_config(site).await
        }
        async fn ensure_boot_media(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
            self.inner.ensure_boot_media(site).await
        }
        async fn identify(&self, site: &EffectiveSite, node: &BaremetalNode) -> Result<Option<MachineRef>, DriverError> {
            self.counted(self.inner.identify(site, node)).await
        }
        async fn machine_status(&self, machine: &MachineRef) -> Result<MachineStatus, DriverError> {
            self.counted(self.inner.machine_status(machine)).await
        }
        async fn commission(&self, machine: &MachineRef) -> Result<(), DriverError> {
            self.counted(self.inner.commission(machine)).await
        }
        async fn apply_networking(&self, site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError> {
            self.counted(self.inner.apply_networking(site, node, machine)).await
        }
        async fn apply_storage(&self, site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError> {
            self.counted(self.inner.apply_storage(site, node, machine)).await
        }
        async fn apply_platform(&self, site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError> {
            self.counted(self.inner.apply_platform(site, node, machine)).await
        }
        async fn deploy(&self, machine: &MachineRef, request: &DeployRequest) -> Result<(), DriverError> {
            self.counted(self.inner.deploy(machine, request)).await
        }
        async fn release(&self, machine: &MachineRef, erase: ErasePolicy) -> Result<(), DriverError> {
            self.counted(self.inner.release(machine, erase)).await
        }
        async fn build_data(&self, machine: &MachineRef) -> Result<Vec<CollectedData>, DriverError> {
            self.counted(self.inner.build_data(machine)).await
        }
        async fn images(&self) -> Result<Vec<(String, Vec<String>)>, DriverError> {
            self.inner.images().await
        }
    }

    const FIRST: [&str; 2] = ["cp-r01-n01", "cp-r01-n02"];
    const SECOND: [&str; 2] = ["cp-r02-n01", "cmp-r01-n03"];

    /// Two deploy_nodes tasks over disjoint nodes under `limits`, run to the
    /// end: the most per-node driver calls seen in flight at once, and the
    /// nodes whose deploy step succeeded.
    async fn deploy_two_tasks(limits: FanoutLimits) -> (usize, usize) {
        let world = world(Duration::from_secs(1));
        for node in FIRST.iter().chain(&SECOND) {
            world.enlist(node, MachineStatus::Ready);
        }
        let driver = Arc::new(Counting { inner: FakeNodeDriver(world.clone()), now: AtomicUsize::new(0), peak: AtomicUsize::new(0) });
        let deps = Dependencies {
            store: Arc::new(MemoryStore::new()),
            source: Arc::new(DefaultSource::default()),
            node_driver: Some(driver.clone() as Arc<dyn NodeDriver>),
            oob: OobRegistry::new(vec![Arc::new(FakeOobDriver(world.clone()))]),
            kubernetes: None,
        };
        let config = OrchestratorConfig { limits, bootaction_final_status: Duration::ZERO, ..config() };
        let orchestrator = Orchestrator::new(deps, config);
        let store = orchestrator.store().clone();
        let first = submit(&orchestrator, Action::DeployNodes, Some(&FIRST)).await;
        let second = submit(&orchestrator, Action::DeployNodes, Some(&SECOND)).await;
        let runner = Runner::start(&orchestrator);
        let done = finished(&store, &[&first, &second], Duration::from_secs(3600)).await;
        runner.stop().await;
        let mut deployed = 0;
        for task in &done {
            let steps = store.task_get_many(&task.subtasks).await.expect("steps");
            deployed += steps.iter().find(|step| step.action == Action::DeployNode).map(|step| step.result.successes.len()).unwrap_or(0);
        }
        (driver.peak.load(Ordering::SeqCst), deployed)
    }

    /// One step at a time per task: each task makes at most one call at a
    /// time, and both tasks make theirs side by side (one budget shared by
    /// both would have allowed one call in flight in all).
    #[tokio::test(start_paused = true)]
    async fn deploy_tasks_of_disjoint_nodes_each_get_their_own_step_budget() {
        let (peak, deployed) = deploy_two_tasks(FanoutLimits { task_steps: 1, ..FanoutLimits::default() }).await;
        assert_eq!(deployed, 4, "every node deployed");
        assert_eq!(peak, 2, "one step per task, both tasks at once");
    }

    /// With one provisioner call in flight allowed, the two tasks' four
    /// steps (each task's budget is large) never make two calls at once.
    #[tokio::test(start_paused = true)]
    async fn provisioner_calls_in_flight_stay_within_the_endpoint_bound_across_tasks() {
        let (peak, deployed) = deploy_two_tasks(FanoutLimits { endpoint_calls: 1, ..FanoutLimits::default() }).await;
        assert_eq!(deployed, 4, "every node deployed");
        assert_eq!(peak, 1);
        let (peak, _) = deploy_two_tasks(FanoutLimits::default()).await;
        assert_eq!(peak, 4, "the default bound lets all four nodes' calls run at once");
    }
}

/// The scheduler's look at a queued node task's design (its claim) and the
/// task's own run share one evaluation through the design service, and a
/// second task over the same content evaluates nothing new.
#[tokio::test(start_paused = true)]
async fn a_node_tasks_design_is_evaluated_once_for_its_claim_and_its_run() {
    let orchestrator = orchestrator(world(Duration::from_millis(10)), config());
    let store = orchestrator.store().clone();
    let runner = Runner::start(&orchestrator);
    let first = submit(&orchestrator, Action::VerifyNodes, Some(&["cp-r01-n01"])).await;
    let second = submit(&orchestrator, Action::VerifyNodes, Some(&["cp-r01-n02"])).await;
    let done = finished(&store, &[&first, &second], Duration::from_secs(60)).await;
    runner.stop().await;
    assert_all_succeeded(&done);
    assert_eq!(orchestrator.designs().len(), 1, "one evaluation of examples/site.yaml for both claims and both runs");
}

/// A node filter no design can evaluate is refused when the task is
/// submitted, and nothing is stored.
#[tokio::test]
async fn a_filter_no_design_can_evaluate_is_refused_at_submission() {
    let orchestrator = orchestrator(FakeWorld::new(), config());
    let unbounded = serde_json::json!({"filter_set_type": "union", "filter_set": [{"filter_type": "intersection"}]});
    let refused = orchestrator.submit(Action::DeployNodes, example_ref(), Some(unbounded), None).await.expect_err("refused");
    assert!(matches!(refused, crate::orchestrator::SubmitError::NodeFilter(_)), "{refused}");
    assert!(refused.to_string().starts_with("Invalid node_filter: "), "{refused}");
    let all = orchestrator.store().task_list(&TaskQuery::default()).await.expect("list");
    assert!(all.tasks.is_empty(), "nothing stored");
    let selects_nothing = node_names_filter(&["no-such-node".to_string()]);
    orchestrator
        .submit(Action::DeployNodes, example_ref(), Some(selects_nothing), None)
        .await
        .expect("a filter selecting nothing is valid");
}
