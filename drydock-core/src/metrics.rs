//! Prometheus metrics of the orchestrator, its drivers and its store
//! (`prometheus-client` families in one [`Registry`]): tasks created and
//! finished, task and step durations, the scheduler's queue, leases and
//! replica state, driver calls and store operations with their latency, and
//! build info. (Rank 5: the orchestrator records into it, it knows nothing
//! of the orchestrator.) A [`Metrics`] value is created by whoever runs the
//! orchestrator and handed to it (`Orchestrator::with_metrics`); the
//! orchestrator wraps its drivers and store in the timing decorators of
//! this module ([`InstrumentedOob`], [`InstrumentedNodeDriver`],
//! [`InstrumentedKubernetes`], [`InstrumentedStore`]), so drivers and stores
//! know nothing of metrics and every call is timed in one place. The same
//! driver wrappers put each call in a `driver_call` tracing span.
//!
//! Labels are bounded: actions, steps, driver and operation names, outcomes
//! and backends are fixed vocabularies; task ids, node names, endpoints and
//! anything a client sends never become label values.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::compile::EffectiveSite;
use crate::drivers::{
    BootDevice, ChangeSummary, CollectedData, DeployRequest, DriverError, ErasePolicy, KubernetesDriver, MachineRef, MachineStatus,
    NodeDriver, OobDriver, OobTarget, PowerAction, PowerState,
};
use crate::ids::{BootActionId, TaskId};
use crate::model::{BaremetalNode, StringMap};
use crate::store::{
    Admitted, Decide, PurgeReport, RunningTask, StateStore, StoreResult, TaskPage, TaskQuery, TaskWithMessages, UpdateGuard,
};
use crate::task::records::{BootActionContext, BootActionStatus, BuildData, DesignPart, DesignRecord};
use crate::task::{Action, ActionResult, StatusMessage, Task};

/// Seconds, for task and step durations (a step may run for the better part
/// of an hour; a simulated one for milliseconds).
const LONG_BUCKETS: &[f64] = &[0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 2700.0, 3600.0, 7200.0];

/// Seconds, for one driver call (a BMC command, a MaaS request).
const CALL_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Seconds, for one store operation or one HTTP request.
pub const FAST_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// A histogram family whose histograms have `buckets`.
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn long_histogram() -> Histogram {
    Histogram::new(LONG_BUCKETS.iter().copied())
}

fn call_histogram() -> Histogram {
    Histogram::new(CALL_BUCKETS.iter().copied())
}

fn fast_histogram() -> Histogram {
    Histogram::new(FAST_BUCKETS.iter().copied())
}

/// A cheap hash of label values (FxHash's step over 8-byte words), for the
/// hot families: one lookup per store operation, driver call or HTTP
/// request, where SipHash over every byte of every value cost more than the
/// rest of the bookkeeping (benches/observability.sh). Label values come
/// from small fixed vocabularies, so flooding is not a concern.
pub fn label_fingerprint(values: &[&str], number: u64) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let step = |hash: u64, word: u64| (hash.rotate_left(5) ^ word).wrapping_mul(K);
    values.iter().fold(step(0, number), |hash, value| {
        let hash = value.as_bytes().chunks(8).fold(hash, |hash, chunk| {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            step(hash, u64::from_le_bytes(word))
        });
        step(hash, value.len() as u64)
    })
}

/// `Hash` for a label set by [`label_fingerprint`] of its fields.
macro_rules! fingerprint_hash {
    ($labels:ident { $($field:ident),+ }) => {
        impl std::hash::Hash for $labels {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                state.write_u64(label_fingerprint(&[$(self.$field),+], 0));
            }
        }
    };
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskEndLabels {
    action: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    step: &'static str,
    outcome: &'static str,
}
fingerprint_hash!(StepLabels { step, outcome });

#[derive(Debug, Clone, PartialEq, Eq, EncodeLabelSet)]
struct DriverLabels {
    driver: &'static str,
    operation: &'static str,
    outcome: &'static str,
}
fingerprint_hash!(DriverLabels { driver, operation, outcome });

