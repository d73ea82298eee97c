//! Renders the emulated region as MaaS 2.0 JSON (compat: drivers.md §3.4).
//!
//! Shapes are written from the spec's field lists, never from the driver's
//! types. Nested objects are embedded in full where MaaS embeds them.

use super::model::{BlockDevice, Filesystem, Interface, IpRange, Node, Partition, Region, Subnet, Vlan, VolumeGroup};
use super::storage::{device_available, device_is_pv, human_size, partition_is_pv, vg_size, vg_used};
use serde_json::{Value, json};
use std::sync::Arc;

/// Path prefix of every MaaS resource URI.
pub const API: &str = "/MAAS/api/2.0";

const RESULT_NAMES: [&str; 6] = ["Pending", "Running", "Passed", "Failed", "Timed out", "Aborted"];

fn result_name(status: i64) -> &'static str {
    usize::try_from(status).ok().and_then(|i| RESULT_NAMES.get(i).copied()).unwrap_or("Unknown")
}

/// VLAN object.
pub fn vlan(region: &Region, vlan: &Vlan) -> Value {
    let relay = vlan.relay_vlan.and_then(|id| region.vlans.get(&id)).map(|r| {
        let mut inner = plain_vlan(region, r);
        inner["relay_vlan"] = Value::Null;
        inner
    });
    let mut value = plain_vlan(region, vlan);
    value["relay_vlan"] = relay.unwrap_or(Value::Null);
    value
}

fn plain_vlan(region: &Region, vlan: &Vlan) -> Value {
    json!({
        "id": vlan.id,
        "name": vlan.name,
        "vid": vlan.vid,
        "mtu": vlan.mtu,
        "dhcp_on": vlan.dhcp_on,
        "external_dhcp": null,
        "relay_vlan": null,
        "fabric": region.fabrics.get(&vlan.fabric).map(|f| f.name.as_str()).unwrap_or(""),
        "fabric_id": vlan.fabric,
        "primary_rack": vlan.primary_rack,
        "secondary_rack": vlan.secondary_rack,
        "space": vlan.space.as_deref().unwrap_or("undefined"),
        "resource_uri": format!("{API}/vlans/{}/", vlan.id),
    })
}

/// Fabric object with its VLANs.
pub fn fabric(region: &Region, id: i64) -> Value {
    let Some(fabric) = region.fabrics.get(&id) else {
        return Value::Null;
    };
    let vlans: Vec<Value> = region.vlans.values().filter(|v| v.fabric == id).map(|v| vlan(region, v)).collect();
    json!({
        "id": fabric.id,
        "name": fabric.name,
        "class_type": fabric.class_type,
        "vlans": vlans,
        "resource_uri": format!("{API}/fabrics/{}/", fabric.id),
    })
}

/// Subnet object.
pub fn subnet(region: &Region, subnet: &Subnet) -> Value {
    let vlan_value = region.vlans.get(&subnet.vlan).map(|v| vlan(region, v)).unwrap_or(Value::Null);
    let space = region.vlans.get(&subnet.vlan).and_then(|v| v.space.clone()).unwrap_or_else(|| "undefined".into());
    json!({
        "id": subnet.id,
        "name": subnet.name,
        "description": subnet.description,
        "vlan": vlan_value,
        "cidr": subnet.cidr,
        "gateway_ip": subnet.gateway_ip,
        "dns_servers": subnet.dns_servers,
        "rdns_mode": subnet.rdns_mode,
        "allow_dns": subnet.allow_dns,
        "allow_proxy": subnet.allow_proxy,
        "active_discovery": false,
        "managed": subnet.managed,
        "disabled_boot_architectures": [],
        "space": space,
        "resource_uri": format!("{API}/subnets/{}/", subnet.id),
    })
}

/// Subnet object by id (null when unknown).
pub fn subnet_by_id(region: &Region, id: i64) -> Value {
    region.subnets.get(&id).map(|s| subnet(region, s)).unwrap_or(Value::Null)
}

/// User object.
pub fn user(name: &str) -> Value {
    json!({"username": name, "email": "", "is_superuser": true, "is_local": true,
           "resource_uri": format!("{API}/users/{name}/")})
}

/// IP range object.
pub fn iprange(region: &Region, range: &IpRange) -> Value {
    json!({
        "id": range.id,
        "type": range.kind,
        "start_ip": range.start_ip,
        "end_ip": range.end_ip,
        "comment": range.comment,
        "user": user(&range.user),
        "subnet": subnet_by_id(region, range.subnet),
        "resource_uri": format!("{API}/ipranges/{}/", range.id),
    })
}

