//! The machine lifecycle engine (compat: drivers.md §3.6): building nodes
//! from scenario seeds, starting phases, completing them in Auto mode (on
//! simulated time) or Explicit mode (when stepped), and the side effects of
//! commissioning, deployment and release.

use super::model::{BlockDevice, Interface, InterfaceKind, Link, Node, Pending, Phase, PowerState, Script, ScriptResult, Status};
use super::storage::{LayoutRequest, apply_layout};
use crate::scenario::MachineSeed;
use crate::world::{SimMode, World};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Builds a node from a seed (not inserted). `node_type` 0 machine, 2 rack.
pub(crate) fn build_node(world: &mut World, seed: &MachineSeed, node_type: i64) -> Node {
    let region = &mut world.region;
    let system_id = seed.system_id.clone().unwrap_or_else(|| region.new_system_id());
    let hostname = seed.hostname.clone().unwrap_or_else(|| format!("sim-{system_id}"));
    let mut interfaces = Vec::new();
    let mut boot_interface = None;
    for (index, nic) in seed.interfaces.iter().enumerate() {
        let subnet_of = |cidr: &str| region.subnets.values().find(|s| s.cidr == cidr).map(|s| (s.id, s.vlan));
        let linked: Vec<(i64, i64)> = nic.links.iter().filter_map(|link| subnet_of(&link.subnet)).collect();
        // An interface with links but no fabric named is on its first
        // link's VLAN, as MaaS puts a rack's interface where its address is.
        let vlan = match (&nic.fabric, nic.vid, linked.first()) {
            (None, None, Some((_, vlan))) => Some(*vlan),
            _ => {
                let fabric = nic.fabric.as_deref().unwrap_or("fabric-0");
                let fabric_id = region.fabrics.values().find(|f| f.name == fabric).map(|f| f.id).unwrap_or(0);
                let vid = nic.vid.unwrap_or(0);
                region.vlans.values().find(|v| v.fabric == fabric_id && v.vid == vid).map(|v| v.id)
            }
        };
        let discovered_subnet = nic.subnet.as_ref().and_then(|c| region.subnets.values().find(|s| &s.cidr == c)).map(|s| s.id);
        let links: Vec<Link> = nic
            .links
            .iter()
            .zip(&linked)
            .map(|(link, (subnet, _))| Link {
                id: region.new_id(),
                mode: link.mode.clone().unwrap_or_else(|| "static".into()),
                subnet: Some(*subnet),
                ip_address: link.ip_address.clone(),
                default_gateway: false,
            })
            .collect();
        let id = region.new_id();
        if nic.boot && boot_interface.is_none() {
            boot_interface = Some(id);
        }
        interfaces.push(Interface {
            id,
            name: nic.name.clone().unwrap_or_else(|| format!("eno{}", index + 1)),
            kind: InterfaceKind::Physical,
            mac_address: nic.mac.to_ascii_lowercase(),
            vlan,
            parents: vec![],
            tags: vec![],
            enabled: true,
            links,
            params: Map::new(),
            pci_address: nic.pci_address.clone().unwrap_or_else(|| format!("0000:{:02x}:00.0", index + 1)),
            commissioned_vlan: vlan,
            discovered_subnet,
            discovered_ip: nic.ip.clone(),
        });
    }
    if boot_interface.is_none() {
        boot_interface = interfaces.first().map(|i| i.id);
    }
    let block_devices: Vec<BlockDevice> = seed
        .disks
        .iter()
        .enumerate()
        .map(|(index, disk)| {
            let letter = char::from(b'a' + (index % 26) as u8);
            BlockDevice {
                id: region.new_id(),
                name: disk.name.clone().unwrap_or_else(|| format!("sd{letter}")),
                lv_of: None,
                uuid: None,
                size: disk.size,
                block_size: disk.block_size.unwrap_or(512),
                model: disk.model.clone().unwrap_or_else(|| "QEMU HARDDISK".into()),
                serial: disk.serial.clone().unwrap_or_else(|| format!("SIM{system_id}{index}")),
                id_path: disk.id_path.clone().unwrap_or_else(|| format!("/dev/disk/by-id/wwn-0x5000c500{system_id}{index}")),
                scsi_address: disk.scsi_address.clone().unwrap_or_else(|| format!("{index}:0:0:0")),
                tags: vec!["ssd".into()],
                filesystem: None,
                partition_table: None,
                partitions: vec![],
            }
        })
        .collect();
    let mut power_parameters = seed.power_parameters.clone();
    let mut bmc_name = None;
    let mut power_type = seed.power_type.clone().unwrap_or_else(|| "manual".into());
    if let Some(bmc) = &seed.bmc {
        let name = bmc.name.clone().unwrap_or_else(|| bmc.address.clone());
        let user = bmc.username.clone().unwrap_or_else(|| "admin".into());
        let pass = bmc.password.clone().unwrap_or_else(|| "password".into());
        if seed.power_type.is_none() {
            power_type = "redfish".into();
        }
        power_parameters.entry("power_address").or_insert(Value::from(bmc.address.clone()));
        power_parameters.entry("power_user").or_insert(Value::from(user.clone()));
        power_parameters.entry("power_pass").or_insert(Value::from(pass.clone()));
        if power_type == "redfish" {
            power_parameters.entry("node_id").or_insert(Value::from(""));
        }
        let uuid = world.new_uuid();
        world.bmcs.insert(
            name.clone(),
            crate::world::Bmc {
                name: name.clone(),
                address: bmc.address.clone(),
                username: user,
                password: pass,
                power: if bmc.powered_on { PowerState::On } else { PowerState::Off },
                boot_target: crate::world::BootTarget::None,
                boot_enabled: "Disabled".into(),
                uuid,
                sessions: BTreeMap::new(),
                enlist: None,
            },
        );
        bmc_name = Some(name);
    }
    let region = &mut world.region;
    let services = seed.services.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("running").to_owned())).collect::<BTreeMap<_, _>>();
    let services = if node_type != 0 && services.is_empty() {
        ["rackd", "tftp", "http", "dhcpd", "dhcpd6", "ntp_rack", "dns_rack", "proxy_rack", "syslog_rack"]
            .iter()
            .map(|s| (s.to_string(), if s.starts_with("dhcpd") { "off".to_owned() } else { "running".to_owned() }))
            .collect()
    } else {
        services
    };
    let status = seed.status.as_deref().and_then(Status::parse).unwrap_or(if node_type == 0 { Status::New } else { Status::Deployed });
    Node {
        system_id,
        hostname,
        node_type,
        domain: region.default_domain,
        description: String::new(),
        architecture: seed.architecture.clone().unwrap_or_else(|| "amd64/generic".into()),
        min_hwe_kernel: String::new(),
        hwe_kernel: None,
        osystem: String::new(),
        distro_series: String::new(),
        status,
        previous_status: status,
        status_message: String::new(),
        power_type,
        power_parameters,
        power_state: PowerState::Off,
        bmc: bmc_name,
        cpu_count: seed.cpu_count.unwrap_or(4),
        memory: seed.memory.unwrap_or(8192),
        uefi: seed.boot_method.as_deref() == Some("uefi"),
        tags: seed.tags.iter().cloned().collect::<BTreeSet<_>>(),
        owner: None,
        annotations: BTreeMap::new(),
        locked: false,
        zone: "default".into(),
        pool: "default".into(),
        interfaces,
        boot_interface,
        block_devices,
        boot_disk: None,
        volume_groups: vec![],
        commissioning_status: -1,
        testing_status: -1,
        results: vec![],
        lshw: seed.lshw.clone().unwrap_or_default(),
        lldp: seed.lldp.clone().unwrap_or_default(),
        details_ready: false,
        user_data: None,
        commission_flags: Map::new(),
        script: Script {
            commission: seed.script.commission.iter().cloned().collect(),
            deploy: seed.script.deploy.iter().cloned().collect(),
            release: seed.script.release.iter().cloned().collect(),
            skip_storage: seed.script.skip_storage,
        },
        pending: None,
        services,
        revision: 0,
        cache: None,
    }
}

