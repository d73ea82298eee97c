//! Storage of a machine: block devices, partitions, volume groups and
//! logical volumes, with MaaS's state rules (edits only in `Ready`; format
//! and mount also in `Allocated`). Arithmetic lives in `storage.rs`.
//! Compat: drivers.md §3.3 "Block devices, partitions, volume groups", §3.5.

use super::model::{BlockDevice, Filesystem, Node, Partition, Status, VolumeGroup};
use super::node_parts::{node, node_mut};
use super::storage::{ALIGN, align_down, device_available, device_is_pv, parse_size, partition_is_pv, vg_size, vg_used};
use super::{Ctx, HResult, Reply, json};
use serde_json::Value;

fn storage_state(node: &Node, format_like: bool) -> Result<(), Reply> {
    let ok = node.status == Status::Ready || (format_like && node.status == Status::Allocated);
    if ok {
        Ok(())
    } else {
        Err(Reply::conflict(format!("Cannot change the storage of a machine that is not Ready (currently '{}').", node.status.name())))
    }
}

fn find_device(node: &Node, key: &str) -> Option<usize> {
    node.block_devices.iter().position(|d| d.id.to_string() == key || d.name == key)
}

fn device_json(ctx: &Ctx<'_>, sid: &str, id: i64) -> HResult {
    let node = node(ctx, sid)?;
    let device = node.block_devices.iter().find(|d| d.id == id).ok_or_else(|| Reply::not_found("BlockDevice"))?;
    Ok(Reply::json(json::block_device(node, device)))
}

fn new_filesystem(ctx: &mut Ctx<'_>) -> Result<Filesystem, Reply> {
    let fstype = ctx.arg("fstype").ok_or_else(|| Reply::field("fstype", "This field is required."))?.to_owned();
    if !["ext4", "ext3", "ext2", "xfs", "btrfs", "fat32", "vfat", "swap", "zfsroot", "ramfs", "tmpfs"].contains(&fstype.as_str()) {
        return Err(Reply::field("fstype", format!("Select a valid choice. {fstype} is not one of the available choices.")));
    }
    let label = ctx.arg("label").unwrap_or("").to_owned();
    let uuid = match ctx.arg("uuid").filter(|u| !u.is_empty()) {
        Some(u) => u.to_owned(),
        None => ctx.world.new_uuid(),
    };
    Ok(Filesystem { fstype, label, uuid, mount_point: String::new(), mount_options: String::new() })
}

fn mount_args(ctx: &Ctx<'_>, fs: &Filesystem) -> Result<(String, String), Reply> {
    let point = ctx.arg("mount_point").ok_or_else(|| Reply::field("mount_point", "This field is required."))?;
    let valid = point.starts_with('/') || (point == "none" && fs.fstype == "swap");
    if !valid {
        return Err(Reply::field("mount_point", "Enter a valid absolute path."));
    }
    Ok((point.to_owned(), ctx.arg("mount_options").unwrap_or("").to_owned()))
}

