//! The orchestrator actions (compat: api spec §3.4), one file each, and
//! [`Orchestrator::execute`], which wraps every action: `running` first,
//! `complete` last, and any error becomes an error message and a `failure`
//! rather than a task stuck in `running` (§3.6 fix).
//!
//! The node actions whose stages form a chain — each per-node step runs
//! over the nodes the one before left ready — are data: a [`NodeAction`]
//! lists its [`NodeStage`]s (`deploy_nodes.rs`, `destroy_nodes.rs`,
//! `relabel_nodes.rs`) and one interpreter, [`Orchestrator::run_node_action`],
//! runs them. The others are short functions over the same building blocks
//! (site steps, OOB steps by OOB type, the boot-action report).
//!
//! Retries of a node step (identify while a machine enlists, commissioning,
//! deployment) happen inside the step, through `retry.rs` and `wait.rs`, so
//! a node that fails once and then succeeds is listed only as a success.

mod bootaction_report;
mod deploy_nodes;
mod destroy_nodes;
mod noop;
mod prepare_nodes;
mod prepare_site;
mod relabel_nodes;
mod validate_design;
mod verify_nodes;
mod verify_site;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::engine::{NodeStep, Orchestrator, OrchestratorConfig, OrchestratorError, StepPlan};
use super::fanout::StepOutcome;
use super::retry::{RetryError, RetryPolicy, retry};
use super::steps::{self, StepContext};
use crate::compile::EffectiveSite;
use crate::drivers::NodeDriver;
use crate::ids::TaskId;
use crate::store::StoreError;
use crate::task::{Action, ActionResult, StatusMessage, Task, TaskStatus};

type ActionResultOf = Result<(), OrchestratorError>;

/// One per-node stage of a [`NodeAction`]: a registered sub-task of
/// `action` over the nodes still in play.
pub(super) struct NodeStage<D: ?Sized> {
    /// The sub-task's action.
    pub(super) action: Action,
    /// The step's deadline per node.
    pub(super) deadline: fn(&OrchestratorConfig) -> Duration,
    /// Whether a failing node runs the step again at once
    /// ([`RetryPolicy::NODE_STEP_AGAIN`]).
    pub(super) again: bool,
    /// Whether the action's result lists come from this stage when it runs
    /// (otherwise from the first stage, or a later one that says so).
    pub(super) result: bool,
    /// The step.
    pub(super) step: fn(&StepContext, Arc<EffectiveSite>, Arc<D>) -> NodeStep,
}

/// A node action as data: its stages in order, each over the nodes the one
/// before left ready (a stage with no node left does not run), optionally
/// followed by the wait for the nodes' boot-action reports; then the task's
/// result is rebuilt from its sub-tasks, its lists from the result stage.
pub(super) struct NodeAction<D: ?Sized + 'static> {
    /// What the task says when its node filter selects no node.
    pub(super) nothing_to_do: &'static str,
    /// The stages.
    pub(super) stages: &'static [NodeStage<D>],
    /// Whether the nodes left ready then report their boot actions.
    pub(super) bootaction_report: bool,
}

