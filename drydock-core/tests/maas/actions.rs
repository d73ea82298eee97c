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

/// Static tags are created once per driver: later nodes only apply them;
/// a tag deleted behind the driver is created again when next needed.
#[tokio::test]
async fn static_tags_are_created_once_and_again_after_a_deletion() {
    let site = generated(3, 1);
    let lab: SimLab = lab(&site, true, "explicit").await;
    let driver = driver(&lab);
    let nodes = site.nodes();
    let created = |lab: &SimLab| -> Vec<String> {
        lab.requests()
            .iter()
            .filter(|r| r.service == "maas" && r.method == "POST" && r.path.ends_with("/tags/"))
            .filter_map(|r| r.form.get("name").and_then(|names| names.first()).cloned())
            .collect()
    };
    let mut applied = Vec::new();
    for node in nodes {
        let machine = driver.identify(&site, node).await.expect("identify").expect("enlisted");
        lab.clear_requests();
        if let Err(error) = driver.apply_platform(&site, node, &machine).await {
            panic!("{}: {error}\n{}", node.name(), log_with_forms(&lab).join("\n"));
        }
        let tags = driver.client().machine(&machine.id).await.expect("machine").tag_names;
        assert!(node.config.tags.iter().all(|tag| tags.contains(tag)), "{}: {tags:?}", node.name());
        applied.push((node.name().to_owned(), created(&lab)));
        if applied.len() == 2 {
            // Deleted behind the driver's back, before the third node.
            driver.client().call("test", Verb::Delete, "tags/synthetic/", None, &[], &Form::new()).await.expect("delete");
        }
    }
    assert!(nodes.iter().all(|node| node.config.tags.iter().any(|tag| tag == "synthetic")), "every generated node has it");
    assert!(applied[0].1.iter().any(|tag| tag == "synthetic"), "created for the first node: {applied:?}");
    assert!(!applied[1].1.iter().any(|tag| tag == "synthetic"), "only applied for the second: {applied:?}");
    assert!(applied[2].1.iter().any(|tag| tag == "synthetic"), "created again after the deletion: {applied:?}");
}

/// Storage uses the kernel names networking has just read from the
/// machine's lshw; on its own, it reads lshw itself.
#[tokio::test]
async fn storage_reuses_the_lshw_networking_just_read() {
    let site = fullsite();
    let lab: SimLab = lab(&site, true, "explicit").await;
    let driver = driver(&lab);
    driver.ensure_network_template(&site).await.expect("create_network_template");
    let node = &site.nodes()[0];
    let machine = driver.identify(&site, node).await.expect("identify_node").expect("enlisted");
    driver.commission(&machine).await.expect("commission");
    while lab.step_machine(&machine.id) {}
    let lshw_reads = |lab: &SimLab| lab.requests().iter().filter(|r| r.op.as_deref() == Some("details")).count();

    lab.clear_requests();
    driver.apply_storage(&site, node, &machine).await.expect("storage alone");
    assert_eq!(lshw_reads(&lab), 1, "storage on its own reads lshw");
    lab.clear_requests();
    driver.apply_networking(&site, node, &machine).await.expect("networking");
    driver.apply_storage(&site, node, &machine).await.expect("storage after networking");
    assert_eq!(lshw_reads(&lab), 1, "one read serves networking and storage");
    lab.clear_requests();
    driver.apply_storage(&site, node, &machine).await.expect("storage again");
    assert_eq!(lshw_reads(&lab), 1, "the names are used once");
}
