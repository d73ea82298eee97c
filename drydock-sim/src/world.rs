//! The simulated lab: the MaaS region, the BMCs, the time model
//! ([`SimMode`]), the fault plan and the request log.
//!
//! Everything lives in one [`World`] behind one lock (spec §3.1
//! "Serialise state changes with one lock"). This module holds no HTTP code.

use crate::maas::model::{PowerState, Region};
use crate::maas::oauth::ApiKey;
use indexmap::IndexMap;
use regex::Regex;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// How pending lifecycle transitions complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SimMode {
    /// Transitions complete when their (simulated) due time passes; durations
    /// may be zero. Time is tokio's clock plus [`World::advance_time`].
    #[default]
    Auto,
    /// Transitions complete only when a test steps them.
    Explicit,
    /// A transition completes on the N-th read of its machine after it was
    /// scheduled (`GET machines/{id}/` or any list containing it), N =
    /// [`Durations::reads`]: deterministic for tests that poll (spec §3.6).
    Reads,
}

/// Phase durations in milliseconds (Auto mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(default)]
pub struct Durations {
    /// Commissioning.
    pub commissioning_ms: u64,
    /// Testing (after commissioning).
    pub testing_ms: u64,
    /// Deploying.
    pub deploying_ms: u64,
    /// Releasing.
    pub releasing_ms: u64,
    /// Disk erasing.
    pub erasing_ms: u64,
    /// Reads per phase in [`SimMode::Reads`].
    pub reads: u32,
}

impl Default for Durations {
    fn default() -> Self {
        Durations { commissioning_ms: 3000, testing_ms: 2000, deploying_ms: 5000, releasing_ms: 1000, erasing_ms: 2000, reads: 2 }
    }
}

/// Boot source override target of a BMC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootTarget {
    /// No override.
    None,
    /// Network boot.
    Pxe,
    /// Local disk.
    Hdd,
    /// Virtual CD.
    Cd,
}

impl BootTarget {
    /// Redfish spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BootTarget::None => "None",
            BootTarget::Pxe => "Pxe",
            BootTarget::Hdd => "Hdd",
            BootTarget::Cd => "Cd",
        }
    }

    /// Parses the Redfish spelling.
    pub fn parse(text: &str) -> Option<BootTarget> {
        match text {
            "None" => Some(BootTarget::None),
            "Pxe" => Some(BootTarget::Pxe),
            "Hdd" => Some(BootTarget::Hdd),
            "Cd" => Some(BootTarget::Cd),
            _ => None,
        }
    }
}

/// A simulated BMC.
#[derive(Debug, Clone)]
pub struct Bmc {
    /// Name (path segment under `/bmc/`).
    pub name: String,
    /// The address the site design uses for it (data only; never contacted).
    pub address: String,
    /// Login user.
    pub username: String,
    /// Login password.
    pub password: String,
    /// Power state.
    pub power: PowerState,
    /// Boot override target.
    pub boot_target: BootTarget,
    /// `Disabled`, `Once` or `Continuous`.
    pub boot_enabled: String,
    /// Redfish system UUID.
    pub uuid: String,
    /// Live sessions: id -> token.
    pub sessions: BTreeMap<String, String>,
    /// Machine enlisted in MaaS when powered on with PXE and not yet known.
    pub enlist: Option<crate::scenario::MachineSeed>,
}

/// A fault to inject (spec §3.7 `POST /_emulator/faults`, extended).
#[derive(Debug, Clone, serde::Deserialize, Serialize)]
pub struct FaultSpec {
    /// `status` (answer with `status`), `latency`, `vanish_fabrics`.
    #[serde(default = "default_kind")]
    pub kind: String,
    /// HTTP method to match (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Regex matched against the request path (any when absent).
    #[serde(default)]
    pub path_regex: Option<String>,
    /// `op` to match (any when absent).
    #[serde(default)]
    pub op: Option<String>,
    /// Status to answer (`kind = status`).
    #[serde(default)]
    pub status: Option<u16>,
    /// How many matching requests it affects (forever when absent).
    #[serde(default)]
    pub times: Option<u32>,
    /// Body to answer with.
    #[serde(default)]
    pub body: Option<String>,
    /// Delay in milliseconds (`kind = latency`).
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Only active this long after it was added (simulated ms).
    #[serde(default)]
    pub for_ms: Option<u64>,
}

