//! The `/api/v1.0` REST server (compat: api spec §1, §5): poem-openapi
//! endpoints in [`api`] and [`designs`], authentication in [`auth`], policy
//! in [`policy`], error bodies in [`error`], and the request pipeline here:
//! path normalisation, `OPTIONS`, request ids (`X-Drydock-Req`), body size
//! limit, authentication, a per-request timeout, panic containment and the
//! mapping of router errors to the original's bodies. [`serve`] runs it with
//! the orchestrator's leader loop in the same process.

pub mod api;
pub mod auth;
pub mod body;
pub mod bootactions;
pub mod cache;
pub mod convert;
pub mod designs;
pub mod error;
pub mod listener;
pub mod metrics;
pub mod nodes;
pub mod params;
pub mod policy;
pub mod schema;
pub mod security;
pub mod sources;
pub mod systemd;
pub mod task_pages;

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use drydock_core::ids::DesignRef;
use drydock_core::ingest::source::{DesignSource, SourceError};
use drydock_core::orchestrator::Orchestrator;
use drydock_core::store::StateStore;
use drydock_core::validate::Evaluation;
use futures::FutureExt;
use poem::error::ResponseError;
use poem::http::{HeaderValue, Method, StatusCode, Uri};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route};
use poem_openapi::{OpenApi, OpenApiService};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use self::api::{DrydockApi, NodeInventory};
use self::auth::{AuthMode, RequestContext};
use self::body::{BodyBudget, BodyPolicy};
use self::designs::DesignsApi;
use self::error::{ApiError, envelope};
use self::policy::Policy;
use drydock_core::designs::{DesignService, DesignWorkers, EvaluateError};

/// Task listing page sizes.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// Page size when the client gives no `limit` (large, so clients that
    /// expect every task keep working).
    pub default_page: usize,
    /// Largest `limit` honoured.
    pub max_page: usize,
}

impl Paging {
    /// The page size a `limit` query value asks for: the default without
    /// one, capped at the maximum; 400 unless a positive integer.
    pub fn limit(&self, limit: Option<&str>) -> Result<usize, error::ApiError> {
        match limit {
            None => Ok(self.default_page),
            Some(text) => match text.parse::<usize>() {
                Ok(value) if value >= 1 => Ok(value.min(self.max_page)),
                _ => Err(error::ApiError::BadRequest("limit must be a positive integer".into())),
            },
        }
    }
}

/// Server limits and sizes.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body in bytes (413 beyond).
    pub body_limit: usize,
    /// Bytes all request bodies being read or held may take together (503
    /// with `Retry-After` beyond).
    pub body_budget: usize,
    /// Open connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers, and the
    /// longest a connection may sit idle between requests.
    pub header_timeout: Duration,
    /// Longest a client may take to send a request's body.
    pub body_timeout: Duration,
    /// On shutdown, how long requests in progress and the orchestrator get
    /// to finish.
    pub shutdown_grace: Duration,
    /// Longest a request may run (503 `retry: true` beyond); the original
    /// allows 600 s because validation fetches whole designs.
    pub request_timeout: Duration,
    /// Task listing page sizes.
    pub paging: Paging,
    /// How many stored designs' parsed documents are cached (the evaluated
    /// designs are the orchestrator's [`DesignService`]'s, sized by its
    /// configuration).
    pub design_cache: usize,
    /// The one log line per request.
    pub request_log: RequestLog,
    /// Whether anyone may read `/metrics` (otherwise its policy rule,
    /// [`metrics::READ_METRICS`], decides).
    pub metrics_anonymous: bool,
}

/// The one log line per request: at `level` (`None`: not written), and at
/// debug for requests to `quiet_paths` (probes, scrapes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLog {
    /// The level of a request's line.
    pub level: Option<tracing::Level>,
    /// Paths logged at debug.
    pub quiet_paths: Vec<String>,
}

impl Default for RequestLog {
    fn default() -> Self {
        RequestLog {
            level: Some(tracing::Level::INFO),
            quiet_paths: ["/api/v1.0/health", "/api/v1.0/health/extended", "/metrics"].map(String::from).to_vec(),
        }
    }
}

