//! DHCP relay as the original sets it up (issue 22), against the lab that
//! `drydock lab scenario` describes: the rack controller holds the relay's
//! upstream target on a VLAN of its own, so the relayed network's VLAN is
//! relayed there with MaaS DHCP off; without a rack holding that address,
//! the network step fails, naming the network and the address looked for.

use drydock_core::drivers::NodeDriver;
use drydock_core::lab::{LabOptions, lab_scenario};
use drydock_sim::SimLab;
use serde_json::Value;

use super::support::{driver, fullsite};

/// A VLAN by id, from every fabric.
async fn vlan(driver: &drydock_core::drivers::maas::MaasDriver, id: i64) -> Value {
    let fabrics: Vec<Value> = driver.client().get("test", "fabrics/", None, &[]).await.expect("fabrics");
    fabrics
        .iter()
        .flat_map(|fabric| fabric["vlans"].as_array().cloned().unwrap_or_default())
        .find(|vlan| vlan["id"] == id)
        .unwrap_or_else(|| panic!("VLAN {id} in {fabrics:?}"))
}

#[tokio::test]
async fn the_relayed_vlan_points_at_the_rack_that_holds_the_upstream_target() {
    let site = fullsite();
    let relayed = site.design.network("pxe").expect("pxe");
    assert_eq!(relayed.dhcp_relay_upstream_target.as_deref(), Some("172.16.5.5"), "the corpus design relays pxe");
    let scenario = lab_scenario(&site, &LabOptions { enlisted: true, ..LabOptions::default() });
    let lab = SimLab::start(serde_json::from_value(scenario).expect("scenario")).await.expect("lab");
    let driver = driver(&lab);

    // The rack controller answers with the address the scenario gave it.
    let racks: Vec<Value> = driver.client().get("test", "rackcontrollers/", None, &[]).await.expect("racks");
    let holder = racks[0]["interface_set"]
        .as_array()
        .expect("interfaces")
        .iter()
        .find(|interface| interface["links"].as_array().is_some_and(|links| links.iter().any(|link| link["ip_address"] == "172.16.5.5")))
        .cloned()
        .unwrap_or_else(|| panic!("a rack interface holds 172.16.5.5: {racks:?}"));
    assert_eq!(holder["links"][0]["subnet"]["cidr"], "172.16.5.0/24");
    assert_eq!(holder["links"][0]["mode"], "static");

    driver.ensure_network_template(&site).await.expect("create_network_template");
    let subnets: Vec<Value> = driver.client().get("test", "subnets/", None, &[]).await.expect("subnets");
    let pxe = subnets.iter().find(|subnet| subnet["cidr"] == "172.16.0.0/24").expect("the pxe subnet");
    let pxe_vlan = vlan(&driver, pxe["vlan"]["id"].as_i64().expect("vlan id")).await;
    assert_eq!(pxe_vlan["relay_vlan"]["id"], holder["vlan"]["id"], "relayed to the rack's VLAN: {pxe_vlan}");
    assert_eq!(pxe_vlan["dhcp_on"], false, "MaaS's own DHCP stays off on a relayed VLAN");
    assert!(pxe_vlan["primary_rack"].is_null(), "{pxe_vlan}");
}

#[tokio::test]
async fn without_a_rack_holding_the_target_the_network_step_fails_naming_it() {
    let site = fullsite();
    let mut scenario = lab_scenario(&site, &LabOptions { enlisted: true, ..LabOptions::default() });
    // The rack keeps its interface on the PXE network (it could serve DHCP
    // there) but not the relay's upstream address.
    for interface in scenario["rack_controllers"][0]["interfaces"].as_array_mut().expect("interfaces") {
        interface.as_object_mut().expect("interface").remove("links");
    }
    let lab = SimLab::start(serde_json::from_value(scenario).expect("scenario")).await.expect("lab");
    let driver = driver(&lab);
    let error = driver.ensure_network_template(&site).await.expect_err("no rack holds 172.16.5.5");
    let text = error.to_string();
    assert!(text.contains("Network pxe requires DHCP through a relay to 172.16.5.5"), "{text}");
    assert!(text.contains("no healthy rack controller has an interface with the address 172.16.5.5"), "{text}");
    let fabrics: Vec<Value> = driver.client().get("test", "fabrics/", None, &[]).await.expect("fabrics");
    let dhcp_on: Vec<&Value> =
        fabrics.iter().flat_map(|fabric| fabric["vlans"].as_array().into_iter().flatten()).filter(|vlan| vlan["dhcp_on"] == true).collect();
    assert!(dhcp_on.is_empty(), "no fallback to MaaS DHCP on some rack: {dhcp_on:?}");
}
