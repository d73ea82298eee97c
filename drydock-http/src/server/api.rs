//! The `/api/v1.0` endpoints of the original (compat: api spec §1.3.1–§1.3.12)
//! except boot actions: versions, health, tasks, nodes, build data, node
//! filter and design validation. Each handler checks its policy rule first,
//! then answers with the original's bodies and status codes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use drydock_core::ids::{DesignRef, TaskId};
use drydock_core::orchestrator::SubmitError;
use drydock_core::store::{StoreErrorKind, TaskCursor, TaskQuery, TaskWithMessages};
use drydock_core::task::{Action, RequestContext as Requester};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::types::{Example, ToJSON};
use poem_openapi::{ApiResponse, Object, OpenApi, Tags, Union};
use serde_json::Value;

use super::AppState;
use super::auth::RequestContext;
use super::body::{JsonText, RawBody};
use super::error::{
    Answer, ApiError, ApiResult, BuildDataErrors, Envelope, HealthErrors, ListErrors, PurgeErrors, QueryErrors, ReadErrors,
    ValidationErrors, WriteErrors,
};
use super::params::{self, Days, Depth, Flag, Lenient, PageSize};
use super::security::{Anyone, Caller};
use super::task_pages::{Page, PageKey};
use crate::wire::task::{
    BuildDataBody, KeyedBy, SubtaskErrorBody, TaskBody, TaskDetailBody, TaskListView, TaskShown, TaskTreeBody, TreeEntry, Zone,
    build_data_body, result_body, task_body,
};
use crate::wire::types::{AnyObject, CreatableAction, NodeFilterSchema, NodeFilterValue};
use crate::wire::validation::{ReportBody, report_typed};
use drydock_core::validate::{DesignReport, DesignStatus, ReportMessage};

/// Endpoint groups in the OpenAPI document.
#[derive(Tags)]
pub enum ApiTags {
    /// Versions and health.
    Service,
    /// Tasks.
    Tasks,
    /// Nodes and build data.
    Nodes,
    /// Designs: validation and the designs API.
    Designs,
}

/// `GET /api/v1.0/versions`.
#[derive(ApiResponse)]
pub enum VersionsReply {
    /// The versions offered.
    #[oai(status = 200)]
    Ok(Json<Versions>),
}

/// Build-data records.
#[derive(ApiResponse)]
pub enum BuildDataReply {
    /// The records (possibly none).
    #[oai(status = 200)]
    Ok(Json<Vec<BuildDataBody>>),
}

/// `POST /api/v1.0/nodefilter`.
#[derive(ApiResponse)]
pub enum NodeNamesReply {
    /// The names of the selected nodes, in design order.
    #[oai(status = 200)]
    Ok(Json<Vec<String>>),
}

/// `GET /api/v1.0/nodes`.
#[derive(ApiResponse)]
pub enum NodesReply {
    /// The machines.
    #[oai(status = 200)]
    Ok(Json<Vec<NodeSummary>>),
}

/// `GET /api/v1.0/health`.
#[derive(ApiResponse)]
pub enum HealthReply {
    /// The store answered.
    #[oai(status = 204)]
    Healthy,
    /// The store did not answer.
    #[oai(status = 503)]
    Unhealthy,
}

/// `GET /api/v1.0/health/extended`.
#[derive(ApiResponse)]
pub enum ExtendedHealthReply {
    /// Healthy: a Status document.
    #[oai(status = 200)]
    Healthy(Json<HealthStatus>),
    /// Unhealthy: a Status document listing the failed checks; the error
    /// envelope when the request timed out or the server is busy.
    #[oai(status = 503)]
    Unhealthy(Json<HealthFailure>),
}

/// An error answer of `GET /health/extended`: the Status document of a
/// failed health check (503), or the error envelope (a request refused,
/// timed out or the server busy). The two are told apart by their required
/// fields (`kind`, `apiVersion`, `status`, `code` against `type`, `retry`).
#[derive(Union)]
#[oai(one_of)]
pub enum HealthFailure {
    /// The health check failed (`code: 503`).
    Status(HealthStatus),
    /// The request was not served.
    Error(Envelope),
}

/// `GET /api/v1.0/tasks/{id}`.
#[derive(ApiResponse)]
pub enum TaskReply {
    /// The task, or with `layers` the task tree by id.
    #[oai(status = 200)]
    Ok(Json<TaskShown>),
}