/// Domain object.
pub fn domain(region: &Region, id: i64) -> Value {
    let Some((name, authoritative, ttl)) = region.domains.get(&id) else {
        return Value::Null;
    };
    // MaaS counts DNS resource records here, not nodes; the emulator has none.
    let count = 0;
    json!({
        "id": id,
        "name": name,
        "authoritative": authoritative,
        "ttl": ttl,
        "is_default": id == region.default_domain,
        "resource_record_count": count,
        "resource_uri": format!("{API}/domains/{id}/"),
    })
}

/// Zone or pool object (`kind` = `zones` or `resourcepool`).
pub fn zone_like(kind: &str, name: &str) -> Value {
    json!({"name": name, "description": "", "id": 1, "resource_uri": format!("{API}/{kind}/{name}/")})
}

fn filesystem(fs: &Option<Filesystem>) -> Value {
    match fs {
        Some(fs) => json!({
            "fstype": fs.fstype, "label": fs.label, "uuid": fs.uuid,
            "mount_point": if fs.mount_point.is_empty() { Value::Null } else { Value::from(fs.mount_point.clone()) },
            "mount_options": if fs.mount_options.is_empty() { Value::Null } else { Value::from(fs.mount_options.clone()) },
        }),
        None => Value::Null,
    }
}

/// The `lvm-pv` filesystem MaaS puts on a volume group's physical volumes
/// (the emulator keeps PV membership on the volume group instead).
fn pv_filesystem(node: &Node, member: impl Fn(&VolumeGroup) -> bool, seed: &str) -> Option<Value> {
    node.volume_groups.iter().any(member).then(|| {
        // A UUID of its own, derived from the member's (stable across renders).
        let uuid = match seed.get(4..) {
            Some(rest) if seed.len() == 36 => format!("7e57{rest}"),
            _ => format!(
                "7e570000-0000-4000-8000-{:012x}",
                seed.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))) & 0xffff_ffff_ffff
            ),
        };
        json!({"fstype": "lvm-pv", "label": null, "uuid": uuid, "mount_point": null, "mount_options": null})
    })
}

fn used_for_fs(fs: &Filesystem) -> String {
    if fs.mount_point.is_empty() {
        format!("Unmounted {} formatted filesystem", fs.fstype)
    } else {
        format!("{} formatted filesystem mounted at {}", fs.fstype, fs.mount_point)
    }
}

/// Partition object.
pub fn partition(node: &Node, device: &BlockDevice, part: &Partition) -> Value {
    let used_for = match &part.filesystem {
        Some(fs) => used_for_fs(fs),
        None if partition_is_pv(node, part.id) => {
            let vg = node.volume_groups.iter().find(|vg| vg.pv_partitions.contains(&part.id));
            format!("LVM volume for {}", vg.map(|v| v.name.as_str()).unwrap_or(""))
        }
        None => "Unused".into(),
    };
    json!({
        "id": part.id,
        "uuid": part.uuid,
        "size": part.size,
        "bootable": part.bootable,
        "tags": part.tags,
        "type": "partition",
        "system_id": node.system_id,
        "device_id": device.id,
        "path": format!("/dev/disk/by-dname/{}-part{}", device.name, part.number),
        "filesystem": pv_filesystem(node, |vg| vg.pv_partitions.contains(&part.id), &part.uuid).unwrap_or_else(|| filesystem(&part.filesystem)),
        "used_for": used_for,
        "resource_uri": format!("{API}/nodes/{}/blockdevices/{}/partition/{}", node.system_id, device.id, part.id),
    })
}

