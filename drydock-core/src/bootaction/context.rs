//! The template context of a node's assets (compat: site-design spec §5.5):
//! `node.{hostname, domain, tags, labels, network, interfaces}` and
//! `action.{action_id, action_key, report_url, design_ref}`.

use serde_json::{Map, Value, json};

use super::{BootActionError, IdentityKey};
use crate::compile::EffectiveSite;
use crate::ids::{BootActionId, DesignRef};
use crate::model::BaremetalNode;

/// Who is rendering: the boot-action instance and its node's key.
#[derive(Debug, Clone)]
pub struct ActionIdentity {
    /// The instance id (26-character base32 ULID in templates).
    pub action_id: BootActionId,
    /// The node's key for this deployment.
    pub action_key: IdentityKey,
    /// Where the node reports status (`[bootactions] report_url`).
    pub report_url: String,
    /// The design the node was deployed from. Any `user:password@` part is
    /// redacted before it reaches the node's files.
    pub design_ref: DesignRef,
}

/// Default status-report URL (compat: site-design spec §5.5).
pub const DEFAULT_REPORT_URL: &str = "http://localhost:9000/api/v1.0/bootactions/";

/// The `node` part of the context.
pub fn node_context(site: &EffectiveSite, node: &BaremetalNode) -> Result<Value, BootActionError> {
    let mut networks = Map::new();
    for assignment in &node.addressing {
        let Some(address) = assignment.address.as_deref() else { continue };
        let network = site
            .design
            .network(&assignment.network)
            .ok_or_else(|| BootActionError::UnknownNetwork { node: node.name().to_owned(), network: assignment.network.clone() })?;
        networks.insert(assignment.network.clone(), json!({"ip": address, "cidr": network.cidr, "dns_suffix": network.dns_domain}));
    }
    if let Some(default) = node.config.primary_network.as_deref().and_then(|primary| networks.get(primary)).cloned() {
        networks.insert("default".into(), default);
    }
    let mut interfaces = Map::new();
    for interface in &node.config.interfaces {
        let entry = if interface.sriov {
            json!({"sriov": true, "vf_count": interface.vf_count.unwrap_or(0), "trustedmode": interface.trustedmode.unwrap_or(false)})
        } else {
            json!({"sriov": false})
        };
        interfaces.insert(interface.name.clone(), entry);
    }
    Ok(json!({
        "hostname": node.name(),
        "domain": site.node_domain(node),
        "tags": node.config.tags,
        "labels": node.config.owner_data,
        "network": networks,
        "interfaces": interfaces,
    }))
}

/// The whole context for one boot action of a node.
pub fn template_context(site: &EffectiveSite, node: &BaremetalNode, identity: &ActionIdentity) -> Result<Value, BootActionError> {
    Ok(json!({
        "node": node_context(site, node)?,
        "action": {
            "action_id": identity.action_id.to_string(),
            "action_key": identity.action_key.to_hex(),
            "report_url": identity.report_url,
            "design_ref": identity.design_ref.redacted(),
        },
    }))
}