#[derive(Debug, Clone, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    backend: &'static str,
    operation: &'static str,
    outcome: &'static str,
}
fingerprint_hash!(StoreLabels { backend, operation, outcome });

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AdmissionLabels {
    how: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// The metric families.
struct Families {
    tasks_created: Family<ActionLabels, Counter>,
    tasks_finished: Family<TaskEndLabels, Counter>,
    task_duration: Histograms<TaskEndLabels>,
    tasks_queued: Gauge,
    tasks_running: Gauge,
    node_steps: Histograms<StepLabels>,
    site_steps: Histograms<StepLabels>,
    driver_calls: Histograms<DriverLabels>,
    store_operations: Histograms<StoreLabels>,
    scheduler_passes: Counter,
    scheduler_admitted: Family<AdmissionLabels, Counter>,
    scheduler_leases_lost: Counter,
    scheduler_slots: Gauge,
    scheduler_leased_tasks: Gauge,
    scheduler_lapsed_leases: Gauge,
    scheduler_lease_holders: Gauge,
    orchestrator_running: Gauge,
}

struct Inner {
    registry: Registry,
    families: Families,
}

/// The process's metrics: one registry with every family of this crate,
/// cheap to clone (shared). Encode it with [`Metrics::encode_into`].
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every family of this crate, prefixed `drydock_`, and
    /// the build info.
    pub fn new() -> Self {
        let families = Families {
            tasks_created: Family::default(),
            tasks_finished: Family::default(),
            task_duration: Family::new_with_constructor(long_histogram),
            tasks_queued: Gauge::default(),
            tasks_running: Gauge::default(),
            node_steps: Family::new_with_constructor(long_histogram),
            site_steps: Family::new_with_constructor(long_histogram),
            driver_calls: Family::new_with_constructor(call_histogram),
            store_operations: Family::new_with_constructor(fast_histogram),
            scheduler_passes: Counter::default(),
            scheduler_admitted: Family::default(),
            scheduler_leases_lost: Counter::default(),
            scheduler_slots: Gauge::default(),
            scheduler_leased_tasks: Gauge::default(),
            scheduler_lapsed_leases: Gauge::default(),
            scheduler_lease_holders: Gauge::default(),
            orchestrator_running: Gauge::default(),
        };
        let mut root = Registry::default();
        let registry = root.sub_registry_with_prefix("drydock");
        let f = &families;
        registry.register("build", "Build information", Info::new(BuildLabels { version: env!("CARGO_PKG_VERSION") }));
        registry.register("tasks_created", "Top-level tasks created, by action", f.tasks_created.clone());
        registry.register("tasks_finished", "Top-level tasks finished here, by action and result", f.tasks_finished.clone());
        registry.register_with_unit(
            "task_duration",
            "How long top-level tasks ran here, by action and result",
            Unit::Seconds,
            f.task_duration.clone(),
        );
        registry.register("tasks_queued", "Queued top-level tasks, as of the last scheduling pass", f.tasks_queued.clone());
        registry.register("tasks_running", "Top-level tasks running in this process", f.tasks_running.clone());
        registry.register_with_unit(
            "node_step_duration",
            "Per-node steps, by step (the action) and outcome, with their duration",
            Unit::Seconds,
            f.node_steps.clone(),
        );
        registry.register_with_unit(
            "site_step_duration",
            "Site-wide steps, by step (the action) and outcome, with their duration",
            Unit::Seconds,
            f.site_steps.clone(),
        );
        registry.register_with_unit(
            "driver_call_duration",
            "Driver calls, by driver, operation and outcome, with their latency",
            Unit::Seconds,
            f.driver_calls.clone(),
        );
        registry.register_with_unit(
            "store_operation_duration",
            "State store operations, by backend, operation and outcome, with their latency",
            Unit::Seconds,
            f.store_operations.clone(),
        );
        let scheduler = registry.sub_registry_with_prefix("scheduler");
        scheduler.register("passes", "Scheduling passes run by this process", f.scheduler_passes.clone());
        scheduler.register(
            "admitted",
            "Tasks this process took on, by how (started from the queue, taken over from a lapsed lease)",
            f.scheduler_admitted.clone(),
        );
        scheduler.register("leases_lost", "Running tasks whose lease another process took over", f.scheduler_leases_lost.clone());
        scheduler.register("slots", "Top-level tasks this process may run at once", f.scheduler_slots.clone());
        scheduler.register(
            "leased_tasks",
            "Running top-level tasks in the store, every replica's, as of the last admission",
            f.scheduler_leased_tasks.clone(),
        );
        scheduler.register(
            "lapsed_leases",
            "Running top-level tasks whose lease had lapsed, as of the last admission",
            f.scheduler_lapsed_leases.clone(),
        );
        scheduler.register("lease_holders", "Replicas holding task leases, as of the last admission", f.scheduler_lease_holders.clone());
        registry.register("orchestrator_running", "1 while this process's orchestrator loop runs", f.orchestrator_running.clone());
        Metrics { inner: Arc::new(Inner { registry: root, families }) }
    }

    /// The registry (to encode, or to compose with another one).
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Append this registry in the OpenMetrics text format (without the
    /// closing `# EOF`, so another registry can follow).
    pub fn encode_into(&self, out: &mut String) -> std::fmt::Result {
        prometheus_client::encoding::text::encode_registry(out, &self.inner.registry)
    }

    /// Append this registry in the Prometheus text format 0.0.4.
    pub fn encode_prometheus_into(&self, out: &mut String) -> std::fmt::Result {
        prometheus_client::encoding::prometheus_text::encode(out, &self.inner.registry)
    }

    fn f(&self) -> &Families {
        &self.inner.families
    }

    /// A top-level task was created.
    pub fn task_created(&self, action: Action) {
        self.f().tasks_created.get_or_create(&ActionLabels { action: action.as_str() }).inc();
    }

    /// A top-level task ended here with `result` (`terminated` for a
    /// terminated one) after `elapsed`.
    pub fn task_finished(&self, action: Action, result: &'static str, elapsed: Duration) {
        let labels = TaskEndLabels { action: action.as_str(), result };
        self.f().tasks_finished.get_or_create(&labels).inc();
        self.f().task_duration.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    /// A per-node step of `step` ended with `outcome` after `elapsed`.
    pub fn node_step(&self, step: Action, outcome: &'static str, elapsed: Duration) {
        self.f().node_steps.get_or_create(&StepLabels { step: step.as_str(), outcome }).observe(elapsed.as_secs_f64());
    }

    /// A site-wide step of `step` ended with `outcome` after `elapsed`.
    pub fn site_step(&self, step: Action, outcome: &'static str, elapsed: Duration) {
        self.f().site_steps.get_or_create(&StepLabels { step: step.as_str(), outcome }).observe(elapsed.as_secs_f64());
    }

    /// A timer for a per-node step: records its outcome when
    /// [`StepTimer::finish`]ed, and `aborted` when dropped unfinished (the
    /// step's deadline fired, or its task was cancelled).
    pub fn node_step_timer(&self, step: Action) -> StepTimer {
        StepTimer { metrics: self.clone(), step, started: Instant::now(), finished: false }
    }

    fn driver_call<T>(
        &self,
        driver: &'static str,
        operation: &'static str,
        started: Instant,
        result: &Result<T, DriverError>,
    ) -> &'static str {
        let outcome = match result {
            Ok(_) => "ok",
            Err(error) => match error.kind() {
                crate::drivers::DriverErrorKind::Transient => "transient",
                crate::drivers::DriverErrorKind::Permanent => "permanent",
                crate::drivers::DriverErrorKind::Auth => "auth",
                crate::drivers::DriverErrorKind::Unsupported => "unsupported",
                crate::drivers::DriverErrorKind::NotFound => "not_found",
            },
        };
        self.f().driver_calls.get_or_create(&DriverLabels { driver, operation, outcome }).observe(started.elapsed().as_secs_f64());
        outcome
    }

    fn store_operation<T>(&self, backend: &'static str, operation: &'static str, started: Instant, result: &StoreResult<T>) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(error) => match error.kind() {
                crate::store::StoreErrorKind::NotFound => "not_found",
                crate::store::StoreErrorKind::Conflict => "conflict",
                crate::store::StoreErrorKind::Unavailable => "unavailable",
                crate::store::StoreErrorKind::Corrupt => "corrupt",
                crate::store::StoreErrorKind::Full => "full",
            },
        };
        self.f().store_operations.get_or_create(&StoreLabels { backend, operation, outcome }).observe(started.elapsed().as_secs_f64());
    }

    /// The orchestrator loop of this process started (`true`) or stopped,
    /// with `slots` top-level tasks at once.
    pub fn orchestrator_running(&self, running: bool, slots: usize) {
        self.f().orchestrator_running.set(i64::from(running));
        self.f().scheduler_slots.set(i64::try_from(slots).unwrap_or(i64::MAX));
    }

    /// A scheduling pass saw `queued` queued top-level tasks.
    pub fn scheduling_pass(&self, queued: usize) {
        self.f().scheduler_passes.inc();
        self.f().tasks_queued.set(i64::try_from(queued).unwrap_or(i64::MAX));
    }

    /// This process now runs `running` top-level tasks.
    pub fn tasks_running(&self, running: usize) {
        self.f().tasks_running.set(i64::try_from(running).unwrap_or(i64::MAX));
    }

    /// What an admission saw of every replica's running tasks: how many,
    /// how many of their leases had lapsed, and how many distinct holders.
    pub fn leases_seen(&self, leased: usize, lapsed: usize, holders: usize) {
        let f = self.f();
        f.scheduler_leased_tasks.set(i64::try_from(leased).unwrap_or(i64::MAX));
        f.scheduler_lapsed_leases.set(i64::try_from(lapsed).unwrap_or(i64::MAX));
        f.scheduler_lease_holders.set(i64::try_from(holders).unwrap_or(i64::MAX));
    }

    /// An admission started `started` tasks and took over `taken_over`.
    pub fn admitted(&self, started: usize, taken_over: usize) {
        let f = self.f();
        f.scheduler_admitted.get_or_create(&AdmissionLabels { how: "started" }).inc_by(started as u64);
        f.scheduler_admitted.get_or_create(&AdmissionLabels { how: "taken_over" }).inc_by(taken_over as u64);
    }

    /// `count` running tasks' leases were found taken over by another process.
    pub fn leases_lost(&self, count: usize) {
        self.f().scheduler_leases_lost.inc_by(count as u64);
    }

    /// Wrap `driver` so its calls are timed.
    pub fn oob(&self, driver: Arc<dyn OobDriver>) -> Arc<dyn OobDriver> {
        Arc::new(InstrumentedOob { inner: driver, metrics: self.clone() })
    }

    /// Wrap `driver` so its calls are timed.
    pub fn node_driver(&self, driver: Arc<dyn NodeDriver>) -> Arc<dyn NodeDriver> {
        Arc::new(InstrumentedNodeDriver { inner: driver, metrics: self.clone() })
    }

    /// Wrap `driver` so its calls are timed.
    pub fn kubernetes(&self, driver: Arc<dyn KubernetesDriver>) -> Arc<dyn KubernetesDriver> {
        Arc::new(InstrumentedKubernetes { inner: driver, metrics: self.clone() })
    }

    /// Wrap `store` so its operations are timed, labelled with its
    /// [`StateStore::backend_name`].
    pub fn store(&self, store: Arc<dyn StateStore>) -> Arc<dyn StateStore> {
        Arc::new(InstrumentedStore { backend: store.backend_name(), inner: store, metrics: self.clone() })
    }
}

