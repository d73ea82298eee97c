//! Error answers: for the requests the Drydock MaaS driver (and the
//! original) make, the emulator answers with real MaaS 2.x's status, field
//! and text (issue 22 item 3). Each case names the MaaS source it was read
//! from (canonical/maas at tag 2.9.2, src/maasserver/...); the table in
//! drydock-sim/docs/maas-errors.md lists the same cases.

use crate::http::{Answer, Client};
use serde_json::{Value, json};

const REQUIRED: &str = "This field is required.";
const NO_SUCH_CHOICE: &str = "Select a valid choice. That choice is not one of the available choices.";

/// A form error answer: 400 `application/json` with exactly this object.
fn form(case: &str, answer: &Answer, want: Value) {
    assert_eq!(answer.status, 400, "{case}: {}", answer.text());
    assert!(answer.header("content-type").is_some_and(|t| t.starts_with("application/json")), "{case}: {:?}", answer.headers);
    assert_eq!(answer.json(), want, "{case}");
}

/// A plain-text answer with this status and exact body.
fn text(case: &str, answer: &Answer, status: u16, want: &str) {
    assert_eq!((answer.status, answer.text().as_str()), (status, want), "{case}");
    assert!(answer.header("content-type").is_some_and(|t| t.starts_with("text/plain")), "{case}: {:?}", answer.headers);
}

async fn id_where(client: &Client, path: &str, key: &str, value: &str) -> String {
    let list = client.get(path).await.json();
    list.as_array()
        .and_then(|items| items.iter().find(|item| item[key].as_str() == Some(value)))
        .map(|item| item["id"].to_string())
        .unwrap_or_else(|| panic!("no {key}={value} in {path}: {list}"))
}

#[tokio::test]
async fn transport_conventions() {
    let client = Client::start(Client::fixture()).await;
    // api/not_found.py: MAASAPINotFound("Unknown API endpoint: %s." % path).
    text("unknown path", &client.get("nonsense/").await, 404, "Unknown API endpoint: /MAAS/api/2.0/nonsense/.");
    // api/support.py OperationsResource.error_handler: Http404 -> rc.NOT_FOUND.
    text("missing machine", &client.get("machines/zzzzzz/").await, 404, "Not Found");
    text("missing subnet", &client.get("subnets/99999/").await, 404, "Not Found");
    let sid = client.sid("node01");
    text("missing interface", &client.get(&format!("nodes/{sid}/interfaces/99999/")).await, 404, "Not Found");
    // api/support.py OperationsHandler.dispatch.
    text("unknown op", &client.post("machines/?op=frobnicate", &[]).await, 400, "Unrecognised signature: method=POST op=frobnicate");
    // piston: a method no action of the handler uses.
    let not_allowed = client.call("DELETE", "subnets/", &[]).await;
    assert_eq!((not_allowed.status, not_allowed.header("allow")), (405, Some("GET, POST")));
}

