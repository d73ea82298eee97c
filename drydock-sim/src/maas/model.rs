//! The emulated MaaS region's data: machines, rack controllers, networking,
//! tags and the odds and ends that are only stored.
//!
//! Plain data plus small invariant-keeping helpers. No HTTP, no JSON
//! rendering (see `json.rs`), no lifecycle timing (see `lifecycle.rs`).

use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// MaaS node status (compat: drivers.md §2.5; numbers are MaaS's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Status {
    New,
    Commissioning,
    FailedCommissioning,
    Missing,
    Ready,
    Reserved,
    Deployed,
    Retired,
    Broken,
    Deploying,
    Allocated,
    FailedDeployment,
    Releasing,
    ReleasingFailed,
    DiskErasing,
    FailedDiskErasing,
    Testing,
    FailedTesting,
}

const STATUSES: [(Status, i64, &str); 18] = [
    (Status::New, 0, "New"),
    (Status::Commissioning, 1, "Commissioning"),
    (Status::FailedCommissioning, 2, "Failed commissioning"),
    (Status::Missing, 3, "Missing"),
    (Status::Ready, 4, "Ready"),
    (Status::Reserved, 5, "Reserved"),
    (Status::Deployed, 6, "Deployed"),
    (Status::Retired, 7, "Retired"),
    (Status::Broken, 8, "Broken"),
    (Status::Deploying, 9, "Deploying"),
    (Status::Allocated, 10, "Allocated"),
    (Status::FailedDeployment, 11, "Failed deployment"),
    (Status::Releasing, 12, "Releasing"),
    (Status::ReleasingFailed, 13, "Releasing failed"),
    (Status::DiskErasing, 14, "Disk erasing"),
    (Status::FailedDiskErasing, 15, "Failed disk erasing"),
    (Status::Testing, 21, "Testing"),
    (Status::FailedTesting, 22, "Failed testing"),
];

impl Status {
    /// MaaS's numeric status.
    pub fn number(self) -> i64 {
        STATUSES.iter().find(|(s, _, _)| *s == self).map(|(_, n, _)| *n).unwrap_or(-1)
    }

    /// MaaS's `status_name`.
    pub fn name(self) -> &'static str {
        STATUSES.iter().find(|(s, _, _)| *s == self).map(|(_, _, n)| *n).unwrap_or("Unknown")
    }

    /// Parses a status name (case-insensitive, `_`/`-` as spaces) or number.
    pub fn parse(text: &str) -> Option<Status> {
        let wanted = text.trim().to_ascii_lowercase().replace(['_', '-'], " ");
        STATUSES.iter().find(|(_, n, name)| name.to_ascii_lowercase() == wanted || n.to_string() == wanted).map(|(s, _, _)| *s)
    }
}

/// Power state as MaaS reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerState {
    /// Powered on.
    On,
    /// Powered off.
    Off,
}

impl PowerState {
    /// MaaS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PowerState::On => "on",
            PowerState::Off => "off",
        }
    }
}

/// A filesystem on a block device or partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filesystem {
    /// `ext4`, `fat32`, `swap`, ...
    pub fstype: String,
    /// Label or empty.
    pub label: String,
    /// Filesystem UUID.
    pub uuid: String,
    /// Mount point or empty.
    pub mount_point: String,
    /// Mount options or empty.
    pub mount_options: String,
}

/// A partition on a block device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Global id.
    pub id: i64,
    /// Partition UUID.
    pub uuid: String,
    /// Size in bytes (multiple of 4 MiB).
    pub size: u64,
    /// Bootable flag.
    pub bootable: bool,
    /// Tags.
    pub tags: Vec<String>,
    /// Filesystem, if formatted.
    pub filesystem: Option<Filesystem>,
    /// 1-based partition number on its disk.
    pub number: u32,
}

/// A physical disk or a logical volume (virtual block device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDevice {
    /// Global id.
    pub id: i64,
    /// `sda`, `vgroot-lvroot`, ...
    pub name: String,
    /// Volume group owning this LV; `None` for physical disks.
    pub lv_of: Option<i64>,
    /// UUID (LVs only).
    pub uuid: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// 512 or 4096.
    pub block_size: u64,
    /// Disk model.
    pub model: String,
    /// Disk serial.
    pub serial: String,
    /// `/dev/disk/by-id/...` path.
    pub id_path: String,
    /// SCSI address for the generated lshw (`0:0:0:0`).
    pub scsi_address: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Filesystem when formatted whole.
    pub filesystem: Option<Filesystem>,
    /// `GPT`/`MBR` once partitioned.
    pub partition_table: Option<String>,
    /// Partitions in order.
    pub partitions: Vec<Partition>,
}

