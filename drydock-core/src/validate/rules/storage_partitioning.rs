//! **DD2002 Storage Partitioning** (Error). Each storage device is either a
//! volume-group member or carved into partitions (not both, not neither), a
//! partition cannot be both a volume-group member and formatted, and every
//! volume group needs at least one physical volume.
//!
//! As in the original, the set of assigned volume groups accumulates across
//! nodes in design order, and a partition's `volume_group` is not read at
//! ingestion, so a volume group whose only members are partitions is
//! reported as unassigned.

use std::collections::HashSet;

use crate::validate::{Findings, RuleContext};

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    let mut assigned: HashSet<&str> = HashSet::new();
    for node in context.site.nodes() {
        let storage = &node.config.storage;
        for device in &storage.physical_devices {
            let is_volume_member = device.volume_group.is_some();
            let is_partitioned = !device.partitions.is_empty();
            // Exactly one of the two: both, or neither, is an error.
            if is_volume_member == is_partitioned {
                findings.error(
                    "Either a volume group OR partitions must be defined for each storage device.",
                    "A storage device must be used for exactly one of a volume group physical volume or carved into partitions.",
                    &[&node.meta],
                );
            }
            for partition in &device.partitions {
                if partition.fstype.is_some() && partition.volume_group.is_some() {
                    findings.error(
                        "Both a volume group AND file system cannot be defined in a single partition",
                        "A partition can be a volume group physical volume or hold a filesystem, not both.",
                        &[&node.meta],
                    );
                }
                if let Some(group) = partition.volume_group.as_deref() {
                    assigned.insert(group);
                }
            }
            if let Some(group) = device.volume_group.as_deref() {
                assigned.insert(group);
            }
        }
        for group in &storage.volume_groups {
            if !assigned.contains(group.name.as_str()) {
                findings.error(
                    format!("Volume group {} not assigned any physical volumes", group.name),
                    "Each volume group should be assigned at least one storage device or partition as a physical volume.",
                    &[&node.meta],
                );
            }
        }
    }
}