#[tokio::test]
async fn machines() {
    let client = Client::start(Client::fixture()).await;
    let (node01, node03) = (client.sid("node01"), client.sid("node03"));
    let machine = format!("machines/{node01}/");
    // ReadNodesForm.mac_address (fields.py MAC_ERROR_MSG).
    form("mac filter", &client.get("machines/?mac_address=zz").await, json!({"mac_address": ["'zz' is not a valid MAC address."]}));
    // NodeForm.hostname: utils/dns.py validate_hostname, then Node.hostname unique.
    let put = |fields: Vec<(&'static str, &'static str)>| {
        let client = &client;
        let machine = machine.clone();
        async move { client.call("PUT", &machine, &fields).await }
    };
    form(
        "underscore hostname",
        &put(vec![("hostname", "node_01")]).await,
        json!({"hostname": ["Host label cannot contain underscore: 'node_01'."]}),
    );
    form("taken hostname", &put(vec![("hostname", "node02")]).await, json!({"hostname": ["Node with this Hostname already exists."]}));
    // NodeForm.clean_domain.
    form("unknown domain", &put(vec![("domain", "nowhere")]).await, json!({"domain": ["Unable to find domain nowhere"]}));
    // WithPowerTypeMixin: a ChoiceField of the power drivers.
    form(
        "power type",
        &put(vec![("power_type", "bogus")]).await,
        json!({"power_type": ["Select a valid choice. bogus is not one of the available choices."]}),
    );
    // forms/ephemeral.py TestForm.clean: the node action must be available.
    form(
        "commission while deploying",
        &{
            client.post(&format!("{machine}?op=deploy"), &[]).await;
            client.post(&format!("{machine}?op=commission"), &[]).await
        },
        json!({"__all__": ["Commission is not available because of the current state of the node."]}),
    );
    // api/machines.py AllocateHandler: NodesNotAvailable (409).
    text(
        "allocate a New machine",
        &client.post("machines/?op=allocate", &[("system_id", &node03)]).await,
        409,
        &format!("No available machine matches constraints: [('system_id', ['{node03}'])] (resolved to \"system_id={node03}\")"),
    );
    // api/machines.py deploy: NODE_TRANSITIONS check.
    text(
        "deploy a New machine",
        &client.post(&format!("machines/{node03}/?op=deploy"), &[]).await,
        409,
        "Can't deploy a machine that is in the 'New' state",
    );
    // api/machines.py release.
    text(
        "release a New machine",
        &client.post(&format!("machines/{node03}/?op=release"), &[]).await,
        409,
        "Machine cannot be released in its current state ('New').",
    );
    // api/nodes.py set_owner_data (2.x) / set_workload_annotations (3.x).
    text(
        "annotations on an unowned machine",
        &client.post(&format!("machines/{node03}/?op=set_workload_annotations"), &[("rack", "r1")]).await,
        409,
        "Cannot set workload annotation: it hasn't been acquired.",
    );
    text(
        "owner data on an unowned machine",
        &client.post(&format!("machines/{node03}/?op=set_owner_data"), &[("rack", "r1")]).await,
        409,
        "Cannot set owner data: it hasn't been allocated.",
    );
    // api/machines.py restore_networking_configuration and set_storage_layout.
    text(
        "restore networking while deploying",
        &client.post(&format!("{machine}?op=restore_networking_configuration"), &[]).await,
        409,
        "Machine must be in a ready or failed testing state to restore networking configuration",
    );
    text(
        "storage layout while deploying",
        &client.post(&format!("{machine}?op=set_storage_layout"), &[("storage_layout", "flat")]).await,
        409,
        "Cannot change the storage layout on a machine that is not Ready.",
    );
    // A single result of `get_mandatory_param` style is text; none here.
    text(
        "mark_fixed a New machine",
        &client.post(&format!("machines/{node03}/?op=mark_fixed"), &[]).await,
        409,
        "Can't mark a non-broken node as 'Ready'.",
    );
}

#[tokio::test]
async fn deploy_and_storage_layout_forms() {
    let client = Client::start(Client::fixture()).await;
    let sid = client.sid("node02");
    let machine = format!("machines/{sid}/");
    // MachineForm.distro_series: compose_invalid_choice_text with '' first.
    form(
        "unknown series",
        &client.post(&format!("{machine}?op=deploy"), &[("distro_series", "plucky")]).await,
        json!({"distro_series": ["'plucky' is not a valid distro_series.  It should be one of: '', 'ubuntu/focal', 'ubuntu/xenial'."]}),
    );
    // utils/osystems.py validate_hwe_kernel.
    let sid01 = client.sid("node01");
    form(
        "unknown kernel",
        &client.post(&format!("machines/{sid01}/?op=deploy"), &[("distro_series", "focal"), ("hwe_kernel", "hwe-99.04")]).await,
        json!({"hwe_kernel": ["hwe-99.04 is not available for ubuntu/focal on amd64/generic."]}),
    );
    // storage_layouts.py StorageLayoutForm and the layout forms.
    let layout = |fields: Vec<(&'static str, String)>| {
        let client = &client;
        let machine = machine.clone();
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            client.post(&format!("{machine}?op=set_storage_layout"), &fields).await
        }
    };
    form("no layout", &layout(vec![]).await, json!({"storage_layout": [REQUIRED]}));
    form(
        "unknown layout",
        &layout(vec![("storage_layout", "zfs".into())]).await,
        json!({"storage_layout": ["'zfs' is not a valid storage_layout.  It should be one of: 'flat', 'lvm', 'bcache', 'vmfs6', 'blank'."]}),
    );
    let disk = client.get(&format!("nodes/{sid}/blockdevices/")).await.json()[0]["id"].to_string();
    form(
        "unknown root device",
        &layout(vec![("storage_layout", "flat".into()), ("root_device", "999".into())]).await,
        json!({"root_device": [format!("'999' is not a valid root_device.  It should be one of: '{disk}'.")]}),
    );
    form(
        "small root",
        &layout(vec![("storage_layout", "flat".into()), ("root_size", "1G".into())]).await,
        json!({"root_size": ["Size is too small. Minimum size is 3221225472."]}),
    );
    form(
        "bad size",
        &layout(vec![("storage_layout", "lvm".into()), ("lv_size", "1.5G".into())]).await,
        json!({"lv_size": ["Enter a valid value."]}),
    );
    text(
        "bcache without a cache device",
        &layout(vec![("storage_layout", "bcache".into())]).await,
        400,
        "Failed to configure storage layout 'bcache': Node doesn't have an available cache device to setup bcache.",
    );
}