/// Times one per-node step ([`Metrics::node_step_timer`]).
#[derive(Debug)]
pub struct StepTimer {
    metrics: Metrics,
    step: Action,
    started: Instant,
    finished: bool,
}

impl StepTimer {
    /// The step ended with `outcome` (`done`, `already_done`, `skipped`,
    /// `failed`).
    pub fn finish(mut self, outcome: &'static str) {
        self.finished = true;
        self.metrics.node_step(self.step, outcome, self.started.elapsed());
    }
}

impl Drop for StepTimer {
    fn drop(&mut self) {
        if !self.finished {
            self.metrics.node_step(self.step, "aborted", self.started.elapsed());
        }
    }
}

/// Time `call` as `operation` of `driver`, in a `driver_call` span
/// (`driver`, `operation`, `outcome`; the node and task are the enclosing
/// `node_step` span's).
macro_rules! timed_call {
    ($self:ident, $operation:literal, $call:expr) => {{
        let span =
            tracing::info_span!("driver_call", driver = $self.driver_label(), operation = $operation, outcome = tracing::field::Empty);
        let started = Instant::now();
        let result = tracing::Instrument::instrument($call, span.clone()).await;
        let outcome = $self.metrics.driver_call($self.driver_label(), $operation, started, &result);
        span.record("outcome", outcome);
        result
    }};
}