pub(super) fn block_devices(ctx: &mut Ctx<'_>, sid: &str, handler: &str, op: Option<&str>) -> HResult {
    if handler == "BlockDevicesHandler" {
        return match (ctx.method, op) {
            ("GET", None) => {
                let node = node(ctx, sid)?;
                Ok(Reply::json(Value::from(node.block_devices.iter().map(|d| json::block_device(node, d)).collect::<Vec<_>>())))
            }
            ("POST", None) => {
                storage_state(node(ctx, sid)?, false)?;
                let name = ctx.arg("name").ok_or_else(|| Reply::field("name", "This field is required."))?.to_owned();
                let size: u64 =
                    ctx.arg("size").and_then(|s| s.parse().ok()).ok_or_else(|| Reply::field("size", "This field is required."))?;
                let id = ctx.world.region.new_id();
                let args = ctx.args.clone();
                node_mut(ctx, sid)?.block_devices.push(BlockDevice {
                    id,
                    name,
                    lv_of: None,
                    uuid: None,
                    size,
                    block_size: args.get("block_size").and_then(|b| b.parse().ok()).unwrap_or(512),
                    model: args.get("model").unwrap_or("").to_owned(),
                    serial: args.get("serial").unwrap_or("").to_owned(),
                    id_path: args.get("id_path").unwrap_or("").to_owned(),
                    scsi_address: String::new(),
                    tags: vec![],
                    filesystem: None,
                    partition_table: None,
                    partitions: vec![],
                });
                device_json(ctx, sid, id)
            }
            _ => Err(ctx.unknown_op()),
        };
    }
    let key = ctx.param("id").to_owned();
    let index = find_device(node(ctx, sid)?, &key).ok_or_else(|| Reply::not_found("BlockDevice"))?;
    let id = node(ctx, sid)?.block_devices[index].id;
    if ctx.method == "GET" {
        return device_json(ctx, sid, id);
    }
    let format_like = matches!(op, Some("format" | "unformat" | "mount" | "unmount"));
    storage_state(node(ctx, sid)?, format_like)?;
    match (ctx.method, op) {
        ("PUT", None) => {
            let args = ctx.args.clone();
            let device = &mut node_mut(ctx, sid)?.block_devices[index];
            for (field, slot) in
                [("name", &mut device.name), ("model", &mut device.model), ("serial", &mut device.serial), ("id_path", &mut device.id_path)]
            {
                if let Some(v) = args.get(field) {
                    *slot = v.to_owned();
                }
            }
            if let Some(v) = args.get("size").and_then(|s| s.parse().ok()) {
                device.size = v;
            }
            if let Some(v) = args.get("block_size").and_then(|s| s.parse().ok()) {
                device.block_size = v;
            }
            device_json(ctx, sid, id)
        }
        ("DELETE", None) => {
            let node = node_mut(ctx, sid)?;
            node.block_devices.remove(index);
            for vg in &mut node.volume_groups {
                vg.pv_devices.retain(|d| *d != id);
            }
            Ok(Reply::empty())
        }
        ("POST", Some("format")) => {
            let node_ref = node(ctx, sid)?;
            let device = &node_ref.block_devices[index];
            if !device.partitions.is_empty() || device_is_pv(node_ref, id) {
                return Err(Reply::text(400, "Cannot format block device with partitions or used in a volume group."));
            }
            let fs = new_filesystem(ctx)?;
            node_mut(ctx, sid)?.block_devices[index].filesystem = Some(fs);
            device_json(ctx, sid, id)
        }
        ("POST", Some("unformat")) => {
            let device = &mut node_mut(ctx, sid)?.block_devices[index];
            if device.filesystem.take().is_none() {
                return Err(Reply::text(400, "Block device is not formatted."));
            }
            device_json(ctx, sid, id)
        }
        ("POST", Some("mount")) => {
            let fs = node(ctx, sid)?.block_devices[index]
                .filesystem
                .clone()
                .ok_or_else(|| Reply::text(400, "Block device is not formatted."))?;
            let (point, options) = mount_args(ctx, &fs)?;
            if let Some(fs) = node_mut(ctx, sid)?.block_devices[index].filesystem.as_mut() {
                fs.mount_point = point;
                fs.mount_options = options;
            }
            device_json(ctx, sid, id)
        }
        ("POST", Some("unmount")) => {
            match node_mut(ctx, sid)?.block_devices[index].filesystem.as_mut() {
                Some(fs) if !fs.mount_point.is_empty() => {
                    fs.mount_point.clear();
                    fs.mount_options.clear();
                }
                _ => return Err(Reply::text(400, "Filesystem is already unmounted.")),
            }
            device_json(ctx, sid, id)
        }
        ("POST", Some("set_boot_disk")) => {
            let node = node_mut(ctx, sid)?;
            if node.block_devices[index].lv_of.is_some() {
                return Err(Reply::text(400, "Cannot set a virtual block device as the boot disk."));
            }
            node.boot_disk = Some(id);
            Ok(Reply::json(Value::from("OK")))
        }
        ("POST", Some(op @ ("add_tag" | "remove_tag"))) => {
            let tag = ctx.arg("tag").ok_or_else(|| Reply::field("tag", "This field is required."))?.to_owned();
            let device = &mut node_mut(ctx, sid)?.block_devices[index];
            device.tags.retain(|t| t != &tag);
            if op == "add_tag" {
                device.tags.push(tag);
            }
            device_json(ctx, sid, id)
        }
        _ => Err(ctx.unknown_op()),
    }
}

