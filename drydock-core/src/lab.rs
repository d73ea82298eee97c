//! A simulated lab matching a site design: the `drydock-sim` scenario (its
//! JSON format, the simulator's public interface) whose machines are the
//! design's nodes — hostnames, boot MACs, BMC addresses and credentials,
//! NICs from the interfaces and their hardware aliases, disks from the
//! storage devices — and whose MaaS has the PXE network the rack controller
//! serves. Drydock itself creates every other fabric, VLAN and subnet.
//!
//! This lives on the core side on purpose (architecture.md B3): the simulator
//! knows nothing of designs, so it cannot share a wrong idea of them.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use serde_json::{Value, json};

use crate::compile::EffectiveSite;
use crate::model::{BaremetalNode, SlaveSelector};

/// How to build the lab.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Machines already enlisted and `Ready` in MaaS; otherwise each node is
    /// a powered-off BMC whose machine enlists when PXE-booted (the
    /// prepare_nodes flow).
    pub enlisted: bool,
    /// The MaaS API key (`consumer:token:secret`).
    pub api_key: String,
    /// Phase durations in milliseconds (commissioning, deploying, …).
    pub phase_ms: u64,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            enlisted: false,
            api_key: "drydockLabConsumer:drydockLabToken:drydockLabSecretForTheSimulatedMaaS".into(),
            phase_ms: 0,
        }
    }
}

/// The fabric MaaS discovered the PXE network on (Drydock renames it to
/// the PXE network link's name).
const PXE_FABRIC: &str = "fabric-pxe";

/// Size of every simulated disk (480 GB).
const DISK_BYTES: u64 = 480_103_981_056;

/// A stable, locally administered MAC for `node`'s NIC number `index`.
fn mac_for(node: &str, index: usize) -> String {
    let mut hasher = DefaultHasher::new();
    node.hash(&mut hasher);
    let bytes = hasher.finish().to_be_bytes();
    format!("52:54:{:02x}:{:02x}:{:02x}:{:02x}", bytes[0], bytes[1], bytes[2], index as u8)
}

/// The name of the PXE network: the one named `pxe` when some node's
/// interface is on it (or there is no node), else the first network of an
/// interface named `pxe`, else the first network the nodes' interfaces are
/// on that has a DHCP range (seaworthy-virt's VMs boot on `gp`, its `pxe`
/// network is unused), else `pxe` if it exists.
fn pxe_network(site: &EffectiveSite) -> Option<String> {
    let interfaces = || site.nodes().iter().flat_map(|node| node.config.interfaces.iter());
    let carried = |name: &str| interfaces().any(|interface| interface.networks.iter().any(|network| network == name));
    let named_pxe = site.design.network("pxe").is_some();
    if named_pxe && (site.nodes().is_empty() || carried("pxe")) {
        return Some("pxe".into());
    }
    let on_pxe_interface =
        site.nodes().iter().find_map(|node| node.config.interface("pxe").and_then(|interface| interface.networks.first().cloned()));
    let with_dhcp = || {
        interfaces().flat_map(|interface| interface.networks.iter()).find(|name| {
            site.design.network(name).is_some_and(|network| network.ranges.iter().any(|range| range.range_type.as_deref() == Some("dhcp")))
        })
    };
    on_pxe_interface.or_else(|| with_dhcp().cloned()).or_else(|| named_pxe.then(|| "pxe".into()))
}

