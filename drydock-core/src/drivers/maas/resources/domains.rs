//! DNS domains (`domains/`).

use serde::Deserialize;

use super::null_default;
use crate::drivers::DriverError;
use crate::drivers::maas::client::MaasClient;

/// A domain.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Domain {
    /// Id.
    pub id: i64,
    /// Name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
}

impl MaasClient {
    /// `GET domains/`.
    pub async fn domains(&self) -> Result<Vec<Domain>, DriverError> {
        self.get("list_domains", "domains/", None, &[]).await
    }
}