#[tokio::test]
async fn interfaces_and_links() {
    let client = Client::start(Client::fixture()).await;
    let sid = client.sid("node01");
    let base = format!("nodes/{sid}/interfaces/");
    let eno1 = id_where(&client, &base, "name", "eno1").await;
    let enp2s0 = id_where(&client, &base, "name", "enp2s0").await;
    let pxe = id_where(&client, "subnets/", "cidr", "172.16.1.0/24").await;
    let data = id_where(&client, "subnets/", "cidr", "10.10.100.0/24").await;
    let link = |iface: String, fields: Vec<(&'static str, String)>| {
        let client = &client;
        let path = format!("{base}{iface}/?op=link_subnet");
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            client.post(&path, &fields).await
        }
    };
    // forms/interface_link.py + fields.py SpecifierOrModelChoiceField: a
    // subnet of another VLAN is not offered; an id answers "None found",
    // a CIDR Django's invalid choice; static mode then adds "required".
    form(
        "subnet on another VLAN (id, static)",
        &link(eno1.clone(), vec![("mode", "static".into()), ("subnet", data.clone()), ("ip_address", "10.10.100.9".into())]).await,
        json!({"subnet": [format!("None found with id={data}."), REQUIRED]}),
    );
    form(
        "subnet on another VLAN (cidr, dhcp)",
        &link(eno1.clone(), vec![("mode", "dhcp".into()), ("subnet", "10.10.100.0/24".into())]).await,
        json!({"subnet": [NO_SUCH_CHOICE]}),
    );
    form(
        "mode",
        &link(eno1.clone(), vec![("mode", "Bogus".into()), ("subnet", pxe.clone())]).await,
        json!({"mode": ["'bogus' is not a valid mode.  It should be one of: 'auto', 'dhcp', 'static', 'link_up'."]}),
    );
    form(
        "address outside the subnet",
        &link(eno1.clone(), vec![("mode", "static".into()), ("subnet", pxe.clone()), ("ip_address", "10.0.0.5".into())]).await,
        json!({"ip_address": ["IP address is not in the given subnet '172.16.1.0/24:172.16.1.0/24(vid=0)'."]}),
    );
    form(
        "address in the dynamic range",
        &link(eno1.clone(), vec![("mode", "static".into()), ("subnet", pxe.clone()), ("ip_address", "172.16.1.210".into())]).await,
        json!({"ip_address": ["IP address is inside a dynamic range 172.16.1.200 to 172.16.1.250."]}),
    );
    form(
        "link_up over links",
        &link(eno1.clone(), vec![("mode", "link_up".into()), ("subnet", pxe.clone())]).await,
        json!({"mode": ["Cannot configure interface to link up (with no IP address) while other links are already configured. Specify force=True to override this behavior and delete all links."]}),
    );
    form(
        "gateway in link_up mode",
        &link(enp2s0.clone(), vec![("mode", "link_up".into()), ("default_gateway", "True".into())]).await,
        json!({"default_gateway": ["Cannot use in mode 'link_up'."]}),
    );
    // models/interface.py _link_subnet_static: StaticIPAddressUnavailable (404).
    let first = link(eno1.clone(), vec![("mode", "static".into()), ("subnet", pxe.clone()), ("ip_address", "172.16.1.20".into())]).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let node02 = client.sid("node02");
    let other = id_where(&client, &format!("nodes/{node02}/interfaces/"), "mac_address", "52:54:00:00:02:01").await;
    let taken = client
        .post(
            &format!("nodes/{node02}/interfaces/{other}/?op=link_subnet"),
            &[("mode", "static"), ("subnet", &pxe), ("ip_address", "172.16.1.20")],
        )
        .await;
    text("address taken", &taken, 404, "IP address is already in use.");
    // InterfaceUnlinkForm: `id` is a choice among the interface's links.
    let links: Vec<String> =
        first.json()["links"].as_array().map(|l| l.iter().map(|x| format!("'{}'", x["id"])).collect()).unwrap_or_default();
    form(
        "unlink an unknown link",
        &client.post(&format!("{base}{eno1}/?op=unlink_subnet"), &[("id", "999")]).await,
        json!({"id": [format!("'999' is not a valid id.  It should be one of: {}.", links.join(", "))]}),
    );
    // forms/interface.py VLANInterfaceForm (errors of `parents` as `parent`).
    let tagged = id_where(&client, "fabrics/", "name", "fabric-data").await;
    let vlans = client.get(&format!("fabrics/{tagged}/vlans/")).await.json();
    let vid_of =
        |vid: i64| vlans.as_array().and_then(|v| v.iter().find(|x| x["vid"] == vid)).map(|x| x["id"].to_string()).unwrap_or_default();
    let (untagged, vlan100) = (vid_of(0), vid_of(100));
    let create_vlan = |fields: Vec<(&'static str, String)>| {
        let client = &client;
        let path = format!("{base}?op=create_vlan");
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            client.post(&path, &fields).await
        }
    };
    form(
        "VLAN interface on vid 0",
        &create_vlan(vec![("parent", enp2s0.clone()), ("vlan", untagged)]).await,
        json!({"vlan": ["A VLAN interface can only belong to a tagged VLAN."]}),
    );
    form(
        "VLAN interface without parent",
        &create_vlan(vec![("vlan", vlan100.clone())]).await,
        json!({"parent": ["A VLAN interface must have exactly one parent."]}),
    );
    form(
        "VLAN interface unknown VLAN",
        &create_vlan(vec![("parent", enp2s0.clone()), ("vlan", "99999".into())]).await,
        json!({"vlan": [NO_SUCH_CHOICE]}),
    );
    assert_eq!(create_vlan(vec![("parent", enp2s0.clone()), ("vlan", vlan100.clone())]).await.status, 200);
    form(
        "VLAN interface twice",
        &create_vlan(vec![("parent", enp2s0.clone()), ("vlan", vlan100)]).await,
        json!({"name": [format!("Node {sid} (node01) already has an interface named 'enp2s0.100'.")]}),
    );
    // forms/interface.py BondInterfaceForm / ChildInterfaceForm.
    let bond = |fields: Vec<(&'static str, String)>| {
        let client = &client;
        let path = format!("{base}?op=create_bond");
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            client.post(&path, &fields).await
        }
    };
    form(
        "bond without parents",
        &bond(vec![("name", "bond0".into())]).await,
        json!({"parents": ["A bond interface must have one or more parents."]}),
    );
    form("bond without name", &bond(vec![("parents", eno1.clone())]).await, json!({"name": [REQUIRED]}));
    form(
        "bond mode",
        &bond(vec![("name", "bond0".into()), ("parents", eno1.clone()), ("bond_mode", "fast".into())]).await,
        json!({"bond_mode": ["'fast' is not a valid bond_mode.  It should be one of: 'balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb'."]}),
    );
    form(
        "bond over a parent with a child",
        &bond(vec![("name", "bond0".into()), ("parents", enp2s0.clone())]).await,
        json!({"parents": ["Interfaces already in-use: enp2s0."]}),
    );
    form(
        "bond parent unknown",
        &bond(vec![("name", "bond0".into()), ("parents", "99999".into())]).await,
        json!({"parents": ["Select a valid choice. 99999 is not one of the available choices."]}),
    );
    // api/interfaces.py: the controller refusal and the state rule.
    let rack = client.get("rackcontrollers/").await.json()[0]["system_id"].as_str().unwrap_or_default().to_owned();
    let rack_iface = client.get(&format!("nodes/{rack}/interfaces/")).await.json()[0]["id"].to_string();
    text(
        "link on a controller",
        &client.post(&format!("nodes/{rack}/interfaces/{rack_iface}/?op=link_subnet"), &[("mode", "dhcp")]).await,
        403,
        "Cannot link subnet interface on a controller.",
    );
    text(
        "bond on a controller",
        &client.post(&format!("nodes/{rack}/interfaces/?op=create_bond"), &[("name", "b")]).await,
        404,
        "Not Found",
    );
    let node03 = client.sid("node03");
    let new_iface = client.get(&format!("nodes/{node03}/interfaces/")).await.json()[0]["id"].to_string();
    text(
        "link on a New machine",
        &client.post(&format!("nodes/{node03}/interfaces/{new_iface}/?op=link_subnet"), &[("mode", "dhcp")]).await,
        409,
        "Cannot link subnet interface because the machine is not Ready, Allocated, or Broken.",
    );
    text(
        "update on a New machine",
        &client.call("PUT", &format!("nodes/{node03}/interfaces/{new_iface}/"), &[("mtu", "9000")]).await,
        409,
        "Cannot update interface interface because the machine is not Ready, Allocated, or Broken.",
    );
}