/// An OOB driver whose calls are timed (driver label: its name).
pub struct InstrumentedOob {
    inner: Arc<dyn OobDriver>,
    metrics: Metrics,
}

impl InstrumentedOob {
    fn driver_label(&self) -> &'static str {
        self.inner.name()
    }
}

#[async_trait]
impl OobDriver for InstrumentedOob {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn oob_types(&self) -> &'static [&'static str] {
        self.inner.oob_types()
    }
    async fn check(&self, target: &OobTarget) -> Result<(), DriverError> {
        timed_call!(self, "check", self.inner.check(target))
    }
    async fn power_state(&self, target: &OobTarget) -> Result<PowerState, DriverError> {
        timed_call!(self, "power_state", self.inner.power_state(target))
    }
    async fn power_action(&self, target: &OobTarget, action: PowerAction) -> Result<(), DriverError> {
        timed_call!(self, "power_action", self.inner.power_action(target, action))
    }
    async fn set_boot_device(&self, target: &OobTarget, device: BootDevice, persistent: bool) -> Result<(), DriverError> {
        timed_call!(self, "set_boot_device", self.inner.set_boot_device(target, device, persistent))
    }
    async fn inventory(&self, target: &OobTarget) -> Result<serde_json::Value, DriverError> {
        timed_call!(self, "inventory", self.inner.inventory(target))
    }
}

