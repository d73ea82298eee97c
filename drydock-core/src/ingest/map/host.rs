//! `drydock/HostProfile/v1` and `drydock/BaremetalNode/v1` → the shared
//! [`HostConfig`] plus node-only data (compat: site-design spec §2.5, §2.6).

use super::coerce::{
    MapError, MapResult, as_map, cannot_be_none, key_string, opt_bool, opt_int, opt_string, string_list, string_map, sub_map, to_string,
};
use crate::ingest::value::{Map, Value};
use crate::model::{
    Addressing, BaremetalNode, DocMeta, HostConfig, HostProfile, Interface, LogicalVolume, Partition, PhysicalDevice, Storage, StringMap,
    VolumeGroup,
};

pub(super) fn map_profile(meta: DocMeta, data: &Map) -> MapResult<HostProfile> {
    Ok(HostProfile { meta, config: host_config(data)? })
}

pub(super) fn map_node(meta: DocMeta, data: &Map) -> MapResult<BaremetalNode> {
    let config = host_config(data)?;
    let mut addressing = Vec::new();
    if let Some(Value::Seq(seq)) = data.get("addressing") {
        for item in &seq.items {
            let entry = as_map(item, "addressing")?;
            let address = opt_string(entry, "address")?
                .filter(|address| !address.is_empty())
                .ok_or_else(|| MapError::new("every addressing entry needs an address (an IP address or 'dhcp')").at(Some(entry.line)))?;
            let network = opt_string(entry, "network")?.ok_or_else(|| cannot_be_none("network").at(Some(entry.line)))?;
            let address = if address == "dhcp" { None } else { Some(address) };
            addressing.push(Addressing { network, address });
        }
    }
    if addressing.is_empty() {
        return Err(MapError::new("BaremetalNode needs at least 1 assigned address").at(Some(data.line)));
    }
    let boot_mac = match sub_map(data, "metadata")? {
        Some(metadata) => opt_string(metadata, "boot_mac")?,
        None => None,
    };
    Ok(BaremetalNode { meta, config, addressing, boot_mac })
}

fn host_config(data: &Map) -> MapResult<HostConfig> {
    let mut config = HostConfig {
        parent_profile: opt_string(data, "host_profile")?,
        hardware_profile: opt_string(data, "hardware_profile")?,
        primary_network: opt_string(data, "primary_network")?,
        ..HostConfig::default()
    };
    if let Some(oob) = sub_map(data, "oob")? {
        for (key, value) in &oob.entries {
            let name = key_string(key, "oob")?;
            if name == "type" {
                config.oob_type = to_string(value, "oob_type")?;
                continue;
            }
            let field = format!("oob_parameters[{name}]");
            // A null parameter stays out of the map (the original's nullable dict).
            if let Some(text) = to_string(value, &field)? {
                config.oob_parameters.insert(name, text);
            }
        }
    }
    if let Some(storage) = sub_map(data, "storage")? {
        config.storage = map_storage(storage)?;
    }
    if let Some(platform) = sub_map(data, "platform")? {
        config.image = opt_string(platform, "image")?;
        config.kernel = opt_string(platform, "kernel")?;
        config.kernel_params = kernel_params(platform)?;
    }
    if let Some(metadata) = sub_map(data, "metadata")? {
        config.tags = string_list(metadata, "tags")?;
        config.owner_data = string_map(metadata, "owner_data")?;
        config.rack = opt_string(metadata, "rack")?;
    }
    if let Some(interfaces) = sub_map(data, "interfaces")? {
        for (key, value) in &interfaces.entries {
            let name = key_string(key, "interfaces")?;
            if value.is_null() {
                // compat §2.5.2: a null interface is ignored (the schema rejects it first).
                continue;
            }
            let entry = as_map(value, &format!("interfaces[{name}]"))?;
            config.interfaces.push(map_interface(name, entry)?);
        }
    }
    Ok(config)
}

fn kernel_params(platform: &Map) -> MapResult<StringMap> {
    let mut params = StringMap::new();
    if let Some(value) = platform.get("kernel_params").filter(|value| !value.is_null()) {
        let map = as_map(value, "kernel_params")?;
        for (key, item) in &map.entries {
            let name = match key {
                Value::Str(text) => text.clone(),
                other => other.py_str(),
            };
            let field = format!("kernel_params[{name}]");
            let text = to_string(item, &field)?.ok_or_else(|| cannot_be_none(&field).at(Some(map.line)))?;
            params.insert(name, text);
        }
    }
    Ok(params)
}