/// A volume group; its physical volumes are whole devices or partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeGroup {
    /// Global id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: String,
    /// Block devices used whole as PVs.
    pub pv_devices: Vec<i64>,
    /// Partitions used as PVs.
    pub pv_partitions: Vec<i64>,
}

/// Interface kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum InterfaceKind {
    Physical,
    Bond,
    Vlan,
    Bridge,
}

impl InterfaceKind {
    /// MaaS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InterfaceKind::Physical => "physical",
            InterfaceKind::Bond => "bond",
            InterfaceKind::Vlan => "vlan",
            InterfaceKind::Bridge => "bridge",
        }
    }
}

/// A link (IP configuration) on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Global id.
    pub id: i64,
    /// `auto`, `dhcp`, `static`, `link_up`.
    pub mode: String,
    /// Subnet id.
    pub subnet: Option<i64>,
    /// Assigned address.
    pub ip_address: Option<String>,
    /// Whether this link provides the default gateway.
    pub default_gateway: bool,
}

/// A network interface of a node.
#[derive(Debug, Clone, PartialEq)]
pub struct Interface {
    /// Global id.
    pub id: i64,
    /// Name (`eno1`, `bond0`, `bond0.100`).
    pub name: String,
    /// Kind.
    pub kind: InterfaceKind,
    /// MAC address (lowercase).
    pub mac_address: String,
    /// Attached VLAN id.
    pub vlan: Option<i64>,
    /// Parent interface ids.
    pub parents: Vec<i64>,
    /// Tags.
    pub tags: Vec<String>,
    /// Enabled flag.
    pub enabled: bool,
    /// Links.
    pub links: Vec<Link>,
    /// Bond/bridge parameters and `mtu` (`params` in JSON).
    pub params: Map<String, Value>,
    /// PCI address for the generated lshw.
    pub pci_address: String,
    /// VLAN seen during commissioning (restored by `restore_networking_configuration`).
    pub commissioned_vlan: Option<i64>,
    /// Subnet discovered on the wire (boot interface gets an `auto` link on it).
    pub discovered_subnet: Option<i64>,
    /// Address discovered on the wire.
    pub discovered_ip: Option<String>,
}

/// A finished commissioning/testing/installation script result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptResult {
    /// Global id.
    pub id: i64,
    /// Script name.
    pub name: String,
    /// 0 commissioning, 1 installation, 2 testing.
    pub result_type: i64,
    /// Exit status.
    pub exit_status: i64,
    /// Output.
    pub stdout: Vec<u8>,
    /// Error output (a second `.err` entry when non-empty).
    pub stderr: Vec<u8>,
    /// `YYYY-MM-DDTHH:MM:SS.mmm`.
    pub created: String,
}

/// What the next lifecycle phases do (spec §3.6 behaviour script).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    /// Outcomes of the next commissionings: `pass`, `fail_commissioning`, `fail_testing`, `hang`.
    pub commission: VecDeque<String>,
    /// Outcomes of the next deployments: `pass`, `fail`, `hang`.
    pub deploy: VecDeque<String>,
    /// Outcomes of the next releases/erasures: `pass`, `fail`, `hang`.
    pub release: VecDeque<String>,
    /// Skip the default storage layout after commissioning.
    pub skip_storage: bool,
}

/// Lifecycle phase waiting to complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Phase {
    Commissioning,
    Testing,
    Deploying,
    Releasing,
    Erasing,
}

/// A transition scheduled for a machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Phase in progress.
    pub phase: Phase,
    /// Simulated time (ms) at which it completes in Auto mode; `None` = hangs.
    pub due_ms: Option<u64>,
    /// Scheduling order (Explicit mode steps in this order).
    pub seq: u64,
    /// Outcome decided when the phase started.
    pub outcome: String,
    /// Reads left before it completes (Reads mode).
    pub reads_left: u32,
}