impl RequestLog {
    /// The level a request to `path` is logged at (a quiet path's at most
    /// debug: `tracing` orders the more verbose levels higher).
    pub fn level_for(&self, path: &str) -> Option<tracing::Level> {
        let level = self.level?;
        Some(if self.quiet_paths.iter().any(|quiet| quiet == path) { level.max(tracing::Level::DEBUG) } else { level })
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            body_limit: 32 << 20,
            body_budget: 256 << 20,
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
            request_timeout: Duration::from_secs(600),
            paging: Paging { default_page: 10_000, max_page: 10_000 },
            design_cache: 4,
            request_log: RequestLog::default(),
            metrics_anonymous: false,
        }
    }
}

/// Why a design could not be loaded for a request.
#[derive(Debug, thiserror::Error)]
pub enum DesignLoadError {
    /// The reference could not be read.
    #[error(transparent)]
    Fetch(#[from] SourceError),
    /// The content could not be evaluated.
    #[error(transparent)]
    Evaluate(#[from] EvaluateError),
}

/// What every handler shares.
pub struct AppState {
    /// Where tasks, build data and designs live.
    pub store: Arc<dyn StateStore>,
    /// Queues tasks (its main loop runs them).
    pub orchestrator: Orchestrator,
    /// Reads design references.
    pub source: Arc<dyn DesignSource>,
    /// Evaluated designs: the orchestrator's service, shared, so a design
    /// validated here and deployed by a task is evaluated once.
    pub designs: DesignService,
    /// Stored designs' parsed documents.
    pub documents: cache::DocumentCache,
    /// The machine listing behind `GET /nodes`, when a provisioner is configured.
    pub nodes: Option<Arc<dyn NodeInventory>>,
    /// Authentication.
    pub auth: AuthMode,
    /// Authorisation.
    pub policy: Policy,
    /// Limits.
    pub config: ServerConfig,
    /// The bytes request bodies in flight may take together.
    pub body_budget: BodyBudget,
    /// Where design parsing and evaluation run, a few at a time (the
    /// design service's workers).
    pub workers: DesignWorkers,
    /// The task list's rendered pages, shared between requests.
    pub task_pages: task_pages::TaskPages,
    /// Requests by route and status (`/metrics` writes them after the
    /// orchestrator's metrics).
    pub http_metrics: metrics::HttpMetrics,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("auth", &self.auth).field("config", &self.config).finish_non_exhaustive()
    }
}

impl AppState {
    /// State over the orchestrator's store; validation consults the
    /// orchestrator's node driver for images and kernels (offline without one).
    pub fn new(
        orchestrator: Orchestrator,
        source: Arc<dyn DesignSource>,
        auth: AuthMode,
        policy: Policy,
        config: ServerConfig,
    ) -> AppState {
        let designs = orchestrator.designs().clone();
        let workers = designs.workers().clone();
        AppState {
            store: orchestrator.store().clone(),
            orchestrator,
            source,
            designs,
            documents: cache::DocumentCache::new(config.design_cache, workers.clone()),
            body_budget: BodyBudget::new(config.body_budget),
            workers,
            nodes: None,
            auth,
            policy,
            config,
            task_pages: task_pages::TaskPages::new(),
            http_metrics: metrics::HttpMetrics::default(),
        }
    }