/// Enlists a machine from a seed; a seed with status `Ready` (or later)
/// gets the results of a passed commissioning. Returns the system id.
pub(crate) fn enlist(world: &mut World, seed: &MachineSeed) -> String {
    let node = build_node(world, seed, 0);
    let sid = node.system_id.clone();
    let commissioned = !matches!(node.status, Status::New | Status::Commissioning | Status::FailedCommissioning);
    world.region.machines.insert(sid.clone(), node);
    if commissioned {
        commissioning_passed(world, &sid);
    }
    sid
}

/// lshw XML for a node: the given one, else generated from NICs and disks.
pub(crate) fn lshw_of(node: &Node) -> String {
    if !node.lshw.is_empty() {
        return node.lshw.clone();
    }
    let mut xml = String::from("<?xml version=\"1.0\" standalone=\"yes\" ?>\n<list>\n<node id=\"");
    xml.push_str(&node.hostname);
    xml.push_str("\" class=\"system\">\n");
    for iface in node.interfaces.iter().filter(|i| i.kind == InterfaceKind::Physical) {
        xml.push_str(&format!(
            "  <node id=\"network\" class=\"network\"><businfo>pci@{}</businfo><logicalname>{}</logicalname><serial>{}</serial></node>\n",
            iface.pci_address, iface.name, iface.mac_address
        ));
    }
    for disk in node.block_devices.iter().filter(|d| d.lv_of.is_none()) {
        xml.push_str(&format!(
            "  <node id=\"disk\" class=\"disk\"><businfo>scsi@{}</businfo><logicalname>/dev/{}</logicalname><size units=\"bytes\">{}</size><serial>{}</serial></node>\n",
            disk.scsi_address, disk.name, disk.size, disk.serial
        ));
    }
    xml.push_str("</node>\n</list>\n");
    xml
}

