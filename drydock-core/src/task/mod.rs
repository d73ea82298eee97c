//! The task model (compat: api spec §2): actions, statuses and results with
//! their wire strings, the task and its result, status messages, and the
//! pure rules for outcomes, aggregation from sub-tasks, retry and
//! termination ([`aggregate`]). [`records`] holds the other things the store
//! keeps (designs, build data, boot-action records).
//!
//! Rank 2: imports `ids` and `model` only. No I/O.

pub mod aggregate;
pub mod records;

use chrono::{DateTime, Utc};

use crate::ids::{DesignRef, TaskId};

macro_rules! compat_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The compat string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parse the compat string.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

compat_enum! {
    /// Execution state of a task (compat §2.2.1).
    TaskStatus {
        /// Created, not yet queued.
        Requested => "requested",
        /// Waiting for the orchestrator.
        Queued => "queued",
        /// Being executed.
        Running => "running",
        /// In the enum, never assigned upstream.
        Terminating => "terminating",
        /// Stopped on request.
        Terminated => "terminated",
        /// Finished (any result).
        Complete => "complete",
    }
}

impl TaskStatus {
    /// Whether the task will not change any more (`complete` or `terminated`).
    pub fn is_finished(self) -> bool {
        matches!(self, TaskStatus::Complete | TaskStatus::Terminated)
    }
}

compat_enum! {
    /// Outcome of a task or a boot action (compat §2.2.2).
    ActionResult {
        /// Not decided yet (initial).
        Incomplete => "incomplete",
        /// Everything succeeded.
        Success => "success",
        /// Some succeeded, some failed.
        PartialSuccess => "partial_success",
        /// Failed.
        Failure => "failure",
        /// Boot action with signalling disabled.
        Unreported => "unreported",
    }
}

compat_enum! {
    /// What a task does (compat §2.2.3).
    Action {
        /// Do nothing (health checks).
        Noop => "noop",
        /// Validate the design.
        ValidateDesign => "validate_design",
        /// Check the drivers can reach their services.
        VerifySite => "verify_site",
        /// Prepare site-wide provisioner state.
        PrepareSite => "prepare_site",
        /// Check nodes' OOB access.
        VerifyNodes => "verify_nodes",
        /// Power-cycle nodes into the provisioner and commission them.
        PrepareNodes => "prepare_nodes",
        /// Deploy the OS and boot actions.
        DeployNodes => "deploy_nodes",
        /// Release and power off nodes.
        DestroyNodes => "destroy_nodes",
        /// Update Kubernetes node labels.
        RelabelNodes => "relabel_nodes",
        /// Wait for boot-action reports (internal to deploy_nodes).
        BootactionReport => "bootaction_report",
        /// OOB: check BMC access.
        ValidateOobServices => "validate_oob_services",
        /// OOB: configure PXE.
        ConfigNodePxe => "config_node_pxe",
        /// OOB: set the next boot device.
        SetNodeBoot => "set_node_boot",
        /// OOB: power off.
        PowerOffNode => "power_off_node",
        /// OOB: power on.
        PowerOnNode => "power_on_node",
        /// OOB: power cycle.
        PowerCycleNode => "power_cycle_node",
        /// OOB: inventory.
        InterrogateOob => "interrogate_oob",
        /// Node driver: check provisioner access.
        ValidateNodeServices => "validate_node_services",
        /// Node driver: fabrics, VLANs, subnets.
        CreateNetworkTemplate => "create_network_template",
        /// Node driver: storage templates.
        CreateStorageTemplate => "create_storage_template",
        /// Node driver: boot media.
        CreateBootMedia => "create_boot_media",
        /// Node driver: SSH keys.
        ConfigureUserCredentials => "configure_user_credentials",
        /// Node driver: repositories.
        ConfigureNodeProvisioner => "configure_node_provisioner",
        /// Node driver: hardware configuration.
        PrepareHardwareConfig => "prepare_hardware_config",
        /// Node driver: find the machine.
        IdentifyNode => "identify_node",
        /// Node driver: commission.
        ConfigureHardware => "configure_hardware",
        /// Node driver: inventory.
        InterrogateNode => "interrogate_node",
        /// Node driver: networking.
        ApplyNodeNetworking => "apply_node_networking",
        /// Node driver: storage.
        ApplyNodeStorage => "apply_node_storage",
        /// Node driver: platform (kernel, parameters, tags).
        ApplyNodePlatform => "apply_node_platform",
        /// Node driver: deploy.
        DeployNode => "deploy_node",
        /// Node driver: release.
        DestroyNode => "destroy_node",
        /// Network driver (never implemented upstream).
        ValidateNetworkServices => "validate_network_services",
        /// Network driver (never implemented upstream).
        InterrogatePort => "interrogate_port",
        /// Network driver (never implemented upstream).
        ConfigPortProvisioning => "config_port_provisioning",
        /// Network driver (never implemented upstream).
        ConfigPortProduction => "config_port_production",
        /// Kubernetes driver: relabel one node.
        RelabelNode => "relabel_node",
    }
}

