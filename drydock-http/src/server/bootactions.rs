//! The boot-action API (compat: api spec §1.3.13, §1.3.14, §4.7, §5.6):
//! the units and files tarballs a deployed node fetches, the status reports
//! it posts, and its introspection document (a Rust addition). Nodes
//! authenticate with their `X-Bootaction-Key`; there is no token auth.
//!
//! Order of checks as upstream: look the node (or action) up first (404),
//! then the key (401 missing, 403 wrong or not hex, compared in constant
//! time), then the body (400), then the state (409). Errors use the
//! framework envelope (format B). Keys never reach logs or bodies.
//!
//! Routes carry their full path (`/api/v1.0/bootactions/...`): mount
//! [`BootActionApi`] in an `OpenApiService` served at `/`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use drydock_core::bootaction::tarball::tarball;
use drydock_core::bootaction::{ActionIdentity, IdentityKey, context::DEFAULT_REPORT_URL, render_assets};
use drydock_core::compile::{EffectiveSite, compile};
use drydock_core::ids::{BootActionId, DesignRef, TaskId};
use drydock_core::ingest::Ingester;
use drydock_core::ingest::source::DesignSource;
use drydock_core::model::AssetType;
use drydock_core::store::{StateStore, StoreError, StoreErrorKind};
use drydock_core::task::StatusMessage;
use drydock_core::task::records::BootActionContext;
use indexmap::IndexMap;
use poem::Request;
use poem::web::RequestBody;
use poem_openapi::payload::{Binary, Json};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ApiResponse, Enum, ExtractParamOptions, Object, OpenApi, Tags, param::Path};

use super::security::BootactionKey;
use crate::wire::bootaction::{ErrorBody, Introspection, StatusRow, error_body, introspection, parse_report, status_row};

/// The header nodes authenticate with.
pub const KEY_HEADER: &str = "X-Bootaction-Key";

/// How many compiled designs are kept (a deployment uses one or two).
const SITE_CACHE_LIMIT: usize = 16;

/// Tags of the boot-action operations.
#[derive(Tags)]
enum BootActionTags {
    /// Boot-action assets and status reports, for deployed nodes.
    Bootactions,
}

/// A failed request: status and format-B body.
#[derive(Debug)]
struct Failure {
    status: u16,
    title: String,
    description: Option<String>,
}

impl Failure {
    fn new(status: u16, title: impl Into<String>, description: Option<String>) -> Self {
        Failure { status, title: title.into(), description }
    }

    fn not_found(description: Option<String>) -> Self {
        Failure::new(404, "404 Not Found", description)
    }

    fn internal(title: impl Into<String>) -> Self {
        Failure::new(500, title, None)
    }

    fn store(error: StoreError) -> Self {
        tracing::error!(%error, "boot-action API: state store error");
        Failure::new(500, "500 Internal Server Error", Some(error.to_string()))
    }

    fn body(&self) -> Json<ErrorBody> {
        Json(error_body(&self.title, self.description.as_deref()))
    }
}

/// Answers of the asset endpoints.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "asset_bad_request")]
pub enum AssetResponse {
    /// A gzip-compressed GNU tar, one member per asset (maybe none).
    #[oai(status = 200, content_type = "application/gzip")]
    Tarball(Binary<Vec<u8>>, #[oai(header = "Content-Disposition")] String),
    /// Malformed request.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No `X-Bootaction-Key`.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// The key does not match the node's current key.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No boot-action context for the node.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The design could not be loaded or an asset could not be rendered.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
}

/// Answers of the introspection endpoint.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "introspection_bad_request")]
pub enum IntrospectionResponse {
    /// The node's effective configuration.
    #[oai(status = 200)]
    Ok(Json<Box<Introspection>>),
    /// Malformed request.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No `X-Bootaction-Key`.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// The key does not match the node's current key.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No boot-action context for the node.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The design could not be loaded.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
}

/// Answers of the status endpoint.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "status_bad_request")]
pub enum StatusResponse {
    /// The updated status row (without its key).
    #[oai(status = 200)]
    Ok(Json<StatusRow>),
    /// The body is not a valid report.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No `X-Bootaction-Key`.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// The key does not match the action's key.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such boot action.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The action already has a final status.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The state store failed.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
}

macro_rules! from_failure {
    ($response:ident, $handler:ident, { $($code:literal => $variant:ident),* }) => {
        impl From<Failure> for $response {
            fn from(failure: Failure) -> Self {
                let body = failure.body();
                match failure.status {
                    400 => $response::BadRequest(body),
                    401 => $response::Unauthorized(body, "Bootaction-Key".into()),
                    403 => $response::Forbidden(body),
                    404 => $response::NotFound(body),
                    $($code => $response::$variant(body),)*
                    _ => $response::Internal(body),
                }
            }
        }

        fn $handler(_: poem::Error) -> $response {
            bad_body().into()
        }
    };
}

from_failure!(AssetResponse, asset_bad_request, {});
from_failure!(IntrospectionResponse, introspection_bad_request, {});
from_failure!(StatusResponse, status_bad_request, { 409 => Conflict });

fn bad_body() -> Failure {
    Failure::new(400, "400 Bad Request", Some("Error processing body.".into()))
}

/// Check the presented key against `stored` (compat §5.6).
fn check_key(request: &Request, stored: &[u8; 32]) -> Result<(), Failure> {
    let presented = request.headers().get(KEY_HEADER).map(|value| value.as_bytes()).unwrap_or_default();
    if presented.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure::new(401, "Unauthorized", Some(format!("No {KEY_HEADER}"))));
    }
    let matches = std::str::from_utf8(presented).is_ok_and(|text| IdentityKey::from_bytes(*stored).matches_hex(text.trim()));
    if matches { Ok(()) } else { Err(Failure::new(403, "Unauthorized", Some(format!("Invalid {KEY_HEADER}")))) }
}

