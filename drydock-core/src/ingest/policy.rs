//! Which design references may be read: the [`ReferencePolicy`] that
//! the readers of [`super::source`] (`FileSource`, `DefaultSource`) apply
//! before touching a file or a host. Files are allowed under configured roots (checked on the
//! canonicalised path), hosts by allow and deny lists of names, addresses
//! and CIDR ranges, with link-local and cloud metadata addresses denied by
//! default on a server. Pure data and checks: the caller resolves paths and
//! names and asks.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use ipnet::IpNet;

/// One entry of an allow or deny list of hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRule {
    /// An exact host name, lowercase, without a trailing dot.
    Name(String),
    /// An address (a /32 or /128) or a CIDR range.
    Net(IpNet),
}

/// A host rule that is neither a name, an address nor a CIDR range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid host {text:?}: expected a host name, an IP address or a CIDR range")]
pub struct HostRuleError {
    /// The text given.
    pub text: String,
}

impl FromStr for HostRule {
    type Err = HostRuleError;

    /// `deckhand.example`, `10.0.0.7`, `[fd00::1]`, `fd00::1`,
    /// `10.0.0.0/8`, `fd00::/8`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || HostRuleError { text: text.to_owned() };
        let trimmed = text.trim();
        if let Ok(net) = trimmed.parse::<IpNet>() {
            return Ok(HostRule::Net(net.trunc()));
        }
        let unbracketed = trimmed.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(trimmed);
        if let Ok(address) = unbracketed.parse::<IpAddr>() {
            return Ok(HostRule::Net(IpNet::from(normalise(address))));
        }
        let name = normalise_name(trimmed);
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty() && label.len() <= 63 && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        if valid { Ok(HostRule::Name(name)) } else { Err(invalid()) }
    }
}

impl fmt::Display for HostRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostRule::Name(name) => f.write_str(name),
            HostRule::Net(net) if net.prefix_len() == net.max_prefix_len() => write!(f, "{}", net.addr()),
            HostRule::Net(net) => write!(f, "{net}"),
        }
    }
}

/// Why a host is denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenyReason {
    /// The host is on the deny list.
    Listed,
    /// The host is a link-local, metadata or unspecified address.
    Special,
    /// The name resolves to an address on the deny list.
    ResolvesToListed,
    /// The name resolves to a link-local, metadata or unspecified address.
    ResolvesToSpecial,
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DenyReason::Listed => "listed in --deny-host",
            DenyReason::Special => "link-local/metadata address",
            DenyReason::ResolvesToListed => "it resolves to an address listed in --deny-host",
            DenyReason::ResolvesToSpecial => "it resolves to a link-local/metadata address",
        })
    }
}

/// The rule that refused a reference. The message names the rule and the
/// host or path as the user gave them, never an address a name resolved to
/// nor a canonicalised path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// File references are refused altogether (no roots configured).
    #[error("file references are not allowed: no --design-root is configured")]
    NoFileRoots,
    /// The file is outside every root.
    #[error("file references are not allowed: the path is outside every --design-root")]
    OutsideRoots,
    /// The host is denied.
    #[error("host {host} is denied: {reason}")]
    DeniedHost {
        /// The host as it appears in the URL.
        host: String,
        /// Which rule denied it.
        reason: DenyReason,
    },
    /// An allow list is configured and the host is not on it.
    #[error("host {host} is not in --allow-host")]
    NotAllowedHost {
        /// The host as it appears in the URL.
        host: String,
    },
    /// The source redirected more often than allowed.
    #[error("more than {max} redirects")]
    TooManyRedirects {
        /// The most redirects followed.
        max: usize,
    },
    /// A redirect left the origin of a request that carries a Keystone token.
    #[error("a redirect to another host would carry the Keystone token")]
    TokenRedirect,
}

/// Which design references may be read.
///
/// [`ReferencePolicy::unrestricted`] (the [`Default`]) reads any path and
/// any host, as the local CLI and the Python module do;
/// [`ReferencePolicy::server`] is for `drydock serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferencePolicy {
    /// `None`: any file may be read. `Some(roots)`: only files whose
    /// canonical path is under one of these directories (canonicalised when
    /// checked); `Some(vec![])` refuses every file reference.
    pub roots: Option<Vec<PathBuf>>,
    /// When non-empty, only these hosts may be contacted: a host name must
    /// be listed by name, or every address it resolves to must be in a
    /// listed address or range; an address must be in a listed address or
    /// range.
    pub allow_hosts: Vec<HostRule>,
    /// Hosts never contacted: by name, by address, and names resolving to a
    /// listed address or range. Beats the allow list.
    pub deny_hosts: Vec<HostRule>,
    /// Deny link-local (169.254.0.0/16, fe80::/10), cloud metadata
    /// (169.254.169.254, fd00:ec2::254, 100.100.100.200,
    /// `metadata.google.internal`) and unspecified (0.0.0.0/8, ::)
    /// addresses, and names resolving to them, even when not listed.
    pub deny_special: bool,
}