fn timestamp(world: &World) -> String {
    // Simulated clock rendered on a fixed date; only the shape matters.
    let ms = world.now_ms();
    let secs = ms / 1000;
    format!("2026-01-01T{:02}:{:02}:{:02}.{:03}", (secs / 3600) % 24, (secs / 60) % 60, secs % 60, ms % 1000)
}

fn add_results(world: &mut World, sid: &str, result_type: i64, scripts: &[(&str, i64, &str)]) {
    let created = timestamp(world);
    let ids: Vec<i64> = scripts.iter().map(|_| world.region.new_id()).collect();
    let Some(node) = world.region.node_mut(sid) else {
        return;
    };
    node.results.retain(|r| r.result_type != result_type);
    for ((name, exit, out), id) in scripts.iter().zip(ids) {
        let stderr = if *exit != 0 { format!("{name} failed\n").into_bytes() } else { vec![] };
        node.results.push(ScriptResult {
            id,
            name: (*name).to_owned(),
            result_type,
            exit_status: *exit,
            stdout: out.as_bytes().to_vec(),
            stderr,
            created: created.clone(),
        });
    }
}

/// Commissioning (and testing) passed: results, details, networking, storage.
pub(crate) fn commissioning_passed(world: &mut World, sid: &str) {
    add_results(
        world,
        sid,
        0,
        &[
            ("maas-support-info", 0, "support info\n"),
            ("maas-lshw", 0, ""),
            ("maas-list-modaliases", 0, "pci:v00008086\n"),
            ("maas-capture-lldpd", 0, "<lldp/>\n"),
        ],
    );
    add_results(world, sid, 2, &[("smartctl-validate", 0, "SMART passed\n"), ("memtester", 0, "memtester ok\n")]);
    restore_networking(world, sid);
    let skip = world
        .region
        .node(sid)
        .is_some_and(|n| n.script.skip_storage || n.commission_flags.get("skip_storage").and_then(Value::as_bool) == Some(true));
    if !skip {
        default_layout(world, sid);
    }
    if let Some(node) = world.region.node_mut(sid) {
        node.commissioning_status = 2;
        node.testing_status = 2;
        node.details_ready = true;
    }
}