/// `POST /api/v1.0/tasks`.
#[derive(ApiResponse)]
pub enum TaskCreated {
    /// The task, queued.
    #[oai(status = 201)]
    Created(Json<TaskBody>, #[oai(header = "Location")] String),
}

/// `GET /api/v1.0/tasks`: one page of tasks.
#[derive(ApiResponse)]
pub enum TaskList {
    /// The tasks, oldest first. `X-Drydock-Next-Marker` is set when more
    /// tasks follow; pass it back as `marker`.
    #[oai(status = 200)]
    Ok(JsonText<Vec<TaskBody>>, #[oai(header = "X-Drydock-Next-Marker")] Option<String>),
}

/// `DELETE /api/v1.0/tasks`.
#[derive(ApiResponse)]
pub enum PurgeReply {
    /// `Tables purged successfully.`
    #[oai(status = 200)]
    Purged(PlainText<String>),
}

/// `POST /api/v1.0/validatedesign`.
#[derive(ApiResponse)]
pub enum ValidationReply {
    /// The design passed: a Status document.
    #[oai(status = 200)]
    Valid(Json<ReportBody>),
    /// The design failed: the same Status document with `code: 400`; a
    /// request the server cannot validate (no body, no `href`, a reference
    /// the source refused) gets the error envelope.
    #[oai(status = 400)]
    Invalid(Json<ValidationFailure>),
}

/// Body of `POST /api/v1.0/tasks` (documentation only).
#[derive(Object)]
#[oai(example)]
pub struct TaskCreateRequest {
    // What the task does. (A plain comment: see `wire::types` on enum fields.)
    #[allow(missing_docs)]
    pub action: CreatableAction,
    /// The design reference.
    pub design_ref: String,
    /// The nodes the task is about (null or absent: every node).
    pub node_filter: Option<NodeFilterValue>,
}

impl Example for TaskCreateRequest {
    fn example() -> Self {
        TaskCreateRequest {
            action: CreatableAction(Action::DeployNodes.as_str().into()),
            design_ref: "http://deckhand/api/v1.0/revisions/1/rendered-documents".into(),
            node_filter: Some(NodeFilterValue::new(NodeFilterSchema::example().to_json().unwrap_or_default())),
        }
    }
}

/// Body of `POST /api/v1.0/nodefilter` (documentation only).
#[derive(Object)]
#[oai(example)]
pub struct NodeFilterRequest {
    /// The design reference.
    pub design_ref: String,
    /// The filter (null or absent: every node).
    pub node_filter: Option<NodeFilterValue>,
}

impl Example for NodeFilterRequest {
    fn example() -> Self {
        NodeFilterRequest {
            design_ref: "file:///srv/site/site.yaml".into(),
            node_filter: Some(NodeFilterValue::new(NodeFilterSchema::example().to_json().unwrap_or_default())),
        }
    }
}

/// Body of `POST /api/v1.0/validatedesign` (documentation only).
#[derive(Object)]
#[oai(example)]
pub struct ValidateDesignRequest {
    /// Informational (`design`).
    pub rel: Option<String>,
    /// The design reference.
    pub href: String,
    /// Informational (`application/x-yaml`).
    #[oai(rename = "type")]
    pub media_type: Option<String>,
}

impl Example for ValidateDesignRequest {
    fn example() -> Self {
        ValidateDesignRequest {
            rel: Some("design".into()),
            href: "file:///srv/site/site.yaml".into(),
            media_type: Some("application/x-yaml".into()),
        }
    }
}

/// The 400 of `POST /validatedesign`: the failed validation's Status
/// document, or the error envelope when the request could not be validated.
#[derive(Union)]
#[oai(one_of)]
pub enum ValidationFailure {
    /// The design failed validation (`code: 400`).
    Report(ReportBody),
    /// No body, no `href`, or a reference the source refused.
    Error(Envelope),
}

/// Where a version lives and whether it is stable.
#[derive(Object)]
pub struct VersionEntry {
    /// `/api/v1.0`.
    pub path: String,
    /// `stable`.
    pub status: String,
}

/// The API versions this server offers.
#[derive(Object)]
#[oai(example)]
pub struct Versions {
    /// Version 1.0.
    #[oai(rename = "v1.0")]
    pub v1_0: VersionEntry,
}

impl Example for Versions {
    fn example() -> Self {
        Versions { v1_0: VersionEntry { path: "/api/v1.0".into(), status: "stable".into() } }
    }
}

/// A failed health check.
#[derive(Object)]
pub struct HealthMessage {
    /// What failed.
    pub message: String,
    /// Always true.
    pub error: bool,
    /// `SimpleMessage`.
    pub kind: String,
}

/// The failed checks.
#[derive(Object)]
pub struct HealthDetails {
    /// How many checks failed.
    #[oai(rename = "errorCount")]
    pub error_count: i64,
    /// The failed checks.
    #[oai(rename = "messageList")]
    pub message_list: Vec<HealthMessage>,
}

/// `Success` with code 200, or `Failure` with code 503 and the failed checks.
#[derive(Object)]
#[oai(example)]
pub struct HealthStatus {
    /// Always `Status`.
    pub kind: String,
    /// Always `v1.0`.
    #[oai(rename = "apiVersion")]
    pub api_version: String,
    /// Always empty.
    pub metadata: AnyObject,
    /// `Success` or `Failure`.
    pub status: String,
    /// Empty, or `Drydock failed to respond`.
    pub message: String,
    /// `HealthCheck`.
    pub reason: String,
    /// The failed checks.
    pub details: HealthDetails,
    /// 200 or 503.
    pub code: i64,
}

impl HealthStatus {
    fn new(failures: Vec<HealthMessage>) -> Self {
        let healthy = failures.is_empty();
        HealthStatus {
            kind: "Status".into(),
            api_version: "v1.0".into(),
            metadata: AnyObject::default(),
            status: if healthy { "Success" } else { "Failure" }.into(),
            message: if healthy { "" } else { "Drydock failed to respond" }.into(),
            reason: "HealthCheck".into(),
            details: HealthDetails { error_count: failures.len() as i64, message_list: failures },
            code: if healthy { 200 } else { 503 },
        }
    }
}

impl Example for HealthStatus {
    fn example() -> Self {
        HealthStatus::new(Vec::new())
    }
}

fn failed_check(message: &str) -> HealthMessage {
    HealthMessage { message: message.into(), error: true, kind: "SimpleMessage".into() }
}

/// A machine as `GET /api/v1.0/nodes` lists it (compat §1.3.9).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Object)]
#[oai(rename = "Node")]
pub struct NodeSummary {
    /// Host name.
    pub hostname: String,
    /// Memory in MiB.
    pub memory: u64,
    /// CPU count.
    pub cpu_count: u64,
    /// Provisioner status (`Deployed`, `Ready`, …).
    pub status_name: String,
    /// PXE MAC address.
    #[oai(nullable)]
    pub boot_mac: Option<String>,
    /// `on`, `off`, `unknown`.
    #[oai(nullable)]
    pub power_state: Option<String>,
    /// BMC address.
    #[oai(nullable)]
    pub power_address: Option<String>,
    /// Boot interface address.
    #[oai(nullable)]
    pub boot_ip: Option<String>,
}

/// The live machine listing behind `GET /api/v1.0/nodes` (the node
/// provisioner's view, not the design's).
#[async_trait::async_trait]
pub trait NodeInventory: Send + Sync {
    /// Every machine.
    async fn machines(&self) -> Result<Vec<NodeSummary>, String>;
}

/// Boolean query values as the original parses them (compat §1.3.7).
fn parse_bool(name: &str, value: Option<&str>) -> ApiResult<bool> {
    match value {
        None => Ok(false),
        Some("true" | "True" | "t" | "yes" | "y" | "1" | "on") => Ok(true),
        Some("false" | "False" | "f" | "no" | "n" | "0" | "off") => Ok(false),
        Some(_) => Err(ApiError::BadRequest(format!("Invalid value for query parameter {name}"))),
    }
}

/// A page marker: `<created seconds>.<nanoseconds>.<task id>` of the last
/// task of the page (full precision, so the next page starts exactly after it).
fn encode_marker(cursor: &TaskCursor) -> String {
    format!("{}.{}.{}", cursor.created.timestamp(), cursor.created.timestamp_subsec_nanos(), cursor.id)
}

fn decode_marker(text: &str) -> Option<TaskCursor> {
    let mut parts = text.splitn(3, '.');
    let seconds = parts.next()?.parse().ok()?;
    let nanos = parts.next()?.parse().ok()?;
    let created = chrono::DateTime::from_timestamp(seconds, nanos)?;
    Some(TaskCursor { created, id: parts.next()?.parse().ok()? })
}

/// The v1.0 API.
pub struct DrydockApi {
    pub(super) state: Arc<AppState>,
}

impl DrydockApi {
    fn authorize(&self, context: &RequestContext, rule: &str) -> ApiResult<()> {
        super::authorize(&self.state, context, rule)
    }

