//! The per-node steps, one function each, built from driver primitives.
//! Every step observes first, then decides, then acts, so running it twice
//! is safe (a node already in the wanted state is `AlreadyDone`). The shared
//! "power off, boot PXE once, power on, wait until it holds" step is written
//! once here and works with every OOB driver. Every driver call goes
//! through the call limits of [`NodeCall::calls`] (per endpoint: the BMC,
//! the node provisioner; and process-wide), one attempt or one poll at a
//! time, so a step holds no call slot while it waits or backs off.

use std::sync::Arc;

use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

use super::engine::{NodeCall, NodeStep, OrchestratorConfig, node_step_fn};
use super::fanout::StepOutcome;
use super::retry::{RetryError, RetryPolicy, retry};
use super::wait::{Verdict, WaitError, wait_until};
use crate::bootaction::cloudinit::{ReportedAction, agent_script, user_data};
use crate::bootaction::render::node_packages;
use crate::bootaction::{ActionIdentity, IdentityKey};
use crate::compile::EffectiveSite;
use crate::drivers::{
    BootDevice, DeployRequest, DriverError, ErasePolicy, MachineRef, MachineStatus, NodeDriver, OobDriver, OobTarget, PowerAction,
    PowerState, oob_target,
};
use crate::ids::BootActionId;
use crate::ingest::source::DesignSource;
use crate::store::StateStore;
use crate::task::ActionResult;
use crate::task::records::{BootActionContext, BootActionStatus};

fn failed(reason: impl Into<String>) -> StepOutcome {
    StepOutcome::failed(reason)
}

fn driver_failure(error: RetryError<DriverError>) -> StepOutcome {
    match error {
        RetryError::Permanent(error) => failed(error.to_string()),
        RetryError::Exhausted { last, attempts, .. } => failed(format!("{last} (after {attempts} attempts)")),
        RetryError::Cancelled { .. } => failed("cancelled"),
    }
}

/// What steps need from the orchestrator, and nothing more: its timings and
/// deadlines, the store (build data, boot-action records) and the design
/// source (boot-action packages). Cheap to clone into each step.
#[derive(Clone)]
pub(super) struct StepContext {
    pub(super) config: Arc<OrchestratorConfig>,
    pub(super) store: Arc<dyn StateStore>,
    pub(super) source: Arc<dyn DesignSource>,
}

/// The endpoint the node provisioner's calls count against (one MaaS region).
const PROVISIONER: &str = "node provisioner";

/// The endpoint the Kubernetes driver's calls count against.
const KUBERNETES: &str = "kubernetes";

/// Run one driver call to `endpoint` under `policy`, each attempt within
/// the call limits (none held between attempts).
async fn limited<T, F, Fut>(call: &NodeCall, endpoint: &str, policy: &RetryPolicy, mut operation: F) -> Result<T, StepOutcome>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<T, DriverError>>,
{
    retry(policy, &CancellationToken::new(), DriverError::is_transient, |attempt| call.calls.call(endpoint, operation(attempt)))
        .await
        .map_err(driver_failure)
}

/// Run one driver call to the BMC `target` under the BMC retry policy.
async fn bmc<T, F, Fut>(call: &NodeCall, target: &OobTarget, operation: F) -> Result<T, StepOutcome>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<T, DriverError>>,
{
    limited(call, &target.endpoint(), &RetryPolicy::BMC_COMMAND, operation).await
}

/// Run one provisioner call under the MaaS retry policy.
async fn provisioner<T, F, Fut>(call: &NodeCall, operation: F) -> Result<T, StepOutcome>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<T, DriverError>>,
{
    limited(call, PROVISIONER, &RetryPolicy::MAAS_API, operation).await
}

fn target_of(site: &EffectiveSite, node: &str) -> Result<OobTarget, StepOutcome> {
    let node = site.node(node).ok_or_else(|| failed(format!("node {node} is not in the design")))?;
    oob_target(node).map_err(|error| failed(error.to_string()))
}

