//! Resolving a design reference to bytes (compat: site-design spec §1.2):
//! a plain path, `file://`, `http(s)://` (basic auth from the URL's
//! userinfo) and `deckhand+http(s)://` / `promenade+http(s)://` (a Keystone
//! token when a token provider is configured). This is the only I/O of the
//! design path.
//!
//! Two readers share one file-reading implementation: [`FileSource`]
//! (always built) reads paths and `file://` references synchronously, for a
//! design-only build with no async runtime; `DefaultSource` (feature
//! `runtime`) is the `DesignSource` of the server, the CLI and the Python
//! module, reading files on tokio's blocking pool and, with the feature
//! `remote-sources`, the HTTP schemes.
//!
//! Every read is bounded while it happens: files must be regular files
//! (checked before opening, opened without blocking and re-checked on the
//! handle) and are read to at most the limit plus one byte; HTTP bodies are
//! streamed chunk by chunk and abandoned past the limit, under connect,
//! idle-read and total deadlines (`SourceTimeouts`). The
//! [`ReferencePolicy`] decides which files and hosts may be read, on the
//! canonical path and on the addresses a name resolves to, for every
//! redirect hop.
//!
//! Each call makes one attempt; retries belong to the caller's retry policy,
//! which can ask [`SourceError::is_transient`].

use std::io::Read;
use std::path::{Path, PathBuf};
#[cfg(feature = "runtime")]
use std::sync::Arc;
#[cfg(feature = "runtime")]
use std::time::Duration;

#[cfg(any(feature = "bootaction", feature = "runtime"))]
use async_trait::async_trait;

pub use super::policy::{HostRule, HostRuleError, ReferencePolicy, Refusal};
pub use super::repo::SiteRef;
use crate::ids::DesignRef;

/// Why a design reference could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The scheme has no handler.
    #[error("Invalid reference scheme {scheme}: no handler")]
    UnsupportedScheme {
        /// The scheme given.
        scheme: String,
    },
    /// The file or document does not exist.
    #[error("design {reference} not found")]
    NotFound {
        /// The reference (credentials redacted).
        reference: String,
    },
    /// The server refused our credentials.
    #[error("not authorised to read design {reference} (HTTP {status})")]
    Unauthorized {
        /// The reference (credentials redacted).
        reference: String,
        /// The HTTP status.
        status: u16,
    },
    /// Could not reach or read the source; worth retrying. The only
    /// transient variant.
    #[error("could not read design {reference}: {detail}")]
    Unreachable {
        /// The reference (credentials redacted).
        reference: String,
        /// What failed.
        detail: String,
    },
    /// The design is larger than the configured limit.
    #[error("design {reference} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The reference (credentials redacted).
        reference: String,
        /// The limit.
        limit: usize,
    },
    /// The path names something other than a regular file.
    #[error("design {reference} is not a regular file: it is a {kind}")]
    NotARegularFile {
        /// The reference as given.
        reference: String,
        /// What it is: `FIFO`, `directory`, `character device`,
        /// `block device`, `socket` or `special file`.
        kind: &'static str,
    },
    /// The [`ReferencePolicy`] refused the reference (or a redirect hop).
    #[error("design {reference} refused: {rule}")]
    Refused {
        /// The reference (credentials redacted; a path as the user gave it).
        reference: String,
        /// The rule that refused it.
        rule: Refusal,
    },
    /// A site repository reference (`pegleg+file://`) names no readable
    /// site: no such site, no site type, a malformed reference.
    #[error("site repository {reference}: {detail}")]
    SiteRepository {
        /// The reference.
        reference: String,
        /// What is wrong, naming the file.
        detail: String,
    },
}

impl SourceError {
    /// Whether a retry may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, SourceError::Unreachable { .. })
    }
}

/// The bytes of a design and what they claim to be.
#[derive(Debug, Clone)]
pub struct SourceBytes {
    /// The content.
    pub bytes: Vec<u8>,
    /// A name for diagnostics (a path, or the redacted URL).
    pub name: String,
}