    async fn health_checks(&self) -> Vec<HealthMessage> {
        match self.state.store.ping().await {
            Ok(()) => Vec::new(),
            Err(error) => {
                tracing::error!(error = %error, "health check: the state store does not answer");
                vec![failed_check("Unable to connect to database")]
            }
        }
    }

    /// `subtask_errors` and, when `layers` asks for it, the layered map:
    /// breadth first from `root`, one store read (tasks with their
    /// messages) per level of the tree, never one per task.
    async fn task_tree(
        &self,
        root: TaskWithMessages,
        layers: i64,
        builddata: bool,
        subtaskerrors: bool,
    ) -> ApiResult<(Vec<(String, TreeEntry)>, KeyedBy<SubtaskErrorBody>)> {
        let depth_limit = match layers {
            -1 => usize::MAX,
            n if n <= 0 => 1,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let mut layered = Vec::new();
        let mut errors = KeyedBy::default();
        let mut seen: HashSet<TaskId> = HashSet::from([root.task.id]);
        let mut level = vec![root];
        let mut depth = 1;
        while !level.is_empty() {
            let descend = depth < depth_limit || subtaskerrors;
            // The children not met before, per task, in sub-task order.
            let fresh: Vec<Vec<TaskId>> = level
                .iter()
                .map(|entry| if descend { entry.task.subtasks.iter().copied().filter(|id| seen.insert(*id)).collect() } else { Vec::new() })
                .collect();
            let wanted: Vec<TaskId> = fresh.iter().flatten().copied().collect();
            let mut children: HashMap<TaskId, TaskWithMessages> = if wanted.is_empty() {
                HashMap::new()
            } else {
                self.state.store.task_get_many_with_messages(&wanted).await?.into_iter().map(|child| (child.task.id, child)).collect()
            };
            let mut next = Vec::with_capacity(children.len());
            for (TaskWithMessages { task, messages }, fresh) in level.into_iter().zip(fresh) {
                if depth > 1 && subtaskerrors && messages.iter().any(|message| message.error) {
                    let result = result_body(&task.result, &messages, Zone::Naive);
                    errors.0.push((task.id.to_string(), SubtaskErrorBody { result, task_id: task.id.to_string() }));
                }
                if depth <= depth_limit {
                    let build_data = if builddata { Some(self.build_data_json(task.id).await?) } else { None };
                    let body = TaskDetailBody { task: task_body(&task, &messages, Zone::Naive), build_data, subtask_errors: None };
                    layered.push((task.id.to_string(), Some(body)));
                }
                for id in fresh {
                    match children.remove(&id) {
                        Some(child) => next.push(child),
                        None if depth < depth_limit => {
                            layered.push((id.to_string(), None));
                        }
                        None => {}
                    }
                }
            }
            level = next;
            depth += 1;
        }
        Ok((layered, errors))
    }

    async fn build_data_json(&self, task: TaskId) -> ApiResult<Vec<BuildDataBody>> {
        let records = self.state.store.build_data_for_task(task).await?;
        Ok(records.iter().map(build_data_body).collect())
    }
}

#[OpenApi]
impl DrydockApi {
    /// API versions (no authentication).
    #[oai(path = "/versions", method = "get", tag = "ApiTags::Service", operation_id = "get_versions")]
    async fn versions(&self, _anyone: Anyone) -> VersionsReply {
        VersionsReply::Ok(Json(Versions::example()))
    }

