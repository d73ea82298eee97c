//! `drydock serve`: run the `/api/v1.0` server and the orchestrator's leader
//! loop in one process, with the chosen store, authentication mode, policy
//! file, limits and drivers (MaaS, the OOB drivers, Promenade);
//! `--print-openapi` prints the OpenAPI document instead.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use drydock_core::drivers::ipmi::{IpmiConfig, IpmiDriver};
use drydock_core::drivers::maas::client::MaasClient;
use drydock_core::drivers::maas::{MaasConfig, MaasDriver};
use drydock_core::drivers::promenade::{PromenadeConfig, PromenadeDriver, ServiceAuth, StaticToken};
use drydock_core::drivers::redfish::{RedfishConfig, RedfishDriver};
use drydock_core::drivers::{KubernetesDriver, NodeDriver, OobDriver, OobRegistry};
use drydock_core::ids::Secret;
use drydock_core::ingest::policy::{HostRule, ReferencePolicy};
use drydock_core::ingest::source::{DefaultSource, DesignSource};
use drydock_core::orchestrator::fanout::FanoutLimits;
use drydock_core::orchestrator::{Dependencies, Orchestrator, OrchestratorConfig};
use drydock_core::store::StateStore;
use drydock_core::store::memory::MemoryStore;

use crate::keystone::{PasswordAuth, ProjectScope, ServiceSession};
use crate::server::api::NodeInventory;
use crate::server::auth::{AuthMode, KeystoneValidator, ServiceCredentials, TokenTable};
use crate::server::nodes::MaasInventory;
use crate::server::policy::Policy;
use crate::server::sources::StoredDesignSource;
use crate::server::{AppState, Paging, ServerConfig};

/// Authentication modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthChoice {
    /// Development only: every request without a token is an admin.
    Noauth,
    /// Bearer tokens from `--token-file`.
    Token,
    /// Validate `X-Auth-Token` against `--keystone-url`.
    Keystone,
    /// Trust keystonemiddleware's identity headers (only behind it).
    KeystoneHeaders,
}