/// Supplies Keystone tokens for `deckhand+http` references.
#[cfg(feature = "runtime")]
#[async_trait]
pub trait TokenProvider: Send + Sync {
    /// A valid token (never logged).
    async fn token(&self) -> Result<crate::ids::Secret, SourceError>;
}

/// Reads design references (asynchronously: boot-action assets with a
/// `location` and the orchestrator read through one). Features
/// `bootaction` or `runtime`.
#[cfg(any(feature = "bootaction", feature = "runtime"))]
#[async_trait]
pub trait DesignSource: Send + Sync {
    /// Read the design behind `reference`.
    async fn fetch(&self, reference: &DesignRef) -> Result<SourceBytes, SourceError>;
}

/// How long a fetch may take.
#[cfg(feature = "runtime")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceTimeouts {
    /// Establishing a connection (default 16 s, compat §1.2).
    pub connect: Duration,
    /// Waiting for the next bytes of the answer, headers or body: a source
    /// that goes quiet this long is abandoned (default 300 s, compat §1.2).
    pub read: Duration,
    /// The whole fetch, file or HTTP, including redirects and the body
    /// (default 300 s): a source that keeps dribbling cannot hold a fetch
    /// open for ever, and the server's request timeout (600 s by default)
    /// answers after the source's error, not before it.
    pub total: Duration,
}

#[cfg(feature = "runtime")]
impl Default for SourceTimeouts {
    fn default() -> Self {
        SourceTimeouts { connect: Duration::from_secs(16), read: Duration::from_secs(300), total: Duration::from_secs(300) }
    }
}

/// Redirects followed per fetch; each hop is checked by the policy.
#[cfg(feature = "runtime")]
pub const MAX_REDIRECTS: usize = 5;

/// The standard resolver for every supported scheme.
///
/// `DefaultSource::default()` reads any file and any host (the local CLI
/// and the Python module); a server sets `policy` to
/// [`ReferencePolicy::server`]. Feature `runtime`; `http(s)` and the
/// Keystone schemes need `remote-sources`.
#[cfg(feature = "runtime")]
#[derive(Clone, Default)]
pub struct DefaultSource {
    /// Largest design accepted, in bytes (default 512 MiB).
    pub max_bytes: Option<usize>,
    /// Keystone tokens for `deckhand+`/`promenade+` references.
    pub tokens: Option<Arc<dyn TokenProvider>>,
    /// Connect, idle-read and total deadlines.
    pub timeouts: SourceTimeouts,
    /// Which files and hosts may be read.
    pub policy: ReferencePolicy,
}

#[cfg(feature = "runtime")]
impl DefaultSource {
    /// A source governed by `policy`, with default limits and timeouts.
    pub fn with_policy(policy: ReferencePolicy) -> Self {
        DefaultSource { policy, ..DefaultSource::default() }
    }
}

#[cfg(feature = "runtime")]
impl std::fmt::Debug for DefaultSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultSource")
            .field("max_bytes", &self.max_bytes)
            .field("timeouts", &self.timeouts)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

const DEFAULT_MAX_BYTES: usize = 512 << 20;

/// Reads local design files synchronously: plain paths and `file://`
/// references, with the same checks and limit as `DefaultSource` (regular
/// files only, at most `max_bytes`, the [`ReferencePolicy`]'s roots). The
/// HTTP schemes are [`SourceError::UnsupportedScheme`] here. Always built;
/// what a design-only build reads files with.
///
/// ```
/// use drydock_core::ids::DesignRef;
/// use drydock_core::ingest::source::{FileSource, SourceError};
///
/// let source = FileSource::default();
/// let design = source.read(&DesignRef::from("../examples/site.yaml"))?;
/// assert_eq!(design.name, "../examples/site.yaml");
/// assert!(String::from_utf8_lossy(&design.bytes).contains("schema: drydock/Region/v1"));
/// let error = source.read(&DesignRef::from("https://deckhand.example/site.yaml")).unwrap_err();
/// assert!(matches!(error, SourceError::UnsupportedScheme { .. }));
/// # Ok::<(), SourceError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct FileSource {
    /// Largest design accepted, in bytes (default 512 MiB).
    pub max_bytes: Option<usize>,
    /// Which files may be read (default: any).
    pub policy: ReferencePolicy,
}