/// A machine or rack controller.
#[derive(Debug, Clone)]
pub struct Node {
    /// 6-character system id.
    pub system_id: String,
    /// Hostname.
    pub hostname: String,
    /// 0 machine, 2 rack controller.
    pub node_type: i64,
    /// Domain id.
    pub domain: i64,
    /// Description.
    pub description: String,
    /// `amd64/generic`.
    pub architecture: String,
    /// Minimum HWE kernel.
    pub min_hwe_kernel: String,
    /// Deployed kernel.
    pub hwe_kernel: Option<String>,
    /// Deployed OS.
    pub osystem: String,
    /// Deployed series.
    pub distro_series: String,
    /// Lifecycle status.
    pub status: Status,
    /// Status before a phase started (for `abort`).
    pub previous_status: Status,
    /// Status message.
    pub status_message: String,
    /// `ipmi`, `redfish`, `manual`, ...
    pub power_type: String,
    /// Power parameters (`power_address`, ...).
    pub power_parameters: Map<String, Value>,
    /// Power state when no simulated BMC is attached.
    pub power_state: PowerState,
    /// Name of the simulated BMC driving this node's power, if any.
    pub bmc: Option<String>,
    /// CPU count.
    pub cpu_count: i64,
    /// Memory in MiB.
    pub memory: i64,
    /// Boots UEFI (else BIOS PXE).
    pub uefi: bool,
    /// Tag names.
    pub tags: BTreeSet<String>,
    /// Owner username.
    pub owner: Option<String>,
    /// Workload annotations / owner data.
    pub annotations: BTreeMap<String, String>,
    /// Locked flag.
    pub locked: bool,
    /// Zone name.
    pub zone: String,
    /// Pool name.
    pub pool: String,
    /// Interfaces.
    pub interfaces: Vec<Interface>,
    /// Boot interface id.
    pub boot_interface: Option<i64>,
    /// Block devices (disks then LVs).
    pub block_devices: Vec<BlockDevice>,
    /// Disk chosen by `set_boot_disk`.
    pub boot_disk: Option<i64>,
    /// Volume groups.
    pub volume_groups: Vec<VolumeGroup>,
    /// Commissioning result status (-1 unknown, 2 passed, 3 failed).
    pub commissioning_status: i64,
    /// Testing result status.
    pub testing_status: i64,
    /// Current script results.
    pub results: Vec<ScriptResult>,
    /// lshw XML served by `op=details` after commissioning.
    pub lshw: String,
    /// lldp XML served by `op=details` after commissioning.
    pub lldp: String,
    /// Whether `op=details` returns the XML yet.
    pub details_ready: bool,
    /// Decoded deploy user data.
    pub user_data: Option<String>,
    /// Flags of the last commission request.
    pub commission_flags: Map<String, Value>,
    /// Behaviour script.
    pub script: Script,
    /// Transition in progress.
    pub pending: Option<Pending>,
    /// Rack controller services (`name -> status`).
    pub services: BTreeMap<String, String>,
    /// Bumped on every change; invalidates the rendered-JSON cache.
    pub revision: u64,
    /// Cached rendering: (node revision, network revision, JSON text).
    pub cache: Option<(u64, u64, Arc<str>)>,
}

/// A fabric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fabric {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Class type.
    pub class_type: Option<String>,
}

/// A VLAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vlan {
    /// Id.
    pub id: i64,
    /// Fabric id.
    pub fabric: i64,
    /// Tag (0 = untagged).
    pub vid: i64,
    /// Name.
    pub name: String,
    /// MTU.
    pub mtu: i64,
    /// DHCP served by MaaS.
    pub dhcp_on: bool,
    /// Relay VLAN id.
    pub relay_vlan: Option<i64>,
    /// Primary rack system id.
    pub primary_rack: Option<String>,
    /// Secondary rack system id.
    pub secondary_rack: Option<String>,
    /// Space name.
    pub space: Option<String>,
    /// Description.
    pub description: String,
}

/// A subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// VLAN id.
    pub vlan: i64,
    /// CIDR text.
    pub cidr: String,
    /// Gateway.
    pub gateway_ip: Option<String>,
    /// DNS servers.
    pub dns_servers: Vec<String>,
    /// rDNS mode.
    pub rdns_mode: i64,
    /// allow_dns.
    pub allow_dns: bool,
    /// allow_proxy.
    pub allow_proxy: bool,
    /// managed.
    pub managed: bool,
}

/// An IP range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpRange {
    /// Id.
    pub id: i64,
    /// `dynamic` or `reserved`.
    pub kind: String,
    /// First address.
    pub start_ip: String,
    /// Last address.
    pub end_ip: String,
    /// Subnet id.
    pub subnet: i64,
    /// Comment.
    pub comment: String,
    /// Creating user.
    pub user: String,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Name (the id).
    pub name: String,
    /// XPath definition (non-empty = automatic).
    pub definition: String,
    /// Comment.
    pub comment: String,
    /// Kernel options.
    pub kernel_opts: String,
}

