//! `apply_node_storage`: a node's disks, partitions, volume groups, logical
//! volumes and filesystems on its MaaS machine (compat: drivers spec
//! §2.4.8), in three phases, each planned from what MaaS shows after the
//! previous one: reset and root layout; partitions and volume groups;
//! logical volumes. Sizes follow `calculate_bytes` (§2.4.9).

use indexmap::IndexMap;

use super::Plan;
use crate::compile::size::{SizeContext, calculate_bytes};
use crate::drivers::maas::form::flag;
use crate::drivers::maas::plan::{Call, Val};
use crate::drivers::maas::resources::storage::{BlockDevice, VolumeGroup};
use crate::model::{BaremetalNode, PhysicalDevice};

const SYSTEM_MOUNTS: [&str; 2] = ["/", "/boot"];

fn kernel_name<'a>(names: &'a IndexMap<String, String>, device: &'a str) -> &'a str {
    names.get(device).map(String::as_str).unwrap_or(device)
}

/// A filesystem to put on a partition or logical volume.
struct Filesystem<'a> {
    fstype: Option<&'a str>,
    uuid: Option<&'a str>,
    label: Option<&'a str>,
    mountpoint: &'a str,
    options: Option<&'a str>,
}

/// `format` then `mount` the block device or partition at `path`.
fn format_and_mount(plan: &mut Plan, path: String, fs: &Filesystem<'_>) {
    plan.push(
        Call::post(path.clone(), Some("format"))
            .field("fstype", fs.fstype.unwrap_or("ext4"))
            .field_opt("uuid", fs.uuid)
            .field_opt("label", fs.label),
    );
    plan.push(Call::post(path, Some("mount")).field("mount_point", fs.mountpoint).field("mount_options", fs.options.unwrap_or_default()));
}

/// The volume group holding `/` or `/boot`, if either is on an LV.
fn root_vg(node: &BaremetalNode) -> Option<&str> {
    node.config.storage.volume_groups.iter().find_map(|vg| {
        vg.logical_volumes.iter().any(|lv| lv.mountpoint.as_deref().is_some_and(|m| SYSTEM_MOUNTS.contains(&m))).then_some(vg.name.as_str())
    })
}