impl FileSource {
    /// Read the design file behind `reference`.
    pub fn read(&self, reference: &DesignRef) -> Result<SourceBytes, SourceError> {
        match scheme_of(reference.as_str())? {
            Scheme::File(path) => read_file(&path, reference, self.max_bytes.unwrap_or(DEFAULT_MAX_BYTES), &self.policy),
            Scheme::Site(site) => read_site_bundle(&site, reference, self.max_bytes.unwrap_or(DEFAULT_MAX_BYTES), &self.policy),
            Scheme::Http(_) | Scheme::KeystoneHttp(_) => {
                let scheme = reference.as_str().split_once("://").map_or("http", |(scheme, _)| scheme);
                Err(SourceError::UnsupportedScheme { scheme: format!("{scheme} (a FileSource reads local files only)") })
            }
        }
    }
}

/// For boot-action rendering without tokio (feature `bootaction` alone):
/// the read blocks the polling thread. On tokio use `DefaultSource`, which
/// reads on the blocking pool.
#[cfg(any(feature = "bootaction", feature = "runtime"))]
#[async_trait]
impl DesignSource for FileSource {
    async fn fetch(&self, reference: &DesignRef) -> Result<SourceBytes, SourceError> {
        self.read(reference)
    }
}

/// How a reference is read.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// A local file.
    File(PathBuf),
    /// Plain HTTP(S).
    Http(String),
    /// HTTP(S) with a Keystone token (`deckhand+`/`promenade+`).
    KeystoneHttp(String),
    /// A site of a Pegleg repository (`pegleg+file:///repo?site=NAME`),
    /// read as a bundle of its files ([`super::repo`]).
    Site(SiteRef),
}

/// Decide how to read `reference`.
pub fn scheme_of(reference: &str) -> Result<Scheme, SourceError> {
    if let Some(site) = SiteRef::parse(reference) {
        return site.map(Scheme::Site);
    }
    let Some((scheme, rest)) = reference.split_once("://") else {
        return Ok(Scheme::File(PathBuf::from(reference)));
    };
    match scheme {
        "file" => {
            // compat §1.2: the authority is ignored; the path is what follows it.
            let path = match rest.find('/') {
                Some(position) => &rest[position..],
                None => "",
            };
            Ok(Scheme::File(PathBuf::from(path)))
        }
        "http" | "https" => Ok(Scheme::Http(reference.to_owned())),
        "deckhand+http" | "deckhand+https" | "promenade+http" | "promenade+https" => {
            let inner = scheme.split_once('+').map(|(_, inner)| inner).unwrap_or("http");
            Ok(Scheme::KeystoneHttp(format!("{inner}://{rest}")))
        }
        other => Err(SourceError::UnsupportedScheme { scheme: other.to_owned() }),
    }
}