fn default_kind() -> String {
    "status".into()
}

/// A live fault.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    pub(crate) spec: FaultSpec,
    pub(crate) regex: Option<Regex>,
    pub(crate) remaining: Option<u32>,
    pub(crate) until_ms: Option<u64>,
}

/// One request the simulator received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRecord {
    /// Order of arrival (from 1).
    pub seq: u64,
    /// `maas`, `redfish` or `promenade`.
    pub service: String,
    /// HTTP method.
    pub method: String,
    /// Path (without query).
    pub path: String,
    /// `op` if any.
    pub op: Option<String>,
    /// Query fields (op excluded).
    pub query: BTreeMap<String, Vec<String>>,
    /// Decoded form fields (lists kept) or the JSON body for Redfish.
    pub form: BTreeMap<String, Vec<String>>,
    /// `ok`, `failed` or `anonymous`.
    pub auth: String,
    /// Status returned.
    pub status: u16,
    /// Injected fault that decided the answer, if any.
    pub fault: Option<String>,
    /// Promenade: the request's `X-Context-Marker`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_marker: Option<String>,
}

/// The whole simulated lab.
#[derive(Debug)]
pub struct World {
    pub(crate) region: Region,
    pub(crate) keys: Vec<ApiKey>,
    pub(crate) bmcs: IndexMap<String, Bmc>,
    pub(crate) mode: SimMode,
    pub(crate) durations: Durations,
    pub(crate) faults: Vec<Fault>,
    pub(crate) log: Vec<RequestRecord>,
    pub(crate) started: tokio::time::Instant,
    pub(crate) offset_ms: u64,
    pub(crate) next_seq: u64,
    pub(crate) uuid_counter: u64,
    pub(crate) scenario: crate::scenario::Scenario,
    /// Where deployed machines "boot" their user data (see [`crate::boot`]);
    /// `None`: user data is stored, never run.
    pub(crate) boot_root: Option<std::path::PathBuf>,
    /// The Kubernetes cluster behind the simulated Promenade.
    pub(crate) cluster: crate::promenade::Cluster,
}

/// Errors of the world's Rust API.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// A fault's `path_regex` does not compile.
    #[error("invalid fault path regex {regex:?}")]
    BadRegex {
        /// The regex text.
        regex: String,
        /// Cause.
        #[source]
        source: regex::Error,
    },
    /// Unknown machine.
    #[error("no machine {system_id}")]
    NoMachine {
        /// The system id.
        system_id: String,
    },
}

