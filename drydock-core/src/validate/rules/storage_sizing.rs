//! **DD2003 Storage Sizing** (Error). Percentage sizes must not be negative,
//! and the running total of a device's partition percentages must not pass
//! 99% (reported after every partition past the threshold). Logical-volume
//! percentages are checked inside the device loop, so, as in the original,
//! their messages repeat once per storage device of the node.
//!
//! Differs from the original: a partition or logical volume without a size,
//! a percentage that is not an integer (`abc%`), and a volume-group total
//! over 99% crash the original; here the first two are errors naming the
//! partition or volume and the last is
//! `Cumulative logical volume size is greater than 99% in volume group <vg>`.

use crate::validate::{Findings, RuleContext};

use super::percentage;

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    for node in context.site.nodes() {
        let storage = &node.config.storage;
        for device in &storage.physical_devices {
            let mut partition_sum = 0i64;
            for partition in &device.partitions {
                match partition.size.as_deref().and_then(percentage) {
                    Some(Ok(value)) => {
                        if value < 0 {
                            findings.error(
                                format!("Storage partition {} on device {} size is < 0", partition.name, device.name),
                                "Partition size must be a positive number.",
                                &[&node.meta],
                            );
                        }
                        partition_sum += value;
                    }
                    Some(Err(())) => findings.error(
                        format!(
                            "Storage partition {} on device {} has an invalid percentage size {}",
                            partition.name,
                            device.name,
                            partition.size.as_deref().unwrap_or_default()
                        ),
                        "Percentage sizes must be whole numbers followed by %.",
                        &[&node.meta],
                    ),
                    None => {}
                }
                if partition_sum > 99 {
                    findings.error(
                        format!("Cumulative partition sizes on device {} is greater than 99%.", device.name),
                        "Percentage-based sizes must sum to less than 100%.",
                        &[&node.meta],
                    );
                }
            }
            let mut volume_sum = 0i64;
            for group in &storage.volume_groups {
                for volume in &group.logical_volumes {
                    match volume.size.as_deref().and_then(percentage) {
                        Some(Ok(value)) => {
                            if value < 0 {
                                findings.error(format!("Logical Volume {} size is < 0 ", volume.name), "", &[&node.meta]);
                            }
                            volume_sum += value;
                        }
                        Some(Err(())) => findings.error(
                            format!(
                                "Logical Volume {} has an invalid percentage size {}",
                                volume.name,
                                volume.size.as_deref().unwrap_or_default()
                            ),
                            "Percentage sizes must be whole numbers followed by %.",
                            &[&node.meta],
                        ),
                        None => {}
                    }
                }
                if volume_sum > 99 {
                    findings.error(
                        format!("Cumulative logical volume size is greater than 99% in volume group {}", group.name),
                        "Percentage-based sizes must sum to less than 100%.",
                        &[&node.meta],
                    );
                }
            }
        }
    }
}
