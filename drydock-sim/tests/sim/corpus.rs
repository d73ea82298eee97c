//! The fixture corpus (issue 22 item 4): real MaaS response bodies kept in
//! `fixtures/maas/real/` (each file's `_source` names its repository, path
//! and commit; the test reads only `body`). The simulator is driven into the
//! same kind of state and asked for the same objects; its answers must have
//! the same field names with the same JSON types, recursively. The
//! deliberate exceptions are listed in [`EXCEPTIONS`], each with its reason.

use crate::http::Client;
use drydock_sim::Scenario;
use serde_json::{Value, json};

/// Why a difference from the real body is accepted.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Allow {
    /// The simulator answers a field the real body lacks.
    Extra,
    /// The real body has a field the simulator does not answer.
    Missing,
    /// The real array is populated, the simulator's is empty.
    Empty,
    /// Either a string or an object.
    StringOrObject,
}

/// `(fixture, path, allowance, reason)`. A path is `field.sub`, `list[]`
/// for elements and `map.*` for map values; a leading `**.` matches at any
/// depth.
const EXCEPTIONS: &[(&str, &str, Allow, &str)] = &[
    (
        "*",
        "**.params",
        Allow::StringOrObject,
        "Interface.params is a JSONObjectField defaulting to '': MaaS answers '' until parameters are set, then an object (both occur in the real bodies)",
    ),
    (
        "machine.json",
        "workload_annotations",
        Allow::Extra,
        "MaaS 3.0+ name for owner_data, kept for the original driver's set_workload_annotations (drivers.md §3.4 lists both)",
    ),
    (
        "machine.json",
        "**.firmware_version",
        Allow::Extra,
        "in MaaS 2.9.2's block-device fields (block-device.json carries it); machine.json's nested devices predate it",
    ),
    ("*", "**.numa_node", Allow::Extra, "in MaaS 2.9.2's displayed interface and block-device fields; the 2019 examples predate it"),
    ("*", "**.sriov_max_vf", Allow::Extra, "in MaaS 2.9.2's DISPLAYED_INTERFACE_FIELDS; the 2019 examples predate it"),
    ("interface.json", "link_connected", Allow::Extra, "in MaaS 2.9.2's DISPLAYED_INTERFACE_FIELDS (machine.json's interfaces carry it)"),
    ("interface.json", "interface_speed", Allow::Extra, "in MaaS 2.9.2's DISPLAYED_INTERFACE_FIELDS (machine.json's interfaces carry it)"),
    ("interface.json", "link_speed", Allow::Extra, "in MaaS 2.9.2's DISPLAYED_INTERFACE_FIELDS (machine.json's interfaces carry it)"),
    ("interface-bond.json", "link_connected", Allow::Extra, "as interface.json"),
    ("interface-bond.json", "interface_speed", Allow::Extra, "as interface.json"),
    ("interface-bond.json", "link_speed", Allow::Extra, "as interface.json"),
    ("interface.json", "links[].subnet.description", Allow::Extra, "in MaaS 2.9.2's DISPLAYED_SUBNET_FIELDS; this example predates it"),
    ("*", "**.disabled_boot_architectures", Allow::Extra, "a MaaS 3.x subnet field that drivers.md §3.4 lists"),
    ("subnet.json", "description", Allow::Extra, "in MaaS 2.9.2's DISPLAYED_SUBNET_FIELDS; this example predates it"),
    ("block-device.json", "numa_node", Allow::Extra, "in MaaS 2.9.2's block-device fields; this example predates it"),
    (
        "boot-resource-detail.json",
        "sets.*.progress",
        Allow::Missing,
        "boot_resource_set_to_dict adds progress only to an incomplete set; the real body is an upload in progress, the simulator's sets are complete",
    ),
    ("boot-resource-detail.json", "sets.*.files.*.progress", Allow::Missing, "as sets.*.progress, for an incomplete file"),
    ("boot-resource-detail.json", "sets.*.files.*.upload_uri", Allow::Missing, "only for an incomplete file of an uploaded resource"),
    (
        "rack-controller.json",
        "interface_set[].children",
        Allow::Empty,
        "MaaS refuses bonds on controllers through the API, so the lab has none",
    ),
];