fn map_interface(name: String, entry: &Map) -> MapResult<Interface> {
    let mut interface = Interface::named(name);
    interface.network_link = opt_string(entry, "device_link")?;
    interface.hardware_slaves = string_list(entry, "slaves")?;
    interface.networks = string_list(entry, "networks")?;
    if let Some(sriov) = entry.get("sriov") {
        let sriov = as_map(sriov, "sriov")?;
        interface.sriov = true;
        interface.vf_count = Some(opt_int(sriov, "vf_count")?.unwrap_or(0));
        // compat §2.5.2: the schema says `trustmode`, the original reads `trustedmode`.
        interface.trustedmode = Some(opt_bool(sriov, "trustedmode").unwrap_or(false));
    }
    Ok(interface)
}

fn map_storage(storage: &Map) -> MapResult<Storage> {
    let mut result = Storage::default();
    if let Some(devices) = sub_map(storage, "physical_devices")? {
        for (key, value) in &devices.entries {
            let name = key_string(key, "physical_devices")?;
            let entry = as_map(value, &format!("physical_devices[{name}]"))?;
            let labels = match entry.get("labels") {
                Some(labels) if !labels.is_null() => Some(string_map(entry, "labels")?),
                _ => None,
            };
            let mut device = PhysicalDevice { name, labels, ..PhysicalDevice::default() };
            if entry.contains_key("volume_group") {
                // compat §2.5.1: the key's presence (even null) makes the device a
                // VG member and its partitions are ignored.
                device.volume_group = opt_string(entry, "volume_group")?;
            } else if let Some(partitions) = entry.get("partitions").filter(|value| !value.is_null()) {
                device.partitions = map_list(partitions, "partitions", map_partition)?;
            }
            result.physical_devices.push(device);
        }
    }
    if let Some(groups) = sub_map(storage, "volume_groups")? {
        for (key, value) in &groups.entries {
            let name = key_string(key, "volume_groups")?;
            let entry = as_map(value, &format!("volume_groups[{name}]"))?;
            let logical_volumes = match entry.get("logical_volumes").filter(|value| !value.is_null()) {
                Some(volumes) => map_list(volumes, "logical_volumes", map_logical_volume)?,
                None => Vec::new(),
            };
            result.volume_groups.push(VolumeGroup { name, vg_uuid: opt_string(entry, "vg_uuid")?, logical_volumes });
        }
    }
    Ok(result)
}

fn map_list<T>(value: &Value, field: &str, item: fn(&Map) -> MapResult<T>) -> MapResult<Vec<T>> {
    match value {
        Value::Seq(seq) => seq.items.iter().map(|entry| item(as_map(entry, field)?)).collect(),
        other => Err(MapError::new(format!("A list is required in field {field}, not a {}", other.py_type_name()))),
    }
}

/// Filesystem fields: `(mountpoint, fstype, mount_options, fs_uuid, fs_label)`
/// with the defaults the original applies when a filesystem block exists.
type FsFields = (Option<String>, Option<String>, Option<String>, Option<String>, Option<String>);

fn filesystem(entry: &Map) -> MapResult<FsFields> {
    match sub_map(entry, "filesystem")? {
        Some(fs) => Ok((
            opt_string(fs, "mountpoint")?,
            Some(opt_string(fs, "fstype")?.unwrap_or_else(|| "ext4".into())),
            Some(opt_string(fs, "mount_options")?.unwrap_or_else(|| "defaults".into())),
            opt_string(fs, "fs_uuid")?,
            opt_string(fs, "fs_label")?,
        )),
        None => Ok((None, None, None, None, None)),
    }
}

fn map_partition(entry: &Map) -> MapResult<Partition> {
    let name = opt_string(entry, "name")?.ok_or_else(|| cannot_be_none("name").at(Some(entry.line)))?;
    // compat §2.5.1: a partition with a `volume_group` key has its VG read from
    // `vg` (always null) and its filesystem ignored.
    let (mountpoint, fstype, mount_options, fs_uuid, fs_label) =
        if entry.contains_key("volume_group") { (None, None, None, None, None) } else { filesystem(entry)? };
    Ok(Partition {
        name,
        size: opt_string(entry, "size")?,
        part_uuid: opt_string(entry, "part_uuid")?,
        volume_group: None,
        mountpoint,
        fstype,
        mount_options,
        fs_uuid,
        fs_label,
        bootable: false,
    })
}

fn map_logical_volume(entry: &Map) -> MapResult<LogicalVolume> {
    let name = opt_string(entry, "name")?.ok_or_else(|| cannot_be_none("name").at(Some(entry.line)))?;
    let (mountpoint, fstype, mount_options, fs_uuid, fs_label) = filesystem(entry)?;
    Ok(LogicalVolume {
        name,
        size: opt_string(entry, "size")?,
        lv_uuid: opt_string(entry, "lv_uuid")?,
        mountpoint,
        fstype,
        mount_options,
        fs_uuid,
        fs_label,
    })
}
