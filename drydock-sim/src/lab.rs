//! [`SimLab`]: a running simulator on 127.0.0.1 (MaaS, Redfish, Promenade
//! and the test-control API on one port, optional extra per-BMC Redfish
//! ports),
//! plus the Rust handle tests use to read the request log, step
//! transitions and inject faults. The server stops when the handle drops.

use crate::maas::{self, Body, form};
use crate::scenario::Scenario;
use crate::world::{FaultSpec, RequestRecord, World, WorldError};
use poem::http::StatusCode;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::{Request, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

/// Errors starting or driving a lab.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Binding the loopback listener failed.
    #[error("cannot listen on 127.0.0.1:{port}")]
    Bind {
        /// Port asked for (0 = any).
        port: u16,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The scenario is invalid.
    #[error("invalid scenario")]
    Scenario(#[from] crate::scenario::ScenarioError),
    /// A world operation failed.
    #[error("simulator operation failed")]
    World(#[from] WorldError),
}

/// How to start a lab.
#[derive(Debug, Clone, Default)]
pub struct LabOptions {
    /// Main port (0 = any free port).
    pub port: u16,
    /// Also serve each BMC's Redfish at the root of its own port.
    pub bmc_ports: bool,
    /// Do not pre-render machine JSON in the background after start.
    pub no_warm_up: bool,
    /// Run deployed machines' user data under this directory
    /// ([`crate::boot`]).
    pub boot_root: Option<std::path::PathBuf>,
}

type Shared = Arc<Mutex<World>>;

fn lock(world: &Shared) -> MutexGuard<'_, World> {
    // A panic while holding the lock cannot leave the world half-applied in a
    // way tests care about; keep serving rather than cascading the panic.
    world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running simulated lab. Dropping it stops the servers.
#[derive(Debug)]
pub struct SimLab {
    addr: SocketAddr,
    world: Shared,
    bmc_urls: BTreeMap<String, String>,
    shutdown: Vec<oneshot::Sender<()>>,
}

impl SimLab {
    /// Starts a lab on 127.0.0.1 with a free port.
    pub async fn start(scenario: Scenario) -> Result<SimLab, SimError> {
        SimLab::start_with(scenario, LabOptions::default()).await
    }

    /// Starts a lab with options.
    pub async fn start_with(scenario: Scenario, options: LabOptions) -> Result<SimLab, SimError> {
        let mut world = World::from_scenario(scenario)?;
        world.boot_root = options.boot_root.clone();
        let world: Shared = Arc::new(Mutex::new(world));
        let mut shutdown = Vec::new();
        let addr = serve(world.clone(), options.port, None, &mut shutdown).await?;
        let mut bmc_urls = BTreeMap::new();
        let names: Vec<String> = lock(&world).bmcs.keys().cloned().collect();
        for name in names {
            let url = if options.bmc_ports {
                let bmc_addr = serve(world.clone(), 0, Some(name.clone()), &mut shutdown).await?;
                format!("http://{bmc_addr}")
            } else {
                format!("http://{addr}/bmc/{name}")
            };
            bmc_urls.insert(name, url);
        }
        if !options.no_warm_up {
            tokio::spawn(warm_up(world.clone()));
        }
        Ok(SimLab { addr, world, bmc_urls, shutdown })
    }

    /// `http://127.0.0.1:<port>/MAAS` (the MaaS driver's `maas_api_url`).
    pub fn maas_url(&self) -> String {
        format!("http://{}/MAAS", self.addr)
    }

    /// Socket address of the main listener.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first configured API key (`ck:tk:ts`).
    pub fn api_key(&self) -> String {
        lock(&self.world).keys.first().map(|k| k.to_key_string()).unwrap_or_default()
    }

    /// Redfish base URLs by BMC name (append `/redfish/v1/`).
    pub fn redfish_urls(&self) -> &BTreeMap<String, String> {
        &self.bmc_urls
    }

    /// Base URL of the test-control API.
    pub fn control_url(&self) -> String {
        format!("http://{}/_emulator", self.addr)
    }

    /// `http://127.0.0.1:<port>`: Promenade's base URL (the Kubernetes
    /// driver's endpoint; the API is under `/api/v1.0/`).
    pub fn promenade_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// One JSON object with every URL and the API key (what the binary prints).
    pub fn info(&self) -> Value {
        json!({"maas_url": self.maas_url(), "api_key": self.api_key(), "control_url": self.control_url(),
               "redfish_urls": self.bmc_urls, "redfish_base": format!("http://{}/bmc/", self.addr),
               "promenade_url": self.promenade_url()})
    }

    /// The Kubernetes nodes behind Promenade and their labels (machines
    /// MaaS has deployed included).
    pub fn kubernetes_nodes(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut world = lock(&self.world);
        crate::promenade::join_deployed(&mut world);
        world.cluster.nodes.clone()
    }

    /// One Kubernetes node's labels; `None` when it is not in the cluster.
    pub fn node_labels(&self, node: &str) -> Option<BTreeMap<String, String>> {
        self.kubernetes_nodes().remove(node)
    }

    /// Adds a node to the cluster (or replaces its labels).
    pub fn join_kubernetes_node(&self, node: &str, labels: BTreeMap<String, String>) {
        let mut world = lock(&self.world);
        world.cluster.left.remove(node);
        world.cluster.nodes.insert(node.to_owned(), labels);
    }

    /// Removes a node from the cluster (Promenade then answers 404 for it);
    /// it does not join again when its machine is deployed.
    pub fn remove_kubernetes_node(&self, node: &str) {
        let mut world = lock(&self.world);
        world.cluster.left.insert(node.to_owned());
        world.cluster.nodes.remove(node);
    }

    /// Copy of the request log.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.world).requests().to_vec()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        lock(&self.world).log.clear();
    }

    /// Completes up to `steps` pending transitions (Explicit mode).
    pub fn step(&self, steps: usize) -> usize {
        maas::lifecycle::step(&mut lock(&self.world), steps, None)
    }

    /// Completes the pending transition of one machine; false if none.
    pub fn step_machine(&self, system_id: &str) -> bool {
        maas::lifecycle::step(&mut lock(&self.world), 1, Some(system_id)) == 1
    }

    /// Moves simulated time forward (Auto mode).
    pub fn advance(&self, by: Duration) {
        lock(&self.world).advance_time(by);
    }

    /// Adds a fault.
    pub fn add_fault(&self, fault: FaultSpec) -> Result<(), SimError> {
        Ok(lock(&self.world).add_fault(fault)?)
    }

    /// Status name of a machine.
    pub fn machine_status(&self, system_id: &str) -> Option<String> {
        let mut world = lock(&self.world);
        maas::lifecycle::tick(&mut world);
        world.region.machines.get(system_id).map(|m| m.status.name().to_owned())
    }

    /// System id of the machine with this hostname.
    pub fn system_id_of(&self, hostname: &str) -> Option<String> {
        lock(&self.world).region.machines.values().find(|m| m.hostname == hostname).map(|m| m.system_id.clone())
    }

    /// Runs `f` with the world locked (for assertions not covered above).
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut lock(&self.world))
    }

    /// Stops the servers now.
    pub fn stop(&mut self) {
        for sender in self.shutdown.drain(..) {
            let _ignored = sender.send(());
        }
    }
}

