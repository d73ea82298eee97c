//! HostProfile and BaremetalNode objects: the host configuration they share
//! (interfaces, storage, platform, OOB, metadata) and what only nodes have
//! (compat: site-design spec §2.5, §2.6).

use super::{DocMeta, StringMap};

/// How an interface slave is found on the host (compat §3.5).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum SlaveSelector {
    /// A PCI address from a hardware-profile alias.
    Address {
        /// Bus address (or `regexp:<re>`).
        address: String,
        /// The alias's device type.
        device_type: Option<String>,
    },
    /// A kernel device name.
    Name(String),
}

/// A host interface (key = OS device name).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Interface {
    /// OS device name; a leading `!` marks removal of an inherited one.
    pub name: String,
    /// The NetworkLink the interface is attached to.
    pub network_link: Option<String>,
    /// Slaves: hardware aliases or kernel device names.
    pub hardware_slaves: Vec<String>,
    /// Networks carried.
    pub networks: Vec<String>,
    /// SR-IOV enabled.
    pub sriov: bool,
    /// Virtual functions (SR-IOV only).
    pub vf_count: Option<i64>,
    /// Trusted mode (SR-IOV only).
    pub trustedmode: Option<bool>,
    /// Slave selectors, filled by compile.
    pub slave_selectors: Vec<SlaveSelector>,
}

impl Interface {
    /// An interface with only a name.
    pub fn named(name: impl Into<String>) -> Self {
        Interface {
            name: name.into(),
            network_link: None,
            hardware_slaves: Vec::new(),
            networks: Vec::new(),
            sriov: false,
            vf_count: None,
            trustedmode: None,
            slave_selectors: Vec::new(),
        }
    }
}

/// A partition of a physical device.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Partition {
    /// Name; `!` prefix removes an inherited one.
    pub name: String,
    /// Size string (see compile::size).
    pub size: Option<String>,
    /// Partition UUID.
    pub part_uuid: Option<String>,
    /// Volume group. Always null through ingestion (compat §2.5.1: the
    /// original reads it from a key named `vg`).
    pub volume_group: Option<String>,
    /// Mount point.
    pub mountpoint: Option<String>,
    /// Filesystem type (`ext4` default when a filesystem block is given).
    pub fstype: Option<String>,
    /// Mount options (`defaults` when a filesystem block is given).
    pub mount_options: Option<String>,
    /// Filesystem UUID.
    pub fs_uuid: Option<String>,
    /// Filesystem label.
    pub fs_label: Option<String>,
    /// Never read from documents upstream; always false.
    pub bootable: bool,
}

/// A physical storage device (or alias).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct PhysicalDevice {
    /// Device name or hardware alias; `!` prefix removes an inherited one.
    pub name: String,
    /// Labels, when given.
    pub labels: Option<StringMap>,
    /// Volume group this device is a physical volume of.
    pub volume_group: Option<String>,
    /// Partitions.
    pub partitions: Vec<Partition>,
}

/// A logical volume.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct LogicalVolume {
    /// Name.
    pub name: String,
    /// Size string.
    pub size: Option<String>,
    /// LV UUID.
    pub lv_uuid: Option<String>,
    /// Mount point.
    pub mountpoint: Option<String>,
    /// Filesystem type.
    pub fstype: Option<String>,
    /// Mount options.
    pub mount_options: Option<String>,
    /// Filesystem UUID.
    pub fs_uuid: Option<String>,
    /// Filesystem label.
    pub fs_label: Option<String>,
}

/// A volume group.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct VolumeGroup {
    /// Name; `!` prefix removes an inherited one.
    pub name: String,
    /// VG UUID.
    pub vg_uuid: Option<String>,
    /// Logical volumes.
    pub logical_volumes: Vec<LogicalVolume>,
}

/// Storage layout.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Storage {
    /// Physical devices in document order.
    pub physical_devices: Vec<PhysicalDevice>,
    /// Volume groups in document order.
    pub volume_groups: Vec<VolumeGroup>,
}

/// Host configuration shared by profiles and nodes.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct HostConfig {
    /// Parent host profile.
    pub parent_profile: Option<String>,
    /// Hardware profile.
    pub hardware_profile: Option<String>,
    /// Network for the default route and DNS domain.
    pub primary_network: Option<String>,
    /// OOB type (`ipmi`, `redfish`, `libvirt`, `manual`).
    pub oob_type: Option<String>,
    /// Every other `oob` key (`network`, `account`, `credential`, …).
    pub oob_parameters: StringMap,
    /// Storage.
    pub storage: Storage,
    /// OS image.
    pub image: Option<String>,
    /// Kernel.
    pub kernel: Option<String>,
    /// Kernel parameters as strings (`true` → `True`).
    pub kernel_params: StringMap,
    /// Tags.
    pub tags: Vec<String>,
    /// Owner data: the node's labels.
    pub owner_data: StringMap,
    /// Rack name.
    pub rack: Option<String>,
    /// Interfaces in document order.
    pub interfaces: Vec<Interface>,
}

impl HostConfig {
    /// The interface named `name`.
    pub fn interface(&self, name: &str) -> Option<&Interface> {
        self.interfaces.iter().find(|interface| interface.name == name)
    }
}

/// A `drydock/HostProfile/v1` document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HostProfile {
    /// Document reference and position.
    pub meta: DocMeta,
    /// The configuration.
    pub config: HostConfig,
}

/// A static or DHCP address assignment of a node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Addressing {
    /// The network.
    pub network: String,
    /// The address; `None` for DHCP.
    pub address: Option<String>,
}

impl Addressing {
    /// Whether the assignment is DHCP.
    pub fn is_dhcp(&self) -> bool {
        self.address.is_none()
    }
}

/// A `drydock/BaremetalNode/v1` document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BaremetalNode {
    /// Document reference and position; the name is the hostname.
    pub meta: DocMeta,
    /// The configuration (effective after compile).
    pub config: HostConfig,
    /// Address assignments (never inherited).
    pub addressing: Vec<Addressing>,
    /// PXE MAC (never inherited).
    pub boot_mac: Option<String>,
}

impl BaremetalNode {
    /// The node's name (hostname).
    pub fn name(&self) -> &str {
        self.meta.name()
    }

    /// The address on `network`, the last static assignment winning (compat §6.3 DD4001).
    pub fn address_on(&self, network: &str) -> Option<&str> {
        self.addressing.iter().rev().find(|assignment| assignment.network == network).and_then(|assignment| assignment.address.as_deref())
    }
}