fn machine_seed(site: &EffectiveSite, node: &BaremetalNode, pxe: Option<&str>) -> Value {
    let pxe_cidr = pxe.and_then(|name| site.design.network(name)).map(|network| network.cidr.clone());
    let mut interfaces = Vec::new();
    let mut boot_assigned = false;
    for interface in &node.config.interfaces {
        let carries_pxe = pxe.is_some_and(|name| interface.networks.iter().any(|network| network == name));
        let selectors: Vec<SlaveSelector> = if interface.slave_selectors.is_empty() {
            vec![SlaveSelector::Name(interface.name.clone())]
        } else {
            interface.slave_selectors.clone()
        };
        for selector in selectors {
            let index = interfaces.len();
            let boot = carries_pxe && !boot_assigned;
            let mac = match (&node.boot_mac, boot) {
                (Some(mac), true) => mac.to_lowercase(),
                _ => mac_for(node.name(), index + 1),
            };
            let mut seed = json!({"mac": mac, "boot": boot});
            match selector {
                SlaveSelector::Name(name) => seed["name"] = json!(name),
                SlaveSelector::Address { address, .. } if !address.starts_with("regexp:") => {
                    seed["name"] = json!(format!("ens{}", index + 3));
                    seed["pci_address"] = json!(address);
                }
                SlaveSelector::Address { .. } => seed["name"] = json!(format!("ens{}", index + 3)),
            }
            if boot {
                boot_assigned = true;
                if let Some(cidr) = &pxe_cidr {
                    seed["subnet"] = json!(cidr);
                    seed["fabric"] = json!(PXE_FABRIC);
                }
            }
            interfaces.push(seed);
        }
    }
    if !boot_assigned {
        let mac = node.boot_mac.clone().unwrap_or_else(|| mac_for(node.name(), 0)).to_lowercase();
        let mut seed = json!({"name": "eno1", "mac": mac, "boot": true});
        if let Some(cidr) = &pxe_cidr {
            seed["subnet"] = json!(cidr);
            seed["fabric"] = json!(PXE_FABRIC);
        }
        interfaces.insert(0, seed);
    }
    let hardware = node.config.hardware_profile.as_deref().and_then(|name| site.design.hardware_profile(name));
    let mut disks = Vec::new();
    for device in &node.config.storage.physical_devices {
        let alias = hardware.and_then(|profile| profile.device_alias(&device.name));
        let mut disk = json!({"size": DISK_BYTES, "model": "Simulated SSD", "serial": format!("{}-{}", node.name(), device.name)});
        match alias {
            Some(alias) if alias.bus_type == "scsi" => {
                disk["scsi_address"] = json!(alias.address);
                disk["name"] = json!(format!("sd{}", (b'a' + disks.len() as u8) as char));
            }
            Some(_) => disk["name"] = json!(format!("sd{}", (b'a' + disks.len() as u8) as char)),
            None => disk["name"] = json!(device.name),
        }
        disks.push(disk);
    }
    if disks.is_empty() {
        disks.push(json!({"name": "sda", "size": DISK_BYTES}));
    }
    json!({"hostname": node.name(), "architecture": "amd64/generic", "cpu_count": 16, "memory": 65536, "interfaces": interfaces, "disks": disks})
}

/// Where the rack controller holds the DHCP relays' upstream targets: for
/// each distinct `dhcp_relay.upstream_target` of the design, a fabric with
/// the subnet it is in (the design network's that contains it, else its
/// /24, as MaaS discovers a rack's networks; none for a subnet in `known`
/// or already added) and a rack interface with a static link at that
/// address. The original's `prepare_site` finds the rack controller for a
/// relayed network by this address.
fn relay_upstreams(site: &EffectiveSite, mut known: Vec<String>) -> (Vec<Value>, Vec<Value>) {
    let mut fabrics = Vec::new();
    let mut interfaces = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for target in site.design.networks.iter().filter_map(|network| network.dhcp_relay_upstream_target.as_deref()) {
        let Ok(address) = target.parse::<std::net::Ipv4Addr>() else { continue };
        if seen.contains(&target) {
            continue;
        }
        seen.push(target);
        let cidr = site
            .design
            .networks
            .iter()
            .filter_map(|network| network.cidr.parse::<ipnet::Ipv4Net>().ok())
            .find(|net| net.contains(&address))
            .unwrap_or_else(|| ipnet::Ipv4Net::new(address, 24).map(|net| net.trunc()).unwrap_or_default());
        let index = seen.len();
        if !known.contains(&cidr.to_string()) {
            known.push(cidr.to_string());
            fabrics.push(json!({"name": format!("fabric-relay-{index}"), "vlans": [{"vid": 0, "subnets": [{"cidr": cidr.to_string()}]}]}));
        }
        interfaces.push(json!({
            "name": format!("eth{index}"),
            "mac": mac_for("rack-controller", index),
            "links": [{"subnet": cidr.to_string(), "mode": "static", "ip_address": target}],
        }));
    }
    (fabrics, interfaces)
}

