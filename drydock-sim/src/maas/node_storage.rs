//! Storage of a machine: block devices, partitions, volume groups and
//! logical volumes, with MaaS's state rules (edits only in `Ready`; format
//! and mount also in `Allocated`). Arithmetic lives in `storage.rs`.
//! Compat: drivers.md §3.3 "Block devices, partitions, volume groups", §3.5.

use super::django::{at_least, at_most, bytes_field, valid_uuid4};
use super::model::{BlockDevice, Filesystem, Node, Partition, Status, VolumeGroup};
use super::node_parts::{node, node_mut};
use super::storage::{ALIGN, align_down, device_available, device_is_pv, partition_is_pv, vg_size, vg_used};
use super::{Ctx, HResult, REQUIRED, Reply, json};
use serde_json::Value;

/// MaaS's per-operation state rules for storage (409 `NodeStateViolation`
/// with that operation's own text): `Ready` only, or `Ready`/`Allocated`
/// for format, unformat, mount and unmount.
fn require_ready(node: &Node, text: &str) -> Result<(), Reply> {
    if node.status == Status::Ready { Ok(()) } else { Err(Reply::conflict(text)) }
}

/// `Cannot <op> <thing> because the <machine|node> is not Ready or
/// Allocated.`
fn require_ready_or_allocated(node: &Node, text: String) -> Result<(), Reply> {
    if matches!(node.status, Status::Ready | Status::Allocated) { Ok(()) } else { Err(Reply::conflict(text)) }
}

/// A plain-text 400 for a missing mandatory parameter (`get_mandatory_param`).
fn mandatory(ctx: &Ctx<'_>, name: &str) -> Result<String, Reply> {
    ctx.arg(name).map(str::to_owned).ok_or_else(|| Reply::text(400, format!("No provided {name}!")))
}

fn find_device(node: &Node, key: &str) -> Option<usize> {
    node.block_devices.iter().position(|d| d.id.to_string() == key || d.name == key)
}

fn device_json(ctx: &Ctx<'_>, sid: &str, id: i64) -> HResult {
    let node = node(ctx, sid)?;
    let device = node.block_devices.iter().find(|d| d.id == id).ok_or_else(|| Reply::not_found("BlockDevice"))?;
    Ok(Reply::json(json::block_device(node, device)))
}

/// `FILESYSTEM_FORMAT_TYPE_CHOICES` of MaaS 2.9.
const FORMAT_TYPES: [&str; 10] = ["ext2", "ext4", "xfs", "fat32", "vfat", "swap", "ramfs", "tmpfs", "btrfs", "zfsroot"];

/// `FormatBlockDeviceForm` / `FormatPartitionForm` fields: `uuid`
/// (`UUID4Field`), `fstype` (required choice), `label`.
fn new_filesystem(ctx: &mut Ctx<'_>) -> Result<Filesystem, Reply> {
    let mut errors: Vec<(&str, String)> = Vec::new();
    let uuid = ctx.arg("uuid").filter(|u| !u.is_empty()).map(str::to_owned);
    if uuid.as_deref().is_some_and(|u| !valid_uuid4(u)) {
        errors.push(("uuid", "Enter a valid value.".into()));
    }
    let fstype = ctx.arg("fstype").filter(|f| !f.is_empty()).map(str::to_owned);
    match fstype.as_deref() {
        None => errors.push(("fstype", REQUIRED.into())),
        Some(f) if !FORMAT_TYPES.contains(&f) => {
            errors.push(("fstype", format!("Select a valid choice. {f} is not one of the available choices.")))
        }
        Some(_) => {}
    }
    if !errors.is_empty() {
        return Err(Reply::fields(&errors));
    }
    let label = ctx.arg("label").unwrap_or("").to_owned();
    let uuid = match uuid {
        Some(u) => u,
        None => ctx.world.new_uuid(),
    };
    Ok(Filesystem { fstype: fstype.unwrap_or_default(), label, uuid, mount_point: String::new(), mount_options: String::new() })
}

/// `MountFilesystemForm`: non-field errors for an unformatted device or a
/// volume-group member, then `mount_point` (`AbsolutePathField`, required
/// unless the filesystem is swap) and `mount_options`.
fn mount_args(ctx: &Ctx<'_>, fs: Option<&Filesystem>, in_group: bool) -> Result<(String, String), Reply> {
    if in_group {
        return Err(Reply::field("__all__", "Filesystem is part of a filesystem group, and cannot be mounted."));
    }
    let Some(fs) = fs else {
        return Err(Reply::field("__all__", "Cannot mount an unformatted partition or block device."));
    };
    let options = ctx.arg("mount_options").unwrap_or("").trim().to_owned();
    if fs.fstype == "swap" {
        return Ok(("none".to_owned(), options));
    }
    let point = ctx.arg("mount_point").filter(|p| !p.is_empty()).ok_or_else(|| Reply::field("mount_point", REQUIRED))?;
    if !point.starts_with('/') {
        return Err(Reply::field("mount_point", "Enter a valid value."));
    }
    Ok((point.to_owned(), options))
}

