//! Test harness: an app over a memory store (or a store that is down), the
//! example site as a design, a client wrapper and a normaliser for golden
//! JSON.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use drydock_core::drivers::OobRegistry;
use drydock_core::ids::{BootActionId, TaskId};
use drydock_core::ingest::source::{DefaultSource, DesignSource};
use drydock_core::orchestrator::{Dependencies, Orchestrator, OrchestratorConfig};
use drydock_core::store::memory::MemoryStore;
use drydock_core::store::{
    Admitted, Decide, PurgeReport, RunningTask, StateStore, StoreError, StoreResult, TaskPage, TaskQuery, UpdateGuard,
};
use drydock_core::task::records::{BootActionContext, BootActionStatus, BuildData, DesignPart, DesignRecord};
use drydock_core::task::{Action, ActionResult, StatusMessage, Task};
use drydock_http::server::auth::AuthMode;
use drydock_http::server::policy::Policy;
use drydock_http::server::{AppState, RouteMethods, ServerConfig, app_with_routes};
use poem::endpoint::BoxEndpoint;
use poem::http::{HeaderMap, Method};
use poem::test::TestClient;
use poem::{EndpointExt, Response};
use regex::Regex;
use serde_json::Value;

/// The example site (6 nodes, valid).
pub(crate) fn site_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/site.yaml")
}

/// The example site as a design reference.
pub(crate) fn site_ref() -> String {
    format!("file://{}", site_path().display())
}

/// The example site's text.
pub(crate) fn site_text() -> String {
    std::fs::read_to_string(site_path()).expect("example site")
}

/// A server under test.
pub(crate) struct Harness {
    /// The client.
    pub(crate) client: TestClient<BoxEndpoint<'static, Response>>,
    /// Its state.
    pub(crate) state: Arc<AppState>,
}

/// Options of a harness.
pub(crate) struct Setup {
    pub(crate) auth: AuthMode,
    pub(crate) policy: Policy,
    pub(crate) config: ServerConfig,
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) orchestrator: OrchestratorConfig,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            auth: AuthMode::NoAuth { roles: vec!["admin".into()] },
            policy: Policy::default(),
            config: ServerConfig::default(),
            store: Arc::new(MemoryStore::new()),
            orchestrator: OrchestratorConfig::default(),
        }
    }
}

/// A harness with `extra` APIs mounted.
pub(crate) fn harness_with<A: poem_openapi::OpenApi + 'static>(setup: Setup, extra: A) -> Harness {
    harness_routes(setup, extra, &[])
}

/// A harness with `extra` APIs and their route templates.
pub(crate) fn harness_routes<A: poem_openapi::OpenApi + 'static>(setup: Setup, extra: A, routes: RouteMethods) -> Harness {
    let state = state(setup);
    Harness { client: TestClient::new(app_with_routes(state.clone(), extra, routes).boxed()), state }
}

fn state(setup: Setup) -> Arc<AppState> {
    let source: Arc<dyn DesignSource> = Arc::new(DefaultSource::default());
    let deps =
        Dependencies { store: setup.store, source: source.clone(), node_driver: None, oob: OobRegistry::new(vec![]), kubernetes: None };
    let orchestrator = Orchestrator::new(deps, setup.orchestrator);
    Arc::new(AppState::new(orchestrator, source, setup.auth, setup.policy, setup.config))
}

/// A harness serving the whole application (`server::app`, boot-action
/// endpoints included).
pub(crate) fn harness(setup: Setup) -> Harness {
    let state = state(setup);
    Harness { client: TestClient::new(drydock_http::server::app(state.clone()).boxed()), state }
}

/// A noauth (admin) harness over a memory store.
pub(crate) fn admin() -> Harness {
    harness(Setup::default())
}

/// A response, read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    /// The body as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| panic!("not JSON ({error}): {:?}", self.body))
    }

    /// A header's value.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Assert a format A error.
    pub(crate) fn assert_envelope(&self, status: u16, message: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.json(), serde_json::json!({"type": "error", "message": message, "retry": false}));
    }
}