/// Wait until the BMC reports `wanted`.
async fn wait_for_power(
    ctx: &StepContext,
    driver: &Arc<dyn OobDriver>,
    target: &OobTarget,
    wanted: PowerState,
    call: &NodeCall,
) -> Result<(), StepOutcome> {
    let endpoint = target.endpoint();
    let result = wait_until(
        || {
            let driver = driver.clone();
            let target = target.clone();
            let observed = call.observed.clone();
            let (calls, endpoint) = (call.calls.clone(), endpoint.clone());
            async move {
                // A BMC that does not answer one poll is polled again.
                match calls.call(&endpoint, driver.power_state(&target)).await {
                    Ok(state) => {
                        observed.set(format!("power {state:?}").to_lowercase());
                        Ok(Some(state))
                    }
                    Err(error) if error.is_transient() => Ok(None),
                    Err(error) => Err(error),
                }
            }
        },
        |state| if *state == Some(wanted) { Verdict::Done } else { Verdict::Pending },
        ctx.config.power_poll,
        ctx.config.drydock_timeout,
        &CancellationToken::new(),
    )
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(WaitError::Timeout { last, .. }) => Err(StepOutcome::Failed {
            reason: format!("BMC {} did not report power {wanted:?} in time", target.endpoint()),
            last_state: last.flatten().map(|state| format!("power {state:?}")),
        }),
        Err(WaitError::Observe(error)) => Err(failed(error.to_string())),
        Err(other) => Err(failed(other.to_string())),
    }
}

/// `set_node_boot`: PXE on the next boot.
pub(super) fn set_pxe_boot(site: Arc<EffectiveSite>, driver: Arc<dyn OobDriver>) -> NodeStep {
    node_step_fn(move |call| {
        let site = site.clone();
        let driver = driver.clone();
        async move {
            let target = match target_of(&site, &call.node) {
                Ok(target) => target,
                Err(outcome) => return outcome,
            };
            match bmc(&call, &target, |_| driver.set_boot_device(&target, BootDevice::Pxe, false)).await {
                Ok(()) => StepOutcome::Done,
                Err(outcome) => outcome,
            }
        }
    })
}

/// `power_cycle_node`, the shared step: make sure the machine is off, set
/// PXE for the next boot, power on, and wait until the BMC reports on.
pub(super) fn power_cycle_to_pxe(ctx: StepContext, site: Arc<EffectiveSite>, driver: Arc<dyn OobDriver>) -> NodeStep {
    node_step_fn(move |call| {
        let ctx = ctx.clone();
        let site = site.clone();
        let driver = driver.clone();
        async move {
            let target = match target_of(&site, &call.node) {
                Ok(target) => target,
                Err(outcome) => return outcome,
            };
            let run = async {
                let state = bmc(&call, &target, |_| driver.power_state(&target)).await?;
                call.observed.set(format!("power {state:?}").to_lowercase());
                if state != PowerState::Off {
                    bmc(&call, &target, |_| driver.power_action(&target, PowerAction::HardOff)).await?;
                    wait_for_power(&ctx, &driver, &target, PowerState::Off, &call).await?;
                }
                bmc(&call, &target, |_| driver.set_boot_device(&target, BootDevice::Pxe, false)).await?;
                bmc(&call, &target, |_| driver.power_action(&target, PowerAction::On)).await?;
                wait_for_power(&ctx, &driver, &target, PowerState::On, &call).await?;
                Ok::<_, StepOutcome>(StepOutcome::Done)
            };
            run.await.unwrap_or_else(|outcome| outcome)
        }
    })
}

/// `interrogate_oob` (verify_nodes): the BMC answers and reports power.
pub(super) fn interrogate_oob(site: Arc<EffectiveSite>, driver: Arc<dyn OobDriver>) -> NodeStep {
    node_step_fn(move |call| {
        let site = site.clone();
        let driver = driver.clone();
        async move {
            let target = match target_of(&site, &call.node) {
                Ok(target) => target,
                Err(outcome) => return outcome,
            };
            if let Err(outcome) = bmc(&call, &target, |_| driver.check(&target)).await {
                return outcome;
            }
            match bmc(&call, &target, |_| driver.power_state(&target)).await {
                Ok(state) => {
                    call.observed.set(format!("power {state:?}").to_lowercase());
                    StepOutcome::Done
                }
                Err(outcome) => outcome,
            }
        }
    })
}

async fn identify_machine(site: &EffectiveSite, driver: &Arc<dyn NodeDriver>, call: &NodeCall) -> Result<MachineRef, StepOutcome> {
    let node = &call.node;
    let design_node = site.node(node).ok_or_else(|| failed(format!("node {node} is not in the design")))?;
    match provisioner(call, |_| driver.identify(site, design_node)).await? {
        Some(machine) => Ok(machine),
        None => Err(failed(format!("Node {node} not found in the node provisioner"))),
    }
}

