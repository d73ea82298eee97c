//! Fixtures for the boot-action API tests: designs served from memory (so
//! references and snapshots are stable, and fetches can be counted), a
//! store holding a node deployed the way the orchestrator records it, and a
//! poem test client over the API.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use drydock_core::bootaction::IdentityKey;
use drydock_core::compile::{EffectiveSite, compile};
use drydock_core::ids::{BootActionId, DesignRef};
use drydock_core::ingest::Ingester;
use drydock_core::ingest::source::{DesignSource, SourceBytes, SourceError};
use drydock_core::store::StateStore;
use drydock_core::store::memory::MemoryStore;
use drydock_core::task::records::{BootActionContext, BootActionStatus};
use drydock_core::task::{Action, ActionResult, Task};
use drydock_http::server::bootactions::BootActionApi;
use poem::Route;
use poem::test::TestClient;
use poem_openapi::OpenApiService;

/// `shared/`, beside the repository (override with `DRYDOCK_SHARED`).
pub(crate) fn shared_dir() -> PathBuf {
    match std::env::var_os("DRYDOCK_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

/// The reference the upstream sample site is served under.
pub(crate) const FULLSITE: &str = "memory://deckhand_fullsite.yaml";

/// Designs by reference, counting fetches.
#[derive(Default)]
pub(crate) struct MemorySource {
    designs: HashMap<String, Vec<u8>>,
    /// How many fetches were made.
    pub(crate) fetches: AtomicUsize,
}

impl MemorySource {
    /// A source serving `deckhand_fullsite.yaml` as [`FULLSITE`].
    pub(crate) fn fullsite() -> Self {
        let path = shared_dir().join("corpus/drydock-samples/deckhand_fullsite.yaml");
        let mut designs = HashMap::new();
        designs.insert(FULLSITE.to_owned(), std::fs::read(path).expect("corpus sample"));
        MemorySource { designs, fetches: AtomicUsize::new(0) }
    }

    /// The compiled design behind `reference`.
    pub(crate) fn site(&self, reference: &str) -> EffectiveSite {
        let ingested = Ingester::new().ingest_bytes(&self.designs[reference], Some(reference)).expect("parses");
        compile(ingested.design).expect("compiles")
    }
}

#[async_trait]
impl DesignSource for MemorySource {
    async fn fetch(&self, reference: &DesignRef) -> Result<SourceBytes, SourceError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        match self.designs.get(reference.as_str()) {
            Some(bytes) => Ok(SourceBytes { bytes: bytes.clone(), name: reference.as_str().to_owned() }),
            None => Err(SourceError::NotFound { reference: reference.redacted() }),
        }
    }
}

/// A node deployed by a `deploy_node` task, as the orchestrator records it.
pub(crate) struct Deployed {
    /// The per-node deploy task (contexts and rows point at it).
    pub(crate) task: Task,
    /// The node's key.
    pub(crate) key: IdentityKey,
    /// Boot-action name → (id, initial status), design order.
    pub(crate) actions: Vec<(String, BootActionId, ActionResult)>,
}

impl Deployed {
    /// The id of the boot action `name`.
    pub(crate) fn id(&self, name: &str) -> BootActionId {
        self.actions.iter().find(|(action, _, _)| action == name).map(|(_, id, _)| *id).expect("boot action")
    }
}

/// Record a deployment of `node` from `design_ref` in `store`: the parent
/// `deploy_nodes` task, the per-node `deploy_node` task, the context and one
/// status row per targeting boot action (incomplete when signalling).
pub(crate) async fn deploy(store: &dyn StateStore, site: &EffectiveSite, design_ref: &str, node: &str) -> Deployed {
    let parent = store.task_create(&Task::new(Action::DeployNodes, Some(DesignRef(design_ref.into())))).await.expect("parent");
    let task = store.task_create(&parent.child(Action::DeployNode)).await.expect("child");
    store.task_add_subtask(parent.id, task.id).await.expect("register");
    let key = IdentityKey::generate();
    store
        .bootaction_context_upsert(&BootActionContext { node_name: node.into(), task_id: task.id, identity_key: *key.as_bytes() })
        .await
        .expect("context");
    let mut actions = Vec::new();
    let position = site.node_position(node).unwrap_or(usize::MAX);
    let targeting: Vec<_> = if position == usize::MAX { Vec::new() } else { site.boot_actions_for(position).collect() };
    for action in targeting {
        let action_id = BootActionId::generate();
        let status = if action.signaling { ActionResult::Incomplete } else { ActionResult::Unreported };
        store
            .bootaction_status_insert(&BootActionStatus {
                node_name: node.into(),
                action_id,
                action_name: action.meta.name().into(),
                task_id: task.id,
                identity_key: *key.as_bytes(),
                action_status: status,
            })
            .await
            .expect("status row");
        actions.push((action.meta.name().to_owned(), action_id, status));
    }
    Deployed { task, key, actions }
}

/// The API over `store` and `source`, behind poem's test client.
pub(crate) fn client(store: Arc<dyn StateStore>, source: Arc<MemorySource>) -> TestClient<Route> {
    let api = BootActionApi::new(store, source).with_report_url("http://drydock.test:9000/api/v1.0/bootactions/");
    TestClient::new(Route::new().nest("/", OpenApiService::new(api, "bootactions", "1.0")))
}

/// A fresh memory store.
pub(crate) fn store() -> Arc<dyn StateStore> {
    Arc::new(MemoryStore::new())
}

/// A response taken apart: status, headers, body bytes.
pub(crate) struct Answer {
    /// The status code.
    pub(crate) status: u16,
    /// The headers.
    pub(crate) headers: poem::http::HeaderMap,
    /// The body.
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// Read a test response.
    pub(crate) async fn of(response: poem::test::TestResponse) -> Answer {
        let status = response.0.status().as_u16();
        let headers = response.0.headers().clone();
        let body = response.0.into_body().into_vec().await.expect("body");
        Answer { status, headers, body }
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("JSON body, got {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// One tar member: name, mode, uid, gid, mtime, content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// The member name as stored.
    pub(crate) name: String,
    /// Permission bits.
    pub(crate) mode: u32,
    /// Owner.
    pub(crate) uid: u64,
    /// Group.
    pub(crate) gid: u64,
    /// Modification time.
    pub(crate) mtime: u64,
    /// Whether the header is GNU format.
    pub(crate) gnu: bool,
    /// The content.
    pub(crate) content: Vec<u8>,
}

/// The members of a `.tar.gz`.
pub(crate) fn members(gzip: &[u8]) -> Vec<Member> {
    use std::io::Read;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gzip));
    let mut out = Vec::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let header = entry.header().clone();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("content");
        out.push(Member {
            name: String::from_utf8(entry.path_bytes().into_owned()).expect("utf-8 name"),
            mode: header.mode().expect("mode"),
            uid: header.uid().expect("uid"),
            gid: header.gid().expect("gid"),
            mtime: header.mtime().expect("mtime"),
            gnu: header.as_gnu().is_some() && header.entry_type() == tar::EntryType::Regular,
            content,
        });
    }
    out
}