/// A node driver whose calls are timed (driver label: its name, `maas` for
/// the MaaS driver).
pub struct InstrumentedNodeDriver {
    inner: Arc<dyn NodeDriver>,
    metrics: Metrics,
}

impl InstrumentedNodeDriver {
    fn driver_label(&self) -> &'static str {
        match self.inner.name() {
            "maasdriver" => "maas",
            other => other,
        }
    }
}

#[async_trait]
impl NodeDriver for InstrumentedNodeDriver {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn check(&self) -> Result<(), DriverError> {
        timed_call!(self, "check", self.inner.check())
    }
    async fn ensure_network_template(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        timed_call!(self, "ensure_network_template", self.inner.ensure_network_template(site))
    }
    async fn ensure_user_credentials(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        timed_call!(self, "ensure_user_credentials", self.inner.ensure_user_credentials(site))
    }
    async fn ensure_provisioner_config(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        timed_call!(self, "ensure_provisioner_config", self.inner.ensure_provisioner_config(site))
    }
    async fn ensure_boot_media(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        timed_call!(self, "ensure_boot_media", self.inner.ensure_boot_media(site))
    }
    async fn identify(&self, site: &EffectiveSite, node: &BaremetalNode) -> Result<Option<MachineRef>, DriverError> {
        timed_call!(self, "identify", self.inner.identify(site, node))
    }
    async fn machine_status(&self, machine: &MachineRef) -> Result<MachineStatus, DriverError> {
        timed_call!(self, "machine_status", self.inner.machine_status(machine))
    }
    async fn commission(&self, machine: &MachineRef) -> Result<(), DriverError> {
        timed_call!(self, "commission", self.inner.commission(machine))
    }
    async fn apply_networking(&self, site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError> {
        timed_call!(self, "apply_networking", self.inner.apply_networking(site, node, machine))
    }
    async fn apply_storage(&self, site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError> {
        timed_call!(self, "apply_storage", self.inner.apply_storage(site, node, machine))
    }
    async fn apply_platform(&self, site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError> {
        timed_call!(self, "apply_platform", self.inner.apply_platform(site, node, machine))
    }
    async fn deploy(&self, machine: &MachineRef, request: &DeployRequest) -> Result<(), DriverError> {
        timed_call!(self, "deploy", self.inner.deploy(machine, request))
    }
    async fn release(&self, machine: &MachineRef, erase: ErasePolicy) -> Result<(), DriverError> {
        timed_call!(self, "release", self.inner.release(machine, erase))
    }
    async fn build_data(&self, machine: &MachineRef) -> Result<Vec<CollectedData>, DriverError> {
        timed_call!(self, "build_data", self.inner.build_data(machine))
    }
    async fn images(&self) -> Result<Vec<(String, Vec<String>)>, DriverError> {
        timed_call!(self, "images", self.inner.images())
    }
}

/// A Kubernetes driver whose calls are timed (driver label `kubernetes`).
pub struct InstrumentedKubernetes {
    inner: Arc<dyn KubernetesDriver>,
    metrics: Metrics,
}

impl InstrumentedKubernetes {
    fn driver_label(&self) -> &'static str {
        "kubernetes"
    }
}

#[async_trait]
impl KubernetesDriver for InstrumentedKubernetes {
    async fn relabel(&self, node: &str, labels: &StringMap) -> Result<(), DriverError> {
        timed_call!(self, "relabel", self.inner.relabel(node, labels))
    }
}

/// Time `call` as store operation `operation`.
macro_rules! timed_op {
    ($self:ident, $operation:literal, $call:expr) => {{
        let started = Instant::now();
        let result = $call.await;
        $self.metrics.store_operation($self.backend, $operation, started, &result);
        result
    }};
}

/// A state store whose operations are timed (backend label: its
/// [`StateStore::backend_name`]). Every method forwards, the provided ones
/// too, so a backend's own versions are used.
pub struct InstrumentedStore {
    inner: Arc<dyn StateStore>,
    backend: &'static str,
    metrics: Metrics,
}

#[async_trait]
impl StateStore for InstrumentedStore {
    fn backend_name(&self) -> &'static str {
        self.backend
    }
    async fn now(&self) -> StoreResult<DateTime<Utc>> {
        timed_op!(self, "now", self.inner.now())
    }
    async fn ping(&self) -> StoreResult<()> {
        timed_op!(self, "ping", self.inner.ping())
    }
    async fn check_writable(&self) -> StoreResult<()> {
        timed_op!(self, "check_writable", self.inner.check_writable())
    }
    fn exclusive(&self) -> bool {
        self.inner.exclusive()
    }
    fn task_events(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.inner.task_events()
    }
    fn task_revision(&self) -> Option<u64> {
        self.inner.task_revision()
    }
    async fn design_create(&self) -> StoreResult<DesignRecord> {
        timed_op!(self, "design_create", self.inner.design_create())
    }
    async fn design_get(&self, id: TaskId) -> StoreResult<DesignRecord> {
        timed_op!(self, "design_get", self.inner.design_get(id))
    }
    async fn design_part_add(&self, id: TaskId, source: &str, content: &[u8]) -> StoreResult<DesignPart> {
        timed_op!(self, "design_part_add", self.inner.design_part_add(id, source, content))
    }
    async fn design_parts(&self, id: TaskId) -> StoreResult<Vec<DesignPart>> {
        timed_op!(self, "design_parts", self.inner.design_parts(id))
    }
    async fn design_list(&self, after: Option<TaskId>, limit: usize) -> StoreResult<Vec<DesignRecord>> {
        timed_op!(self, "design_list", self.inner.design_list(after, limit))
    }
    async fn task_create(&self, task: &Task) -> StoreResult<Task> {
        timed_op!(self, "task_create", self.inner.task_create(task))
    }
    async fn task_import(&self, tasks: &[Task]) -> StoreResult<()> {
        timed_op!(self, "task_import", self.inner.task_import(tasks))
    }
    async fn task_get(&self, id: TaskId) -> StoreResult<Task> {
        timed_op!(self, "task_get", self.inner.task_get(id))
    }
    async fn task_get_many(&self, ids: &[TaskId]) -> StoreResult<Vec<Task>> {
        timed_op!(self, "task_get_many", self.inner.task_get_many(ids))
    }
    async fn task_list(&self, query: &TaskQuery) -> StoreResult<TaskPage> {
        timed_op!(self, "task_list", self.inner.task_list(query))
    }
    async fn task_list_with_messages(&self, query: &TaskQuery) -> StoreResult<TaskPage<TaskWithMessages>> {
        timed_op!(self, "task_list_with_messages", self.inner.task_list_with_messages(query))
    }
    async fn task_get_many_with_messages(&self, ids: &[TaskId]) -> StoreResult<Vec<TaskWithMessages>> {
        timed_op!(self, "task_get_many_with_messages", self.inner.task_get_many_with_messages(ids))
    }
    async fn task_children(&self, id: TaskId) -> StoreResult<Vec<Task>> {
        timed_op!(self, "task_children", self.inner.task_children(id))
    }
    async fn task_update(&self, task: &Task, guard: UpdateGuard) -> StoreResult<Task> {
        timed_op!(self, "task_update", self.inner.task_update(task, guard))
    }
    async fn task_add_subtask(&self, parent: TaskId, child: TaskId) -> StoreResult<()> {
        timed_op!(self, "task_add_subtask", self.inner.task_add_subtask(parent, child))
    }
    async fn task_mark_terminate(&self, id: TaskId, by: &str, propagate: bool) -> StoreResult<()> {
        timed_op!(self, "task_mark_terminate", self.inner.task_mark_terminate(id, by, propagate))
    }
    async fn task_purge(&self, cutoff: DateTime<Utc>) -> StoreResult<PurgeReport> {
        timed_op!(self, "task_purge", self.inner.task_purge(cutoff))
    }
    async fn result_message_add(&self, task: TaskId, message: &StatusMessage) -> StoreResult<()> {
        timed_op!(self, "result_message_add", self.inner.result_message_add(task, message))
    }
    async fn result_messages(&self, task: TaskId) -> StoreResult<Vec<StatusMessage>> {
        timed_op!(self, "result_messages", self.inner.result_messages(task))
    }
    async fn build_data_insert(&self, record: &BuildData) -> StoreResult<()> {
        timed_op!(self, "build_data_insert", self.inner.build_data_insert(record))
    }
    async fn build_data_for_node(&self, node: &str, latest: bool) -> StoreResult<Vec<BuildData>> {
        timed_op!(self, "build_data_for_node", self.inner.build_data_for_node(node, latest))
    }
    async fn build_data_for_task(&self, task: TaskId) -> StoreResult<Vec<BuildData>> {
        timed_op!(self, "build_data_for_task", self.inner.build_data_for_task(task))
    }
    async fn bootaction_context_upsert(&self, context: &BootActionContext) -> StoreResult<()> {
        timed_op!(self, "bootaction_context_upsert", self.inner.bootaction_context_upsert(context))
    }
    async fn bootaction_context(&self, node: &str) -> StoreResult<Option<BootActionContext>> {
        timed_op!(self, "bootaction_context", self.inner.bootaction_context(node))
    }
    async fn bootaction_begin(&self, context: &BootActionContext, statuses: &[BootActionStatus]) -> StoreResult<()> {
        timed_op!(self, "bootaction_begin", self.inner.bootaction_begin(context, statuses))
    }
    async fn bootaction_status_insert(&self, status: &BootActionStatus) -> StoreResult<()> {
        timed_op!(self, "bootaction_status_insert", self.inner.bootaction_status_insert(status))
    }
    async fn bootaction_status_get(&self, action_id: BootActionId) -> StoreResult<BootActionStatus> {
        timed_op!(self, "bootaction_status_get", self.inner.bootaction_status_get(action_id))
    }
    async fn bootaction_status_for_node(&self, node: &str) -> StoreResult<Vec<BootActionStatus>> {
        timed_op!(self, "bootaction_status_for_node", self.inner.bootaction_status_for_node(node))
    }
    async fn bootaction_status_update(&self, action_id: BootActionId, status: ActionResult) -> StoreResult<BootActionStatus> {
        timed_op!(self, "bootaction_status_update", self.inner.bootaction_status_update(action_id, status))
    }
    async fn task_admit(&self, me: uuid::Uuid, lease: Duration, decide: Decide) -> StoreResult<Admitted> {
        timed_op!(self, "task_admit", self.inner.task_admit(me, lease, decide))
    }
    async fn task_lease_renew(&self, me: uuid::Uuid, tasks: &[TaskId], lease: Duration) -> StoreResult<Vec<TaskId>> {
        timed_op!(self, "task_lease_renew", self.inner.task_lease_renew(me, tasks, lease))
    }
    async fn task_lease_release(&self, me: uuid::Uuid, tasks: &[TaskId]) -> StoreResult<()> {
        timed_op!(self, "task_lease_release", self.inner.task_lease_release(me, tasks))
    }
    async fn task_leases(&self) -> StoreResult<Vec<RunningTask>> {
        timed_op!(self, "task_leases", self.inner.task_leases())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::DriverErrorKind;
    use crate::store::memory::MemoryStore;

    fn exposition(metrics: &Metrics) -> String {
        let mut text = String::new();
        metrics.encode_into(&mut text).expect("encodes");
        text
    }

    struct Flaky;

    #[async_trait]
    impl OobDriver for Flaky {
        fn name(&self) -> &'static str {
            "redfish"
        }
        fn oob_types(&self) -> &'static [&'static str] {
            &["redfish"]
        }
        async fn check(&self, target: &OobTarget) -> Result<(), DriverError> {
            Err(DriverError::new(DriverErrorKind::Transient, "check", target.endpoint(), "no answer"))
        }
        async fn power_state(&self, _: &OobTarget) -> Result<PowerState, DriverError> {
            Ok(PowerState::Off)
        }
        async fn power_action(&self, _: &OobTarget, _: PowerAction) -> Result<(), DriverError> {
            Ok(())
        }
        async fn set_boot_device(&self, _: &OobTarget, _: BootDevice, _: bool) -> Result<(), DriverError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn driver_calls_are_labelled_by_driver_operation_and_outcome_never_by_target() {
        let metrics = Metrics::new();
        let driver = metrics.oob(Arc::new(Flaky));
        let target = OobTarget {
            node: "rack9-node-0042".into(),
            oob_type: "redfish".into(),
            address: "10.9.9.42".into(),
            port: None,
            account: "admin".into(),
            credential: crate::ids::Secret::new("hunter2"),
            parameters: Default::default(),
        };
        assert_eq!(driver.name(), "redfish");
        assert_eq!(driver.check(&target).await.expect_err("transient").kind(), DriverErrorKind::Transient);
        assert_eq!(driver.power_state(&target).await.expect("state"), PowerState::Off);
        assert_eq!(driver.inventory(&target).await.expect_err("default").kind(), DriverErrorKind::Unsupported);
        let text = exposition(&metrics);
        for series in [
            r#"drydock_driver_call_duration_seconds_count{driver="redfish",operation="check",outcome="transient"} 1"#,
            r#"drydock_driver_call_duration_seconds_count{driver="redfish",operation="power_state",outcome="ok"} 1"#,
            r#"drydock_driver_call_duration_seconds_count{driver="redfish",operation="inventory",outcome="unsupported"} 1"#,
        ] {
            assert!(text.contains(series), "{series} in\n{text}");
        }
        for private in ["rack9-node-0042", "10.9.9.42", "hunter2", "admin"] {
            assert!(!text.contains(private), "{private} in the metrics");
        }
    }

    #[tokio::test]
    async fn the_store_wrapper_forwards_and_times_by_backend() {
        let metrics = Metrics::new();
        let inner: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let store = metrics.store(inner.clone());
        assert_eq!(store.backend_name(), "memory");
        assert_eq!(store.exclusive(), inner.exclusive());
        assert_eq!(store.task_revision(), inner.task_revision());
        let missing = store.task_get(TaskId::generate()).await.expect_err("missing");
        assert_eq!(missing.kind(), crate::store::StoreErrorKind::NotFound);
        store.ping().await.expect("ping");
        let text = exposition(&metrics);
        assert!(
            text.contains(r#"drydock_store_operation_duration_seconds_count{backend="memory",operation="task_get",outcome="not_found"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"drydock_store_operation_duration_seconds_count{backend="memory",operation="ping",outcome="ok"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn a_step_dropped_unfinished_is_aborted_and_tasks_count_by_action_and_result() {
        let metrics = Metrics::new();
        drop(metrics.node_step_timer(Action::DeployNode));
        metrics.node_step_timer(Action::DeployNode).finish("done");
        metrics.task_created(Action::DeployNodes);
        metrics.task_finished(Action::DeployNodes, "terminated", Duration::from_secs(2));
        let text = exposition(&metrics);
        for series in [
            r#"drydock_node_step_duration_seconds_count{step="deploy_node",outcome="aborted"} 1"#,
            r#"drydock_node_step_duration_seconds_count{step="deploy_node",outcome="done"} 1"#,
            r#"drydock_tasks_created_total{action="deploy_nodes"} 1"#,
            r#"drydock_tasks_finished_total{action="deploy_nodes",result="terminated"} 1"#,
            r#"drydock_task_duration_seconds_sum{action="deploy_nodes",result="terminated"} 2.0"#,
            r#"drydock_build_info{version="#,
        ] {
            assert!(text.contains(series), "{series} in\n{text}");
        }
    }
}