    /// Fetch a design and evaluate it (once per distinct content).
    pub async fn load_design(&self, design_ref: &str) -> Result<Arc<Evaluation>, DesignLoadError> {
        let started = Instant::now();
        let reference = DesignRef(design_ref.to_owned());
        let fetched = self.source.fetch(&reference).await?;
        let fetch_ms = started.elapsed().as_millis() as u64;
        let bytes = fetched.bytes.len();
        let evaluation = self.designs.evaluate(design_ref, fetched).await?;
        tracing::debug!(design_ref = %reference.redacted(), bytes, fetch_ms, total_ms = started.elapsed().as_millis() as u64, "design loaded");
        Ok(evaluation)
    }
}

/// Check `rule` for the caller: 403 when authenticated, 401 otherwise
/// (compat §5.5).
pub(crate) fn authorize(state: &AppState, context: &RequestContext, rule: &str) -> Result<(), ApiError> {
    if state.policy.allows(rule, &context.credentials) {
        return Ok(());
    }
    tracing::info!(rule, user = context.user.as_deref().unwrap_or("-"), "policy denied the request");
    if context.authenticated { Err(ApiError::Forbidden) } else { Err(ApiError::Unauthenticated) }
}

/// Route templates and their methods, for `OPTIONS` and `Allow` (compat §1.1).
const ROUTES: &[(&str, &str)] = &[
    ("/versions", "GET"),
    ("/api/v1.0/health", "GET"),
    ("/api/v1.0/health/extended", "GET"),
    ("/api/v1.0/tasks", "GET,POST,DELETE"),
    ("/api/v1.0/tasks/*", "GET"),
    ("/api/v1.0/tasks/*/builddata", "GET"),
    ("/api/v1.0/nodes", "GET"),
    ("/api/v1.0/nodes/*/builddata", "GET"),
    ("/api/v1.0/nodefilter", "POST"),
    ("/api/v1.0/validatedesign", "POST"),
    ("/api/v1.0/designs", "GET,POST"),
    ("/api/v1.0/designs/*", "GET"),
    ("/api/v1.0/designs/*/parts", "GET,POST"),
    ("/api/v1.0/designs/*/parts/*", "GET"),
    ("/api/v1.0/designs/*/parts/*/*", "GET"),
    ("/metrics", "GET"),
];

/// Route templates (`*` matches one segment) and their methods, as
/// `(template, "GET,POST")`.
pub type RouteMethods = &'static [(&'static str, &'static str)];

fn allowed_methods(path: &str, extra: RouteMethods) -> Option<&'static str> {
    route_of(path, extra).map(|(_, methods)| methods)
}

/// The route template `path` matches, and its methods. Run on every request
/// (the metrics' and span's route label), so it compares bytes in place: no
/// splitting, no allocation (benches/observability.sh).
fn route_of(path: &str, extra: RouteMethods) -> Option<(&'static str, &'static str)> {
    ROUTES.iter().chain(extra).find(|(template, _)| template_matches(template, path)).copied()
}

/// Whether `path` matches `template`, whose `*` segments match any one
/// non-empty segment and whose other segments match themselves.
fn template_matches(template: &str, path: &str) -> bool {
    let (template, path) = (template.as_bytes(), path.as_bytes());
    // Each `*` stands for at least one byte: a shorter path cannot match.
    if path.len() < template.len() {
        return false;
    }
    let mut at = 0;
    for &want in template {
        if want == b'*' {
            let start = at;
            while at < path.len() && path[at] != b'/' {
                at += 1;
            }
            if at == start {
                return false;
            }
        } else if path.get(at) == Some(&want) {
            at += 1;
        } else {
            return false;
        }
    }
    at == path.len()
}

/// The `route` label of a request to `path`: its route's template, the
/// Swagger UI as one, anything else `other` (bounded, whatever clients send).
fn route_label(path: &str, extra: RouteMethods) -> &'static str {
    match route_of(path, extra) {
        Some((template, _)) => template,
        None if path == "/api/v1.0/openapi.json" => "/api/v1.0/openapi.json",
        None if path == "/api/v1.0/swagger-ui" || path.starts_with("/api/v1.0/swagger-ui/") => "/api/v1.0/swagger-ui/*",
        None => "other",
    }
}

/// Collapse repeated `/` and drop one trailing `/` (compat §1.1 fix).
fn normalise(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    if !path.contains("//") && (path.len() <= 1 || !path.ends_with('/')) {
        return None;
    }
    let mut clean = String::with_capacity(path.len());
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        clean.push('/');
        clean.push_str(segment);
    }
    if clean.is_empty() {
        clean.push('/');
    }
    if let Some(query) = uri.query() {
        clean.push('?');
        clean.push_str(query);
    }
    clean.parse().ok()
}

/// The body of the framework's 500 (format B); also what a panic becomes.
fn internal_error_response() -> Response {
    ApiError::framework(StatusCode::INTERNAL_SERVER_ERROR).as_response()
}

