//! The three real Airship sites rendered by Deckhand
//! (`shared/corpus/treasuremap-v1.9/rendered/`) ingest, compile and validate
//! as the spec's §6.5 and §8.1 say, with the effective values inheritance
//! gives their nodes.

use drydock_core::ingest::EnvelopeMode;
use drydock_core::model::SlaveSelector;
use drydock_core::validate::PlatformCatalog;

use crate::support::{corpus_dir, evaluate_path, summarize};

fn site(name: &str, platform: Option<PlatformCatalog>) -> drydock_core::validate::Evaluation {
    let path = corpus_dir().join(format!("treasuremap-v1.9/rendered/{name}.drydock.yaml"));
    evaluate_path(&path, EnvelopeMode::Deckhand, platform).expect("site loads")
}

fn xenial() -> Option<PlatformCatalog> {
    Some(PlatformCatalog::Available(vec![("xenial".into(), vec!["ga-16.04".into(), "hwe-16.04".into()])]))
}

#[test]
fn every_site_passes_with_nineteen_messages_offline_and_no_warning_with_a_catalog() {
    for (name, counts) in
        [("seaworthy", [1, 3, 6, 2, 3, 5, 6]), ("airsloop", [1, 3, 6, 2, 1, 1, 6]), ("seaworthy-virt", [1, 1, 7, 2, 3, 3, 5])]
    {
        let offline = site(name, None);
        let summary = summarize(&offline.report);
        assert_eq!(summary.status, "Success", "{name}: {summary:?}");
        assert_eq!(summary.messages, 19, "{name}");
        assert_eq!(summary.warnings.get("Platform Selection"), Some(&1), "{name}");
        let design = &offline.site.as_ref().expect("compiled").design;
        let found = crate::support::counts_by_kind(design);
        assert_eq!(found, counts, "{name}: document counts by kind");

        let with_catalog = summarize(&site(name, xenial()).report);
        assert_eq!(with_catalog.status, "Success", "{name}");
        assert!(with_catalog.errors.is_empty() && with_catalog.warnings.is_empty(), "{name}: {with_catalog:?}");
    }
}

#[test]
fn seaworthy_nodes_inherit_their_profiles() {
    let evaluation = site("seaworthy", None);
    let site = evaluation.site.expect("compiled");
    let node = site.node("cab23-r720-12").expect("node");
    let config = &node.config;
    assert_eq!(config.hardware_profile.as_deref(), Some("dell_r720"));
    assert_eq!(config.oob_type.as_deref(), Some("ipmi"));
    assert_eq!(config.oob_parameters.get("network").map(String::as_str), Some("oob"));
    assert_eq!(config.rack.as_deref(), Some("cab23"));
    assert_eq!(config.tags, vec!["masters".to_string()]);
    let names: Vec<&str> = config.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["bond0", "pxe"]);
    let bond = config.interface("bond0").expect("bond0");
    assert_eq!(bond.networks, ["oam", "storage", "overlay", "calico"]);
    assert_eq!(bond.slave_selectors.len(), 2);
    assert!(matches!(&bond.slave_selectors[0], SlaveSelector::Address { .. }), "cp_nic01 is a PCI alias of dell_r720");
    assert_eq!(config.kernel_params.get("console").map(String::as_str), Some("ttyS1,115200n8"));
    assert_eq!(config.kernel_params.get("kernel_package").map(String::as_str), Some("linux-image-4.15.0-46-generic"));
    assert_eq!(config.image.as_deref(), Some("xenial"));
    assert_eq!(config.storage.physical_devices.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["bootdisk"]);
    assert!(config.owner_data.get("openstack-l3-agent").is_some());
    // Every boot action targets every node (none has a filter).
    for targets in &site.boot_action_targets {
        assert_eq!(targets.len(), 5);
    }
}

#[test]
fn seaworthy_virt_nodes_are_libvirt_with_boot_macs() {
    let evaluation = site("seaworthy-virt", None);
    let site = evaluation.site.expect("compiled");
    assert_eq!(site.nodes().len(), 3);
    for node in site.nodes() {
        assert_eq!(node.config.oob_type.as_deref(), Some("libvirt"), "{}", node.name());
        assert!(node.boot_mac.is_some(), "{}", node.name());
        let ens3 = node.config.interface("ens3").expect("ens3");
        assert_eq!(ens3.networks, ["gp"]);
    }
}

#[test]
fn airsloop_has_one_ipmi_compute_node() {
    let evaluation = site("airsloop", None);
    let site = evaluation.site.expect("compiled");
    let node = site.node("airsloop-compute-1").expect("node");
    assert_eq!(node.config.oob_type.as_deref(), Some("ipmi"));
    let names: Vec<&str> = node.config.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["data", "pxe"]);
}
