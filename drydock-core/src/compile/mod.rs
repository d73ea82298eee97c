//! The effective site (compat: site-design spec §3): host-profile
//! inheritance, hardware-profile application, boot-action targets and route
//! domains, computed from an ingested design.
//!
//! Pure and linear in the size of the design: each profile is compiled once
//! and shared by every node that inherits from it; lookups go through name
//! indexes; route domains stay compact.

pub mod hardware;
pub mod logical_names;
pub(crate) mod merge;
pub(crate) mod routedomain;
pub mod select;
pub mod size;

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{BaremetalNode, BootAction, HostConfig, HostProfile, NodeFilter, SiteDesign};
pub use select::{RequestFilterError, SelectError};

/// Why a design has no effective site (upstream: `Error loading effective site: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// A profile chain names a profile that does not exist.
    #[error("HostProfile {name} not found in design state (referenced by {referrer})")]
    HostProfileNotFound {
        /// The missing profile.
        name: String,
        /// The node or profile naming it.
        referrer: String,
    },
    /// A profile chain loops.
    #[error("HostProfile chain is cyclic: {}", .chain.join(" -> "))]
    HostProfileCycle {
        /// The profiles in the loop, first repeated at the end.
        chain: Vec<String>,
    },
    /// A node has no hardware profile after inheritance.
    #[error("Hardware profile not set for node {node}")]
    HardwareProfileNotSet {
        /// The node.
        node: String,
    },
    /// A node's hardware profile does not exist.
    #[error("HardwareProfile {name} not found in design state (node {node})")]
    HardwareProfileNotFound {
        /// The missing profile.
        name: String,
        /// The node.
        node: String,
    },
    /// A kernel-parameter reference is incomplete.
    #[error(transparent)]
    KernelParameter(#[from] hardware::ReferenceError),
    /// A boot action's node filter cannot be evaluated.
    #[error("{source} (boot action {action})")]
    BootActionFilter {
        /// The boot action.
        action: String,
        /// Why.
        source: SelectError,
    },
}

/// A design after inheritance and derivation: what validation, deployment
/// and boot-action rendering read. Immutable once built.
#[derive(Debug, Clone)]
pub struct EffectiveSite {
    /// The design with compiled nodes and rendered route domains.
    pub design: SiteDesign,
    /// For each boot action (design order), the indices of the nodes it targets.
    pub boot_action_targets: Vec<Vec<usize>>,
    node_index: HashMap<String, usize>,
}

impl EffectiveSite {
    /// The compiled nodes in design order.
    pub fn nodes(&self) -> &[BaremetalNode] {
        &self.design.baremetal_nodes
    }

    /// The first node named `name`.
    pub fn node(&self, name: &str) -> Option<&BaremetalNode> {
        self.node_index.get(name).map(|&index| &self.design.baremetal_nodes[index])
    }

    /// Index of the first node named `name`.
    pub fn node_position(&self, name: &str) -> Option<usize> {
        self.node_index.get(name).copied()
    }

    /// Evaluate a node filter over the compiled nodes (indices in design order).
    pub fn select(&self, filter: Option<&NodeFilter>) -> Result<Vec<usize>, SelectError> {
        select::select(&self.design.baremetal_nodes, filter)
    }

    /// The boot actions targeting the node at `node`, in design order.
    pub fn boot_actions_for(&self, node: usize) -> impl Iterator<Item = &BootAction> {
        self.design
            .boot_actions
            .iter()
            .zip(&self.boot_action_targets)
            .filter(move |(_, targets)| targets.binary_search(&node).is_ok())
            .map(|(action, _)| action)
    }

    /// The node's DNS domain (compat §3.7): its primary network's domain, or `local`.
    pub fn node_domain(&self, node: &BaremetalNode) -> String {
        node.config
            .primary_network
            .as_deref()
            .and_then(|name| self.design.network(name))
            .map(|network| network.dns_domain.as_str())
            .filter(|domain| !domain.is_empty())
            .unwrap_or("local")
            .to_owned()
    }

    /// `<name>.<domain>`.
    pub fn node_fqdn(&self, node: &BaremetalNode) -> String {
        format!("{}.{}", node.name(), self.node_domain(node))
    }
}