/// Applies the default `flat` layout.
pub(crate) fn default_layout(world: &mut World, sid: &str) {
    let request = LayoutRequest {
        layout: "flat".into(),
        boot_size: 0,
        root_device: None,
        root_size: None,
        vg_name: "vgroot".into(),
        lv_name: "lvroot".into(),
        lv_size: None,
        lv_percent: None,
    };
    apply_to(world, sid, &request).ok();
}

/// Applies a layout to a node, with ids and UUIDs from the world.
pub(crate) fn apply_to(world: &mut World, sid: &str, request: &LayoutRequest) -> Result<(), super::storage::LayoutError> {
    let Some(mut node) = world.region.machines.get(sid).cloned() else {
        return Ok(());
    };
    let mut next_id = world.region.next_id;
    let mut uuid_counter = world.uuid_counter;
    let result = apply_layout(
        &mut node,
        request,
        &mut || {
            next_id += 1;
            next_id
        },
        &mut || {
            uuid_counter += 1;
            format!("5d1a0000-0000-4000-8000-{uuid_counter:012x}")
        },
    );
    if result.is_ok() {
        world.region.next_id = next_id;
        world.uuid_counter = uuid_counter;
        node.revision += 1;
        world.region.machines.insert(sid.to_owned(), node);
    }
    result
}

/// `restore_networking_configuration` (compat: drivers.md §3.3).
pub(crate) fn restore_networking(world: &mut World, sid: &str) {
    let mut link_ids: Vec<i64> = Vec::new();
    let count = world.region.node(sid).map(|n| n.interfaces.len()).unwrap_or(0);
    for _ in 0..count {
        link_ids.push(world.region.new_id());
    }
    let first_subnet_of = |vlan: Option<i64>| vlan.and_then(|v| world.region.subnets.values().find(|s| s.vlan == v).map(|s| s.id));
    let plan: Vec<Option<i64>> =
        world.region.node(sid).map(|n| n.interfaces.iter().map(|i| first_subnet_of(i.commissioned_vlan)).collect()).unwrap_or_default();
    let Some(node) = world.region.node_mut(sid) else {
        return;
    };
    node.interfaces.retain(|i| i.kind == InterfaceKind::Physical);
    let boot = node.boot_interface;
    for ((iface, link_id), vlan_subnet) in node.interfaces.iter_mut().zip(link_ids).zip(plan) {
        iface.vlan = iface.commissioned_vlan;
        iface.params.remove("mtu");
        iface.enabled = true;
        iface.links.clear();
        let link = if Some(iface.id) == boot {
            match iface.discovered_subnet {
                Some(subnet) => Link { id: link_id, mode: "auto".into(), subnet: Some(subnet), ip_address: None, default_gateway: false },
                None => Link { id: link_id, mode: "dhcp".into(), subnet: None, ip_address: None, default_gateway: false },
            }
        } else {
            Link { id: link_id, mode: "link_up".into(), subnet: vlan_subnet, ip_address: None, default_gateway: false }
        };
        iface.links.push(link);
    }
}

/// Starts a phase: decides the outcome from the script queue and schedules it.
pub(crate) fn start_phase(world: &mut World, sid: &str, phase: Phase, outcome: Option<String>) {
    let now = world.now_ms();
    let duration = match phase {
        Phase::Commissioning => world.durations.commissioning_ms,
        Phase::Testing => world.durations.testing_ms,
        Phase::Deploying => world.durations.deploying_ms,
        Phase::Releasing => world.durations.releasing_ms,
        Phase::Erasing => world.durations.erasing_ms,
    };
    let seq = world.region.new_id() as u64;
    let reads = world.durations.reads;
    let Some(node) = world.region.node_mut(sid) else {
        return;
    };
    let outcome = outcome.unwrap_or_else(|| {
        let queue = match phase {
            Phase::Commissioning | Phase::Testing => &mut node.script.commission,
            Phase::Deploying => &mut node.script.deploy,
            Phase::Releasing | Phase::Erasing => &mut node.script.release,
        };
        queue.pop_front().unwrap_or_else(|| "pass".into())
    });
    let due_ms = (outcome != "hang").then_some(now + duration);
    node.pending = Some(Pending { phase, due_ms, seq, outcome, reads_left: reads.max(1) });
}

