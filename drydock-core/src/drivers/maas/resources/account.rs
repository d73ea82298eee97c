//! The API itself and the account: `version/`, authorisation tokens, SSH keys.

use serde::Deserialize;
use serde_json::Value;

use super::null_default;
use crate::drivers::DriverError;
use crate::drivers::maas::client::MaasClient;

/// An SSH key of the account.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SshKey {
    /// Id.
    pub id: i64,
    /// The public key text.
    #[serde(default, deserialize_with = "null_default")]
    pub key: String,
}

impl MaasClient {
    /// `GET version/` (anonymous: proves MaaS answers).
    pub async fn version(&self) -> Result<Value, DriverError> {
        self.get("validate_node_services", "version/", None, &[]).await
    }

    /// `GET account/?op=list_authorisation_tokens` (proves the key works).
    pub async fn check_credentials(&self) -> Result<(), DriverError> {
        let _: Value = self.get("validate_node_services", "account/", Some("list_authorisation_tokens"), &[]).await?;
        Ok(())
    }

    /// `GET account/prefs/sshkeys/`.
    pub async fn ssh_keys(&self) -> Result<Vec<SshKey>, DriverError> {
        self.get("configure_user_credentials", "account/prefs/sshkeys/", None, &[]).await
    }
}
