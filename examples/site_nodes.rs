//! List the nodes of a site design as Drydock will deploy them: the
//! effective configuration after host-profile inheritance — each node's
//! networks (interface, CIDR, address) and storage (partitions, volume
//! groups, logical volumes) — and which nodes a node filter selects.
//!
//! Run: `cargo run -p drydock-examples --example site_nodes -- examples/site.yaml`
//! (without an argument it reads `examples/site.yaml`).

use std::io::Write;

use drydock_core::model::{FilterSetType, NodeFilterEntry};
use drydock_core::{BaremetalNode, EffectiveSite, NodeFilter};

/// The example site next to this file.
const EXAMPLE_SITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/site.yaml");

fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| EXAMPLE_SITE.into());
    run(&path, &mut std::io::stdout().lock())
}

fn run(path: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let evaluation = drydock_core::load(path)?;
    let Some(site) = evaluation.site.as_deref() else {
        for finding in evaluation.report.findings().filter(|finding| finding.is_error()) {
            writeln!(out, "{} {}: {}", finding.level.as_str(), finding.code, finding.message)?;
        }
        anyhow::bail!("{path}: the design has errors, so it has no effective site");
    };
    for node in site.nodes() {
        describe(site, node, out)?;
    }
    // Node filters select nodes the way boot actions and tasks do.
    let tagged_compute = NodeFilter {
        filter_set_type: FilterSetType::Union,
        filter_set: vec![NodeFilterEntry {
            filter_type: Some(FilterSetType::Union),
            node_tags: Some(vec!["compute".into()]),
            ..NodeFilterEntry::default()
        }],
    };
    let selected: Vec<&str> = site.select(Some(&tagged_compute))?.into_iter().map(|at| site.nodes()[at].name()).collect();
    writeln!(out, "nodes tagged compute: {}", selected.join(", "))?;
    Ok(())
}

/// One node: identity, then networks, then storage.
fn describe(site: &EffectiveSite, node: &BaremetalNode, out: &mut impl Write) -> std::io::Result<()> {
    let config = &node.config;
    writeln!(
        out,
        "{} ({}) rack {} tags [{}] image {} kernel {}",
        node.name(),
        site.node_fqdn(node),
        config.rack.as_deref().unwrap_or("-"),
        config.tags.join(", "),
        config.image.as_deref().unwrap_or("-"),
        config.kernel.as_deref().unwrap_or("-"),
    )?;
    writeln!(out, "  networks:")?;
    for interface in &config.interfaces {
        for name in &interface.networks {
            let cidr = site.design.network(name).map_or("?", |network| network.cidr.as_str());
            let address = match node.addressing.iter().rev().find(|assignment| &assignment.network == name) {
                Some(assignment) => assignment.address.as_deref().unwrap_or("dhcp"),
                None => "no address",
            };
            let primary = if config.primary_network.as_deref() == Some(name.as_str()) { " (primary)" } else { "" };
            writeln!(out, "    {:<8} {name:<11} {cidr:<15} {address}{primary}", interface.name)?;
        }
    }
    writeln!(out, "  storage:")?;
    for device in &config.storage.physical_devices {
        match &device.volume_group {
            Some(group) => writeln!(out, "    {}: physical volume of {group}", device.name)?,
            None => writeln!(out, "    {}:", device.name)?,
        }
        for partition in &device.partitions {
            writeln!(
                out,
                "      {:<14} {:>6}  {} {}",
                partition.name,
                partition.size.as_deref().unwrap_or("-"),
                partition.mountpoint.as_deref().unwrap_or("-"),
                partition.fstype.as_deref().unwrap_or(""),
            )?;
        }
    }
    for group in &config.storage.volume_groups {
        writeln!(out, "    volume group {}:", group.name)?;
        for volume in &group.logical_volumes {
            writeln!(
                out,
                "      {:<14} {:>6}  {} {}",
                volume.name,
                volume.size.as_deref().unwrap_or("-"),
                volume.mountpoint.as_deref().unwrap_or("-"),
                volume.fstype.as_deref().unwrap_or(""),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_node_is_listed_with_inherited_networks_and_storage() {
        let mut out = Vec::new();
        super::run(super::EXAMPLE_SITE, &mut out).expect("runs");
        let text = String::from_utf8(out).expect("utf-8");
        for node in ["cp-r01-n01", "cp-r01-n02", "cp-r02-n01", "cmp-r01-n03", "cmp-r02-n02", "cmp-r02-n03"] {
            assert!(text.contains(&format!("\n{node} (")) || text.starts_with(&format!("{node} (")), "{node} missing:\n{text}");
        }
        // cp-r01-n01's own network on bond0, then the profile's, with addresses.
        assert!(text.contains("    bond0    calico-r01 "), "{text}");
        assert!(text.contains(" 10.30.0.16 (primary)\n"), "{text}");
        // Storage comes from the `defaults` host profile on every node.
        assert_eq!(text.matches("    datadisk: physical volume of vg-data\n").count(), 6, "{text}");
        assert_eq!(text.matches("      lv-kubelet        20%  /var/lib/kubelet ext4\n").count(), 6, "{text}");
        assert!(text.ends_with("nodes tagged compute: cmp-r01-n03, cmp-r02-n02, cmp-r02-n03\n"), "{text}");
    }
}