pub(super) fn partitions(ctx: &mut Ctx<'_>, sid: &str, handler: &str, op: Option<&str>) -> HResult {
    let key = ctx.param("device_id").to_owned();
    let dindex = find_device(node(ctx, sid)?, &key).ok_or_else(|| Reply::not_found("BlockDevice"))?;
    if handler == "PartitionsHandler" {
        return match (ctx.method, op) {
            ("GET", None) => {
                let node = node(ctx, sid)?;
                let device = &node.block_devices[dindex];
                Ok(Reply::json(Value::from(device.partitions.iter().map(|p| json::partition(node, device, p)).collect::<Vec<_>>())))
            }
            ("POST", None) => create_partition(ctx, sid, dindex),
            _ => Err(ctx.unknown_op()),
        };
    }
    let part_key = ctx.param("id").to_owned();
    let pindex = node(ctx, sid)?.block_devices[dindex]
        .partitions
        .iter()
        .position(|p| p.id.to_string() == part_key)
        .ok_or_else(|| Reply::not_found("Partition"))?;
    let part_id = node(ctx, sid)?.block_devices[dindex].partitions[pindex].id;
    let render = |ctx: &Ctx<'_>| -> HResult {
        let node = node(ctx, sid)?;
        let device = &node.block_devices[dindex];
        Ok(Reply::json(json::partition(node, device, &device.partitions[pindex])))
    };
    if ctx.method == "GET" {
        return render(ctx);
    }
    let format_like = matches!(op, Some("format" | "unformat" | "mount" | "unmount"));
    storage_state(node(ctx, sid)?, format_like)?;
    match (ctx.method, op) {
        ("DELETE", None) => {
            if partition_is_pv(node(ctx, sid)?, part_id) {
                return Err(Reply::text(400, "Cannot delete a partition that is part of a volume group."));
            }
            let device = &mut node_mut(ctx, sid)?.block_devices[dindex];
            device.partitions.remove(pindex);
            Ok(Reply::empty())
        }
        ("POST", Some("format")) => {
            if partition_is_pv(node(ctx, sid)?, part_id) {
                return Err(Reply::text(400, "Cannot format a partition that is part of a volume group."));
            }
            let fs = new_filesystem(ctx)?;
            node_mut(ctx, sid)?.block_devices[dindex].partitions[pindex].filesystem = Some(fs);
            render(ctx)
        }
        ("POST", Some("unformat")) => {
            if node_mut(ctx, sid)?.block_devices[dindex].partitions[pindex].filesystem.take().is_none() {
                return Err(Reply::text(400, "Partition is not formatted."));
            }
            render(ctx)
        }
        ("POST", Some("mount")) => {
            let fs = node(ctx, sid)?.block_devices[dindex].partitions[pindex]
                .filesystem
                .clone()
                .ok_or_else(|| Reply::text(400, "Partition is not formatted."))?;
            let (point, options) = mount_args(ctx, &fs)?;
            if let Some(fs) = node_mut(ctx, sid)?.block_devices[dindex].partitions[pindex].filesystem.as_mut() {
                fs.mount_point = point;
                fs.mount_options = options;
            }
            render(ctx)
        }
        ("POST", Some("unmount")) => {
            if let Some(fs) = node_mut(ctx, sid)?.block_devices[dindex].partitions[pindex].filesystem.as_mut() {
                fs.mount_point.clear();
                fs.mount_options.clear();
            }
            render(ctx)
        }
        _ => Err(ctx.unknown_op()),
    }
}

