//! Storage arithmetic of MaaS (compat: drivers.md §3.5): alignment,
//! partition-table overhead, available sizes, volume-group sizes and the
//! `set_storage_layout` algorithm. Pure functions over a [`Node`].

use super::model::{BlockDevice, Filesystem, Node, Partition, VolumeGroup};

/// One MiB.
pub const MIB: u64 = 1024 * 1024;
/// Partition and LV alignment unit.
pub const ALIGN: u64 = 4 * MIB;

/// Rounds down to the 4 MiB alignment unit.
pub fn align_down(size: u64) -> u64 {
    size / ALIGN * ALIGN
}

/// Partition-table overhead of a disk on this node.
pub fn table_overhead(node: &Node) -> u64 {
    let mut overhead = 5 * MIB;
    if node.architecture.starts_with("amd64") && !node.uefi {
        overhead += MIB;
    }
    if node.architecture.starts_with("ppc64el") {
        overhead += 8 * MIB;
    }
    overhead
}

/// Whether a block device is a PV of some volume group.
pub fn device_is_pv(node: &Node, device: i64) -> bool {
    node.volume_groups.iter().any(|vg| vg.pv_devices.contains(&device))
}

/// Whether a partition is a PV of some volume group.
pub fn partition_is_pv(node: &Node, partition: i64) -> bool {
    node.volume_groups.iter().any(|vg| vg.pv_partitions.contains(&partition))
}

/// `available_size` of a block device.
pub fn device_available(node: &Node, device: &BlockDevice) -> u64 {
    if device.filesystem.is_some() || device_is_pv(node, device.id) {
        return 0;
    }
    if device.partition_table.is_some() {
        let used: u64 = device.partitions.iter().map(|p| p.size).sum();
        return align_down(device.size.saturating_sub(table_overhead(node)).saturating_sub(used));
    }
    device.size
}

/// Size of a PV member (a whole device or a partition).
fn pv_sizes(node: &Node, vg: &VolumeGroup) -> Vec<u64> {
    let mut sizes = Vec::new();
    for device in &node.block_devices {
        if vg.pv_devices.contains(&device.id) {
            sizes.push(device.size);
        }
        for partition in &device.partitions {
            if vg.pv_partitions.contains(&partition.id) {
                sizes.push(partition.size);
            }
        }
    }
    sizes
}

/// Volume-group size: `(floor(Σ PV / 4 MiB) - PVs) × 4 MiB`.
pub fn vg_size(node: &Node, vg: &VolumeGroup) -> u64 {
    let sizes = pv_sizes(node, vg);
    let total: u64 = sizes.iter().sum();
    (total / ALIGN).saturating_sub(sizes.len() as u64) * ALIGN
}

/// Σ of the LV sizes of a volume group.
pub fn vg_used(node: &Node, vg: &VolumeGroup) -> u64 {
    node.block_devices.iter().filter(|d| d.lv_of == Some(vg.id)).map(|d| d.size).sum()
}

/// Formats bytes the way MaaS's `human_size` does (`99.5 GB`).
pub fn human_size(bytes: u64) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} bytes") } else { format!("{value:.1} {}", units[unit]) }
}

/// Parses a size (`bytes`, `K`/`M`/`G`/`T` suffix, or `N%` of `whole`).
pub fn parse_size(text: &str, whole: u64) -> Option<u64> {
    let text = text.trim();
    if let Some(percent) = text.strip_suffix('%') {
        let percent: f64 = percent.trim().parse().ok()?;
        return Some((whole as f64 * percent / 100.0) as u64);
    }
    let upper = text.to_ascii_uppercase();
    let (number, factor) = match upper.trim_end_matches('B').chars().last() {
        Some('K') => (&upper[..upper.find('K')?], 1000u64),
        Some('M') => (&upper[..upper.find('M')?], 1000u64.pow(2)),
        Some('G') => (&upper[..upper.find('G')?], 1000u64.pow(3)),
        Some('T') => (&upper[..upper.find('T')?], 1000u64.pow(4)),
        _ => (upper.as_str(), 1),
    };
    let value: f64 = number.trim().parse().ok()?;
    (value >= 0.0).then_some((value * factor as f64) as u64)
}

