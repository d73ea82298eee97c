//! Bounded per-node fan-out (architecture B4 "Orchestrator"): run one step
//! for many nodes with a site-wide concurrency limit, a per-endpoint limit
//! (one MaaS region, one BMC), never two steps on the same node at once —
//! across every fan-out sharing the [`Fanout`] — a deadline per step that
//! really fires and reports the last state the step observed, and
//! cancellation. Results stream back as each node finishes, so callers can
//! write each node's outcome at once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

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

/// Concurrency limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FanoutLimits {
    /// Steps running at once, site-wide (default 64).
    pub site_wide: usize,
    /// Steps running at once against one endpoint (default 16).
    pub per_endpoint: usize,
}

impl Default for FanoutLimits {
    fn default() -> Self {
        FanoutLimits { site_wide: 64, per_endpoint: 16 }
    }
}

/// One node's share of a fan-out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeWork {
    /// The node.
    pub node: String,
    /// The endpoint the step talks to (a BMC address, the MaaS URL), if any.
    pub endpoint: Option<String>,
}

/// A step: given a node and its observation slot, do the work.
pub type Step = Arc<dyn Fn(String, Observed) -> Pin<Box<dyn Future<Output = StepOutcome> + Send>> + Send + Sync>;

/// The shared fan-out engine: its limits and node locks apply to every
/// fan-out run through it.
#[derive(Clone)]
pub struct Fanout {
    limits: FanoutLimits,
    site_wide: Arc<Semaphore>,
    endpoints: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
    nodes: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
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
            site_wide: Arc::new(Semaphore::new(limits.site_wide.max(1))),
            endpoints: Arc::new(Mutex::new(HashMap::new())),
            nodes: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn endpoint_limit(&self, endpoint: &str) -> Arc<Semaphore> {
        let mut endpoints = match self.endpoints.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        endpoints.entry(endpoint.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(self.limits.per_endpoint.max(1)))).clone()
    }

    fn node_lock(&self, node: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut nodes = match self.nodes.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        nodes.entry(node.to_owned()).or_default().clone()
    }

    /// Run `step` for every node of `work` within the limits, each under
    /// `deadline`, and stream `(node, outcome)` as nodes finish. A panic in a
    /// step fails that node; cancellation fails nodes still running or waiting.
    pub fn run(
        &self,
        work: Vec<NodeWork>,
        deadline: Duration,
        cancel: CancellationToken,
        step: Step,
    ) -> mpsc::UnboundedReceiver<(String, StepOutcome)> {
        let (sender, receiver) = mpsc::unbounded_channel();
        for item in work {
            let engine = self.clone();
            let sender = sender.clone();
            let cancel = cancel.clone();
            let step = step.clone();
            tokio::spawn(async move {
                let node = item.node.clone();
                let outcome = engine.run_one(item, deadline, cancel, step).await;
                let _ = sender.send((node, outcome));
            });
        }
        receiver
    }

    async fn run_one(&self, work: NodeWork, deadline: Duration, cancel: CancellationToken, step: Step) -> StepOutcome {
        let cancelled = || StepOutcome::Failed { reason: "cancelled before the step ran".into(), last_state: None };
        // Node first, so a node waiting for itself holds no shared permit.
        let node_lock = self.node_lock(&work.node);
        let _node = tokio::select! {
            () = cancel.cancelled() => return cancelled(),
            guard = node_lock.lock() => guard,
        };
        let _site = tokio::select! {
            () = cancel.cancelled() => return cancelled(),
            permit = self.site_wide.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return StepOutcome::failed("the fan-out engine is shutting down"),
            },
        };
        let _endpoint = match &work.endpoint {
            Some(endpoint) => {
                let limit = self.endpoint_limit(endpoint);
                tokio::select! {
                    () = cancel.cancelled() => return cancelled(),
                    permit = limit.acquire_owned() => match permit {
                        Ok(permit) => Some(permit),
                        Err(_) => return StepOutcome::failed("the fan-out engine is shutting down"),
                    },
                }
            }
            None => None,
        };
        let observed = Observed::default();
        // The step runs as its own task so a panic becomes a failure.
        let mut running = tokio::spawn(step(work.node.clone(), observed.clone()));
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

    fn work(count: usize, endpoint: Option<&str>) -> Vec<NodeWork> {
        (0..count).map(|index| NodeWork { node: format!("n{index}"), endpoint: endpoint.map(str::to_owned) }).collect()
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

    async fn collect(mut receiver: mpsc::UnboundedReceiver<(String, StepOutcome)>) -> Vec<(String, StepOutcome)> {
        let mut results = Vec::new();
        while let Some(result) = receiver.recv().await {
            results.push(result);
        }
        results
    }

    #[tokio::test(start_paused = true)]
    async fn site_wide_limit_bounds_concurrency() {
        let engine = Fanout::new(FanoutLimits { site_wide: 3, per_endpoint: 100 });
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let started = tokio::time::Instant::now();
        let results = collect(engine.run(
            work(10, None),
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
        let engine = Fanout::new(FanoutLimits { site_wide: 64, per_endpoint: 2 });
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let results = collect(engine.run(
            work(6, Some("maas")),
            Duration::from_secs(60),
            CancellationToken::new(),
            sleeper(Duration::from_millis(10), running, peak.clone()),
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
        let first = engine.run(work(4, None), Duration::from_secs(60), CancellationToken::new(), step.clone());
        let second = engine.run(work(4, None), Duration::from_secs(60), CancellationToken::new(), step);
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
        let mut results = collect(engine.run(work(3, None), Duration::from_secs(30), CancellationToken::new(), step)).await;
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
        let engine = Fanout::new(FanoutLimits { site_wide: 1, per_endpoint: 1 });
        let cancel = CancellationToken::new();
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let receiver =
            engine.run(work(3, None), Duration::from_secs(600), cancel.clone(), sleeper(Duration::from_secs(100), running, peak));
        tokio::time::sleep(Duration::from_secs(1)).await;
        cancel.cancel();
        let results = collect(receiver).await;
        assert_eq!(results.len(), 3);
        assert!(results.iter().all(|(_, outcome)| matches!(outcome, StepOutcome::Failed { .. })));
        assert_eq!(results.iter().filter(|(_, outcome)| matches!(outcome, StepOutcome::Failed { last_state: Some(_), .. })).count(), 1);
    }
}