#[tokio::test]
async fn storage() {
    let client = Client::start(Client::fixture()).await;
    let sid = client.sid("node01");
    let devices = format!("nodes/{sid}/blockdevices/");
    let sda = id_where(&client, &devices, "name", "sda").await;
    let sdb = id_where(&client, &devices, "name", "sdb").await;
    // api/blockdevices.py set_boot_disk: rc.ALL_OK, plain text.
    text("set boot disk", &client.post(&format!("{devices}{sda}/?op=set_boot_disk"), &[]).await, 200, "OK");
    // forms FormatBlockDeviceForm.
    form(
        "fstype",
        &client.post(&format!("{devices}{sdb}/?op=format"), &[("fstype", "zfs")]).await,
        json!({"fstype": ["Select a valid choice. zfs is not one of the available choices."]}),
    );
    form(
        "format a partitioned disk",
        &client.post(&format!("{devices}{sda}/?op=format"), &[("fstype", "ext4")]).await,
        json!({"__all__": ["Cannot format block device with a partition table."]}),
    );
    // forms/filesystem.py MountFilesystemForm.
    form(
        "mount unformatted",
        &client.post(&format!("{devices}{sdb}/?op=mount"), &[("mount_point", "/srv")]).await,
        json!({"__all__": ["Cannot mount an unformatted partition or block device."]}),
    );
    assert_eq!(client.post(&format!("{devices}{sdb}/?op=format"), &[("fstype", "ext4")]).await.status, 200);
    form(
        "relative mount point",
        &client.post(&format!("{devices}{sdb}/?op=mount"), &[("mount_point", "srv")]).await,
        json!({"mount_point": ["Enter a valid value."]}),
    );
    text("unmount unmounted", &client.post(&format!("{devices}{sdb}/?op=unmount"), &[]).await, 400, "Filesystem is already unmounted.");
    assert_eq!(client.post(&format!("{devices}{sdb}/?op=unformat"), &[]).await.status, 200);
    // forms AddPartitionForm (BytesField).
    form(
        "tiny partition",
        &client.post(&format!("{devices}{sdb}/partitions/"), &[("size", "1000")]).await,
        json!({"size": ["Ensure this value is greater than or equal to 4194304."]}),
    );
    form(
        "partition size",
        &client.post(&format!("{devices}{sdb}/partitions/"), &[("size", "ten")]).await,
        json!({"size": ["Enter a valid value."]}),
    );
    // Volume groups and logical volumes (forms CreateVolumeGroupForm,
    // CreateLogicalVolumeForm; api/volume_groups.py).
    form(
        "VG without devices",
        &client.post(&format!("nodes/{sid}/volume-groups/"), &[("name", "vg1")]).await,
        json!({"__all__": ["At least one valid block device or partition is required."]}),
    );
    let part = client.post(&format!("{devices}{sdb}/partitions/"), &[("size", "10G")]).await.json();
    let part_id = part["id"].to_string();
    let vg = client.post(&format!("nodes/{sid}/volume-groups/"), &[("name", "vg1"), ("partitions", &part_id)]).await.json();
    let vg_path = format!("nodes/{sid}/volume-group/{}/", vg["id"]);
    let free = vg["available_size"].as_u64().unwrap_or(0);
    form(
        "LV too large",
        &client.post(&format!("{vg_path}?op=create_logical_volume"), &[("name", "lv1"), ("size", "99T")]).await,
        json!({"size": [format!("Ensure this value is less than or equal to {free}.")]}),
    );
    text("LV delete without id", &client.post(&format!("{vg_path}?op=delete_logical_volume"), &[]).await, 400, "No provided id!");
    let unknown_lv = client.post(&format!("{vg_path}?op=delete_logical_volume"), &[("id", "99999")]).await;
    assert_eq!(unknown_lv.status, 204, "MaaS ignores an unknown logical volume");
    text(
        "delete a PV partition",
        &client.call("DELETE", &format!("{devices}{sdb}/partition/{part_id}"), &[]).await,
        400,
        "Cannot delete partition because its part of a volume group.",
    );
    text(
        "format a PV partition",
        &client.post(&format!("{devices}{sdb}/partition/{part_id}?op=format"), &[("fstype", "ext4")]).await,
        400,
        "Cannot format a partition that has a filesystem type of lvm-pv.",
    );
    // State rules: each operation's own 409 text.
    let node03 = client.sid("node03");
    let new_disk = client.get(&format!("nodes/{node03}/blockdevices/")).await.json()[0]["id"].to_string();
    text(
        "partition on a New machine",
        &client.post(&format!("nodes/{node03}/blockdevices/{new_disk}/partitions/"), &[]).await,
        409,
        "Cannot create partition because the node is not Ready.",
    );
    text(
        "format on a New machine",
        &client.post(&format!("nodes/{node03}/blockdevices/{new_disk}/?op=format"), &[("fstype", "ext4")]).await,
        409,
        "Cannot format block device because the machine is not Ready or Allocated.",
    );
    text(
        "boot disk on a New machine",
        &client.post(&format!("nodes/{node03}/blockdevices/{new_disk}/?op=set_boot_disk"), &[]).await,
        409,
        "Cannot set as boot disk because the machine is not Ready.",
    );
}