impl Drop for SimLab {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Pre-renders machine JSON in small batches so requests interleave; a
/// large lab answers its first full machine list from the cache.
async fn warm_up(world: Shared) {
    let mut next = Some(0);
    while let Some(from) = next {
        next = maas::machines::warm_cache(&mut lock(&world), from, 256);
        tokio::task::yield_now().await;
    }
}

async fn serve(world: Shared, port: u16, bmc: Option<String>, shutdown: &mut Vec<oneshot::Sender<()>>) -> Result<SocketAddr, SimError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.map_err(|source| SimError::Bind { port, source })?;
    let acceptor = TcpAcceptor::from_tokio(listener).map_err(|source| SimError::Bind { port, source })?;
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .ok_or_else(|| SimError::Bind { port, source: std::io::Error::other("listener has no socket address") })?;
    let (sender, receiver) = oneshot::channel::<()>();
    shutdown.push(sender);
    let endpoint = poem::endpoint::make(move |request: Request| {
        let world = world.clone();
        let bmc = bmc.clone();
        async move { respond(world, bmc, request).await }
    });
    tokio::spawn(async move {
        let server = poem::Server::new_with_acceptor(acceptor);
        let stop = async move {
            let _ignored = receiver.await;
        };
        if let Err(error) = server.run_with_graceful_shutdown(endpoint, stop, Some(Duration::from_secs(1))).await {
            tracing::warn!(%error, "drydock-sim server stopped with an error");
        }
    });
    Ok(addr)
}