/// A report body as sent: read and checked only after the action and the
/// key, so unauthenticated callers cannot make the server buffer a body.
pub struct ReportBody {
    content_type: Option<String>,
    body: Option<poem::Body>,
}

/// The largest report accepted (larger ones are 400).
pub const MAX_REPORT_BYTES: usize = 1 << 20;

/// The report a node posts (documentation of the body; the handler checks
/// it itself so that lookup and key errors come first). A `status` is final:
/// once given, the action accepts no further reports (409).
#[derive(Object)]
#[oai(rename = "BootActionReport", deny_unknown_fields, example)]
struct ReportSchema {
    // Final status. Once given, the action accepts no further reports.
    status: Option<ReportStatus>,
    /// Messages for the deploying task.
    details: Option<Vec<ReportDetailSchema>>,
}

/// The final status a node reports: `success` or `failure`, as drydock's
/// boot-action script and the original's signalling client send it. The
/// server also accepts the capitalised `Success` and `Failure` (compat
/// §1.3.14); they are not listed here because generated clients cannot take
/// enum values that differ only by case.
#[derive(Enum)]
#[oai(rename = "BootActionReportStatus", rename_all = "lowercase")]
enum ReportStatus {
    /// The action succeeded.
    Success,
    /// The action failed.
    Failure,
}

impl poem_openapi::types::Example for ReportSchema {
    fn example() -> Self {
        ReportSchema {
            status: Some(ReportStatus::Success),
            details: Some(vec![ReportDetailSchema { message: "hw_tuning applied".into(), error: false }]),
        }
    }
}

/// One message of a report (other keys are kept as the message's `extra`).
#[derive(Object)]
#[oai(rename = "BootActionReportDetail")]
struct ReportDetailSchema {
    /// The text.
    message: String,
    /// Whether it reports an error.
    error: bool,
}

impl<'a> ApiExtractor<'a> for ReportBody {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <ReportSchema as Type>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: Some("A status report (JSON)."),
            content: vec![MetaMediaType { content_type: "application/json", schema: <ReportSchema as Type>::schema_ref() }],
            required: true,
        })
    }

    async fn from_request(request: &'a Request, body: &mut RequestBody, _: ExtractParamOptions<()>) -> poem::Result<Self> {
        Ok(ReportBody { content_type: request.content_type().map(str::to_owned), body: body.take().ok() })
    }
}

impl ReportBody {
    /// The bytes (at most [`MAX_REPORT_BYTES`]), if the body was declared
    /// JSON (media-type parameters such as `charset` are accepted: compat
    /// §1.1 fix).
    async fn json_bytes(self) -> Option<Vec<u8>> {
        let media_type = self.content_type.as_deref()?.split(';').next()?.trim();
        if !media_type.eq_ignore_ascii_case("application/json") {
            return None;
        }
        self.body?.into_bytes_limit(MAX_REPORT_BYTES).await.ok().map(|bytes| bytes.to_vec())
    }
}

/// The boot-action endpoints. Cheap to clone.
#[derive(Clone)]
pub struct BootActionApi {
    store: Arc<dyn StateStore>,
    source: Arc<dyn DesignSource>,
    report_url: String,
    sites: Arc<Mutex<HashMap<DesignRef, SiteSlot>>>,
}

/// A compiled design, filled once by the first request that needs it.
type SiteSlot = Arc<tokio::sync::OnceCell<Arc<EffectiveSite>>>;

impl BootActionApi {
    /// The API over `store`, reading designs through `source`, with the
    /// default report URL in templates.
    pub fn new(store: Arc<dyn StateStore>, source: Arc<dyn DesignSource>) -> Self {
        BootActionApi { store, source, report_url: DEFAULT_REPORT_URL.into(), sites: Arc::default() }
    }

