//! The orchestrator actions (compat: api spec §3.4), each an ordered list of
//! steps, and [`Orchestrator::execute`], which wraps every action: `running`
//! first, `complete` last, and any error becomes an error message and a
//! `failure` rather than a task stuck in `running` (§3.6 fix).
//!
//! Retries of a node step (identify while a machine enlists, commissioning,
//! deployment) happen inside the step, so a node that fails once and then
//! succeeds is listed only as a success.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::engine::{Orchestrator, OrchestratorError, StepPlan};
use super::retry::{RetryPolicy, retry_driver};
use super::steps::{self, ApplyKind};
use crate::compile::EffectiveSite;
use crate::drivers::NodeDriver;
use crate::ids::TaskId;
use crate::store::StoreError;
use crate::task::{Action, ActionResult, StatusMessage, Task, TaskStatus, node_names_filter};

type ActionResultOf = Result<(), OrchestratorError>;

impl Orchestrator {
    /// Execute task `id` to the end (the leader runs this for each claimed
    /// task; tests call it directly). Returns the finished task.
    pub async fn execute(&self, id: TaskId) -> Result<Task, StoreError> {
        let mut task = self.deps.store.task_get(id).await?;
        task.status = TaskStatus::Running;
        let task = self.save(&task).await?;
        tracing::info!(task_id = %task.id, action = %task.action, "task started");
        let cancel = self.track(task.id);
        let outcome = match task.action {
            Action::Noop => self.noop(&task).await,
            // Read-only actions run under the generic deadline as a whole.
            Action::ValidateDesign => self.within_deadline(&task, self.validate_design(&task)).await,
            Action::VerifySite => self.within_deadline(&task, self.verify_site(&task)).await,
            Action::PrepareSite => self.prepare_site(&task).await,
            Action::VerifyNodes => self.verify_nodes(&task).await,
            Action::PrepareNodes => self.prepare_nodes(&task).await,
            Action::DeployNodes => self.deploy_nodes(&task).await,
            Action::DestroyNodes => self.destroy_nodes(&task).await,
            Action::RelabelNodes => self.relabel_nodes(&task).await,
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
        Ok(finished)
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
        let mut current = self.deps.store.task_get(task.id).await?;
        current.result.message = Some("No NodeDriver enabled.".into());
        current.result.reason = Some("Bad Configuration.".into());
        current.result.failure(None);
        self.save(&current).await?;
        Ok(None)
    }

    /// No nodes selected: the original's message and `success()`.
    async fn nothing_to_do(&self, task: &Task, text: &str) -> ActionResultOf {
        self.message(task.id, StatusMessage::task_wide(text, false)).await?;
        self.succeed(task.id).await?;
        Ok(())
    }

    /// Run `action` for `task` within [`OrchestratorConfig::drydock_timeout`].
    ///
    /// [`OrchestratorConfig::drydock_timeout`]: super::OrchestratorConfig::drydock_timeout
    async fn within_deadline(&self, task: &Task, action: impl std::future::Future<Output = ActionResultOf>) -> ActionResultOf {
        let deadline = self.config.drydock_timeout;
        tokio::time::timeout(deadline, action)
            .await
            .map_err(|_| OrchestratorError::Deadline { what: format!("action {}", task.action), after: deadline })?
    }

    async fn noop(&self, task: &Task) -> ActionResultOf {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let mut current = self.deps.store.task_get(task.id).await?;
        if current.terminate {
            current.status = TaskStatus::Terminated;
            current.result.failure(None);
            self.save(&current).await?;
            self.message(task.id, StatusMessage::task_wide("Action terminated.", false)).await?;
            return Ok(());
        }
        if task.design_ref.is_some()
            && let Ok(site) = self.valid_site(task).await
        {
            for node in self.target_nodes(&site, task)? {
                current.result.success(Some(&node));
            }
        }
        current.result.success(None);
        self.save(&current).await?;
        self.message(task.id, StatusMessage::task_wide("Noop action.", false)).await?;
        Ok(())
    }

    /// The intended behaviour (§3.4.2 fix): copy the validation messages and
    /// succeed exactly when the design is valid.
    async fn validate_design(&self, task: &Task) -> ActionResultOf {
        let loaded = self.load_design(task).await?;
        for message in &loaded.report.messages {
            let status = match message {
                crate::validate::ReportMessage::Finding(finding) => {
                    let context = finding.documents.first().map(|doc| doc.name.clone()).unwrap_or_else(|| "NA".into());
                    StatusMessage::new(
                        finding.message.clone(),
                        finding.is_error(),
                        if context == "NA" { "NA" } else { "document" },
                        context,
                    )
                }
                crate::validate::ReportMessage::Plain { message, error, .. } => StatusMessage::task_wide(message.clone(), *error),
            };
            self.message(task.id, status).await?;
        }
        if loaded.report.is_success() {
            self.succeed(task.id).await?;
        } else {
            self.fail(task.id).await?;
        }
        Ok(())
    }

    async fn verify_site(&self, task: &Task) -> ActionResultOf {
        let Some(driver) = self.require_node_driver(task).await? else { return Ok(()) };
        self.site_step(task, Action::ValidateNodeServices, Box::pin(async move { driver.check().await.map(|()| Vec::new()) })).await?;
        self.aggregate_status(task.id, false, None).await?;
        Ok(())
    }

    async fn prepare_site(&self, task: &Task) -> ActionResultOf {
        let Some(driver) = self.require_node_driver(task).await? else { return Ok(()) };
        let site = self.valid_site(task).await?;
        // All three run even if one fails (compat §3.4.4).
        let (network, credentials, provisioner) = (driver.clone(), driver.clone(), driver);
        let (a, b, c) = (site.clone(), site.clone(), site);
        self.site_step(
            task,
            Action::CreateNetworkTemplate,
            Box::pin(async move { retry_driver(&RetryPolicy::MAAS_API, |_| network.ensure_network_template(&a)).await.map(|s| s.changes) }),
        )
        .await?;
        self.site_step(
            task,
            Action::ConfigureUserCredentials,
            Box::pin(
                async move { retry_driver(&RetryPolicy::MAAS_API, |_| credentials.ensure_user_credentials(&b)).await.map(|s| s.changes) },
            ),
        )
        .await?;
        self.site_step(
            task,
            Action::ConfigureNodeProvisioner,
            Box::pin(async move {
                retry_driver(&RetryPolicy::MAAS_API, |_| provisioner.ensure_provisioner_config(&c)).await.map(|s| s.changes)
            }),
        )
        .await?;
        self.aggregate_status(task.id, false, None).await?;
        Ok(())
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
                let mut current = self.deps.store.task_get(task.id).await?;
                current.result.failure(None);
                self.save(&current).await?;
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
        let mut tasks = Vec::new();
        for (oob_type, members) in self.by_oob_type(task, site, nodes).await? {
            let Some(driver) = self.deps.oob.for_type(&oob_type) else { continue };
            let step = match action {
                Action::SetNodeBoot => steps::set_pxe_boot(site.clone(), driver),
                Action::PowerCycleNode => steps::power_cycle_to_pxe(self.clone(), site.clone(), driver),
                _ => steps::interrogate_oob(site.clone(), driver),
            };
            tasks.push(
                self.node_step(task, StepPlan { action, nodes: &members, register: true, deadline: self.config.drydock_timeout }, step)
                    .await?,
            );
        }
        Ok(tasks)
    }

    async fn verify_nodes(&self, task: &Task) -> ActionResultOf {
        let loaded = self.load_design(task).await?;
        let Some(site) = loaded.site.clone() else {
            return Err(OrchestratorError::InvalidDesign {
                design_ref: task.design_ref.as_ref().map(|d| d.to_string()).unwrap_or_default(),
                errors: loaded.report.error_count,
            });
        };
        let nodes = self.target_nodes(&site, task)?;
        if nodes.is_empty() {
            return self.nothing_to_do(task, "No nodes in scope, no work to do.").await;
        }
        self.oob_step(task, &site, Action::InterrogateOob, &nodes).await?;
        // compat §3.4.5: only the status is aggregated, not the lists.
        self.aggregate_status(task.id, false, None).await?;
        Ok(())
    }

    async fn prepare_nodes(&self, task: &Task) -> ActionResultOf {
        let Some(driver) = self.require_node_driver(task).await? else { return Ok(()) };
        let site = self.valid_site(task).await?;
        let nodes = self.target_nodes(&site, task)?;
        if nodes.is_empty() {
            return self.nothing_to_do(task, "No nodes in scope, no work to do.").await;
        }
        // 1. Existence check (not registered, compat §3.4.6).
        let known_check = self
            .node_step(
                task,
                StepPlan { action: Action::IdentifyNode, nodes: &nodes, register: false, deadline: self.config.drydock_timeout },
                steps::identify(site.clone(), driver.clone()),
            )
            .await?;
        let known: Vec<String> = known_check.result.successes.clone();
        for name in &known {
            self.message(task.id, StatusMessage::node(name, "Node found in provisioner, skipping OOB management", false)).await?;
        }
        let new: Vec<String> = nodes.iter().filter(|name| !known.contains(name)).cloned().collect();
        // 2-3. PXE boot and power-cycle the new nodes.
        let mut enlisting = Vec::new();
        if !new.is_empty() {
            let boot = self.oob_step(task, &site, Action::SetNodeBoot, &new).await?;
            let booted: Vec<String> = boot.iter().flat_map(|t| t.result.successes.clone()).collect();
            let cycled = self.oob_step(task, &site, Action::PowerCycleNode, &booted).await?;
            enlisting = cycled.iter().flat_map(|t| t.result.successes.clone()).collect();
        }
        // 4. Identify them once they enlist (the step polls).
        let mut found = known.clone();
        if !enlisting.is_empty() {
            let poll = self.config.status_poll;
            let identify = steps::identify(site.clone(), driver.clone());
            let patient: super::engine::NodeStep = Arc::new(move |call| {
                let identify = identify.clone();
                Box::pin(async move {
                    loop {
                        match identify(call.clone()).await {
                            super::fanout::StepOutcome::Done => return super::fanout::StepOutcome::Done,
                            _ => tokio::time::sleep(poll).await,
                        }
                    }
                })
            });
            let identified = self
                .node_step(
                    task,
                    StepPlan { action: Action::IdentifyNode, nodes: &enlisting, register: true, deadline: self.config.identify_node },
                    patient,
                )
                .await?;
            found.extend(identified.result.successes.clone());
        }
        // 5. Commission.
        if !found.is_empty() {
            self.node_step(
                task,
                StepPlan { action: Action::ConfigureHardware, nodes: &found, register: true, deadline: self.config.configure_hardware },
                retried(steps::commission(self.clone(), site.clone(), driver.clone()), 3),
            )
            .await?;
        }
        self.aggregate_status(task.id, true, None).await?;
        Ok(())
    }

    async fn deploy_nodes(&self, task: &Task) -> ActionResultOf {
        let Some(driver) = self.require_node_driver(task).await? else { return Ok(()) };
        let site = self.valid_site(task).await?;
        let nodes = self.target_nodes(&site, task)?;
        if nodes.is_empty() {
            return self.nothing_to_do(task, "No nodes in scope, no work to do.").await;
        }
        let timeout = self.config.drydock_timeout;
        let networking = self
            .node_step(
                task,
                StepPlan { action: Action::ApplyNodeNetworking, nodes: &nodes, register: true, deadline: timeout },
                steps::apply(site.clone(), driver.clone(), ApplyKind::Networking),
            )
            .await?;
        let mut last = Action::ApplyNodeNetworking;
        let mut ready = networking.result.successes.clone();
        if !ready.is_empty() {
            // Registered, unlike the original (compat §3.4.7 quirk): otherwise a
            // storage failure leaves the task `success` with the node silently
            // missing from both lists. See docs/compat.md.
            let storage = self
                .node_step(
                    task,
                    StepPlan { action: Action::ApplyNodeStorage, nodes: &ready, register: true, deadline: timeout },
                    steps::apply(site.clone(), driver.clone(), ApplyKind::Storage),
                )
                .await?;
            ready = storage.result.successes.clone();
            if !ready.is_empty() {
                let platform = self
                    .node_step(
                        task,
                        StepPlan { action: Action::ApplyNodePlatform, nodes: &ready, register: true, deadline: timeout },
                        steps::apply(site.clone(), driver.clone(), ApplyKind::Platform),
                    )
                    .await?;
                ready = platform.result.successes.clone();
                if !ready.is_empty() {
                    let deployed = self
                        .node_step(
                            task,
                            StepPlan { action: Action::DeployNode, nodes: &ready, register: true, deadline: self.config.deploy_node },
                            retried(steps::deploy(self.clone(), site.clone(), driver.clone()), 3),
                        )
                        .await?;
                    last = Action::DeployNode;
                    ready = deployed.result.successes.clone();
                }
            }
        }
        if !ready.is_empty() {
            self.bootaction_report(task, &ready).await?;
            last = Action::BootactionReport;
        }
        let mut current = self.deps.store.task_get(task.id).await?;
        let children = self.deps.store.task_children(task.id).await?;
        crate::task::aggregate::bubble_results(&mut current, &children, Some(last));
        crate::task::aggregate::align_result(&mut current, &children, None);
        self.save(&current).await?;
        Ok(())
    }

    /// `bootaction_report` (compat §3.4.8): wait until the nodes' boot
    /// actions of their current deployment are no longer incomplete, then
    /// report each and judge each node.
    async fn bootaction_report(&self, parent: &Task, nodes: &[String]) -> Result<(), OrchestratorError> {
        let mut report = self.subtask(parent, Action::BootactionReport, Some(node_names_filter(nodes)), true).await?;
        report.status = TaskStatus::Running;
        let report = self.save(&report).await?;
        let deadline = tokio::time::Instant::now() + self.config.bootaction_final_status;
        let rows = loop {
            let mut rows = HashMap::new();
            for node in nodes {
                let current_task = self.deps.store.bootaction_context(node).await?.map(|context| context.task_id);
                let statuses: Vec<_> = self
                    .deps
                    .store
                    .bootaction_status_for_node(node)
                    .await?
                    .into_iter()
                    .filter(|status| Some(status.task_id) == current_task)
                    .collect();
                rows.insert(node.clone(), statuses);
            }
            let pending = rows.values().flatten().any(|status| status.action_status == ActionResult::Incomplete);
            if !pending || tokio::time::Instant::now() >= deadline {
                break rows;
            }
            tokio::time::sleep(self.config.poll_interval).await;
        };
        let mut current = self.deps.store.task_get(report.id).await?;
        for node in nodes {
            let mut ok = true;
            for status in rows.get(node).into_iter().flatten() {
                match status.action_status {
                    ActionResult::Success => {
                        self.message(
                            report.id,
                            StatusMessage::node(node, format!("Boot action {} completed with status success", status.action_name), false),
                        )
                        .await?
                    }
                    ActionResult::Failure => {
                        ok = false;
                        self.message(
                            report.id,
                            StatusMessage::node(node, format!("Boot action {} completed with status failure", status.action_name), true),
                        )
                        .await?
                    }
                    ActionResult::Incomplete => {
                        ok = false;
                        self.message(report.id, StatusMessage::node(node, format!("Boot action {} timed out.", status.action_name), true))
                            .await?
                    }
                    _ => {}
                }
            }
            if ok {
                current.result.success(Some(node));
            } else {
                current.result.failure(Some(node));
            }
        }
        current.status = TaskStatus::Complete;
        self.save(&current).await?;
        Ok(())
    }

    async fn destroy_nodes(&self, task: &Task) -> ActionResultOf {
        let Some(driver) = self.require_node_driver(task).await? else { return Ok(()) };
        let site = self.valid_site(task).await?;
        let nodes = self.target_nodes(&site, task)?;
        if nodes.is_empty() {
            return self.nothing_to_do(task, "No nodes in scope, no work to do.").await;
        }
        self.node_step(
            task,
            StepPlan { action: Action::DestroyNode, nodes: &nodes, register: true, deadline: self.config.destroy_node },
            retried(steps::destroy(self.clone(), site.clone(), driver), 3),
        )
        .await?;
        self.aggregate_status(task.id, true, Some(Action::DestroyNode)).await?;
        Ok(())
    }

    async fn relabel_nodes(&self, task: &Task) -> ActionResultOf {
        let Some(driver) = self.deps.kubernetes.clone() else {
            self.message(task.id, StatusMessage::new("No kubernetes driver is enabled, ending task.", true, "task", task.id.to_string()))
                .await?;
            let mut current = self.deps.store.task_get(task.id).await?;
            current.result.message = Some("No KubernetesDriver enabled.".into());
            current.result.reason = Some("Bad Configuration.".into());
            current.result.failure(None);
            self.save(&current).await?;
            return Ok(());
        };
        let site = self.valid_site(task).await?;
        let nodes = self.target_nodes(&site, task)?;
        if nodes.is_empty() {
            return self.nothing_to_do(task, "No nodes in scope, nothing to relabel.").await;
        }
        self.node_step(
            task,
            StepPlan { action: Action::RelabelNode, nodes: &nodes, register: true, deadline: self.config.drydock_timeout },
            steps::relabel(site.clone(), driver),
        )
        .await?;
        self.aggregate_status(task.id, true, Some(Action::RelabelNode)).await?;
        Ok(())
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

/// Run `step` up to `attempts` times while it fails (compat: 3 retries of
/// configure_hardware, deploy_node, destroy_node).
fn retried(step: super::engine::NodeStep, attempts: u32) -> super::engine::NodeStep {
    Arc::new(move |call| {
        let step = step.clone();
        Box::pin(async move {
            let mut outcome = step(call.clone()).await;
            for _ in 1..=attempts {
                if outcome.is_success() || matches!(outcome, super::fanout::StepOutcome::Skipped(_)) {
                    break;
                }
                outcome = step(call.clone()).await;
            }
            outcome
        })
    })
}