/// Block device object.
pub fn block_device(node: &Node, device: &BlockDevice) -> Value {
    let available = device_available(node, device);
    let used_for = if let Some(fs) = &device.filesystem {
        used_for_fs(fs)
    } else if device_is_pv(node, device.id) {
        let vg = node.volume_groups.iter().find(|vg| vg.pv_devices.contains(&device.id));
        format!("LVM volume for {}", vg.map(|v| v.name.as_str()).unwrap_or(""))
    } else if device.partition_table.is_some() {
        format!(
            "{} partitioned with {} partition{}",
            device.partition_table.as_deref().unwrap_or("GPT"),
            device.partitions.len(),
            if device.partitions.len() == 1 { "" } else { "s" }
        )
    } else {
        "Unused".into()
    };
    let partitions: Vec<Value> = device.partitions.iter().map(|p| partition(node, device, p)).collect();
    let mut value = json!({
        "id": device.id,
        "system_id": node.system_id,
        "name": device.name,
        "uuid": device.uuid,
        "type": if device.lv_of.is_some() { "virtual" } else { "physical" },
        "path": format!("/dev/disk/by-dname/{}", device.name),
        "model": if device.lv_of.is_some() { Value::Null } else { Value::from(device.model.clone()) },
        "serial": if device.lv_of.is_some() { Value::Null } else { Value::from(device.serial.clone()) },
        "id_path": if device.lv_of.is_some() { Value::Null } else { Value::from(device.id_path.clone()) },
        "size": device.size,
        "block_size": device.block_size,
        "available_size": available,
        "used_size": device.size - available.min(device.size),
        "used_for": used_for,
        "tags": device.tags,
        "filesystem": pv_filesystem(node, |vg| vg.pv_devices.contains(&device.id), device.uuid.as_deref().unwrap_or(&device.name))
            .unwrap_or_else(|| filesystem(&device.filesystem)),
        "partition_table_type": device.partition_table,
        "partitions": partitions,
        "firmware_version": if device.lv_of.is_some() { Value::Null } else { Value::from("1.0") },
        "storage_pool": null,
        "numa_node": 0,
        "resource_uri": format!("{API}/nodes/{}/blockdevices/{}/", node.system_id, device.id),
    });
    if let Some(vg_id) = device.lv_of {
        let vg_uuid = node.volume_groups.iter().find(|v| v.id == vg_id).map(|v| v.uuid.clone());
        value["parent"] = json!({"id": vg_id, "uuid": vg_uuid, "type": "lvm-vg"});
    }
    value
}

/// Volume group object.
pub fn volume_group(node: &Node, vg: &VolumeGroup) -> Value {
    let mut devices = Vec::new();
    for device in &node.block_devices {
        if vg.pv_devices.contains(&device.id) {
            devices.push(block_device(node, device));
        }
        for part in &device.partitions {
            if vg.pv_partitions.contains(&part.id) {
                devices.push(partition(node, device, part));
            }
        }
    }
    let size = vg_size(node, vg);
    let used = vg_used(node, vg);
    let lvs: Vec<Value> = node.block_devices.iter().filter(|d| d.lv_of == Some(vg.id)).map(|d| block_device(node, d)).collect();
    json!({
        "id": vg.id,
        "system_id": node.system_id,
        "uuid": vg.uuid,
        "name": vg.name,
        "devices": devices,
        "size": size,
        "available_size": size.saturating_sub(used),
        "used_size": used,
        "human_size": human_size(size),
        "human_available_size": human_size(size.saturating_sub(used)),
        "human_used_size": human_size(used),
        "logical_volumes": lvs,
        "resource_uri": format!("{API}/nodes/{}/volume-group/{}/", node.system_id, vg.id),
    })
}

/// Interface object.
pub fn interface(region: &Region, node: &Node, iface: &Interface) -> Value {
    let name_of = |id: &i64| node.interfaces.iter().find(|i| i.id == *id).map(|i| i.name.clone());
    let parents: Vec<String> = iface.parents.iter().filter_map(name_of).collect();
    let children: Vec<String> = node.interfaces.iter().filter(|i| i.parents.contains(&iface.id)).map(|i| i.name.clone()).collect();
    let vlan_value = iface.vlan.and_then(|id| region.vlans.get(&id)).map(|v| vlan(region, v)).unwrap_or(Value::Null);
    let links: Vec<Value> = iface
        .links
        .iter()
        .map(|link| {
            let mut value = json!({"id": link.id, "mode": link.mode});
            if let Some(subnet_id) = link.subnet {
                value["subnet"] = subnet_by_id(region, subnet_id);
            }
            if let Some(ip) = &link.ip_address {
                value["ip_address"] = Value::from(ip.clone());
            }
            value
        })
        .collect();
    let discovered = iface.discovered_subnet.map(|s| json!([{"subnet": subnet_by_id(region, s), "ip_address": iface.discovered_ip}]));
    let vlan_mtu = iface.vlan.and_then(|id| region.vlans.get(&id)).map(|v| v.mtu).unwrap_or(1500);
    let own_mtu = iface.params.get("mtu").and_then(Value::as_i64);
    let params = if iface.params.is_empty() { Value::from("") } else { Value::Object(iface.params.clone()) };
    json!({
        "id": iface.id,
        "system_id": node.system_id,
        "name": iface.name,
        "type": iface.kind.as_str(),
        "mac_address": iface.mac_address,
        "vlan": vlan_value,
        "parents": parents,
        "children": children,
        "tags": iface.tags,
        "enabled": iface.enabled,
        "links": links,
        "params": params,
        "discovered": discovered,
        "effective_mtu": own_mtu.unwrap_or(vlan_mtu),
        "vendor": "Intel Corporation",
        "product": "Ethernet Controller",
        "firmware_version": "1.0",
        "link_connected": true,
        "interface_speed": 10000,
        "link_speed": 10000,
        "numa_node": 0,
        "sriov_max_vf": 0,
        "resource_uri": format!("{API}/nodes/{}/interfaces/{}/", node.system_id, iface.id),
    })
}

