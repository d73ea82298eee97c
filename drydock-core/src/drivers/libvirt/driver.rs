//! [`LibvirtDriver`]: the `virt` bindings behind [`OobDriver`], one shared
//! connection per URI, every libvirt call on the blocking pool under a
//! deadline (see the module docs of [`super`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use virt::connect::Connect;
use virt::domain::Domain;
use virt::error::{Error as VirtError, ErrorDomain, ErrorNumber};

use super::uri;
use super::xml::{XmlError, boot_order, with_boot_order};
use crate::drivers::blocking::{Wording, contained};
use crate::drivers::{BootDevice, DriverError, DriverErrorKind, OobDriver, OobTarget, PowerAction, PowerState, lock};

/// How the blocking pool's errors word libvirt failures.
const WORDING: Wording = Wording { library: "libvirt", work: "libvirt call" };

/// libvirt driver settings.
#[derive(Debug, Clone)]
pub struct LibvirtConfig {
    /// Accept `test://` URIs (libvirt's built-in test hypervisor) besides
    /// `qemu+ssh://`. For labs and tests only: designs must use `qemu+ssh`.
    pub allow_test_uris: bool,
    /// Every libvirt call, connecting included, ends within this or fails
    /// with a transient timeout.
    pub call_deadline: Duration,
    /// How many times the domain is checked after a power change before
    /// "Power state never matched" (at least once).
    pub power_polls: u32,
    /// The wait between two of those checks.
    pub power_poll_interval: Duration,
}

impl Default for LibvirtConfig {
    /// The original's 3 checks 10 s apart; 30 s per call.
    fn default() -> Self {
        LibvirtConfig {
            allow_test_uris: false,
            call_deadline: Duration::from_secs(30),
            power_polls: 3,
            power_poll_interval: Duration::from_secs(10),
        }
    }
}

