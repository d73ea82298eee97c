//! The `Orchestrator`: its dependencies and configuration, design loading,
//! task bookkeeping (messages, sub-tasks, aggregation), and the two generic
//! step runners every action is built from — a site-wide step run once, and
//! a per-node step fanned out with one child task per node — which write the
//! original's task tree (compat: api spec §2.5, §3.3.2).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::fanout::{CallLimits, Fanout, FanoutLimits, Observed, Step, StepOutcome};
use super::retry::{RetryPolicy, retry};
use crate::compile::EffectiveSite;
use crate::designs::{DesignService, DesignWorkers, PlatformSource};
use crate::drivers::{DriverError, KubernetesDriver, NodeDriver, OobRegistry};
use crate::ids::{DesignRef, TaskId};
use crate::ingest::source::DesignSource;
use crate::metrics::Metrics;
use crate::store::{StateStore, StoreError, UpdateGuard};
use crate::task::aggregate::{align_result, bubble_results};
use crate::task::{Action, RequestContext, StatusMessage, Task, TaskStatus, node_names_filter};
use crate::validate::ReportMessage;

/// Timing and limits (compat: api spec §3.5 for the defaults).
#[derive(Debug, Clone)]
pub struct OrchestratorConfig {
    /// How often the orchestrator looks for queued tasks, termination
    /// requests and lapsed leases as a fallback (tasks submitted or
    /// terminated through this `Orchestrator` wake it at once, and those of
    /// other processes sharing a PostgreSQL store too), and at most how long
    /// between renewals of its task leases.
    pub poll_interval: Duration,
    /// Top-level tasks this process runs at once (at least 1;
    /// docs/scheduling.md).
    pub max_concurrent_tasks: usize,
    /// The task lease: a process that has not renewed its lease on a running
    /// task for this long is considered dead, and another process sharing
    /// the store takes the task over (the original's leader grace period).
    /// Renewed every poll interval, or a third of this when that is shorter.
    pub leader_grace_period: Duration,
    /// Generic step deadline (OOB steps, existence checks), and the
    /// deadline of the read-only actions (validate_design, verify_site) as
    /// a whole.
    pub drydock_timeout: Duration,
    /// Deadline for loading a task's design (fetch with its retries, parse,
    /// compile, validate).
    pub design_load: Duration,
    /// Designs whose evaluation is kept ([`DesignService`]).
    pub design_cache: usize,
    /// Designs parsed and evaluated at once, on the blocking pool.
    pub design_workers: usize,
    /// Deadline for finding a node in the provisioner.
    pub identify_node: Duration,
    /// Deadline for commissioning.
    pub configure_hardware: Duration,
    /// Deadline for deploying.
    pub deploy_node: Duration,
    /// Deadline for releasing.
    pub destroy_node: Duration,
    /// Deadline for boot-action reports.
    pub bootaction_final_status: Duration,
    /// Deadline for relabelling a node through the Kubernetes driver
    /// (`timeouts.relabel_node`).
    pub relabel_node: Duration,
    /// How often provisioner status is polled.
    pub status_poll: Duration,
    /// How often a BMC is polled until a power change holds.
    pub power_poll: Duration,
    /// Fan-out limits: steps per top-level task, driver calls in flight per
    /// endpoint and process-wide (docs/scheduling.md, "Fan-out limits").
    pub limits: FanoutLimits,
    /// Where nodes report boot-action status.
    pub bootaction_report_url: String,
    /// Validate designs accepting libvirt test URIs (`test://`) besides
    /// `qemu+ssh` (DD4002, with a warning): a server whose libvirt driver
    /// allows them (`--libvirt-allow-test-uris`; labs and tests only).
    pub libvirt_test_uris: bool,
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        OrchestratorConfig {
            poll_interval: Duration::from_secs(10),
            max_concurrent_tasks: 16,
            leader_grace_period: Duration::from_secs(300),
            drydock_timeout: Duration::from_secs(5 * 60),
            design_load: Duration::from_secs(5 * 60),
            design_cache: crate::designs::DEFAULT_CAPACITY,
            design_workers: crate::designs::DEFAULT_WORKERS,
            identify_node: Duration::from_secs(10 * 60),
            configure_hardware: Duration::from_secs(30 * 60),
            deploy_node: Duration::from_secs(45 * 60),
            destroy_node: Duration::from_secs(30 * 60),
            bootaction_final_status: Duration::from_secs(15 * 60),
            relabel_node: Duration::from_secs(5 * 60),
            status_poll: Duration::from_secs(10),
            power_poll: Duration::from_secs(2),
            limits: FanoutLimits::default(),
            bootaction_report_url: crate::bootaction::context::DEFAULT_REPORT_URL.into(),
            libvirt_test_uris: false,
        }
    }
}

