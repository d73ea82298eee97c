//! Bounded per-node fan-out (architecture B4 "Orchestrator"): run one step
//! for many nodes of a top-level task within that task's own budget of
//! steps, never two steps on the same node at once across every fan-out of
//! the process, driver calls bounded per endpoint (one MaaS region, one BMC)
//! and process-wide ([`CallLimits`]), a deadline per step that really fires
//! and reports the last state the step observed, and cancellation. Results
//! stream back as each node finishes, so callers can write each node's
//! outcome at once. What each limit counts, and why: docs/scheduling.md,
//! "Fan-out limits".

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::ids::TaskId;

/// How a step ended for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// The step did its work.
    Done,
    /// Nothing to do: the node was already in the wanted state (a success).
    AlreadyDone,
    /// The step does not apply to this node.
    Skipped(String),
    /// The step failed.
    Failed {
        /// Why, for the operator.
        reason: String,
        /// The last state the step observed (`Deploying`, `power on`, …).
        last_state: Option<String>,
    },
}

impl StepOutcome {
    /// Whether the node counts as a success.
    pub fn is_success(&self) -> bool {
        matches!(self, StepOutcome::Done | StepOutcome::AlreadyDone)
    }

    /// A failure with a reason.
    pub fn failed(reason: impl Into<String>) -> Self {
        StepOutcome::Failed { reason: reason.into(), last_state: None }
    }

    /// The `outcome` label of its metrics.
    pub fn label(&self) -> &'static str {
        match self {
            StepOutcome::Done => "done",
            StepOutcome::AlreadyDone => "already_done",
            StepOutcome::Skipped(_) => "skipped",
            StepOutcome::Failed { .. } => "failed",
        }
    }
}

/// Where a step reports what it has observed so far, so a deadline can say
/// where the node got stuck.
#[derive(Debug, Clone, Default)]
pub struct Observed(Arc<Mutex<Option<String>>>);

impl Observed {
    /// Record the latest observation.
    pub fn set(&self, state: impl Into<String>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(state.into());
        }
    }

    /// The latest observation.
    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }
}

/// Concurrency limits (docs/scheduling.md, "Fan-out limits").
///
/// Steps are bounded per top-level task; driver calls, which are what an
/// endpoint or the process actually bears, are bounded per endpoint and
/// process-wide. A step waiting between two polls of a machine holds no
/// call slot, so a provisioner's bound caps its requests in flight, not the
/// number of machines deploying through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FanoutLimits {
    /// Steps running at once within one top-level task (default 64). Every
    /// running task has its own budget: tasks over disjoint nodes do not
    /// slow each other down (at most `--max-concurrent-tasks` × this many
    /// steps in all).
    pub task_steps: usize,
    /// Driver calls in flight to one endpoint — the node provisioner (one
    /// MaaS region), one BMC — across every task (default 16). A step holds
    /// a slot only while its call is outstanding: one attempt of an
    /// operation, or one status poll; never while it sleeps between polls or
    /// backs off before a retry.
    pub endpoint_calls: usize,
    /// Driver calls in flight in the whole process, every endpoint together
    /// (default 256): what bounds sockets and blocking threads however many
    /// tasks and BMCs there are.
    pub process_calls: usize,
}

impl Default for FanoutLimits {
    fn default() -> Self {
        FanoutLimits { task_steps: 64, endpoint_calls: 16, process_calls: 256 }
    }
}

/// Semaphores by key, each alive only while someone holds it: a key nobody
/// is using (a finished task, an idle BMC) costs nothing, and the first
/// user after an idle spell gets a fresh one with every permit free.
struct Gates<K> {
    permits: usize,
    map: Mutex<GateMap<K>>,
}

struct GateMap<K> {
    gates: HashMap<K, Weak<Semaphore>>,
    /// Dead entries are swept when the map reaches this size (amortised
    /// O(1) per lookup).
    sweep_at: usize,
}