/// What went wrong reaching or changing a domain. Turned into a
/// [`DriverError`] at the driver's boundary, its causes as text, scrubbed of
/// the URI's user-info.
#[derive(Debug, thiserror::Error)]
pub enum LibvirtError {
    /// The node has no `oob.libvirt_uri` (the original's words).
    #[error("Node {node} has no 'libvirt_url' defined")]
    MissingUri {
        /// The node.
        node: String,
    },
    /// The URI's scheme is not allowed.
    #[error("the libvirt URI scheme '{scheme}' is not supported (only {allowed})")]
    Scheme {
        /// The scheme found (`http`, `qemu`, …).
        scheme: String,
        /// What is allowed.
        allowed: &'static str,
    },
    /// Opening the connection failed.
    #[error("cannot connect to the hypervisor")]
    Connect(#[source] VirtError),
    /// The hypervisor has no domain of the node's name.
    #[error("the hypervisor has no domain named {domain}")]
    NoDomain {
        /// The domain (node) name.
        domain: String,
        /// libvirt's error.
        #[source]
        source: VirtError,
    },
    /// A libvirt call failed.
    #[error("libvirt {call} failed")]
    Call {
        /// The call (`create`, `destroy`, `define`, …).
        call: &'static str,
        /// libvirt's error.
        #[source]
        source: VirtError,
    },
    /// The domain's XML could not be read or rewritten.
    #[error("the domain's boot order cannot be rewritten")]
    Xml(#[source] XmlError),
    /// The domain did not reach the wanted state after the power change.
    #[error("Power state never matched {wanted} ({polls} checks {} ms apart)", interval.as_millis())]
    NeverMatched {
        /// `on` or `off`.
        wanted: &'static str,
        /// Checks made.
        polls: u32,
        /// Time between checks.
        interval: Duration,
    },
    /// The boot device has no libvirt `<boot dev>` equivalent.
    #[error("boot device {0:?} has no libvirt equivalent")]
    UnsupportedDevice(BootDevice),
}

/// Errors that mean the connection itself is in trouble (reopen it).
fn connection_trouble(error: &VirtError) -> bool {
    matches!(
        error.code(),
        ErrorNumber::NoConnect | ErrorNumber::InvalidConn | ErrorNumber::SystemError | ErrorNumber::Rpc | ErrorNumber::OperationTimeout
    ) || matches!(error.domain(), ErrorDomain::Rpc | ErrorDomain::Ssh | ErrorDomain::Libssh)
}

fn virt_kind(error: &VirtError) -> DriverErrorKind {
    match error.code() {
        ErrorNumber::AuthFailed | ErrorNumber::AuthCancelled | ErrorNumber::AuthUnavailable => DriverErrorKind::Auth,
        _ if connection_trouble(error) => DriverErrorKind::Transient,
        ErrorNumber::NoDomain => DriverErrorKind::NotFound,
        ErrorNumber::NoSupport => DriverErrorKind::Unsupported,
        _ => DriverErrorKind::Permanent,
    }
}

impl LibvirtError {
    /// What the caller should do about it.
    pub fn kind(&self) -> DriverErrorKind {
        match self {
            LibvirtError::MissingUri { .. } | LibvirtError::Scheme { .. } | LibvirtError::Xml(_) => DriverErrorKind::Permanent,
            LibvirtError::UnsupportedDevice(_) => DriverErrorKind::Unsupported,
            LibvirtError::NoDomain { .. } => DriverErrorKind::NotFound,
            LibvirtError::NeverMatched { .. } => DriverErrorKind::Transient,
            LibvirtError::Connect(source) | LibvirtError::Call { source, .. } => virt_kind(source),
        }
    }

    fn connection_trouble(&self) -> bool {
        match self {
            LibvirtError::Connect(source) | LibvirtError::Call { source, .. } | LibvirtError::NoDomain { source, .. } => {
                connection_trouble(source)
            }
            _ => false,
        }
    }

    /// The driver error for `node`'s `operation` on the hypervisor at
    /// `endpoint` (redacted); `uri` is scrubbed from the text.
    fn into_driver_error(self, operation: &'static str, node: &str, endpoint: &str, uri: &str) -> DriverError {
        let mut detail = self.to_string();
        let mut source = std::error::Error::source(&self);
        while let Some(cause) = source {
            detail.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        DriverError::new(self.kind(), operation, format!("{node} ({endpoint})"), uri::scrub(&detail, uri))
    }
}

fn call(name: &'static str) -> impl FnOnce(VirtError) -> LibvirtError {
    move |source| LibvirtError::Call { call: name, source }
}

/// `<os><boot dev>` order for a boot device.
fn boot_devices(device: BootDevice) -> Result<&'static [&'static str], LibvirtError> {
    match device {
        BootDevice::Pxe => Ok(&["network", "hd"]),
        BootDevice::Disk => Ok(&["hd"]),
        BootDevice::Cdrom => Ok(&["cdrom", "hd"]),
        BootDevice::Bios => Err(LibvirtError::UnsupportedDevice(device)),
    }
}

/// An open connection, closed when the last holder drops it (the bindings
/// leave closing to the caller). Held in an `Arc` by the slot and by every
/// call using it, so a call in flight keeps its connection open.
struct Connection(Connect);

impl Drop for Connection {
    fn drop(&mut self) {
        if let Err(error) = self.0.close() {
            tracing::debug!(%error, "closing a libvirt connection failed");
        }
    }
}

/// The shared connection to one URI (opened on first use) and a generation
/// that tells callers whether the connection they failed on is still the
/// current one.
#[derive(Default)]
struct Slot {
    state: Mutex<(u64, Option<Arc<Connection>>)>,
}

impl Slot {
    /// The live connection, opened (again) when there is none or it died.
    /// Holds the slot's lock while connecting, so concurrent first calls
    /// share one connection.
    fn connection(&self, uri: &str) -> Result<(u64, Arc<Connection>), LibvirtError> {
        let mut state = lock(&self.state);
        if let Some(connection) = &state.1 {
            if connection.0.is_alive().unwrap_or(false) {
                return Ok((state.0, connection.clone()));
            }
            state.1 = None;
        }
        let connection = Arc::new(Connection(Connect::open(Some(uri)).map_err(LibvirtError::Connect)?));
        state.0 += 1;
        state.1 = Some(connection.clone());
        Ok((state.0, connection))
    }

    /// Drop the connection of `generation` if it is still the current one.
    fn forget(&self, generation: u64) {
        let mut state = lock(&self.state);
        if state.0 == generation {
            state.1 = None;
        }
    }
}

/// Run `work` on `node`'s domain over the slot's connection; on connection
/// trouble, once more over a new connection.
fn on_domain<T>(
    slot: &Slot,
    uri: &str,
    node: &str,
    work: &dyn Fn(&Connect, &Domain) -> Result<T, LibvirtError>,
) -> Result<T, LibvirtError> {
    let mut retried = false;
    loop {
        let (generation, connection) = slot.connection(uri)?;
        let result = Domain::lookup_by_name(&connection.0, node)
            .map_err(|source| {
                if source.code() == ErrorNumber::NoDomain {
                    LibvirtError::NoDomain { domain: node.to_owned(), source }
                } else {
                    LibvirtError::Call { call: "lookup", source }
                }
            })
            .and_then(|domain| work(&connection.0, &domain));
        match result {
            Err(error) if error.connection_trouble() && !retried => {
                tracing::debug!(node, endpoint = %uri::redacted(uri), %error, "libvirt connection trouble; reconnecting");
                slot.forget(generation);
                retried = true;
            }
            other => return other,
        }
    }
}

/// The libvirt driver.
pub struct LibvirtDriver {
    config: LibvirtConfig,
    /// One slot per URI.
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

impl std::fmt::Debug for LibvirtDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibvirtDriver").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Default for LibvirtDriver {
    fn default() -> Self {
        LibvirtDriver::new(LibvirtConfig::default())
    }
}

impl LibvirtDriver {
    /// A driver with `config`. Turns off libvirt's default error printer
    /// (process-wide): errors are reported through [`DriverError`]s.
    pub fn new(config: LibvirtConfig) -> Self {
        virt::error::clear_error_callback();
        LibvirtDriver { config, slots: Mutex::new(HashMap::new()) }
    }

    /// The node's URI, checked against the allowed schemes.
    fn uri_of<'a>(&self, target: &'a OobTarget) -> Result<&'a str, LibvirtError> {
        let uri = target
            .parameters
            .get("libvirt_uri")
            .map(String::as_str)
            .filter(|uri| !uri.is_empty())
            .ok_or_else(|| LibvirtError::MissingUri { node: target.node.0.clone() })?;
        let scheme = uri::scheme(uri).unwrap_or_default();
        let allowed = scheme == uri::SSH_SCHEME || (self.config.allow_test_uris && scheme == uri::TEST_SCHEME);
        if !allowed {
            let allowed = if self.config.allow_test_uris { "qemu+ssh, and test for labs" } else { "qemu+ssh" };
            // The scheme alone (the rest of the URI may carry user-info),
            // and only when it looks like one.
            let plausible = scheme.len() <= 32 && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
            let scheme = if plausible { scheme.to_owned() } else { "<invalid>".to_owned() };
            return Err(LibvirtError::Scheme { scheme, allowed });
        }
        Ok(uri)
    }