/// Router and extractor errors as the original's bodies.
fn error_response(error: poem::Error, path: &str, extra: RouteMethods) -> Response {
    if error.is::<poem::error::NotFoundError>() {
        return ApiError::framework(StatusCode::NOT_FOUND).as_response();
    }
    if error.is::<poem::error::MethodNotAllowedError>() {
        let mut response = ApiError::framework(StatusCode::METHOD_NOT_ALLOWED).as_response();
        if let Some(methods) = allowed_methods(path, extra) {
            response.headers_mut().insert("allow", HeaderValue::from_static(methods));
        }
        return response;
    }
    if error.is::<poem_openapi::error::ParseParamError>()
        || error.is::<poem_openapi::error::ParseRequestPayloadError>()
        || error.is::<poem_openapi::error::ContentTypeError>()
    {
        return envelope(StatusCode::BAD_REQUEST, &error.to_string(), false);
    }
    error.into_response()
}

/// The request pipeline around every endpoint: each request runs in a
/// `request` span (method, route template, request id, and the status at
/// the end), so what it does (and its log lines) carry them.
///
/// One function, and the span wraps the handler's future only when it is
/// recorded: each wrapper moves the whole handler future, kilobytes, which
/// at the default level cost more than the rest of the request's
/// bookkeeping (benches/observability.sh).
async fn pipeline<E: Endpoint>(next: Arc<E>, mut req: Request, state: Arc<AppState>, extra: RouteMethods) -> poem::Result<Response> {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    if let Some(uri) = normalise(req.uri()) {
        *req.uri_mut() = uri;
    }
    let route = route_label(req.uri().path(), extra);
    // A DEBUG span: at the default log level it is not recorded (the request
    // line carries the same fields), so it costs nothing per request unless
    // traces are exported or debug logs asked for.
    let span = tracing::debug_span!(
        "request",
        otel.kind = "server",
        http.request.method = %req.method(),
        http.route = route,
        request_id = %request_id,
        http.response.status_code = tracing::field::Empty,
    );
    let _in_flight = state.http_metrics.started();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut context = RequestContext::default();
    let mut response = if method == Method::OPTIONS {
        match allowed_methods(&path, extra) {
            Some(methods) => Response::builder().status(StatusCode::OK).header("allow", methods).finish(),
            None => ApiError::framework(StatusCode::NOT_FOUND).as_response(),
        }
    } else if req
        .header("content-length")
        .and_then(|length| length.parse::<u64>().ok())
        .is_some_and(|length| length > state.config.body_limit as u64)
    {
        ApiError::PayloadTooLarge { limit: state.config.body_limit }.as_response()
    } else {
        let source = match req.remote_addr().0 {
            poem::Addr::SocketAddr(address) => Some(address.ip()),
            _ => None,
        };
        context = if span.is_disabled() {
            state.auth.authenticate(req.headers(), source).await
        } else {
            state.auth.authenticate(req.headers(), source).instrument(span.clone()).await
        };
        req.extensions_mut().insert(context.clone());
        req.extensions_mut().insert(BodyPolicy {
            limit: state.config.body_limit,
            budget: state.body_budget.clone(),
            timeout: state.config.body_timeout,
        });
        let call = AssertUnwindSafe(next.call(req)).catch_unwind();
        let outcome = if span.is_disabled() {
            tokio::time::timeout(state.config.request_timeout, call).await
        } else {
            tokio::time::timeout(state.config.request_timeout, call.instrument(span.clone())).await
        };
        match outcome {
            Err(_) => ApiError::Timeout.as_response(),
            Ok(Err(panic)) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|text| (*text).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                span.in_scope(|| tracing::error!(request_id = %request_id, panic = %what, "a request handler panicked"));
                internal_error_response()
            }
            Ok(Ok(Ok(response))) => response.into_response(),
            Ok(Ok(Err(error))) => span.in_scope(|| error_response(error, &path, extra)),
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-drydock-req", value);
    }
    span.record("http.response.status_code", response.status().as_u16());
    // `tracing` wants the level of an event as a constant.
    macro_rules! request_line {
        ($($level:ident),*) => {
            match state.config.request_log.level_for(&path) {
                $(Some(tracing::Level::$level) => tracing::event!(
                    tracing::Level::$level,
                    request_id = %request_id,
                    method = %method,
                    path = %path,
                    status = response.status().as_u16(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    user = context.user.as_deref().unwrap_or("-"),
                    external_marker = context.external_marker.as_deref().unwrap_or("-"),
                    end_user = context.end_user.as_deref().unwrap_or("-"),
                    "request"
                ),)*
                _ => {}
            }
        };
    }
    span.in_scope(|| request_line!(ERROR, WARN, INFO, DEBUG, TRACE));
    state.http_metrics.observe(&method, route, response.status(), started.elapsed());
    Ok(response)
}

fn service<A: OpenApi>(state: &Arc<AppState>, extra: A) -> OpenApiService<(DrydockApi, DesignsApi, A), ()> {
    OpenApiService::new((DrydockApi { state: state.clone() }, DesignsApi { state: state.clone() }, extra), "Drydock", "1.0")
        .description("Airship Drydock's /api/v1.0 REST API (compatible rewrite).")
}

/// The application: every endpoint of this module, the boot-action
/// endpoints (compat §1.3.13, §1.3.14) included.
pub fn app(state: Arc<AppState>) -> impl Endpoint<Output = Response> {
    let boot_actions = boot_action_api(&state);
    app_with_routes(state, boot_actions, BOOTACTION_ROUTES)
}

fn boot_action_api(state: &AppState) -> bootactions::BootActionApi {
    let report_url = state.orchestrator.config().bootaction_report_url.clone();
    bootactions::BootActionApi::new(state.store.clone(), state.source.clone()).with_report_url(report_url)
}

/// The boot-action routes, for `OPTIONS` and 405 answers.
const BOOTACTION_ROUTES: RouteMethods = &[
    ("/api/v1.0/bootactions/nodes/*/units", "GET"),
    ("/api/v1.0/bootactions/nodes/*/files", "GET"),
    ("/api/v1.0/bootactions/nodes/*/introspection", "GET"),
    ("/api/v1.0/bootactions/*", "POST"),
];

/// The application with `extra` endpoints (another `#[OpenApi]` struct or a
/// tuple of them) mounted beside the built-in ones, sharing the pipeline
/// and the OpenAPI document.
pub fn app_with<A: OpenApi + 'static>(state: Arc<AppState>, extra: A) -> impl Endpoint<Output = Response> {
    app_with_routes(state, extra, &[])
}

