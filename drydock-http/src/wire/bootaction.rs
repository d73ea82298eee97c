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
use serde_json::{Map, Value, json};

/// Format B: `{"title": …, "description": …}` (`description` only when given).
pub fn error_body(title: &str, description: Option<&str>) -> Value {
    let mut body = Map::new();
    body.insert("title".into(), json!(title));
    if let Some(description) = description {
        body.insert("description".into(), json!(description));
    }
    Value::Object(body)
}

/// The status row without its key.
pub fn status_row(row: &BootActionStatus) -> Value {
    json!({
        "node_name": row.node_name,
        "action_id": row.action_id.to_string(),
        "action_name": row.action_name,
        "task_id": row.task_id.to_string(),
        "action_status": row.action_status.as_str(),
    })
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

/// What a node sees of itself: the effective configuration of `node` in
/// `site` as deployed by `task_id` from `design_ref` (redacted).
pub fn introspection(site: &EffectiveSite, node: &BaremetalNode, task_id: TaskId, design_ref: &DesignRef) -> Value {
    let config = &node.config;
    let addresses: Vec<Value> = node
        .addressing
        .iter()
        .map(|assignment| {
            let network = site.design.network(&assignment.network);
            json!({
                "network": assignment.network,
                "address": assignment.address.as_deref().unwrap_or("dhcp"),
                "cidr": network.map(|network| network.cidr.clone()),
                "vlan": network.and_then(|network| network.vlan_id.clone()),
                "mtu": network.and_then(|network| network.mtu),
                "dns_domain": network.map(|network| network.dns_domain.clone()),
                "dns_servers": network.and_then(|network| network.dns_servers.clone()),
            })
        })
        .collect();
    let mut routes = Vec::new();
    for assignment in &node.addressing {
        let Some(network) = site.design.network(&assignment.network) else { continue };
        for route in network.effective_routes() {
            routes.push(json!({
                "network": assignment.network,
                "subnet": route.subnet,
                "gateway": route.gateway,
                "metric": route.metric,
                "routedomain": route.routedomain,
            }));
        }
    }
    let interfaces: Vec<Value> = config
        .interfaces
        .iter()
        .map(|interface| {
            let mut entry = json!({
                "name": interface.name,
                "network_link": interface.network_link,
                "hardware_slaves": interface.hardware_slaves,
                "networks": interface.networks,
                "sriov": interface.sriov,
            });
            if interface.sriov {
                entry["vf_count"] = json!(interface.vf_count.unwrap_or(0));
                entry["trustedmode"] = json!(interface.trustedmode.unwrap_or(false));
            }
            entry
        })
        .collect();
    let storage = json!({
        "physical_devices": config.storage.physical_devices.iter().map(|device| json!({
            "name": device.name,
            "labels": device.labels,
            "volume_group": device.volume_group,
            "partitions": device.partitions.iter().map(|partition| json!({
                "name": partition.name,
                "size": partition.size,
                "bootable": partition.bootable,
                "part_uuid": partition.part_uuid,
                "volume_group": partition.volume_group,
                "mountpoint": partition.mountpoint,
                "fstype": partition.fstype,
                "mount_options": partition.mount_options,
                "fs_uuid": partition.fs_uuid,
                "fs_label": partition.fs_label,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "volume_groups": config.storage.volume_groups.iter().map(|group| json!({
            "name": group.name,
            "vg_uuid": group.vg_uuid,
            "logical_volumes": group.logical_volumes.iter().map(|volume| json!({
                "name": volume.name,
                "size": volume.size,
                "lv_uuid": volume.lv_uuid,
                "mountpoint": volume.mountpoint,
                "fstype": volume.fstype,
                "mount_options": volume.mount_options,
                "fs_uuid": volume.fs_uuid,
                "fs_label": volume.fs_label,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    json!({
        "hostname": node.name(),
        "domain": site.node_domain(node),
        "fqdn": site.node_fqdn(node),
        "task_id": task_id.to_string(),
        "design_ref": design_ref.redacted(),
        "primary_network": config.primary_network,
        "interfaces": interfaces,
        "addresses": addresses,
        "routes": routes,
        "storage": storage,
        "platform": {
            "image": config.image,
            "kernel": config.kernel,
            "kernel_params": config.kernel_params,
        },
        "metadata": {
            "tags": config.tags,
            "owner_data": config.owner_data,
            "rack": config.rack,
            "boot_mac": node.boot_mac,
            "hardware_profile": config.hardware_profile,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