impl<K: std::hash::Hash + Eq + Clone> Gates<K> {
    fn new(permits: usize) -> Self {
        Gates { permits: permits.max(1), map: Mutex::new(GateMap { gates: HashMap::new(), sweep_at: 64 }) }
    }

    /// The semaphore of `key`, shared with everyone holding it now.
    fn get(&self, key: &K) -> Arc<Semaphore> {
        let mut map = match self.map.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(gate) = map.gates.get(key).and_then(Weak::upgrade) {
            return gate;
        }
        if map.gates.len() >= map.sweep_at {
            map.gates.retain(|_, gate| gate.strong_count() > 0);
            map.sweep_at = (map.gates.len() * 2).max(64);
        }
        let gate = Arc::new(Semaphore::new(self.permits));
        map.gates.insert(key.clone(), Arc::downgrade(&gate));
        gate
    }
}

/// The bounds on driver calls in flight, shared by every fan-out of the
/// process: at most [`FanoutLimits::endpoint_calls`] per endpoint and
/// [`FanoutLimits::process_calls`] in all. Steps run each driver call
/// through [`CallLimits::call`]; cheap to clone.
#[derive(Clone)]
pub struct CallLimits {
    endpoints: Arc<Gates<String>>,
    process: Arc<Semaphore>,
}

impl std::fmt::Debug for CallLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLimits")
            .field("endpoint_calls", &self.endpoints.permits)
            .field("process_calls_free", &self.process.available_permits())
            .finish()
    }
}

impl CallLimits {
    /// Bounds of `per_endpoint` calls per endpoint and `process` in all
    /// (each at least 1).
    pub fn new(per_endpoint: usize, process: usize) -> Self {
        CallLimits { endpoints: Arc::new(Gates::new(per_endpoint)), process: Arc::new(Semaphore::new(process.max(1))) }
    }

    /// Run one driver call against `endpoint` (a BMC's address, the node
    /// provisioner) once the endpoint and the process each have a free
    /// slot; the slots are released as soon as the call returns (or is
    /// dropped). The endpoint's slot is taken first, so a call queued behind
    /// a busy endpoint does not keep a process-wide slot from calls to
    /// other endpoints.
    pub async fn call<F: Future>(&self, endpoint: &str, call: F) -> F::Output {
        let gate = self.endpoints.get(&endpoint.to_owned());
        // The semaphores are never closed: a permit is always granted.
        let _endpoint = gate.acquire().await.ok();
        let _process = self.process.acquire().await.ok();
        call.await
    }
}

/// A step: given a node and its observation slot, do the work.
pub type Step = Arc<dyn Fn(String, Observed) -> Pin<Box<dyn Future<Output = StepOutcome> + Send>> + Send + Sync>;

/// The process's fan-out engine: each top-level task's step budget, the
/// node locks and the call limits. Clones share them.
#[derive(Clone)]
pub struct Fanout {
    limits: FanoutLimits,
    /// One budget of [`FanoutLimits::task_steps`] per top-level task.
    tasks: Arc<Gates<TaskId>>,
    /// One permit per node: never two steps on a node at once.
    nodes: Arc<Gates<String>>,
    calls: CallLimits,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout").field("limits", &self.limits).finish()
    }
}

impl Fanout {
    /// An engine with `limits`.
    pub fn new(limits: FanoutLimits) -> Self {
        Fanout {
            limits,
            tasks: Arc::new(Gates::new(limits.task_steps)),
            nodes: Arc::new(Gates::new(1)),
            calls: CallLimits::new(limits.endpoint_calls, limits.process_calls),
        }
    }

    /// The call limits steps run their driver calls through.
    pub fn calls(&self) -> &CallLimits {
        &self.calls
    }