/// [`app_with`], with the route templates of `extra` so that `OPTIONS` and
/// 405 answers list their methods.
pub fn app_with_routes<A: OpenApi + 'static>(state: Arc<AppState>, extra: A, routes: RouteMethods) -> impl Endpoint<Output = Response> {
    let service = service(&state, extra);
    let ui = service.swagger_ui();
    let spec = service.spec_endpoint();
    let pipeline_state = state.clone();
    let scrape = metrics::MetricsEndpoint { state: state.clone() };
    Route::new()
        .nest("/", service)
        .nest("/api/v1.0/swagger-ui", ui)
        .at("/api/v1.0/openapi.json", spec)
        .at("/metrics", poem::get(scrape))
        .around(move |next, req| pipeline(next, req, pipeline_state.clone(), routes))
}

/// The OpenAPI document of [`app`] (pretty JSON), as committed under
/// `openapi/`.
pub fn openapi_document(state: Arc<AppState>) -> String {
    let boot_actions = boot_action_api(&state);
    service(&state, boot_actions).spec()
}

/// A state for producing the OpenAPI document (memory store, noauth; no
/// request is ever served from it).
pub fn document_state() -> AppState {
    use drydock_core::drivers::OobRegistry;
    use drydock_core::ingest::source::DefaultSource;
    use drydock_core::orchestrator::{Dependencies, OrchestratorConfig};
    let source: Arc<dyn DesignSource> = Arc::new(DefaultSource::default());
    let deps = Dependencies {
        store: Arc::new(drydock_core::store::memory::MemoryStore::new()),
        source: source.clone(),
        node_driver: None,
        oob: OobRegistry::new(vec![]),
        kubernetes: None,
    };
    let orchestrator = Orchestrator::new(deps, OrchestratorConfig::default());
    AppState::new(orchestrator, source, AuthMode::NoAuth { roles: vec![] }, Policy::default(), ServerConfig::default())
}