/// Arguments of `drydock serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML file of serve options keyed by their long names (see `drydock
    /// config sample`); the command line and the environment take precedence.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The original's oslo.config file (`/etc/drydock/drydock.conf`): its
    /// groups and options are mapped onto these options (below `--config`,
    /// the environment and the command line); options with no counterpart
    /// are listed and ignored.
    #[arg(long = "config-file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:9000", env = "DRYDOCK_LISTEN")]
    pub listen: SocketAddr,
    /// The state store: `memory`, `redb:PATH` or a `postgresql://` URL.
    #[arg(long, default_value = "redb:drydock.redb", env = "DRYDOCK_STORE")]
    pub store: String,
    /// Authentication mode.
    #[arg(long, value_enum, default_value_t = AuthChoice::Keystone)]
    pub auth: AuthChoice,
    /// Roles of the noauth user (comma-separated).
    #[arg(long, default_value = "admin", value_delimiter = ',')]
    pub noauth_roles: Vec<String>,
    /// TOML file of `[[token]]` tables (`token`, `user`, `roles`, `project`).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Keystone v3 URL (`[keystone_authtoken] auth_url`), e.g. `http://keystone:5000/v3`.
    #[arg(long, env = "DRYDOCK_KEYSTONE_URL")]
    pub keystone_url: Option<String>,
    /// Service user that validates tokens.
    #[arg(long, env = "DRYDOCK_KEYSTONE_USERNAME")]
    pub keystone_username: Option<String>,
    /// Its password (prefer the environment variable).
    #[arg(long, env = "DRYDOCK_KEYSTONE_PASSWORD", hide_env_values = true)]
    pub keystone_password: Option<String>,
    /// Its project id (or give the project's name).
    #[arg(long, env = "DRYDOCK_KEYSTONE_PROJECT_ID")]
    pub keystone_project_id: Option<String>,
    /// Its project name (with --keystone-project-domain-name), when no
    /// project id is given.
    #[arg(long, env = "DRYDOCK_KEYSTONE_PROJECT_NAME")]
    pub keystone_project_name: Option<String>,
    /// The domain of --keystone-project-name.
    #[arg(long, default_value = "default", env = "DRYDOCK_KEYSTONE_PROJECT_DOMAIN_NAME")]
    pub keystone_project_domain_name: String,
    /// Its user domain name.
    #[arg(long, default_value = "default", env = "DRYDOCK_KEYSTONE_USER_DOMAIN_NAME")]
    pub keystone_user_domain_name: String,
    /// With `--auth keystone-headers`: networks the fronting proxy connects
    /// from (repeatable; `any` trusts every source).
    #[arg(long = "trusted-proxy", default_values = ["127.0.0.1/32", "::1/128"])]
    pub trusted_proxies: Vec<String>,
    /// Seconds a token validation result is cached.
    #[arg(long, default_value_t = 300)]
    pub token_cache_time: u64,
    /// Policy file (YAML `"rule": "expression"`) overriding the defaults.
    #[arg(long, env = "DRYDOCK_POLICY_FILE")]
    pub policy_file: Option<PathBuf>,
    /// Largest request body in bytes (413 beyond; counted while reading).
    #[arg(long, default_value_t = 32 << 20)]
    pub body_limit: usize,
    /// Bytes all request bodies being read or held may take together (503
    /// with Retry-After beyond).
    #[arg(long, default_value_t = 256 << 20)]
    pub body_budget: usize,
    /// Longest a client may take to send a request body (408 beyond).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub body_timeout: Duration,
    /// Longest a client may take to send a request's headers; also how long
    /// a kept-alive connection may sit idle.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// Connections served at once (more wait to be accepted).
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Designs parsed and validated at once (default: the number of CPUs);
    /// more wait their turn, so memory stays bounded.
    #[arg(long)]
    pub design_workers: Option<usize>,
    /// On SIGTERM, how long requests in progress and running steps get
    /// before the process exits (tasks left running resume on the next start).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// Request timeout in seconds.
    #[arg(long, default_value_t = 600)]
    pub request_timeout: u64,
    /// Task listing: page size when the client gives none.
    #[arg(long, default_value_t = 10_000)]
    pub default_page: usize,
    /// Task listing: largest page size.
    #[arg(long, default_value_t = 10_000)]
    pub max_page: usize,
    /// How many designs are kept parsed: evaluated designs (by reference and
    /// content), and stored designs' documents; a 10,000-node design holds
    /// on the order of 100 MiB.
    #[arg(long, default_value_t = 4)]
    pub design_cache: usize,
    /// A directory whose files may be named as design references (`file://`
    /// or a path; repeatable). Without one the server reads no local files:
    /// clients upload designs through the designs API (`drydock task create
    /// -d FILE` does so).
    #[arg(long = "design-root", value_name = "DIR")]
    pub design_roots: Vec<PathBuf>,
    /// Largest design a reference may yield, in bytes (counted while
    /// reading; the reference is refused beyond).
    #[arg(long, default_value_t = 64 << 20)]
    pub max_design_bytes: usize,
    /// Hosts that design references may name (a name, an address or a CIDR
    /// range; repeatable). Without one, any host not denied.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// Hosts that design references may never name, also when a name
    /// resolves to them (repeatable). Link-local and cloud metadata
    /// addresses are always denied.
    #[arg(long = "deny-host", value_name = "HOST")]
    pub deny_hosts: Vec<String>,
    /// MaaS API URL (enables the MaaS node driver).
    #[arg(long, env = "MAAS_API_URL")]
    pub maas_api_url: Option<String>,
    /// MaaS API key.
    #[arg(long, env = "MAAS_API_KEY", hide_env_values = true)]
    pub maas_api_key: Option<String>,
    /// Serve the API only; another process runs the orchestrator (tasks are
    /// queued in the shared store).
    #[arg(long)]
    pub no_orchestrator: bool,
    /// Print the OpenAPI document and exit.
    #[arg(long)]
    pub print_openapi: bool,
    /// Let anyone read the Prometheus metrics at `/metrics`, without a
    /// token (otherwise the `physical_provisioner:read_metrics` policy rule
    /// decides, admin by default). The metrics carry no secrets, task ids
    /// or node names.
    #[arg(long, env = "DRYDOCK_METRICS_ANONYMOUS")]
    pub metrics_anonymous: bool,
    /// Logging.
    #[command(flatten)]
    pub log: super::logging::LogArgs,
    /// The URL deployed nodes report boot-action status to (and fetch their
    /// units and files from): this server's `/api/v1.0/bootactions/` as the
    /// nodes reach it.
    #[arg(long, env = "DRYDOCK_BOOTACTION_REPORT_URL", default_value = drydock_core::bootaction::context::DEFAULT_REPORT_URL)]
    pub bootaction_report_url: String,
    /// Reach Redfish BMCs over https (true) or http (false).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, env = "DRYDOCK_REDFISH_USE_SSL")]
    pub redfish_use_ssl: bool,
    /// Per-request timeout for Redfish BMCs.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub redfish_timeout: Duration,
    /// An HTTP proxy through which Redfish BMCs are reached (a jump host in
    /// front of the BMC network); default: direct.
    #[arg(long, env = "DRYDOCK_BMC_PROXY")]
    pub bmc_proxy: Option<String>,
    /// How long to wait for each IPMI reply.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub ipmi_reply_timeout: Duration,
    /// Labs and tests only: let the libvirt OOB driver use libvirt's
    /// built-in test hypervisor (`test:///default`, `test:///path/to/node.xml`)
    /// besides `qemu+ssh`, and design validation accept such URIs (with a
    /// warning). Needs a build with the `libvirt` feature.
    #[arg(long)]
    pub libvirt_allow_test_uris: bool,
    /// Deadline of each libvirt call, connecting included (a stalled
    /// `qemu+ssh` connection fails the call, and is replaced, after this).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub libvirt_timeout: Duration,
    /// After a libvirt power change, how many times the domain is checked
    /// before "Power state never matched".
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub libvirt_power_polls: u32,
    /// The wait between two of those checks.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub libvirt_power_poll_interval: Duration,
    /// Orchestrator poll interval: how often this server looks for tasks
    /// queued by other servers, termination requests and lapsed task leases
    /// as a fallback (tasks created through this server start at once; on
    /// PostgreSQL, those of other servers too), and at most how long between
    /// renewals of its task leases.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// Top-level tasks this server runs at once (servers sharing a database
    /// each run up to this many); tasks whose nodes overlap still run one
    /// after the other (docs/scheduling.md).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_tasks: u32,
    /// Per-node steps one top-level task runs at once. Every running task
    /// has its own budget, so tasks over disjoint nodes do not slow each
    /// other down (docs/scheduling.md, "Fan-out limits").
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub fanout_task_steps: u32,
    /// Driver calls in flight to one endpoint (the MaaS region, one BMC)
    /// across all tasks. Counts calls, not steps: a node waiting between
    /// two status polls holds no slot, so this bounds the provisioner's
    /// load, not how many nodes deploy at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub fanout_endpoint_calls: u32,
    /// Driver calls in flight in this server, all endpoints together (what
    /// bounds its sockets and blocking threads however many tasks run).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub fanout_process_calls: u32,
    /// Accepted so the original's configuration loads; no effect: every
    /// server runs tasks, there is no leadership to claim.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub leadership_claim_interval: Duration,
    /// The task lease: a server that has not renewed its lease on a running
    /// task for this long (killed, cut off from the database) is considered
    /// dead, and another server sharing the database takes the task over
    /// and resumes it. A server restarted on its redb file resumes its tasks
    /// at once.
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    pub leader_grace_period: Duration,
    /// How often the node provisioner's machine status is polled.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub status_poll: Duration,
    /// How often a BMC is polled until a power change holds.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub power_poll: Duration,
    /// Deadline of generic steps (OOB operations, existence checks) and of
    /// the read-only actions (validate_design, verify_site) as a whole.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub drydock_timeout: Duration,
    /// Deadline for loading a task's design (fetch, parse, validate).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub design_load_timeout: Duration,
    /// Deadline for finding a node in the provisioner (PXE boot to enlisted).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub identify_node_timeout: Duration,
    /// Deadline for commissioning a node.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub configure_hardware_timeout: Duration,
    /// Deadline for deploying a node.
    #[arg(long, default_value = "45m", value_parser = parse_duration)]
    pub deploy_node_timeout: Duration,
    /// Deadline for releasing a node.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub destroy_node_timeout: Duration,
    /// How long deploy_nodes waits for nodes to report their boot actions.
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub bootaction_final_status_timeout: Duration,
    /// Deadline for relabelling a node through Promenade (relabel_nodes).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub relabel_node_timeout: Duration,
    /// Promenade's base URL: enables the Kubernetes driver (relabel_nodes
    /// sends `PUT <URL>/api/v1.0/node-labels/<node>`). Without it, Keystone
    /// service credentials (--keystone-url, --keystone-username,
    /// --keystone-password and a project) enable it too, with Promenade
    /// found in the Keystone catalogue (type `kubernetesprovisioner`,
    /// interface `internal`, scheme, host and port kept) as the original
    /// does; with neither, relabel_nodes ends "No KubernetesDriver enabled".
    #[arg(long, env = "DRYDOCK_PROMENADE_URL")]
    pub promenade_url: Option<String>,
    /// A fixed token for Promenade's `X-Auth-Token` (needs --promenade-url;
    /// prefer the environment variable). Default: the Keystone service
    /// user's token when its credentials are given, else no token.
    #[arg(long, env = "DRYDOCK_PROMENADE_TOKEN", hide_env_values = true)]
    pub promenade_token: Option<String>,
    /// Connect timeout for Promenade.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub promenade_connect_timeout: Duration,
    /// Longest wait for the next bytes of a Promenade answer.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub promenade_read_timeout: Duration,
}