/// The whole emulated region.
#[derive(Debug, Clone, Default)]
pub struct Region {
    /// Machines by system id.
    pub machines: IndexMap<String, Node>,
    /// Rack controllers by system id.
    pub racks: IndexMap<String, Node>,
    /// Fabrics by id.
    pub fabrics: BTreeMap<i64, Fabric>,
    /// VLANs by id.
    pub vlans: BTreeMap<i64, Vlan>,
    /// Subnets by id.
    pub subnets: BTreeMap<i64, Subnet>,
    /// IP ranges by id.
    pub ipranges: BTreeMap<i64, IpRange>,
    /// Static routes by id (stored JSON fields: source, destination, gateway_ip, metric).
    pub static_routes: BTreeMap<i64, Map<String, Value>>,
    /// Spaces by id (name).
    pub spaces: BTreeMap<i64, String>,
    /// Domains by id: (name, authoritative, ttl).
    pub domains: BTreeMap<i64, (String, bool, Option<i64>)>,
    /// Default domain id.
    pub default_domain: i64,
    /// Tags by name.
    pub tags: BTreeMap<String, Tag>,
    /// Boot resources: (id, name, architecture, subarches).
    pub boot_resources: Vec<(i64, String, String, Vec<String>)>,
    /// Boot resource import in progress.
    pub importing: bool,
    /// Boot sources by id.
    pub boot_sources: BTreeMap<i64, Map<String, Value>>,
    /// Boot source selections by id (with `boot_source_id`).
    pub selections: BTreeMap<i64, Map<String, Value>>,
    /// Package repositories by id.
    pub repositories: BTreeMap<i64, Map<String, Value>>,
    /// SSH keys: id -> (user, key).
    pub ssh_keys: BTreeMap<i64, (String, String)>,
    /// `maas/?op=get_config` values.
    pub config: BTreeMap<String, Value>,
    /// Next integer id (one counter for everything; MaaS-like enough).
    pub next_id: i64,
    /// Next VLAN id (MaaS VLAN ids start near 5001).
    pub next_vlan_id: i64,
    /// Bumped when networking/domains/tags change (embedded in node JSON).
    pub net_revision: u64,
    /// System-id generator state.
    pub sid_state: u64,
}

impl Region {
    /// Allocates a fresh integer id.
    pub fn new_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Allocates a fresh 6-character system id (lowercase alphanumeric).
    pub fn new_system_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"abcdefghjkmnpqrstwxy0123456789";
        loop {
            // xorshift64*; deterministic so runs are reproducible.
            let mut x = self.sid_state.max(1);
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.sid_state = x;
            let mut value = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
            let mut sid = String::with_capacity(6);
            for _ in 0..6 {
                sid.push(char::from(ALPHABET[(value % ALPHABET.len() as u64) as usize]));
                value /= ALPHABET.len() as u64;
            }
            if !self.machines.contains_key(&sid) && !self.racks.contains_key(&sid) {
                return sid;
            }
        }
    }

    /// A node by system id (machines first, then rack controllers).
    pub fn node(&self, sid: &str) -> Option<&Node> {
        self.machines.get(sid).or_else(|| self.racks.get(sid))
    }

    /// A node for mutation; bumps its revision.
    pub fn node_mut(&mut self, sid: &str) -> Option<&mut Node> {
        let node = match self.machines.get_mut(sid) {
            Some(node) => Some(node),
            None => self.racks.get_mut(sid),
        };
        let node = node?;
        node.revision += 1;
        Some(node)
    }

    /// Domain name by id.
    pub fn domain_name(&self, id: i64) -> &str {
        self.domains.get(&id).map(|d| d.0.as_str()).unwrap_or("maas")
    }

    /// Untagged VLAN id of a fabric.
    pub fn untagged_vlan(&self, fabric: i64) -> Option<i64> {
        // MaaS's `Fabric.get_default_vlan`: the fabric's first VLAN (lowest
        // id), whatever its tag.
        self.vlans.values().filter(|v| v.fabric == fabric).map(|v| v.id).min()
    }

    /// Creates a fabric with its untagged VLAN; returns the fabric id.
    pub fn add_fabric(&mut self, name: Option<String>, description: String, class_type: Option<String>) -> i64 {
        let id = if self.fabrics.is_empty() { 0 } else { self.new_id() };
        let name = name.unwrap_or_else(|| format!("fabric-{id}"));
        self.fabrics.insert(id, Fabric { id, name, description, class_type });
        self.add_vlan(id, 0, "untagged".into(), 1500);
        self.net_revision += 1;
        id
    }

    /// Creates a VLAN; returns its id.
    pub fn add_vlan(&mut self, fabric: i64, vid: i64, name: String, mtu: i64) -> i64 {
        if self.next_vlan_id < 5001 {
            self.next_vlan_id = 5001;
        }
        let id = self.next_vlan_id;
        self.next_vlan_id += 1;
        self.vlans.insert(
            id,
            Vlan {
                id,
                fabric,
                vid,
                name,
                mtu,
                dhcp_on: false,
                relay_vlan: None,
                primary_rack: None,
                secondary_rack: None,
                space: None,
                description: String::new(),
            },
        );
        self.net_revision += 1;
        id
    }

    /// Dynamic ranges of a subnet.
    pub fn ranges_of(&self, subnet: i64) -> impl Iterator<Item = &IpRange> {
        self.ipranges.values().filter(move |r| r.subnet == subnet)
    }
}