pub(super) fn block_devices(ctx: &mut Ctx<'_>, sid: &str, handler: &str, op: Option<&str>) -> HResult {
    if handler == "BlockDevicesHandler" {
        return match (ctx.method, op) {
            ("GET", None) => {
                let node = node(ctx, sid)?;
                Ok(Reply::json(Value::from(node.block_devices.iter().map(|d| json::block_device(node, d)).collect::<Vec<_>>())))
            }
            ("POST", None) => {
                if node(ctx, sid)?.node_type != 0 {
                    return Err(Reply::not_found("Machine"));
                }
                let name = ctx.arg("name").ok_or_else(|| Reply::field("name", REQUIRED))?.to_owned();
                let size: u64 = ctx.arg("size").and_then(|s| s.parse().ok()).ok_or_else(|| Reply::field("size", REQUIRED))?;
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
    let this = node(ctx, sid)?;
    match (ctx.method, op) {
        ("PUT", None) | ("POST", Some("add_tag" | "remove_tag")) => {
            require_ready(this, "Cannot update block device because the machine is not Ready.")?
        }
        ("DELETE", None) => require_ready(this, "Cannot delete block device because the machine is not Ready.")?,
        ("POST", Some(what @ ("format" | "unformat" | "mount" | "unmount"))) => {
            require_ready_or_allocated(this, format!("Cannot {what} block device because the machine is not Ready or Allocated."))?
        }
        ("POST", Some("set_boot_disk")) => require_ready(this, "Cannot set as boot disk because the machine is not Ready.")?,
        _ => {}
    }
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
            let fs = new_filesystem(ctx)?;
            let node_ref = node(ctx, sid)?;
            let device = &node_ref.block_devices[index];
            if device.partition_table.is_some() {
                return Err(Reply::field("__all__", "Cannot format block device with a partition table."));
            }
            if device_is_pv(node_ref, id) {
                return Err(Reply::text(400, "Cannot format a block device that has a filesystem type of lvm-pv."));
            }
            node_mut(ctx, sid)?.block_devices[index].filesystem = Some(fs);
            device_json(ctx, sid, id)
        }
        ("POST", Some("unformat")) => {
            let node_ref = node(ctx, sid)?;
            if device_is_pv(node_ref, id) {
                return Err(Reply::text(
                    400,
                    "Filesystem is part of a volume group, and cannot be unformatted. Remove block device from volume group \
                     before unformatting the block device.",
                ));
            }
            match &node_ref.block_devices[index].filesystem {
                None => return Err(Reply::text(400, "Block device is not formatted.")),
                Some(fs) if !fs.mount_point.is_empty() => {
                    return Err(Reply::text(
                        400,
                        "Filesystem is mounted and cannot be unformatted. Unmount the filesystem before unformatting the block device.",
                    ));
                }
                Some(_) => {}
            }
            node_mut(ctx, sid)?.block_devices[index].filesystem = None;
            device_json(ctx, sid, id)
        }
        ("POST", Some("mount")) => {
            let node_ref = node(ctx, sid)?;
            let fs = node_ref.block_devices[index].filesystem.clone();
            let (point, options) = mount_args(ctx, fs.as_ref(), device_is_pv(node_ref, id))?;
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
                Some(_) => return Err(Reply::text(400, "Filesystem is already unmounted.")),
                None => return Err(Reply::text(400, "Block device is not formatted.")),
            }
            device_json(ctx, sid, id)
        }
        ("POST", Some("set_boot_disk")) => {
            let node = node_mut(ctx, sid)?;
            if node.block_devices[index].lv_of.is_some() {
                return Err(Reply::text(400, "Cannot set a virtual block device as the boot disk."));
            }
            node.boot_disk = Some(id);
            // piston's rc.ALL_OK: 200 with the text `OK`.
            Ok(Reply::text(200, "OK"))
        }
        ("POST", Some(op @ ("add_tag" | "remove_tag"))) => {
            let tag = mandatory(ctx, "tag")?;
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
    let this = node(ctx, sid)?;
    match (ctx.method, op) {
        // Sic: MaaS 2.9 says "block device" when refusing a partition delete.
        ("DELETE", None) => require_ready(this, "Cannot delete block device because the node is not Ready.")?,
        ("POST", Some(what @ ("format" | "unformat" | "mount" | "unmount"))) => {
            require_ready_or_allocated(this, format!("Cannot {what} partition because the node is not Ready or Allocated."))?
        }
        _ => {}
    }
    let in_group = partition_is_pv(this, part_id);
    match (ctx.method, op) {
        ("DELETE", None) => {
            if in_group {
                return Err(Reply::text(400, "Cannot delete partition because its part of a volume group."));
            }
            let device = &mut node_mut(ctx, sid)?.block_devices[dindex];
            device.partitions.remove(pindex);
            Ok(Reply::empty())
        }
        ("POST", Some("format")) => {
            let fs = new_filesystem(ctx)?;
            if in_group {
                return Err(Reply::text(400, "Cannot format a partition that has a filesystem type of lvm-pv."));
            }
            node_mut(ctx, sid)?.block_devices[dindex].partitions[pindex].filesystem = Some(fs);
            render(ctx)
        }
        ("POST", Some("unformat")) => {
            if in_group {
                return Err(Reply::text(
                    400,
                    "Filesystem is part of a volume group, and cannot be unformatted. Remove partition from volume group \
                     before unformatting the partition.",
                ));
            }
            match &node(ctx, sid)?.block_devices[dindex].partitions[pindex].filesystem {
                None => return Err(Reply::text(400, "Partition is not formatted.")),
                Some(fs) if !fs.mount_point.is_empty() => {
                    return Err(Reply::text(
                        400,
                        "Filesystem is mounted and cannot be unformatted. Unmount the filesystem before unformatting the partition.",
                    ));
                }
                Some(_) => {}
            }
            node_mut(ctx, sid)?.block_devices[dindex].partitions[pindex].filesystem = None;
            render(ctx)
        }
        ("POST", Some("mount")) => {
            let fs = node(ctx, sid)?.block_devices[dindex].partitions[pindex].filesystem.clone();
            let (point, options) = mount_args(ctx, fs.as_ref(), in_group)?;
            if let Some(fs) = node_mut(ctx, sid)?.block_devices[dindex].partitions[pindex].filesystem.as_mut() {
                fs.mount_point = point;
                fs.mount_options = options;
            }
            render(ctx)
        }
        ("POST", Some("unmount")) => {
            match node_mut(ctx, sid)?.block_devices[dindex].partitions[pindex].filesystem.as_mut() {
                Some(fs) if !fs.mount_point.is_empty() => {
                    fs.mount_point.clear();
                    fs.mount_options.clear();
                }
                Some(_) => return Err(Reply::text(400, "Filesystem is already unmounted.")),
                None => return Err(Reply::text(400, "Partition is not formatted.")),
            }
            render(ctx)
        }
        ("POST", Some(op @ ("add_tag" | "remove_tag"))) => {
            let tag = mandatory(ctx, "tag")?;
            let part = &mut node_mut(ctx, sid)?.block_devices[dindex].partitions[pindex];
            part.tags.retain(|t| t != &tag);
            if op == "add_tag" {
                part.tags.push(tag);
            }
            render(ctx)
        }
        _ => Err(ctx.unknown_op()),
    }
}

/// `AddPartitionForm`: `bootable`, `uuid` (`UUID4Field`), `size`
/// (`BytesField` between 4 MiB and the device size); then the partition
/// model's free-space check on save.
fn create_partition(ctx: &mut Ctx<'_>, sid: &str, dindex: usize) -> HResult {
    let node_ref = node(ctx, sid)?;
    require_ready(node_ref, "Cannot create partition because the node is not Ready.")?;
    let device = &node_ref.block_devices[dindex];
    let mut errors: Vec<(&str, String)> = Vec::new();
    let uuid = ctx.arg("uuid").filter(|u| !u.is_empty()).map(str::to_owned);
    if uuid.as_deref().is_some_and(|u| !valid_uuid4(u)) {
        errors.push(("uuid", "Enter a valid value.".into()));
    }
    let requested = match ctx.arg("size").filter(|s| !s.is_empty()) {
        Some(text) => match bytes_field(text) {
            None => {
                errors.push(("size", "Enter a valid value.".into()));
                None
            }
            Some(size) if size < i128::from(ALIGN) => {
                errors.push(("size", at_least(ALIGN)));
                None
            }
            Some(size) if size > i128::from(device.size) => {
                errors.push(("size", at_most(device.size)));
                None
            }
            Some(size) => u64::try_from(size).ok(),
        },
        None => None,
    };
    if !errors.is_empty() {
        return Err(Reply::fields(&errors));
    }
    if device.filesystem.is_some() || device_is_pv(node_ref, device.id) {
        // MaaS does not check this in the form; the emulator refuses with
        // its own non-field error (MaaS would partition beneath the
        // filesystem).
        return Err(Reply::field("__all__", "Cannot create a partition on a formatted block device or a volume-group member."));
    }
    let mut probe = device.clone();
    probe.partition_table.get_or_insert_with(|| "GPT".into());
    let available = device_available(node_ref, &probe);
    let size = requested.map(align_down).unwrap_or(available);
    if size > available {
        return Err(Reply::field("size", "Partition cannot be saved; not enough free space on the block device."));
    }
    let bootable = ctx.args.flag("bootable");
    let uuid = match uuid {
        Some(u) => u,
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
    let this = node(ctx, sid)?;
    match (ctx.method, op) {
        ("PUT", None) => require_ready(this, "Cannot update volume group because the machine is not Ready.")?,
        ("DELETE", None) => require_ready(this, "Cannot delete volume group because the machine is not Ready.")?,
        ("POST", Some("create_logical_volume")) => require_ready(this, "Cannot create logical volume because the machine is not Ready.")?,
        ("POST", Some("delete_logical_volume")) => require_ready(this, "Cannot delete logical volume because the machine is not Ready.")?,
        _ => {}
    }
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
            // CreateLogicalVolumeForm: `name` (required), `uuid`, `size`
            // (required `BytesField`, 4 MiB up to the VG's free space); a
            // full VG is a non-field error instead of the size errors.
            let node_ref = node(ctx, sid)?;
            let vg = &node_ref.volume_groups[vindex];
            let free = vg_size(node_ref, vg).saturating_sub(vg_used(node_ref, vg));
            let mut errors: Vec<(&str, String)> = Vec::new();
            let name = ctx.arg("name").filter(|n| !n.is_empty()).map(str::to_owned);
            if name.is_none() {
                errors.push(("name", REQUIRED.into()));
            }
            let uuid = ctx.arg("uuid").filter(|u| !u.is_empty()).map(str::to_owned);
            if uuid.as_deref().is_some_and(|u| !valid_uuid4(u)) {
                errors.push(("uuid", "Enter a valid value.".into()));
            }
            let size = if free < ALIGN {
                errors.push((
                    "__all__",
                    format!("Volume group ({}) cannot hold any more logical volumes, because it doesn't have enough free space.", vg.name),
                ));
                None
            } else {
                match ctx.arg("size").filter(|s| !s.is_empty()).map(bytes_field) {
                    None => {
                        errors.push(("size", REQUIRED.into()));
                        None
                    }
                    Some(None) => {
                        errors.push(("size", "Enter a valid value.".into()));
                        None
                    }
                    Some(Some(size)) if size < i128::from(ALIGN) => {
                        errors.push(("size", at_least(ALIGN)));
                        None
                    }
                    Some(Some(size)) if size > i128::from(free) => {
                        errors.push(("size", at_most(free)));
                        None
                    }
                    Some(Some(size)) => u64::try_from(size).ok().map(align_down),
                }
            };
            if !errors.is_empty() {
                return Err(Reply::fields(&errors));
            }
            let (Some(name), Some(size)) = (name, size) else {
                return Err(Reply::field("size", REQUIRED));
            };
            let full_name = format!("{}-{}", vg.name, name);
            if node_ref.block_devices.iter().any(|d| d.name == full_name) {
                // BlockDevice's unique (node, name) on save.
                return Err(Reply::field("__all__", super::django::already_exists("Block device", "Node and Name")));
            }
            let id = ctx.world.region.new_id();
            let uuid = match uuid {
                Some(u) => u,
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
            // MaaS ignores an unknown id and answers 204 either way.
            let lv = mandatory(ctx, "id")?;
            let node = node_mut(ctx, sid)?;
            node.block_devices.retain(|d| !(d.id.to_string() == lv.trim() && d.lv_of == Some(vg_id)));
            Ok(Reply::empty())
        }
        _ => Err(ctx.unknown_op()),
    }
}

fn create_vg(ctx: &mut Ctx<'_>, sid: &str) -> HResult {
    let node_ref = node(ctx, sid)?;
    require_ready(node_ref, "Cannot create volume group because the machine is not Ready.")?;
    let name = ctx.arg("name").filter(|n| !n.is_empty()).ok_or_else(|| Reply::field("name", REQUIRED))?.to_owned();
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
        let part = node_ref
            .block_devices
            .iter()
            .flat_map(|d| d.partitions.iter().map(move |p| (d, p)))
            .find(|(d, p)| p.id.to_string() == *key || format!("{}-part{}", d.name, p.number) == *key)
            .map(|(_, p)| p);
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