    /// Use `report_url` (`[bootactions] report_url`) as `action.report_url`
    /// in templates; it should be the orchestrator's.
    pub fn with_report_url(mut self, report_url: impl Into<String>) -> Self {
        self.report_url = report_url.into();
        self
    }

    /// The node's context (404 when it has none) after the key check.
    async fn authorised_context(&self, request: &Request, hostname: &str) -> Result<BootActionContext, Failure> {
        let context = match self.store.bootaction_context(hostname).await {
            Ok(Some(context)) => context,
            Ok(None) => return Err(Failure::not_found(Some(format!("Error locating boot action for {hostname}")))),
            Err(error) => {
                tracing::warn!(%error, hostname, "boot-action context lookup failed");
                return Err(Failure::not_found(Some(format!("Error locating boot action for {hostname}"))));
            }
        };
        check_key(request, &context.identity_key)?;
        Ok(context)
    }

    /// The design of the task that deployed the node (the per-node deploy
    /// task, or the nearest ancestor with a design reference).
    async fn design_ref_of(&self, task_id: TaskId) -> Result<DesignRef, Failure> {
        let mut next = Some(task_id);
        for _ in 0..8 {
            let Some(id) = next else { break };
            let task = self
                .store
                .task_get(id)
                .await
                .map_err(|error| Failure::internal(format!("Task {id} of the boot-action context: {error}")))?;
            if let Some(design_ref) = task.design_ref {
                return Ok(design_ref);
            }
            next = task.parent;
        }
        Err(Failure::internal(format!("Task {task_id} has no design reference")))
    }

    /// The compiled design behind `design_ref`, compiled once and shared.
    async fn site(&self, design_ref: &DesignRef) -> Result<Arc<EffectiveSite>, Failure> {
        let cell = {
            let mut sites = self.sites.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if !sites.contains_key(design_ref) && sites.len() >= SITE_CACHE_LIMIT {
                sites.retain(|_, cell| !cell.initialized());
            }
            sites.entry(design_ref.clone()).or_default().clone()
        };
        let site = cell
            .get_or_try_init(|| async {
                let fetched = self.source.fetch(design_ref).await.map_err(|error| error.to_string())?;
                let name = fetched.name.clone();
                tokio::task::spawn_blocking(move || {
                    let ingested = Ingester::new().ingest_bytes(&fetched.bytes, Some(&name)).map_err(|error| error.to_string())?;
                    if let Some(finding) = ingested.findings.iter().find(|finding| finding.is_error()) {
                        return Err(format!("design {name} has errors: {}", finding.message));
                    }
                    compile(ingested.design).map(Arc::new).map_err(|error| error.to_string())
                })
                .await
                .map_err(|error| format!("design compilation stopped: {error}"))?
            })
            .await
            .map_err(Failure::internal)?;
        Ok(site.clone())
    }

    /// Render the node's `kind` assets as a tarball (compat §1.3.13 steps 3–4).
    async fn tarball_for(&self, hostname: &str, context: &BootActionContext, kind: AssetType) -> Result<Vec<u8>, Failure> {
        let design_ref = self.design_ref_of(context.task_id).await?;
        let site = self.site(&design_ref).await?;
        let position = site
            .node_position(hostname)
            .ok_or_else(|| Failure::internal(format!("Node {hostname} is not in design {}", design_ref.redacted())))?;
        let rows = self.store.bootaction_status_for_node(hostname).await.map_err(|error| Failure::internal(error.to_string()))?;
        let key = IdentityKey::from_bytes(context.identity_key);
        let identities: IndexMap<String, ActionIdentity> = rows
            .into_iter()
            .filter(|row| row.task_id == context.task_id)
            .map(|row| {
                let identity = ActionIdentity {
                    action_id: row.action_id,
                    action_key: key.clone(),
                    report_url: self.report_url.clone(),
                    design_ref: design_ref.clone(),
                };
                (row.action_name, identity)
            })
            .collect();
        let assets = render_assets(&site, position, kind, &identities, self.source.as_ref()).await.map_err(|error| {
            tracing::warn!(%error, hostname, "boot-action assets could not be rendered");
            Failure::internal(error.to_string())
        })?;
        tarball(&assets).map_err(|error| Failure::internal(error.to_string()))
    }

    async fn assets(&self, request: &Request, hostname: &str, kind: AssetType) -> AssetResponse {
        let result = async {
            let context = self.authorised_context(request, hostname).await?;
            self.tarball_for(hostname, &context, kind).await
        }
        .await;
        match result {
            Ok(bytes) => {
                let suffix = if kind == AssetType::Unit { "unit" } else { "file" };
                AssetResponse::Tarball(Binary(bytes), format!("attachment; filename=\"{hostname}-{suffix}.tar.gz\""))
            }
            Err(failure) => failure.into(),
        }
    }