/// Power state text of a node, given the BMC lookup result.
pub fn power_params_value(node: &Node) -> Value {
    Value::Object(node.power_parameters.clone())
}

/// Node JSON (machine or rack controller). `power` is the effective power state.
pub fn node(region: &Region, node: &Node, power: &str) -> Value {
    // Each interface and block device is rendered once and cloned into the
    // places MaaS repeats it (boot_interface, the three device sets, boot_disk).
    let interfaces: Vec<Value> = node.interfaces.iter().map(|i| interface(region, node, i)).collect();
    let boot_index = node.boot_interface.and_then(|id| node.interfaces.iter().position(|i| i.id == id)).or(if node.interfaces.is_empty() {
        None
    } else {
        Some(0)
    });
    let boot_interface = boot_index.and_then(|i| interfaces.get(i).cloned()).unwrap_or(Value::Null);
    let ip_addresses: Vec<String> = node.interfaces.iter().flat_map(|i| i.links.iter().filter_map(|l| l.ip_address.clone())).collect();
    let devices: Vec<Value> = node.block_devices.iter().map(|d| block_device(node, d)).collect();
    let pick = |physical: bool| -> Vec<Value> {
        node.block_devices.iter().zip(&devices).filter(|(d, _)| d.lv_of.is_none() == physical).map(|(_, v)| v.clone()).collect()
    };
    let physical = pick(true);
    let virtual_devices = pick(false);
    let vgs: Vec<Value> = node.volume_groups.iter().map(|vg| volume_group(node, vg)).collect();
    let boot_disk = super::storage::boot_disk_id(node)
        .and_then(|id| node.block_devices.iter().position(|d| d.id == id))
        .and_then(|i| devices.get(i).cloned())
        .unwrap_or(Value::Null);
    let storage_mb: f64 = node.block_devices.iter().filter(|d| d.lv_of.is_none()).map(|d| d.size as f64 / 1_000_000.0).sum();
    let domain_name = region.domain_name(node.domain);
    let annotations = serde_json::to_value(&node.annotations).unwrap_or(Value::Null);
    let is_rack = node.node_type != 0;
    let mut value = json!({
        "system_id": node.system_id,
        "hostname": node.hostname,
        "fqdn": format!("{}.{}", node.hostname, domain_name),
        "description": node.description,
        "domain": domain(region, node.domain),
        "architecture": node.architecture,
        "min_hwe_kernel": node.min_hwe_kernel,
        "hwe_kernel": node.hwe_kernel,
        "osystem": node.osystem,
        "distro_series": node.distro_series,
        "power_type": node.power_type,
        "power_state": power,
        "cpu_count": node.cpu_count,
        "cpu_speed": 2400,
        "memory": node.memory,
        "storage": storage_mb,
        "swap_size": null,
        "tag_names": node.tags.iter().collect::<Vec<_>>(),
        "owner": node.owner,
        "owner_data": annotations.clone(),
        "workload_annotations": annotations,
        "locked": node.locked,
        "netboot": !matches!(node.status, super::model::Status::Deployed),
        "bios_boot_method": if node.uefi { "uefi" } else { "pxe" },
        "zone": zone_like("zones", &node.zone),
        "pool": zone_like("resourcepool", &node.pool),
        "boot_interface": boot_interface,
        "interface_set": interfaces,
        "ip_addresses": ip_addresses,
        "boot_disk": boot_disk,
        "blockdevice_set": devices,
        "physicalblockdevice_set": physical,
        "virtualblockdevice_set": virtual_devices,
        "volume_groups": vgs,
        "raids": [],
        "cache_sets": [],
        "bcaches": [],
        "special_filesystems": [],
        "node_type": node.node_type,
        "node_type_name": if is_rack { "Rack controller" } else { "Machine" },
        "default_gateways": {"ipv4": {"gateway_ip": null, "link_id": null}, "ipv6": {"gateway_ip": null, "link_id": null}},
        "commissioning_status": node.commissioning_status,
        "commissioning_status_name": result_name(node.commissioning_status),
        "testing_status": node.testing_status,
        "testing_status_name": result_name(node.testing_status),
        "current_commissioning_result_id": node.results.iter().find(|r| r.result_type == 0).map(|r| r.id),
        "current_testing_result_id": node.results.iter().find(|r| r.result_type == 2).map(|r| r.id),
        "current_installation_result_id": node.results.iter().find(|r| r.result_type == 1).map(|r| r.id),
        "hardware_info": {"system_vendor": "Simulated", "system_product": "drydock-sim", "system_version": "1.0",
                          "system_serial": node.system_id, "cpu_model": "Simulated CPU", "mainboard_vendor": "Simulated",
                          "mainboard_product": "drydock-sim", "mainboard_firmware_version": "1.0",
                          "mainboard_firmware_date": "01/01/2026"},
        "address_ttl": null,
        "disable_ipv4": false,
        "iscsiblockdevice_set": [],
        "pod": null,
    });
    // Per-category test statuses (MaaS 2.5+): no category runs separately
    // here, so each reads -1 / Unknown.
    for category in ["cpu", "memory", "storage", "interface", "other"] {
        value[format!("{category}_test_status")] = Value::from(-1);
        value[format!("{category}_test_status_name")] = Value::from("Unknown");
    }
    if is_rack {
        // A rack controller carries only the controller fields of MaaS's
        // DISPLAYED_RACK_CONTROLLER_FIELDS (no status, owner or storage).
        if let Value::Object(map) = &mut value {
            map.retain(|key, _| RACK_FIELDS.contains(&key.as_str()));
        }
        value["status_action"] = Value::Null;
        value["version"] = Value::from("3.4.0");
        let services: Vec<Value> =
            node.services.iter().map(|(name, status)| json!({"name": name, "status": status, "status_info": ""})).collect();
        value["service_set"] = Value::from(services);
        value["resource_uri"] = Value::from(format!("{API}/rackcontrollers/{}/", node.system_id));
    } else {
        value["status"] = Value::from(node.status.number());
        value["status_name"] = Value::from(node.status.name());
        value["status_message"] = Value::from(node.status_message.clone());
        value["status_action"] = Value::from("");
        value["resource_uri"] = Value::from(format!("{API}/machines/{}/", node.system_id));
    }
    value
}