/// A duration: a number with a unit (`500ms`, `10s`, `5m`, `2h`); a bare
/// number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| format!("{text:?} is not a duration (e.g. 500ms, 10s, 5m, 2h)"))?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        other => return Err(format!("{text:?}: unknown unit {other:?} (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is out of range"))
}

async fn open_store(spec: &str) -> Result<Arc<dyn StateStore>, String> {
    if spec == "memory" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    if let Some(path) = spec.strip_prefix("redb:") {
        let store = drydock_core::store::redb_store::RedbStore::open(path).map_err(|error| error.to_string())?;
        return Ok(Arc::new(store));
    }
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        let options = drydock_core::store::postgres::PostgresOptions::default();
        let store = drydock_core::store::postgres::PostgresStore::connect(spec, options).await.map_err(|error| error.to_string())?;
        return Ok(Arc::new(store));
    }
    Err(format!("unknown store {spec:?}: use memory, redb:PATH or a postgresql:// URL"))
}

fn auth_mode(args: &ServeArgs) -> Result<AuthMode, String> {
    match args.auth {
        AuthChoice::Noauth => {
            tracing::warn!(
                roles = ?args.noauth_roles,
                "AUTHENTICATION IS DISABLED (--auth noauth): every request without a token acts as user `noauth`. Development only."
            );
            Ok(AuthMode::NoAuth { roles: args.noauth_roles.clone() })
        }
        AuthChoice::Token => {
            let path = args.token_file.as_ref().ok_or("--auth token needs --token-file")?;
            Ok(AuthMode::Token(Arc::new(TokenTable::from_file(path).map_err(|error| error.to_string())?)))
        }
        AuthChoice::Keystone => {
            let missing = |what: &str| format!("--auth keystone needs --{what}");
            let url = args.keystone_url.as_deref().ok_or_else(|| missing("keystone-url"))?;
            let service = ServiceCredentials {
                username: args.keystone_username.clone().ok_or_else(|| missing("keystone-username"))?,
                password: Secret::new(args.keystone_password.clone().ok_or_else(|| missing("keystone-password"))?),
                project: match (&args.keystone_project_id, &args.keystone_project_name) {
                    (Some(id), _) => ProjectScope::Id(id.clone()),
                    (None, Some(name)) => ProjectScope::Name { name: name.clone(), domain_name: args.keystone_project_domain_name.clone() },
                    (None, None) => return Err(missing("keystone-project-id (or --keystone-project-name)")),
                },
                user_domain_name: args.keystone_user_domain_name.clone(),
            };
            let validator =
                KeystoneValidator::new(url, service, Duration::from_secs(args.token_cache_time)).map_err(|error| error.to_string())?;
            Ok(AuthMode::Keystone(Arc::new(validator)))
        }
        AuthChoice::KeystoneHeaders => {
            tracing::warn!("trusting identity headers: only run this behind keystonemiddleware, which strips client-supplied ones");
            if args.trusted_proxies.iter().any(|proxy| proxy == "any") {
                return Ok(AuthMode::TrustedHeaders { proxies: None });
            }
            let proxies = args
                .trusted_proxies
                .iter()
                .map(|proxy| {
                    proxy
                        .parse::<ipnet::IpNet>()
                        .or_else(|_| proxy.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| format!("--trusted-proxy {proxy:?} is not an address or network"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(AuthMode::TrustedHeaders { proxies: Some(proxies) })
        }
    }
}

/// The Keystone service user, when all of its credentials are given.
fn service_user(args: &ServeArgs) -> Option<PasswordAuth> {
    let project = match (&args.keystone_project_id, &args.keystone_project_name) {
        (Some(id), _) => ProjectScope::Id(id.clone()),
        (None, Some(name)) => ProjectScope::Name { name: name.clone(), domain_name: args.keystone_project_domain_name.clone() },
        (None, None) => return None,
    };
    Some(PasswordAuth {
        auth_url: args.keystone_url.clone()?,
        username: args.keystone_username.clone()?,
        user_domain_name: args.keystone_user_domain_name.clone(),
        password: Secret::new(args.keystone_password.clone()?),
        project,
    })
}

/// The Kubernetes (Promenade) driver: at `--promenade-url` (with
/// `--promenade-token`, or the Keystone service user's tokens, or none), or
/// found in the Keystone catalogue; `None` without either.
fn kubernetes_driver(args: &ServeArgs) -> Result<Option<Arc<dyn KubernetesDriver>>, String> {
    let token = args.promenade_token.as_deref().filter(|token| !token.is_empty());
    if token.is_some() && args.promenade_url.is_none() {
        return Err("--promenade-token needs --promenade-url".into());
    }
    let auth: Option<Arc<dyn ServiceAuth>> = match (token, service_user(args)) {
        (Some(token), _) => Some(Arc::new(StaticToken(Secret::new(token)))),
        (None, Some(user)) => {
            Some(Arc::new(ServiceSession::new(user).map_err(|error| format!("cannot build the Keystone client: {error}"))?))
        }
        (None, None) => None,
    };
    if args.promenade_url.is_none() && auth.is_none() {
        return Ok(None);
    }
    let config = PromenadeConfig {
        url: args.promenade_url.clone(),
        connect_timeout: args.promenade_connect_timeout,
        read_timeout: args.promenade_read_timeout,
    };
    match &args.promenade_url {
        Some(url) => tracing::info!(%url, token = auth.is_some(), "Kubernetes driver: Promenade at the configured URL"),
        None => tracing::info!("Kubernetes driver: Promenade from the Keystone catalogue (kubernetesprovisioner, internal)"),
    }
    let driver = PromenadeDriver::new(config, auth).map_err(|error| format!("--promenade-url: {error}"))?;
    Ok(Some(Arc::new(driver)))
}

/// The server's design-reference policy from `--design-root`,
/// `--allow-host` and `--deny-host`.
fn reference_policy(args: &ServeArgs) -> Result<ReferencePolicy, String> {
    let hosts = |flag: &str, values: &[String]| {
        values.iter().map(|value| value.parse::<HostRule>().map_err(|error| format!("--{flag}: {error}"))).collect::<Result<Vec<_>, _>>()
    };
    for root in &args.design_roots {
        if !root.is_dir() {
            return Err(format!("--design-root {} is not a directory", root.display()));
        }
    }
    Ok(ReferencePolicy::server(args.design_roots.clone(), hosts("allow-host", &args.allow_hosts)?, hosts("deny-host", &args.deny_hosts)?))
}

/// The libvirt OOB driver (`oob.type: libvirt`), in a build with the
/// `libvirt` feature.
#[cfg(feature = "libvirt")]
fn libvirt_driver(args: &ServeArgs) -> Result<Option<Arc<dyn OobDriver>>, String> {
    use drydock_core::drivers::libvirt::{LibvirtConfig, LibvirtDriver};
    if args.libvirt_allow_test_uris {
        tracing::warn!("--libvirt-allow-test-uris: libvirt test:// URIs are accepted (labs and tests only)");
    }
    Ok(Some(Arc::new(LibvirtDriver::new(LibvirtConfig {
        allow_test_uris: args.libvirt_allow_test_uris,
        call_deadline: args.libvirt_timeout,
        power_polls: args.libvirt_power_polls,
        power_poll_interval: args.libvirt_power_poll_interval,
    }))))
}

/// Without the `libvirt` feature there is no libvirt driver (libvirt nodes
/// fail with "OOB type libvirt is not supported"), so asking for its test
/// URIs is a mistake.
#[cfg(not(feature = "libvirt"))]
fn libvirt_driver(args: &ServeArgs) -> Result<Option<Arc<dyn OobDriver>>, String> {
    if args.libvirt_allow_test_uris {
        return Err("--libvirt-allow-test-uris needs a drydock built with the libvirt feature (cargo build --features libvirt)".into());
    }
    Ok(None)
}

async fn build(args: &ServeArgs) -> Result<AppState, String> {
    // Configuration mistakes first: nothing is opened or created for a
    // command line that cannot work.
    let auth = auth_mode(args)?;
    let policy = match &args.policy_file {
        Some(path) => Policy::from_file(path).map_err(|error| error.to_string())?,
        None => Policy::default(),
    };
    let redfish = RedfishConfig { use_ssl: args.redfish_use_ssl, timeout: args.redfish_timeout, proxy: args.bmc_proxy.clone() };
    let redfish = RedfishDriver::new(redfish).map_err(|error| error.to_string())?;
    type Maas = (Option<Arc<dyn NodeDriver>>, Option<Arc<dyn NodeInventory>>);
    let (node_driver, inventory): Maas = match (&args.maas_api_url, &args.maas_api_key) {
        (Some(url), Some(key)) => {
            let driver = MaasDriver::new(MaasConfig::new(url.clone(), Secret::new(key.clone()))).map_err(|error| error.to_string())?;
            let client = MaasClient::new(url, &Secret::new(key.clone())).map_err(|error| error.to_string())?;
            (Some(Arc::new(driver)), Some(Arc::new(MaasInventory::new(client))))
        }
        (None, None) => (None, None),
        _ => return Err("the MaaS driver needs both --maas-api-url and --maas-api-key".into()),
    };
    let kubernetes = kubernetes_driver(args)?;
    let references = reference_policy(args)?;
    let store = open_store(&args.store).await?;
    let files_and_hosts: Arc<dyn DesignSource> =
        Arc::new(DefaultSource { max_bytes: Some(args.max_design_bytes), ..DefaultSource::with_policy(references) });
    let source: Arc<dyn DesignSource> = Arc::new(StoredDesignSource::new(store.clone(), files_and_hosts));
    let ipmi = IpmiConfig { reply_timeout: args.ipmi_reply_timeout, ..IpmiConfig::default() };
    let mut oob: Vec<Arc<dyn OobDriver>> = vec![Arc::new(IpmiDriver::new(ipmi)), Arc::new(redfish)];
    oob.extend(libvirt_driver(args)?);
    oob.push(Arc::new(drydock_core::drivers::manual::ManualDriver::new()));
    let oob = OobRegistry::new(oob);
    let deps = Dependencies { store, source: source.clone(), node_driver, oob, kubernetes };
    let config = OrchestratorConfig {
        poll_interval: args.poll_interval,
        max_concurrent_tasks: args.max_concurrent_tasks as usize,
        limits: FanoutLimits {
            task_steps: args.fanout_task_steps as usize,
            endpoint_calls: args.fanout_endpoint_calls as usize,
            process_calls: args.fanout_process_calls as usize,
        },
        leader_grace_period: args.leader_grace_period,
        drydock_timeout: args.drydock_timeout,
        design_load: args.design_load_timeout,
        design_cache: args.design_cache,
        design_workers: args.design_workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())).max(1),
        identify_node: args.identify_node_timeout,
        configure_hardware: args.configure_hardware_timeout,
        deploy_node: args.deploy_node_timeout,
        destroy_node: args.destroy_node_timeout,
        bootaction_final_status: args.bootaction_final_status_timeout,
        relabel_node: args.relabel_node_timeout,
        status_poll: args.status_poll,
        power_poll: args.power_poll,
        bootaction_report_url: args.bootaction_report_url.clone(),
        libvirt_test_uris: args.libvirt_allow_test_uris,
    };
    let orchestrator = Orchestrator::new(deps, config);
    let config = ServerConfig {
        body_limit: args.body_limit,
        body_budget: args.body_budget.max(args.body_limit),
        body_timeout: args.body_timeout,
        max_connections: args.max_connections.max(1),
        header_timeout: args.header_timeout,
        shutdown_grace: args.shutdown_grace,
        request_timeout: Duration::from_secs(args.request_timeout),
        paging: Paging { default_page: args.default_page.max(1), max_page: args.max_page.max(1) },
        design_cache: args.design_cache,
        request_log: args.log.request_log(),
        metrics_anonymous: args.metrics_anonymous,
    };
    let mut state = AppState::new(orchestrator, source, auth, policy, config);
    state.nodes = inventory;
    Ok(state)
}

/// Run `drydock serve`.
pub async fn run(args: ServeArgs) -> ExitCode {
    if args.print_openapi {
        outln!("{}", crate::server::openapi_document(Arc::new(crate::server::document_state())));
        return ExitCode::SUCCESS;
    }
    let telemetry = match super::logging::init(&args.log) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let state = match build(&args).await {
        Ok(state) => state,
        Err(error) => {
            eprintln!("error: {error}");
            telemetry.shutdown().await;
            return ExitCode::from(2);
        }
    };
    let code = match crate::server::serve(Arc::new(state), args.listen, !args.no_orchestrator).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot serve on {}: {error}", args.listen);
            ExitCode::from(2)
        }
    };
    // The spans of the last requests and tasks leave before the process.
    telemetry.shutdown().await;
    code
}