    async fn report(&self, request: &Request, action_id: &str, body: ReportBody) -> Result<StatusRow, Failure> {
        let id: BootActionId = action_id.parse().map_err(|_| Failure::not_found(None))?;
        let row = match self.store.bootaction_status_get(id).await {
            Ok(row) => row,
            Err(error) if error.kind() == StoreErrorKind::NotFound => return Err(Failure::not_found(None)),
            Err(error) => return Err(Failure::store(error)),
        };
        check_key(request, &row.identity_key)?;
        let report = body.json_bytes().await.as_deref().and_then(parse_report).ok_or_else(bad_body)?;
        let conflict = || Failure::new(409, "409 Conflict", Some(format!("Action {id} status finalized, not available for update.")));
        if row.is_final() {
            return Err(conflict());
        }
        let mut updated = row.clone();
        if let Some(status) = report.status {
            // Finalise first: the store refuses a second final status
            // atomically, so of two racing final reports one gets 409
            // before it adds any message.
            updated = match self.store.bootaction_status_update(id, status).await {
                Ok(updated) => updated,
                Err(error) if error.kind() == StoreErrorKind::Conflict => return Err(conflict()),
                Err(error) => return Err(Failure::store(error)),
            };
        }
        for detail in report.details {
            let mut message = StatusMessage::new(detail.message, detail.error, "bootaction", id.to_string());
            message.extra = detail.extra;
            self.store.result_message_add(row.task_id, &message).await.map_err(Failure::store)?;
        }
        if let Some(status) = report.status {
            let message = StatusMessage::new(
                format!("Boot action {} on {} reported status {}", row.action_name, row.node_name, status.as_str()),
                status != drydock_core::task::ActionResult::Success,
                "bootaction",
                id.to_string(),
            );
            self.store.result_message_add(row.task_id, &message).await.map_err(Failure::store)?;
            tracing::info!(action_id = %id, node = %row.node_name, action = %row.action_name, status = status.as_str(), "boot action reported");
        }
        Ok(status_row(&updated))
    }
}

#[OpenApi(tag = "BootActionTags::Bootactions")]
impl BootActionApi {
    /// The node's systemd units as a gzip-compressed tar (compat §1.3.13).
    /// Authenticated with the `X-Bootaction-Key` header (the node's current key).
    #[oai(path = "/api/v1.0/bootactions/nodes/:hostname/units", method = "get", operation_id = "get_boot_action_units")]
    async fn units(&self, request: &Request, _key: BootactionKey, hostname: Path<String>) -> AssetResponse {
        self.assets(request, &hostname, AssetType::Unit).await
    }

    /// The node's files as a gzip-compressed tar (compat §1.3.13).
    /// Authenticated with the `X-Bootaction-Key` header (the node's current key).
    #[oai(path = "/api/v1.0/bootactions/nodes/:hostname/files", method = "get", operation_id = "get_boot_action_files")]
    async fn files(&self, request: &Request, _key: BootactionKey, hostname: Path<String>) -> AssetResponse {
        self.assets(request, &hostname, AssetType::File).await
    }

    /// The node's effective configuration as deployed: interfaces,
    /// addresses, routes, storage, platform and metadata (a Rust addition).
    /// Authenticated with the `X-Bootaction-Key` header (the node's current key).
    #[oai(path = "/api/v1.0/bootactions/nodes/:hostname/introspection", method = "get", operation_id = "get_boot_action_introspection")]
    async fn introspection(&self, request: &Request, _key: BootactionKey, hostname: Path<String>) -> IntrospectionResponse {
        let result = async {
            let context = self.authorised_context(request, &hostname).await?;
            let design_ref = self.design_ref_of(context.task_id).await?;
            let site = self.site(&design_ref).await?;
            let node = site
                .node(&hostname)
                .ok_or_else(|| Failure::internal(format!("Node {} is not in design {}", hostname.as_str(), design_ref.redacted())))?;
            Ok::<_, Failure>(introspection(&site, node, context.task_id, &design_ref))
        }
        .await;
        match result {
            Ok(body) => IntrospectionResponse::Ok(Json(Box::new(body))),
            Err(failure) => failure.into(),
        }
    }

    /// Report progress (`details`) or the final status of a boot action
    /// (compat §1.3.14). Authenticated with the `X-Bootaction-Key` header
    /// (the key of the deployment that created the action). After a final
    /// status every report gets 409.
    #[oai(path = "/api/v1.0/bootactions/:action_id", method = "post", operation_id = "report_boot_action")]
    async fn status(&self, request: &Request, _key: BootactionKey, action_id: Path<String>, body: ReportBody) -> StatusResponse {
        match self.report(request, &action_id, body).await {
            Ok(row) => StatusResponse::Ok(Json(row)),
            Err(failure) => failure.into(),
        }
    }
}