/// Removes every partition, filesystem, volume group and LV of the node.
pub fn clear_storage(node: &mut Node) {
    node.volume_groups.clear();
    node.block_devices.retain(|d| d.lv_of.is_none());
    for device in &mut node.block_devices {
        device.filesystem = None;
        device.partition_table = None;
        device.partitions.clear();
    }
}

/// Storage layout requested through `set_storage_layout`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutRequest {
    /// `flat`, `lvm` or `blank`.
    pub layout: String,
    /// Boot partition size (0 = none).
    pub boot_size: u64,
    /// Root device id (default: boot disk).
    pub root_device: Option<i64>,
    /// Root size (default: the rest).
    pub root_size: Option<u64>,
    /// VG name.
    pub vg_name: String,
    /// LV name.
    pub lv_name: String,
    /// LV size (default: whole VG).
    pub lv_size: Option<u64>,
    /// LV size as a percentage of the VG (wins over `lv_size`).
    pub lv_percent: Option<f64>,
}

/// Field errors of a refused layout (`field -> message`).
pub type LayoutError = Vec<(String, String)>;

/// The disk `set_storage_layout` uses by default.
pub fn boot_disk_id(node: &Node) -> Option<i64> {
    node.boot_disk.or_else(|| node.block_devices.iter().find(|d| d.lv_of.is_none()).map(|d| d.id))
}

fn filesystem(fstype: &str, label: &str, mount: &str, uuid: String) -> Filesystem {
    Filesystem { fstype: fstype.into(), label: label.into(), uuid, mount_point: mount.into(), mount_options: String::new() }
}

