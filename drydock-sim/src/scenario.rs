//! Scenario files: the lab a simulator starts with.
//!
//! Format: JSON (one object; every field optional). See
//! `drydock-sim/README.md` for a commented example. A scenario lists API
//! keys, the time model, networks "discovered" by MaaS, rack controllers,
//! machines (MACs, NICs, disks, BMC credentials, behaviour scripts), BMCs
//! that enlist a machine when PXE-booted, and a fault schedule.
//! [`Scenario::generated`] builds a large synthetic lab for benchmarks.

use crate::world::{Durations, FaultSpec, SimMode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::Path;

/// Default API key when a scenario lists none.
pub const DEFAULT_API_KEY: &str = "SimConsumerKey0001:SimTokenKey0000001:SimTokenSecret000000000000000001";

/// Errors loading a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario file {path}")]
    Read {
        /// Path.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The JSON does not match the scenario shape.
    #[error("invalid scenario {path}")]
    Parse {
        /// Path or `<inline>`.
        path: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
    /// A value is inconsistent (e.g. an API key without three parts).
    #[error("invalid scenario: {reason}")]
    Invalid {
        /// What is wrong.
        reason: String,
    },
}

/// A whole scenario.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// API keys (`ck:tk:ts`) per user; default one admin key.
    pub api_keys: Vec<ApiKeySeed>,
    /// Time model.
    pub mode: SimMode,
    /// Phase durations for Auto mode.
    pub durations: Durations,
    /// Fabrics with VLANs, subnets and ranges that MaaS "discovered".
    pub fabrics: Vec<FabricSeed>,
    /// Rack controllers.
    pub rack_controllers: Vec<MachineSeed>,
    /// Machines.
    pub machines: Vec<MachineSeed>,
    /// BMCs with no enlisted machine (they enlist one when PXE-booted).
    pub bmcs: Vec<BmcSeed>,
    /// Faults active from the start.
    pub faults: Vec<FaultSpec>,
    /// Boot-resource import in progress.
    pub importing: bool,
    /// Ubuntu releases already synced besides the built-in focal and xenial
    /// (`jammy`, …), as if imported before the lab started.
    pub images: Vec<String>,
    /// The Kubernetes cluster behind the simulated Promenade.
    pub promenade: PromenadeSeed,
}

/// The simulated Promenade's cluster ([`crate::promenade`]).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromenadeSeed {
    /// Tokens Promenade accepts in `X-Auth-Token`; none: no authentication.
    pub tokens: Vec<String>,
    /// Nodes already in the cluster and their labels (machines MaaS has
    /// deployed join on their own).
    pub nodes: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
}

/// An API key.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySeed {
    /// Username.
    #[serde(default = "admin")]
    pub username: String,
    /// `ck:tk:ts`.
    pub key: String,
}

fn admin() -> String {
    "admin".into()
}

/// A fabric.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FabricSeed {
    /// Name (`fabric-0` is the built-in one and may be listed to add VLANs).
    pub name: String,
    /// VLANs (vid 0 = the untagged VLAN).
    pub vlans: Vec<VlanSeed>,
}

/// A VLAN.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct VlanSeed {
    /// Tag.
    pub vid: i64,
    /// Name (default: vid).
    pub name: Option<String>,
    /// MTU (default 1500).
    pub mtu: Option<i64>,
    /// Subnets.
    pub subnets: Vec<SubnetSeed>,
}

/// A subnet.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubnetSeed {
    /// CIDR.
    pub cidr: String,
    /// Name (default: cidr).
    pub name: Option<String>,
    /// Gateway.
    pub gateway_ip: Option<String>,
    /// IP ranges `{type, start_ip, end_ip}`.
    pub ranges: Vec<RangeSeed>,
}

/// An IP range.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RangeSeed {
    /// `dynamic` or `reserved`.
    #[serde(rename = "type")]
    pub kind: String,
    /// First address.
    pub start_ip: String,
    /// Last address.
    pub end_ip: String,
}

/// A BMC.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BmcSeed {
    /// Name used in the Redfish URL `/bmc/<name>/redfish/v1/` (default: address).
    pub name: Option<String>,
    /// Address the site design uses (stored as `power_address`).
    pub address: String,
    /// User.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Initially on.
    pub powered_on: bool,
    /// Machine enlisted when this BMC powers on with PXE (for `bmcs` entries).
    pub enlist: Option<Box<MachineSeed>>,
}

/// A network interface.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct InterfaceSeed {
    /// Name (default `eno<N>`).
    pub name: Option<String>,
    /// MAC address.
    pub mac: String,
    /// PCI address (for lshw).
    pub pci_address: Option<String>,
    /// Fabric name (default `fabric-0`).
    pub fabric: Option<String>,
    /// VLAN tag on that fabric (default 0).
    pub vid: Option<i64>,
    /// Boot interface (default: the first).
    pub boot: bool,
    /// CIDR of the subnet it is discovered on.
    pub subnet: Option<String>,
    /// Address discovered (DHCP lease) on that subnet.
    pub ip: Option<String>,
    /// Links configured on the interface, as MaaS shows them in the
    /// interface's `links` (a rack controller's addresses: what the original
    /// looks a DHCP relay's upstream target up by). A machine's are replaced
    /// when it is commissioned, as MaaS does.
    pub links: Vec<LinkSeed>,
}