    /// Liveness: 204 when the state store answers, 503 otherwise. Writes
    /// nothing (no authentication).
    #[oai(path = "/api/v1.0/health", method = "get", tag = "ApiTags::Service", operation_id = "get_health")]
    async fn health(&self, _anyone: Anyone) -> HealthReply {
        if self.health_checks().await.is_empty() { HealthReply::Healthy } else { HealthReply::Unhealthy }
    }

    /// Health with a Status document (`physical_provisioner:health_data`).
    #[oai(path = "/api/v1.0/health/extended", method = "get", tag = "ApiTags::Service", operation_id = "get_extended_health")]
    async fn health_extended(&self, context: Caller<'_>) -> Answer<ExtendedHealthReply, HealthErrors> {
        self.authorize(&context, "physical_provisioner:health_data")?;
        // The store must answer and, since a store that answers may still
        // be unable to keep a write (a full disk), take a probe write.
        let failure = |message: &str| vec![failed_check(message)];
        let failures = match self.state.store.ping().await {
            Err(error) => {
                tracing::error!(error = %error, "health check: the state store does not answer");
                failure(match error.kind() {
                    StoreErrorKind::Corrupt => "State store corrupt: writes refused",
                    _ => "Unable to connect to database",
                })
            }
            Ok(()) => match self.state.store.check_writable().await {
                Ok(()) => Vec::new(),
                Err(error) => {
                    tracing::error!(error = %error, "health check: the state store cannot be written");
                    failure(match error.kind() {
                        StoreErrorKind::Full => "State store full: no space left for writes",
                        StoreErrorKind::Corrupt => "State store corrupt: writes refused",
                        _ => "State store not writable",
                    })
                }
            },
        };
        let healthy = failures.is_empty();
        let body = HealthStatus::new(failures);
        Ok(if healthy {
            ExtendedHealthReply::Healthy(Json(body))
        } else {
            ExtendedHealthReply::Unhealthy(Json(HealthFailure::Status(body)))
        })
    }