#[cfg(feature = "runtime")]
#[async_trait]
impl DesignSource for DefaultSource {
    async fn fetch(&self, reference: &DesignRef) -> Result<SourceBytes, SourceError> {
        let limit = self.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
        let total = self.timeouts.total;
        let scheme = scheme_of(reference.as_str())?;
        let fetch = async {
            match scheme {
                Scheme::File(path) => {
                    // The same blocking read as FileSource, on the blocking
                    // pool (tokio::fs would use it for every call anyway).
                    let (owned, policy) = (reference.clone(), self.policy.clone());
                    tokio::task::spawn_blocking(move || read_file(&path, &owned, limit, &policy)).await.unwrap_or_else(|error| {
                        Err(SourceError::Unreachable {
                            reference: reference.to_string(),
                            detail: format!("the file read did not finish: {error}"),
                        })
                    })
                }
                Scheme::Site(site) => {
                    let (owned, policy) = (reference.clone(), self.policy.clone());
                    tokio::task::spawn_blocking(move || read_site_bundle(&site, &owned, limit, &policy)).await.unwrap_or_else(|error| {
                        Err(SourceError::Unreachable {
                            reference: reference.to_string(),
                            detail: format!("reading the site did not finish: {error}"),
                        })
                    })
                }
                #[cfg(feature = "remote-sources")]
                Scheme::Http(url) => self.fetch_http(&url, reference, limit, false).await,
                #[cfg(feature = "remote-sources")]
                Scheme::KeystoneHttp(url) => self.fetch_http(&url, reference, limit, true).await,
                #[cfg(not(feature = "remote-sources"))]
                Scheme::Http(_) | Scheme::KeystoneHttp(_) => {
                    Err(SourceError::UnsupportedScheme { scheme: "http (built without remote-sources)".into() })
                }
            }
        };
        match tokio::time::timeout(total, fetch).await {
            Ok(result) => result,
            Err(_) => Err(SourceError::Unreachable {
                reference: reference.to_string(),
                detail: format!("timed out after {} (total deadline)", seconds(total)),
            }),
        }
    }
}

/// `1.5s`, `300s`.
#[cfg(feature = "runtime")]
fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs_f64())
}

/// An I/O error opening or inspecting a file. A path that cannot name a
/// file (a NUL byte, too long, through a file) names nothing, like a
/// missing one: the caller's mistake, not an outage.
fn file_error(error: &std::io::Error, reference: &DesignRef) -> SourceError {
    match error.kind() {
        std::io::ErrorKind::NotFound
        | std::io::ErrorKind::InvalidInput
        | std::io::ErrorKind::InvalidFilename
        | std::io::ErrorKind::NotADirectory => SourceError::NotFound { reference: reference.to_string() },
        // io::Error's text names the error, never the path.
        _ => SourceError::Unreachable { reference: reference.to_string(), detail: error.to_string() },
    }
}

/// What a non-regular file is, for [`SourceError::NotARegularFile`].
fn special_kind(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() {
        return None;
    }
    if file_type.is_dir() {
        return Some("directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return Some("FIFO");
        }
        if file_type.is_char_device() {
            return Some("character device");
        }
        if file_type.is_block_device() {
            return Some("block device");
        }
        if file_type.is_socket() {
            return Some("socket");
        }
    }
    Some("special file")
}

/// The same file: device and inode on Unix.
#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    true
}

/// Read a site of a repository as a bundle (the repository folder itself
/// checked against the policy before anything in it is listed).
fn read_site_bundle(site: &SiteRef, reference: &DesignRef, limit: usize, policy: &ReferencePolicy) -> Result<SourceBytes, SourceError> {
    permitted_path(&site.root, reference, policy)?;
    let files = super::repo::read_site(&site.root, &site.site, reference, policy, limit)?;
    Ok(SourceBytes { bytes: files.to_bundle(), name: reference.to_string() })
}