/// Everything the orchestrator needs.
#[derive(Clone)]
pub struct Dependencies {
    /// Where tasks live.
    pub store: Arc<dyn StateStore>,
    /// Reads design references.
    pub source: Arc<dyn DesignSource>,
    /// The node provisioner, when configured.
    pub node_driver: Option<Arc<dyn NodeDriver>>,
    /// OOB drivers.
    pub oob: OobRegistry,
    /// The Kubernetes driver, when configured.
    pub kubernetes: Option<Arc<dyn KubernetesDriver>>,
}

/// Why an action stopped early. Every error ends the task `complete` with
/// Why a task could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// Its node filter cannot be evaluated by any design (a 400 for an API
    /// client: `Invalid node_filter: …`).
    #[error(transparent)]
    NodeFilter(#[from] crate::compile::RequestFilterError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// result `failure` and the error as a message (compat §3.6 fix).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrchestratorError {
    /// The store failed.
    #[error("state store error")]
    Store(#[from] StoreError),
    /// The design could not be fetched or parsed.
    #[error("design {design_ref} could not be loaded: {detail}")]
    Design {
        /// The reference (redacted).
        design_ref: String,
        /// Why.
        detail: String,
    },
    /// The design is invalid.
    #[error("design {design_ref} failed validation ({errors} errors)")]
    InvalidDesign {
        /// The reference (redacted).
        design_ref: String,
        /// Error count.
        errors: usize,
    },
    /// The task's node filter is unusable.
    #[error("the task's node filter is invalid: {0}")]
    NodeFilter(String),
    /// The task has no design reference.
    #[error("the task has no design_ref")]
    NoDesign,
    /// A driver failed on a site-wide step.
    #[error("driver error")]
    Driver(#[from] DriverError),
    /// Work did not finish within its deadline.
    #[error("{what} did not finish within {}s", after.as_secs())]
    Deadline {
        /// What ran out of time.
        what: String,
        /// The deadline.
        after: Duration,
    },
}

/// The orchestrator. One per process; every process sharing a store runs
/// tasks (runner.rs).
#[derive(Clone)]
pub struct Orchestrator {
    pub(super) deps: Dependencies,
    pub(super) config: Arc<OrchestratorConfig>,
    pub(super) fanout: Fanout,
    /// Loads and evaluates designs (cached, off the runtime).
    pub(super) designs: DesignService,
    /// This instance's identity in its task leases.
    pub instance: uuid::Uuid,
    /// Cancellation of the tasks executing here, by top-level task.
    pub(super) cancellations: Arc<std::sync::Mutex<HashMap<TaskId, CancellationToken>>>,
    /// Wakes the main loop (runner.rs): a task was queued, or its
    /// termination requested, through this orchestrator.
    pub(super) wake: Arc<tokio::sync::Notify>,
    /// Where its tasks, steps, driver calls and store operations are
    /// counted and timed.
    pub(super) metrics: Metrics,
}

impl std::fmt::Debug for Orchestrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orchestrator").field("instance", &self.instance).finish_non_exhaustive()
    }
}

