//! JSON shapes: every field drivers.md §3.4 lists (transcribed in
//! `fixtures/maas/fields.json`) is present in the emulator's objects, with
//! the resource URIs and value types clients rely on.

use crate::http::Client;
use serde_json::Value;

fn fields(kind: &str) -> Vec<String> {
    let all: Value = serde_json::from_str(include_str!("../../fixtures/maas/fields.json")).expect("fields fixture parses");
    all[kind].as_array().map(|a| a.iter().filter_map(|f| f.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn assert_shape(kind: &str, value: &Value) {
    let missing: Vec<String> = fields(kind).into_iter().filter(|f| value.get(f).is_none()).collect();
    assert!(missing.is_empty(), "{kind} lacks {missing:?}: {value}");
}

#[tokio::test]
async fn objects_carry_every_spec_field() {
    let client = Client::start(Client::fixture()).await;
    let sid = client.sid("node01");
    let machine = client.get(&format!("machines/{sid}/")).await.json();
    assert_shape("machine", &machine);
    assert!(machine["status"].is_i64() && machine["storage"].is_f64());
    assert_eq!(machine["resource_uri"], format!("/MAAS/api/2.0/machines/{sid}/"));
    assert_shape("interface", &machine["interface_set"][0]);
    assert_shape("vlan", &machine["interface_set"][0]["vlan"]);
    assert_shape("subnet", &machine["interface_set"][0]["links"][0]["subnet"]);
    let device = &machine["blockdevice_set"][0];
    assert_shape("block_device", device);
    assert_shape("partition", &device["partitions"][0]);
    assert_shape("filesystem", &device["partitions"][0]["filesystem"]);
    assert_eq!(device["partitions"][0]["path"], "/dev/disk/by-dname/sda-part1");
    let rack = &client.get("rackcontrollers/").await.json()[0];
    assert_shape("rack_controller", rack);
    assert!(rack["status_name"].is_null());
    assert_shape("fabric", &client.get("fabrics/0/").await.json());
    assert_shape("domain", &client.get("domains/").await.json()[0]);
    assert_shape("iprange", &client.get("ipranges/").await.json()[0]);
    assert_shape("package_repository", &client.get("package-repositories/").await.json()[0]);
    assert_shape("boot_source", &client.get("boot-sources/").await.json()[0]);
    assert_shape("boot_source_selection", &client.get("boot-sources/1/selections/").await.json()[0]);
    assert_shape("script_result", &client.get("installation-results/").await.json()[0]);
    let tag = client.post("tags/", &[("name", "t1")]).await.json();
    assert_shape("tag", &tag);
    let layout = client.post(&format!("machines/{sid}/?op=set_storage_layout"), &[("storage_layout", "lvm")]).await;
    assert_eq!(layout.status, 200, "{}", layout.text());
    let vg = &client.get(&format!("nodes/{sid}/volume-groups/")).await.json()[0];
    assert_shape("volume_group", vg);
    assert_eq!(vg["logical_volumes"][0]["parent"]["type"], "lvm-vg");
    assert_eq!(vg["resource_uri"], format!("/MAAS/api/2.0/nodes/{sid}/volume-group/{}/", vg["id"]));
}

#[tokio::test]
async fn details_is_bson_with_lshw_naming_nics_and_disks() {
    let client = Client::start(Client::fixture()).await;
    let sid = client.sid("node01");
    let details = client.get(&format!("machines/{sid}/?op=details")).await;
    assert_eq!(details.header("content-type"), Some("application/bson"));
    let total = i32::from_le_bytes([details.body[0], details.body[1], details.body[2], details.body[3]]);
    assert_eq!(total as usize, details.body.len());
    let text = String::from_utf8_lossy(&details.body);
    assert!(text.contains("<businfo>pci@0000:02:00.0</businfo><logicalname>enp2s0</logicalname>"));
    assert!(text.contains("<businfo>scsi@1:0:0:0</businfo><logicalname>/dev/sdb</logicalname>"));
    let fresh = client.get(&format!("machines/{}/?op=details", client.sid("node03"))).await;
    // New machine: {"lshw": null, "lldp": null}.
    let mut expected = vec![17u8, 0, 0, 0];
    expected.extend_from_slice(b"\x0alshw\0\x0alldp\0\0");
    assert_eq!(fresh.body, expected);
}

/// Golden files: the emulator's JSON for a machine, an interface, a VLAN, a
/// subnet and a block device (drivers.md §3.9 item 3). Regenerate with
/// `DRYDOCK_SIM_BLESS=1 cargo test -p drydock-sim --test sim golden`.
#[tokio::test]
async fn golden_payloads_are_stable() {
    let client = Client::start(Client::fixture()).await;
    let sid = client.sid("node01");
    let machine = client.get(&format!("machines/{sid}/")).await.json();
    let golden = serde_json::json!({
        "machine": machine,
        "interface": machine["interface_set"][0],
        "vlan": machine["interface_set"][0]["vlan"],
        "subnet": machine["interface_set"][0]["links"][0]["subnet"],
        "block_device": machine["blockdevice_set"][0],
    });
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/golden/node01.json");
    let rendered = serde_json::to_string_pretty(&golden).expect("serialise") + "\n";
    if std::env::var_os("DRYDOCK_SIM_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        std::fs::write(&path, &rendered).expect("write golden");
    }
    let expected = std::fs::read_to_string(&path).expect("golden file exists (bless it first)");
    assert_eq!(rendered, expected, "emulator JSON changed; review and re-bless if intended");
}

#[tokio::test]
async fn cached_node_json_follows_network_and_tag_changes() {
    let client = Client::start(Client::fixture()).await;
    let sid = client.sid("node01");
    let before = client.get("machines/").await.json();
    let node01 =
        |list: &Value| list.as_array().and_then(|l| l.iter().find(|m| m["system_id"] == sid.as_str()).cloned()).unwrap_or_default();
    assert_eq!(node01(&before)["boot_interface"]["vlan"]["name"], "untagged");
    let renamed = client.call("PUT", "fabrics/0/vlans/0/", &[("name", "pxe")]).await;
    assert_eq!(renamed.status, 200);
    let tagged = client.post("tags/", &[("name", "fast")]).await;
    assert_eq!(tagged.status, 200);
    client.post("tags/fast/?op=update_nodes", &[("add", &sid)]).await;
    let after = client.get("machines/").await.json();
    assert_eq!(node01(&after)["boot_interface"]["vlan"]["name"], "pxe");
    assert_eq!(node01(&after)["tag_names"], serde_json::json!(["fast"]));
}
