//! The planners on their own: hand-made MaaS states against the example
//! site, checking the decisions the request-log snapshots cannot isolate.

use std::collections::HashSet;

use serde_json::json;

use super::network::{NetworkState, plan as network_plan};
use super::{Plan, deploy, platform, storage};
use crate::compile::{EffectiveSite, compile};
use crate::drivers::DeployRequest;
use crate::drivers::maas::plan::{Call, Val};
use crate::drivers::maas::resources::machines::Machine;
use crate::drivers::maas::resources::storage::{BlockDevice, VolumeGroup};
use crate::drivers::maas::resources::tags::Tag;
use crate::ingest::Ingester;

fn site() -> EffectiveSite {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/site.yaml")).expect("example site");
    compile(Ingester::new().ingest_str(&text, None).expect("ingests").design).expect("compiles")
}

fn from<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("shape")
}

fn lines(plan: &super::Plan) -> Vec<String> {
    plan.calls.iter().map(ToString::to_string).collect()
}

/// MaaS as discovered: the PXE subnet on `fabric-pxe`, served by `rack01`
/// whose interface on that VLAN has `rack_ip`.
fn discovered(rack_ip: &str) -> NetworkState {
    NetworkState {
        fabrics: from(
            json!([{"id": 1, "name": "fabric-pxe", "vlans": [{"id": 11, "vid": 0, "name": "untagged", "mtu": 1500, "fabric_id": 1}]}]),
        ),
        subnets: from(json!([{"id": 5, "name": "10.20.0.0/24", "cidr": "10.20.0.0/24", "vlan": {"id": 11, "vid": 0, "fabric_id": 1}}])),
        racks: from(json!([{"system_id": "rack01", "hostname": "rack01",
            "interface_set": [{"id": 3, "name": "eth0", "vlan": {"id": 11, "vid": 0, "fabric_id": 1},
                               "links": [{"id": 9, "mode": "static", "ip_address": rack_ip}]}],
            "service_set": [{"name": "rackd", "status": "running"}, {"name": "tftp", "status": "running"},
                            {"name": "http", "status": "running"}, {"name": "dhcpd", "status": "off"}]}])),
        ..NetworkState::default()
    }
}

#[test]
fn the_pxe_fabric_is_renamed_and_new_networks_bind_ids_of_earlier_calls() {
    let plan = network_plan(&site(), &discovered("10.20.0.4"));
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    let calls = lines(&plan);
    assert!(calls.contains(&"PUT fabrics/1/".to_string()), "the discovered fabric takes the link's name: {calls:?}");
    let create = plan.calls.iter().find(|c| c.path == "fabrics/" && c.literal("name") == Some("data")).expect("data fabric created");
    assert!(create.binds.iter().any(|(name, pointer)| name == "fabric:data" && *pointer == "/id"));
    let vlan =
        plan.calls.iter().find(|c| c.path == "fabrics/{fabric:data}/vlans/" && c.literal("name") == Some("mgmt")).expect("mgmt VLAN");
    assert_eq!(vlan.literal("vid"), Some("100"));
    let subnet = plan.calls.iter().find(|c| c.path == "subnets/" && c.literal("name") == Some("mgmt")).expect("mgmt subnet");
    assert!(subnet.form.contains(&("vlan".into(), Val::Ref("vlan:mgmt".into()))), "{subnet:?}");
    assert_eq!(subnet.literal("gateway_ip"), Some("10.30.0.1"));
}

/// [`discovered`] with the rack's address on a VLAN of its own (id 21 on
/// `fabric-rack`), as a relay's upstream target is.
fn rack_upstream(rack_ip: &str) -> NetworkState {
    let mut state = discovered("10.20.0.250");
    state.fabrics.push(from(json!({"id": 2, "name": "fabric-rack", "vlans": [{"id": 21, "vid": 0, "fabric_id": 2}]})));
    state.subnets.push(from(json!({"id": 6, "cidr": "172.16.5.0/24", "vlan": {"id": 21, "vid": 0, "fabric_id": 2}})));
    state.racks[0].interface_set.push(from(json!({"id": 4, "name": "eth1", "vlan": {"id": 21, "vid": 0, "fabric_id": 2},
        "links": [{"id": 10, "mode": "static", "ip_address": rack_ip}]})));
    state
}