fn create_partition(ctx: &mut Ctx<'_>, sid: &str, dindex: usize) -> HResult {
    let node_ref = node(ctx, sid)?;
    storage_state(node_ref, false)?;
    let device = &node_ref.block_devices[dindex];
    if device.filesystem.is_some() || device_is_pv(node_ref, device.id) {
        return Err(Reply::field("__all__", "Cannot create a partition on a formatted block device or a volume-group member."));
    }
    let mut probe = device.clone();
    probe.partition_table.get_or_insert_with(|| "GPT".into());
    let available = device_available(node_ref, &probe);
    let size = match ctx.arg("size").filter(|s| !s.is_empty()) {
        Some(text) => align_down(parse_size(text, device.size).ok_or_else(|| Reply::field("size", "Enter a whole number."))?),
        None => available,
    };
    if size < ALIGN {
        return Err(Reply::field("size", "Ensure this value is greater than or equal to 4194304."));
    }
    if size > available {
        return Err(Reply::field("size", "Partition cannot be saved; not enough free space on the block device."));
    }
    let bootable = ctx.args.flag("bootable");
    let uuid = match ctx.arg("uuid").filter(|u| !u.is_empty()) {
        Some(u) => u.to_owned(),
        None => ctx.world.new_uuid(),
    };
    let id = ctx.world.region.new_id();
    let device = &mut node_mut(ctx, sid)?.block_devices[dindex];
    device.partition_table.get_or_insert_with(|| "GPT".into());
    let number = device.partitions.len() as u32 + 1;
    device.partitions.push(Partition { id, uuid, size, bootable, tags: vec![], filesystem: None, number });
    let node = node(ctx, sid)?;
    let device = &node.block_devices[dindex];
    Ok(Reply::json(json::partition(node, device, &device.partitions[device.partitions.len() - 1])))
}

pub(super) fn volume_groups(ctx: &mut Ctx<'_>, sid: &str, handler: &str, op: Option<&str>) -> HResult {
    if handler == "VolumeGroupsHandler" {
        return match (ctx.method, op) {
            ("GET", None) => {
                let node = node(ctx, sid)?;
                Ok(Reply::json(Value::from(node.volume_groups.iter().map(|vg| json::volume_group(node, vg)).collect::<Vec<_>>())))
            }
            ("POST", None) => create_vg(ctx, sid),
            _ => Err(ctx.unknown_op()),
        };
    }
    let key = ctx.param("id").to_owned();
    let vindex = node(ctx, sid)?
        .volume_groups
        .iter()
        .position(|v| v.id.to_string() == key || v.name == key)
        .ok_or_else(|| Reply::not_found("VolumeGroup"))?;
    let vg_id = node(ctx, sid)?.volume_groups[vindex].id;
    let render = |ctx: &Ctx<'_>| -> HResult {
        let node = node(ctx, sid)?;
        Ok(Reply::json(json::volume_group(node, &node.volume_groups[vindex])))
    };
    if ctx.method == "GET" {
        return render(ctx);
    }
    storage_state(node(ctx, sid)?, false)?;
    match (ctx.method, op) {
        ("PUT", None) => {
            if let Some(name) = ctx.arg("name").map(str::to_owned) {
                node_mut(ctx, sid)?.volume_groups[vindex].name = name;
            }
            render(ctx)
        }
        ("DELETE", None) => {
            let node = node_mut(ctx, sid)?;
            node.volume_groups.remove(vindex);
            node.block_devices.retain(|d| d.lv_of != Some(vg_id));
            Ok(Reply::empty())
        }
        ("POST", Some("create_logical_volume")) => {
            let name = ctx.arg("name").ok_or_else(|| Reply::field("name", "This field is required."))?.to_owned();
            let node_ref = node(ctx, sid)?;
            let vg = &node_ref.volume_groups[vindex];
            let free = vg_size(node_ref, vg).saturating_sub(vg_used(node_ref, vg));
            let text = ctx.arg("size").ok_or_else(|| Reply::field("size", "This field is required."))?;
            let size = align_down(parse_size(text, vg_size(node_ref, vg)).ok_or_else(|| Reply::field("size", "Enter a whole number."))?);
            if size < ALIGN {
                return Err(Reply::field("size", "Ensure this value is greater than or equal to 4194304."));
            }
            if size > free {
                return Err(Reply::field("size", format!("Size is too large. Maximum size is {free}.")));
            }
            let full_name = format!("{}-{}", vg.name, name);
            if node_ref.block_devices.iter().any(|d| d.name == full_name) {
                return Err(Reply::field("name", format!("A logical volume named {name} already exists.")));
            }
            let id = ctx.world.region.new_id();
            let uuid = match ctx.arg("uuid").filter(|u| !u.is_empty()) {
                Some(u) => u.to_owned(),
                None => ctx.world.new_uuid(),
            };
            node_mut(ctx, sid)?.block_devices.push(BlockDevice {
                id,
                name: full_name,
                lv_of: Some(vg_id),
                uuid: Some(uuid),
                size,
                block_size: 4096,
                model: String::new(),
                serial: String::new(),
                id_path: String::new(),
                scsi_address: String::new(),
                tags: vec![],
                filesystem: None,
                partition_table: None,
                partitions: vec![],
            });
            device_json(ctx, sid, id)
        }
        ("POST", Some("delete_logical_volume")) => {
            let lv: i64 = ctx.arg("id").and_then(|v| v.parse().ok()).ok_or_else(|| Reply::field("id", "This field is required."))?;
            let node = node_mut(ctx, sid)?;
            let before = node.block_devices.len();
            node.block_devices.retain(|d| !(d.id == lv && d.lv_of == Some(vg_id)));
            if node.block_devices.len() == before {
                return Err(Reply::not_found("VirtualBlockDevice"));
            }
            render(ctx)
        }
        _ => Err(ctx.unknown_op()),
    }
}

