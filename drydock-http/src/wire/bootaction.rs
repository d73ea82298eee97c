//! The boot-action API's JSON shapes: the framework error envelope
//! (format B, compat: api spec §1.1), the status row returned by
//! `POST /bootactions/{action_id}` (§1.3.14), the report body a node posts,
//! and the node introspection document (a Rust addition, docs/compat.md).
//! Keys never appear in any of them.

use drydock_core::compile::EffectiveSite;
use drydock_core::ids::{DesignRef, TaskId};
use drydock_core::model::BaremetalNode;
use drydock_core::task::ActionResult;
use drydock_core::task::records::BootActionStatus;
use poem_openapi::Object;
use serde_json::{Map, Value};

use super::types::{Compat, StringMap};

/// Format B, the framework's error body: a `title` such as `404 Not Found`
/// and, mostly, a `description` (boot-action API, router errors).
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "FrameworkError")]
pub struct ErrorBody {
    /// `<code> <reason>`, or `Unauthorized`.
    pub title: String,
    /// What went wrong.
    #[oai(skip_serializing_if_is_none)]
    pub description: Option<String>,
}

/// Format B: `{"title": …, "description": …}` (`description` only when given).
pub fn error_body(title: &str, description: Option<&str>) -> ErrorBody {
    ErrorBody { title: title.to_owned(), description: description.map(str::to_owned) }
}

/// A boot action of a node and its status, as `POST /bootactions/{action_id}`
/// answers (compat §1.3.14; never the key).
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "BootActionStatus", example)]
pub struct StatusRow {
    /// The node.
    pub node_name: String,
    /// The boot action's id (a ULID).
    pub action_id: String,
    /// The boot action's name in the design.
    pub action_name: String,
    /// The deployment task.
    pub task_id: String,
    // `incomplete` until the node reports `success` or `failure`.
    // (A plain comment: see `wire::types` on enum fields.)
    #[allow(missing_docs)]
    pub action_status: Compat<ActionResult>,
}

impl poem_openapi::types::Example for StatusRow {
    fn example() -> Self {
        StatusRow {
            node_name: "compute01".into(),
            action_id: "01J9Z8Q6X4R5T7V2W3Y4Z5A6B7".into(),
            action_name: "hw_tuning".into(),
            task_id: "6d7f9a3c-52e1-4e0b-9b1a-2f4c8d3e7a10".into(),
            action_status: Compat(ActionResult::Success),
        }
    }
}

/// The status row without its key.
pub fn status_row(row: &BootActionStatus) -> StatusRow {
    StatusRow {
        node_name: row.node_name.clone(),
        action_id: row.action_id.to_string(),
        action_name: row.action_name.clone(),
        task_id: row.task_id.to_string(),
        action_status: Compat(row.action_status),
    }
}

/// One `details` item of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportDetail {
    /// The message text.
    pub message: String,
    /// Whether it reports an error.
    pub error: bool,
    /// Any other keys, kept as the message's `extra`.
    pub extra: Map<String, Value>,
}

/// A parsed report body (compat §1.3.14).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The final status, when present (`success` or `failure`).
    pub status: Option<ActionResult>,
    /// Messages for the action's task.
    pub details: Vec<ReportDetail>,
}

/// Keys of a detail item the server sets itself.
const RESERVED: [&str; 3] = ["context", "context_type", "ts"];

/// Validate a report body against the original's schema: a closed object
/// with an optional `status` (`Success`, `Failure`, `success`, `failure`)
/// and optional `details`, each an object with a string `message` and a
/// boolean `error` (other keys allowed, the reserved ones not). `None` when
/// the body does not conform.
pub fn parse_report(body: &[u8]) -> Option<Report> {
    let Value::Object(object) = serde_json::from_slice::<Value>(body).ok()? else { return None };
    let mut report = Report { status: None, details: Vec::new() };
    for (key, value) in object {
        match (key.as_str(), value) {
            ("status", Value::String(status)) => {
                report.status = Some(match status.as_str() {
                    "Success" | "success" => ActionResult::Success,
                    "Failure" | "failure" => ActionResult::Failure,
                    _ => return None,
                })
            }
            ("details", Value::Array(items)) => {
                for item in items {
                    let Value::Object(mut item) = item else { return None };
                    let Some(Value::String(message)) = item.remove("message") else { return None };
                    let Some(Value::Bool(error)) = item.remove("error") else { return None };
                    if RESERVED.iter().any(|key| item.contains_key(*key)) {
                        return None;
                    }
                    report.details.push(ReportDetail { message, error, extra: item });
                }
            }
            _ => return None,
        }
    }
    Some(report)
}