/// Phase 1: remove every LV, VG and partition, then set the boot disk and
/// the root layout (`flat` or `lvm`).
pub fn plan_reset_and_layout(
    node: &BaremetalNode,
    system_id: &str,
    disks: &[BlockDevice],
    vgs: &[VolumeGroup],
    names: &IndexMap<String, String>,
) -> Plan {
    let mut plan = Plan::default();
    let sid = system_id;
    for vg in vgs {
        for lv in &vg.logical_volumes {
            plan.push(Call::post(format!("nodes/{sid}/volume-group/{}/", vg.id), Some("delete_logical_volume")).field("id", lv.id));
        }
        plan.push(Call::delete(format!("nodes/{sid}/volume-group/{}/", vg.id)));
    }
    for disk in disks.iter().filter(|disk| disk.kind == "physical") {
        for partition in &disk.partitions {
            plan.push(Call::delete(format!("nodes/{sid}/blockdevices/{}/partition/{}", disk.id, partition.id)));
        }
    }
    let storage = &node.config.storage;
    let node_name = node.name();
    let size = |text: Option<&str>, what: &str, plan: &mut Plan| -> Option<u64> {
        let text = text?;
        match calculate_bytes(text, None) {
            Ok(bytes) => Some(bytes),
            Err(error) => {
                plan.problem(format!("Node {node_name}: {what}: {error}"));
                None
            }
        }
    };
    let root_partition = storage
        .physical_devices
        .iter()
        .find_map(|device| device.partitions.iter().find(|p| p.mountpoint.as_deref() == Some("/")).map(|partition| (device, partition)));
    let root_lv = storage
        .volume_groups
        .iter()
        .find_map(|vg| vg.logical_volumes.iter().find(|lv| lv.mountpoint.as_deref() == Some("/")).map(|lv| (vg, lv)));
    let boot =
        storage.physical_devices.iter().flat_map(|device| device.partitions.iter()).find(|p| p.mountpoint.as_deref() == Some("/boot"));
    let mut layout = Call::post(format!("machines/{sid}/"), Some("set_storage_layout"));
    let root_device: &str = if let Some((device, partition)) = root_partition {
        layout = layout.field("storage_layout", "flat");
        let root_size = size(partition.size.as_deref(), "size of the / partition", &mut plan);
        layout = layout.field_opt("root_size", root_size);
        kernel_name(names, &device.name)
    } else if let Some((vg, lv)) = root_lv {
        let pv_disks: Vec<&PhysicalDevice> =
            storage.physical_devices.iter().filter(|d| d.volume_group.as_deref() == Some(vg.name.as_str())).collect();
        let pv_parts: Vec<&PhysicalDevice> = storage
            .physical_devices
            .iter()
            .filter(|d| d.partitions.iter().any(|p| p.volume_group.as_deref() == Some(vg.name.as_str())))
            .collect();
        let device = match (pv_disks.as_slice(), pv_parts.as_slice()) {
            ([one], []) | ([], [one]) => *one,
            _ => {
                plan.problem(format!("Node {node_name}: the root volume group {} must have exactly one physical device", vg.name));
                return plan;
            }
        };
        layout = layout
            .field("storage_layout", "lvm")
            .field_opt("lv_size", size(lv.size.as_deref(), "size of the / logical volume", &mut plan))
            .field("lv_name", lv.name.as_str())
            .field("vg_name", vg.name.as_str());
        kernel_name(names, &device.name)
    } else {
        return plan;
    };
    if let Some(boot) = boot {
        layout = layout.field_opt("boot_size", size(boot.size.as_deref(), "size of the /boot partition", &mut plan));
    }
    let Some(disk) = disks.iter().find(|disk| disk.name == root_device) else {
        plan.problem(format!("Node {node_name}: machine {sid} has no disk {root_device} for /"));
        return plan;
    };
    plan.push(Call::post(format!("nodes/{sid}/blockdevices/{}/", disk.id), Some("set_boot_disk")));
    // `root_device` goes right after `storage_layout`, as the original sends it.
    layout.form.insert(1, ("root_device".into(), Val::from(disk.id)));
    plan.push(layout);
    plan
}