/// A request description.
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    pub(crate) path: &'a str,
    pub(crate) headers: Vec<(&'a str, String)>,
    pub(crate) body: Option<Vec<u8>>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(method: Method, path: &'a str) -> Self {
        Call { method, path, headers: Vec::new(), body: None }
    }

    pub(crate) fn get(path: &'a str) -> Self {
        Call::new(Method::GET, path)
    }

    pub(crate) fn post_json(path: &'a str, body: &Value) -> Self {
        Call::new(Method::POST, path).header("content-type", "application/json").body(body.to_string().into_bytes())
    }

    pub(crate) fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }
}

impl Harness {
    /// Send a request.
    pub(crate) async fn send(&self, call: Call<'_>) -> Reply {
        let mut request = self.client.request(call.method, call.path);
        for (name, value) in call.headers {
            request = request.header(name, value);
        }
        if let Some(body) = call.body {
            request = request.body(body);
        }
        let response = request.send().await.0;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().into_string().await.expect("body");
        Reply { status, headers, body }
    }

    /// GET.
    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.send(Call::get(path)).await
    }

    /// POST a JSON body.
    pub(crate) async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Call::post_json(path, body)).await
    }

    /// The store.
    pub(crate) fn store(&self) -> &Arc<dyn StateStore> {
        &self.state.store
    }
}

/// A task stored with `created` in the past.
pub(crate) async fn stored_task(store: &Arc<dyn StateStore>, action: Action, age_days: i64) -> Task {
    let mut task = Task::new(action, Some(drydock_core::ids::DesignRef(site_ref())));
    task.created -= chrono::Duration::days(age_days);
    task.created_by = Some("tester".into());
    store.task_create(&task).await.expect("task stored")
}

/// A build-data record.
pub(crate) fn build_data(node: &str, task: TaskId, generator: &str, age_hours: i64) -> BuildData {
    BuildData {
        node_name: node.into(),
        task_id: task,
        collected_date: Utc::now() - chrono::Duration::hours(age_hours),
        generator: generator.into(),
        data_format: "text/plain".into(),
        data_element: format!("{generator} output of {node}"),
    }
}

/// A message.
pub(crate) fn message(text: &str, error: bool) -> StatusMessage {
    StatusMessage::node("n01", text, error)
}

static UUID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}").expect("regex"));
static TIMESTAMP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?(\+00:00)?$").expect("regex"));

/// Replace ids by `<id-N>` (N by first appearance, so relations survive)
/// and Python timestamps by `<ts>` / `<ts+00:00>`, in keys and values.
#[derive(Default)]
pub(crate) struct Normaliser {
    ids: HashMap<String, usize>,
}

impl Normaliser {
    fn text(&mut self, text: &str) -> String {
        if let Some(captures) = TIMESTAMP.captures(text) {
            return if captures.get(2).is_some() { "<ts+00:00>".into() } else { "<ts>".into() };
        }
        UUID.replace_all(text, |captures: &regex::Captures<'_>| {
            let id = captures[0].to_ascii_lowercase();
            let next = self.ids.len() + 1;
            let n = *self.ids.entry(id).or_insert(next);
            format!("<id-{n}>")
        })
        .into_owned()
    }

    /// Normalise a value.
    pub(crate) fn value(&mut self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.text(text)),
            Value::Array(items) => items.iter().map(|item| self.value(item)).collect(),
            Value::Object(map) => {
                map.iter().map(|(key, item)| (self.text(key), self.value(item))).collect::<serde_json::Map<_, _>>().into()
            }
            other => other.clone(),
        }
    }
}

/// Normalise one value on its own.
pub(crate) fn normalise(value: &Value) -> Value {
    Normaliser::default().value(value)
}

/// A store that is down: every call fails as unavailable.
pub(crate) struct DownStore;