/// A link of an interface to a subnet.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkSeed {
    /// CIDR of the subnet (one of the scenario's `fabrics`).
    pub subnet: String,
    /// `static` (default; needs `ip_address`), `auto`, `dhcp` or `link_up`.
    pub mode: Option<String>,
    /// The address, inside the subnet.
    pub ip_address: Option<String>,
}

/// A physical disk.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiskSeed {
    /// Name (default `sd<letter>`).
    pub name: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Model.
    pub model: Option<String>,
    /// Serial.
    pub serial: Option<String>,
    /// `/dev/disk/by-id` path.
    pub id_path: Option<String>,
    /// SCSI address (for lshw).
    pub scsi_address: Option<String>,
    /// Block size (default 512).
    pub block_size: Option<u64>,
}

/// Behaviour script of one machine (queues of outcomes).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScriptSeed {
    /// `pass`, `fail_commissioning`, `fail_testing`, `hang`.
    pub commission: Vec<String>,
    /// `pass`, `fail`, `hang`.
    pub deploy: Vec<String>,
    /// `pass`, `fail`, `hang`.
    pub release: Vec<String>,
    /// Do not apply the default storage layout after commissioning.
    pub skip_storage: bool,
}

/// A machine (or rack controller).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MachineSeed {
    /// Hostname (generated when absent).
    pub hostname: Option<String>,
    /// System id (generated when absent).
    pub system_id: Option<String>,
    /// Architecture (default `amd64/generic`).
    pub architecture: Option<String>,
    /// CPUs (default 4).
    pub cpu_count: Option<i64>,
    /// Memory MiB (default 8192).
    pub memory: Option<i64>,
    /// `pxe` (default) or `uefi`.
    pub boot_method: Option<String>,
    /// Status name (default `New`); `Ready` machines get commissioning results.
    pub status: Option<String>,
    /// Power type (default: `redfish` with a BMC, else `manual`).
    pub power_type: Option<String>,
    /// Extra power parameters.
    pub power_parameters: Map<String, Value>,
    /// BMC of this machine.
    pub bmc: Option<BmcSeed>,
    /// NICs.
    pub interfaces: Vec<InterfaceSeed>,
    /// Disks.
    pub disks: Vec<DiskSeed>,
    /// Tags.
    pub tags: Vec<String>,
    /// Behaviour script.
    pub script: ScriptSeed,
    /// lshw XML (generated when absent).
    pub lshw: Option<String>,
    /// lldp XML.
    pub lldp: Option<String>,
    /// Rack services (`rack_controllers` only): name -> status.
    pub services: Map<String, Value>,
}

impl Scenario {
    /// Parses a JSON scenario.
    pub fn from_json(text: &str) -> Result<Scenario, ScenarioError> {
        serde_json::from_str(text).map_err(|source| ScenarioError::Parse { path: "<inline>".into(), source })
    }

    /// Reads a JSON scenario file.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { path: path.display().to_string(), source })?;
        serde_json::from_str(&text).map_err(|source| ScenarioError::Parse { path: path.display().to_string(), source })
    }

    /// A synthetic lab: one fabric with a /16 PXE subnet, `machines` Ready
    /// machines with two NICs, one 500 GB disk and a Redfish BMC each.
    pub fn generated(machines: usize) -> Scenario {
        let mut scenario = Scenario {
            fabrics: vec![FabricSeed {
                name: "fabric-0".into(),
                vlans: vec![VlanSeed {
                    vid: 0,
                    subnets: vec![SubnetSeed {
                        cidr: "10.0.0.0/16".into(),
                        gateway_ip: Some("10.0.0.1".into()),
                        ranges: vec![RangeSeed { kind: "reserved".into(), start_ip: "10.0.0.1".into(), end_ip: "10.0.0.9".into() }],
                        ..SubnetSeed::default()
                    }],
                    ..VlanSeed::default()
                }],
            }],
            ..Scenario::default()
        };
        for index in 0..machines {
            let (hi, lo) = (index / 250, index % 250);
            scenario.machines.push(MachineSeed {
                hostname: Some(format!("node{index:05}")),
                status: Some("Ready".into()),
                bmc: Some(BmcSeed { address: format!("10.1.{hi}.{}", lo + 1), ..BmcSeed::default() }),
                interfaces: vec![
                    InterfaceSeed {
                        mac: format!("52:54:00:{:02x}:{:02x}:{:02x}", (index >> 16) & 0xff, (index >> 8) & 0xff, index & 0xff),
                        boot: true,
                        subnet: Some("10.0.0.0/16".into()),
                        ..InterfaceSeed::default()
                    },
                    InterfaceSeed {
                        mac: format!("52:55:00:{:02x}:{:02x}:{:02x}", (index >> 16) & 0xff, (index >> 8) & 0xff, index & 0xff),
                        ..InterfaceSeed::default()
                    },
                ],
                disks: vec![DiskSeed { size: 500_107_862_016, ..DiskSeed::default() }],
                ..MachineSeed::default()
            });
        }
        scenario
    }
}