impl Action {
    /// Actions a client may create through the API (compat §1.3.5).
    pub const CREATABLE: &'static [Action] = &[
        Action::ValidateDesign,
        Action::VerifySite,
        Action::PrepareSite,
        Action::VerifyNodes,
        Action::PrepareNodes,
        Action::DeployNodes,
        Action::DestroyNodes,
        Action::RelabelNodes,
    ];

    /// Actions the orchestrator loop picks up when queued: `noop` plus the
    /// creatable ones (compat §3.1).
    pub const ORCHESTRATED: &'static [Action] = &[
        Action::Noop,
        Action::ValidateDesign,
        Action::VerifySite,
        Action::PrepareSite,
        Action::VerifyNodes,
        Action::PrepareNodes,
        Action::DeployNodes,
        Action::DestroyNodes,
        Action::RelabelNodes,
    ];

    /// Whether the orchestrator loop picks this action up when queued.
    pub fn is_orchestrated(self) -> bool {
        Action::ORCHESTRATED.contains(&self)
    }
}

/// A task status message (compat §2.4).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusMessage {
    /// The text (cut to 127 characters beyond 128 when stored, as upstream).
    pub message: String,
    /// Whether it reports an error.
    pub error: bool,
    /// `task`, `node`, `bootaction`, `NA`, …
    pub context_type: String,
    /// The task id, node name, … (`NA` for task-wide messages).
    pub context: String,
    /// When.
    pub timestamp: DateTime<Utc>,
    /// Extra keyword fields (a JSON object).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl StatusMessage {
    /// A message about `context_type`/`context`, now.
    pub fn new(message: impl Into<String>, error: bool, context_type: impl Into<String>, context: impl Into<String>) -> Self {
        StatusMessage {
            message: message.into(),
            error,
            context_type: context_type.into(),
            context: context.into(),
            timestamp: Utc::now(),
            extra: serde_json::Map::new(),
        }
    }

    /// A task-wide message (`NA`/`NA`).
    pub fn task_wide(message: impl Into<String>, error: bool) -> Self {
        StatusMessage::new(message, error, "NA", "NA")
    }

    /// A message about a node.
    pub fn node(node: &str, message: impl Into<String>, error: bool) -> Self {
        StatusMessage::new(message, error, "node", node)
    }

    /// The message as upstream stores it: longer than 128 characters → its
    /// first 127 (compat §2.4).
    pub fn stored_text(&self) -> String {
        if self.message.chars().count() > 128 { self.message.chars().take(127).collect() } else { self.message.clone() }
    }
}

/// A task's outcome (compat §2.3); messages are kept separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResult {
    /// The outcome so far.
    pub status: ActionResult,
    /// Free text, usually empty.
    pub message: Option<String>,
    /// Free text, usually empty.
    pub reason: Option<String>,
    /// Entities (node names) that succeeded, de-duplicated, in order.
    pub successes: Vec<String>,
    /// Entities that failed, de-duplicated, in order.
    pub failures: Vec<String>,
    /// Links: relation → URIs, relations and URIs in insertion order.
    pub links: Vec<(String, Vec<String>)>,
}

