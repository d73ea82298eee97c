//! Block devices, partitions and volume groups of a machine
//! (`nodes/{sid}/blockdevices/`, `…/partitions/`, `nodes/{sid}/volume-groups/`).

use serde::Deserialize;

use super::null_default;
use crate::drivers::DriverError;
use crate::drivers::maas::client::MaasClient;

/// A block device (a disk, or an LV as a virtual device).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BlockDevice {
    /// Id.
    pub id: i64,
    /// Kernel name (`sda`).
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `physical` or `virtual`.
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    pub kind: String,
    /// Bytes.
    #[serde(default)]
    pub size: u64,
    /// Bytes free.
    #[serde(default)]
    pub available_size: u64,
    /// Partitions.
    #[serde(default, deserialize_with = "null_default")]
    pub partitions: Vec<Partition>,
}

/// A partition.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Partition {
    /// Id.
    pub id: i64,
    /// Bytes.
    #[serde(default)]
    pub size: u64,
}

/// A volume group.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VolumeGroup {
    /// Id.
    pub id: i64,
    /// Name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Bytes.
    #[serde(default)]
    pub size: u64,
    /// Bytes free.
    #[serde(default)]
    pub available_size: u64,
    /// Its LVs.
    #[serde(default, deserialize_with = "null_default")]
    pub logical_volumes: Vec<LogicalVolume>,
}

/// A logical volume (a virtual block device).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LogicalVolume {
    /// Block-device id.
    pub id: i64,
    /// Name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
}

impl MaasClient {
    /// `GET nodes/{sid}/blockdevices/`.
    pub async fn block_devices(&self, system_id: &str) -> Result<Vec<BlockDevice>, DriverError> {
        self.get("list_block_devices", &format!("nodes/{system_id}/blockdevices/"), None, &[]).await
    }

    /// `GET nodes/{sid}/volume-groups/`.
    pub async fn volume_groups(&self, system_id: &str) -> Result<Vec<VolumeGroup>, DriverError> {
        self.get("list_volume_groups", &format!("nodes/{system_id}/volume-groups/"), None, &[]).await
    }
}
