//! Boot resources (`boot-resources/`), their import state, and boot-source
//! selections (`boot-sources/{id}/selections/`).

use serde::Deserialize;

use super::null_default;
use crate::drivers::DriverError;
use crate::drivers::maas::client::MaasClient;

/// A boot resource (an image for one architecture).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BootResource {
    /// `<os>/<release>`.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `<arch>/<subarch>` (`amd64/hwe-16.04`).
    #[serde(default, deserialize_with = "null_default")]
    pub architecture: String,
}

/// A boot source.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BootSource {
    /// Id.
    pub id: i64,
}

/// A selection of images to import from a boot source.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BootSourceSelection {
    /// Id.
    pub id: i64,
    /// OS.
    #[serde(default, deserialize_with = "null_default")]
    pub os: String,
    /// Release.
    #[serde(default, deserialize_with = "null_default")]
    pub release: String,
}

impl MaasClient {
    /// `GET boot-resources/`.
    pub async fn boot_resources(&self) -> Result<Vec<BootResource>, DriverError> {
        self.get("boot_resources", "boot-resources/", None, &[]).await
    }

    /// `GET boot-resources/?op=is_importing`.
    pub async fn is_importing(&self) -> Result<bool, DriverError> {
        self.get("boot_resources", "boot-resources/", Some("is_importing"), &[]).await
    }

    /// `GET boot-sources/`.
    pub async fn boot_sources(&self) -> Result<Vec<BootSource>, DriverError> {
        self.get("boot_sources", "boot-sources/", None, &[]).await
    }

    /// `GET boot-sources/{id}/selections/`.
    pub async fn boot_source_selections(&self, source: i64) -> Result<Vec<BootSourceSelection>, DriverError> {
        self.get("boot_sources", &format!("boot-sources/{source}/selections/"), None, &[]).await
    }
}