/// Phase 2: the partitions that are not `/` or `/boot`, their filesystems,
/// and the volume groups other than the root one.
pub fn plan_partitions_and_vgs(node: &BaremetalNode, system_id: &str, disks: &[BlockDevice], names: &IndexMap<String, String>) -> Plan {
    let mut plan = Plan::default();
    let sid = system_id;
    let node_name = node.name();
    let mut pv_disks: IndexMap<&str, Vec<Val>> = IndexMap::new();
    let mut pv_parts: IndexMap<&str, Vec<Val>> = IndexMap::new();
    let skip = root_vg(node);
    for device in &node.config.storage.physical_devices {
        let kernel = kernel_name(names, &device.name);
        let Some(disk) = disks.iter().find(|disk| disk.name == kernel) else {
            plan.problem(format!("Node {node_name}: machine {sid} has no disk {kernel} (storage device {})", device.name));
            continue;
        };
        if let Some(vg) = &device.volume_group {
            pv_disks.entry(vg.as_str()).or_default().push(Val::from(disk.id));
            continue;
        }
        let mut available = disk.available_size;
        for partition in &device.partitions {
            // The layout made `/`, `/boot` and the root volume group's PV already.
            if partition.mountpoint.as_deref().is_some_and(|m| SYSTEM_MOUNTS.contains(&m))
                || partition.volume_group.is_some() && partition.volume_group.as_deref() == skip
            {
                continue;
            }
            let text = partition.size.as_deref().unwrap_or("");
            let bytes = match calculate_bytes(text, Some(SizeContext { total: disk.size, available })) {
                Ok(bytes) => bytes,
                Err(error) => {
                    plan.problem(format!("Node {node_name}: partition {} on {}: {error}", partition.name, device.name));
                    continue;
                }
            };
            available = available.saturating_sub(bytes);
            let key = format!("part:{}:{}", device.name, partition.name);
            plan.push(
                Call::post(format!("nodes/{sid}/blockdevices/{}/partitions/", disk.id), None)
                    .field("size", bytes)
                    .field("bootable", flag(partition.bootable))
                    .field_opt("uuid", partition.part_uuid.clone())
                    .bind(&key, "/id"),
            );
            if let Some(vg) = &partition.volume_group {
                pv_parts.entry(vg.as_str()).or_default().push(Val::Ref(key.clone()));
            }
            if let Some(mountpoint) = &partition.mountpoint {
                let fs = Filesystem {
                    fstype: partition.fstype.as_deref(),
                    uuid: partition.fs_uuid.as_deref(),
                    label: partition.fs_label.as_deref(),
                    mountpoint,
                    options: partition.mount_options.as_deref(),
                };
                format_and_mount(&mut plan, format!("nodes/{sid}/blockdevices/{}/partition/{{{key}}}", disk.id), &fs);
            }
        }
    }
    for vg in &node.config.storage.volume_groups {
        if Some(vg.name.as_str()) == skip {
            continue;
        }
        let disks = pv_disks.get(vg.name.as_str());
        let parts = pv_parts.get(vg.name.as_str());
        if disks.is_none() && parts.is_none() {
            continue;
        }
        let mut call =
            Call::post(format!("nodes/{sid}/volume-groups/"), None).field("name", vg.name.as_str()).field_opt("uuid", vg.vg_uuid.clone());
        for id in disks.into_iter().flatten() {
            call = call.field("block_devices", id.clone());
        }
        for id in parts.into_iter().flatten() {
            call = call.field("partitions", id.clone());
        }
        plan.push(call);
    }
    plan
}

/// Phase 3: the logical volumes of the non-root volume groups and their
/// filesystems, sized against the volume groups MaaS created.
pub fn plan_logical_volumes(node: &BaremetalNode, system_id: &str, vgs: &[VolumeGroup]) -> Plan {
    let mut plan = Plan::default();
    let sid = system_id;
    let node_name = node.name();
    let skip = root_vg(node);
    for vg in &node.config.storage.volume_groups {
        if Some(vg.name.as_str()) == skip || vg.logical_volumes.is_empty() {
            continue;
        }
        let Some(observed) = vgs.iter().find(|observed| observed.name == vg.name) else { continue };
        let mut available = observed.available_size;
        for lv in &vg.logical_volumes {
            let text = lv.size.as_deref().unwrap_or("");
            let bytes = match calculate_bytes(text, Some(SizeContext { total: observed.size, available })) {
                Ok(bytes) => bytes,
                Err(error) => {
                    plan.problem(format!("Node {node_name}: logical volume {} in {}: {error}", lv.name, vg.name));
                    continue;
                }
            };
            available = available.saturating_sub(bytes);
            let key = format!("lv:{}:{}", vg.name, lv.name);
            plan.push(
                Call::post(format!("nodes/{sid}/volume-group/{}/", observed.id), Some("create_logical_volume"))
                    .field("name", lv.name.as_str())
                    .field_opt("uuid", lv.lv_uuid.clone())
                    .field("size", bytes)
                    .bind(&key, "/id"),
            );
            if let Some(mountpoint) = &lv.mountpoint {
                let fs = Filesystem {
                    fstype: lv.fstype.as_deref(),
                    uuid: lv.fs_uuid.as_deref(),
                    label: lv.fs_label.as_deref(),
                    mountpoint,
                    options: lv.mount_options.as_deref(),
                };
                format_and_mount(&mut plan, format!("nodes/{sid}/blockdevices/{{{key}}}/"), &fs);
            }
        }
    }
    plan
}
