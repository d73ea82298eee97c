//! MaaS API behaviour: authentication, dispatch errors, filters, body
//! decoding, storage endpoints and their arithmetic.

use crate::http::{Client, send};
use serde_json::json;

const MIB: u64 = 1024 * 1024;

#[tokio::test]
async fn missing_or_bad_signature_gets_401_and_is_logged() {
    let client = Client::start(Client::fixture()).await;
    let anonymous = send("GET", &client.url("machines/"), &[], b"").await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.text(), "Authorization Error: Invalid API key.");
    assert_eq!(anonymous.header("www-authenticate"), Some("OAuth realm=\"OAuth\""));
    let key = client.lab.api_key();
    let wrong = key.rsplit_once(':').map(|(head, _)| format!("{head}:nope")).unwrap_or_default();
    let bad = send("GET", &client.url("machines/"), &[("Authorization", crate::http::oauth(&wrong))], b"").await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.text(), "Authorization Error: 'Invalid signature.'");
    let good = client.get("machines/").await;
    assert_eq!(good.status, 200);
    let log = client.lab.requests();
    let auth: Vec<(&str, u16)> = log.iter().map(|r| (r.auth.as_str(), r.status)).collect();
    assert_eq!(auth, vec![("failed", 401), ("failed", 401), ("ok", 200)]);
}