/// The example site with the PXE network's relay target set to `target`.
fn relayed_site(target: &str) -> EffectiveSite {
    let mut site = site();
    let pxe = site.design.networks.iter_mut().find(|network| network.meta.name() == "pxe").expect("pxe network");
    pxe.dhcp_relay_upstream_target = Some(target.into());
    site
}

#[test]
fn dhcp_goes_to_the_relay_vlan_of_the_rack_that_owns_the_upstream_target() {
    let relayed = network_plan(&relayed_site("172.16.5.5"), &rack_upstream("172.16.5.5"));
    let relay = relayed.calls.iter().find(|c| c.form.iter().any(|(k, _)| k == "relay_vlan")).expect("relay set");
    assert_eq!((relay.literal("relay_vlan"), relay.literal("dhcp_on")), (Some("21"), Some("False")));
    assert!(relayed.calls.iter().all(|c| c.literal("dhcp_on") != Some("True")), "MaaS DHCP stays off on a relayed VLAN");
    assert!(relayed.problems.is_empty(), "{:?}", relayed.problems);
}

#[test]
fn a_relayed_network_without_the_rack_that_owns_the_target_fails_naming_both() {
    // rack01 is on the PXE VLAN and could serve it, but the design says the
    // network is relayed to 172.16.5.5, which no rack holds: no fallback.
    let refused = network_plan(&relayed_site("172.16.5.5"), &rack_upstream("172.16.5.6"));
    assert!(
        refused.problems.iter().any(|p| p.contains("Network pxe requires DHCP through a relay to 172.16.5.5")
            && p.contains("no healthy rack controller has an interface with the address 172.16.5.5")),
        "{:?}",
        refused.problems
    );
    assert!(refused.calls.iter().all(|c| c.literal("dhcp_on") != Some("True") && c.literal("relay_vlan").is_none()), "{refused:?}");
    let mut unhealthy = rack_upstream("172.16.5.5");
    unhealthy.racks[0].service_set.retain(|service| service.name != "tftp");
    let refused = network_plan(&relayed_site("172.16.5.5"), &unhealthy);
    assert!(
        refused.problems.iter().any(|p| p.contains("relay to 172.16.5.5")),
        "an unhealthy holder does not count: {:?}",
        refused.problems
    );
}

#[test]
fn a_relay_target_on_the_network_itself_is_served_directly_by_its_rack() {
    // examples/site.yaml relays pxe to 10.20.0.4, inside pxe: the rack with
    // that address is on the segment and serves DHCP (no self-relay).
    let direct = network_plan(&site(), &discovered("10.20.0.4"));
    let dhcp = direct.calls.iter().find(|c| c.literal("dhcp_on") == Some("True")).expect("rack serves DHCP");
    assert_eq!(dhcp.literal("primary_rack"), Some("rack01"));
    assert!(direct.calls.iter().all(|c| c.literal("relay_vlan").is_none()));
}

#[test]
fn an_unrelayed_network_is_served_by_a_healthy_rack_on_its_vlan() {
    let mut site = site();
    site.design.networks.iter_mut().for_each(|network| network.dhcp_relay_upstream_target = None);
    let served = network_plan(&site, &discovered("10.20.0.9"));
    let dhcp = served.calls.iter().find(|c| c.literal("dhcp_on") == Some("True")).expect("rack serves DHCP");
    assert_eq!(dhcp.literal("primary_rack"), Some("rack01"));
    let mut unhealthy = discovered("10.20.0.9");
    unhealthy.racks[0].service_set.retain(|service| service.name != "tftp");
    let refused = network_plan(&site, &unhealthy);
    assert!(refused.problems.iter().any(|p| p.contains("Network pxe requires DHCP")), "{:?}", refused.problems);
}

