//! Host-profile inheritance merge rules (compat: site-design spec §3.3):
//! scalars (`!` unsets), maps (`!key` removes), lists of strings (`!item`
//! removes), and named sub-objects (interfaces, storage devices, partitions,
//! volume groups, logical volumes; `!name` removes, same name merges).
//!
//! Divergence from the original, as the spec recommends: storage devices,
//! partitions, volume groups and logical volumes use the same named-list
//! algorithm as interfaces. The original keeps only the parent's *last*
//! unmatched device, crashes when only the child defines storage, and drops
//! every logical volume of a merged volume group; none of the original's
//! accepted designs depend on that data loss. SR-IOV settings are also kept
//! when interfaces merge (the original resets them). See docs/compat.md.

use std::collections::HashSet;

use crate::model::{HostConfig, Interface, LogicalVolume, Partition, PhysicalDevice, Storage, StringMap, VolumeGroup};

/// Merge a child configuration over its parent's compiled configuration.
/// The child is consumed (its data moves into the result); the parent, shared
/// by every node inheriting from it, is cloned where needed.
pub(crate) fn merge_host_config(child: HostConfig, parent: &HostConfig) -> HostConfig {
    HostConfig {
        parent_profile: child.parent_profile,
        hardware_profile: scalar(child.hardware_profile, &parent.hardware_profile),
        primary_network: scalar(child.primary_network, &parent.primary_network),
        oob_type: scalar(child.oob_type, &parent.oob_type),
        oob_parameters: map(child.oob_parameters, &parent.oob_parameters),
        storage: Storage {
            physical_devices: named(child.storage.physical_devices, &parent.storage.physical_devices, |d| &d.name, merge_device),
            volume_groups: named(child.storage.volume_groups, &parent.storage.volume_groups, |v| &v.name, merge_volume_group),
        },
        image: scalar(child.image, &parent.image),
        kernel: scalar(child.kernel, &parent.kernel),
        kernel_params: map(child.kernel_params, &parent.kernel_params),
        tags: string_list(child.tags, &parent.tags),
        owner_data: map(child.owner_data, &parent.owner_data),
        rack: scalar(child.rack, &parent.rack),
        interfaces: named(child.interfaces, &parent.interfaces, |i| &i.name, merge_interface),
    }
}

/// §3.3.1: child null → parent; child `!` → null; otherwise child.
pub(crate) fn scalar(child: Option<String>, parent: &Option<String>) -> Option<String> {
    match child.as_deref() {
        None => parent.clone(),
        Some("!") => None,
        Some(_) => child,
    }
}

/// §3.3.2: parent entries minus those the child removes with `!key`, then
/// the child's entries (existing keys keep their position).
pub(crate) fn map(child: StringMap, parent: &StringMap) -> StringMap {
    if child.is_empty() {
        return parent.clone();
    }
    let removes = child.keys().any(|key| key.starts_with('!'));
    let mut merged: StringMap = StringMap::with_capacity(parent.len() + child.len());
    for (key, value) in parent {
        let removed = removes && child.keys().any(|child_key| child_key.strip_prefix('!') == Some(key.as_str()));
        if !removed {
            merged.insert(key.clone(), value.clone());
        }
    }
    for (key, value) in child {
        if !key.starts_with('!') {
            merged.insert(key, value);
        }
    }
    merged
}

/// §3.3.2 for maps that may be absent (device labels): either side absent
/// returns the other.
pub(crate) fn optional_map(child: Option<StringMap>, parent: &Option<StringMap>) -> Option<StringMap> {
    match (child, parent) {
        (Some(child), Some(parent)) => Some(map(child, parent)),
        (Some(only), None) => Some(only),
        (None, parent) => parent.clone(),
    }
}

/// Lists this short are searched linearly; longer ones through a hash set.
const SMALL: usize = 16;