#[tokio::test]
async fn version_and_describe_are_anonymous() {
    let client = Client::start(Client::fixture()).await;
    let version = send("GET", &client.url("version/"), &[], b"").await;
    assert_eq!(version.status, 200);
    assert!(version.json()["capabilities"].as_array().is_some_and(|c| c.contains(&json!("authenticate-api"))));
    let describe = send("GET", &client.url("describe/"), &[], b"").await;
    assert_eq!(describe.header("content-type"), Some("application/json"));
    let names: Vec<String> = describe.json()["resources"]
        .as_array()
        .map(|r| r.iter().filter_map(|x| x["name"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    for handler in [
        "MachinesHandler",
        "MachineHandler",
        "InterfacesHandler",
        "BlockDevicesHandler",
        "PartitionHandler",
        "VolumeGroupHandler",
        "FabricsHandler",
        "VlanHandler",
        "SubnetsHandler",
        "TagHandler",
        "NodeResultsHandler",
        "SSHKeysHandler",
        "ZonesHandler",
        "ResourcePoolsHandler",
    ] {
        assert!(names.iter().any(|n| n == handler), "{handler} missing from describe");
    }
}

#[tokio::test]
async fn unknown_paths_and_ops_follow_maas_conventions() {
    let client = Client::start(Client::fixture()).await;
    let missing = client.get("nonsense/").await;
    assert_eq!((missing.status, missing.text()), (404, "Unknown API endpoint: /MAAS/api/2.0/nonsense/.".to_owned()));
    let bad_op = client.post("machines/?op=frobnicate", &[]).await;
    assert_eq!((bad_op.status, bad_op.text()), (400, "Unrecognised signature: method=POST op=frobnicate".to_owned()));
    let no_machine = client.get("machines/zzzzzz/").await;
    // MaaS 2.x answers every missing object with piston's plain "Not Found".
    assert_eq!((no_machine.status, no_machine.text()), (404, "Not Found".to_owned()));
    // A method no action of the handler uses is piston's 405 with `Allow`.
    let not_allowed = client.call("PUT", "machines/", &[]).await;
    assert_eq!(not_allowed.status, 405);
    assert_eq!(not_allowed.header("allow"), Some("GET, POST"));
}

#[tokio::test]
async fn machine_filters_and_power_parameters() {
    let client = Client::start(Client::fixture()).await;
    let by_host = client.get("machines/?hostname=node02").await.json();
    assert_eq!(by_host.as_array().map(Vec::len), Some(1));
    assert_eq!(by_host[0]["hostname"], "node02");
    let by_mac = client.get("machines/?mac_address=52:54:00:00:01:02").await.json();
    assert_eq!(by_mac[0]["hostname"], "node01");
    let malformed = client.get("machines/?mac_address=zz").await;
    assert_eq!(malformed.status, 400);
    let params = client.get("machines/?op=power_parameters").await.json();
    let node03 = client.sid("node03");
    assert_eq!(params[&node03]["power_address"], "10.23.104.13");
    let racks = client.get("rackcontrollers/").await.json();
    assert_eq!(racks[0]["hostname"], "rack01");
    assert_eq!(racks[0]["node_type_name"], "Rack controller");
    assert!(client.get("machines/").await.json().as_array().is_some_and(|m| m.iter().all(|x| x["hostname"] != "rack01")));
    let log = client.lab.requests();
    assert_eq!(log[1].query.get("mac_address"), Some(&vec!["52:54:00:00:01:02".to_owned()]));
    assert_eq!(log[3].op.as_deref(), Some("power_parameters"));
}

#[tokio::test]
async fn base64_multipart_fields_are_decoded_and_logged() {
    let client = Client::start(Client::fixture()).await;
    let sid = client.sid("node02");
    let answer =
        client.call("PUT", &format!("machines/{sid}/"), &[("hostname", "renamed-02"), ("power_parameters_power_user", "root")]).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["hostname"], "renamed-02");
    assert_eq!(answer.json()["fqdn"], "renamed-02.maas");
    let params = client.get(&format!("machines/{sid}/?op=power_parameters")).await.json();
    assert_eq!(params["power_user"], "root");
    let record = &client.lab.requests()[0];
    assert_eq!(record.method, "PUT");
    assert_eq!(record.form.get("hostname"), Some(&vec!["renamed-02".to_owned()]));
    let clash = client.call("PUT", &format!("machines/{sid}/"), &[("hostname", "node01")]).await;
    assert_eq!(clash.status, 400);
}

#[tokio::test]
async fn storage_layout_partitions_and_volume_groups() {
    let client = Client::start(Client::fixture()).await;
    let sid = client.sid("node01");
    let devices = client.get(&format!("nodes/{sid}/blockdevices/")).await.json();
    let sda = devices.as_array().and_then(|d| d.iter().find(|x| x["name"] == "sda")).cloned().unwrap_or_default();
    let sdb = devices.as_array().and_then(|d| d.iter().find(|x| x["name"] == "sdb")).cloned().unwrap_or_default();
    let (sda_id, sdb_id) = (sda["id"].to_string(), sdb["id"].to_string());
    // Flat default layout: whole disk used, available 0.
    assert_eq!(sda["available_size"], 0);
    assert_eq!(sda["partition_table_type"], "GPT");

    let lvm = client
        .post(
            &format!("machines/{sid}/?op=set_storage_layout"),
            &[("storage_layout", "lvm"), ("boot_size", "1G"), ("root_size", "100G"), ("lv_size", "50%")],
        )
        .await;
    assert_eq!(lvm.status, 200, "{}", lvm.text());
    let vgs = client.get(&format!("nodes/{sid}/volume-groups/")).await.json();
    let vg = &vgs[0];
    assert_eq!(vg["name"], "vgroot");
    let root_part = (100_000_000_000u64 / (4 * MIB)) * 4 * MIB;
    let vg_size = (root_part / (4 * MIB) - 1) * 4 * MIB;
    assert_eq!(vg["size"], vg_size);
    let lv_size = (((vg_size as f64) * 0.5) as u64) / (4 * MIB) * 4 * MIB;
    assert_eq!(vg["logical_volumes"][0]["size"], lv_size);
    assert_eq!(vg["logical_volumes"][0]["name"], "vgroot-lvroot");
    assert_eq!(vg["available_size"], vg_size - lv_size);

    // Partition on the second disk: aligned down, too-large refused.
    let part = client.post(&format!("nodes/{sid}/blockdevices/{sdb_id}/partitions/"), &[("size", "10000001")]).await;
    assert_eq!(part.status, 200, "{}", part.text());
    assert_eq!(part.json()["size"], 8 * MIB);
    let part_id = part.json()["id"].to_string();
    let too_big = client.post(&format!("nodes/{sid}/blockdevices/{sdb_id}/partitions/"), &[("size", "2000398934016")]).await;
    assert_eq!(too_big.status, 400);
    assert_eq!(too_big.json(), json!({"size": ["Partition cannot be saved; not enough free space on the block device."]}));
    let over_disk = client.post(&format!("nodes/{sid}/blockdevices/{sdb_id}/partitions/"), &[("size", "3000000000000")]).await;
    assert_eq!(over_disk.json(), json!({"size": ["Ensure this value is less than or equal to 2000398934016."]}));
    let sdb_after = client.get(&format!("nodes/{sid}/blockdevices/{sdb_id}/")).await.json();
    let overhead = 6 * MIB;
    assert_eq!(sdb_after["available_size"], (2000398934016 - overhead - 8 * MIB) / (4 * MIB) * (4 * MIB));
    // Singular spelling without trailing slash, then format and mount.
    let one = client.get(&format!("nodes/{sid}/blockdevices/{sdb_id}/partition/{part_id}")).await;
    assert_eq!(one.status, 200);
    let formatted = client.post(&format!("nodes/{sid}/blockdevices/{sdb_id}/partition/{part_id}?op=format"), &[("fstype", "xfs")]).await;
    assert_eq!(formatted.json()["filesystem"]["fstype"], "xfs");
    let mounted =
        client.post(&format!("nodes/{sid}/blockdevices/{sdb_id}/partition/{part_id}?op=mount"), &[("mount_point", "/data")]).await;
    assert_eq!(mounted.json()["filesystem"]["mount_point"], "/data");
    // A VG member cannot be formatted; a formatted disk cannot take a VG.
    let vg_on_sda = client.post(&format!("nodes/{sid}/volume-groups/"), &[("name", "vg2"), ("block_devices", &sda_id)]).await;
    assert_eq!(vg_on_sda.status, 400);

    // Storage edits outside Ready get 409.
    client.post("machines/?op=allocate", &[("system_id", &sid)]).await;
    let refused = client.post(&format!("machines/{sid}/?op=set_storage_layout"), &[("storage_layout", "flat")]).await;
    assert_eq!((refused.status, refused.text()), (409, "Cannot change the storage layout on a machine that is not Ready.".to_owned()));
    let refused_part = client.post(&format!("nodes/{sid}/blockdevices/{sdb_id}/partitions/"), &[("size", "8M")]).await;
    assert_eq!(refused_part.status, 409);
}

#[tokio::test]
async fn interfaces_bond_vlan_and_links() {
    let client = Client::start(Client::fixture()).await;
    let sid = client.sid("node01");
    let ifaces = client.get(&format!("nodes/{sid}/interfaces/")).await.json();
    let eno1 = ifaces.as_array().and_then(|i| i.iter().find(|x| x["name"] == "eno1")).cloned().unwrap_or_default();
    let enp2 = ifaces.as_array().and_then(|i| i.iter().find(|x| x["name"] == "enp2s0")).cloned().unwrap_or_default();
    let mixed = client
        .post(
            &format!("nodes/{sid}/interfaces/?op=create_bond"),
            &[("name", "bond0"), ("parents", &eno1["id"].to_string()), ("parents", &enp2["id"].to_string())],
        )
        .await;
    assert_eq!(mixed.status, 400, "parents on different VLANs must be refused");
    let bond = client
        .post(
            &format!("nodes/{sid}/interfaces/?op=create_bond"),
            &[("name", "bond0"), ("parents", &enp2["id"].to_string()), ("bond_mode", "802.3ad"), ("mtu", "9000")],
        )
        .await;
    assert_eq!(bond.status, 200, "{}", bond.text());
    assert_eq!(bond.json()["params"]["bond_mode"], "802.3ad");
    assert_eq!(bond.json()["effective_mtu"], 9000);
    assert_eq!(bond.json()["mac_address"], "52:54:00:00:01:02");
    let vlans = client.get("fabrics/").await.json();
    let data = vlans.as_array().and_then(|f| f.iter().find(|x| x["name"] == "fabric-data")).cloned().unwrap_or_default();
    let vlan100 = data["vlans"].as_array().and_then(|v| v.iter().find(|x| x["vid"] == 100)).cloned().unwrap_or_default();
    let bond_id = bond.json()["id"].to_string();
    let tagged = client
        .post(&format!("nodes/{sid}/interfaces/?op=create_vlan"), &[("vlan", &vlan100["id"].to_string()), ("parent", &bond_id)])
        .await;
    assert_eq!(tagged.status, 200, "{}", tagged.text());
    assert_eq!(tagged.json()["name"], "bond0.100");
    let duplicate = client
        .post(&format!("nodes/{sid}/interfaces/?op=create_vlan"), &[("vlan", &vlan100["id"].to_string()), ("parent", &bond_id)])
        .await;
    assert_eq!(duplicate.status, 400);
    let subnets = client.get("subnets/").await.json();
    let subnet100 = subnets.as_array().and_then(|s| s.iter().find(|x| x["cidr"] == "10.10.100.0/24")).cloned().unwrap_or_default();
    let tagged_id = tagged.json()["id"].to_string();
    let linked = client
        .post(
            &format!("nodes/{sid}/interfaces/{tagged_id}/?op=link_subnet"),
            &[("mode", "STATIC"), ("subnet", &subnet100["id"].to_string()), ("ip_address", "10.10.100.7")],
        )
        .await;
    assert_eq!(linked.status, 200, "{}", linked.text());
    assert_eq!(linked.json()["links"][0]["ip_address"], "10.10.100.7");
    let taken = client
        .post(
            &format!("nodes/{sid}/interfaces/{tagged_id}/?op=link_subnet"),
            &[("mode", "static"), ("subnet", &subnet100["id"].to_string()), ("ip_address", "10.10.100.7")],
        )
        .await;
    assert_eq!((taken.status, taken.text()), (404, "IP address is already in use.".to_owned()));
    let restored = client.post(&format!("machines/{sid}/?op=restore_networking_configuration"), &[]).await;
    assert_eq!(restored.status, 200);
    let names: Vec<String> = restored.json()["interface_set"]
        .as_array()
        .map(|i| i.iter().filter_map(|x| x["name"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    assert_eq!(names, vec!["eno1", "enp2s0"]);
    assert_eq!(restored.json()["boot_interface"]["links"][0]["mode"], "auto");
}

#[tokio::test]
async fn networking_objects_validate_like_maas() {
    let client = Client::start(Client::fixture()).await;
    let fabric = client.post("fabrics/", &[("name", "oob")]).await;
    assert_eq!(fabric.status, 200);
    assert_eq!(fabric.json()["vlans"][0]["name"], "untagged");
    let fid = fabric.json()["id"].to_string();
    assert_eq!(client.post("fabrics/", &[("name", "oob")]).await.status, 400);
    let vlan = client.post(&format!("fabrics/{fid}/vlans/"), &[("vid", "42")]).await;
    assert_eq!(vlan.json()["name"], "42");
    let renamed = client.call("PUT", &format!("fabrics/{fid}/vlans/42/"), &[("vid", "43")]).await;
    assert_eq!(renamed.json()["vid"], 43);
    assert_eq!(client.get(&format!("fabrics/{fid}/vlans/42/")).await.status, 404);
    let vlan_id = vlan.json()["id"].to_string();
    let subnet = client
        .post(
            "subnets/",
            &[("cidr", "192.168.50.0/24"), ("vlan", &vlan_id), ("gateway_ip", "192.168.50.1"), ("dns_servers", "8.8.8.8 1.1.1.1")],
        )
        .await;
    assert_eq!(subnet.json()["dns_servers"], json!(["8.8.8.8", "1.1.1.1"]));
    let bad_gw = client.post("subnets/", &[("cidr", "192.168.51.0/24"), ("gateway_ip", "10.0.0.1")]).await;
    assert_eq!(bad_gw.status, 400);
    let sub_id = subnet.json()["id"].to_string();
    let range = client
        .post("ipranges/", &[("type", "dynamic"), ("start_ip", "192.168.50.100"), ("end_ip", "192.168.50.150"), ("subnet", &sub_id)])
        .await;
    assert_eq!(range.status, 200, "{}", range.text());
    let overlap = client.post("ipranges/", &[("type", "reserved"), ("start_ip", "192.168.50.140"), ("end_ip", "192.168.50.160")]).await;
    let conflict = "Requested reserved range conflicts with an existing range.";
    assert_eq!(overlap.json(), json!({"start_ip": [conflict], "end_ip": [conflict]}));
    // VLANForm: clean_dhcp_on (a dynamic range) first, then clean() (a
    // primary rack).
    let dhcp = client.call("PUT", &format!("fabrics/{fid}/vlans/43/"), &[("dhcp_on", "true")]).await;
    assert_eq!(dhcp.json(), json!({"__all__": ["dhcp can only be turned on when a primary rack controller is set."]}));
    let no_range = client.call("PUT", &format!("fabrics/{fid}/vlans/0/"), &[("dhcp_on", "true")]).await;
    assert_eq!(no_range.json(), json!({"dhcp_on": ["dhcp can only be turned on when a dynamic IP range is defined."]}));
    let tag = client.post("tags/", &[("name", "node01_kp"), ("kernel_opts", "console=ttyS0")]).await;
    assert_eq!(tag.json()["resource_uri"], "/MAAS/api/2.0/tags/node01_kp/");
    let dup = client.post("tags/", &[("name", "node01_kp")]).await;
    assert_eq!(dup.json(), json!({"name": ["Tag with this Name already exists."]}));
    let keys = client.post("account/prefs/sshkeys/", &[("key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3K drydock@test")]).await;
    assert_eq!(keys.status, 201);
    let repo = client
        .post(
            "package-repositories/",
            &[("name", "extra"), ("url", "http://repo.example/ubuntu"), ("distributions", "focal,focal-updates"), ("components", "main")],
        )
        .await;
    assert_eq!(repo.json()["distributions"], json!(["focal", "focal-updates"]));
    assert_eq!(client.call("DELETE", "package-repositories/1/", &[]).await.status, 400);
}

/// The driver's storage reset (drivers.md §2.4.8 step 1) followed by its
/// volume-group creation with repeated fields; a comma-joined id list is
/// one (invalid) id, as in MaaS.
#[tokio::test]
async fn storage_reset_sequence_then_vg_from_repeated_fields() {
    let client = Client::start(Client::fixture()).await;
    let sid = client.sid("node01");
    let lvm = client.post(&format!("machines/{sid}/?op=set_storage_layout"), &[("storage_layout", "lvm")]).await;
    assert_eq!(lvm.status, 200, "{}", lvm.text());
    let vg = client.get(&format!("nodes/{sid}/volume-groups/")).await.json()[0].clone();
    let (vg_id, lv_id) = (vg["id"].to_string(), vg["logical_volumes"][0]["id"].to_string());
    let deleted_lv = client.post(&format!("nodes/{sid}/volume-group/{vg_id}/?op=delete_logical_volume"), &[("id", &lv_id)]).await;
    assert_eq!(deleted_lv.status, 204);
    let emptied = client.get(&format!("nodes/{sid}/volume-group/{vg_id}/")).await.json();
    assert_eq!(emptied["logical_volumes"], json!([]));
    assert_eq!(client.call("DELETE", &format!("nodes/{sid}/volume-group/{vg_id}/"), &[]).await.status, 204);
    let devices = client.get(&format!("nodes/{sid}/blockdevices/")).await.json();
    for device in devices.as_array().cloned().unwrap_or_default() {
        for part in device["partitions"].as_array().cloned().unwrap_or_default() {
            let path = format!("nodes/{sid}/blockdevices/{}/partition/{}", device["id"], part["id"]);
            assert_eq!(client.call("DELETE", &path, &[]).await.status, 204);
        }
    }
    let sda = client.get(&format!("nodes/{sid}/blockdevices/sda/")).await.json();
    assert_eq!(sda["partitions"], json!([]));
    assert_eq!(sda["available_size"], (480103981056u64 - 6 * MIB) / (4 * MIB) * (4 * MIB));
    let sda_id = sda["id"].to_string();
    let sdb_id = client.get(&format!("nodes/{sid}/blockdevices/sdb/")).await.json()["id"].to_string();
    let comma =
        client.post(&format!("nodes/{sid}/volume-groups/"), &[("name", "data"), ("block_devices", &format!("{sda_id},{sdb_id}"))]).await;
    assert_eq!(comma.status, 400);
    assert!(comma.json()["block_devices"].is_array());
    let p1 = client.post(&format!("nodes/{sid}/blockdevices/{sda_id}/partitions/"), &[("size", "100G")]).await.json()["id"].to_string();
    let repeated =
        client.post(&format!("nodes/{sid}/volume-groups/"), &[("name", "data"), ("block_devices", &sdb_id), ("partitions", &p1)]).await;
    assert_eq!(repeated.status, 200, "{}", repeated.text());
    let expected = ((2000398934016u64 + (100_000_000_000 / (4 * MIB)) * 4 * MIB) / (4 * MIB) - 2) * 4 * MIB;
    assert_eq!(repeated.json()["size"], expected);
    let vg_id = repeated.json()["id"].to_string();
    let lv = client.post(&format!("nodes/{sid}/volume-group/{vg_id}/?op=create_logical_volume"), &[("name", "lv1"), ("size", "10G")]).await;
    assert_eq!(lv.status, 200, "{}", lv.text());
    assert_eq!(lv.json()["name"], "data-lv1");
    assert_eq!(lv.json()["type"], "virtual");
    let lv_id = lv.json()["id"].to_string();
    let formatted = client
        .post(
            &format!("nodes/{sid}/blockdevices/{lv_id}/?op=format"),
            &[("fstype", "ext4"), ("uuid", "7d9a1f3e-0000-4000-8000-000000000001")],
        )
        .await;
    assert_eq!(formatted.json()["filesystem"]["uuid"], "7d9a1f3e-0000-4000-8000-000000000001");
    let too_big =
        client.post(&format!("nodes/{sid}/volume-group/{vg_id}/?op=create_logical_volume"), &[("name", "lv2"), ("size", "99T")]).await;
    assert_eq!(too_big.status, 400);
}

#[tokio::test]
async fn rack_controller_links_are_seeded_and_bad_ones_refused() {
    let scenario = |links: serde_json::Value| -> drydock_sim::Scenario {
        serde_json::from_value(serde_json::json!({
            "fabrics": [{"name": "fabric-rack", "vlans": [{"vid": 0, "subnets": [{"cidr": "172.16.5.0/24"}]}]}],
            "rack_controllers": [{"hostname": "rack01", "interfaces": [{"name": "eth1", "mac": "52:54:00:aa:00:02", "links": links}]}],
        }))
        .expect("scenario")
    };
    let client = Client::start(scenario(serde_json::json!([{"subnet": "172.16.5.0/24", "ip_address": "172.16.5.5"}]))).await;
    let racks = client.get("rackcontrollers/").await.json();
    let interface = &racks[0]["interface_set"][0];
    assert_eq!(interface["links"][0]["mode"], "static");
    assert_eq!(interface["links"][0]["ip_address"], "172.16.5.5");
    assert_eq!(interface["links"][0]["subnet"]["cidr"], "172.16.5.0/24");
    assert_eq!(interface["vlan"]["id"], interface["links"][0]["subnet"]["vlan"]["id"], "on its link's VLAN");
    for (links, expected) in [
        (serde_json::json!([{"subnet": "10.9.9.0/24", "ip_address": "10.9.9.9"}]), "no such subnet"),
        (serde_json::json!([{"subnet": "172.16.5.0/24", "ip_address": "172.16.6.5"}]), "172.16.6.5 is not inside the subnet"),
        (serde_json::json!([{"subnet": "172.16.5.0/24"}]), "a static link needs an ip_address"),
        (serde_json::json!([{"subnet": "172.16.5.0/24", "mode": "bogus"}]), "mode \"bogus\""),
    ] {
        let Err(error) = drydock_sim::SimLab::start(scenario(links)).await else { panic!("{expected:?}: the scenario was accepted") };
        let chain = std::iter::successors(Some(&error as &dyn std::error::Error), |e| e.source())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(": ");
        assert!(chain.contains(expected) && chain.contains("rack01 interface eth1"), "{expected:?} in {chain}");
    }
}
