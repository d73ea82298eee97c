//! NetworkLink (L1/L2 link properties) and Network (L2/L3 network) objects
//! (compat: site-design spec §2.2, §2.3).

use super::DocMeta;

/// Bonding mode of a link. Other spellings are rejected at ingestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(into = "&'static str")]
pub enum BondingMode {
    /// No bond.
    Disabled,
    /// LACP.
    Lacp,
    /// Round robin.
    RoundRobin,
    /// Active-backup.
    ActiveBackup,
}

impl BondingMode {
    /// Parse the document spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "disabled" => Some(BondingMode::Disabled),
            "802.3ad" => Some(BondingMode::Lacp),
            "balance-rr" => Some(BondingMode::RoundRobin),
            "active-backup" => Some(BondingMode::ActiveBackup),
            _ => None,
        }
    }

    /// The document spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BondingMode::Disabled => "disabled",
            BondingMode::Lacp => "802.3ad",
            BondingMode::RoundRobin => "balance-rr",
            BondingMode::ActiveBackup => "active-backup",
        }
    }
}

/// Trunking mode of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(into = "&'static str")]
pub enum TrunkingMode {
    /// Untagged, one native network.
    Disabled,
    /// 802.1q VLAN tagging.
    Dot1q,
}

impl TrunkingMode {
    /// Parse the document spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "disabled" => Some(TrunkingMode::Disabled),
            "802.1q" => Some(TrunkingMode::Dot1q),
            _ => None,
        }
    }

    /// The document spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TrunkingMode::Disabled => "disabled",
            TrunkingMode::Dot1q => "802.1q",
        }
    }
}

/// A `drydock/NetworkLink/v1` document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NetworkLink {
    /// Document reference and position; the name is the link's name.
    pub meta: DocMeta,
    /// Bonding mode.
    pub bonding_mode: BondingMode,
    /// MII monitoring rate (null unless bonded).
    pub bonding_mon_rate: Option<i64>,
    /// Bond up delay (null unless bonded).
    pub bonding_up_delay: Option<i64>,
    /// Bond down delay (null unless bonded).
    pub bonding_down_delay: Option<i64>,
    /// Transmit hash policy (802.3ad only).
    pub bonding_xmit_hash: Option<String>,
    /// LACP rate (802.3ad only).
    pub bonding_peer_rate: Option<String>,
    /// Link MTU.
    pub mtu: i64,
    /// Link speed.
    pub linkspeed: String,
    /// Trunking mode.
    pub trunk_mode: TrunkingMode,
    /// The native (untagged) network.
    pub native_network: Option<String>,
    /// Networks allowed on the link.
    pub allowed_networks: Vec<String>,
    /// Labels (values may be null).
    pub labels: indexmap::IndexMap<String, Option<String>>,
}

/// An address range of a network.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NetworkRange {
    /// `static`, `dhcp`, `reserved` (not enforced).
    pub range_type: Option<String>,
    /// First address.
    pub start: Option<String>,
    /// Last address.
    pub end: Option<String>,
}

/// A route of a network. `metric` is kept as the string the original stores.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Route {
    /// Destination subnet.
    pub subnet: Option<String>,
    /// Next hop.
    pub gateway: Option<String>,
    /// Metric, as text (`10` → `"10"`).
    pub metric: Option<String>,
    /// Route-domain membership of a route-domain route.
    pub routedomain: Option<String>,
    /// Whether this route was added by route-domain rendering (compat §3.8:
    /// such routes have no `routedomain` key).
    pub rendered: bool,
}

/// A `drydock/Network/v1` document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Network {
    /// Document reference and position.
    pub meta: DocMeta,
    /// CIDR, unparsed (validation parses it).
    pub cidr: String,
    /// VLAN tag.
    pub vlan_id: Option<String>,
    /// MTU.
    pub mtu: Option<i64>,
    /// Route-domain membership.
    pub routedomain: Option<String>,
    /// Address ranges.
    pub ranges: Vec<NetworkRange>,
    /// Routes (route-domain rendering appends to these).
    pub routes: Vec<Route>,
    /// DNS domain (`local` when the document has no `dns.domain` key).
    pub dns_domain: String,
    /// Comma-separated DNS servers.
    pub dns_servers: Option<String>,
    /// DHCP relay address on this network.
    pub dhcp_relay_self_ip: Option<String>,
    /// DHCP relay upstream target.
    pub dhcp_relay_upstream_target: Option<String>,
    /// Labels.
    pub labels: indexmap::IndexMap<String, Option<String>>,
    /// Routes added by route-domain rendering, filled by compile.
    pub rendered_routes: Vec<RenderedRoutes>,
}

/// Routes that route-domain rendering adds to a network (compat §3.8): one
/// route to every member CIDR of the domain other than the network's own,
/// all via one gateway. Kept compact so a domain of R networks costs O(R)
/// memory, not O(R²); [`Network::effective_routes`] expands it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RenderedRoutes {
    /// The domain's member CIDRs in network order (shared by every member).
    pub domain_cidrs: std::sync::Arc<[String]>,
    /// Next hop (from the network's route-domain route).
    pub gateway: String,
    /// Metric (from the network's route-domain route).
    pub metric: String,
    /// How many routes the set expands to (member CIDRs other than the
    /// network's own).
    pub route_count: usize,
}

impl Network {
    /// Every route: the document's, then the rendered ones, in order.
    pub fn effective_routes(&self) -> impl Iterator<Item = std::borrow::Cow<'_, Route>> {
        let own = self.routes.iter().map(std::borrow::Cow::Borrowed);
        let rendered = self.rendered_routes.iter().flat_map(move |set| {
            set.domain_cidrs.iter().filter(move |cidr| **cidr != self.cidr).map(move |cidr| {
                std::borrow::Cow::Owned(Route {
                    subnet: Some(cidr.clone()),
                    gateway: Some(set.gateway.clone()),
                    metric: Some(set.metric.clone()),
                    routedomain: None,
                    rendered: true,
                })
            })
        });
        own.chain(rendered)
    }

    /// How many routes [`Network::effective_routes`] yields, without expanding.
    pub fn effective_route_count(&self) -> usize {
        self.routes.len() + self.rendered_routes.iter().map(|set| set.route_count).sum::<usize>()
    }
}

impl From<BondingMode> for &'static str {
    fn from(mode: BondingMode) -> Self {
        mode.as_str()
    }
}

impl From<TrunkingMode> for &'static str {
    fn from(mode: TrunkingMode) -> Self {
        mode.as_str()
    }
}