impl Default for TaskResult {
    fn default() -> Self {
        TaskResult {
            status: ActionResult::Incomplete,
            message: None,
            reason: None,
            successes: Vec::new(),
            failures: Vec::new(),
            links: Vec::new(),
        }
    }
}

impl TaskResult {
    /// `success(focus)` (compat §2.3.1).
    pub fn success(&mut self, focus: Option<&str>) {
        self.status = match self.status {
            ActionResult::Failure | ActionResult::PartialSuccess => ActionResult::PartialSuccess,
            _ => ActionResult::Success,
        };
        if let Some(name) = focus {
            push_unique(&mut self.successes, name);
        }
    }

    /// `failure(focus)` (compat §2.3.1).
    pub fn failure(&mut self, focus: Option<&str>) {
        self.status = match self.status {
            ActionResult::Success | ActionResult::PartialSuccess => ActionResult::PartialSuccess,
            _ => ActionResult::Failure,
        };
        if let Some(name) = focus {
            push_unique(&mut self.failures, name);
        }
    }

    /// Add a link `rel → href` (duplicates ignored).
    pub fn add_link(&mut self, rel: &str, href: &str) {
        match self.links.iter_mut().find(|(existing, _)| existing == rel) {
            Some((_, hrefs)) => push_unique(hrefs, href),
            None => self.links.push((rel.to_owned(), vec![href.to_owned()])),
        }
    }
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|existing| existing == item) {
        list.push(item.to_owned());
    }
}

/// Who created a task, recorded with it as the original records it (compat
/// §4.1 `request_context`): the caller's identity, roles and request
/// markers — never a credential. Stored as JSON of exactly these keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestContext {
    /// User name.
    pub user: Option<String>,
    /// User id.
    pub user_id: Option<String>,
    /// User domain id.
    pub user_domain_id: Option<String>,
    /// Project id.
    pub project_id: Option<String>,
    /// Project domain id.
    pub project_domain_id: Option<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// Whether the project is the admin project.
    pub is_admin_project: bool,
    /// Whether the identity was confirmed.
    pub authenticated: bool,
    /// The request's `X-Context-Marker`.
    pub external_marker: Option<String>,
    /// The request's `X-End-User`, or the user name.
    pub end_user: Option<String>,
}

impl RequestContext {
    /// The JSON stored with the task.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// A task (compat §2.1). `generation` increases with every stored update and
/// guards concurrent writers (an extension; not on the wire).
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Identity.
    pub id: TaskId,
    /// What it does.
    pub action: Action,
    /// Parent, for sub-tasks.
    pub parent: Option<TaskId>,
    /// The design it works on.
    pub design_ref: Option<DesignRef>,
    /// Execution state.
    pub status: TaskStatus,
    /// Outcome.
    pub result: TaskResult,
    /// The node filter as submitted or generated (raw JSON; compat §2.6).
    pub node_filter: Option<serde_json::Value>,
    /// Registered sub-tasks in registration order.
    pub subtasks: Vec<TaskId>,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Who created it (`None` for internal sub-tasks).
    pub created_by: Option<String>,
    /// Last save.
    pub updated: Option<DateTime<Utc>>,
    /// When termination was requested.
    pub terminated: Option<DateTime<Utc>>,
    /// Who requested termination.
    pub terminated_by: Option<String>,
    /// Termination requested.
    pub terminate: bool,
    /// Retry sequence number.
    pub retry: u32,
    /// The creating request's context (stored, never read back upstream):
    /// kept as JSON text, so reading tasks back never parses it.
    pub request_context: Option<RawJson>,
    /// Store generation (0 before the first insert).
    pub generation: u64,
}

impl Task {
    /// A new task in status `requested`.
    pub fn new(action: Action, design_ref: Option<DesignRef>) -> Self {
        Task {
            id: TaskId::generate(),
            action,
            parent: None,
            design_ref,
            status: TaskStatus::Requested,
            result: TaskResult::default(),
            node_filter: None,
            subtasks: Vec::new(),
            created: Utc::now(),
            created_by: None,
            updated: None,
            terminated: None,
            terminated_by: None,
            terminate: false,
            retry: 0,
            request_context: None,
            generation: 0,
        }
    }