/// The host part of a `Host` header (`[v6]:port`, `name:port` or bare).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

async fn respond(world: Shared, fixed_bmc: Option<String>, mut request: Request) -> Response {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let headers = request.headers().clone();
    let body = request.take_body().into_bytes().await.unwrap_or_default();
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_owned();

    let redfish_target = match &fixed_bmc {
        Some(name) => Some((name.clone(), path.clone())),
        None => path.strip_prefix("/bmc/").and_then(|rest| rest.split_once('/')).map(|(name, p)| (name.to_owned(), format!("/{p}"))),
    };
    let redfish_target = redfish_target.or_else(|| {
        if !path.starts_with("/redfish") {
            return None;
        }
        // As an HTTP proxy in front of the BMC network: the BMC whose design
        // address is the request's host. A lab with exactly one BMC also
        // answers at the root.
        let world = lock(&world);
        let address = host_name(&host);
        world
            .bmcs
            .values()
            .find(|bmc| bmc.address == address)
            .map(|bmc| (bmc.name.clone(), path.clone()))
            .or_else(|| (world.bmcs.len() == 1).then(|| (world.bmcs.keys().next().cloned().unwrap_or_default(), path.clone())))
    });
    if let Some((bmc, rf_path)) = redfish_target {
        let (answer, latency) =
            crate::redfish::handle(&mut lock(&world), &form::percent_decode(&bmc, false), &method, &rf_path, &path, &headers, &body);
        if let Some(ms) = latency {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        let mut builder = Response::builder()
            .status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .header("OData-Version", "4.0");
        for (name, value) in answer.headers {
            builder = builder.header(name, value);
        }
        return match answer.body {
            Some(value) => builder.content_type("application/json").body(value.to_string()),
            None => builder.finish(),
        };
    }
    if path.starts_with("/api/") {
        let (answer, latency) = crate::promenade::handle(&mut lock(&world), &method, &path, &headers, &body);
        if let Some(ms) = latency {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        return Response::builder()
            .status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .content_type(answer.content_type)
            .header("X-Context-Marker", answer.context_marker)
            .body(answer.body);
    }
    if let Some(sub) = path.strip_prefix("/_emulator") {
        let (status, value) = crate::control::handle(&mut lock(&world), &method, sub, &query, &body);
        return Response::builder()
            .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .content_type("application/json")
            .body(value.to_string());
    }
    let Some(sub) = path.strip_prefix("/MAAS/api/2.0/") else {
        return Response::builder().status(StatusCode::NOT_FOUND).content_type("text/plain").body(format!("Unknown API endpoint: {path}"));
    };
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let incoming = maas::Incoming {
        method: &method,
        sub_path: sub,
        full_path: &path,
        query: form::parse_urlencoded(&query),
        body: form::parse_body(content_type.as_deref(), &body),
        authorization: headers.get("authorization").and_then(|v| v.to_str().ok()),
        base_url: format!("http://{host}"),
    };
    let (reply, latency) = maas::handle(&mut lock(&world), incoming);
    if let Some(ms) = latency {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let builder = Response::builder().status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    match reply.body {
        Body::Json(value) => builder.content_type("application/json").body(value.to_string()),
        Body::Raw(text) => builder.content_type("application/json").body(text),
        Body::Text(text) => {
            let builder = if reply.status == 401 { builder.header("WWW-Authenticate", "OAuth realm=\"OAuth\"") } else { builder };
            builder.content_type("text/plain; charset=utf-8").body(text)
        }
        Body::Bson(bytes) => builder.content_type("application/bson").body(bytes),
        Body::Empty => builder.finish(),
        Body::NotAllowed(allow) => builder.header("Allow", allow).content_type("text/html; charset=utf-8").finish(),
    }
}