/// §3.3.3: the child's plain entries, then the parent's entries the child
/// neither removes (`!x`) nor already has.
pub(crate) fn string_list(child: Vec<String>, parent: &[String]) -> Vec<String> {
    if child.is_empty() {
        return parent.to_vec();
    }
    let removed: Vec<String> = child.iter().filter_map(|item| item.strip_prefix('!')).map(str::to_owned).collect();
    let mut merged: Vec<String> = child.into_iter().filter(|item| !item.starts_with('!')).collect();
    let mut present: Option<HashSet<String>> = (merged.len() + parent.len() > SMALL).then(|| merged.iter().cloned().collect());
    for item in parent {
        if removed.iter().any(|gone| gone == item) {
            continue;
        }
        let is_new = match present.as_mut() {
            Some(set) => set.insert(item.clone()),
            None => !merged.contains(item),
        };
        if is_new {
            merged.push(item.clone());
        }
    }
    merged
}

/// §3.3.4 (the interface algorithm): parent entries in parent order —
/// removed by a child `!name`, merged with a same-named child entry, or
/// copied — then the child's new entries in child order.
pub(crate) fn named<T: Clone>(child: Vec<T>, parent: &[T], name: fn(&T) -> &String, merge: fn(T, &T) -> T) -> Vec<T> {
    if child.is_empty() {
        return parent.to_vec();
    }
    if parent.is_empty() {
        return child.into_iter().filter(|item| !name(item).starts_with('!')).collect();
    }
    let removed: HashSet<String> = child.iter().filter_map(|item| name(item).strip_prefix('!')).map(str::to_owned).collect();
    let parent_names: HashSet<&str> = parent.iter().map(|item| name(item).as_str()).collect();
    let mut child_slots: Vec<Option<T>> = child.into_iter().map(Some).collect();
    let mut merged = Vec::with_capacity(parent.len() + child_slots.len());
    for parent_item in parent {
        let parent_name = name(parent_item);
        if removed.contains(parent_name.as_str()) {
            continue;
        }
        let matching = child_slots.iter().position(|slot| slot.as_ref().is_some_and(|item| name(item) == parent_name));
        match matching.and_then(|position| child_slots[position].take()) {
            Some(child_item) => merged.push(merge(child_item, parent_item)),
            None => merged.push(parent_item.clone()),
        }
    }
    merged.extend(
        child_slots.into_iter().flatten().filter(|item| !name(item).starts_with('!') && !parent_names.contains(name(item).as_str())),
    );
    merged
}

fn merge_interface(child: Interface, parent: &Interface) -> Interface {
    let (sriov, vf_count, trustedmode) =
        if child.sriov { (true, child.vf_count, child.trustedmode) } else { (parent.sriov, parent.vf_count, parent.trustedmode) };
    Interface {
        name: child.name,
        network_link: scalar(child.network_link, &parent.network_link),
        hardware_slaves: string_list(child.hardware_slaves, &parent.hardware_slaves),
        networks: string_list(child.networks, &parent.networks),
        sriov,
        vf_count,
        trustedmode,
        slave_selectors: Vec::new(),
    }
}

fn merge_device(child: PhysicalDevice, parent: &PhysicalDevice) -> PhysicalDevice {
    PhysicalDevice {
        name: child.name,
        labels: optional_map(child.labels, &parent.labels),
        volume_group: scalar(child.volume_group, &parent.volume_group),
        partitions: named(child.partitions, &parent.partitions, |p| &p.name, merge_partition),
    }
}

fn merge_partition(child: Partition, parent: &Partition) -> Partition {
    Partition {
        name: child.name,
        size: scalar(child.size, &parent.size),
        part_uuid: scalar(child.part_uuid, &parent.part_uuid),
        volume_group: scalar(child.volume_group, &parent.volume_group),
        mountpoint: scalar(child.mountpoint, &parent.mountpoint),
        fstype: scalar(child.fstype, &parent.fstype),
        mount_options: scalar(child.mount_options, &parent.mount_options),
        fs_uuid: scalar(child.fs_uuid, &parent.fs_uuid),
        fs_label: scalar(child.fs_label, &parent.fs_label),
        bootable: false,
    }
}

