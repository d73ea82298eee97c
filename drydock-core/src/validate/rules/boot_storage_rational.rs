//! **DD1001 Rational Boot Storage** (Error). Every node needs a partition
//! named `root` of at least 20 GB; a partition named `boot` listed after it
//! must be at least 1 GB. Sizes use the validation size parser (decimal
//! units, leading match: `30GiB` reads as 30 GB). Only partition names count;
//! logical volumes and mount points do not.
//!
//! Differs from the original: a size with unit letters the original cannot
//! multiply (`20Gb`) or a missing size crashes the original; here it is an
//! "invalid size format" error.

use crate::compile::size::{ValidationSize, parse_validation_size};
use crate::validate::{Findings, RuleContext};

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    for node in context.site.nodes() {
        let name = node.name();
        let mut root_set = false;
        for device in &node.config.storage.physical_devices {
            for partition in &device.partitions {
                let size = partition.size.as_deref().map(parse_validation_size).unwrap_or(ValidationSize::InvalidFormat);
                if partition.name == "root" {
                    match size {
                        ValidationSize::Bytes(bytes) => {
                            root_set = true;
                            if bytes < 20_000_000_000 {
                                findings.error(
                                    format!("Root volume must be > 20GB on BaremetalNode {name}"),
                                    "Configure a larger root volume",
                                    &[&node.meta],
                                );
                            }
                        }
                        ValidationSize::InvalidFormat | ValidationSize::UnknownUnit(_) => findings.error(
                            format!("Root volume has an invalid size format on BaremetalNode{name}."),
                            "Use a valid root volume storage specification.",
                            &[&node.meta],
                        ),
                    }
                } else if partition.name == "boot" && root_set {
                    match size {
                        ValidationSize::Bytes(bytes) if bytes < 1_000_000_000 => findings.error(
                            format!("Boot volume must be > 1GB on BaremetalNode {name}"),
                            "Configure a larger boot volume.",
                            &[&node.meta],
                        ),
                        ValidationSize::Bytes(_) => {}
                        ValidationSize::InvalidFormat | ValidationSize::UnknownUnit(_) => findings.error(
                            format!("Boot volume has an invalid size format on BaremetalNode {name}."),
                            "Use a valid boot volume storage specification.",
                            &[&node.meta],
                        ),
                    }
                }
            }
        }
        if !root_set {
            findings.error(
                format!("Root volume has to be set and must be > 20GB on BaremetalNode {name}"),
                "All nodes require a defined root volume at least 20GB in size.",
                &[&node.meta],
            );
        }
    }
}