impl Orchestrator {
    /// Execute task `id` to the end (the main loop runs this for each task
    /// it starts; tests call it directly). Returns the finished task.
    ///
    /// Runs in a `task` span (`task_id`, `action`, and `result` at the
    /// end); its stages, node steps and driver calls are spans within it.
    #[tracing::instrument(name = "task", skip_all, fields(task_id = %id, action = tracing::field::Empty, result = tracing::field::Empty))]
    pub async fn execute(&self, id: TaskId) -> Result<Task, StoreError> {
        let started = std::time::Instant::now();
        let mut task = self.deps.store.task_get(id).await?;
        tracing::Span::current().record("action", task.action.as_str());
        task.status = TaskStatus::Running;
        let task = self.save(&task).await?;
        tracing::info!(task_id = %task.id, action = %task.action, "task started");
        let cancel = self.track(task.id);
        let outcome = match task.action {
            Action::Noop => noop::run(self, &task).await,
            // Read-only actions run under the generic deadline as a whole.
            Action::ValidateDesign => self.within_deadline(&task, validate_design::run(self, &task)).await,
            Action::VerifySite => self.within_deadline(&task, verify_site::run(self, &task)).await,
            Action::PrepareSite => prepare_site::run(self, &task).await,
            Action::VerifyNodes => verify_nodes::run(self, &task).await,
            Action::PrepareNodes => prepare_nodes::run(self, &task).await,
            Action::DeployNodes => deploy_nodes::run(self, &task).await,
            Action::DestroyNodes => destroy_nodes::run(self, &task).await,
            Action::RelabelNodes => relabel_nodes::run(self, &task).await,
            other => {
                self.message(task.id, StatusMessage::new(format!("Unsupported action {other}."), true, "task", task.id.to_string()))
                    .await?;
                self.fail(task.id).await.map(drop).map_err(OrchestratorError::from)
            }
        };
        let terminated = cancel.is_cancelled() && self.deps.store.task_get(id).await.map(|t| t.terminate).unwrap_or(false);
        self.untrack(task.id);
        if terminated {
            let mut current = self.deps.store.task_get(id).await?;
            current.status = TaskStatus::Terminated;
            current.result.status = ActionResult::Failure;
            self.save(&current).await?;
            self.message(id, StatusMessage::task_wide("Action terminated.", false)).await?;
        }
        if let Err(error) = outcome {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(inner) = source {
                text.push_str(&format!(": {inner}"));
                source = inner.source();
            }
            tracing::error!(task_id = %task.id, action = %task.action, error = %text, "task failed");
            self.message(task.id, StatusMessage::new(text, true, "task", task.id.to_string())).await?;
            self.fail(task.id).await?;
        }
        let mut finished = self.deps.store.task_get(id).await?;
        if finished.status != TaskStatus::Terminated {
            finished.status = TaskStatus::Complete;
            finished = self.save(&finished).await?;
        }
        tracing::info!(task_id = %finished.id, result = %finished.result.status, "task finished");
        let result = if finished.status == TaskStatus::Terminated { "terminated" } else { finished.result.status.as_str() };
        tracing::Span::current().record("result", result);
        self.metrics.task_finished(finished.action, result, started.elapsed());
        Ok(finished)
    }