/// Applies a layout (compat: drivers.md §3.5 steps 1-5). `new_id` hands out
/// global ids and `uuid` fresh UUIDs.
pub fn apply_layout(
    node: &mut Node,
    request: &LayoutRequest,
    new_id: &mut dyn FnMut() -> i64,
    uuid: &mut dyn FnMut() -> String,
) -> Result<(), LayoutError> {
    if !matches!(request.layout.as_str(), "flat" | "lvm" | "blank") {
        return Err(vec![("storage_layout".into(), format!("'{}' is not a valid storage layout.", request.layout))]);
    }
    let Some(boot_id) = boot_disk_id(node) else {
        return Err(vec![("__all__".into(), "Machine is missing a boot disk; no storage layout can be applied.".into())]);
    };
    let root_id = request.root_device.unwrap_or(boot_id);
    if !node.block_devices.iter().any(|d| d.id == root_id && d.lv_of.is_none()) {
        return Err(vec![("root_device".into(), "Select a valid choice.".into())]);
    }
    if request.boot_size > 0 && request.boot_size < 512 * MIB {
        return Err(vec![("boot_size".into(), "Size is too small. Minimum size is 536870912.".into())]);
    }
    if let Some(root_size) = request.root_size
        && root_size < 3 * 1024 * MIB
    {
        return Err(vec![("root_size".into(), "Size is too small. Minimum size is 3221225472.".into())]);
    }
    let overhead = table_overhead(node);
    let efi = if node.uefi { 512 * MIB } else { 0 };
    let boot_disk_size = node.block_devices.iter().find(|d| d.id == boot_id).map(|d| d.size).unwrap_or(0);
    let root_disk_size = node.block_devices.iter().find(|d| d.id == root_id).map(|d| d.size).unwrap_or(0);
    let on_boot = efi + align_down(request.boot_size);
    let root_min = request.root_size.unwrap_or(ALIGN);
    let fits = if root_id == boot_id {
        on_boot + root_min + overhead <= boot_disk_size
    } else {
        on_boot + overhead <= boot_disk_size && root_min + overhead <= root_disk_size
    };
    if !fits {
        return Err(vec![("root_size".into(), "Size is too large. The boot disk cannot hold the requested layout.".into())]);
    }
    clear_storage(node);
    if request.layout == "blank" {
        return Ok(());
    }
    let uefi = node.uefi;
    let add_partition = |device: &mut BlockDevice, size: u64, bootable: bool, fs: Option<Filesystem>, id: i64, part_uuid: String| {
        device.partition_table = Some("GPT".into());
        let number = device.partitions.len() as u32 + 1;
        device.partitions.push(Partition { id, uuid: part_uuid, size, bootable, tags: vec![], filesystem: fs, number });
        id
    };
    let mut root_partition = 0;
    for device in node.block_devices.iter_mut() {
        if device.id == boot_id {
            if uefi {
                let fs = filesystem("fat32", "efi", "/boot/efi", uuid());
                add_partition(device, 512 * MIB, true, Some(fs), new_id(), uuid());
            }
            if request.boot_size > 0 {
                let fs = filesystem("ext4", "boot", "/boot", uuid());
                add_partition(device, align_down(request.boot_size), true, Some(fs), new_id(), uuid());
            }
        }
    }
    for index in 0..node.block_devices.len() {
        if node.block_devices[index].id != root_id {
            continue;
        }
        node.block_devices[index].partition_table = Some("GPT".into());
        let free = device_available(node, &node.block_devices[index]);
        let size = align_down(request.root_size.unwrap_or(free).min(free));
        let fs = (request.layout == "flat").then(|| filesystem("ext4", "root", "/", uuid()));
        let device = &mut node.block_devices[index];
        root_partition = add_partition(device, size, false, fs, new_id(), uuid());
    }
    if request.layout == "lvm" {
        let vg = VolumeGroup {
            id: new_id(),
            name: request.vg_name.clone(),
            uuid: uuid(),
            pv_devices: vec![],
            pv_partitions: vec![root_partition],
        };
        let size = vg_size(node, &vg);
        let wanted = match request.lv_percent {
            Some(percent) => (size as f64 * percent / 100.0) as u64,
            None => request.lv_size.unwrap_or(size),
        };
        let lv_size = align_down(wanted.min(size));
        let lv = BlockDevice {
            id: new_id(),
            name: format!("{}-{}", request.vg_name, request.lv_name),
            lv_of: Some(vg.id),
            uuid: Some(uuid()),
            size: lv_size,
            block_size: 4096,
            model: String::new(),
            serial: String::new(),
            id_path: String::new(),
            scsi_address: String::new(),
            tags: vec![],
            filesystem: Some(filesystem("ext4", "root", "/", uuid())),
            partition_table: None,
            partitions: vec![],
        };
        node.volume_groups.push(vg);
        node.block_devices.push(lv);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{DiskSeed, MachineSeed, Scenario};
    use crate::world::World;

    fn node(boot_method: &str, architecture: &str, disks: &[u64]) -> Node {
        let seed = MachineSeed {
            hostname: Some("n1".into()),
            boot_method: Some(boot_method.into()),
            architecture: Some(architecture.into()),
            disks: disks.iter().map(|size| DiskSeed { size: *size, ..DiskSeed::default() }).collect(),
            ..MachineSeed::default()
        };
        let world = World::from_scenario(Scenario { machines: vec![seed], ..Scenario::default() });
        world.ok().and_then(|w| w.region.machines.values().next().cloned()).unwrap_or_else(|| panic!("scenario builds"))
    }

    fn apply(node: &mut Node, request: &LayoutRequest) -> Result<(), LayoutError> {
        let mut next = 1000;
        let mut uuid = 0;
        apply_layout(
            node,
            request,
            &mut || {
                next += 1;
                next
            },
            &mut || {
                uuid += 1;
                format!("uuid-{uuid}")
            },
        )
    }

    fn layout(kind: &str) -> LayoutRequest {
        LayoutRequest {
            layout: kind.into(),
            boot_size: 0,
            root_device: None,
            root_size: None,
            vg_name: "vgroot".into(),
            lv_name: "lvroot".into(),
            lv_size: None,
            lv_percent: None,
        }
    }

    const GB: u64 = 1_000_000_000;

    #[test]
    fn overhead_depends_on_firmware_and_architecture() {
        assert_eq!(table_overhead(&node("pxe", "amd64/generic", &[GB])), 6 * MIB);
        assert_eq!(table_overhead(&node("uefi", "amd64/generic", &[GB])), 5 * MIB);
        assert_eq!(table_overhead(&node("pxe", "ppc64el/generic", &[GB])), 13 * MIB);
        assert_eq!(align_down(9 * MIB + 1), 8 * MIB);
    }

    #[test]
    fn flat_uefi_layout_has_efi_boot_and_root() {
        let mut n = node("uefi", "amd64/generic", &[100 * GB]);
        let request = LayoutRequest { boot_size: GB, ..layout("flat") };
        assert_eq!(apply(&mut n, &request), Ok(()));
        let disk = &n.block_devices[0];
        let sizes: Vec<u64> = disk.partitions.iter().map(|p| p.size).collect();
        let mounts: Vec<&str> = disk.partitions.iter().filter_map(|p| p.filesystem.as_ref()).map(|f| f.mount_point.as_str()).collect();
        assert_eq!(mounts, vec!["/boot/efi", "/boot", "/"]);
        let root = align_down(100 * GB - 5 * MIB - 512 * MIB - align_down(GB));
        assert_eq!(sizes, vec![512 * MIB, align_down(GB), root]);
        assert_eq!(device_available(&n, disk), 0);
    }

    #[test]
    fn lvm_layout_sizes_follow_the_vg_formula() {
        let mut n = node("pxe", "amd64/generic", &[50 * GB]);
        let request = LayoutRequest { root_size: Some(20 * GB), lv_size: Some(5 * GB + 1), ..layout("lvm") };
        assert_eq!(apply(&mut n, &request), Ok(()));
        let root = align_down(20 * GB);
        let vg = &n.volume_groups[0];
        assert_eq!(vg_size(&n, vg), (root / ALIGN - 1) * ALIGN);
        assert_eq!(vg_used(&n, vg), align_down(5 * GB + 1));
        let lv = n.block_devices.iter().find(|d| d.lv_of.is_some()).map(|d| d.name.clone());
        assert_eq!(lv.as_deref(), Some("vgroot-lvroot"));
        let disk = &n.block_devices[0];
        assert_eq!(device_available(&n, disk), align_down(50 * GB - 6 * MIB - root));
    }

    #[test]
    fn layouts_are_validated() {
        let mut n = node("pxe", "amd64/generic", &[10 * GB]);
        assert!(apply(&mut n, &layout("bcache")).is_err());
        assert!(apply(&mut n, &LayoutRequest { root_size: Some(GB), ..layout("flat") }).is_err());
        assert!(apply(&mut n, &LayoutRequest { boot_size: 100 * MIB, ..layout("flat") }).is_err());
        assert!(apply(&mut n, &LayoutRequest { root_size: Some(20 * GB), ..layout("flat") }).is_err());
        assert_eq!(apply(&mut n, &layout("flat")), Ok(()));
        assert_eq!(apply(&mut n, &layout("blank")), Ok(()));
        assert!(n.block_devices[0].partitions.is_empty());
        let mut diskless = node("pxe", "amd64/generic", &[]);
        assert!(apply(&mut diskless, &layout("flat")).is_err());
    }

    #[test]
    fn vg_over_two_pvs_loses_one_extent_each() {
        let mut n = node("pxe", "amd64/generic", &[10 * GB, 10 * GB]);
        let ids: Vec<i64> = n.block_devices.iter().map(|d| d.id).collect();
        n.volume_groups.push(VolumeGroup { id: 1, name: "vg".into(), uuid: "u".into(), pv_devices: ids, pv_partitions: vec![] });
        let vg = n.volume_groups[0].clone();
        assert_eq!(vg_size(&n, &vg), ((20 * GB) / ALIGN - 2) * ALIGN);
        assert_eq!(device_available(&n, &n.block_devices[0]), 0);
    }

    #[test]
    fn sizes_parse_and_print_like_maas() {
        assert_eq!(parse_size("1G", 0), Some(GB));
        assert_eq!(parse_size("512M", 0), Some(512_000_000));
        assert_eq!(parse_size("4096", 0), Some(4096));
        assert_eq!(parse_size("25%", 400), Some(100));
        assert_eq!(parse_size("x", 0), None);
        assert_eq!(human_size(99_500_000_000), "99.5 GB");
    }
}