fn merge_volume_group(child: VolumeGroup, parent: &VolumeGroup) -> VolumeGroup {
    VolumeGroup {
        name: child.name,
        vg_uuid: scalar(child.vg_uuid, &parent.vg_uuid),
        logical_volumes: named(child.logical_volumes, &parent.logical_volumes, |lv| &lv.name, merge_logical_volume),
    }
}

fn merge_logical_volume(child: LogicalVolume, parent: &LogicalVolume) -> LogicalVolume {
    LogicalVolume {
        name: child.name,
        size: scalar(child.size, &parent.size),
        lv_uuid: scalar(child.lv_uuid, &parent.lv_uuid),
        mountpoint: scalar(child.mountpoint, &parent.mountpoint),
        fstype: scalar(child.fstype, &parent.fstype),
        mount_options: scalar(child.mount_options, &parent.mount_options),
        fs_uuid: scalar(child.fs_uuid, &parent.fs_uuid),
        fs_label: scalar(child.fs_label, &parent.fs_label),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    fn string_map(pairs: &[(&str, &str)]) -> StringMap {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn scalars() {
        let parent = Some("p".to_string());
        assert_eq!(scalar(None, &parent), parent);
        assert_eq!(scalar(Some("!".into()), &parent), None);
        assert_eq!(scalar(Some("c".into()), &parent), Some("c".into()));
    }

    #[test]
    fn maps_remove_and_override_in_place() {
        let parent = string_map(&[("a", "1"), ("b", "2"), ("credential", "x")]);
        let child = string_map(&[("!credential", ""), ("a", "9"), ("c", "3")]);
        let merged = map(child, &parent);
        assert_eq!(merged, string_map(&[("a", "9"), ("b", "2"), ("c", "3")]));
        assert_eq!(merged.keys().collect::<Vec<_>>(), vec!["a", "b", "c"]);
    }

    #[test]
    fn lists_follow_spec_example() {
        assert_eq!(string_list(strings(&["!private"]), &strings(&["mgmt", "private"])), strings(&["mgmt"]));
        assert_eq!(string_list(strings(&["x", "x", "a"]), &strings(&["a", "b"])), strings(&["x", "x", "a", "b"]));
    }

    fn device(name: &str, partitions: &[&str]) -> PhysicalDevice {
        PhysicalDevice {
            name: name.into(),
            partitions: partitions.iter().map(|p| Partition { name: p.to_string(), ..Partition::default() }).collect(),
            ..PhysicalDevice::default()
        }
    }

    fn names(devices: &[PhysicalDevice]) -> Vec<String> {
        devices.iter().map(|d| format!("{}{:?}", d.name, d.partitions.iter().map(|p| p.name.clone()).collect::<Vec<_>>())).collect()
    }

    #[test]
    fn named_lists_keep_every_unmatched_parent_entry() {
        // The original would drop `sdb` and `sda[root]` here (spec §3.3.4 table row 1).
        let parent = vec![device("sda", &["root", "boot"]), device("sdb", &[]), device("sdc", &["p1"])];
        let child = vec![device("sda", &["boot"])];
        let merged = named(child, &parent, |d| &d.name, merge_device);
        assert_eq!(names(&merged), vec!["sda[\"root\", \"boot\"]", "sdb[]", "sdc[\"p1\"]"]);

        let child = vec![device("!sdb", &[]), device("sda", &["!boot"])];
        let parent = vec![device("sda", &["root", "boot", "var"]), device("sdb", &["x"]), device("sdc", &["y"])];
        let merged = named(child, &parent, |d| &d.name, merge_device);
        assert_eq!(names(&merged), vec!["sda[\"root\", \"var\"]", "sdc[\"y\"]"]);

        // Only the child has storage: the original crashes, we keep the child's.
        let merged = named(vec![device("sda", &["root"]), device("!sdz", &[])], &[], |d| &d.name, merge_device);
        assert_eq!(names(&merged), vec!["sda[\"root\"]"]);
    }
}