/// The scenario (drydock-sim JSON) for `site`.
pub fn lab_scenario(site: &EffectiveSite, options: &LabOptions) -> Value {
    let pxe = pxe_network(site);
    let mut fabrics = Vec::new();
    let mut rack_interfaces = Vec::new();
    if let Some(network) = pxe.as_deref().and_then(|name| site.design.network(name)) {
        let gateway =
            network.routes.iter().find(|route| route.subnet.as_deref() == Some("0.0.0.0/0")).and_then(|route| route.gateway.clone());
        let ranges: Vec<Value> = network
            .ranges
            .iter()
            .filter(|range| range.range_type.as_deref() == Some("dhcp"))
            .filter_map(|range| Some(json!({"type": "dynamic", "start_ip": range.start.clone()?, "end_ip": range.end.clone()?})))
            .collect();
        fabrics.push(json!({"name": PXE_FABRIC, "vlans": [{"vid": 0, "mtu": network.mtu.unwrap_or(1500), "subnets": [
            {"cidr": network.cidr, "gateway_ip": gateway, "ranges": ranges}]}]}));
        rack_interfaces.push(json!({"name": "eth0", "mac": mac_for("rack-controller", 0), "subnet": network.cidr, "fabric": PXE_FABRIC}));
    }
    let pxe_cidr = pxe.as_deref().and_then(|name| site.design.network(name)).map(|network| network.cidr.clone());
    let (upstream_fabrics, upstream_interfaces) = relay_upstreams(site, pxe_cidr.into_iter().collect());
    fabrics.extend(upstream_fabrics);
    rack_interfaces.extend(upstream_interfaces);
    let mut machines = Vec::new();
    let mut bmcs = Vec::new();
    for node in site.nodes() {
        let seed = machine_seed(site, node, pxe.as_deref());
        let oob = &node.config.oob_parameters;
        let address = oob
            .get("network")
            .and_then(|network| node.address_on(network))
            .map(str::to_owned)
            .unwrap_or_else(|| format!("bmc.{}", node.name()));
        let bmc = json!({
            "name": format!("{}-bmc", node.name()),
            "address": address,
            "username": oob.get("account").cloned().unwrap_or_else(|| "admin".into()),
            "password": oob.get("credential").cloned().unwrap_or_else(|| "password".into()),
        });
        if options.enlisted {
            let mut machine = seed;
            machine["status"] = json!("Ready");
            machine["bmc"] = bmc;
            machines.push(machine);
        } else {
            let mut bmc = bmc;
            bmc["enlist"] = seed;
            bmcs.push(bmc);
        }
    }
    let mut images: Vec<&str> = site.nodes().iter().filter_map(|node| node.config.image.as_deref()).collect();
    images.sort_unstable();
    images.dedup();
    let phase = options.phase_ms;
    json!({
        "images": images,
        "api_keys": [{"username": "drydock", "key": options.api_key}],
        "mode": "auto",
        "durations": {"commissioning_ms": phase, "testing_ms": phase, "deploying_ms": phase, "releasing_ms": phase, "erasing_ms": phase},
        "fabrics": fabrics,
        "rack_controllers": [{"hostname": "rack01", "interfaces": rack_interfaces}],
        "machines": machines,
        "bmcs": bmcs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Ingester;

    fn example_site() -> EffectiveSite {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/site.yaml")).expect("example site");
        crate::compile::compile(Ingester::new().ingest_str(&text, None).expect("ingests").design).expect("compiles")
    }

    #[test]
    fn every_node_becomes_a_bmc_with_its_boot_mac_and_address() {
        let site = example_site();
        let scenario = lab_scenario(&site, &LabOptions::default());
        let bmcs = scenario["bmcs"].as_array().expect("bmcs");
        assert_eq!(bmcs.len(), site.nodes().len());
        for (node, bmc) in site.nodes().iter().zip(bmcs) {
            assert_eq!(bmc["enlist"]["hostname"], node.name());
            let network = node.config.oob_parameters.get("network").expect("oob network");
            assert_eq!(bmc["address"], node.address_on(network).expect("oob address"));
            let boot: Vec<&Value> =
                bmc["enlist"]["interfaces"].as_array().expect("nics").iter().filter(|nic| nic["boot"] == true).collect();
            assert_eq!(boot.len(), 1, "{}", node.name());
            assert_eq!(boot[0]["mac"], node.boot_mac.as_deref().expect("boot mac"));
        }
        assert_eq!(scenario["fabrics"][0]["vlans"][0]["subnets"][0]["cidr"], "10.20.0.0/24");
        let ready = lab_scenario(&site, &LabOptions { enlisted: true, ..LabOptions::default() });
        assert_eq!(ready["machines"].as_array().map(Vec::len), Some(site.nodes().len()));
    }

    #[tokio::test]
    async fn the_simulator_accepts_the_scenario() {
        let site = example_site();
        let scenario: drydock_sim::Scenario =
            serde_json::from_value(lab_scenario(&site, &LabOptions { enlisted: true, ..LabOptions::default() })).expect("valid scenario");
        let lab = drydock_sim::SimLab::start(scenario).await.expect("lab starts");
        let key = LabOptions::default().api_key;
        let parts: Vec<&str> = key.split(':').collect();
        let header = format!(
            "OAuth oauth_version=\"1.0\", oauth_signature_method=\"PLAINTEXT\", oauth_consumer_key=\"{}\", oauth_token=\"{}\", oauth_signature=\"&{}\", oauth_nonce=\"n\", oauth_timestamp=\"1\"",
            parts[0], parts[1], parts[2]
        );
        let machines: Value = reqwest::Client::new()
            .get(format!("{}/api/2.0/machines/", lab.maas_url()))
            .header("Authorization", header)
            .send()
            .await
            .expect("list machines")
            .json()
            .await
            .expect("json");
        let machines = machines.as_array().expect("machine list");
        assert_eq!(machines.len(), site.nodes().len());
        for node in site.nodes() {
            let machine = machines.iter().find(|m| m["hostname"] == node.name()).unwrap_or_else(|| panic!("{} is in MaaS", node.name()));
            assert_eq!(machine["status_name"], "Ready");
            let boot_mac = machine["boot_interface"]["mac_address"].as_str().expect("boot interface");
            assert_eq!(boot_mac, node.boot_mac.as_deref().expect("boot mac"), "{}", node.name());
        }
    }
}
