//! **DD2004 Storage Mountpoint** (Error). No mount point may be used twice
//! on a node: partitions first, then the logical volumes of the device's
//! volume group, device by device. As in the original the rule stops at the
//! first duplicate (at most one message per design), and two devices in one
//! volume group make that group's mount points count twice.

use std::collections::HashSet;

use crate::validate::{Findings, RuleContext};

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    for node in context.site.nodes() {
        let storage = &node.config.storage;
        let mut seen: HashSet<&str> = HashSet::new();
        for device in &storage.physical_devices {
            let partition_points = device.partitions.iter().filter_map(|partition| partition.mountpoint.as_deref());
            let volume_points = storage
                .volume_groups
                .iter()
                .filter(|group| device.volume_group.as_deref() == Some(group.name.as_str()))
                .flat_map(|group| group.logical_volumes.iter().filter_map(|volume| volume.mountpoint.as_deref()));
            for mountpoint in partition_points.chain(volume_points) {
                if !seen.insert(mountpoint) {
                    findings.error(format!("Mountpoint \"{mountpoint}\" already exists"), "Please use unique mountpoints.", &[&node.meta]);
                    return;
                }
            }
        }
    }
}