impl Default for ReferencePolicy {
    fn default() -> Self {
        ReferencePolicy::unrestricted()
    }
}

/// Host names of cloud metadata services (their addresses are special too).
const METADATA_NAMES: &[&str] = &["metadata.google.internal"];

impl ReferencePolicy {
    /// Any file, any host: the local CLI and the Python module.
    pub fn unrestricted() -> Self {
        ReferencePolicy { roots: None, allow_hosts: Vec::new(), deny_hosts: Vec::new(), deny_special: false }
    }

    /// The server's policy: files only under `roots` (none: file references
    /// refused), hosts by `allow_hosts` (empty: any host not denied) and
    /// `deny_hosts`, link-local and metadata addresses always denied.
    /// Loopback is allowed unless denied.
    pub fn server(roots: Vec<PathBuf>, allow_hosts: Vec<HostRule>, deny_hosts: Vec<HostRule>) -> Self {
        ReferencePolicy { roots: Some(roots), allow_hosts, deny_hosts, deny_special: true }
    }

    /// Whether any host check applies (the source then resolves names
    /// itself and ignores proxy settings, so the addresses it checks are
    /// the ones it connects to).
    pub fn restricts_hosts(&self) -> bool {
        self.deny_special || !self.allow_hosts.is_empty() || !self.deny_hosts.is_empty()
    }

    /// Check a file reference. `given` is the path as the reference names
    /// it (relative to `cwd`), `canonical` its canonical form when it
    /// exists, `canonical_roots` the roots canonicalised (roots that do not
    /// exist left out). A path that does not exist is checked lexically, so
    /// a refusal does not depend on whether a file outside the roots exists.
    pub fn check_file(&self, given: &Path, cwd: &Path, canonical: Option<&Path>, canonical_roots: &[PathBuf]) -> Result<(), Refusal> {
        let Some(roots) = &self.roots else {
            return Ok(());
        };
        if roots.is_empty() {
            return Err(Refusal::NoFileRoots);
        }
        let inside = match canonical {
            Some(canonical) => canonical_roots.iter().any(|root| canonical.starts_with(root)),
            None => {
                let lexical = lexical_absolute(given, cwd);
                canonical_roots.iter().chain(roots.iter()).any(|root| lexical.starts_with(lexical_absolute(root, cwd)))
            }
        };
        if inside { Ok(()) } else { Err(Refusal::OutsideRoots) }
    }

    /// Check a URL's host before anything is resolved or contacted: an
    /// address completely, a name by the name lists (its addresses are
    /// checked by [`ReferencePolicy::check_resolved`]). IPv6 addresses may
    /// be bracketed.
    pub fn check_host(&self, host: &str) -> Result<(), Refusal> {
        if let Some(address) = parse_address(host) {
            return self.check_address(host, address);
        }
        let name = normalise_name(host);
        if self.deny_hosts.iter().any(|rule| matches!(rule, HostRule::Name(listed) if *listed == name)) {
            return Err(Refusal::DeniedHost { host: host.to_owned(), reason: DenyReason::Listed });
        }
        if self.deny_special && METADATA_NAMES.contains(&name.as_str()) {
            return Err(Refusal::DeniedHost { host: host.to_owned(), reason: DenyReason::Special });
        }
        if self.allow_hosts.is_empty() || self.allows_name(&name) || self.allow_hosts.iter().any(|rule| matches!(rule, HostRule::Net(_))) {
            Ok(())
        } else {
            Err(Refusal::NotAllowedHost { host: host.to_owned() })
        }
    }

    /// Check the addresses a host name resolved to: every one must pass
    /// (a name with one denied address is refused, so DNS cannot smuggle
    /// a denied address in among allowed ones). The refusal names the host,
    /// never the address.
    pub fn check_resolved(&self, host: &str, addresses: &[IpAddr]) -> Result<(), Refusal> {
        let name = normalise_name(host);
        let listed_by_name = self.allows_name(&name);
        for &address in addresses {
            let address = normalise(address);
            if self.denied_by_list(address) {
                return Err(Refusal::DeniedHost { host: host.to_owned(), reason: DenyReason::ResolvesToListed });
            }
            if self.deny_special && is_special(address) {
                return Err(Refusal::DeniedHost { host: host.to_owned(), reason: DenyReason::ResolvesToSpecial });
            }
            if !self.allow_hosts.is_empty() && !listed_by_name && !self.allowed_by_net(address) {
                return Err(Refusal::NotAllowedHost { host: host.to_owned() });
            }
        }
        Ok(())
    }