#[test]
fn networks_split_over_two_fabrics_are_refused() {
    let mut state = discovered("10.20.0.9");
    state.fabrics.push(from(json!({"id": 2, "name": "fabric-1", "vlans": [{"id": 21, "vid": 0, "fabric_id": 2}]})));
    state.subnets.push(from(json!({"id": 6, "cidr": "10.30.0.0/24", "vlan": {"id": 21, "vid": 0, "fabric_id": 2}})));
    state.subnets.push(from(json!({"id": 7, "cidr": "10.40.0.0/24", "vlan": {"id": 11, "vid": 0, "fabric_id": 1}})));
    let plan = network_plan(&site(), &state);
    assert!(plan.problems.iter().any(|p| p.contains("NetworkLink data") && p.contains("self-discovered")), "{:?}", plan.problems);
}

fn disk(id: i64, name: &str, size: u64, available: u64) -> BlockDevice {
    from(json!({"id": id, "name": name, "type": "physical", "size": size, "available_size": available, "partitions": []}))
}

#[test]
fn storage_resets_then_lays_out_root_and_sizes_against_what_maas_reports() {
    let site = site();
    let node = &site.nodes()[0];
    let names = [("bootdisk".to_string(), "sda".to_string()), ("datadisk".to_string(), "sdb".to_string())].into_iter().collect();
    let mut old = disk(7, "sda", 480_000_000_000, 0);
    old.partitions = from(json!([{"id": 70, "size": 1}]));
    let vgs: Vec<VolumeGroup> = from(json!([{"id": 40, "name": "old", "logical_volumes": [{"id": 41, "name": "lv"}]}]));
    let layout = storage::plan_reset_and_layout(node, "abc", &[old, disk(8, "sdb", 480_000_000_000, 480_000_000_000)], &vgs, &names);
    assert_eq!(
        lines(&layout),
        [
            "POST nodes/abc/volume-group/40/?op=delete_logical_volume",
            "DELETE nodes/abc/volume-group/40/",
            "DELETE nodes/abc/blockdevices/7/partition/70",
            "POST nodes/abc/blockdevices/7/?op=set_boot_disk",
            "POST machines/abc/?op=set_storage_layout",
        ]
    );
    let set = &layout.calls[4];
    assert_eq!(
        (set.literal("storage_layout"), set.literal("root_size"), set.literal("boot_size")),
        (Some("flat"), Some("40000000000"), Some("2000000000"))
    );

    let after = [disk(7, "sda", 480_000_000_000, 437_000_000_000), disk(8, "sdb", 480_000_000_000, 480_000_000_000)];
    let parts = storage::plan_partitions_and_vgs(node, "abc", &after, &names);
    assert!(parts.problems.is_empty(), "{:?}", parts.problems);
    let vg = parts.calls.iter().find(|c| c.path == "nodes/abc/volume-groups/").expect("data VG");
    assert_eq!((vg.literal("name"), vg.literal("block_devices")), (Some("vg-data"), Some("8")));

    let observed: Vec<VolumeGroup> =
        from(json!([{"id": 50, "name": "vg-data", "size": 1_000_000_000u64, "available_size": 1_000_000_000u64}]));
    let lvs = storage::plan_logical_volumes(node, "abc", &observed);
    let sizes: Vec<&str> = lvs.calls.iter().filter_map(|c| c.literal("size")).collect();
    assert_eq!(sizes, ["400000000", "200000000", "250000000"], "percentages of the VG MaaS created");
    assert!(lvs.calls.iter().any(|c| c.path == "nodes/abc/blockdevices/{lv:vg-data:lv-containers}/" && c.op == Some("mount")));

    let missing = storage::plan_partitions_and_vgs(node, "abc", &after[..1], &names);
    assert!(missing.problems.iter().any(|p| p.contains("no disk sdb")), "{:?}", missing.problems);
}

fn machine(status: &str, tags: &[&str]) -> Machine {
    from(json!({"system_id": "abc", "hostname": "n1", "status_name": status, "tag_names": tags, "owner_data": {"site": "synth7"}}))
}