/// What a deployed node sees of itself (a Rust addition, docs/compat.md):
/// its effective configuration as deployed by `task_id` from `design_ref`
/// (credentials redacted).
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "NodeIntrospection")]
pub struct Introspection {
    /// The node's name.
    pub hostname: String,
    /// The DNS domain of its primary network.
    pub domain: String,
    /// `hostname.domain`.
    pub fqdn: String,
    /// The deployment task.
    pub task_id: String,
    /// The design reference, credentials redacted.
    pub design_ref: String,
    /// The network of the default route.
    #[oai(nullable)]
    pub primary_network: Option<String>,
    /// Its interfaces.
    pub interfaces: Vec<IntrospectedInterface>,
    /// Its address on each network (`dhcp` when dynamic).
    pub addresses: Vec<IntrospectedAddress>,
    /// The routes of its networks, route-domain routes included.
    pub routes: Vec<IntrospectedRoute>,
    /// Its storage layout.
    pub storage: IntrospectedStorage,
    /// Image, kernel and kernel parameters.
    pub platform: IntrospectedPlatform,
    /// Tags, owner data, rack, PXE MAC and hardware profile.
    pub metadata: IntrospectedMetadata,
}

/// An interface of an introspected node.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "IntrospectedInterface")]
pub struct IntrospectedInterface {
    /// Device name.
    pub name: String,
    /// The network link it is attached to.
    #[oai(nullable)]
    pub network_link: Option<String>,
    /// Bonded devices.
    pub hardware_slaves: Vec<String>,
    /// Networks on it.
    pub networks: Vec<String>,
    /// Whether SR-IOV is enabled.
    pub sriov: bool,
    /// Virtual functions (only with SR-IOV).
    #[oai(skip_serializing_if_is_none)]
    pub vf_count: Option<i64>,
    /// Trusted mode of the virtual functions (only with SR-IOV).
    #[oai(skip_serializing_if_is_none)]
    pub trustedmode: Option<bool>,
}

/// A node's address on one network.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "IntrospectedAddress")]
pub struct IntrospectedAddress {
    /// The network.
    pub network: String,
    /// The address, or `dhcp`.
    pub address: String,
    /// The network's CIDR (null when the network is unknown).
    #[oai(nullable)]
    pub cidr: Option<String>,
    /// The network's VLAN.
    #[oai(nullable)]
    pub vlan: Option<String>,
    /// The network's MTU.
    #[oai(nullable)]
    pub mtu: Option<i64>,
    /// The network's DNS domain.
    #[oai(nullable)]
    pub dns_domain: Option<String>,
    /// The network's DNS servers (comma-separated).
    #[oai(nullable)]
    pub dns_servers: Option<String>,
}

/// A route of one of the node's networks.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "IntrospectedRoute")]
pub struct IntrospectedRoute {
    /// The network the route belongs to.
    pub network: String,
    /// Destination subnet.
    #[oai(nullable)]
    pub subnet: Option<String>,
    /// Next hop.
    #[oai(nullable)]
    pub gateway: Option<String>,
    /// Metric, as text.
    #[oai(nullable)]
    pub metric: Option<String>,
    /// Route domain.
    #[oai(nullable)]
    pub routedomain: Option<String>,
}

/// Physical devices with their partitions, and volume groups with their
/// logical volumes.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "IntrospectedStorage")]
pub struct IntrospectedStorage {
    /// Disks.
    pub physical_devices: Vec<IntrospectedDevice>,
    /// LVM volume groups.
    pub volume_groups: Vec<IntrospectedVolumeGroup>,
}

/// A disk.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "IntrospectedDevice")]
pub struct IntrospectedDevice {
    /// Device name (or selector).
    pub name: String,
    /// Labels selecting the device.
    #[oai(nullable)]
    pub labels: Option<StringMap>,
    /// The volume group the whole device belongs to.
    #[oai(nullable)]
    pub volume_group: Option<String>,
    /// Its partitions.
    pub partitions: Vec<IntrospectedPartition>,
}

