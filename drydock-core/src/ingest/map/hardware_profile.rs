//! `drydock/HardwareProfile/v1` → [`HardwareProfile`] (compat: site-design
//! spec §2.4): device aliases, CPU sets, hugepages.

use super::coerce::{MapError, MapResult, as_map, cannot_be_none, key_string, opt_int, opt_string, string_map, sub_map};
use crate::ingest::value::Map;
use crate::model::{DeviceAlias, DocMeta, HardwareProfile, HugepagesConfig};

pub(super) fn map(meta: DocMeta, data: &Map) -> MapResult<HardwareProfile> {
    let mut device_aliases = Vec::new();
    if let Some(aliases) = sub_map(data, "device_aliases")? {
        for (key, value) in &aliases.entries {
            let alias = key_string(key, "device_aliases")?;
            let entry = as_map(value, &format!("device_aliases[{alias}]"))?;
            device_aliases.push(DeviceAlias {
                address: opt_string(entry, "address")?.ok_or_else(|| cannot_be_none("address").at(Some(entry.line)))?,
                bus_type: opt_string(entry, "bus_type")?.ok_or_else(|| cannot_be_none("bus_type").at(Some(entry.line)))?,
                dev_type: opt_string(entry, "dev_type")?,
                alias,
            });
        }
    }
    let mut hugepages = indexmap::IndexMap::new();
    if let Some(configs) = sub_map(data, "hugepages")? {
        for (key, value) in &configs.entries {
            let name = key_string(key, "hugepages")?;
            let entry = as_map(value, &format!("hugepages[{name}]"))?;
            let size = opt_string(entry, "size")?.ok_or_else(|| cannot_be_none("size").at(Some(entry.line)))?;
            let count = opt_int(entry, "count")?.ok_or_else(|| cannot_be_none("count").at(Some(entry.line)))?;
            if count < 0 {
                return Err(MapError::new("Value must be >= 0 for field count").at(Some(entry.line)));
            }
            hugepages.insert(name, HugepagesConfig { size, count });
        }
    }
    Ok(HardwareProfile {
        vendor: opt_string(data, "vendor")?,
        generation: opt_string(data, "generation")?,
        hw_version: opt_string(data, "hw_version")?,
        bios_version: opt_string(data, "bios_version")?,
        boot_mode: opt_string(data, "boot_mode")?,
        bootstrap_protocol: opt_string(data, "bootstrap_protocol")?,
        pxe_interface: opt_string(data, "pxe_interface")?,
        device_aliases,
        cpu_sets: string_map(data, "cpu_sets")?,
        hugepages,
        meta,
    })
}