/// Where to open `path`: itself when files are unrestricted, else its
/// canonical form once the policy has checked it.
fn permitted_path(path: &Path, reference: &DesignRef, policy: &ReferencePolicy) -> Result<PathBuf, SourceError> {
    let Some(roots) = &policy.roots else {
        return Ok(path.to_path_buf());
    };
    let refused = |rule| SourceError::Refused { reference: reference.to_string(), rule };
    if roots.is_empty() {
        return Err(refused(Refusal::NoFileRoots));
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let canonical_roots: Vec<PathBuf> = roots.iter().filter_map(|root| std::fs::canonicalize(root).ok()).collect();
    match std::fs::canonicalize(path) {
        Ok(canonical) => {
            policy.check_file(path, &cwd, Some(&canonical), &canonical_roots).map_err(refused)?;
            Ok(canonical)
        }
        Err(error) => {
            // Refuse before saying "not found", so nothing outside the
            // roots can be probed for existence.
            policy.check_file(path, &cwd, None, &canonical_roots).map_err(refused)?;
            Err(file_error(&error, reference))
        }
    }
}

/// Read the file at `path` (blocking): the one implementation behind
/// [`FileSource`] and `DefaultSource`.
pub(super) fn read_file(path: &Path, reference: &DesignRef, limit: usize, policy: &ReferencePolicy) -> Result<SourceBytes, SourceError> {
    let name = path.display().to_string();
    let target = permitted_path(path, reference, policy)?;
    let not_regular = |kind| SourceError::NotARegularFile { reference: reference.to_string(), kind };
    // Look before opening: opening a FIFO waits for a writer, a device
    // may never end.
    let before = std::fs::metadata(&target).map_err(|error| file_error(&error, reference))?;
    if let Some(kind) = special_kind(before.file_type()) {
        return Err(not_regular(kind));
    }
    if before.len() > limit as u64 {
        return Err(SourceError::TooLarge { reference: reference.to_string(), limit });
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Never block in open (the path may have become a FIFO since the
    // look), never adopt a terminal, and never follow a symlink planted
    // in place of a checked canonical path.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | if policy.roots.is_some() { libc::O_NOFOLLOW } else { 0 });
    }
    let file = options.open(&target).map_err(|error| file_error(&error, reference))?;
    let opened = file.metadata().map_err(|error| file_error(&error, reference))?;
    if let Some(kind) = special_kind(opened.file_type()) {
        return Err(not_regular(kind));
    }
    if !same_file(&before, &opened) {
        return Err(SourceError::Unreachable {
            reference: reference.to_string(),
            detail: "the file was replaced while it was being opened".into(),
        });
    }
    // The size may grow after the look: read at most one byte past the limit.
    let expected = usize::try_from(opened.len()).unwrap_or(limit).min(limit);
    let mut bytes = Vec::with_capacity(expected.saturating_add(1));
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| SourceError::Unreachable { reference: reference.to_string(), detail: error.to_string() })?;
    if bytes.len() > limit {
        return Err(SourceError::TooLarge { reference: reference.to_string(), limit });
    }
    Ok(SourceBytes { bytes, name })
}

/// The refusal recorded by the resolver or the redirect policy of one fetch
/// (reqwest wraps their errors; this keeps the typed rule).
#[cfg(feature = "remote-sources")]
#[derive(Clone, Default)]
struct RefusalSlot(Arc<std::sync::Mutex<Option<Refusal>>>);

#[cfg(feature = "remote-sources")]
impl RefusalSlot {
    fn record(&self, refusal: Refusal) -> Refusal {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(refusal.clone());
        }
        refusal
    }

    fn take(&self) -> Option<Refusal> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Resolves names with tokio and refuses those the policy denies by their
/// addresses (DNS rebinding: what is checked is what is connected to).
#[cfg(feature = "remote-sources")]
struct PolicyResolver {
    policy: Arc<ReferencePolicy>,
    refused: RefusalSlot,
}

#[cfg(feature = "remote-sources")]
impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let refused = self.refused.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            policy.check_host(&host).map_err(|refusal| refused.record(refusal))?;
            let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ips: Vec<std::net::IpAddr> = addresses.iter().map(std::net::SocketAddr::ip).collect();
            policy.check_resolved(&host, &ips).map_err(|refusal| refused.record(refusal))?;
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// Scheme, host and port: what a redirect must keep for a token to follow.
#[cfg(feature = "remote-sources")]
fn origin(url: &reqwest::Url) -> (String, Option<String>, Option<u16>) {
    (url.scheme().to_owned(), url.host_str().map(str::to_owned), url.port_or_known_default())
}

/// What went wrong with a request, in words, without the URL or an address.
#[cfg(feature = "remote-sources")]
fn describe(error: &reqwest::Error, timeouts: &SourceTimeouts) -> String {
    use std::error::Error as _;
    let mut io_kind = None;
    let mut chain = Vec::new();
    let mut cursor: Option<&(dyn std::error::Error + 'static)> = error.source();
    while let Some(cause) = cursor {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
        }
        let text = cause.to_string();
        if !chain.contains(&text) {
            chain.push(text);
        }
        cursor = cause.source();
    }
    if error.is_timeout() || io_kind == Some(std::io::ErrorKind::TimedOut) {
        return if error.is_connect() {
            format!("connect timed out after {}", seconds(timeouts.connect))
        } else {
            format!("no data for {} (read deadline)", seconds(timeouts.read))
        };
    }
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".into(),
        Some(std::io::ErrorKind::ConnectionReset) => "connection reset by the source".into(),
        Some(std::io::ErrorKind::ConnectionAborted) => "connection aborted".into(),
        _ if chain.is_empty() => error.to_string(),
        _ => chain.join(": "),
    }
}