fn allowed(file: &str, path: &str, allow: Allow) -> bool {
    EXCEPTIONS.iter().any(|(f, pattern, a, _)| {
        let file_ok = *f == "*" || *f == file;
        let path_ok = match pattern.strip_prefix("**.") {
            Some(tail) => path == tail || path.ends_with(&format!(".{tail}")) || path.ends_with(&format!("[].{tail}")),
            None => path == *pattern,
        };
        file_ok && path_ok && *a == allow
    })
}

/// Map-valued fields: their keys are data (a version, a file name).
const MAPS: &[&str] = &["sets", "sets.*.files"];

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") }
}

/// Every difference of field names or JSON types between a real body and
/// the simulator's answer, less the allowed ones. A `null` in the real body
/// says nothing of the type; the first element of a real array is compared
/// with the simulator's first.
fn differences(file: &str, real: &Value, sim: &Value, path: &str, out: &mut Vec<String>) {
    match (real, sim) {
        (Value::Null, _) => {}
        (_, Value::Null) => out.push(format!("{path}: null where real MaaS has {}", kind(real))),
        (Value::Object(r), Value::Object(s)) if MAPS.contains(&path) => {
            let Some(model) = r.values().next() else { return };
            for value in s.values() {
                differences(file, model, value, &join(path, "*"), out);
            }
        }
        (Value::Object(r), Value::Object(s)) => {
            for (key, value) in r {
                let child = join(path, key);
                match s.get(key) {
                    Some(other) => differences(file, value, other, &child, out),
                    None if allowed(file, &child, Allow::Missing) => {}
                    None => out.push(format!("{child}: missing (real MaaS: {})", kind(value))),
                }
            }
            for (key, value) in s {
                let child = join(path, key);
                if !r.contains_key(key) && !allowed(file, &child, Allow::Extra) {
                    out.push(format!("{child}: not in the real body ({})", kind(value)));
                }
            }
        }
        (Value::Array(r), Value::Array(s)) => match (r.first(), s.first()) {
            (Some(first), Some(other)) => differences(file, first, other, &format!("{path}[]"), out),
            (Some(first), None) if !allowed(file, path, Allow::Empty) => {
                out.push(format!("{path}: empty, real MaaS lists {}s", kind(first)));
            }
            _ => {}
        },
        _ if kind(real) == kind(sim) => {}
        (Value::String(_) | Value::Object(_), Value::String(_) | Value::Object(_)) if allowed(file, path, Allow::StringOrObject) => {}
        _ => out.push(format!("{path}: {} where real MaaS has {}", kind(sim), kind(real))),
    }
}