    fn slot(&self, uri: &str) -> Arc<Slot> {
        lock(&self.slots).entry(uri.to_owned()).or_default().clone()
    }

    /// Forget `slot` (when it is still the URI's): the next call connects
    /// anew. Its connection is closed on the blocking pool, since closing a
    /// remote connection talks to the peer.
    fn evict(&self, uri: &str, slot: &Arc<Slot>) {
        let removed = {
            let mut slots = lock(&self.slots);
            match slots.get(uri) {
                Some(current) if Arc::ptr_eq(current, slot) => slots.remove(uri),
                _ => None,
            }
        };
        if let Some(removed) = removed {
            tokio::task::spawn_blocking(move || drop(removed));
        }
    }

    /// Run `work` on the target's domain, on the blocking pool, within the
    /// call deadline.
    async fn with_domain<T, F>(&self, target: &OobTarget, operation: &'static str, work: F) -> Result<T, DriverError>
    where
        T: Send + 'static,
        F: Fn(&Connect, &Domain) -> Result<T, LibvirtError> + Send + 'static,
    {
        let node = target.node.0.clone();
        let uri = match self.uri_of(target) {
            Ok(uri) => uri.to_owned(),
            Err(error) => {
                let endpoint = target.parameters.get("libvirt_uri").map_or_else(|| "no libvirt URI".to_owned(), |uri| uri::redacted(uri));
                let raw = target.parameters.get("libvirt_uri").cloned().unwrap_or_default();
                return Err(error.into_driver_error(operation, &node, &endpoint, &raw));
            }
        };
        let endpoint = uri::redacted(&uri);
        tracing::debug!(node = %node, endpoint = %endpoint, operation, "libvirt call");
        let slot = self.slot(&uri);
        let secrets: Vec<String> = uri::password(&uri).map(str::to_owned).into_iter().collect();
        let job = {
            let (slot, uri, node, endpoint) = (slot.clone(), uri.clone(), node.clone(), endpoint.clone());
            move || on_domain(&slot, &uri, &node, &work).map_err(|error| error.into_driver_error(operation, &node, &endpoint, &uri))
        };
        let result = contained(WORDING, operation, &format!("{node} ({endpoint})"), self.config.call_deadline, secrets, job).await;
        if let Err(error) = &result
            && error.is_transient()
        {
            // Connection trouble or a stalled call: the next call connects anew.
            self.evict(&uri, &slot);
        }
        result
    }

    /// Whether the domain is running.
    async fn active(&self, target: &OobTarget, operation: &'static str) -> Result<bool, DriverError> {
        self.with_domain(target, operation, |_, domain| domain.is_active().map_err(call("is_active"))).await
    }

    /// Check the domain up to `power_polls` times until it is `wanted`.
    async fn settle(&self, target: &OobTarget, operation: &'static str, wanted: bool) -> Result<(), DriverError> {
        let polls = self.config.power_polls.max(1);
        for poll in 0..polls {
            if poll > 0 {
                tokio::time::sleep(self.config.power_poll_interval).await;
            }
            if self.active(target, operation).await? == wanted {
                return Ok(());
            }
        }
        let error =
            LibvirtError::NeverMatched { wanted: if wanted { "on" } else { "off" }, polls, interval: self.config.power_poll_interval };
        let raw = target.parameters.get("libvirt_uri").cloned().unwrap_or_default();
        Err(error.into_driver_error(operation, target.node.as_str(), &uri::redacted(&raw), &raw))
    }

    /// Hard off: destroy the domain if it runs, then wait until it is off.
    async fn off(&self, target: &OobTarget, operation: &'static str) -> Result<(), DriverError> {
        let stopped = self
            .with_domain(target, operation, |_, domain| {
                if domain.is_active().map_err(call("is_active"))? {
                    domain.destroy().map_err(call("destroy"))?;
                    Ok(true)
                } else {
                    Ok(false)
                }
            })
            .await?;
        if stopped { self.settle(target, operation, false).await } else { Ok(()) }
    }

    /// On: start the domain if it does not run, then wait until it is on.
    async fn on(&self, target: &OobTarget, operation: &'static str) -> Result<(), DriverError> {
        let started = self
            .with_domain(target, operation, |_, domain| {
                if domain.is_active().map_err(call("is_active"))? {
                    Ok(false)
                } else {
                    domain.create().map_err(call("create"))?;
                    Ok(true)
                }
            })
            .await?;
        if started { self.settle(target, operation, true).await } else { Ok(()) }
    }

    /// The `<os>` boot order of the domain's persistent definition
    /// (`["network", "hd"]` after PXE was set).
    pub async fn boot_order(&self, target: &OobTarget) -> Result<Vec<String>, DriverError> {
        self.with_domain(target, "boot_order", |_, domain| {
            let xml = domain.get_xml_desc(virt::sys::VIR_DOMAIN_XML_INACTIVE).map_err(call("get XML description"))?;
            boot_order(&xml).map_err(LibvirtError::Xml)
        })
        .await
    }

    /// The domain's persistent definition, without secure data (passwords
    /// of graphics consoles and the like are left out).
    pub async fn persistent_xml(&self, target: &OobTarget) -> Result<String, DriverError> {
        self.with_domain(target, "persistent_xml", |_, domain| {
            domain.get_xml_desc(virt::sys::VIR_DOMAIN_XML_INACTIVE).map_err(call("get XML description"))
        })
        .await
    }
}

#[async_trait]
impl OobDriver for LibvirtDriver {
    fn name(&self) -> &'static str {
        "libvirt"
    }