#[cfg(feature = "remote-sources")]
impl DefaultSource {
    async fn fetch_http(&self, url: &str, reference: &DesignRef, limit: usize, keystone: bool) -> Result<SourceBytes, SourceError> {
        let redacted = reference.to_string();
        let refused = |rule| SourceError::Refused { reference: redacted.clone(), rule };
        let unreachable = |detail: String| SourceError::Unreachable { reference: redacted.clone(), detail };
        let mut parsed = reqwest::Url::parse(url).map_err(|error| unreachable(format!("invalid URL: {error}")))?;
        // The first hop's host, before anything is resolved or contacted.
        let host = parsed.host_str().ok_or_else(|| unreachable("invalid URL: no host".into()))?;
        self.policy.check_host(host).map_err(refused)?;

        let policy = Arc::new(self.policy.clone());
        let slot = RefusalSlot::default();
        let token = match (&self.tokens, keystone) {
            (Some(tokens), true) => Some(tokens.token().await?),
            _ => None,
        };
        let redirects = {
            let policy = policy.clone();
            let slot = slot.clone();
            let first = origin(&parsed);
            let carries_token = token.is_some();
            reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > MAX_REDIRECTS {
                    return attempt.error(slot.record(Refusal::TooManyRedirects { max: MAX_REDIRECTS }));
                }
                let next = attempt.url();
                if let Err(refusal) = policy.check_host(next.host_str().unwrap_or_default()) {
                    return attempt.error(slot.record(refusal));
                }
                if carries_token && origin(next) != first {
                    return attempt.error(slot.record(Refusal::TokenRedirect));
                }
                attempt.follow()
            })
        };
        let mut builder =
            reqwest::Client::builder().connect_timeout(self.timeouts.connect).read_timeout(self.timeouts.read).redirect(redirects);
        if policy.restricts_hosts() {
            // Resolve here so the checked addresses are the connected ones;
            // a proxy would resolve (and connect) out of our sight.
            builder = builder.no_proxy().dns_resolver(PolicyResolver { policy: policy.clone(), refused: slot.clone() });
        }
        let client = builder.build().map_err(|error| unreachable(describe(&error, &self.timeouts)))?;

        let user = parsed.username().to_owned();
        let password = parsed.password().map(str::to_owned);
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
        let mut request = client.get(parsed);
        if !user.is_empty() {
            request = request.basic_auth(user, password);
        }
        if let Some(token) = &token {
            request = request.header("X-Auth-Token", token.expose());
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                return Err(match slot.take() {
                    Some(rule) => refused(rule),
                    None => unreachable(describe(&error, &self.timeouts)),
                });
            }
        };
        let status = response.status().as_u16();
        // compat §1.2: plain http returns the body whatever the status; the
        // keystone schemes treat >= 400 as an error. We report 401/403/404
        // as errors for both, since a parsed error page helps nobody.
        match status {
            401 | 403 => return Err(SourceError::Unauthorized { reference: redacted, status }),
            404 => return Err(SourceError::NotFound { reference: redacted }),
            500.. => return Err(unreachable(format!("the source answered HTTP {status}"))),
            400.. if keystone => return Err(unreachable(format!("the source answered HTTP {status}"))),
            _ => {}
        }
        let too_large = || SourceError::TooLarge { reference: redacted.clone(), limit };
        let declared = response.content_length().unwrap_or(0);
        if declared > limit as u64 {
            return Err(too_large());
        }
        // Stream: a body with no (or a false) length stops at the limit.
        let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0).min(limit));
        while let Some(chunk) = response.chunk().await.map_err(|error| unreachable(describe(&error, &self.timeouts)))? {
            if bytes.len().saturating_add(chunk.len()) > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(SourceBytes { bytes, name: redacted })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(scheme_of("site.yaml").ok(), Some(Scheme::File("site.yaml".into())));
        assert_eq!(scheme_of("file:///srv/site.yaml").ok(), Some(Scheme::File("/srv/site.yaml".into())));
        assert_eq!(scheme_of("file://host/x").ok(), Some(Scheme::File("/x".into())));
        assert_eq!(scheme_of("https://h/x").ok(), Some(Scheme::Http("https://h/x".into())));
        assert_eq!(
            scheme_of("deckhand+http://dh:9000/api/v1.0/revisions/1/rendered-documents").ok(),
            Some(Scheme::KeystoneHttp("http://dh:9000/api/v1.0/revisions/1/rendered-documents".into()))
        );
        let error = scheme_of("ftp://x/y").expect_err("ftp");
        assert_eq!(error.to_string(), "Invalid reference scheme ftp: no handler");
        assert!(!error.is_transient());
    }

    #[test]
    fn file_source_reads_files_and_refuses_http() {
        let source = FileSource::default();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/site.yaml");
        let read = source.read(&DesignRef(format!("file://{path}"))).expect("example site");
        assert_eq!(read.bytes, std::fs::read(path).expect("read"));
        assert_eq!(read.name, path);
        let error = source.read(&DesignRef("/definitely/not/here.yaml".into())).expect_err("missing");
        assert!(matches!(error, SourceError::NotFound { .. }), "{error}");
        let error = source.read(&DesignRef("https://h/site.yaml".into())).expect_err("http");
        assert_eq!(error.to_string(), "Invalid reference scheme https (a FileSource reads local files only): no handler");
        let small = FileSource { max_bytes: Some(10), ..FileSource::default() };
        let error = small.read(&DesignRef(path.into())).expect_err("too large");
        assert!(matches!(error, SourceError::TooLarge { limit: 10, .. }), "{error}");
        let error = source.read(&DesignRef(env!("CARGO_MANIFEST_DIR").into())).expect_err("a directory");
        assert!(matches!(error, SourceError::NotARegularFile { kind: "directory", .. }), "{error}");
    }

    #[cfg(feature = "bootaction")]
    #[tokio::test]
    async fn file_source_is_a_design_source() {
        let source: &dyn DesignSource = &FileSource::default();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/site.yaml");
        let fetched = source.fetch(&DesignRef(path.into())).await.expect("example site");
        assert_eq!(fetched.bytes, std::fs::read(path).expect("read"));
        let error = source.fetch(&DesignRef("deckhand+http://h/x".into())).await.expect_err("http");
        assert!(matches!(error, SourceError::UnsupportedScheme { .. }), "{error}");
    }

    #[cfg(feature = "runtime")]
    #[tokio::test]
    async fn missing_file_is_not_found() {
        let source = DefaultSource::default();
        let error = source.fetch(&DesignRef("/definitely/not/here.yaml".into())).await.expect_err("missing");
        assert!(matches!(error, SourceError::NotFound { .. }));
        for hostile in ["bad\0name.yaml", "/etc/hostname/inside.yaml", &format!("/{}", "x".repeat(5000))] {
            let error = source.fetch(&DesignRef(hostile.to_owned())).await.expect_err("names nothing");
            assert!(matches!(error, SourceError::NotFound { .. }), "{hostile:.40}: {error}");
        }
    }
}