/// A partition of a disk.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "IntrospectedPartition")]
pub struct IntrospectedPartition {
    /// Name.
    pub name: String,
    /// Size as written in the design (`10g`, `>100g`, `99%`).
    #[oai(nullable)]
    pub size: Option<String>,
    /// Whether it is bootable.
    pub bootable: bool,
    /// Partition UUID.
    #[oai(nullable)]
    pub part_uuid: Option<String>,
    /// The volume group it belongs to.
    #[oai(nullable)]
    pub volume_group: Option<String>,
    /// Mount point.
    #[oai(nullable)]
    pub mountpoint: Option<String>,
    /// File system.
    #[oai(nullable)]
    pub fstype: Option<String>,
    /// Mount options.
    #[oai(nullable)]
    pub mount_options: Option<String>,
    /// File-system UUID.
    #[oai(nullable)]
    pub fs_uuid: Option<String>,
    /// File-system label.
    #[oai(nullable)]
    pub fs_label: Option<String>,
}

/// An LVM volume group.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "IntrospectedVolumeGroup")]
pub struct IntrospectedVolumeGroup {
    /// Name.
    pub name: String,
    /// Volume-group UUID.
    #[oai(nullable)]
    pub vg_uuid: Option<String>,
    /// Its logical volumes.
    pub logical_volumes: Vec<IntrospectedLogicalVolume>,
}

/// An LVM logical volume.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "IntrospectedLogicalVolume")]
pub struct IntrospectedLogicalVolume {
    /// Name.
    pub name: String,
    /// Size as written in the design.
    #[oai(nullable)]
    pub size: Option<String>,
    /// Logical-volume UUID.
    #[oai(nullable)]
    pub lv_uuid: Option<String>,
    /// Mount point.
    #[oai(nullable)]
    pub mountpoint: Option<String>,
    /// File system.
    #[oai(nullable)]
    pub fstype: Option<String>,
    /// Mount options.
    #[oai(nullable)]
    pub mount_options: Option<String>,
    /// File-system UUID.
    #[oai(nullable)]
    pub fs_uuid: Option<String>,
    /// File-system label.
    #[oai(nullable)]
    pub fs_label: Option<String>,
}

/// Image, kernel and kernel parameters.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "IntrospectedPlatform")]
pub struct IntrospectedPlatform {
    /// The OS image.
    #[oai(nullable)]
    pub image: Option<String>,
    /// The kernel.
    #[oai(nullable)]
    pub kernel: Option<String>,
    /// Kernel parameters.
    pub kernel_params: StringMap,
}

/// Tags, owner data, rack, PXE MAC and hardware profile.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "IntrospectedMetadata")]
pub struct IntrospectedMetadata {
    /// Tags.
    pub tags: Vec<String>,
    /// Owner data.
    pub owner_data: StringMap,
    /// Rack.
    #[oai(nullable)]
    pub rack: Option<String>,
    /// PXE MAC address.
    #[oai(nullable)]
    pub boot_mac: Option<String>,
    /// Hardware profile.
    #[oai(nullable)]
    pub hardware_profile: Option<String>,
}