fn down<T>() -> StoreResult<T> {
    Err(StoreError::Unavailable { detail: "connection refused".into() })
}

#[async_trait]
impl StateStore for DownStore {
    async fn now(&self) -> StoreResult<DateTime<Utc>> {
        down()
    }
    async fn ping(&self) -> StoreResult<()> {
        down()
    }
    async fn design_create(&self) -> StoreResult<DesignRecord> {
        down()
    }
    async fn design_get(&self, _: TaskId) -> StoreResult<DesignRecord> {
        down()
    }
    async fn design_part_add(&self, _: TaskId, _: &str, _: &[u8]) -> StoreResult<DesignPart> {
        down()
    }
    async fn design_parts(&self, _: TaskId) -> StoreResult<Vec<DesignPart>> {
        down()
    }
    async fn design_list(&self, _: Option<TaskId>, _: usize) -> StoreResult<Vec<DesignRecord>> {
        down()
    }
    async fn task_create(&self, _: &Task) -> StoreResult<Task> {
        down()
    }
    async fn task_import(&self, _: &[Task]) -> StoreResult<()> {
        down()
    }
    async fn task_get(&self, _: TaskId) -> StoreResult<Task> {
        down()
    }
    async fn task_get_many(&self, _: &[TaskId]) -> StoreResult<Vec<Task>> {
        down()
    }
    async fn task_list(&self, _: &TaskQuery) -> StoreResult<TaskPage> {
        down()
    }
    async fn task_children(&self, _: TaskId) -> StoreResult<Vec<Task>> {
        down()
    }
    async fn task_update(&self, _: &Task, _: UpdateGuard) -> StoreResult<Task> {
        down()
    }
    async fn task_add_subtask(&self, _: TaskId, _: TaskId) -> StoreResult<()> {
        down()
    }
    async fn task_mark_terminate(&self, _: TaskId, _: &str, _: bool) -> StoreResult<()> {
        down()
    }
    async fn task_purge(&self, _: DateTime<Utc>) -> StoreResult<PurgeReport> {
        down()
    }
    async fn result_message_add(&self, _: TaskId, _: &StatusMessage) -> StoreResult<()> {
        down()
    }
    async fn result_messages(&self, _: TaskId) -> StoreResult<Vec<StatusMessage>> {
        down()
    }
    async fn build_data_insert(&self, _: &BuildData) -> StoreResult<()> {
        down()
    }
    async fn build_data_for_node(&self, _: &str, _: bool) -> StoreResult<Vec<BuildData>> {
        down()
    }
    async fn build_data_for_task(&self, _: TaskId) -> StoreResult<Vec<BuildData>> {
        down()
    }
    async fn bootaction_context_upsert(&self, _: &BootActionContext) -> StoreResult<()> {
        down()
    }
    async fn bootaction_context(&self, _: &str) -> StoreResult<Option<BootActionContext>> {
        down()
    }
    async fn bootaction_status_insert(&self, _: &BootActionStatus) -> StoreResult<()> {
        down()
    }
    async fn bootaction_status_get(&self, _: BootActionId) -> StoreResult<BootActionStatus> {
        down()
    }
    async fn bootaction_status_for_node(&self, _: &str) -> StoreResult<Vec<BootActionStatus>> {
        down()
    }
    async fn bootaction_status_update(&self, _: BootActionId, _: ActionResult) -> StoreResult<BootActionStatus> {
        down()
    }
    async fn task_admit(&self, _: uuid::Uuid, _: std::time::Duration, _: Decide) -> StoreResult<Admitted> {
        down()
    }
    async fn task_lease_renew(&self, _: uuid::Uuid, _: &[TaskId], _: std::time::Duration) -> StoreResult<Vec<TaskId>> {
        down()
    }
    async fn task_lease_release(&self, _: uuid::Uuid, _: &[TaskId]) -> StoreResult<()> {
        down()
    }
    async fn task_leases(&self) -> StoreResult<Vec<RunningTask>> {
        down()
    }
}