    /// Tasks, oldest first (`physical_provisioner:read_task`). Without
    /// `limit`, up to the server's default page size (large enough for
    /// clients that expect every task); `limit` is capped at the maximum.
    #[oai(path = "/api/v1.0/tasks", method = "get", tag = "ApiTags::Tasks", operation_id = "get_tasks")]
    async fn task_list(
        &self,
        context: Caller<'_>,
        /// Page size.
        limit: Query<Option<Lenient<PageSize>>>,
        /// `X-Drydock-Next-Marker` of the previous page.
        marker: Query<Option<String>>,
    ) -> Answer<TaskList, ListErrors> {
        self.authorize(&context, "physical_provisioner:read_task")?;
        let limit = self.state.config.paging.limit(params::text(&limit.0))?;
        let after = match marker.0.as_deref() {
            None => None,
            Some(text) => Some(decode_marker(text).ok_or_else(|| ApiError::BadRequest("Invalid marker".into()))?),
        };
        // One store read for the page and its messages, serialised once
        // straight into the response text, and shared by the requests for
        // the same page that may see it (task_pages.rs).
        let key = PageKey { limit, after: after.map(|cursor| (cursor.created, cursor.id)) };
        let revision = self.state.store.task_revision();
        let page = self
            .state
            .task_pages
            .page(key, revision, || async {
                let page = self.state.store.task_list_with_messages(&TaskQuery { limit, after, ..TaskQuery::default() }).await?;
                let body = TaskListView::new(&page.tasks, Zone::Naive).to_json();
                Ok::<_, ApiError>(Page { body: body.into(), next: page.next.as_ref().map(encode_marker) })
            })
            .await?;
        Ok(TaskList::Ok(JsonText::new(page.body), page.next))
    }

    /// Create a task and queue it for the orchestrator
    /// (`physical_provisioner:create_task`, then the action's own rule).
    #[oai(path = "/api/v1.0/tasks", method = "post", tag = "ApiTags::Tasks", operation_id = "create_task")]
    async fn task_create(&self, context: Caller<'_>, body: RawBody<TaskCreateRequest>) -> Answer<TaskCreated, WriteErrors> {
        self.authorize(&context, "physical_provisioner:create_task")?;
        let body = body.read().await?;
        if !body.is_json() {
            return Err(ApiError::BadRequest("Content-Type must be application/json".into()).into());
        }
        if body.is_empty() {
            return Err(ApiError::BadRequest("Request body must not be empty".into()).into());
        }
        let value = body.json().map_err(|error| ApiError::BadRequest(format!("Invalid JSON in request body: {error}")))?;
        let Value::Object(fields) = value else {
            return Err(ApiError::BadRequest("The request body must be a JSON object".into()).into());
        };
        let action_text = fields.get("action").and_then(Value::as_str);
        let action = action_text
            .and_then(Action::parse)
            .filter(|action| Action::CREATABLE.contains(action))
            .ok_or_else(|| ApiError::BadRequest(format!("Unsupported action {}", action_text.unwrap_or("None"))))?;
        self.authorize(&context, &format!("physical_provisioner:{}", action.as_str()))?;
        let design_ref = match fields.get("design_ref") {
            Some(Value::String(text)) if !text.is_empty() => text.clone(),
            _ => return Err(ApiError::BadRequest("Task creation requires fields design_ref, action".into()).into()),
        };
        let node_filter = match fields.get("node_filter") {
            None | Some(Value::Null) => None,
            Some(filter @ Value::Object(_)) => Some(filter.clone()),
            Some(_) => return Err(ApiError::BadRequest("node_filter must be an object or null".into()).into()),
        };
        // Who asked, as the original records it (compat §4.1 `request_context`); no token.
        let request_context = Requester {
            user: context.user.clone(),
            user_id: context.credentials.user_id.clone(),
            user_domain_id: context.credentials.user_domain_id.clone(),
            project_id: context.credentials.project_id.clone(),
            project_domain_id: context.credentials.project_domain_id.clone(),
            roles: context.credentials.roles.clone(),
            is_admin_project: context.credentials.is_admin_project,
            authenticated: context.authenticated,
            external_marker: context.external_marker.clone(),
            end_user: context.end_user.clone(),
        };
        // A node filter no design can evaluate is refused here rather than
        // failing the task when it runs (docs/compat.md).
        let task = self
            .state
            .orchestrator
            .submit_with_context(action, DesignRef(design_ref), node_filter, context.user.clone(), Some(request_context))
            .await
            .map_err(|error| match error {
                SubmitError::NodeFilter(error) => ApiError::BadRequest(error.to_string()),
                SubmitError::Store(error) => ApiError::from(error),
                _ => ApiError::Internal(error.to_string()),
            })?;
        tracing::info!(task_id = %task.id, action = action.as_str(), user = context.user.as_deref().unwrap_or("-"), "task queued");
        let body = task_body(&task, &[], Zone::Aware);
        Ok(TaskCreated::Created(Json(body), format!("/api/v1.0/tasks/{}", task.id)))
    }