fn real(file: &str) -> Value {
    let path = format!("{}/fixtures/maas/real/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let document: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(document["_source"]["repository"].is_string() && document["_source"]["path"].is_string(), "{file} names its source");
    document["body"].clone()
}

/// A lab with what the real bodies show: racks on an untagged and a tagged
/// VLAN, a machine with two NICs and three disks.
fn scenario() -> Scenario {
    let lab = json!({
        "api_keys": [{"username": "admin", "key": "ck:tk:ts"}],
        "mode": "explicit",
        "fabrics": [
            {"name": "fabric-0", "vlans": [{"vid": 0, "subnets": [{"cidr": "172.16.1.0/24", "gateway_ip": "172.16.1.1",
                "ranges": [{"type": "dynamic", "start_ip": "172.16.1.200", "end_ip": "172.16.1.250"}]}]}]},
            {"name": "fabric-data", "vlans": [{"vid": 0}, {"vid": 100, "subnets": [{"cidr": "10.10.100.0/24"}]}]}
        ],
        "rack_controllers": [
            {"hostname": "rack01", "interfaces": [{"name": "eth0", "mac": "52:54:00:aa:00:01", "subnet": "172.16.1.0/24",
                                                   "links": [{"subnet": "172.16.1.0/24", "ip_address": "172.16.1.2"}]},
                                                  {"name": "eth1", "mac": "52:54:00:aa:00:02", "fabric": "fabric-data", "vid": 100}]},
            {"hostname": "rack02", "interfaces": [{"name": "eth0", "mac": "52:54:00:aa:01:01", "subnet": "172.16.1.0/24"},
                                                  {"name": "eth1", "mac": "52:54:00:aa:01:02", "fabric": "fabric-data", "vid": 100}]}
        ],
        "machines": [
            {"hostname": "node01", "status": "Ready",
             "interfaces": [{"name": "eno1", "mac": "52:54:00:00:01:01", "boot": true, "subnet": "172.16.1.0/24"},
                            {"name": "enp2s0", "mac": "52:54:00:00:01:02", "fabric": "fabric-data"}],
             "disks": [{"name": "sda", "size": 480_103_981_056_u64}, {"name": "sdb", "size": 2_000_398_934_016_u64},
                       {"name": "sdc", "size": 1_000_204_886_016_u64}]}
        ]
    });
    Scenario::from_json(&lab.to_string()).expect("corpus scenario parses")
}

fn check(file: &str, sim: &Value, problems: &mut Vec<String>) {
    let mut found = Vec::new();
    differences(file, &real(file), sim, "", &mut found);
    problems.extend(found.into_iter().map(|d| format!("{file}: {d}")));
}

fn id_of(list: &Value, key: &str, value: &str) -> String {
    list.as_array()
        .and_then(|items| items.iter().find(|item| item[key].as_str() == Some(value)))
        .map(|item| item["id"].to_string())
        .unwrap_or_else(|| panic!("no {key}={value} in {list}"))
}

#[tokio::test]
async fn simulator_answers_have_the_real_fields_and_types() {
    let client = Client::start(scenario()).await;
    let ok = |answer: &crate::http::Answer, what: &str| assert!(answer.status < 300, "{what}: {} {}", answer.status, answer.text());
    let racks = client.get("rackcontrollers/").await.json();
    let rack = |name: &str| {
        racks.as_array().and_then(|r| r.iter().find(|x| x["hostname"] == name)).map(|x| x["system_id"].as_str().unwrap_or("").to_owned())
    };
    let (rack01, rack02) = (rack("rack01").unwrap_or_default(), rack("rack02").unwrap_or_default());
    // VLANs served by both racks, as in the real bodies.
    let fabrics = client.get("fabrics/").await.json();
    let data = id_of(&fabrics, "name", "fabric-data");
    for vlan in ["fabrics/0/vlans/0/".to_owned(), format!("fabrics/{data}/vlans/100/")] {
        ok(&client.call("PUT", &vlan, &[("primary_rack", &rack01), ("secondary_rack", &rack02)]).await, &vlan);
    }
    // DNS servers on the subnet the machine links to.
    let pxe = id_of(&client.get("subnets/").await.json(), "cidr", "172.16.1.0/24");
    ok(&client.call("PUT", &format!("subnets/{pxe}/"), &[("dns_servers", "172.16.1.1")]).await, "dns servers");
    // A rack interface with tags.
    let rack_ifaces = client.get(&format!("nodes/{rack01}/interfaces/")).await.json();
    let rack_eth0 = id_of(&rack_ifaces, "name", "eth0");
    ok(&client.post(&format!("nodes/{rack01}/interfaces/{rack_eth0}/?op=add_tag"), &[("tag", "uplink")]).await, "rack tag");
    // The machine: a tagged boot interface that is a bond's parent, a tag, a
    // volume group on a partition, then allocated (an owner).
    let sid = client.lab.system_id_of("node01").expect("node01");
    let ifaces = client.get(&format!("nodes/{sid}/interfaces/")).await.json();
    let eno1 = id_of(&ifaces, "name", "eno1");
    ok(&client.post(&format!("nodes/{sid}/interfaces/{eno1}/?op=add_tag"), &[("tag", "pxe")]).await, "interface tag");
    let bond = client
        .post(&format!("nodes/{sid}/interfaces/?op=create_bond"), &[("name", "bond0"), ("parents", &eno1), ("bond_mode", "active-backup")])
        .await;
    ok(&bond, "bond");
    ok(&client.post("tags/", &[("name", "gpu")]).await, "tag");
    ok(&client.post("tags/gpu/?op=update_nodes", &[("add", &sid)]).await, "tag the machine");
    let devices = client.get(&format!("nodes/{sid}/blockdevices/")).await.json();
    let (sda, sdb, sdc) = (id_of(&devices, "name", "sda"), id_of(&devices, "name", "sdb"), id_of(&devices, "name", "sdc"));
    let part = client.post(&format!("nodes/{sid}/blockdevices/{sdb}/partitions/"), &[("size", "8000000000")]).await;
    ok(&part, "partition");
    let vg = client.post(&format!("nodes/{sid}/volume-groups/"), &[("name", "vg0"), ("partitions", &part.json()["id"].to_string())]).await;
    ok(&vg, "volume group");
    ok(&client.post("machines/?op=allocate", &[("system_id", &sid)]).await, "allocate");

    let mut problems = Vec::new();
    check("machine.json", &client.get(&format!("machines/{sid}/")).await.json(), &mut problems);
    check("interface.json", &client.get(&format!("nodes/{sid}/interfaces/{eno1}/")).await.json(), &mut problems);
    check("interface-bond.json", &bond.json(), &mut problems);
    check("block-device.json", &client.get(&format!("nodes/{sid}/blockdevices/{sdc}/")).await.json(), &mut problems);
    let root = client.get(&format!("nodes/{sid}/blockdevices/{sda}/partitions/")).await.json()[0].clone();
    check("partition.json", &root, &mut problems);
    check("volume-group.json", &client.get(&format!("nodes/{sid}/volume-group/{}/", vg.json()["id"])).await.json(), &mut problems);
    check("subnet.json", &client.get(&format!("subnets/{pxe}/")).await.json(), &mut problems);
    check("vlan.json", &client.get(&format!("fabrics/{data}/vlans/100/")).await.json(), &mut problems);
    check("fabric.json", &client.get("fabrics/0/").await.json(), &mut problems);
    check("rack-controller.json", &client.get(&format!("rackcontrollers/{rack01}/")).await.json(), &mut problems);
    let images = client.get("boot-resources/").await.json();
    let find = |name: &str| images.as_array().and_then(|i| i.iter().find(|r| r["name"] == name)).cloned().unwrap_or(Value::Null);
    let (ubuntu, grub) = (find("ubuntu/focal"), find("grub-efi-signed/uefi"));
    check("boot-resource.json", &ubuntu, &mut problems);
    check("boot-resource-bootloader.json", &grub, &mut problems);
    check("boot-resource-detail.json", &client.get(&format!("boot-resources/{}/", ubuntu["id"])).await.json(), &mut problems);
    check("commissioning-results.json", &client.get(&format!("commissioning-results/?system_id={sid}")).await.json(), &mut problems);
    assert!(problems.is_empty(), "the simulator's answers differ from real MaaS bodies:\n{}", problems.join("\n"));
}

/// The comparison itself fails on what it should (a test of the test).
#[test]
fn differences_catch_missing_extra_and_mistyped_fields() {
    let real = json!({"a": 1, "b": "x", "c": [{"d": true}], "e": null, "params": ""});
    let mut out = Vec::new();
    differences("t.json", &real, &json!({"a": 1.5, "c": [{"d": "yes"}], "e": 3, "params": {}, "z": 0}), "", &mut out);
    out.sort();
    assert_eq!(
        out,
        vec![
            "a: float where real MaaS has integer".to_owned(),
            "b: missing (real MaaS: string)".to_owned(),
            "c[].d: string where real MaaS has boolean".to_owned(),
            "z: not in the real body (integer)".to_owned(),
        ]
    );
    let mut empty = Vec::new();
    differences("t.json", &json!({"l": [1]}), &json!({"l": []}), "", &mut empty);
    assert_eq!(empty, vec!["l: empty, real MaaS lists integers".to_owned()]);
}

/// Every corpus file names its source and has a body; every exception names
/// a corpus file (or all of them) and gives a reason.
#[test]
fn corpus_files_name_their_sources() {
    let dir = format!("{}/fixtures/maas/real", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|entry| entry.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    for file in &files {
        let body = real(file);
        assert!(!body.is_null(), "{file} has a body");
    }
    for (file, _, _, reason) in EXCEPTIONS {
        assert!(*file == "*" || files.iter().any(|f| f == file), "{file} is a corpus file");
        assert!(!reason.is_empty());
    }
}
