//! The vocabulary drivers and the orchestrator share: power states and
//! actions, boot devices, OOB targets, machine references and statuses.

use indexmap::IndexMap;

use crate::ids::{NodeName, Secret};

/// A BMC's view of a machine's power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PowerState {
    /// Powered on.
    On,
    /// Powered off.
    Off,
    /// The BMC did not say.
    Unknown,
}

/// What to do to a machine's power. Drivers request it and return; waiting
/// until it holds is the orchestrator's job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PowerAction {
    /// Power on.
    On,
    /// Cut power.
    HardOff,
    /// Ask the OS to shut down.
    SoftOff,
    /// Power off then on.
    Cycle,
}

/// The device to boot from next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BootDevice {
    /// Network (PXE).
    Pxe,
    /// Local disk.
    Disk,
    /// CD/DVD.
    Cdrom,
    /// BIOS setup.
    Bios,
}

/// Everything an OOB driver needs to reach a node's BMC. The credential is a
/// [`Secret`]: it never appears in logs or errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OobTarget {
    /// The node.
    pub node: NodeName,
    /// `ipmi`, `redfish`, `manual`, `libvirt`, …
    pub oob_type: String,
    /// BMC address (host or IP).
    pub address: String,
    /// BMC port, when not the protocol's default.
    pub port: Option<u16>,
    /// Account.
    pub account: String,
    /// Password.
    pub credential: Secret,
    /// Other `oob` parameters of the node.
    pub parameters: IndexMap<String, String>,
}

impl OobTarget {
    /// What per-endpoint fan-out limits key on: the BMC's address and port.
    pub fn endpoint(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.address),
            None => self.address.clone(),
        }
    }
}

/// A machine in the node provisioner (a MaaS system id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MachineRef {
    /// The provisioner's id.
    pub id: String,
    /// The hostname the provisioner knows it by.
    pub hostname: String,
}

/// A provisioner's machine status, normalised (compat: drivers spec §2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineStatus {
    /// Enlisted, not commissioned.
    New,
    /// Commissioning or testing.
    Commissioning,
    /// Commissioned, free.
    Ready,
    /// Allocated to a user.
    Allocated,
    /// Installing the OS.
    Deploying,
    /// Deployed.
    Deployed,
    /// Releasing (or erasing disks).
    Releasing,
    /// A phase failed.
    Failed {
        /// Which phase (`commissioning`, `deployment`, `releasing`, `testing`, …).
        phase: String,
        /// The provisioner's words.
        detail: String,
    },
    /// Anything else (`Broken`, `Rescue mode`, …), with the provisioner's name.
    Other(String),
}

/// How disks are wiped when a machine is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErasePolicy {
    /// Do not erase.
    #[default]
    None,
    /// Quick erase.
    Quick,
    /// Secure erase where supported.
    Secure,
}

/// What a deployment installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployRequest {
    /// OS image (series).
    pub image: Option<String>,
    /// Kernel.
    pub kernel: Option<String>,
    /// cloud-init user data (carries the boot-action key and packages).
    pub user_data: Option<String>,
    /// The node's owner data (MaaS workload annotations).
    pub owner_data: IndexMap<String, String>,
    /// The boot-action key, 64 lowercase hex characters, when boot actions
    /// target the node (MaaS gets it as the `<node>__baid__<key>` tag).
    pub bootaction_key: Option<String>,
}

/// One build-data item a driver collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectedData {
    /// `lshw`, `commission:00-maas-01-cpuinfo`, …
    pub generator: String,
    /// MIME type.
    pub data_format: String,
    /// The data as text.
    pub data: String,
}

/// What an `ensure_*` call changed (or would change).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeSummary {
    /// One line per change made.
    pub changes: Vec<String>,
}