/// The fields of a rack controller (MaaS 2.9.2 api/rackcontrollers.py
/// `DISPLAYED_RACK_CONTROLLER_FIELDS`, less `hardware_uuid`), besides
/// `service_set`, `version` and `resource_uri`, added after.
const RACK_FIELDS: [&str; 37] = [
    "system_id",
    "hostname",
    "description",
    "domain",
    "fqdn",
    "architecture",
    "cpu_count",
    "cpu_speed",
    "memory",
    "swap_size",
    "osystem",
    "distro_series",
    "power_type",
    "power_state",
    "ip_addresses",
    "interface_set",
    "zone",
    "status_action",
    "node_type",
    "node_type_name",
    "current_commissioning_result_id",
    "current_testing_result_id",
    "current_installation_result_id",
    "commissioning_status",
    "commissioning_status_name",
    "testing_status",
    "testing_status_name",
    "cpu_test_status",
    "cpu_test_status_name",
    "memory_test_status",
    "memory_test_status_name",
    "storage_test_status",
    "storage_test_status_name",
    "other_test_status",
    "other_test_status_name",
    "hardware_info",
    "tag_names",
];

/// Rendered node JSON, reusing the node's cache when still valid.
pub fn node_text(region: &Region, item: &Node, power: &str) -> Arc<str> {
    if let Some((revision, net, text)) = &item.cache
        && *revision == item.revision
        && *net == region.net_revision
        && !text.is_empty()
    {
        return text.clone();
    }
    Arc::from(node(region, item, power).to_string())
}
