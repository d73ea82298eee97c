//! Package repositories (`package-repositories/`).

use serde::Deserialize;

use super::null_default;
use crate::drivers::DriverError;
use crate::drivers::maas::client::MaasClient;

/// A package repository.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Repository {
    /// Id.
    pub id: i64,
    /// Name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
}

impl MaasClient {
    /// `GET package-repositories/`.
    pub async fn repositories(&self) -> Result<Vec<Repository>, DriverError> {
        self.get("configure_node_provisioner", "package-repositories/", None, &[]).await
    }
}