/// Compile an ingested design into its effective site.
pub fn compile(mut design: SiteDesign) -> Result<EffectiveSite, CompileError> {
    let host_profiles = std::mem::take(&mut design.host_profiles);
    let mut profiles = ProfileCompiler::new(&host_profiles);
    let hardware_index: HashMap<&str, usize> = first_index(design.hardware_profiles.iter().map(|p| p.meta.name()));
    for node in &mut design.baremetal_nodes {
        let own = std::mem::take(&mut node.config);
        let mut config = match own.parent_profile.as_deref() {
            None => own,
            Some(parent) => {
                let parent_config = profiles.compiled(parent, node.meta.name())?;
                merge::merge_host_config(own, &parent_config)
            }
        };
        let name = node.meta.name();
        let hardware_name =
            config.hardware_profile.as_deref().ok_or_else(|| CompileError::HardwareProfileNotSet { node: name.to_owned() })?;
        let hardware = hardware_index
            .get(hardware_name)
            .map(|&index| &design.hardware_profiles[index])
            .ok_or_else(|| CompileError::HardwareProfileNotFound { name: hardware_name.to_owned(), node: name.to_owned() })?;
        hardware::apply_hardware_profile(name, &mut config, hardware)?;
        node.config = config;
    }
    drop(profiles);
    design.host_profiles = host_profiles;
    let node_index = first_index(design.baremetal_nodes.iter().map(|node| node.name()))
        .into_iter()
        .map(|(name, index)| (name.to_owned(), index))
        .collect();
    let mut boot_action_targets = Vec::with_capacity(design.boot_actions.len());
    for action in &design.boot_actions {
        let targets = select::select(&design.baremetal_nodes, action.node_filter.as_ref())
            .map_err(|source| CompileError::BootActionFilter { action: action.meta.name().to_owned(), source })?;
        boot_action_targets.push(targets);
    }
    routedomain::render_route_domains(&mut design.networks);
    Ok(EffectiveSite { design, boot_action_targets, node_index })
}

/// Name → index of the first object with that name.
fn first_index<'a>(names: impl Iterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut index = HashMap::new();
    for (position, name) in names.enumerate() {
        index.entry(name).or_insert(position);
    }
    index
}

/// Compiles each host profile once, on demand, detecting cycles.
struct ProfileCompiler<'d> {
    profiles: &'d [HostProfile],
    index: HashMap<&'d str, usize>,
    compiled: HashMap<usize, Arc<HostConfig>>,
}

impl<'d> ProfileCompiler<'d> {
    fn new(profiles: &'d [HostProfile]) -> Self {
        ProfileCompiler { profiles, index: first_index(profiles.iter().map(|p| p.meta.name())), compiled: HashMap::new() }
    }

    /// The compiled configuration of profile `name`, referenced by `referrer`.
    fn compiled(&mut self, name: &str, referrer: &str) -> Result<Arc<HostConfig>, CompileError> {
        // Walk up the chain until a compiled or root profile, then merge down.
        let mut chain: Vec<usize> = Vec::new();
        let mut current = name.to_owned();
        let mut current_referrer = referrer.to_owned();
        loop {
            let &position = self
                .index
                .get(current.as_str())
                .ok_or_else(|| CompileError::HostProfileNotFound { name: current.clone(), referrer: current_referrer.clone() })?;
            if self.compiled.contains_key(&position) {
                break;
            }
            if chain.contains(&position) {
                let mut names: Vec<String> = chain.iter().map(|&p| self.profiles[p].meta.name().to_owned()).collect();
                names.push(current.clone());
                let start = names.iter().position(|n| *n == current).unwrap_or(0);
                return Err(CompileError::HostProfileCycle { chain: names[start..].to_vec() });
            }
            chain.push(position);
            match &self.profiles[position].config.parent_profile {
                Some(parent) => {
                    current_referrer = current.clone();
                    current = parent.clone();
                }
                None => break,
            }
        }
        for &position in chain.iter().rev() {
            let profile = &self.profiles[position];
            let config = match profile.config.parent_profile.as_deref() {
                None => profile.config.clone(),
                Some(parent) => {
                    // Invariant: the walk above found every parent in this
                    // chain, and parents are compiled before their children.
                    let parent_position = self.index[parent];
                    merge::merge_host_config(profile.config.clone(), &self.compiled[&parent_position])
                }
            };
            self.compiled.insert(position, Arc::new(config));
        }
        let position = self.index[name];
        Ok(self.compiled[&position].clone())
    }
}