    /// Run `step` for every node of `nodes` on behalf of top-level task
    /// `task` — within that task's budget of steps, which every fan-out of
    /// the same task shares, and never on a node another fan-out (of any
    /// task) is stepping — each under `deadline`, and stream
    /// `(node, outcome)` as nodes finish. A panic in a step fails that
    /// node; cancellation fails nodes still running or waiting.
    pub fn run(
        &self,
        task: TaskId,
        nodes: Vec<String>,
        deadline: Duration,
        cancel: CancellationToken,
        step: Step,
    ) -> mpsc::UnboundedReceiver<(String, StepOutcome)> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let budget = self.tasks.get(&task);
        for node in nodes {
            let engine = self.clone();
            let budget = budget.clone();
            let sender = sender.clone();
            let cancel = cancel.clone();
            let step = step.clone();
            tokio::spawn(async move {
                let outcome = engine.run_one(&budget, node.clone(), deadline, cancel, step).await;
                let _ = sender.send((node, outcome));
            });
        }
        receiver
    }

    async fn run_one(&self, budget: &Semaphore, node: String, deadline: Duration, cancel: CancellationToken, step: Step) -> StepOutcome {
        let cancelled = || StepOutcome::Failed { reason: "cancelled before the step ran".into(), last_state: None };
        // Node first, so a node waiting for itself holds none of its task's budget.
        let node_lock = self.nodes.get(&node);
        let _node = tokio::select! {
            () = cancel.cancelled() => return cancelled(),
            permit = node_lock.acquire() => match permit {
                Ok(permit) => permit,
                Err(_) => return StepOutcome::failed("the fan-out engine is shutting down"),
            },
        };
        let _budget = tokio::select! {
            () = cancel.cancelled() => return cancelled(),
            permit = budget.acquire() => match permit {
                Ok(permit) => permit,
                Err(_) => return StepOutcome::failed("the fan-out engine is shutting down"),
            },
        };
        let observed = Observed::default();
        // The step runs as its own task so a panic becomes a failure.
        let mut running = tokio::spawn(step(node, observed.clone()));
        tokio::select! {
            joined = &mut running => match joined {
                Ok(outcome) => outcome,
                Err(error) if error.is_panic() => StepOutcome::Failed { reason: "the step panicked (a driver defect)".into(), last_state: observed.get() },
                Err(_) => StepOutcome::Failed { reason: "the step was aborted".into(), last_state: observed.get() },
            },
            () = tokio::time::sleep(deadline) => {
                running.abort();
                StepOutcome::Failed { reason: format!("step did not finish within its deadline of {}s", deadline.as_secs()), last_state: observed.get() }
            }
            () = cancel.cancelled() => {
                running.abort();
                StepOutcome::Failed { reason: "cancelled".into(), last_state: observed.get() }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn work(count: usize) -> Vec<String> {
        (0..count).map(|index| format!("n{index}")).collect()
    }

    /// A step that sleeps, counting how many run at once.
    fn sleeper(duration: Duration, running: Arc<AtomicUsize>, peak: Arc<AtomicUsize>) -> Step {
        Arc::new(move |_node, observed| {
            let running = running.clone();
            let peak = peak.clone();
            Box::pin(async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                observed.set("working");
                tokio::time::sleep(duration).await;
                running.fetch_sub(1, Ordering::SeqCst);
                StepOutcome::Done
            })
        })
    }

    /// A step whose work is one driver call to `endpoint` through `calls`,
    /// counting how many calls are in flight at once.
    fn caller(calls: CallLimits, endpoint: &'static str, duration: Duration, running: Arc<AtomicUsize>, peak: Arc<AtomicUsize>) -> Step {
        Arc::new(move |_node, _observed| {
            let (calls, running, peak) = (calls.clone(), running.clone(), peak.clone());
            Box::pin(async move {
                calls
                    .call(endpoint, async {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(duration).await;
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await;
                StepOutcome::Done
            })
        })
    }

    async fn collect(mut receiver: mpsc::UnboundedReceiver<(String, StepOutcome)>) -> Vec<(String, StepOutcome)> {
        let mut results = Vec::new();
        while let Some(result) = receiver.recv().await {
            results.push(result);
        }
        results
    }

    #[tokio::test(start_paused = true)]
    async fn site_wide_limit_bounds_concurrency() {
        let engine = Fanout::new(FanoutLimits { task_steps: 3, ..FanoutLimits::default() });
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let started = tokio::time::Instant::now();
        let results = collect(engine.run(
            TaskId::generate(),
            work(10),
            Duration::from_secs(60),
            CancellationToken::new(),
            sleeper(Duration::from_millis(100), running, peak.clone()),
        ))
        .await;
        assert_eq!(results.len(), 10);
        assert!(results.iter().all(|(_, outcome)| outcome.is_success()));
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert_eq!(started.elapsed(), Duration::from_millis(400), "ceil(10 / 3) rounds of 100 ms");
    }

    #[tokio::test(start_paused = true)]
    async fn per_endpoint_limit_and_one_step_per_node() {
        let engine = Fanout::new(FanoutLimits { task_steps: 64, endpoint_calls: 2, process_calls: 256 });
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let results = collect(engine.run(
            TaskId::generate(),
            work(6),
            Duration::from_secs(60),
            CancellationToken::new(),
            caller(engine.calls().clone(), "maas", Duration::from_millis(10), running, peak.clone()),
        ))
        .await;
        assert_eq!(results.len(), 6);
        assert_eq!(peak.load(Ordering::SeqCst), 2);

        // Two fan-outs over the same nodes: never two steps on one node.
        let per_node: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let worst = Arc::new(AtomicUsize::new(0));
        let step: Step = {
            let per_node = per_node.clone();
            let worst = worst.clone();
            Arc::new(move |node, _| {
                let per_node = per_node.clone();
                let worst = worst.clone();
                Box::pin(async move {
                    let now = {
                        let mut map = per_node.lock().expect("lock");
                        let entry = map.entry(node.clone()).or_default();
                        *entry += 1;
                        *entry
                    };
                    worst.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    *per_node.lock().expect("lock").entry(node).or_default() -= 1;
                    StepOutcome::Done
                })
            })
        };
        let first = engine.run(TaskId::generate(), work(4), Duration::from_secs(60), CancellationToken::new(), step.clone());
        let second = engine.run(TaskId::generate(), work(4), Duration::from_secs(60), CancellationToken::new(), step);
        let (a, b) = tokio::join!(collect(first), collect(second));
        assert_eq!(a.len() + b.len(), 8);
        assert_eq!(worst.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_fire_and_report_the_last_state_and_panics_fail_the_node() {
        let engine = Fanout::new(FanoutLimits::default());
        let step: Step = Arc::new(|node, observed| {
            Box::pin(async move {
                match node.as_str() {
                    "n0" => {
                        observed.set("Deploying");
                        std::future::pending::<()>().await;
                        StepOutcome::Done
                    }
                    "n1" => panic!("driver bug"),
                    _ => StepOutcome::AlreadyDone,
                }
            })
        });
        let mut results = collect(engine.run(TaskId::generate(), work(3), Duration::from_secs(30), CancellationToken::new(), step)).await;
        results.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            results[0].1,
            StepOutcome::Failed { reason: "step did not finish within its deadline of 30s".into(), last_state: Some("Deploying".into()) }
        );
        assert!(matches!(&results[1].1, StepOutcome::Failed { reason, .. } if reason.contains("panicked")));
        assert_eq!(results[2].1, StepOutcome::AlreadyDone);
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_fails_running_and_waiting_nodes() {
        let engine = Fanout::new(FanoutLimits { task_steps: 1, endpoint_calls: 1, process_calls: 1 });
        let cancel = CancellationToken::new();
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let receiver = engine.run(
            TaskId::generate(),
            work(3),
            Duration::from_secs(600),
            cancel.clone(),
            sleeper(Duration::from_secs(100), running, peak),
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        cancel.cancel();
        let results = collect(receiver).await;
        assert_eq!(results.len(), 3);
        assert!(results.iter().all(|(_, outcome)| matches!(outcome, StepOutcome::Failed { .. })));
        assert_eq!(results.iter().filter(|(_, outcome)| matches!(outcome, StepOutcome::Failed { last_state: Some(_), .. })).count(), 1);
    }

    /// How many are inside at once, and the most seen.
    #[derive(Clone, Default)]
    struct Gauge {
        now: Arc<AtomicUsize>,
        peak: Arc<AtomicUsize>,
    }

    impl Gauge {
        fn enter(&self) {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
        }

        fn leave(&self) {
            self.now.fetch_sub(1, Ordering::SeqCst);
        }

        fn peak(&self) -> usize {
            self.peak.load(Ordering::SeqCst)
        }
    }

    fn nodes(prefix: &str, count: usize) -> Vec<String> {
        (0..count).map(|index| format!("{prefix}{index}")).collect()
    }

    /// A step that sleeps for `duration`, counted in every gauge.
    fn gauged(duration: Duration, gauges: Vec<Gauge>) -> Step {
        Arc::new(move |_node, _observed| {
            let gauges = gauges.clone();
            Box::pin(async move {
                gauges.iter().for_each(Gauge::enter);
                tokio::time::sleep(duration).await;
                gauges.iter().for_each(Gauge::leave);
                StepOutcome::Done
            })
        })
    }

    fn all_succeeded(results: &[(String, StepOutcome)]) -> bool {
        results.iter().all(|(_, outcome)| outcome.is_success())
    }

    #[tokio::test(start_paused = true)]
    async fn fan_outs_of_different_tasks_each_reach_their_own_limit_at_once() {
        let engine = Fanout::new(FanoutLimits { task_steps: 3, ..FanoutLimits::default() });
        let (a, b, total) = (Gauge::default(), Gauge::default(), Gauge::default());
        let deadline = Duration::from_secs(60);
        let step_a = gauged(Duration::from_millis(100), vec![a.clone(), total.clone()]);
        let step_b = gauged(Duration::from_millis(100), vec![b.clone(), total.clone()]);
        let first = engine.run(TaskId::generate(), nodes("a", 10), deadline, CancellationToken::new(), step_a);
        let second = engine.run(TaskId::generate(), nodes("b", 10), deadline, CancellationToken::new(), step_b);
        let (first, second) = tokio::join!(collect(first), collect(second));
        assert_eq!((first.len(), second.len()), (10, 10));
        assert!(all_succeeded(&first) && all_succeeded(&second));
        assert_eq!((a.peak(), b.peak()), (3, 3), "each task reaches its own limit");
        assert_eq!(total.peak(), 6, "both tasks at their limit at the same time: the budgets are not shared");

        // Two fan-outs of one task share that task's budget.
        let (task, total) = (TaskId::generate(), Gauge::default());
        let step = gauged(Duration::from_millis(100), vec![total.clone()]);
        let first = engine.run(task, nodes("c", 5), deadline, CancellationToken::new(), step.clone());
        let second = engine.run(task, nodes("d", 5), deadline, CancellationToken::new(), step);
        let (first, second) = tokio::join!(collect(first), collect(second));
        assert_eq!(first.len() + second.len(), 10);
        assert_eq!(total.peak(), 3, "one task, one budget");
    }

    #[tokio::test(start_paused = true)]
    async fn the_same_node_is_never_stepped_twice_at_once_across_tasks() {
        let engine = Fanout::new(FanoutLimits::default());
        let per_node: Arc<Mutex<HashMap<String, Gauge>>> = Arc::default();
        let total = Gauge::default();
        let step: Step = {
            let (per_node, total) = (per_node.clone(), total.clone());
            Arc::new(move |node, _| {
                let gauge = per_node.lock().expect("lock").entry(node).or_default().clone();
                let total = total.clone();
                Box::pin(async move {
                    gauge.enter();
                    total.enter();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    total.leave();
                    gauge.leave();
                    StepOutcome::Done
                })
            })
        };
        // Five tasks over the same four nodes.
        let runs: Vec<_> = (0..5)
            .map(|_| engine.run(TaskId::generate(), nodes("n", 4), Duration::from_secs(60), CancellationToken::new(), step.clone()))
            .collect();
        let mut results = Vec::new();
        for run in runs {
            results.extend(collect(run).await);
        }
        assert_eq!(results.len(), 20);
        assert!(all_succeeded(&results));
        let worst = per_node.lock().expect("lock").values().map(Gauge::peak).max();
        assert_eq!(worst, Some(1), "never two steps on one node at once");
        assert_eq!(total.peak(), 4, "different nodes still run side by side");
    }

    #[tokio::test(start_paused = true)]
    async fn calls_in_flight_are_bounded_per_endpoint_and_process_wide_not_steps() {
        let engine = Fanout::new(FanoutLimits { task_steps: 64, endpoint_calls: 2, process_calls: 3 });
        let (maas, process, between_polls) = (Gauge::default(), Gauge::default(), Gauge::default());
        // Like a deploy: three rounds of a provisioner call and a call to the
        // node's own BMC, a second's wait between rounds.
        let step: Step = {
            let calls = engine.calls().clone();
            let (maas, process, between_polls) = (maas.clone(), process.clone(), between_polls.clone());
            Arc::new(move |node, _| {
                let (calls, maas, process, between_polls) = (calls.clone(), maas.clone(), process.clone(), between_polls.clone());
                Box::pin(async move {
                    for round in 0..3 {
                        if round > 0 {
                            between_polls.enter();
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            between_polls.leave();
                        }
                        calls
                            .call("maas", async {
                                maas.enter();
                                process.enter();
                                tokio::time::sleep(Duration::from_millis(10)).await;
                                process.leave();
                                maas.leave();
                            })
                            .await;
                        calls
                            .call(&format!("bmc-{node}"), async {
                                process.enter();
                                tokio::time::sleep(Duration::from_millis(10)).await;
                                process.leave();
                            })
                            .await;
                    }
                    StepOutcome::Done
                })
            })
        };
        let deadline = Duration::from_secs(60);
        let first = engine.run(TaskId::generate(), nodes("a", 6), deadline, CancellationToken::new(), step.clone());
        let second = engine.run(TaskId::generate(), nodes("b", 6), deadline, CancellationToken::new(), step);
        let (first, second) = tokio::join!(collect(first), collect(second));
        assert_eq!(first.len() + second.len(), 12);
        assert!(all_succeeded(&first) && all_succeeded(&second));
        assert_eq!(maas.peak(), 2, "at most endpoint_calls calls to one endpoint, across tasks");
        assert_eq!(process.peak(), 3, "at most process_calls calls in all");
        assert_eq!(between_polls.peak(), 12, "a step waiting between polls holds no call slot");
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_stopped_at_its_deadline_releases_its_call_slots() {
        let engine = Fanout::new(FanoutLimits { task_steps: 64, endpoint_calls: 1, process_calls: 1 });
        let calls = engine.calls().clone();
        let stuck: Step = Arc::new(move |_, _| {
            let calls = calls.clone();
            Box::pin(async move {
                calls.call("maas", std::future::pending::<()>()).await;
                StepOutcome::Done
            })
        });
        let results = collect(engine.run(TaskId::generate(), work(1), Duration::from_secs(5), CancellationToken::new(), stuck)).await;
        assert!(matches!(&results[0].1, StepOutcome::Failed { reason, .. } if reason.contains("deadline")));
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let step = caller(engine.calls().clone(), "maas", Duration::from_millis(10), running, peak.clone());
        let results = collect(engine.run(TaskId::generate(), work(2), Duration::from_secs(5), CancellationToken::new(), step)).await;
        assert!(all_succeeded(&results), "{results:?}");
        assert_eq!(peak.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn gates_nobody_holds_are_forgotten() {
        let gates: Gates<String> = Gates::new(1);
        let held = gates.get(&"held".to_owned());
        for index in 0..10_000 {
            drop(gates.get(&format!("bmc-{index}")));
        }
        let map = gates.map.lock().expect("lock");
        assert!(map.gates.len() <= 128, "{} entries kept", map.gates.len());
        drop(map);
        assert!(Arc::ptr_eq(&held, &gates.get(&"held".to_owned())), "a held gate stays shared");
    }
}