    /// Purge finished tasks older than `days` (default 90; a whole number
    /// from 0 to 36500) (`physical_provisioner:delete_tasks`). A task that
    /// has not finished, its ancestors and its descendants are never purged.
    #[oai(path = "/api/v1.0/tasks", method = "delete", tag = "ApiTags::Tasks", operation_id = "delete_tasks")]
    async fn task_purge(
        &self,
        context: Caller<'_>,
        /// Age in days of the finished tasks to purge (default 90).
        days: Query<Option<Lenient<Days>>>,
    ) -> Answer<PurgeReply, PurgeErrors> {
        self.authorize(&context, "physical_provisioner:delete_tasks")?;
        const MAX_DAYS: i64 = 36_500;
        let invalid = || {
            ApiError::BadRequest(format!("Invalid value for query parameter days: expected a whole number of days from 0 to {MAX_DAYS}"))
        };
        // Missing, empty or `None` (what the original client sends when no
        // value is given) mean 90; anything else that is not a whole number
        // of days in range is refused (upstream purged with 90, or with a
        // negative value everything; docs/compat.md).
        let days = match params::text(&days.0).map(str::trim) {
            None | Some("" | "None") => 90,
            Some(text) => match text.parse::<i64>() {
                Ok(days @ 0..=MAX_DAYS) => days,
                _ => return Err(invalid().into()),
            },
        };
        // A failed purge is 404 as in the original (compat §1.3.6), with the
        // error envelope rather than its empty body (docs/compat.md).
        let failed = || ApiError::NotFound("Task purge failed".into());
        let now = match self.state.store.now().await {
            Ok(now) => now,
            Err(error) => {
                tracing::error!(error = %error, "task purge: the state store does not answer");
                return Err(failed().into());
            }
        };
        let cutoff = chrono::Duration::try_days(days).and_then(|span| now.checked_sub_signed(span)).ok_or_else(invalid)?;
        match self.state.store.task_purge(cutoff).await {
            Ok(report) => {
                tracing::info!(days, tasks = report.tasks, messages = report.messages, "tasks purged");
                Ok(PurgeReply::Purged(PlainText("Tables purged successfully.".into())))
            }
            // Out of space, as every write: 507 rather than the original's 404.
            Err(error) if error.kind() == StoreErrorKind::Full => Err(ApiError::from(error).into()),
            Err(error) => {
                tracing::error!(error = %error, "task purge failed");
                Err(failed().into())
            }
        }
    }