#[tokio::test]
async fn networking() {
    let client = Client::start(Client::fixture()).await;
    // Fabric model: validator, clean_name, unique.
    form(
        "fabric name taken",
        &client.post("fabrics/", &[("name", "fabric-data")]).await,
        json!({"name": ["Fabric with this Name already exists."]}),
    );
    form("reserved fabric name", &client.post("fabrics/", &[("name", "fabric-7")]).await, json!({"name": ["Reserved fabric name."]}));
    form("fabric name", &client.post("fabrics/", &[("name", "a b")]).await, json!({"name": ["Invalid fabric name: a b."]}));
    text(
        "delete fabric-0",
        &client.call("DELETE", "fabrics/0/", &[]).await,
        400,
        "This fabric is the default fabric, it cannot be deleted.",
    );
    let data = id_where(&client, "fabrics/", "name", "fabric-data").await;
    text(
        "delete a fabric with subnets",
        &client.call("DELETE", &format!("fabrics/{data}/"), &[]).await,
        400,
        "Can't delete fabric; the following subnets are still present: 10.10.100.0/24",
    );
    // VLANForm and the VLAN model.
    let vlans = format!("fabrics/{data}/vlans/");
    form("vid range", &client.post(&vlans, &[("vid", "5000")]).await, json!({"vid": ["VID must be between 0 and 4094."]}));
    form("vid required", &client.post(&vlans, &[("name", "x")]).await, json!({"vid": [REQUIRED]}));
    form(
        "vid taken",
        &client.post(&vlans, &[("vid", "100")]).await,
        json!({"__all__": ["A VLAN with the specified VID already exists in the destination fabric."]}),
    );
    form(
        "mtu low",
        &client.call("PUT", &format!("{vlans}100/"), &[("mtu", "500")]).await,
        json!({"mtu": ["Ensure this value is greater than or equal to 552."]}),
    );
    form(
        "mtu high",
        &client.call("PUT", &format!("{vlans}100/"), &[("mtu", "70000")]).await,
        json!({"mtu": ["MTU must be between 552 and 65535."]}),
    );
    form(
        "primary rack",
        &client.call("PUT", &format!("{vlans}100/"), &[("primary_rack", "nope")]).await,
        json!({"primary_rack": ["Select a valid choice. nope is not one of the available choices."]}),
    );
    let vlan100 = client.get(&format!("{vlans}100/")).await.json()["id"].to_string();
    form(
        "relay to itself",
        &client.call("PUT", &format!("{vlans}100/"), &[("relay_vlan", &vlan100)]).await,
        json!({"relay_vlan": [NO_SUCH_CHOICE]}),
    );
    // APIEditMixin: fields not sent keep the VLAN's values and are checked
    // again; while the VLAN serves DHCP it may relay nowhere new.
    let rack = client.get("rackcontrollers/").await.json()[0]["system_id"].as_str().unwrap_or_default().to_owned();
    let served = client.call("PUT", "fabrics/0/vlans/0/", &[("primary_rack", &rack), ("dhcp_on", "true")]).await;
    assert_eq!((served.status, served.json()["dhcp_on"].clone()), (200, json!(true)), "{}", served.text());
    form(
        "relay while serving DHCP",
        &client.call("PUT", "fabrics/0/vlans/0/", &[("relay_vlan", &vlan100)]).await,
        json!({"relay_vlan": [NO_SUCH_CHOICE]}),
    );
    form(
        "secondary equal to the primary",
        &client.call("PUT", "fabrics/0/vlans/0/", &[("secondary_rack", &rack)]).await,
        json!({"__all__": [format!("{rack} is already set as the primary rack controller")]}),
    );
    text(
        "delete the default VLAN",
        &client.call("DELETE", &format!("{vlans}0/"), &[]).await,
        400,
        "This VLAN is the default VLAN in the fabric, it cannot be deleted.",
    );
    // SubnetForm and the Subnet model.
    form(
        "cidr taken",
        &client.post("subnets/", &[("cidr", "172.16.1.0/24")]).await,
        json!({"cidr": ["Subnet with this Cidr already exists."]}),
    );
    form("cidr", &client.post("subnets/", &[("cidr", "nonsense")]).await, json!({"cidr": ["Required format: <network>/<prefixlen>."]}));
    form("subnet VLAN", &client.post("subnets/", &[("cidr", "10.9.0.0/24"), ("vlan", "99999")]).await, json!({"vlan": [NO_SUCH_CHOICE]}));
    form(
        "vid not in fabric",
        &client.post("subnets/", &[("cidr", "10.9.0.0/24"), ("fabric", &data), ("vid", "7")]).await,
        json!({"vid": ["No VLAN with vid 7 in fabric name=fabric-data."]}),
    );
    form(
        "gateway outside",
        &client.post("subnets/", &[("cidr", "10.9.0.0/24"), ("gateway_ip", "10.8.0.1")]).await,
        json!({"gateway_ip": ["Gateway IP must be within CIDR range."]}),
    );
    // models/iprange.py IPRange.clean.
    let pxe = id_where(&client, "subnets/", "cidr", "172.16.1.0/24").await;
    let outside = "IP addresses must be within subnet: 172.16.1.0/24.";
    form(
        "range outside",
        &client.post("ipranges/", &[("type", "reserved"), ("start_ip", "10.1.1.1"), ("end_ip", "10.1.1.9"), ("subnet", &pxe)]).await,
        json!({"start_ip": [outside], "end_ip": [outside]}),
    );
    form(
        "range backwards",
        &client.post("ipranges/", &[("type", "reserved"), ("start_ip", "172.16.1.20"), ("end_ip", "172.16.1.10"), ("subnet", &pxe)]).await,
        json!({"end_ip": ["End IP address must not be less than Start IP address."]}),
    );
    let conflict = "Requested dynamic range conflicts with an existing IP address or range.";
    form(
        "dynamic range overlap",
        &client.post("ipranges/", &[("type", "dynamic"), ("start_ip", "172.16.1.240"), ("end_ip", "172.16.1.252"), ("subnet", &pxe)]).await,
        json!({"start_ip": [conflict], "end_ip": [conflict]}),
    );
    form(
        "range type",
        &client.post("ipranges/", &[("type", "static"), ("start_ip", "172.16.1.20"), ("end_ip", "172.16.1.30"), ("subnet", &pxe)]).await,
        json!({"type": ["Select a valid choice. static is not one of the available choices."]}),
    );
    // StaticRouteForm and the StaticRoute model.
    let tagged = id_where(&client, "subnets/", "cidr", "10.10.100.0/24").await;
    form(
        "route to itself",
        &client.post("static-routes/", &[("source", &pxe), ("destination", &pxe), ("gateway_ip", "172.16.1.1")]).await,
        json!({"__all__": ["source and destination cannot be the same subnet."]}),
    );
    form(
        "route gateway outside the source",
        &client.post("static-routes/", &[("source", &pxe), ("destination", &tagged), ("gateway_ip", "10.10.100.1")]).await,
        json!({"gateway_ip": ["Enter an IP address in 172.16.1.0/24."], "__all__": ["gateway_ip must be with in the source subnet."]}),
    );
    form(
        "route to an unknown subnet",
        &client.post("static-routes/", &[("source", &pxe), ("destination", "99999"), ("gateway_ip", "172.16.1.1")]).await,
        json!({"destination": ["None found with id=99999."]}),
    );
    let fields = [("source", pxe.as_str()), ("destination", tagged.as_str()), ("gateway_ip", "172.16.1.1")];
    assert_eq!(client.post("static-routes/", &fields).await.status, 200);
    form(
        "route twice",
        &client.post("static-routes/", &fields).await,
        json!({"__all__": ["Static route with this Source, Destination and Gateway IP already exists."]}),
    );
    // DomainForm: both domain-name validators, then uniqueness.
    form(
        "domain name",
        &client.post("domains/", &[("name", "bad_name")]).await,
        json!({"name": ["Invalid domain name: bad_name.", "Label contains disallowed characters: 'bad_name'."]}),
    );
    form("domain taken", &client.post("domains/", &[("name", "maas")]).await, json!({"name": ["Domain with this Name already exists."]}));
    text(
        "delete the default domain",
        &client.call("DELETE", "domains/0/", &[]).await,
        400,
        "This domain is the default domain, it cannot be deleted.",
    );
}

