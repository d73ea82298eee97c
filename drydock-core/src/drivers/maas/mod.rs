//! The MaaS node driver (compat: drivers spec §2): each operation observes
//! MaaS through the typed client, asks a pure planner for the calls that
//! make MaaS match the design, and applies them. Waiting, retries and
//! deadlines stay with the orchestrator; this driver makes one pass.
//!
//! Layout: [`client`] (HTTP, OAuth, errors), [`form`] (bodies),
//! [`resources`] (one file per MaaS resource), [`planners`] (pure),
//! [`plan`] (planned calls and the applier).

pub mod client;
pub mod form;
pub mod plan;
pub mod planners;
pub mod resources;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use indexmap::IndexMap;
use tokio::sync::Mutex;

use self::client::MaasClient;
use self::form::{Form, flag};
use self::planners::Plan;
use self::resources::machines::Machine;
use super::{
    ChangeSummary, CollectedData, DeployRequest, DriverError, DriverErrorKind, ErasePolicy, MachineRef, MachineStatus, NodeDriver, lock,
    oob_target,
};
use crate::compile::EffectiveSite;
use crate::compile::logical_names::logical_names;
use crate::ids::Secret;
use crate::model::BaremetalNode;

/// MaaS driver settings (compat: drivers spec §1.5 `[maasdriver]`).
#[derive(Debug, Clone)]
pub struct MaasConfig {
    /// The MaaS URL, e.g. `http://maas:5240/MAAS`.
    pub url: String,
    /// The API key, `consumer:token:secret`.
    pub api_key: Secret,
    /// Write the design's BMC parameters into MaaS when identifying nodes.
    pub use_node_oob_params: bool,
    /// Ask MaaS not to reconfigure BMCs while commissioning.
    pub skip_bmc_config: bool,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Read timeout.
    pub read_timeout: Duration,
}