impl World {
    /// Simulated milliseconds since start.
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64 + self.offset_ms
    }

    /// Moves simulated time forward (Auto mode transitions then fire).
    pub fn advance_time(&mut self, by: Duration) {
        self.offset_ms += by.as_millis() as u64;
        crate::maas::lifecycle::tick(self);
    }

    /// A fresh pseudo-UUID.
    pub(crate) fn new_uuid(&mut self) -> String {
        self.uuid_counter += 1;
        let n = self.uuid_counter;
        format!("5d1a0000-0000-4000-8000-{n:012x}")
    }

    /// Adds a fault.
    pub fn add_fault(&mut self, spec: FaultSpec) -> Result<(), WorldError> {
        let regex = match &spec.path_regex {
            Some(text) => Some(Regex::new(text).map_err(|source| WorldError::BadRegex { regex: text.clone(), source })?),
            None => None,
        };
        let until_ms = spec.for_ms.map(|d| self.now_ms() + d);
        self.faults.push(Fault { remaining: spec.times, regex, until_ms, spec });
        Ok(())
    }

    /// Finds (and consumes one use of) a fault matching a request.
    pub(crate) fn take_fault(&mut self, kind: &str, method: &str, path: &str, op: Option<&str>) -> Option<FaultSpec> {
        let now = self.now_ms();
        self.faults.retain(|f| f.remaining != Some(0) && f.until_ms.is_none_or(|u| now < u));
        let fault = self.faults.iter_mut().find(|f| {
            f.spec.kind == kind
                && f.spec.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
                && f.regex.as_ref().is_none_or(|r| r.is_match(path))
                && f.spec.op.as_deref().is_none_or(|o| Some(o) == op)
        })?;
        if let Some(remaining) = &mut fault.remaining {
            *remaining -= 1;
        }
        Some(fault.spec.clone())
    }

    /// Effective power state of a node (its BMC's when it has one).
    pub(crate) fn power_of(&self, sid: &str) -> PowerState {
        let Some(node) = self.region.node(sid) else {
            return PowerState::Off;
        };
        match node.bmc.as_ref().and_then(|b| self.bmcs.get(b)) {
            Some(bmc) => bmc.power,
            None => node.power_state,
        }
    }

    /// Sets the power of a node (through its BMC when it has one).
    pub(crate) fn set_power(&mut self, sid: &str, power: PowerState, pxe: bool) {
        let Some(node) = self.region.node_mut(sid) else {
            return;
        };
        node.power_state = power;
        if let Some(bmc) = node.bmc.clone().and_then(|b| self.bmcs.get_mut(&b)) {
            bmc.power = power;
            if pxe {
                bmc.boot_target = BootTarget::Pxe;
            }
        }
    }

    /// Appends a request record.
    pub(crate) fn record(&mut self, mut record: RequestRecord) {
        self.next_seq += 1;
        record.seq = self.next_seq;
        self.log.push(record);
    }

    /// The request log.
    pub fn requests(&self) -> &[RequestRecord] {
        &self.log
    }

    /// JSON dump of the lab (test-control `GET /_emulator/state`).
    pub fn state(&self) -> Value {
        let machines: Vec<Value> = self
            .region
            .machines
            .values()
            .map(|m| {
                serde_json::json!({
                    "system_id": m.system_id, "hostname": m.hostname, "status_name": m.status.name(),
                    "power_state": self.power_of(&m.system_id).as_str(), "bmc": m.bmc,
                    "pending": m.pending.as_ref().map(|p| format!("{:?}", p.phase)),
                    "owner": m.owner, "tag_names": m.tags,
                })
            })
            .collect();
        let bmcs: Vec<Value> = self
            .bmcs
            .values()
            .map(|b| serde_json::json!({"name": b.name, "address": b.address, "power": b.power.as_str(), "boot_target": b.boot_target.as_str()}))
            .collect();
        serde_json::json!({"mode": self.mode, "now_ms": self.now_ms(), "machines": machines, "bmcs": bmcs,
                           "kubernetes_nodes": self.cluster.nodes,
                           "requests": self.log.len(), "faults": self.faults.iter().map(|f| f.spec.clone()).collect::<Vec<_>>()})
    }
}