/// Find the node's machine and read its status (recorded as observed).
async fn observe_machine(
    site: &EffectiveSite,
    driver: &Arc<dyn NodeDriver>,
    call: &NodeCall,
) -> Result<(MachineRef, MachineStatus), StepOutcome> {
    let machine = identify_machine(site, driver, call).await?;
    let status = provisioner(call, |_| driver.machine_status(&machine)).await?;
    call.observed.set(format!("{status:?}"));
    Ok((machine, status))
}

/// `identify_node`: the node is known to the provisioner.
pub(super) fn identify(site: Arc<EffectiveSite>, driver: Arc<dyn NodeDriver>) -> NodeStep {
    node_step_fn(move |call| {
        let site = site.clone();
        let driver = driver.clone();
        async move {
            match identify_machine(&site, &driver, &call).await {
                Ok(machine) => {
                    call.observed.set(format!("machine {}", machine.id));
                    StepOutcome::Done
                }
                Err(outcome) => outcome,
            }
        }
    })
}

/// Wait until the machine's status meets `condition`.
async fn wait_for_status(
    ctx: &StepContext,
    driver: &Arc<dyn NodeDriver>,
    machine: &MachineRef,
    call: &NodeCall,
    deadline: std::time::Duration,
    condition: impl Fn(&MachineStatus) -> Verdict,
) -> StepOutcome {
    let result = wait_until(
        || {
            let driver = driver.clone();
            let machine = machine.clone();
            let observed = call.observed.clone();
            let calls = call.calls.clone();
            async move {
                // A provisioner that fails one poll is polled again (as the original does).
                match calls.call(PROVISIONER, driver.machine_status(&machine)).await {
                    Ok(status) => {
                        observed.set(format!("{status:?}"));
                        Ok(Some(status))
                    }
                    Err(error) if error.is_transient() => Ok(None),
                    Err(error) => Err(error),
                }
            }
        },
        |status: &Option<MachineStatus>| status.as_ref().map(&condition).unwrap_or(Verdict::Pending),
        ctx.config.status_poll,
        deadline,
        &CancellationToken::new(),
    )
    .await;
    match result {
        Ok(_) => StepOutcome::Done,
        Err(WaitError::Failed { reason, .. }) => failed(reason),
        Err(WaitError::Timeout { last, .. }) => StepOutcome::Failed {
            reason: format!("Node {} timed out", call.node),
            last_state: last.flatten().map(|status| format!("{status:?}")),
        },
        Err(WaitError::Observe(error)) => failed(error.to_string()),
        Err(WaitError::Cancelled { .. }) => failed("cancelled"),
    }
}

fn failed_phase(status: &MachineStatus) -> Option<String> {
    match status {
        MachineStatus::Failed { phase, detail } => Some(format!("{phase} failed: {detail}")),
        _ => None,
    }
}

/// `configure_hardware`: commission machines that need it and wait for Ready.
pub(super) fn commission(ctx: StepContext, site: Arc<EffectiveSite>, driver: Arc<dyn NodeDriver>) -> NodeStep {
    node_step_fn(move |call| {
        let ctx = ctx.clone();
        let site = site.clone();
        let driver = driver.clone();
        async move {
            let (machine, status) = match observe_machine(&site, &driver, &call).await {
                Ok(observed) => observed,
                Err(outcome) => return outcome,
            };
            let needs_commissioning = match &status {
                MachineStatus::New | MachineStatus::Other(_) => true,
                MachineStatus::Failed { phase, .. } => phase == "commissioning" || phase == "testing",
                MachineStatus::Commissioning => false,
                MachineStatus::Ready | MachineStatus::Allocated | MachineStatus::Deploying | MachineStatus::Deployed => {
                    return StepOutcome::AlreadyDone;
                }
                MachineStatus::Releasing => return failed(format!("Node {} is releasing", call.node)),
            };
            if needs_commissioning && let Err(outcome) = provisioner(&call, |_| driver.commission(&machine)).await {
                return outcome;
            }
            let outcome = wait_for_status(&ctx, &driver, &machine, &call, ctx.config.configure_hardware, |status| match status {
                MachineStatus::Ready => Verdict::Done,
                other => failed_phase(other).map(Verdict::Failed).unwrap_or(Verdict::Pending),
            })
            .await;
            collect_build_data(&ctx, &driver, &machine, &call).await;
            outcome
        }
    })
}