#[test]
fn platform_replaces_a_changed_kernel_tag_and_skips_what_is_in_place() {
    let site = site();
    let node = &site.nodes()[0];
    let kp = platform::kernel_tag_name(node);
    let line = crate::compile::hardware::kernel_command_line(&node.config.kernel_params).expect("params");
    let mut tags: Vec<&str> = node.config.tags.iter().map(String::as_str).collect();
    tags.push(&kp);
    let same = Tag { name: kp.clone(), kernel_opts: Some(line) };
    let none = HashSet::new();
    assert!(platform::plan(node, &machine("Ready", &tags), Some(&same), &none).calls.is_empty(), "nothing to do");
    let stale = Tag { name: kp.clone(), kernel_opts: Some("quiet".into()) };
    let changed = lines(&platform::plan(node, &machine("Ready", &tags), Some(&stale), &none));
    assert_eq!(changed, [format!("DELETE tags/{kp}/"), "POST tags/".into(), format!("POST tags/{kp}/?op=update_nodes")]);
}

#[test]
fn platform_creates_only_the_static_tags_not_known_to_exist() {
    let site = site();
    let node = &site.nodes()[0];
    let kp = platform::kernel_tag_name(node);
    let line = crate::compile::hardware::kernel_command_line(&node.config.kernel_params).expect("params");
    let same = Tag { name: kp.clone(), kernel_opts: Some(line) };
    let bare = machine("Ready", &[&kp]);
    let static_tags = &node.config.tags;
    assert!(static_tags.len() >= 2, "the test site's node has static tags");
    let creates = |plan: &Plan| {
        plan.calls.iter().filter(|call| call.path == "tags/").filter_map(|call| call.literal("name").map(str::to_owned)).collect::<Vec<_>>()
    };
    let applies = |plan: &Plan| plan.calls.iter().filter(|call| call.op == Some("update_nodes")).count();

    let unknown = platform::plan(node, &bare, Some(&same), &HashSet::new());
    assert_eq!(&creates(&unknown), static_tags);
    assert_eq!(applies(&unknown), static_tags.len());
    let first_known: HashSet<String> = static_tags.iter().take(1).cloned().collect();
    let partly = platform::plan(node, &bare, Some(&same), &first_known);
    assert_eq!(creates(&partly), static_tags[1..].to_vec(), "a known tag is applied without creating it");
    assert_eq!(applies(&partly), static_tags.len());
}

#[test]
fn deploy_allocates_ready_machines_and_swaps_the_key_tag() {
    let request = DeployRequest {
        image: Some("jammy".into()),
        kernel: None,
        user_data: Some("#cloud-config\n".into()),
        owner_data: [("site".to_string(), "synth7".to_string()), ("role".to_string(), "compute".to_string())].into_iter().collect(),
        bootaction_key: Some("ab".repeat(32)),
    };
    let ready = deploy::plan(&machine("Ready", &["n1__baid__old"]), &request);
    assert_eq!(
        lines(&ready),
        [
            "POST machines/?op=allocate",
            "POST machines/abc/?op=set_workload_annotations",
            "DELETE tags/n1__baid__old/",
            "POST tags/",
            &format!("POST tags/n1__baid__{}/?op=update_nodes", "ab".repeat(32)),
            "POST machines/abc/?op=deploy",
        ],
        "owner data already in place is not sent again"
    );
    assert_eq!((ready.calls[1].literal("role"), ready.calls[1].literal("site")), (Some("compute"), None), "only the changed key");
    let fresh = Machine { owner_data: Default::default(), ..machine("Ready", &[]) };
    let both = deploy::plan(&fresh, &request);
    let annotations: Vec<&Call> = both.calls.iter().filter(|call| call.op == Some("set_workload_annotations")).collect();
    assert_eq!(annotations.len(), 1, "every key in one request");
    assert_eq!((annotations[0].literal("site"), annotations[0].literal("role")), (Some("synth7"), Some("compute")));
    let deploy = ready.calls.last().expect("deploy");
    assert_eq!(deploy.literal("user_data"), Some("I2Nsb3VkLWNvbmZpZwo="), "base64 of the cloud-config");
    assert_eq!(deploy.literal("hwe_kernel"), None);
    let allocated = deploy::plan(&machine("Allocated", &[]), &DeployRequest { bootaction_key: None, ..request.clone() });
    assert_eq!(allocated.calls.first().map(ToString::to_string).as_deref(), Some("POST machines/abc/?op=set_workload_annotations"));
    let deployed = deploy::plan(&machine("Deployed", &[]), &request);
    assert!(deployed.calls.is_empty() && deployed.problems.len() == 1);
}
