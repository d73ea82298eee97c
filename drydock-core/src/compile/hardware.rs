//! Applying a node's hardware profile (compat: site-design spec §3.5):
//! interface slave selectors from PCI device aliases, and kernel-parameter
//! references (`hardwareprofile:cpuset.<set>`,
//! `hardwareprofile:hugepages.<conf>.size|count`).

use crate::model::{HardwareProfile, HostConfig, SlaveSelector};

/// A kernel-parameter reference that cannot be resolved at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "kernel parameter {key} = '{value}' of node {node} is not a complete reference (expected hardwareprofile:cpuset.<set> or hardwareprofile:hugepages.<conf>.<size|count>)"
)]
pub struct ReferenceError {
    /// The node.
    pub node: String,
    /// The kernel parameter.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// Fill slave selectors and resolve kernel-parameter references in `config`.
pub fn apply_hardware_profile(node: &str, config: &mut HostConfig, profile: &HardwareProfile) -> Result<(), ReferenceError> {
    for interface in &mut config.interfaces {
        interface.slave_selectors = interface
            .hardware_slaves
            .iter()
            .map(|slave| match profile.device_alias(slave) {
                Some(alias) if alias.bus_type == "pci" => {
                    SlaveSelector::Address { address: alias.address.clone(), device_type: alias.dev_type.clone() }
                }
                _ => SlaveSelector::Name(slave.clone()),
            })
            .collect();
    }
    for (key, value) in config.kernel_params.iter_mut() {
        if let Some(resolved) = resolve_reference(value, profile).map_err(|()| ReferenceError {
            node: node.to_owned(),
            key: key.clone(),
            value: value.clone(),
        })? {
            *value = resolved;
        }
    }
    Ok(())
}

/// `Ok(Some(v))` resolved, `Ok(None)` not a reference or unresolvable (kept
/// as is, as upstream), `Err` an incomplete reference (upstream crashes).
fn resolve_reference(value: &str, profile: &HardwareProfile) -> Result<Option<String>, ()> {
    let Some(reference) = value.strip_prefix("hardwareprofile:") else {
        return Ok(None);
    };
    if reference.is_empty() {
        return Ok(None);
    }
    let (kind, rest) = reference.split_once('.').ok_or(())?;
    match kind {
        "cpuset" => Ok(profile.cpu_sets.get(rest).cloned()),
        "hugepages" => {
            let (conf, field) = rest.split_once('.').ok_or(())?;
            Ok(profile.hugepages.get(conf).and_then(|hugepages| match field {
                "size" => Some(hugepages.size.clone()),
                "count" => Some(hugepages.count.to_string()),
                _ => None,
            }))
        }
        _ => Ok(None),
    }
}

/// Render kernel parameters as a command line (compat §3.5): `hugepagesz`
/// and `hugepages` first, then every other key; a value of exactly `True`
/// renders the bare key. Without `hugepagesz` the string starts with a space.
pub fn kernel_command_line(params: &crate::model::StringMap) -> Result<String, String> {
    let mut line = String::new();
    if let Some(size) = params.get("hugepagesz") {
        let count = params.get("hugepages").ok_or("hugepagesz is set without hugepages")?;
        line.push_str(&format!("hugepagesz={size} hugepages={count}"));
    }
    for (key, value) in params {
        if params.contains_key("hugepagesz") && (key == "hugepagesz" || key == "hugepages") {
            continue;
        }
        line.push(' ');
        if value == "True" {
            line.push_str(key);
        } else {
            line.push_str(&format!("{key}={value}"));
        }
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DocMeta, HugepagesConfig, StringMap};

    fn profile() -> HardwareProfile {
        HardwareProfile {
            meta: DocMeta::new("drydock/HardwareProfile/v1", "hp"),
            vendor: None,
            generation: None,
            hw_version: None,
            bios_version: None,
            boot_mode: None,
            bootstrap_protocol: None,
            pxe_interface: None,
            device_aliases: Vec::new(),
            cpu_sets: [("sriov".to_string(), "2,4".to_string())].into_iter().collect(),
            hugepages: [("dpdk".to_string(), HugepagesConfig { size: "1G".into(), count: 300 })].into_iter().collect(),
        }
    }

    #[test]
    fn references_resolve_like_upstream() {
        let profile = profile();
        assert_eq!(resolve_reference("hardwareprofile:cpuset.sriov", &profile), Ok(Some("2,4".into())));
        assert_eq!(resolve_reference("hardwareprofile:hugepages.dpdk.size", &profile), Ok(Some("1G".into())));
        assert_eq!(resolve_reference("hardwareprofile:hugepages.dpdk.count", &profile), Ok(Some("300".into())));
        assert_eq!(resolve_reference("hardwareprofile:", &profile), Ok(None));
        assert_eq!(resolve_reference("hardwareprofile:cpuset.nope", &profile), Ok(None));
        assert_eq!(resolve_reference("hardwareprofile:hugepages.dpdk.foo", &profile), Ok(None));
        assert_eq!(resolve_reference("hardwareprofile:foo.bar", &profile), Ok(None));
        assert_eq!(resolve_reference("hardwareprofile.hugepages.dpdk.size", &profile), Ok(None));
        assert_eq!(resolve_reference("hardwareprofile:cpuset", &profile), Err(()));
        assert_eq!(resolve_reference("hardwareprofile:hugepages.dpdk", &profile), Err(()));
    }

    #[test]
    fn command_line_rendering() {
        let params: StringMap = [("console", "ttyS1"), ("hugepagesz", "1G"), ("hugepages", "300"), ("quiet", "True"), ("x", "False")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(kernel_command_line(&params), Ok("hugepagesz=1G hugepages=300 console=ttyS1 quiet x=False".into()));
        let plain: StringMap = [("console".to_string(), "ttyS1".to_string())].into_iter().collect();
        assert_eq!(kernel_command_line(&plain), Ok(" console=ttyS1".into()));
    }
}