    /// Run a [`NodeAction`] for `task` with `driver`: the valid design, the
    /// nodes its filter selects, the stages in order, the boot-action
    /// report, the result.
    pub(super) async fn run_node_action<D: ?Sized + 'static>(&self, task: &Task, plan: &NodeAction<D>, driver: Arc<D>) -> ActionResultOf {
        let site = self.valid_site(task).await?;
        let mut ready = self.target_nodes(&site, task)?;
        if ready.is_empty() {
            return self.nothing_to_do(task, plan.nothing_to_do).await;
        }
        let context = self.step_context();
        let mut result_from = plan.stages.first().map(|stage| stage.action);
        for (index, stage) in plan.stages.iter().enumerate() {
            if index > 0 && ready.is_empty() {
                break;
            }
            let mut step = (stage.step)(&context, site.clone(), driver.clone());
            if stage.again {
                step = again(step);
            }
            let plan = StepPlan { action: stage.action, nodes: &ready, register: true, deadline: (stage.deadline)(&self.config) };
            let done = self.node_step(task, plan, step).await?;
            if stage.result {
                result_from = Some(stage.action);
            }
            ready = done.result.successes.clone();
        }
        if plan.bootaction_report && !ready.is_empty() {
            bootaction_report::run(self, task, &ready).await?;
            result_from = Some(Action::BootactionReport);
        }
        self.aggregate_status(task.id, true, result_from).await?;
        Ok(())
    }

    /// What the steps of this orchestrator's tasks are given.
    pub(super) fn step_context(&self) -> StepContext {
        StepContext { config: self.config.clone(), store: self.deps.store.clone(), source: self.deps.source.clone() }
    }

    async fn fail(&self, id: TaskId) -> Result<Task, StoreError> {
        let mut task = self.deps.store.task_get(id).await?;
        task.result.failure(None);
        self.save(&task).await
    }

    async fn succeed(&self, id: TaskId) -> Result<Task, StoreError> {
        let mut task = self.deps.store.task_get(id).await?;
        task.result.success(None);
        self.save(&task).await
    }

    /// The node driver, or the original's "no driver" ending (§3.4.3).
    async fn require_node_driver(&self, task: &Task) -> Result<Option<Arc<dyn NodeDriver>>, OrchestratorError> {
        if let Some(driver) = &self.deps.node_driver {
            return Ok(Some(driver.clone()));
        }
        self.message(task.id, StatusMessage::new("No node driver enabled, ending task.", true, "task", task.id.to_string())).await?;
        self.end_unconfigured(task.id, "No NodeDriver enabled.").await?;
        Ok(None)
    }

    /// End a task whose driver is not configured, as the original does.
    async fn end_unconfigured(&self, id: TaskId, message: &str) -> Result<(), StoreError> {
        let mut current = self.deps.store.task_get(id).await?;
        current.result.message = Some(message.into());
        current.result.reason = Some("Bad Configuration.".into());
        current.result.failure(None);
        self.save(&current).await.map(drop)
    }

    /// No nodes selected: the original's message and `success()`.
    async fn nothing_to_do(&self, task: &Task, text: &str) -> ActionResultOf {
        self.message(task.id, StatusMessage::task_wide(text, false)).await?;
        self.succeed(task.id).await?;
        Ok(())
    }

    /// Run `action` for `task` within [`OrchestratorConfig::drydock_timeout`].
    async fn within_deadline(&self, task: &Task, action: impl std::future::Future<Output = ActionResultOf>) -> ActionResultOf {
        let deadline = self.config.drydock_timeout;
        tokio::time::timeout(deadline, action)
            .await
            .map_err(|_| OrchestratorError::Deadline { what: format!("action {}", task.action), after: deadline })?
    }

    /// Group `nodes` by OOB type in order of first appearance; a type no
    /// driver handles fails its nodes with the original's message.
    async fn by_oob_type(
        &self,
        task: &Task,
        site: &EffectiveSite,
        nodes: &[String],
    ) -> Result<Vec<(String, Vec<String>)>, OrchestratorError> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for name in nodes {
            let oob_type = site.node(name).and_then(|node| node.config.oob_type.clone()).unwrap_or_default();
            match groups.iter_mut().find(|(kind, _)| *kind == oob_type) {
                Some((_, members)) => members.push(name.clone()),
                None => groups.push((oob_type, vec![name.clone()])),
            }
        }
        let mut supported = Vec::new();
        for (oob_type, members) in groups {
            if self.deps.oob.for_type(&oob_type).is_some() {
                supported.push((oob_type, members));
            } else {
                for name in &members {
                    self.message(task.id, StatusMessage::node(name, format!("Node {name} OOB type {oob_type} is not supported."), true))
                        .await?;
                }
                self.fail(task.id).await?;
            }
        }
        Ok(supported)
    }

    /// Run an OOB step per OOB type over `nodes`.
    async fn oob_step(
        &self,
        task: &Task,
        site: &Arc<EffectiveSite>,
        action: Action,
        nodes: &[String],
    ) -> Result<Vec<Task>, OrchestratorError> {
        let context = self.step_context();
        let mut tasks = Vec::new();
        for (oob_type, members) in self.by_oob_type(task, site, nodes).await? {
            let Some(driver) = self.deps.oob.for_type(&oob_type) else { continue };
            let step = match action {
                Action::SetNodeBoot => steps::set_pxe_boot(site.clone(), driver),
                Action::PowerCycleNode => steps::power_cycle_to_pxe(context.clone(), site.clone(), driver),
                _ => steps::interrogate_oob(site.clone(), driver),
            };
            let plan = StepPlan { action, nodes: &members, register: true, deadline: self.config.drydock_timeout };
            tasks.push(self.node_step(task, plan, step).await?);
        }
        Ok(tasks)
    }

    /// Align the task's result with its finished sub-tasks; with `lists`,
    /// rebuild its success and failure lists too (successes from `from`).
    async fn aggregate_status(&self, id: TaskId, lists: bool, from: Option<Action>) -> Result<Task, StoreError> {
        let mut current = self.deps.store.task_get(id).await?;
        let children = self.deps.store.task_children(id).await?;
        if lists {
            crate::task::aggregate::bubble_results(&mut current, &children, from);
        }
        crate::task::aggregate::align_result(&mut current, &children, None);
        self.save(&current).await
    }
}

/// `step`, run again at once while it fails, under
/// [`RetryPolicy::NODE_STEP_AGAIN`] (a skipped node is not run again).
fn again(step: NodeStep) -> NodeStep {
    Arc::new(move |call| {
        let step = step.clone();
        Box::pin(async move {
            let outcome = retry(
                &RetryPolicy::NODE_STEP_AGAIN,
                &CancellationToken::new(),
                |_: &StepOutcome| true,
                |_| {
                    let (step, call) = (step.clone(), call.clone());
                    async move {
                        let outcome = step(call).await;
                        if outcome.is_success() || matches!(outcome, StepOutcome::Skipped(_)) { Ok(outcome) } else { Err(outcome) }
                    }
                },
            )
            .await;
            match outcome {
                Ok(outcome) => outcome,
                Err(RetryError::Permanent(last) | RetryError::Exhausted { last, .. }) => last,
                Err(RetryError::Cancelled { .. }) => StepOutcome::failed("cancelled"),
            }
        })
    })
}