    /// A sub-task of `self` (not yet registered with it).
    pub fn child(&self, action: Action) -> Self {
        let mut child = Task::new(action, self.design_ref.clone());
        child.parent = Some(self.id);
        child
    }
}

/// A JSON value kept as its text: for what is stored and shown but never
/// looked inside on a hot path (a task's request context), so reading it
/// back costs one copy rather than a parse into a [`serde_json::Value`]
/// tree, and cloning it costs a reference count. Compares by text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawJson(std::sync::Arc<str>);

impl RawJson {
    /// The JSON text of `value`.
    pub fn new(value: &serde_json::Value) -> Self {
        RawJson(value.to_string().into())
    }

    /// `text` after checking that it is one JSON value.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<serde::de::IgnoredAny>(text)?;
        Ok(RawJson(text.into()))
    }

    /// Text a store wrote from a [`RawJson`] itself (not checked again).
    #[cfg_attr(not(any(feature = "store-redb", feature = "store-postgres")), allow(dead_code))]
    pub(crate) fn from_stored(text: &str) -> Self {
        RawJson(text.into())
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value, parsed.
    pub fn to_value(&self) -> serde_json::Value {
        // Only ever made from a value or from checked text.
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

impl From<serde_json::Value> for RawJson {
    fn from(value: serde_json::Value) -> Self {
        RawJson::new(&value)
    }
}

impl From<&RequestContext> for RawJson {
    fn from(context: &RequestContext) -> Self {
        RawJson::new(&context.to_json())
    }
}

impl std::fmt::Display for RawJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The filter the orchestrator generates to narrow a task to named nodes
/// (compat §2.6.3).
pub fn node_names_filter(names: &[String]) -> serde_json::Value {
    serde_json::json!({
        "filter_set_type": "intersection",
        "filter_set": [{"node_names": names, "filter_type": "union"}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compat_strings_round_trip() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(*action));
        }
        assert_eq!(Action::ALL.len(), 37);
        assert_eq!(Action::parse("verify_node"), None);
        assert!(Action::DeployNodes.is_orchestrated() && Action::Noop.is_orchestrated());
        assert!(!Action::DeployNode.is_orchestrated());
        assert!(Action::CREATABLE.iter().all(|action| action.is_orchestrated()));
        assert_eq!(Action::ORCHESTRATED.len(), Action::CREATABLE.len() + 1);
        assert_eq!(TaskStatus::parse("complete"), Some(TaskStatus::Complete));
        assert_eq!(ActionResult::PartialSuccess.as_str(), "partial_success");
    }

    #[test]
    fn outcomes_accumulate() {
        let mut result = TaskResult::default();
        result.success(Some("n1"));
        assert_eq!(result.status, ActionResult::Success);
        result.failure(Some("n2"));
        assert_eq!(result.status, ActionResult::PartialSuccess);
        result.success(Some("n1"));
        assert_eq!(result.successes, ["n1"]);
        let mut failed = TaskResult::default();
        failed.failure(None);
        assert_eq!(failed.status, ActionResult::Failure);
        failed.success(None);
        assert_eq!(failed.status, ActionResult::PartialSuccess);
    }

    #[test]
    fn raw_json_keeps_the_text_of_one_value() {
        let value = serde_json::json!({"user": "ops", "roles": ["admin"], "n": 1.5});
        let raw = RawJson::new(&value);
        assert_eq!(raw.as_str(), value.to_string());
        assert_eq!(raw.to_value(), value);
        assert_eq!(RawJson::parse(raw.as_str()).expect("valid"), raw);
        assert!(RawJson::parse("{\"a\": ").is_err());
        assert!(RawJson::parse("1 2").is_err());
    }

    #[test]
    fn long_messages_are_cut_like_upstream() {
        let message = StatusMessage::task_wide("x".repeat(129), false);
        assert_eq!(message.stored_text().len(), 127);
        let message = StatusMessage::task_wide("x".repeat(128), false);
        assert_eq!(message.stored_text().len(), 128);
    }
}