impl World {
    /// Builds a lab from a scenario: MaaS built-ins (fabric-0, domain
    /// `maas`, boot resources, archives; spec §3.2) then the scenario's seeds.
    pub fn from_scenario(scenario: crate::scenario::Scenario) -> Result<World, crate::scenario::ScenarioError> {
        use crate::scenario::ScenarioError;
        let mut keys = Vec::new();
        for seed in &scenario.api_keys {
            keys.push(
                ApiKey::parse(&seed.username, &seed.key)
                    .ok_or_else(|| ScenarioError::Invalid { reason: format!("API key for {} is not ck:tk:ts", seed.username) })?,
            );
        }
        if keys.is_empty() {
            keys.extend(ApiKey::parse("admin", crate::scenario::DEFAULT_API_KEY));
        }
        let mut world = World {
            region: Region { sid_state: 0x5eed_d0c4_1234_5678, ..Region::default() },
            keys,
            bmcs: IndexMap::new(),
            mode: scenario.mode,
            durations: scenario.durations,
            faults: vec![],
            log: vec![],
            started: tokio::time::Instant::now(),
            offset_ms: 0,
            next_seq: 0,
            uuid_counter: 0,
            scenario: scenario.clone(),
            boot_root: None,
            cluster: crate::promenade::Cluster::from_seed(&scenario.promenade),
        };
        world.install_builtins();
        world.region.importing = scenario.importing;
        for release in &scenario.images {
            crate::maas::other::add_ubuntu_release(&mut world.region, release);
        }
        for fabric in &scenario.fabrics {
            world.seed_fabric(fabric)?;
        }
        let enlisting = scenario.bmcs.iter().filter_map(|bmc| bmc.enlist.as_deref());
        for seed in scenario.rack_controllers.iter().chain(&scenario.machines).chain(enlisting) {
            world.check_links(seed)?;
        }
        for seed in &scenario.rack_controllers {
            let node = crate::maas::lifecycle::build_node(&mut world, seed, 2);
            world.region.racks.insert(node.system_id.clone(), node);
        }
        for seed in &scenario.machines {
            crate::maas::lifecycle::enlist(&mut world, seed);
        }
        for seed in &scenario.bmcs {
            let name = seed.name.clone().unwrap_or_else(|| seed.address.clone());
            let uuid = world.new_uuid();
            world.bmcs.insert(
                name.clone(),
                Bmc {
                    name,
                    address: seed.address.clone(),
                    username: seed.username.clone().unwrap_or_else(|| "admin".into()),
                    password: seed.password.clone().unwrap_or_else(|| "password".into()),
                    power: if seed.powered_on { PowerState::On } else { PowerState::Off },
                    boot_target: BootTarget::None,
                    boot_enabled: "Disabled".into(),
                    uuid,
                    sessions: BTreeMap::new(),
                    enlist: seed.enlist.as_deref().cloned(),
                },
            );
        }
        for fault in &scenario.faults {
            world.add_fault(fault.clone()).map_err(|e| ScenarioError::Invalid { reason: e.to_string() })?;
        }
        Ok(world)
    }

    fn install_builtins(&mut self) {
        use serde_json::json;
        let region = &mut self.region;
        region.add_fabric(Some("fabric-0".into()), String::new(), None);
        region.domains.insert(0, ("maas".into(), true, None));
        region.default_domain = 0;
        region.next_id = 10;
        let resources = [
            ("ubuntu/focal", "amd64/ga-20.04"),
            ("ubuntu/focal", "amd64/hwe-20.04"),
            ("ubuntu/xenial", "amd64/ga-16.04"),
            ("ubuntu/xenial", "amd64/hwe-16.04"),
            ("grub-efi-signed/uefi", "amd64/generic"),
        ];
        for (index, (name, arch)) in resources.iter().enumerate() {
            let subarch = arch.split('/').nth(1).unwrap_or("generic").to_owned();
            let subarches = if subarch == "generic" { vec!["generic".into()] } else { vec!["generic".into(), subarch] };
            region.boot_resources.push((index as i64 + 1, (*name).to_owned(), (*arch).to_owned(), subarches));
        }
        let repo = |name: &str, url: &str, arches: &[&str]| {
            let value = json!({"name": name, "url": url, "distributions": [], "disabled_pockets": [], "disabled_components": [],
                               "disable_sources": true, "components": [], "arches": arches, "key": "", "enabled": true});
            value.as_object().cloned().unwrap_or_default()
        };
        region.repositories.insert(1, repo("main_archive", "http://archive.ubuntu.com/ubuntu", &["amd64", "i386"]));
        region
            .repositories
            .insert(2, repo("ports_archive", "http://ports.ubuntu.com/ubuntu-ports", &["armhf", "arm64", "ppc64el", "s390x"]));
        let source = json!({"url": "http://images.maas.io/ephemeral-v3/stable/", "keyring_filename": "/usr/share/keyrings/ubuntu-cloudimage-keyring.gpg",
                            "keyring_data": "", "skip_keyring_verification": false, "created": "2026-01-01T00:00:00.000", "updated": "2026-01-01T00:00:00.000"});
        region.boot_sources.insert(1, source.as_object().cloned().unwrap_or_default());
        let selection =
            json!({"boot_source_id": 1, "os": "ubuntu", "release": "focal", "arches": ["amd64"], "subarches": ["*"], "labels": ["*"]});
        region.selections.insert(2, selection.as_object().cloned().unwrap_or_default());
        region.config.insert("default_distro_series".into(), Value::from("focal"));
        region.config.insert("maas_name".into(), Value::from("emulator"));
        region.config.insert("default_osystem".into(), Value::from("ubuntu"));
        region.config.insert("commissioning_distro_series".into(), Value::from("focal"));
    }