/// A design loaded for a task (shared with every other user of the same
/// content through the [`DesignService`]).
pub(super) type LoadedDesign = Arc<crate::validate::Evaluation>;

impl Orchestrator {
    /// An orchestrator over `deps`, with metrics of its own (see
    /// [`Orchestrator::with_metrics`]).
    pub fn new(deps: Dependencies, config: OrchestratorConfig) -> Self {
        Self::with_metrics(deps, config, Metrics::new())
    }

    /// An orchestrator over `deps` recording into `metrics`: its drivers and
    /// store are wrapped so every driver call and store operation is timed
    /// (the store it hands out, [`Orchestrator::store`], is the wrapped one).
    pub fn with_metrics(mut deps: Dependencies, config: OrchestratorConfig, metrics: Metrics) -> Self {
        deps.store = metrics.store(deps.store);
        deps.node_driver = deps.node_driver.map(|driver| metrics.node_driver(driver));
        deps.oob = deps.oob.map(|driver| metrics.oob(driver));
        deps.kubernetes = deps.kubernetes.map(|driver| metrics.kubernetes(driver));
        let fanout = Fanout::new(config.limits);
        let designs = DesignService::new(
            config.design_cache,
            DesignWorkers::new(config.design_workers),
            PlatformSource::new(deps.node_driver.clone()),
        )
        .with_libvirt_test_uris(config.libvirt_test_uris);
        Orchestrator {
            deps,
            designs,
            config: Arc::new(config),
            fanout,
            instance: uuid::Uuid::new_v4(),
            cancellations: Arc::default(),
            wake: Arc::default(),
            metrics,
        }
    }