    /// One task (`physical_provisioner:read_task`), optionally with build
    /// data, descendants' errors and descendants by layer.
    #[oai(path = "/api/v1.0/tasks/:task_id", method = "get", tag = "ApiTags::Tasks", operation_id = "get_task")]
    async fn task_get(
        &self,
        context: Caller<'_>,
        task_id: Path<String>,
        /// Add `build_data` (records of this task).
        builddata: Query<Option<Lenient<Flag>>>,
        /// Add `subtask_errors` (descendants with errors, at any depth).
        subtaskerrors: Query<Option<Lenient<Flag>>>,
        /// 0: the task; N: descendants down to depth N keyed by id; -1: all.
        layers: Query<Option<Lenient<Depth>>>,
    ) -> Answer<TaskReply, ReadErrors> {
        self.authorize(&context, "physical_provisioner:read_task")?;
        let builddata = parse_bool("builddata", params::text(&builddata.0))?;
        let subtaskerrors = parse_bool("subtaskerrors", params::text(&subtaskerrors.0))?;
        let layers = params::text(&layers.0).and_then(|text| text.trim().parse::<i64>().ok()).unwrap_or(0);
        let not_found = || ApiError::NotFound(format!("Task {} does not exist", task_id.0));
        let id: TaskId = task_id.0.parse().map_err(|_| not_found())?;
        // The task and its messages in one read.
        let Some(root) = self.state.store.task_get_many_with_messages(&[id]).await?.pop() else { return Err(not_found().into()) };
        if layers == 0 {
            let task = task_body(&root.task, &root.messages, Zone::Naive);
            let build_data = if builddata { Some(self.build_data_json(id).await?) } else { None };
            let subtask_errors = if subtaskerrors { Some(self.task_tree(root, 1, false, true).await?.1) } else { None };
            return Ok(TaskReply::Ok(Json(TaskShown::Task(TaskDetailBody { task, build_data, subtask_errors }))));
        }
        let (tasks, errors) = self.task_tree(root, layers, builddata, subtaskerrors).await?;
        let tree = TaskTreeBody { init_task_id: id.to_string(), tasks, subtask_errors: subtaskerrors.then_some(errors) };
        Ok(TaskReply::Ok(Json(TaskShown::Tree(tree))))
    }

    /// Build data a task collected (`physical_provisioner:read_build_data`);
    /// 404 `No build data found` when there is none, 500 `Unexpected error.`
    /// when the store fails (the original's texts, as error envelopes).
    #[oai(path = "/api/v1.0/tasks/:task_id/builddata", method = "get", tag = "ApiTags::Tasks", operation_id = "get_task_build_data")]
    async fn task_build_data(&self, context: Caller<'_>, task_id: Path<String>) -> Answer<BuildDataReply, BuildDataErrors> {
        self.authorize(&context, "physical_provisioner:read_build_data")?;
        let none = || ApiError::NotFound("No build data found".into());
        let Ok(id) = task_id.0.parse::<TaskId>() else { return Err(none().into()) };
        let records = self.state.store.build_data_for_task(id).await.map_err(|error| {
            tracing::error!(error = %error, "task build data: state store error");
            ApiError::InternalWithMessage("Unexpected error.".into())
        })?;
        if records.is_empty() {
            return Err(none().into());
        }
        Ok(BuildDataReply::Ok(Json(records.iter().map(build_data_body).collect())))
    }

    /// Machines known to the node provisioner (`physical_provisioner:read_data`).
    #[oai(path = "/api/v1.0/nodes", method = "get", tag = "ApiTags::Nodes", operation_id = "get_nodes")]
    async fn nodes(&self, context: Caller<'_>) -> Answer<NodesReply, ListErrors> {
        self.authorize(&context, "physical_provisioner:read_data")?;
        let Some(inventory) = &self.state.nodes else {
            return Err(ApiError::NotConfigured(
                "No node driver is configured: this server was started without --maas-api-url and --maas-api-key".into(),
            )
            .into());
        };
        let machines = inventory.machines().await.map_err(ApiError::Internal)?;
        Ok(NodesReply::Ok(Json(machines)))
    }

    /// A node's build data (`physical_provisioner:read_build_data`); with
    /// `latest=true` only the newest record per generator.
    #[oai(path = "/api/v1.0/nodes/:hostname/builddata", method = "get", tag = "ApiTags::Nodes", operation_id = "get_node_build_data")]
    async fn node_build_data(
        &self,
        context: Caller<'_>,
        hostname: Path<String>,
        /// `true` (any case): newest record per generator.
        latest: Query<Option<Lenient<Flag>>>,
    ) -> Answer<BuildDataReply, ReadErrors> {
        self.authorize(&context, "physical_provisioner:read_build_data")?;
        let latest = params::text(&latest.0).is_some_and(|value| value.eq_ignore_ascii_case("true"));
        let records = self.state.store.build_data_for_node(&hostname.0, latest).await?;
        if records.is_empty() {
            return Err(ApiError::NotFound("No build data found".into()).into());
        }
        Ok(BuildDataReply::Ok(Json(records.iter().map(build_data_body).collect())))
    }