    fn check_address(&self, host: &str, address: IpAddr) -> Result<(), Refusal> {
        let address = normalise(address);
        if self.denied_by_list(address) {
            return Err(Refusal::DeniedHost { host: host.to_owned(), reason: DenyReason::Listed });
        }
        if self.deny_special && is_special(address) {
            return Err(Refusal::DeniedHost { host: host.to_owned(), reason: DenyReason::Special });
        }
        if self.allow_hosts.is_empty() || self.allowed_by_net(address) {
            Ok(())
        } else {
            Err(Refusal::NotAllowedHost { host: host.to_owned() })
        }
    }

    fn allows_name(&self, name: &str) -> bool {
        self.allow_hosts.iter().any(|rule| matches!(rule, HostRule::Name(listed) if listed == name))
    }

    fn allowed_by_net(&self, address: IpAddr) -> bool {
        self.allow_hosts.iter().any(|rule| matches!(rule, HostRule::Net(net) if net_contains(net, address)))
    }

    fn denied_by_list(&self, address: IpAddr) -> bool {
        self.deny_hosts.iter().any(|rule| matches!(rule, HostRule::Net(net) if net_contains(net, address)))
    }
}

fn net_contains(net: &IpNet, address: IpAddr) -> bool {
    net.contains(&address) || matches!(net, IpNet::V4(_)) && embedded_v4(address).is_some_and(|v4| net.contains(&IpAddr::V4(v4)))
}

/// A host as an address, brackets allowed.
fn parse_address(host: &str) -> Option<IpAddr> {
    let unbracketed = host.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(host);
    unbracketed.parse().ok()
}

fn normalise_name(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// IPv4-mapped IPv6 addresses are their IPv4 address.
fn normalise(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// The IPv4 address inside a NAT64 (64:ff9b::/96) address.
fn embedded_v4(address: IpAddr) -> Option<Ipv4Addr> {
    match address {
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            (segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0]).then(|| {
                let [_, _, _, _, _, _, _, _, _, _, _, _, a, b, c, d] = v6.octets();
                Ipv4Addr::new(a, b, c, d)
            })
        }
        IpAddr::V4(_) => None,
    }
}

/// Link-local, metadata and unspecified addresses.
fn is_special(address: IpAddr) -> bool {
    let special_v4 = |v4: Ipv4Addr| v4.is_link_local() || v4 == Ipv4Addr::new(100, 100, 100, 200) || v4.octets()[0] == 0;
    match normalise(address) {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => {
            let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
            let metadata = v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
            link_local || metadata || v6.is_unspecified() || embedded_v4(address).is_some_and(special_v4)
        }
    }
}