/// Reads mode: counts one read of each listed machine and completes the
/// phases whose read budget is used up, before the read is answered.
pub(crate) fn count_reads(world: &mut World, sids: &[String]) {
    if world.mode != SimMode::Reads {
        return;
    }
    for sid in sids {
        let runnable_now = world.region.machines.get(sid).is_some_and(|m| m.pending.is_some() && runnable(world, m));
        if !runnable_now {
            continue;
        }
        let done = match world.region.machines.get_mut(sid).and_then(|m| m.pending.as_mut()) {
            Some(pending) if pending.due_ms.is_some() => {
                pending.reads_left = pending.reads_left.saturating_sub(1);
                pending.reads_left == 0
            }
            _ => false,
        };
        if done {
            complete(world, sid);
        }
    }
}

/// Completes due transitions (Auto mode). Cheap when nothing is pending.
pub(crate) fn tick(world: &mut World) {
    if world.mode != SimMode::Auto {
        return;
    }
    // Loop: a completed phase may schedule another that is already due (zero durations).
    for _ in 0..8 {
        let now = world.now_ms();
        let due: Vec<String> = world
            .region
            .machines
            .values()
            .filter(|m| m.pending.as_ref().is_some_and(|p| p.due_ms.is_some_and(|d| d <= now)))
            .filter(|m| runnable(world, m))
            .map(|m| m.system_id.clone())
            .collect();
        if due.is_empty() {
            return;
        }
        for sid in due {
            complete(world, &sid);
        }
    }
}

/// Completes up to `steps` pending transitions in scheduling order
/// (Explicit mode; works in Auto mode too). Hanging phases never complete.
/// Returns how many completed.
pub(crate) fn step(world: &mut World, steps: usize, only: Option<&str>) -> usize {
    let mut done = 0;
    while done < steps {
        let next = world
            .region
            .machines
            .values()
            .filter(|m| only.is_none_or(|o| o == m.system_id))
            .filter(|m| runnable(world, m))
            .filter_map(|m| m.pending.as_ref().filter(|p| p.due_ms.is_some()).map(|p| (p.seq, m.system_id.clone())))
            .min();
        let Some((_, sid)) = next else { break };
        complete(world, &sid);
        done += 1;
    }
    done
}

/// Phases that run on the machine itself (commissioning, testing,
/// deploying) only progress while it is powered; someone powering the BMC
/// off stalls them until it is powered on again (PXE boot resumes them).
fn runnable(world: &World, node: &Node) -> bool {
    match node.pending.as_ref().map(|p| p.phase) {
        Some(Phase::Commissioning | Phase::Testing | Phase::Deploying) => world.power_of(&node.system_id) == PowerState::On,
        _ => true,
    }
}