    fn oob_types(&self) -> &'static [&'static str] {
        &["libvirt"]
    }

    async fn check(&self, target: &OobTarget) -> Result<(), DriverError> {
        self.with_domain(target, "check", |_, _| Ok(())).await
    }

    async fn power_state(&self, target: &OobTarget) -> Result<PowerState, DriverError> {
        Ok(if self.active(target, "power_state").await? { PowerState::On } else { PowerState::Off })
    }

    async fn power_action(&self, target: &OobTarget, action: PowerAction) -> Result<(), DriverError> {
        match action {
            PowerAction::On => self.on(target, "power_action").await,
            PowerAction::HardOff => self.off(target, "power_action").await,
            PowerAction::SoftOff => {
                self.with_domain(target, "power_action", |_, domain| {
                    if domain.is_active().map_err(call("is_active"))? {
                        domain.shutdown().map_err(call("shutdown"))?;
                    }
                    Ok(())
                })
                .await
            }
            PowerAction::Cycle => {
                self.off(target, "power_action").await?;
                self.on(target, "power_action").await
            }
        }
    }

    async fn set_boot_device(&self, target: &OobTarget, device: BootDevice, persistent: bool) -> Result<(), DriverError> {
        if !persistent {
            tracing::debug!(node = %target.node, ?device, "libvirt boot order is persistent; set for every boot");
        }
        let devices = match boot_devices(device) {
            Ok(devices) => devices,
            Err(error) => {
                let raw = target.parameters.get("libvirt_uri").cloned().unwrap_or_default();
                return Err(error.into_driver_error("set_boot_device", target.node.as_str(), &uri::redacted(&raw), &raw));
            }
        };
        self.with_domain(target, "set_boot_device", move |connection, domain| {
            let flags = virt::sys::VIR_DOMAIN_XML_SECURE | virt::sys::VIR_DOMAIN_XML_INACTIVE;
            let xml = domain.get_xml_desc(flags).map_err(call("get XML description"))?;
            if boot_order(&xml).map_err(LibvirtError::Xml)? == devices {
                return Ok(());
            }
            let rewritten = with_boot_order(&xml, devices).map_err(LibvirtError::Xml)?;
            Domain::define_xml(connection, &rewritten).map_err(call("define"))?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(uri: Option<&str>) -> OobTarget {
        OobTarget {
            node: "n1".into(),
            oob_type: "libvirt".into(),
            address: uri.map(uri::redacted).unwrap_or_default(),
            port: None,
            account: String::new(),
            credential: Default::default(),
            parameters: uri.map(|uri| ("libvirt_uri".to_owned(), uri.to_owned())).into_iter().collect(),
        }
    }

    #[tokio::test]
    async fn the_default_driver_refuses_every_scheme_but_qemu_ssh() {
        let driver = LibvirtDriver::default();
        for uri in ["test:///default", "http://dummy@somehost/system", "qemu:///system", "qemu+tcp://u:s3cret@h/system"] {
            let error = driver.power_state(&target(Some(uri))).await.expect_err(uri);
            assert_eq!(error.kind(), DriverErrorKind::Permanent, "{error}");
            let text = error.to_string();
            assert!(text.contains("n1") && text.contains("is not supported (only qemu+ssh)"), "{text}");
            assert!(!text.contains("s3cret") && !text.contains("dummy"), "{text}");
        }
        let error = driver.power_state(&target(None)).await.expect_err("no uri");
        assert!(error.to_string().contains("Node n1 has no 'libvirt_url' defined"), "{error}");
    }

    #[tokio::test]
    async fn with_the_switch_the_test_hypervisor_answers() {
        let driver = LibvirtDriver::new(LibvirtConfig { allow_test_uris: true, ..LibvirtConfig::default() });
        // test:///default has one running domain, named `test`.
        let mut test = target(Some("test:///default"));
        test.node = "test".into();
        assert_eq!(driver.power_state(&test).await.expect("power"), PowerState::On);
        let error = driver.power_state(&target(Some("test:///default"))).await.expect_err("no n1");
        assert_eq!(error.kind(), DriverErrorKind::NotFound, "{error}");
        assert!(error.to_string().contains("no domain named n1"), "{error}");
        // Still no other scheme.
        let error = driver.check(&target(Some("qemu:///system"))).await.expect_err("qemu");
        assert!(error.to_string().contains("only qemu+ssh, and test for labs"), "{error}");
    }

    #[test]
    fn bios_has_no_libvirt_boot_device() {
        assert!(matches!(boot_devices(BootDevice::Bios), Err(LibvirtError::UnsupportedDevice(BootDevice::Bios))));
        assert_eq!(boot_devices(BootDevice::Pxe).expect("pxe"), ["network", "hd"]);
    }
}
