//! `prepare_nodes` (compat §3.4.6): find which selected nodes the
//! provisioner already knows (an unregistered check); PXE-boot and
//! power-cycle the others through their BMCs, by OOB type; wait for those
//! to enlist (identify, polled); commission every node found (run again at
//! once while it fails). The result lists come from every stage.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{ActionResultOf, again};
use crate::orchestrator::Orchestrator;
use crate::orchestrator::engine::{NodeStep, StepPlan};
use crate::orchestrator::fanout::StepOutcome;
use crate::orchestrator::steps;
use crate::orchestrator::wait::{Verdict, WaitError, wait_until};
use crate::task::{Action, StatusMessage, Task};

pub(super) async fn run(orchestrator: &Orchestrator, task: &Task) -> ActionResultOf {
    let Some(driver) = orchestrator.require_node_driver(task).await? else { return Ok(()) };
    let site = orchestrator.valid_site(task).await?;
    let nodes = orchestrator.target_nodes(&site, task)?;
    if nodes.is_empty() {
        return orchestrator.nothing_to_do(task, "No nodes in scope, no work to do.").await;
    }
    let config = orchestrator.config.clone();
    // 1. Existence check (not registered, compat §3.4.6).
    let known_check = orchestrator
        .node_step(
            task,
            StepPlan { action: Action::IdentifyNode, nodes: &nodes, register: false, deadline: config.drydock_timeout },
            steps::identify(site.clone(), driver.clone()),
        )
        .await?;
    let known: Vec<String> = known_check.result.successes.clone();
    for name in &known {
        orchestrator.message(task.id, StatusMessage::node(name, "Node found in provisioner, skipping OOB management", false)).await?;
    }
    let new: Vec<String> = nodes.iter().filter(|name| !known.contains(name)).cloned().collect();
    // 2-3. PXE boot and power-cycle the new nodes.
    let mut enlisting = Vec::new();
    if !new.is_empty() {
        let boot = orchestrator.oob_step(task, &site, Action::SetNodeBoot, &new).await?;
        let booted: Vec<String> = boot.iter().flat_map(|t| t.result.successes.clone()).collect();
        let cycled = orchestrator.oob_step(task, &site, Action::PowerCycleNode, &booted).await?;
        enlisting = cycled.iter().flat_map(|t| t.result.successes.clone()).collect();
    }
    // 4. Identify them once they enlist.
    let mut found = known.clone();
    if !enlisting.is_empty() {
        let plan = StepPlan { action: Action::IdentifyNode, nodes: &enlisting, register: true, deadline: config.identify_node };
        let patient = until_identified(steps::identify(site.clone(), driver.clone()), config.status_poll, config.identify_node);
        let identified = orchestrator.node_step(task, plan, patient).await?;
        found.extend(identified.result.successes.clone());
    }
    // 5. Commission.
    if !found.is_empty() {
        let plan = StepPlan { action: Action::ConfigureHardware, nodes: &found, register: true, deadline: config.configure_hardware };
        let commission = again(steps::commission(orchestrator.step_context(), site.clone(), driver.clone()));
        orchestrator.node_step(task, plan, commission).await?;
    }
    orchestrator.aggregate_status(task.id, true, None).await?;
    Ok(())
}

/// `identify`, polled every `poll` until the machine has enlisted, for at
/// most `deadline` (the step's own deadline, which reports the same way).
fn until_identified(identify: NodeStep, poll: std::time::Duration, deadline: std::time::Duration) -> NodeStep {
    Arc::new(move |call| {
        let identify = identify.clone();
        Box::pin(async move {
            let observed = call.observed.clone();
            let waited = wait_until(
                || {
                    let (identify, call) = (identify.clone(), call.clone());
                    async move { Ok::<_, std::convert::Infallible>(identify(call).await) }
                },
                |outcome: &StepOutcome| if *outcome == StepOutcome::Done { Verdict::Done } else { Verdict::Pending },
                poll,
                deadline,
                &CancellationToken::new(),
            )
            .await;
            match waited {
                Ok(outcome) => outcome,
                Err(WaitError::Timeout { .. }) => StepOutcome::Failed {
                    reason: format!("step did not finish within its deadline of {}s", deadline.as_secs()),
                    last_state: observed.get(),
                },
                Err(WaitError::Failed { last, .. }) => last,
                Err(WaitError::Observe(never)) => match never {},
                Err(WaitError::Cancelled { .. }) => StepOutcome::failed("cancelled"),
            }
        })
    })
}
