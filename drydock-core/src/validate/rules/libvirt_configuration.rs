//! **DD4002 Valid Libvirt Configuration** (Error). A node with
//! `oob.type: libvirt` needs `oob.libvirt_uri` with the `qemu+ssh` scheme and
//! a `metadata.boot_mac`. Only when validation runs with
//! `ValidationOptions::libvirt_test_uris` (a server started with
//! `--libvirt-allow-test-uris`, for labs and tests) is a `test://` URI
//! accepted as well, with a warning.

use crate::validate::{Findings, RuleContext};

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    for node in context.site.nodes() {
        if node.config.oob_type.as_deref() != Some("libvirt") {
            continue;
        }
        match node.config.oob_parameters.get("libvirt_uri").filter(|uri| !uri.is_empty()) {
            None => findings.error(
                format!("OOB parameter libvirt_uri missing for node {}.", node.name()),
                "Provide libvirt URI to node hypervisor.",
                &[&node.meta],
            ),
            Some(uri) if context.options.libvirt_test_uris && uri.starts_with("test://") => findings.warning(
                format!("OOB parameter libvirt_uri of node {} uses libvirt's test hypervisor.", node.name()),
                "Allowed by --libvirt-allow-test-uris, for labs and tests only; real sites use qemu+ssh.",
                &[&node.meta],
            ),
            Some(uri) if !uri.starts_with("qemu+ssh") => {
                findings.error("OOB parameter libvirt_uri has invalid scheme.", "Only scheme 'qemu+ssh' is supported.", &[&node.meta])
            }
            Some(_) => {}
        }
        if node.boot_mac.as_deref().is_none_or(str::is_empty) {
            findings.error(
                "libvirt-based node requries defined boot MAC address.",
                "Specify the node's PXE MAC address in metadata.boot_mac",
                &[&node.meta],
            );
        }
    }
}