#[tokio::test]
async fn tags_keys_repositories_and_images() {
    let client = Client::start(Client::fixture()).await;
    // TagForm (Tag.name RegexValidator, unique).
    form("tag name", &client.post("tags/", &[("name", "a b")]).await, json!({"name": ["Enter a valid value."]}));
    form("tag name required", &client.post("tags/", &[]).await, json!({"name": [REQUIRED]}));
    assert_eq!(client.post("tags/", &[("name", "gpu"), ("definition", "//node")]).await.status, 200);
    form("tag taken", &client.post("tags/", &[("name", "gpu")]).await, json!({"name": ["Tag with this Name already exists."]}));
    // api/tags.py update_nodes: a stale definition is a 409 text; manual
    // changes to an automatic tag are accepted.
    text(
        "stale definition",
        &client.post("tags/gpu/?op=update_nodes", &[("definition", "//old"), ("add", &client.sid("node01"))]).await,
        409,
        "Definition supplied '//old' doesn't match current definition '//node'",
    );
    let added = client.post("tags/gpu/?op=update_nodes", &[("add", &client.sid("node01"))]).await;
    assert_eq!((added.status, added.json()), (200, json!({"added": 1, "removed": 0})));
    text("missing tag", &client.get("tags/nope/").await, 404, "Not Found");
    // SSHKeyForm: models/sshkey.py validate_ssh_public_key, clean.
    form(
        "one-part key",
        &client.post("account/prefs/sshkeys/", &[("key", "nonsense")]).await,
        json!({"key": ["Invalid SSH public key: Key should contain 2 or more space separated parts (key type, base64-encoded key, optional comments), not 1: nonsense"]}),
    );
    form(
        "key type",
        &client.post("account/prefs/sshkeys/", &[("key", "ssh-foo AAAA x")]).await,
        json!({"key": ["Invalid SSH public key: Key type ssh-foo not recognised; it should be one of: ecdsa-sha2-nistp256 ecdsa-sha2-nistp384 ecdsa-sha2-nistp521 ssh-dss ssh-ed25519 ssh-rsa"]}),
    );
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3K drydock@test";
    assert_eq!(client.post("account/prefs/sshkeys/", &[("key", key)]).await.status, 201);
    form(
        "key twice",
        &client.post("account/prefs/sshkeys/", &[("key", key)]).await,
        json!({"__all__": ["This key has already been added for this user."]}),
    );
    // PackageRepositoryForm and the model.
    form("repository fields", &client.post("package-repositories/", &[("name", "x")]).await, json!({"url": [REQUIRED]}));
    form(
        "pocket",
        &client.post("package-repositories/", &[("name", "x"), ("url", "http://r/"), ("disabled_pockets", "proposed")]).await,
        json!({"disabled_pockets": ["'proposed' is not a valid Ubuntu archive pocket. You can only disable ['updates', 'security', 'backports']."]}),
    );
    form(
        "components of a custom repository",
        &client.post("package-repositories/", &[("name", "x"), ("url", "http://r/"), ("disabled_components", "universe")]).await,
        json!({"disabled_components": ["This is a custom repository. Please update 'components' instead."]}),
    );
    form(
        "architecture",
        &client.post("package-repositories/", &[("name", "x"), ("url", "http://r/"), ("arches", "mips")]).await,
        json!({"arches": ["'mips' is not a valid architecture. Known architectures: amd64, arm64, armhf, i386, ppc64el, s390x"]}),
    );
    form(
        "repository taken",
        &client.post("package-repositories/", &[("name", "main_archive"), ("url", "http://r/")]).await,
        json!({"name": ["Package repository with this Name already exists."]}),
    );
    text(
        "delete a default archive",
        &client.call("DELETE", "package-repositories/1/", &[]).await,
        400,
        "Cannot delete default Ubuntu archives.",
    );
    // api/boot_resources.py import: a plain-text answer.
    text("import", &client.post("boot-resources/?op=import", &[]).await, 200, "Import of boot resources started");
}