/// Completes the pending phase of a machine now.
pub(crate) fn complete(world: &mut World, sid: &str) {
    let Some(pending) = world.region.node_mut(sid).and_then(|n| n.pending.take()) else {
        return;
    };
    let outcome = pending.outcome.as_str();
    match pending.phase {
        Phase::Commissioning => {
            if outcome == "fail_commissioning" {
                add_results(world, sid, 0, &[("maas-support-info", 0, "support info\n"), ("maas-lshw", 1, "")]);
                finish(world, sid, Status::FailedCommissioning, |n| n.commissioning_status = 3);
            } else {
                set_status(world, sid, Status::Testing);
                start_phase(world, sid, Phase::Testing, Some(pending.outcome.clone()));
            }
        }
        Phase::Testing => {
            commissioning_passed(world, sid);
            if outcome == "fail_testing" {
                add_results(world, sid, 2, &[("smartctl-validate", 1, "SMART failed\n")]);
                finish(world, sid, Status::FailedTesting, |n| n.testing_status = 3);
            } else {
                finish(world, sid, Status::Ready, |_| {});
            }
            world.set_power(sid, PowerState::Off, false);
        }
        Phase::Deploying => {
            if outcome == "fail" {
                add_results(world, sid, 1, &[("install.log", 1, "curtin: installation failed\n")]);
                finish(world, sid, Status::FailedDeployment, |_| {});
            } else {
                assign_auto_addresses(world, sid);
                add_results(world, sid, 1, &[("install.log", 0, "curtin: Installation finished.\n")]);
                finish(world, sid, Status::Deployed, |_| {});
                world.set_power(sid, PowerState::On, false);
                if let (Some(root), Some(node)) = (world.boot_root.clone(), world.region.node(sid))
                    && let Some(user_data) = node.user_data.clone()
                {
                    crate::boot::spawn(root, node.hostname.clone(), user_data);
                }
            }
        }
        Phase::Releasing | Phase::Erasing => {
            if outcome == "fail" {
                let failed = if pending.phase == Phase::Erasing { Status::FailedDiskErasing } else { Status::ReleasingFailed };
                finish(world, sid, failed, |_| {});
            } else {
                finish(world, sid, Status::Ready, |_| {});
                world.set_power(sid, PowerState::Off, false);
            }
        }
    }
}

fn set_status(world: &mut World, sid: &str, status: Status) {
    if let Some(node) = world.region.node_mut(sid) {
        node.status = status;
    }
}

fn finish(world: &mut World, sid: &str, status: Status, extra: impl FnOnce(&mut Node)) {
    if let Some(node) = world.region.node_mut(sid) {
        node.status = status;
        node.status_message = status.name().to_owned();
        extra(node);
    }
}

/// Gives every `auto` link without an address one from its subnet.
pub(crate) fn assign_auto_addresses(world: &mut World, sid: &str) {
    let wanted: Vec<(usize, usize, i64)> = world
        .region
        .node(sid)
        .map(|n| {
            n.interfaces
                .iter()
                .enumerate()
                .flat_map(|(i, iface)| {
                    iface
                        .links
                        .iter()
                        .enumerate()
                        .filter(|(_, l)| l.mode == "auto" && l.ip_address.is_none())
                        .filter_map(move |(j, l)| l.subnet.map(|s| (i, j, s)))
                })
                .collect()
        })
        .unwrap_or_default();
    for (iface, link, subnet) in wanted {
        let ip = super::ip::first_free(&world.region, subnet);
        if let Some(node) = world.region.node_mut(sid) {
            node.interfaces[iface].links[link].ip_address = ip;
        }
    }
}

/// BMC powered on with PXE: enlist its hidden machine if it has one.
pub(crate) fn bmc_pxe_boot(world: &mut World, bmc: &str) {
    let linked = world.region.machines.values().any(|m| m.bmc.as_deref() == Some(bmc));
    if linked {
        return;
    }
    let Some(seed) = world.bmcs.get_mut(bmc).and_then(|b| b.enlist.take()) else {
        return;
    };
    let seed_bmc = world.bmcs.get(bmc).cloned();
    let sid = enlist(world, &seed);
    if let (Some(node), Some(b)) = (world.region.node_mut(&sid), seed_bmc) {
        node.bmc = Some(b.name.clone());
        if node.power_type == "manual" {
            node.power_type = "redfish".into();
        }
        node.power_parameters.insert("power_address".into(), Value::from(b.address.clone()));
        node.power_parameters.insert("power_user".into(), Value::from(b.username.clone()));
        node.power_parameters.insert("power_pass".into(), Value::from(b.password.clone()));
    }
}
