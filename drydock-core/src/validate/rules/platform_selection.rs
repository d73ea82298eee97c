//! **DD3001 Platform Selection** (Error, Warning). Each node's image and
//! kernel must be among those the node provisioner offers (MaaS boot
//! resources). Without a node driver the rule only warns, which is the
//! normal case for offline validation.

use crate::validate::{Findings, PlatformCatalog, RuleContext};

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    let catalog = match &context.options.platform {
        None => {
            findings.warning(
                "Platform Validation: No enabled node driver, imageand kernel selections not validated.",
                "Cannot validate platform selection without accessing the node provisioner.",
                &[],
            );
            return;
        }
        Some(PlatformCatalog::ImagesUnavailable) => {
            findings.warning(
                "Platform validation: Could not load images from driver, skippingimage and kernel selection validation.",
                "Cannot validate platform selection without accessing the node provisioner.",
                &[],
            );
            return;
        }
        Some(PlatformCatalog::KernelsUnavailable) => {
            findings.warning(
                "Platform validation: Could not load kernels from driver, skippingimage and kernel selection validation.",
                "Cannot validate platform selection without accessing the node provisioner.",
                &[],
            );
            return;
        }
        Some(PlatformCatalog::Available(images)) => images,
    };
    let image_names: Vec<&str> = catalog.iter().map(|(image, _)| image.as_str()).collect();
    for node in context.site.nodes() {
        let image = node.config.image.as_deref();
        match catalog.iter().find(|(name, _)| Some(name.as_str()) == image) {
            None => findings.error(
                format!("Platform Validation: invalid image {}", image.unwrap_or("None")),
                format!("Select a valid image from: {}", image_names.join(",")),
                &[&node.meta],
            ),
            Some((_, kernels)) => {
                let kernel = node.config.kernel.as_deref();
                if !kernels.iter().any(|name| Some(name.as_str()) == kernel) {
                    findings.error(
                        format!("Platform Validation: invalid kernel {}", kernel.unwrap_or("None")),
                        format!("Select a valid kernel from: {}", kernels.join(",")),
                        &[&node.meta],
                    );
                }
            }
        }
    }
}
