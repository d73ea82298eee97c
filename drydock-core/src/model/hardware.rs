//! HardwareProfile objects: device aliases, CPU sets and hugepages
//! (compat: site-design spec §2.4).

use super::{DocMeta, StringMap};

/// A device alias of a hardware profile.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceAlias {
    /// The alias name.
    pub alias: String,
    /// Bus address (or `regexp:<re>`).
    pub address: String,
    /// Bus type (`pci`, `scsi`, …).
    pub bus_type: String,
    /// Device type, informational.
    pub dev_type: Option<String>,
}

/// A hugepages configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HugepagesConfig {
    /// Page size (`1G`).
    pub size: String,
    /// Page count.
    pub count: i64,
}

/// A `drydock/HardwareProfile/v1` document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HardwareProfile {
    /// Document reference and position.
    pub meta: DocMeta,
    /// Vendor.
    pub vendor: Option<String>,
    /// Generation.
    pub generation: Option<String>,
    /// Hardware version.
    pub hw_version: Option<String>,
    /// BIOS version.
    pub bios_version: Option<String>,
    /// `bios` or `uefi`.
    pub boot_mode: Option<String>,
    /// `pxe`, `usb` or `hdd`.
    pub bootstrap_protocol: Option<String>,
    /// PXE interface index, as text.
    pub pxe_interface: Option<String>,
    /// Device aliases in document order.
    pub device_aliases: Vec<DeviceAlias>,
    /// CPU sets by name.
    pub cpu_sets: StringMap,
    /// Hugepages configurations by name.
    pub hugepages: indexmap::IndexMap<String, HugepagesConfig>,
}

impl HardwareProfile {
    /// The alias named `name`.
    pub fn device_alias(&self, name: &str) -> Option<&DeviceAlias> {
        self.device_aliases.iter().find(|alias| alias.alias == name)
    }
}