/// `path` made absolute against `cwd` with `.` and `..` folded, without
/// touching the file system.
fn lexical_absolute(path: &Path, cwd: &Path) -> PathBuf {
    let mut result = PathBuf::new();
    for component in cwd.join(path).components() {
        match component {
            Component::ParentDir => {
                result.pop();
            }
            Component::CurDir => {}
            other => result.push(other),
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[&str]) -> Vec<HostRule> {
        list.iter().map(|text| text.parse().expect("rule")).collect()
    }

    #[test]
    fn host_rules_parse() {
        assert_eq!("Deckhand.Example.".parse(), Ok(HostRule::Name("deckhand.example".into())));
        assert_eq!("10.1.2.3".parse::<HostRule>().map(|rule| rule.to_string()), Ok("10.1.2.3".into()));
        assert_eq!("[::1]".parse::<HostRule>().map(|rule| rule.to_string()), Ok("::1".into()));
        assert_eq!("10.1.2.3/8".parse::<HostRule>().map(|rule| rule.to_string()), Ok("10.0.0.0/8".into()));
        for bad in ["", "a b", "x..y", "http://x", "10.0.0.0/33"] {
            assert!(bad.parse::<HostRule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn unrestricted_allows_everything() {
        let policy = ReferencePolicy::unrestricted();
        assert!(!policy.restricts_hosts());
        assert_eq!(policy.check_host("169.254.169.254"), Ok(()));
        assert_eq!(policy.check_resolved("x", &["169.254.169.254".parse().expect("ip")]), Ok(()));
        assert_eq!(policy.check_file(Path::new("/etc/passwd"), Path::new("/"), None, &[]), Ok(()));
    }

    #[test]
    fn server_denies_metadata_and_link_local_by_default() {
        let policy = ReferencePolicy::server(Vec::new(), Vec::new(), Vec::new());
        for host in [
            "169.254.169.254",
            "169.254.1.1",
            "[fe80::1]",
            "[fd00:ec2::254]",
            "100.100.100.200",
            "0.0.0.0",
            "[::ffff:169.254.169.254]",
            "[64:ff9b::a9fe:a9fe]",
        ] {
            assert_eq!(policy.check_host(host), Err(Refusal::DeniedHost { host: host.into(), reason: DenyReason::Special }), "{host}");
        }
        assert_eq!(
            policy.check_host("Metadata.Google.Internal").map_err(|refusal| refusal.to_string()),
            Err("host Metadata.Google.Internal is denied: link-local/metadata address".into())
        );
        assert_eq!(policy.check_host("127.0.0.1"), Ok(()));
        assert_eq!(policy.check_host("deckhand"), Ok(()));
        let refusal = policy.check_resolved("evil.example", &["10.0.0.1".parse().expect("ip"), "169.254.169.254".parse().expect("ip")]);
        assert_eq!(
            refusal.map_err(|refusal| refusal.to_string()),
            Err("host evil.example is denied: it resolves to a link-local/metadata address".into())
        );
    }

    #[test]
    fn allow_and_deny_lists() {
        let policy = ReferencePolicy::server(Vec::new(), rules(&["deckhand", "10.0.0.0/8"]), rules(&["10.9.0.0/16", "bad.example"]));
        assert_eq!(policy.check_host("DECKHAND"), Ok(()));
        assert_eq!(policy.check_host("10.1.1.1"), Ok(()));
        assert_eq!(policy.check_host("10.9.1.1").map_err(|r| r.to_string()), Err("host 10.9.1.1 is denied: listed in --deny-host".into()));
        assert_eq!(
            policy.check_host("bad.example.").map_err(|r| r.to_string()),
            Err("host bad.example. is denied: listed in --deny-host".into())
        );
        assert_eq!(policy.check_host("192.168.1.1").map_err(|r| r.to_string()), Err("host 192.168.1.1 is not in --allow-host".into()));
        // A name not listed may still pass when all its addresses are in an allowed range.
        assert_eq!(policy.check_host("other"), Ok(()));
        assert_eq!(policy.check_resolved("other", &["10.2.3.4".parse().expect("ip")]), Ok(()));
        assert_eq!(
            policy.check_resolved("other", &["192.168.0.1".parse().expect("ip")]),
            Err(Refusal::NotAllowedHost { host: "other".into() })
        );
        assert_eq!(
            policy.check_resolved("deckhand", &["10.9.0.5".parse().expect("ip")]),
            Err(Refusal::DeniedHost { host: "deckhand".into(), reason: DenyReason::ResolvesToListed })
        );
        let names_only = ReferencePolicy::server(Vec::new(), rules(&["deckhand"]), Vec::new());
        assert_eq!(names_only.check_host("other"), Err(Refusal::NotAllowedHost { host: "other".into() }));
        assert_eq!(names_only.check_resolved("deckhand", &["192.168.0.1".parse().expect("ip")]), Ok(()));
    }

    #[test]
    fn files_under_roots() {
        let root = PathBuf::from("/srv/designs");
        let policy = ReferencePolicy::server(vec![root.clone()], Vec::new(), Vec::new());
        let cwd = Path::new("/srv");
        let canonical_roots = [root];
        assert_eq!(policy.check_file(Path::new("x"), cwd, Some(Path::new("/srv/designs/site.yaml")), &canonical_roots), Ok(()));
        assert_eq!(
            policy.check_file(Path::new("x"), cwd, Some(Path::new("/srv/designsX/site.yaml")), &canonical_roots),
            Err(Refusal::OutsideRoots)
        );
        assert_eq!(policy.check_file(Path::new("designs/missing.yaml"), cwd, None, &canonical_roots), Ok(()));
        assert_eq!(policy.check_file(Path::new("designs/../../etc/shadow"), cwd, None, &canonical_roots), Err(Refusal::OutsideRoots));
        let none = ReferencePolicy::server(Vec::new(), Vec::new(), Vec::new());
        assert_eq!(none.check_file(Path::new("/srv/designs/site.yaml"), cwd, None, &[]), Err(Refusal::NoFileRoots));
    }
}