fn create_vg(ctx: &mut Ctx<'_>, sid: &str) -> HResult {
    let node_ref = node(ctx, sid)?;
    storage_state(node_ref, false)?;
    let name = ctx.arg("name").ok_or_else(|| Reply::field("name", "This field is required."))?.to_owned();
    let mut pv_devices = Vec::new();
    for key in ctx.args.all("block_devices") {
        let device = node_ref.block_devices.iter().find(|d| d.id.to_string() == *key || d.name == *key);
        match device {
            Some(d) if d.filesystem.is_none() && d.partitions.is_empty() && !device_is_pv(node_ref, d.id) && d.lv_of.is_none() => {
                pv_devices.push(d.id)
            }
            _ => {
                return Err(Reply::field("block_devices", format!("Select a valid choice. {key} is not one of the available choices.")));
            }
        }
    }
    let mut pv_partitions = Vec::new();
    for key in ctx.args.all("partitions") {
        let part = node_ref.block_devices.iter().flat_map(|d| d.partitions.iter()).find(|p| p.id.to_string() == *key);
        match part {
            Some(p) if p.filesystem.is_none() && !partition_is_pv(node_ref, p.id) => pv_partitions.push(p.id),
            _ => {
                return Err(Reply::field("partitions", format!("Select a valid choice. {key} is not one of the available choices.")));
            }
        }
    }
    if pv_devices.is_empty() && pv_partitions.is_empty() {
        return Err(Reply::field("__all__", "At least one valid block device or partition is required."));
    }
    let id = ctx.world.region.new_id();
    let uuid = match ctx.arg("uuid").filter(|u| !u.is_empty()) {
        Some(u) => u.to_owned(),
        None => ctx.world.new_uuid(),
    };
    node_mut(ctx, sid)?.volume_groups.push(VolumeGroup { id, name, uuid, pv_devices, pv_partitions });
    let updated = node(ctx, sid)?;
    Ok(Reply::json(json::volume_group(updated, &updated.volume_groups[updated.volume_groups.len() - 1])))
}
