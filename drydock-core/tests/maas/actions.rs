//! Every MaaS driver action against the emulator in Explicit mode, with the
//! exact ordered calls (and their form fields) pinned as snapshots, for
//! `deckhand_fullsite.yaml` from the corpus and for a `gen_site.py` site.
//! Running a site-wide action a second time makes no changes.

use drydock_core::compile::EffectiveSite;
use drydock_core::drivers::maas::client::Verb;
use drydock_core::drivers::maas::form::Form;
use drydock_core::drivers::{DeployRequest, ErasePolicy, MachineStatus, NodeDriver};
use drydock_sim::SimLab;

use super::support::{driver, fullsite, generated, lab, log_with_forms};

/// Run every action once, in the order a deployment uses them, and record
/// each one's calls under a heading.
async fn walk(site: &EffectiveSite) -> String {
    let lab: SimLab = lab(site, true, "explicit").await;
    let driver = driver(&lab);
    let mut out = String::new();
    let mut section = |title: &str, lab: &SimLab| {
        out.push_str(&format!("## {title}\n"));
        for line in log_with_forms(lab) {
            out.push_str(&line);
            out.push('\n');
        }
        lab.clear_requests();
    };
    lab.clear_requests();
    driver.check().await.expect("validate_node_services");
    section("validate_node_services", &lab);
    let changes = driver.ensure_network_template(site).await.expect("create_network_template");
    assert!(!changes.changes.is_empty());
    section("create_network_template", &lab);
    let again = driver.ensure_network_template(site).await.expect("create_network_template again");
    assert!(again.changes.is_empty(), "a second run changes nothing: {:?}", again.changes);
    section("create_network_template (again)", &lab);
    driver.ensure_user_credentials(site).await.expect("configure_user_credentials");
    section("configure_user_credentials", &lab);
    driver.ensure_provisioner_config(site).await.expect("configure_node_provisioner");
    section("configure_node_provisioner", &lab);
    driver.ensure_boot_media(site).await.expect("create_boot_media");
    section("create_boot_media", &lab);

    let node = &site.nodes()[0];
    // Enlisted under another name: found by BMC address (or MAC), then renamed.
    let sid = lab.system_id_of(node.name()).expect("enlisted");
    let form = Form::new().with("hostname", "enlisted-1");
    driver.client().call("test", Verb::Put, &format!("machines/{sid}/"), None, &[], &form).await.expect("rename");
    lab.clear_requests();
    let machine = driver.identify(site, node).await.expect("identify_node").expect("found");
    assert_eq!(machine.id, sid);
    assert_eq!(lab.system_id_of(node.name()).as_deref(), Some(sid.as_str()), "renamed back to the node's name");
    section("identify_node", &lab);

    driver.commission(&machine).await.expect("commission");
    assert_eq!(driver.machine_status(&machine).await.expect("status"), MachineStatus::Commissioning);
    while lab.step_machine(&sid) {}
    assert_eq!(driver.machine_status(&machine).await.expect("status"), MachineStatus::Ready);
    let data = driver.build_data(&machine).await.expect("build data");
    assert!(data.iter().any(|item| item.generator == "lshw" && item.data_format == "text/xml"), "{data:?}");
    assert!(data.iter().any(|item| item.generator.starts_with("commission:")), "{data:?}");
    section("configure_hardware", &lab);

    driver.apply_networking(site, node, &machine).await.expect("apply_node_networking");
    section("apply_node_networking", &lab);
    driver.apply_storage(site, node, &machine).await.expect("apply_node_storage");
    section("apply_node_storage", &lab);
    driver.apply_platform(site, node, &machine).await.expect("apply_node_platform");
    section("apply_node_platform", &lab);
    driver.apply_platform(site, node, &machine).await.expect("apply_node_platform again");
    section("apply_node_platform (again)", &lab);

    let request = DeployRequest {
        image: node.config.image.clone(),
        kernel: node.config.kernel.clone(),
        user_data: Some("#cloud-config\npackages:\n- curl\n".into()),
        owner_data: node.config.owner_data.clone(),
        bootaction_key: Some("0f".repeat(32)),
    };
    driver.deploy(&machine, &request).await.expect("deploy_node");
    assert_eq!(driver.machine_status(&machine).await.expect("status"), MachineStatus::Deploying);
    while lab.step_machine(&sid) {}
    assert_eq!(driver.machine_status(&machine).await.expect("status"), MachineStatus::Deployed);
    section("deploy_node", &lab);

    driver.release(&machine, ErasePolicy::Quick).await.expect("destroy_node");
    while lab.step_machine(&sid) {}
    assert_eq!(driver.machine_status(&machine).await.expect("status"), MachineStatus::Ready);
    section("destroy_node", &lab);
    out
}

#[tokio::test]
async fn deckhand_fullsite_calls() {
    insta::assert_snapshot!("deckhand_fullsite", walk(&fullsite()).await);
}

#[tokio::test]
async fn generated_site_calls() {
    insta::assert_snapshot!("gen_site_3_nodes", walk(&generated(3, 1)).await);
}