impl MaasConfig {
    /// Settings with the defaults (5 s connect, 60 s read).
    pub fn new(url: impl Into<String>, api_key: Secret) -> MaasConfig {
        MaasConfig {
            url: url.into(),
            api_key,
            use_node_oob_params: false,
            skip_bmc_config: false,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// How long a list of BMC addresses is reused when identifying many nodes.
const POWER_ADDRESS_TTL: Duration = Duration::from_secs(5);
/// How long "no machine has this BMC address" is believed.
const POWER_ADDRESS_MISS_TTL: Duration = Duration::from_secs(1);
/// How long the kernel names `apply_node_networking` read from a machine's
/// lshw stay good for the `apply_node_storage` that follows. Far shorter
/// than any commissioning, the only thing that changes lshw, and a machine
/// is configured only when `Ready`.
const KERNEL_NAMES_TTL: Duration = Duration::from_secs(60);

/// Hardware alias → kernel name (`eno1`, `sda`) of one machine.
type KernelNames = IndexMap<String, String>;

/// The MaaS driver.
#[derive(Debug)]
pub struct MaasDriver {
    config: MaasConfig,
    client: MaasClient,
    /// BMC address → system id, and when it was read (one read serves a
    /// whole fan-out of identifications instead of one per node).
    power_addresses: Mutex<Option<(Instant, HashMap<String, String>)>>,
    /// Serialises power-parameter updates (as the original does).
    power_update: Mutex<()>,
    /// Static tags this driver has seen exist, so each node's platform step
    /// applies them without asking MaaS to create them again (forgotten
    /// when MaaS says one is gone).
    known_tags: std::sync::Mutex<HashSet<String>>,
    /// Kernel names of a machine's hardware aliases, left by networking for
    /// the storage step after it (one lshw read per deployment, not two).
    recent_names: std::sync::Mutex<HashMap<String, (Instant, KernelNames)>>,
}

fn plan_failed(operation: &'static str, target: &str, plan: &Plan) -> Option<DriverError> {
    if plan.problems.is_empty() {
        return None;
    }
    let kind = if plan.transient { DriverErrorKind::Transient } else { DriverErrorKind::Permanent };
    Some(DriverError::new(kind, operation, target, plan.problems.join("; ")))
}

/// A machine an interrupted deployment already acquired (`Allocated`) or
/// is installing (`Deploying`): its configuration was applied before it was
/// acquired and MaaS accepts changes only on a `Ready` machine, so the step
/// leaves it as it is and the deployment carries on (upstream fails such
/// nodes, "unknown status").
fn past_configuration(operation: &str, machine: &MachineRef, status: &MachineStatus) {
    tracing::info!(operation, node = %machine.hostname, system_id = %machine.id, ?status, "machine already past configuration; left as it is");
}

impl MaasDriver {
    /// A driver for the MaaS `config` names.
    pub fn new(config: MaasConfig) -> Result<MaasDriver, DriverError> {
        let client = MaasClient::with_timeouts(&config.url, &config.api_key, config.connect_timeout, config.read_timeout)?;
        Ok(MaasDriver {
            config,
            client,
            power_addresses: Mutex::new(None),
            power_update: Mutex::new(()),
            known_tags: std::sync::Mutex::new(HashSet::new()),
            recent_names: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The client, for tools and tests.
    pub fn client(&self) -> &MaasClient {
        &self.client
    }

    async fn apply(&self, operation: &'static str, target: &str, plan: &Plan) -> Result<Vec<String>, DriverError> {
        let (_, done) = plan::apply(&self.client, operation, &plan.calls).await?;
        match plan_failed(operation, target, plan) {
            Some(error) => Err(error),
            None => Ok(done),
        }
    }

    /// The machine with BMC `address`, from a recent list of BMC addresses.
    async fn by_power_address(&self, address: &str) -> Result<Option<String>, DriverError> {
        let mut cache = self.power_addresses.lock().await;
        if let Some((read, map)) = cache.as_ref() {
            let age = read.elapsed();
            match map.get(address) {
                Some(sid) if age < POWER_ADDRESS_TTL => return Ok(Some(sid.clone())),
                // A miss is trusted briefly, so nodes still enlisting do not
                // each re-read the whole list on every poll.
                None if age < POWER_ADDRESS_MISS_TTL => return Ok(None),
                _ => {}
            }
        }
        let mut map = HashMap::new();
        for (sid, power_address) in self.client.power_addresses().await? {
            map.entry(power_address).or_insert(sid);
        }
        let found = map.get(address).cloned();
        *cache = Some((Instant::now(), map));
        Ok(found)
    }

    /// Kernel names of the node's hardware aliases, from the machine's lshw
    /// (read only when the node's profile has aliases).
    async fn kernel_names(&self, site: &EffectiveSite, node: &BaremetalNode, system_id: &str) -> Result<KernelNames, DriverError> {
        let Some(profile) = node.config.hardware_profile.as_deref().and_then(|name| site.design.hardware_profile(name)) else {
            return Ok(IndexMap::new());
        };
        if profile.device_aliases.is_empty() {
            return Ok(IndexMap::new());
        }
        let lshw = self.client.lshw(system_id).await?;
        logical_names(profile, lshw.as_deref())
            .map_err(|e| DriverError::new(DriverErrorKind::Permanent, "kernel_names", node.name(), e.to_string()))
    }

    /// Rename a machine found by BMC address or MAC to the node's name and
    /// domain; optionally write the node's BMC parameters.
    async fn claim(&self, site: &EffectiveSite, node: &BaremetalNode, machine: &Machine) -> Result<(), DriverError> {
        let domain = site.node_domain(node);
        let sid = &machine.system_id;
        if machine.hostname != node.name() || machine.domain_name().is_some_and(|have| have != domain) {
            let form =
                Form::new().with("hostname", node.name()).with("domain", domain.as_str()).with("power_type", machine.power_type.as_str());
            self.client.call("identify_node", client::Verb::Put, &format!("machines/{sid}/"), None, &[], &form).await?;
        }
        let oob_type = node.config.oob_type.as_deref().unwrap_or_default();
        if oob_type == "libvirt" {
            self.power_virsh(node, sid).await?;
        } else if self.config.use_node_oob_params && matches!(oob_type, "ipmi" | "redfish") {
            let target = oob_target(node)?;
            let form = Form::new()
                .with("power_type", oob_type)
                .with("power_parameters_power_address", target.address.as_str())
                .with("power_parameters_power_user", target.account.as_str())
                .with("power_parameters_power_pass", target.credential.expose());
            let _serialised = self.power_update.lock().await;
            self.client.call("identify_node", client::Verb::Put, &format!("machines/{sid}/"), None, &[], &form).await?;
        }
        Ok(())
    }

    /// A libvirt node's machine is powered by MaaS itself over the node's
    /// libvirt URI: power type `virsh`, the URI as power address and the
    /// node's name (its domain) as power id (compat: drivers spec §2.4.5).
    async fn power_virsh(&self, node: &BaremetalNode, sid: &str) -> Result<(), DriverError> {
        let Some(uri) = node.config.oob_parameters.get("libvirt_uri").filter(|uri| !uri.is_empty()) else {
            return Err(DriverError::new(
                DriverErrorKind::Permanent,
                "identify_node",
                node.name(),
                format!("Node {} has no 'libvirt_url' defined", node.name()),
            ));
        };
        let form = Form::new()
            .with("power_type", "virsh")
            .with("power_parameters_power_address", uri.as_str())
            .with("power_parameters_power_id", node.name());
        let _serialised = self.power_update.lock().await;
        self.client.call("identify_node", client::Verb::Put, &format!("machines/{sid}/"), None, &[], &form).await?;
        Ok(())
    }

    async fn machine(&self, machine: &MachineRef) -> Result<Machine, DriverError> {
        self.client.machine(&machine.id).await
    }
}

fn machine_ref(machine: &Machine) -> MachineRef {
    MachineRef { id: machine.system_id.clone(), hostname: machine.hostname.clone() }
}

fn wrong_status(operation: &'static str, machine: &Machine, what: &str) -> DriverError {
    DriverError::new(
        DriverErrorKind::Permanent,
        operation,
        machine.hostname.as_str(),
        format!("machine {} is {}: {what}", machine.system_id, machine.status_name),
    )
}

#[async_trait]
impl NodeDriver for MaasDriver {
    fn name(&self) -> &'static str {
        "maasdriver"
    }

    async fn check(&self) -> Result<(), DriverError> {
        let endpoint = self.client.endpoint().to_owned();
        self.client.version().await?;
        self.client.check_credentials().await?;
        if self.client.boot_resources().await?.is_empty() {
            return Err(DriverError::new(DriverErrorKind::Permanent, "validate_node_services", &endpoint, "MaaS has no boot resources."));
        }
        if self.client.is_importing().await? {
            return Err(DriverError::new(
                DriverErrorKind::Transient,
                "validate_node_services",
                &endpoint,
                "MaaS is importing boot resources.",
            ));
        }
        let racks = self.client.rack_controllers().await?;
        if racks.is_empty() {
            return Err(DriverError::new(DriverErrorKind::Permanent, "validate_node_services", &endpoint, "MaaS has no rack controllers."));
        }
        if !racks.iter().any(|rack| rack.is_healthy()) {
            let names: Vec<&str> = racks.iter().map(|rack| rack.hostname.as_str()).collect();
            return Err(DriverError::new(
                DriverErrorKind::Transient,
                "validate_node_services",
                &endpoint,
                format!("no healthy rack controller (unhealthy: {})", names.join(", ")),
            ));
        }
        Ok(())
    }

    async fn ensure_network_template(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        if site.design.network_links.is_empty() {
            return Ok(ChangeSummary::default());
        }
        let client = &self.client;
        let state = planners::network::NetworkState {
            fabrics: client.fabrics().await?,
            subnets: client.subnets().await?,
            domains: client.domains().await?,
            ranges: client.ip_ranges().await?,
            routes: client.static_routes().await?,
            racks: if planners::network::wants_dhcp(site) { client.rack_controllers().await? } else { Vec::new() },
        };
        let plan = planners::network::plan(site, &state);
        let changes = self.apply("create_network_template", client.endpoint(), &plan).await?;
        if !changes.is_empty() {
            let subnets = client.subnets().await?;
            let missing: Vec<String> = planners::network::required_cidrs(site)
                .into_iter()
                .filter(|(_, cidr)| !subnets.iter().any(|subnet| subnet.cidr == *cidr))
                .map(|(name, cidr)| format!("{name} ({cidr})"))
                .collect();
            if !missing.is_empty() {
                return Err(DriverError::new(
                    DriverErrorKind::Permanent,
                    "create_network_template",
                    client.endpoint(),
                    format!("networks missing from MaaS after the template ran: {}", missing.join(", ")),
                ));
            }
        }
        Ok(ChangeSummary { changes })
    }

    async fn ensure_user_credentials(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        if site.design.region().is_none_or(|region| region.authorized_keys.is_empty()) {
            return Ok(ChangeSummary::default());
        }
        let plan = planners::site::plan_ssh_keys(site, &self.client.ssh_keys().await?);
        Ok(ChangeSummary { changes: self.apply("configure_user_credentials", self.client.endpoint(), &plan).await? })
    }

    async fn ensure_provisioner_config(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        if site.design.region().and_then(|region| region.repositories.as_ref()).is_none() {
            return Ok(ChangeSummary::default());
        }
        let plan = planners::site::plan_repositories(site, &self.client.repositories().await?);
        Ok(ChangeSummary { changes: self.apply("configure_node_provisioner", self.client.endpoint(), &plan).await? })
    }

    async fn ensure_boot_media(&self, site: &EffectiveSite) -> Result<ChangeSummary, DriverError> {
        let Some(source) = self.client.boot_sources().await?.first().map(|source| source.id) else {
            return Err(DriverError::new(
                DriverErrorKind::Permanent,
                "create_boot_media",
                self.client.endpoint(),
                "MaaS has no boot source",
            ));
        };
        let plan = planners::site::plan_boot_selections(site, source, &self.client.boot_source_selections(source).await?);
        Ok(ChangeSummary { changes: self.apply("create_boot_media", self.client.endpoint(), &plan).await? })
    }

    async fn identify(&self, site: &EffectiveSite, node: &BaremetalNode) -> Result<Option<MachineRef>, DriverError> {
        let oob_type = node.config.oob_type.as_deref().unwrap_or_default();
        if let Some(machine) = self.client.machines_by_hostname(node.name()).await?.into_iter().next() {
            // Known by name already (renamed earlier, or enlisted with it):
            // a libvirt node's machine still needs MaaS to power it by virsh.
            if oob_type == "libvirt" && machine.power_type != "virsh" {
                self.power_virsh(node, &machine.system_id).await?;
            }
            return Ok(Some(machine_ref(&machine)));
        }
        let found = if matches!(oob_type, "ipmi" | "redfish") {
            let address = oob_target(node)
                .map_err(|_| {
                    DriverError::new(DriverErrorKind::Permanent, "identify_node", node.name(), "Node model missing OOB IP address")
                })?
                .address;
            match self.by_power_address(&address).await? {
                Some(sid) => Some(self.client.machine(&sid).await?),
                None => None,
            }
        } else {
            match node.boot_mac.as_deref() {
                Some(mac) => self.client.machines_by_mac(&mac.to_lowercase()).await?.into_iter().next(),
                None => None,
            }
        };
        let Some(machine) = found else { return Ok(None) };
        self.claim(site, node, &machine).await?;
        Ok(Some(MachineRef { id: machine.system_id, hostname: node.name().to_owned() }))
    }

    async fn machine_status(&self, machine: &MachineRef) -> Result<MachineStatus, DriverError> {
        Ok(self.machine(machine).await?.status())
    }

    async fn commission(&self, machine: &MachineRef) -> Result<(), DriverError> {
        // Commissioning reads the hardware again.
        lock(&self.recent_names).remove(&machine.id);
        let form = Form::new().with("enable_ssh", "0").with("skip_bmc_config", if self.config.skip_bmc_config { "1" } else { "0" });
        self.client
            .call("configure_hardware", client::Verb::Post, &format!("machines/{}/", machine.id), Some("commission"), &[], &form)
            .await?;
        Ok(())
    }

    async fn apply_networking(&self, site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError> {
        let observed = self.machine(machine).await?;
        match observed.status() {
            MachineStatus::Deployed => return Ok(()),
            status @ (MachineStatus::Allocated | MachineStatus::Deploying) => {
                past_configuration("apply_node_networking", machine, &status);
                return Ok(());
            }
            MachineStatus::Ready => {}
            MachineStatus::Other(name) if name == "Broken" => {
                return Err(wrong_status("apply_node_networking", &observed, "run ConfigureHardware before ConfigureNetwork"));
            }
            _ => return Err(wrong_status("apply_node_networking", &observed, "networking can only be configured on a Ready machine")),
        }
        let sid = &machine.id;
        self.client
            .call(
                "apply_node_networking",
                client::Verb::Post,
                &format!("machines/{sid}/"),
                Some("restore_networking_configuration"),
                &[],
                &Form::new(),
            )
            .await?;
        let names = self.kernel_names(site, node, sid).await?;
        lock(&self.recent_names).insert(sid.clone(), (Instant::now(), names.clone()));
        let state = planners::node_network::NodeNetworkState {
            system_id: sid.clone(),
            interfaces: self.client.interfaces(sid).await?,
            fabrics: self.client.fabrics().await?,
            subnets: self.client.subnets().await?,
        };
        let plan = planners::node_network::plan(site, node, &state, &names);
        self.apply("apply_node_networking", node.name(), &plan).await.map(drop)
    }

    async fn apply_storage(&self, site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError> {
        let observed = self.machine(machine).await?;
        match observed.status() {
            MachineStatus::Deployed => return Ok(()),
            status @ (MachineStatus::Allocated | MachineStatus::Deploying) => {
                past_configuration("apply_node_storage", machine, &status);
                return Ok(());
            }
            MachineStatus::Ready => {}
            _ => return Err(wrong_status("apply_node_storage", &observed, "storage can only be configured on a Ready machine")),
        }
        let sid = &machine.id;
        let recent = lock(&self.recent_names).remove(sid).filter(|(read, _)| read.elapsed() < KERNEL_NAMES_TTL);
        let names = match recent {
            Some((_, names)) => names,
            None => self.kernel_names(site, node, sid).await?,
        };
        let client = &self.client;
        let layout = planners::storage::plan_reset_and_layout(
            node,
            sid,
            &client.block_devices(sid).await?,
            &client.volume_groups(sid).await?,
            &names,
        );
        self.apply("apply_node_storage", node.name(), &layout).await?;
        let partitions = planners::storage::plan_partitions_and_vgs(node, sid, &client.block_devices(sid).await?, &names);
        self.apply("apply_node_storage", node.name(), &partitions).await?;
        let wants_lvs = node.config.storage.volume_groups.iter().any(|vg| !vg.logical_volumes.is_empty());
        if wants_lvs && partitions.calls.iter().any(|call| call.path.ends_with("/volume-groups/")) {
            let lvs = planners::storage::plan_logical_volumes(node, sid, &client.volume_groups(sid).await?);
            self.apply("apply_node_storage", node.name(), &lvs).await?;
        }
        Ok(())
    }

    async fn apply_platform(&self, _site: &EffectiveSite, node: &BaremetalNode, machine: &MachineRef) -> Result<(), DriverError> {
        let mut known = lock(&self.known_tags).clone();
        loop {
            let observed = self.machine(machine).await?;
            if matches!(observed.status(), MachineStatus::Deployed | MachineStatus::Deploying) {
                return Ok(());
            }
            let kernel_tag = self.client.tag(&planners::platform::kernel_tag_name(node)).await?;
            let plan = planners::platform::plan(node, &observed, kernel_tag.as_ref(), &known);
            match self.apply("apply_node_platform", node.name(), &plan).await {
                Ok(_) => {
                    lock(&self.known_tags).extend(node.config.tags.iter().cloned());
                    return Ok(());
                }
                // A tag known to exist was deleted behind the driver: observe
                // and plan again, creating every tag this time.
                Err(error) if error.kind() == DriverErrorKind::NotFound && node.config.tags.iter().any(|tag| known.contains(tag)) => {
                    lock(&self.known_tags).clear();
                    known.clear();
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn deploy(&self, machine: &MachineRef, request: &DeployRequest) -> Result<(), DriverError> {
        let observed = self.machine(machine).await?;
        if matches!(observed.status(), MachineStatus::Deployed | MachineStatus::Deploying) {
            return Ok(());
        }
        let plan = planners::deploy::plan(&observed, request);
        self.apply("deploy_node", &machine.hostname, &plan).await.map(drop)
    }

    async fn release(&self, machine: &MachineRef, erase: ErasePolicy) -> Result<(), DriverError> {
        let (erase, secure, quick) = match erase {
            ErasePolicy::None => (false, false, false),
            ErasePolicy::Quick => (true, false, true),
            ErasePolicy::Secure => (true, true, false),
        };
        let form = Form::new().with("erase", flag(erase)).with("secure_erase", flag(secure)).with("quick_erase", flag(quick));
        self.client.call("destroy_node", client::Verb::Post, &format!("machines/{}/", machine.id), Some("release"), &[], &form).await?;
        Ok(())
    }

    async fn build_data(&self, machine: &MachineRef) -> Result<Vec<CollectedData>, DriverError> {
        let mut data = self.client.machine_details(&machine.id).await?;
        data.extend(self.client.script_results(&machine.id, 0, "commission").await?);
        data.extend(self.client.script_results(&machine.id, 2, "testing").await?);
        Ok(data)
    }

    async fn images(&self) -> Result<Vec<(String, Vec<String>)>, DriverError> {
        let mut images: IndexMap<String, Vec<String>> = IndexMap::new();
        for resource in self.client.boot_resources().await? {
            let Some(("ubuntu", release)) = resource.name.split_once('/') else { continue };
            let kernels = images.entry(release.to_owned()).or_default();
            if let Some((_, kernel)) = resource.architecture.split_once('/')
                && !kernels.iter().any(|k| k == kernel)
            {
                kernels.push(kernel.to_owned());
            }
        }
        Ok(images.into_iter().collect())
    }
}

/// A shareable driver.
pub fn driver(config: MaasConfig) -> Result<Arc<dyn NodeDriver>, DriverError> {
    Ok(Arc::new(MaasDriver::new(config)?))
}