/// After commissioning, whatever its outcome, the provisioner's details and
/// script results become the node's build data (compat drivers §2.4.6). Not
/// collecting them is logged; it does not fail the node.
async fn collect_build_data(ctx: &StepContext, driver: &Arc<dyn NodeDriver>, machine: &MachineRef, call: &NodeCall) {
    let items = match call.calls.call(PROVISIONER, driver.build_data(machine)).await {
        Ok(items) => items,
        Err(error) => {
            tracing::warn!(node = %call.node, %error, "cannot collect build data");
            return;
        }
    };
    let collected_date = chrono::Utc::now();
    for item in items {
        let record = crate::task::records::BuildData {
            node_name: call.node.clone(),
            task_id: call.task,
            collected_date,
            generator: item.generator,
            data_format: item.data_format,
            data_element: item.data,
        };
        if let Err(error) = ctx.store.build_data_insert(&record).await {
            tracing::warn!(node = %call.node, %error, "cannot store build data");
            return;
        }
    }
}

/// Which configuration an apply step pushes.
#[derive(Debug, Clone, Copy)]
pub(super) enum ApplyKind {
    Networking,
    Storage,
    Platform,
}

/// `apply_node_networking` / `_storage` / `_platform`.
pub(super) fn apply(site: Arc<EffectiveSite>, driver: Arc<dyn NodeDriver>, kind: ApplyKind) -> NodeStep {
    node_step_fn(move |call| {
        let site = site.clone();
        let driver = driver.clone();
        async move {
            let machine = match identify_machine(&site, &driver, &call).await {
                Ok(machine) => machine,
                Err(outcome) => return outcome,
            };
            let Some(node) = site.node(&call.node) else { return failed("node left the design") };
            let result = provisioner(&call, |_| async {
                match kind {
                    ApplyKind::Networking => driver.apply_networking(&site, node, &machine).await,
                    ApplyKind::Storage => driver.apply_storage(&site, node, &machine).await,
                    ApplyKind::Platform => driver.apply_platform(&site, node, &machine).await,
                }
            })
            .await;
            match result {
                Ok(()) => StepOutcome::Done,
                Err(outcome) => outcome,
            }
        }
    })
}

/// `deploy_node`: record the boot-action context, build user data, deploy,
/// and wait for Deployed. Already deployed (or deploying) machines are left
/// alone (compat §3.4.7).
pub(super) fn deploy(ctx: StepContext, site: Arc<EffectiveSite>, driver: Arc<dyn NodeDriver>) -> NodeStep {
    node_step_fn(move |call| {
        let ctx = ctx.clone();
        let site = site.clone();
        let driver = driver.clone();
        async move {
            let (machine, status) = match observe_machine(&site, &driver, &call).await {
                Ok(observed) => observed,
                Err(outcome) => return outcome,
            };
            match status {
                MachineStatus::Deployed => return StepOutcome::AlreadyDone,
                MachineStatus::Deploying => {}
                MachineStatus::Ready | MachineStatus::Allocated => {
                    let (user_data, bootaction_key) = match boot_action_user_data(&ctx, &site, &call).await {
                        Ok(Some((user_data, key))) => (Some(user_data), Some(key)),
                        Ok(None) => (None, None),
                        Err(outcome) => return outcome,
                    };
                    let Some(node) = site.node(&call.node) else { return failed("node left the design") };
                    let request = DeployRequest {
                        image: node.config.image.clone(),
                        kernel: node.config.kernel.clone(),
                        user_data,
                        owner_data: node.config.owner_data.clone(),
                        bootaction_key,
                    };
                    if let Err(outcome) = provisioner(&call, |_| driver.deploy(&machine, &request)).await {
                        return outcome;
                    }
                }
                other => return failed(format!("Node {} cannot be deployed from state {other:?}", call.node)),
            }
            wait_for_status(&ctx, &driver, &machine, &call, ctx.config.deploy_node, |status| match status {
                MachineStatus::Deployed => Verdict::Done,
                other => failed_phase(other).map(Verdict::Failed).unwrap_or(Verdict::Pending),
            })
            .await
        }
    })
}