    /// A seed's interface links name subnets of the scenario, with a known
    /// mode and, for `static`, an address inside the subnet that no other
    /// seeded link holds.
    fn check_links(&self, seed: &crate::scenario::MachineSeed) -> Result<(), crate::scenario::ScenarioError> {
        let host = seed.hostname.as_deref().unwrap_or("(unnamed)");
        for (index, nic) in seed.interfaces.iter().enumerate() {
            let interface = nic.name.clone().unwrap_or_else(|| format!("eno{}", index + 1));
            for link in &nic.links {
                let invalid = |reason: String| crate::scenario::ScenarioError::Invalid {
                    reason: format!("{host} interface {interface}: link to {}: {reason}", link.subnet),
                };
                if !self.region.subnets.values().any(|subnet| subnet.cidr == link.subnet) {
                    return Err(invalid("no such subnet among the scenario's fabrics".into()));
                }
                let mode = link.mode.as_deref().unwrap_or("static");
                if !matches!(mode, "static" | "auto" | "dhcp" | "link_up") {
                    return Err(invalid(format!("mode {mode:?} is not static, auto, dhcp or link_up")));
                }
                match link.ip_address.as_deref() {
                    None if mode == "static" => return Err(invalid("a static link needs an ip_address".into())),
                    Some(ip) if !crate::maas::ip::contains(&link.subnet, ip) => {
                        return Err(invalid(format!("{ip} is not inside the subnet")));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn seed_fabric(&mut self, seed: &crate::scenario::FabricSeed) -> Result<(), crate::scenario::ScenarioError> {
        use crate::maas::model::{IpRange, Subnet};
        let region = &mut self.region;
        let fabric = match region.fabrics.values().find(|f| f.name == seed.name) {
            Some(f) => f.id,
            None => region.add_fabric(Some(seed.name.clone()), String::new(), None),
        };
        for vlan in &seed.vlans {
            let vlan_id = match region.vlans.values().find(|v| v.fabric == fabric && v.vid == vlan.vid) {
                Some(v) => v.id,
                None => {
                    region.add_vlan(fabric, vlan.vid, vlan.name.clone().unwrap_or_else(|| vlan.vid.to_string()), vlan.mtu.unwrap_or(1500))
                }
            };
            if let Some(v) = region.vlans.get_mut(&vlan_id)
                && let Some(mtu) = vlan.mtu
            {
                v.mtu = mtu;
            }
            for subnet in &vlan.subnets {
                if !crate::maas::ip::valid_cidr(&subnet.cidr) {
                    return Err(crate::scenario::ScenarioError::Invalid { reason: format!("bad cidr {}", subnet.cidr) });
                }
                let id = region.new_id();
                region.subnets.insert(
                    id,
                    Subnet {
                        id,
                        name: subnet.name.clone().unwrap_or_else(|| subnet.cidr.clone()),
                        description: String::new(),
                        vlan: vlan_id,
                        cidr: subnet.cidr.clone(),
                        gateway_ip: subnet.gateway_ip.clone(),
                        dns_servers: vec![],
                        rdns_mode: 2,
                        allow_dns: true,
                        allow_proxy: true,
                        managed: true,
                    },
                );
                for range in &subnet.ranges {
                    let range_id = region.new_id();
                    region.ipranges.insert(
                        range_id,
                        IpRange {
                            id: range_id,
                            kind: range.kind.clone(),
                            start_ip: range.start_ip.clone(),
                            end_ip: range.end_ip.clone(),
                            subnet: id,
                            comment: String::new(),
                            user: "admin".into(),
                        },
                    );
                }
            }
        }
        Ok(())
    }
}

impl World {
    /// Whether every machine's JSON is rendered and cached (scale bench).
    pub fn machines_rendered(&self) -> bool {
        let net = self.region.net_revision;
        self.region.machines.values().all(|n| n.cache.as_ref().is_some_and(|c| c.0 == n.revision && c.1 == net))
    }
}
