//! Tags (`tags/`): kernel options, static tags and boot-action key tags.

use serde::Deserialize;

use super::null_default;
use crate::drivers::DriverError;
use crate::drivers::maas::client::MaasClient;

/// A tag.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Tag {
    /// Name (the tag's id).
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Kernel options it adds.
    #[serde(default)]
    pub kernel_opts: Option<String>,
}

impl MaasClient {
    /// `GET tags/`.
    pub async fn tags(&self) -> Result<Vec<Tag>, DriverError> {
        self.get("list_tags", "tags/", None, &[]).await
    }

    /// `GET tags/<name>/`, `None` when there is no such tag.
    pub async fn tag(&self, name: &str) -> Result<Option<Tag>, DriverError> {
        match self.get("read_tag", &format!("tags/{name}/"), None, &[]).await {
            Ok(tag) => Ok(Some(tag)),
            Err(error) if error.kind() == crate::drivers::DriverErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }
}