/// Create the node's boot-action context and records (compat: api spec
/// §4.7.2) and the cloud-init user data: its packages, its key and the
/// boot-action agent that fetches its assets and reports back. Returns
/// the user data and the key in hex, or `None` when no boot action targets
/// the node.
///
/// The context and the records are written in one store call that also
/// drops the records an earlier attempt of this deployment (a retry under
/// the same task) wrote: only the attempt whose user data reaches the node
/// is waited for by `bootaction_report`.
async fn boot_action_user_data(ctx: &StepContext, site: &EffectiveSite, call: &NodeCall) -> Result<Option<(String, String)>, StepOutcome> {
    let Some(position) = site.node_position(&call.node) else { return Err(failed("node left the design")) };
    let actions: Vec<_> = site.boot_actions_for(position).collect();
    if actions.is_empty() {
        return Ok(None);
    }
    let key = IdentityKey::generate();
    let mut identities: IndexMap<String, ActionIdentity> = IndexMap::new();
    let mut reported = Vec::new();
    let mut records = Vec::with_capacity(actions.len());
    for action in actions {
        let action_id = BootActionId::generate();
        if action.signaling {
            reported.push(ReportedAction { action_id, name: action.meta.name().to_owned() });
        }
        records.push(BootActionStatus {
            node_name: call.node.clone(),
            action_id,
            action_name: action.meta.name().to_owned(),
            task_id: call.task,
            identity_key: *key.as_bytes(),
            action_status: if action.signaling { ActionResult::Incomplete } else { ActionResult::Unreported },
        });
        identities.insert(
            action.meta.name().to_owned(),
            ActionIdentity {
                action_id,
                action_key: key.clone(),
                report_url: ctx.config.bootaction_report_url.clone(),
                design_ref: Default::default(),
            },
        );
    }
    let context = BootActionContext { node_name: call.node.clone(), task_id: call.task, identity_key: *key.as_bytes() };
    ctx.store.bootaction_begin(&context, &records).await.map_err(|error| failed(format!("cannot record boot actions: {error}")))?;
    let identity = identities.values().next().cloned().ok_or_else(|| failed("no boot action identity"))?;
    let packages = node_packages(site, position, &identity, ctx.source.as_ref())
        .await
        .map_err(|error| failed(format!("cannot collect boot-action packages: {error}")))?;
    let report_url = &ctx.config.bootaction_report_url;
    let agent = agent_script(&call.node, report_url, &reported);
    let user_data = user_data(&packages, &key, report_url, &agent);
    Ok(Some((user_data, key.to_hex())))
}

/// `destroy_node`: release (erasing disks) and wait until Ready; a node the
/// provisioner does not know is already destroyed.
pub(super) fn destroy(ctx: StepContext, site: Arc<EffectiveSite>, driver: Arc<dyn NodeDriver>) -> NodeStep {
    node_step_fn(move |call| {
        let ctx = ctx.clone();
        let site = site.clone();
        let driver = driver.clone();
        async move {
            let Some(node) = site.node(&call.node) else { return failed("node left the design") };
            let machine = match provisioner(&call, |_| driver.identify(&site, node)).await {
                Ok(Some(machine)) => machine,
                Ok(None) => return StepOutcome::AlreadyDone,
                Err(outcome) => return outcome,
            };
            let status = match provisioner(&call, |_| driver.machine_status(&machine)).await {
                Ok(status) => status,
                Err(outcome) => return outcome,
            };
            call.observed.set(format!("{status:?}"));
            // Nothing was ever deployed on a machine that never got past commissioning.
            let never_deployed = matches!(&status, MachineStatus::Failed { phase, .. } if phase == "commissioning" || phase == "testing");
            if matches!(status, MachineStatus::Ready | MachineStatus::New) || never_deployed {
                return StepOutcome::AlreadyDone;
            }
            if status != MachineStatus::Releasing
                && let Err(outcome) = provisioner(&call, |_| driver.release(&machine, ErasePolicy::Quick)).await
            {
                return outcome;
            }
            wait_for_status(&ctx, &driver, &machine, &call, ctx.config.destroy_node, |status| match status {
                MachineStatus::Ready => Verdict::Done,
                other => failed_phase(other).map(Verdict::Failed).unwrap_or(Verdict::Pending),
            })
            .await
        }
    })
}

/// `relabel_node`: push the node's labels.
pub(super) fn relabel(site: Arc<EffectiveSite>, driver: Arc<dyn crate::drivers::KubernetesDriver>) -> NodeStep {
    node_step_fn(move |call| {
        let site = site.clone();
        let driver = driver.clone();
        async move {
            let Some(node) = site.node(&call.node) else { return failed("node left the design") };
            let labels = node.config.owner_data.clone();
            match limited(&call, KUBERNETES, &RetryPolicy::MAAS_API, |_| driver.relabel(&call.node, &labels)).await {
                Ok(()) => StepOutcome::Done,
                Err(outcome) => outcome,
            }
        }
    })
}