/// Serve on `address` until Ctrl-C/SIGTERM; with `orchestrate`, run the
/// orchestrator's leader loop in the same process. Shutdown is bounded:
/// requests in progress and the orchestrator get
/// [`ServerConfig::shutdown_grace`] to finish; tasks still running then are
/// left `running` in the store and resumed by the next server.
pub async fn serve(state: Arc<AppState>, address: SocketAddr, orchestrate: bool) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let shutdown = CancellationToken::new();
    let orchestrator = state.orchestrator.clone();
    let loop_shutdown = shutdown.clone();
    let leader = tokio::spawn(async move {
        if !orchestrate {
            return;
        }
        if let Err(error) = orchestrator.run(loop_shutdown).await {
            tracing::error!(error = %error, "the orchestrator loop stopped");
        }
    });
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "serving /api/v1.0");
    // SIGTERM is handled from before readiness is announced, so a service
    // manager stopping the server at once still gets a graceful shutdown.
    #[cfg(unix)]
    let sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    // The store is open (the state was built on it) and the listener bound:
    // connections are accepted from here on.
    systemd::ready(&format!("serving /api/v1.0 on {local}"));
    let signalled = shutdown.clone();
    let signal = async move {
        let terminate = async {
            #[cfg(unix)]
            if let Ok(mut signal) = sigterm {
                signal.recv().await;
                return;
            }
            std::future::pending::<()>().await
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
        tracing::info!("shutting down");
        systemd::stopping();
        signalled.cancel();
    };
    let limits = listener::ConnectionLimits {
        max_connections: state.config.max_connections,
        header_timeout: state.config.header_timeout,
        shutdown_grace: state.config.shutdown_grace,
    };
    let grace = state.config.shutdown_grace;
    let result = listener::run(listener, app(state), limits, signal).await;
    shutdown.cancel();
    match tokio::time::timeout(grace, leader).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => tracing::error!("the orchestrator loop panicked"),
        Err(_) => {
            tracing::warn!("the orchestrator did not stop within the shutdown grace period; its running tasks resume on the next start")
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The segment-by-segment meaning of a template, as plainly as it can
    /// be written.
    fn reference(template: &str, path: &str) -> bool {
        let want: Vec<&str> = template.split('/').collect();
        let have: Vec<&str> = path.split('/').collect();
        want.len() == have.len() && want.iter().zip(&have).all(|(want, have)| if *want == "*" { !have.is_empty() } else { want == have })
    }

    #[test]
    fn templates_match_whole_segments() {
        let paths = [
            "/api/v1.0/tasks",
            "/api/v1.0/tasks/",
            "/api/v1.0/tasks/abc",
            "/api/v1.0/tasks/abc/builddata",
            "/api/v1.0/tasks//builddata",
            "/api/v1.0/taskss",
            "/api/v1.0/task",
            "/api/v1.0/designs/d/parts/BaremetalNode/n1",
            "/api/v1.0/designs/d/parts/BaremetalNode/n1/x",
            "/versions",
            "/versions/x",
            "/",
            "",
            "/metrics",
            "/api/v1.0/bootactions/nodes/n1/units",
        ];
        let templates = ROUTES.iter().map(|(template, _)| *template).chain(["/*", "*", "/a/*", "/*/b"]);
        for template in templates {
            for path in paths {
                assert_eq!(template_matches(template, path), reference(template, path), "{template} against {path}");
            }
        }
        assert_eq!(route_label("/api/v1.0/tasks/abc", &[]), "/api/v1.0/tasks/*");
        assert_eq!(route_label("/api/v1.0/nosuch", &[]), "other");
    }

    #[test]
    fn route_labels_hash_apart() {
        let hashes: std::collections::HashSet<u64> =
            ROUTES.iter().map(|(template, _)| drydock_core::metrics::label_fingerprint(&["GET", template], 200)).collect();
        assert_eq!(hashes.len(), ROUTES.len(), "the request family's buckets do not collide on the routes");
    }
}