    /// Names of the design's nodes a filter selects, in design order
    /// (`physical_provisioner:read_data`).
    #[oai(path = "/api/v1.0/nodefilter", method = "post", tag = "ApiTags::Nodes", operation_id = "get_nodes_for_filter")]
    async fn node_filter(&self, context: Caller<'_>, body: RawBody<NodeFilterRequest>) -> Answer<NodeNamesReply, QueryErrors> {
        self.authorize(&context, "physical_provisioner:read_data")?;
        let body = body.read().await?;
        if body.is_empty() {
            return Err(ApiError::BadRequest("Missing input required value: design_ref".into()).into());
        }
        let fields = match body.json() {
            Ok(Value::Object(fields)) => fields,
            Ok(_) => return Err(ApiError::BadRequest("The request body must be a JSON object".into()).into()),
            Err(error) => return Err(ApiError::BadRequest(format!("Invalid JSON in request body: {error}")).into()),
        };
        let design_ref = match fields.get("design_ref") {
            Some(Value::String(text)) if !text.is_empty() => text.clone(),
            _ => return Err(ApiError::BadRequest("Missing input required value: design_ref".into()).into()),
        };
        let filter = match fields.get("node_filter") {
            None | Some(Value::Null) => None,
            Some(value) => {
                Some(super::convert::node_filter(value).map_err(|error| ApiError::BadRequest(format!("Invalid node_filter: {error}")))?)
            }
        };
        let evaluation = match self.state.load_design(&design_ref).await {
            Ok(evaluation) => evaluation,
            Err(error) => {
                // The original answers an empty list when the design cannot be
                // loaded (compat §1.3.11).
                tracing::warn!(design_ref = %DesignRef(design_ref.clone()).redacted(), error = %error, "nodefilter: design not loaded");
                return Ok(NodeNamesReply::Ok(Json(Vec::new())));
            }
        };
        let Some(site) = &evaluation.site else {
            return Ok(NodeNamesReply::Ok(Json(Vec::new())));
        };
        let selected = site.select(filter.as_ref()).map_err(|error| ApiError::BadRequest(error.to_string()))?;
        let names: Vec<String> = selected.into_iter().map(|index| site.nodes()[index].name().to_owned()).collect();
        Ok(NodeNamesReply::Ok(Json(names)))
    }

    /// Fetch, parse, compile and validate a design
    /// (`physical_provisioner:validate_site_design`). The Status document is
    /// the body of both 200 and 400.
    #[oai(path = "/api/v1.0/validatedesign", method = "post", tag = "ApiTags::Designs", operation_id = "validate_design")]
    async fn validate_design(
        &self,
        context: Caller<'_>,
        body: RawBody<ValidateDesignRequest>,
    ) -> Answer<ValidationReply, ValidationErrors> {
        self.authorize(&context, "physical_provisioner:validate_site_design")?;
        let body = body.read().await?;
        if body.is_empty() {
            return Err(ApiError::BadRequest("Request body must not be empty for validation.".into()).into());
        }
        if !body.is_json() {
            return Err(ApiError::BadRequest("Content-Type must be application/json".into()).into());
        }
        let value = body.json().map_err(|error| ApiError::BadRequest(format!("Invalid JSON in request body: {error}")))?;
        let href = match value.get("href") {
            Some(Value::String(href)) if !href.is_empty() => href.clone(),
            _ => return Err(ApiError::BadRequest(r#"The "href" key must be provided in the request body."#.into()).into()),
        };
        let evaluation = match self.state.load_design(&href).await {
            Ok(evaluation) => evaluation,
            // A stream that is not YAML (or not UTF-8) is reported as one
            // error in a `failure` status document (site-design spec §1.3
            // recommendation; upstream answers 500).
            Err(super::DesignLoadError::Evaluate(drydock_core::designs::EvaluateError::Ingest(error))) => {
                let finding = drydock_core::model::Finding::new("DD001", drydock_core::model::Level::Error, error.to_string(), "");
                let report = DesignReport {
                    status: DesignStatus::NotEvaluated,
                    message: None,
                    reason: None,
                    error_count: 1,
                    messages: vec![ReportMessage::Finding(finding)],
                };
                return Ok(ValidationReply::Invalid(Json(ValidationFailure::Report(report_typed(&report)))));
            }
            // A reference the source answered for (not found, unauthorised,
            // refused by the policy, not a regular file, too large, bad
            // scheme) is the client's mistake: 400 naming that answer
            // (upstream answers 500; Shipyard only reads `status`). Only an
            // unreachable source (transient) is the server's 500.
            Err(super::DesignLoadError::Fetch(error)) if !error.is_transient() => {
                return Err(ApiError::BadRequest(error.to_string()).into());
            }
            Err(error) => return Err(ApiError::InternalWithMessage(error.to_string()).into()),
        };
        let body = report_typed(&evaluation.report);
        Ok(if evaluation.report.is_success() {
            ValidationReply::Valid(Json(body))
        } else {
            ValidationReply::Invalid(Json(ValidationFailure::Report(body)))
        })
    }
}