    /// The metrics it records into.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.deps.store
    }

    /// The design-loading service its tasks use; a server shares it, so a
    /// design validated through the API and deployed by a task is
    /// evaluated once.
    pub fn designs(&self) -> &DesignService {
        &self.designs
    }

    /// The node driver, when one is configured.
    pub fn node_driver(&self) -> Option<Arc<dyn NodeDriver>> {
        self.deps.node_driver.clone()
    }

    /// The configuration.
    pub fn config(&self) -> &OrchestratorConfig {
        &self.config
    }

    /// Create a task for a client and queue it (compat: api spec §1.3.5).
    pub async fn submit(
        &self,
        action: Action,
        design_ref: DesignRef,
        node_filter: Option<serde_json::Value>,
        created_by: Option<String>,
    ) -> Result<Task, SubmitError> {
        self.submit_with_context(action, design_ref, node_filter, created_by, None).await
    }

    /// [`Orchestrator::submit`], recording who asked ([`RequestContext`]) on
    /// the task. A node filter no design can evaluate is refused
    /// ([`SubmitError::NodeFilter`]) and nothing is stored. The main loop of
    /// this process is woken at once; other processes sharing a PostgreSQL
    /// store are woken by its `NOTIFY`, the others see the task at their
    /// next poll.
    pub async fn submit_with_context(
        &self,
        action: Action,
        design_ref: DesignRef,
        node_filter: Option<serde_json::Value>,
        created_by: Option<String>,
        request_context: Option<RequestContext>,
    ) -> Result<Task, SubmitError> {
        if let Some(filter) = node_filter.as_ref().filter(|filter| !filter.is_null()) {
            crate::compile::select::request_filter(filter)?;
        }
        let mut task = Task::new(action, Some(design_ref));
        task.node_filter = node_filter;
        task.created_by = created_by;
        task.request_context = request_context.as_ref().map(Into::into);
        let created = self.deps.store.task_create(&task).await?;
        let mut queued = created.clone();
        queued.status = TaskStatus::Queued;
        let queued = self.deps.store.task_update(&queued, UpdateGuard::Generation(created.generation)).await?;
        self.metrics.task_created(action);
        self.wake.notify_one();
        Ok(queued)
    }

    /// Flag task `id` and its whole sub-task tree for termination on behalf
    /// of `by`, and wake this process's main loop at once: a queued task
    /// then ends `terminated` without waiting for the next poll (other
    /// processes sharing a PostgreSQL store are told by its `NOTIFY`). A
    /// running task is stopped by its watcher.
    pub async fn terminate(&self, id: TaskId, by: &str) -> Result<(), StoreError> {
        self.deps.store.task_mark_terminate(id, by, true).await?;
        self.wake.notify_one();
        Ok(())
    }

    /// The cancellation token of the executing task `id` or of the top-level
    /// task it belongs to (a fresh, never-cancelled token when unknown).
    pub(super) fn cancellation(&self, id: TaskId) -> CancellationToken {
        let tokens = match self.cancellations.lock() {
            Ok(tokens) => tokens,
            Err(poisoned) => poisoned.into_inner(),
        };
        tokens.get(&id).cloned().unwrap_or_default()
    }

    /// Register `id` as executing; the token fires when the task is flagged
    /// for termination (checked every poll interval) or `stop` is dropped.
    pub(super) fn track(&self, id: TaskId) -> CancellationToken {
        let token = CancellationToken::new();
        if let Ok(mut tokens) = self.cancellations.lock() {
            tokens.insert(id, token.clone());
        }
        let store = self.deps.store.clone();
        let watched = token.clone();
        let poll = self.config.poll_interval;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = watched.cancelled() => return,
                    () = tokio::time::sleep(poll) => {}
                }
                if let Ok(task) = store.task_get(id).await
                    && task.terminate
                {
                    watched.cancel();
                    return;
                }
            }
        });
        token
    }

    /// Stop tracking `id`.
    pub(super) fn untrack(&self, id: TaskId) {
        if let Ok(mut tokens) = self.cancellations.lock()
            && let Some(token) = tokens.remove(&id)
        {
            // Stops the watcher (the work is over).
            token.cancel();
        }
    }

    // ---- bookkeeping ----

    pub(super) async fn message(&self, task: TaskId, message: StatusMessage) -> Result<(), StoreError> {
        self.deps.store.result_message_add(task, &message).await
    }

    /// Write a task's status/result and return the stored copy.
    pub(super) async fn save(&self, task: &Task) -> Result<Task, StoreError> {
        self.deps.store.task_update(task, UpdateGuard::Unconditional).await
    }

    /// Create a sub-task of `parent` for `action` over `nodes` (a generated
    /// filter) or with `filter`, and register it unless `register` is false.
    pub(super) async fn subtask(
        &self,
        parent: &Task,
        action: Action,
        filter: Option<serde_json::Value>,
        register: bool,
    ) -> Result<Task, StoreError> {
        let mut child = parent.child(action);
        child.node_filter = filter;
        // Children carry their parent's retry round (compat §2.8), so a
        // resumed task aggregates only the failures of its current round.
        child.retry = parent.retry;
        if !register {
            child.parent = None;
        }
        let child = self.deps.store.task_create(&child).await?;
        if register {
            self.deps.store.task_add_subtask(parent.id, child.id).await?;
            self.message(
                parent.id,
                StatusMessage::new(format!("Started subtask {} for action {}", child.id, action), false, "task", parent.id.to_string()),
            )
            .await?;
        }
        self.deps.store.task_get(child.id).await
    }

    /// Re-read `task`, aggregate its finished sub-tasks, and save it.
    pub(super) async fn aggregate(
        &self,
        task_id: TaskId,
        successes_from: Option<Action>,
        align_on: Option<Action>,
    ) -> Result<Task, StoreError> {
        let mut task = self.deps.store.task_get(task_id).await?;
        let children = self.deps.store.task_children(task_id).await?;
        bubble_results(&mut task, &children, successes_from);
        align_result(&mut task, &children, align_on);
        self.save(&task).await
    }

    /// Mark `task` complete (keeping its result) and save.
    pub(super) async fn complete(&self, task_id: TaskId) -> Result<Task, StoreError> {
        let mut task = self.deps.store.task_get(task_id).await?;
        task.status = TaskStatus::Complete;
        self.save(&task).await
    }

    // ---- designs ----

    /// Fetch the task's design (retrying a transient failure) and evaluate
    /// it through the shared [`DesignService`] — parsed, compiled and
    /// validated once per distinct content and catalogue, on the blocking
    /// pool — within [`OrchestratorConfig::design_load`]. The scheduler's
    /// look at a queued task's nodes and the task's own run share one
    /// evaluation.
    pub(super) async fn load_design(&self, task: &Task) -> Result<LoadedDesign, OrchestratorError> {
        let design_ref = task.design_ref.clone().ok_or(OrchestratorError::NoDesign)?;
        let deadline = self.config.design_load;
        tokio::time::timeout(deadline, self.load_design_unbounded(&design_ref))
            .await
            .map_err(|_| OrchestratorError::Deadline { what: format!("loading design {design_ref}"), after: deadline })?
    }

    async fn load_design_unbounded(&self, design_ref: &crate::ids::DesignRef) -> Result<LoadedDesign, OrchestratorError> {
        let source = self.deps.source.clone();
        let design_error = |detail: String| OrchestratorError::Design { design_ref: design_ref.to_string(), detail };
        let fetched = retry(
            &RetryPolicy::DESIGN_FETCH,
            &CancellationToken::new(),
            |error: &crate::ingest::source::SourceError| error.is_transient(),
            |_| {
                let source = source.clone();
                let design_ref = design_ref.clone();
                async move { source.fetch(&design_ref).await }
            },
        )
        .await
        .map_err(|error| design_error(error.to_string()))?;
        self.designs.evaluate(&design_ref.0, fetched).await.map_err(|error| design_error(error.to_string()))
    }

    /// The design, which must be valid (compat §3.2.2 `get_target_nodes`):
    /// otherwise its error messages are copied to the task.
    pub(super) async fn valid_site(&self, task: &Task) -> Result<Arc<EffectiveSite>, OrchestratorError> {
        let loaded = self.load_design(task).await?;
        match &loaded.site {
            Some(site) if loaded.report.is_success() => Ok(site.clone()),
            _ => {
                for message in loaded.report.messages.iter().filter(|message| message.is_error()) {
                    let text = match message {
                        ReportMessage::Finding(finding) => finding.message.clone(),
                        ReportMessage::Plain { message, .. } => message.clone(),
                    };
                    self.message(task.id, StatusMessage::task_wide(text, true)).await?;
                }
                Err(OrchestratorError::InvalidDesign {
                    design_ref: task.design_ref.as_ref().map(|d| d.to_string()).unwrap_or_default(),
                    errors: loaded.report.error_count,
                })
            }
        }
    }

    /// The names of the nodes the task's filter selects, in design order.
    pub(super) fn target_nodes(&self, site: &EffectiveSite, task: &Task) -> Result<Vec<String>, OrchestratorError> {
        let filter = match &task.node_filter {
            None | Some(serde_json::Value::Null) => None,
            Some(value) => {
                Some(crate::ingest::map::node_filter_from_json(value).map_err(|error| OrchestratorError::NodeFilter(error.to_string()))?)
            }
        };
        let indices = site.select(filter.as_ref()).map_err(|error| OrchestratorError::NodeFilter(error.to_string()))?;
        Ok(indices.into_iter().map(|index| site.nodes()[index].name().to_owned()).collect())
    }

    // ---- the two step runners ----

    /// Run a site-wide step as a registered sub-task of `parent`: the step
    /// succeeds or fails as a whole; its errors become messages. Runs in a
    /// `stage` span (`step`, `parent_task_id`, the sub-task's `task_id`).
    #[tracing::instrument(name = "stage", skip_all, fields(step = action.as_str(), parent_task_id = %parent.id, task_id = tracing::field::Empty))]
    pub(super) async fn site_step(
        &self,
        parent: &Task,
        action: Action,
        step: BoxFuture<'static, Result<Vec<String>, DriverError>>,
    ) -> Result<Task, StoreError> {
        let mut task = self.subtask(parent, action, None, true).await?;
        tracing::Span::current().record("task_id", tracing::field::display(task.id));
        task.status = TaskStatus::Running;
        let mut task = self.save(&task).await?;
        let cancel = self.cancellation(parent.id);
        let started = std::time::Instant::now();
        // Its own task, so a panic in the driver becomes a failure (still
        // within this stage's span).
        let mut running = tokio::spawn(tracing::Instrument::in_current_span(step));
        let outcome = tokio::select! {
            joined = &mut running => joined.unwrap_or_else(|error| Err(DriverError::new(
                crate::drivers::DriverErrorKind::Permanent,
                action.as_str(),
                "node provisioner",
                if error.is_panic() { "the driver panicked (a driver defect)".to_owned() } else { "the step was aborted".to_owned() },
            ))),
            () = tokio::time::sleep(self.config.drydock_timeout) => Err(DriverError::new(
                crate::drivers::DriverErrorKind::Transient,
                action.as_str(),
                "node provisioner",
                format!("no answer within {}s", self.config.drydock_timeout.as_secs()),
            )),
            () = cancel.cancelled() => Err(DriverError::new(crate::drivers::DriverErrorKind::Permanent, action.as_str(), "task", "cancelled")),
        };
        running.abort();
        self.metrics.site_step(action, if outcome.is_ok() { "done" } else { "failed" }, started.elapsed());
        match outcome {
            Ok(notes) => {
                for note in notes {
                    self.message(task.id, StatusMessage::task_wide(note, false)).await?;
                }
                task.result.success(None);
            }
            Err(error) => {
                self.message(
                    task.id,
                    StatusMessage::new(format!("Subtask for action {action} raised an error: {error}"), true, "task", task.id.to_string()),
                )
                .await?;
                task.result.failure(None);
            }
        }
        task.status = TaskStatus::Complete;
        let task = self.save(&task).await?;
        self.message(parent.id, StatusMessage::new(format!("Collected subtask {}", task.id), false, "task", task.id.to_string())).await?;
        Ok(task)
    }

    /// Run a per-node step: a registered driver task of `parent` (unless
    /// `register` is false) with one child task per node, fanned out within
    /// the limits under `deadline` — `parent` is the top-level task, whose
    /// budget of steps the fan-out uses; each child ends with
    /// `success(node)` or `failure(node)` and a message; the driver task
    /// aggregates them.
    ///
    /// Runs in a `stage` span (`step`, `parent_task_id`, the driver task's
    /// `task_id`, `nodes`); each node's step in a `node_step` span within it
    /// (`task_id` of the node's child task, `node`, `step`, `outcome`).
    #[tracing::instrument(
        name = "stage",
        skip_all,
        fields(step = plan.action.as_str(), parent_task_id = %parent.id, task_id = tracing::field::Empty, nodes = plan.nodes.len())
    )]
    pub(super) async fn node_step(&self, parent: &Task, plan: StepPlan<'_>, step: NodeStep) -> Result<Task, StoreError> {
        let StepPlan { action, nodes, register, deadline } = plan;
        let mut driver_task = self.subtask(parent, action, Some(node_names_filter(nodes)), register).await?;
        let stage = tracing::Span::current();
        stage.record("task_id", tracing::field::display(driver_task.id));
        driver_task.status = TaskStatus::Running;
        driver_task = self.save(&driver_task).await?;
        let mut children: HashMap<String, Task> = HashMap::new();
        for node in nodes {
            let mut child = self.subtask(&driver_task, action, Some(node_names_filter(std::slice::from_ref(node))), true).await?;
            child.status = TaskStatus::Running;
            children.insert(node.clone(), self.save(&child).await?);
        }
        let child_ids: Arc<HashMap<String, TaskId>> = Arc::new(children.iter().map(|(node, child)| (node.clone(), child.id)).collect());
        let calls = self.fanout.calls().clone();
        let metrics = self.metrics.clone();
        let fanned: Step = Arc::new(move |node: String, observed: Observed| {
            let task = child_ids.get(&node).copied();
            let step = step.clone();
            let calls = calls.clone();
            // Records `aborted` if the step is dropped at its deadline.
            let timer = metrics.node_step_timer(action);
            let span = tracing::info_span!(
                parent: &stage,
                "node_step",
                task_id = tracing::field::Empty,
                node = %node,
                step = action.as_str(),
                outcome = tracing::field::Empty
            );
            if let Some(task) = task {
                span.record("task_id", tracing::field::display(task));
            }
            let work = async move {
                let outcome = match task {
                    Some(task) => step(NodeCall { node, task, observed, calls }).await,
                    None => StepOutcome::failed("internal error: no task for this node"),
                };
                timer.finish(outcome.label());
                tracing::Span::current().record("outcome", outcome.label());
                outcome
            };
            Box::pin(tracing::Instrument::instrument(work, span))
        });
        let mut results = self.fanout.run(parent.id, nodes.to_vec(), deadline, self.cancellation(parent.id), fanned);
        while let Some((node, outcome)) = results.recv().await {
            let Some(mut child) = children.remove(&node) else { continue };
            match &outcome {
                StepOutcome::Done | StepOutcome::AlreadyDone => child.result.success(Some(&node)),
                StepOutcome::Skipped(reason) => {
                    self.message(child.id, StatusMessage::node(&node, reason.clone(), false)).await?;
                    child.result.success(Some(&node));
                }
                StepOutcome::Failed { reason, last_state } => {
                    let text = match last_state {
                        Some(state) => format!("{reason} (last observed: {state})"),
                        None => reason.clone(),
                    };
                    self.message(child.id, StatusMessage::node(&node, text, true)).await?;
                    child.result.failure(Some(&node));
                }
            }
            child.status = TaskStatus::Complete;
            self.save(&child).await?;
        }
        // A node whose result never arrived (its worker died) fails clearly.
        for (node, mut child) in children {
            self.message(
                child.id,
                StatusMessage::new(format!("Subtask {} timed out before completing.", child.id), true, "task", child.id.to_string()),
            )
            .await?;
            child.result.failure(Some(&node));
            child.status = TaskStatus::Complete;
            self.save(&child).await?;
        }
        self.aggregate(driver_task.id, None, None).await?;
        self.complete(driver_task.id).await
    }
}

/// Which per-node step to run, on which nodes, registered or not, and under
/// which deadline.
#[derive(Debug, Clone, Copy)]
pub(super) struct StepPlan<'a> {
    pub(super) action: Action,
    pub(super) nodes: &'a [String],
    pub(super) register: bool,
    pub(super) deadline: Duration,
}

/// What a per-node step is given: the node, its child task, where to
/// record what it observes, and the limits its driver calls go through.
#[derive(Debug, Clone)]
pub struct NodeCall {
    /// The node.
    pub node: String,
    /// The node's child task (messages and records go there).
    pub task: TaskId,
    /// The observation slot a deadline reports from.
    pub observed: Observed,
    /// The process's bounds on driver calls in flight, per endpoint and in
    /// all: every driver call of a step goes through them.
    pub calls: CallLimits,
}

/// A per-node step.
pub type NodeStep = Arc<dyn Fn(NodeCall) -> BoxFuture<'static, StepOutcome> + Send + Sync>;

/// A [`NodeStep`] from an async closure.
pub(super) fn node_step_fn<F, Fut>(work: F) -> NodeStep
where
    F: Fn(NodeCall) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = StepOutcome> + Send + 'static,
{
    Arc::new(move |call| Box::pin(work(call)))
}