/// What a node sees of itself: the effective configuration of `node` in
/// `site` as deployed by `task_id` from `design_ref` (redacted).
pub fn introspection(site: &EffectiveSite, node: &BaremetalNode, task_id: TaskId, design_ref: &DesignRef) -> Introspection {
    let config = &node.config;
    let addresses = node
        .addressing
        .iter()
        .map(|assignment| {
            let network = site.design.network(&assignment.network);
            IntrospectedAddress {
                network: assignment.network.clone(),
                address: assignment.address.as_deref().unwrap_or("dhcp").to_owned(),
                cidr: network.map(|network| network.cidr.clone()),
                vlan: network.and_then(|network| network.vlan_id.clone()),
                mtu: network.and_then(|network| network.mtu),
                dns_domain: network.map(|network| network.dns_domain.clone()),
                dns_servers: network.and_then(|network| network.dns_servers.clone()),
            }
        })
        .collect();
    let mut routes = Vec::new();
    for assignment in &node.addressing {
        let Some(network) = site.design.network(&assignment.network) else { continue };
        for route in network.effective_routes() {
            routes.push(IntrospectedRoute {
                network: assignment.network.clone(),
                subnet: route.subnet.clone(),
                gateway: route.gateway.clone(),
                metric: route.metric.clone(),
                routedomain: route.routedomain.clone(),
            });
        }
    }
    let interfaces = config
        .interfaces
        .iter()
        .map(|interface| IntrospectedInterface {
            name: interface.name.clone(),
            network_link: interface.network_link.clone(),
            hardware_slaves: interface.hardware_slaves.clone(),
            networks: interface.networks.clone(),
            sriov: interface.sriov,
            vf_count: interface.sriov.then(|| interface.vf_count.unwrap_or(0)),
            trustedmode: interface.sriov.then(|| interface.trustedmode.unwrap_or(false)),
        })
        .collect();
    let storage = IntrospectedStorage {
        physical_devices: config
            .storage
            .physical_devices
            .iter()
            .map(|device| IntrospectedDevice {
                name: device.name.clone(),
                labels: device.labels.clone().map(StringMap),
                volume_group: device.volume_group.clone(),
                partitions: device
                    .partitions
                    .iter()
                    .map(|partition| IntrospectedPartition {
                        name: partition.name.clone(),
                        size: partition.size.clone(),
                        bootable: partition.bootable,
                        part_uuid: partition.part_uuid.clone(),
                        volume_group: partition.volume_group.clone(),
                        mountpoint: partition.mountpoint.clone(),
                        fstype: partition.fstype.clone(),
                        mount_options: partition.mount_options.clone(),
                        fs_uuid: partition.fs_uuid.clone(),
                        fs_label: partition.fs_label.clone(),
                    })
                    .collect(),
            })
            .collect(),
        volume_groups: config
            .storage
            .volume_groups
            .iter()
            .map(|group| IntrospectedVolumeGroup {
                name: group.name.clone(),
                vg_uuid: group.vg_uuid.clone(),
                logical_volumes: group
                    .logical_volumes
                    .iter()
                    .map(|volume| IntrospectedLogicalVolume {
                        name: volume.name.clone(),
                        size: volume.size.clone(),
                        lv_uuid: volume.lv_uuid.clone(),
                        mountpoint: volume.mountpoint.clone(),
                        fstype: volume.fstype.clone(),
                        mount_options: volume.mount_options.clone(),
                        fs_uuid: volume.fs_uuid.clone(),
                        fs_label: volume.fs_label.clone(),
                    })
                    .collect(),
            })
            .collect(),
    };
    Introspection {
        hostname: node.name().to_owned(),
        domain: site.node_domain(node),
        fqdn: site.node_fqdn(node),
        task_id: task_id.to_string(),
        design_ref: design_ref.redacted().to_string(),
        primary_network: config.primary_network.clone(),
        interfaces,
        addresses,
        routes,
        storage,
        platform: IntrospectedPlatform {
            image: config.image.clone(),
            kernel: config.kernel.clone(),
            kernel_params: StringMap(config.kernel_params.clone()),
        },
        metadata: IntrospectedMetadata {
            tags: config.tags.clone(),
            owner_data: StringMap(config.owner_data.clone()),
            rack: config.rack.clone(),
            boot_mac: node.boot_mac.clone(),
            hardware_profile: config.hardware_profile.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_follow_the_schema() {
        let full = parse_report(br#"{"status": "Success", "details": [{"message": "m", "error": false, "step": 3}]}"#).expect("valid");
        assert_eq!(full.status, Some(ActionResult::Success));
        assert_eq!(full.details[0].extra.get("step"), Some(&json!(3)));
        assert_eq!(parse_report(b"{}"), Some(Report { status: None, details: Vec::new() }));
        for bad in [
            &b""[..],
            b"[]",
            b"{",
            br#"{"status": "done"}"#,
            br#"{"status": null}"#,
            br#"{"details": null}"#,
            br#"{"extra": 1}"#,
            br#"{"details": [{"message": "m"}]}"#,
            br#"{"details": [{"message": 1, "error": false}]}"#,
            br#"{"details": [{"message": "m", "error": "no"}]}"#,
            br#"{"details": [{"message": "m", "error": false, "ts": "x"}]}"#,
            br#"{"details": ["m"]}"#,
        ] {
            assert_eq!(parse_report(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
