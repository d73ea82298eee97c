//! Resolving hardware-profile device aliases to the OS logical names of a
//! node's devices, from the `lshw` XML its commissioning produced (compat:
//! site-design spec §3.6). Used when deploying, never for validation.
//!
//! An alias with a plain address matches the first `node` whose `businfo` is
//! `<bus_type>@<address>`; a `regexp:<re>` alias matches the first network
//! `node` whose `businfo` without `pci@` matches `<re>` at its start. The
//! alias maps to the last `/` component of that node's `logicalname`; with no
//! match (or no lshw data) it maps to itself.

use indexmap::IndexMap;
use regex::Regex;

use crate::model::HardwareProfile;

/// The lshw XML or an alias pattern is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogicalNameError {
    /// The build data is not well-formed XML.
    #[error("lshw build data is not valid XML: {0}")]
    Xml(String),
    /// An alias's `regexp:` pattern does not compile.
    #[error("device alias {alias} has an invalid pattern: {detail}")]
    Pattern {
        /// The alias.
        alias: String,
        /// The regex error.
        detail: String,
    },
}

/// Map every alias of `profile` to a logical name using `lshw_xml`.
/// Without build data the map is empty (every alias stands for itself).
pub fn logical_names(profile: &HardwareProfile, lshw_xml: Option<&str>) -> Result<IndexMap<String, String>, LogicalNameError> {
    let mut names = IndexMap::new();
    let Some(xml) = lshw_xml else {
        return Ok(names);
    };
    let document = roxmltree::Document::parse(xml).map_err(|error| LogicalNameError::Xml(error.to_string()))?;
    let nodes: Vec<roxmltree::Node<'_, '_>> = document.descendants().filter(|node| node.has_tag_name("node")).collect();
    let child_text = |node: &roxmltree::Node<'_, '_>, tag: &str| -> Option<String> {
        node.children().find(|child| child.has_tag_name(tag)).and_then(|child| child.text()).map(str::to_owned)
    };
    for alias in &profile.device_aliases {
        let found = match alias.address.strip_prefix("regexp:") {
            Some(pattern) => {
                let regex = Regex::new(&format!("^(?:{pattern})"))
                    .map_err(|error| LogicalNameError::Pattern { alias: alias.alias.clone(), detail: error.to_string() })?;
                nodes
                    .iter()
                    .filter(|node| node.attribute("class") == Some("network"))
                    .find(|node| {
                        child_text(node, "businfo").is_some_and(|businfo| regex.is_match(businfo.strip_prefix("pci@").unwrap_or(&businfo)))
                    })
                    .and_then(|node| child_text(node, "logicalname"))
            }
            None => {
                let wanted = format!("{}@{}", alias.bus_type, alias.address);
                nodes
                    .iter()
                    .find(|node| child_text(node, "businfo").as_deref() == Some(wanted.as_str()))
                    .and_then(|node| child_text(node, "logicalname"))
            }
        };
        let name = found.map(|path| path.rsplit('/').next().unwrap_or(&path).to_owned()).unwrap_or_else(|| alias.alias.clone());
        names.insert(alias.alias.clone(), name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeviceAlias, DocMeta};

    const LSHW: &str = r#"<?xml version="1.0" standalone="yes" ?>
<list><node id="machine" class="system"><node id="core" class="bus">
  <node id="disk:0" class="disk"><businfo>scsi@2:0.0.0</businfo><logicalname>/dev/sda</logicalname></node>
  <node id="network:0" class="network" disabled="true"><businfo>pci@0000:00:03.0</businfo><logicalname>eno1</logicalname></node>
  <node id="network:1" class="network"><businfo>pci@0000:00:04.0</businfo><logicalname>eno3</logicalname></node>
  <node id="network:2" class="network"><businfo>pci@0000:00:05.0</businfo><logicalname>eno4</logicalname></node>
</node></node></list>"#;

    fn profile(aliases: &[(&str, &str, &str)]) -> HardwareProfile {
        HardwareProfile {
            meta: DocMeta::new("drydock/HardwareProfile/v1", "hw"),
            vendor: None,
            generation: None,
            hw_version: None,
            bios_version: None,
            boot_mode: None,
            bootstrap_protocol: None,
            pxe_interface: None,
            device_aliases: aliases
                .iter()
                .map(|(alias, address, bus)| DeviceAlias {
                    alias: alias.to_string(),
                    address: address.to_string(),
                    bus_type: bus.to_string(),
                    dev_type: None,
                })
                .collect(),
            cpu_sets: Default::default(),
            hugepages: Default::default(),
        }
    }

    #[test]
    fn plain_and_regexp_aliases_resolve_like_upstream() {
        let hw = profile(&[
            ("primary_boot", "2:0.0.0", "scsi"),
            ("prim_nic01", "0000:00:03.0", "pci"),
            ("prim_nic02", "0000:00:09.0", "pci"),
            ("auto_nic", "regexp:0000:00:0[45]", "pci"),
        ]);
        let names = logical_names(&hw, Some(LSHW)).expect("resolves");
        let pairs: Vec<(&str, &str)> = names.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(pairs, [("primary_boot", "sda"), ("prim_nic01", "eno1"), ("prim_nic02", "prim_nic02"), ("auto_nic", "eno3")]);
        assert!(logical_names(&hw, None).expect("empty").is_empty());
        assert!(matches!(logical_names(&hw, Some("<list>")), Err(LogicalNameError::Xml(_))));
    }
}
