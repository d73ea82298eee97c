//! The libvirt OOB driver (`oob.type: libvirt`, the original's
//! `libvirt_driver`; compat: drivers spec §6.1): virtual "bare metal" whose
//! BMC is a libvirt domain named like the node, on the hypervisor at the
//! node's `oob.libvirt_uri`.
//!
//! * power state: the domain is active or not; power on starts it
//!   (`create`), hard off stops it (`destroy`), soft off asks the guest to
//!   shut down; on and off are then confirmed by polling the domain up to
//!   `LibvirtConfig::power_polls` times `LibvirtConfig::power_poll_interval`
//!   apart ("Power state never matched off" otherwise), a cycle is off then
//!   on;
//! * boot device: the domain's persistent XML (with secure data) gets its
//!   `<os>` boot order rewritten — PXE is `network` then `hd` — and is
//!   defined again ([`xml`]); like the original this is the persistent
//!   order, not a one-time override, and it takes effect at the next start;
//! * `check` (interrogation): the hypervisor answers and has the domain.
//!
//! The URI must use the `qemu+ssh` scheme, as design validation (DD4002)
//! requires; anything else fails the node with a permanent error. libvirt's
//! built-in test hypervisor (`test:///default`, `test:///path/to/node.xml`)
//! is accepted too only when the driver is configured with
//! `LibvirtConfig::allow_test_uris` (`drydock serve
//! --libvirt-allow-test-uris`, for labs and tests).
//!
//! **Connections** (compat: the original opened and closed a connection per
//! operation). The driver keeps one connection per URI and shares it between
//! calls, opening it on first use and again after connection-level trouble
//! (the call is retried once on the new connection). For `qemu+ssh` this
//! spares an ssh handshake per call; it is also what makes the test
//! hypervisor usable end to end, since its state lives only as long as one
//! connection (a `test:///node.xml` connection starts from the file; reopened,
//! it starts from the file again). `virsh -c test:///…` opens its own
//! connection, so it sees the file's initial state only.
//!
//! **Deadlines.** libvirt is blocking: every call (connecting included) runs
//! on tokio's blocking pool and must finish within
//! `LibvirtConfig::call_deadline`, so a stalled `qemu+ssh` connection fails
//! the call with a transient timeout instead of hanging a task; its
//! connection is then dropped from the driver (the stalled thread ends on its
//! own) and the next call opens a new one. Power polls wait on the runtime,
//! not on a blocking thread.
//!
//! **Secrets.** Logs, errors and the call-limit endpoint name the hypervisor
//! by the URI without its user-info and query ([`uri::redacted`]); libvirt's
//! own messages are scrubbed the same way, and libvirt's default error
//! printer (to stderr) is turned off. Domain XML is never logged.
//!
//! [`uri`] and [`xml`] are plain text handling and build without libvirt;
//! the driver itself needs the `driver-libvirt` feature (the `virt` crate,
//! linking the system's libvirt).

pub mod uri;
pub mod xml;

#[cfg(feature = "driver-libvirt")]
mod driver;

#[cfg(feature = "driver-libvirt")]
pub use driver::{LibvirtConfig, LibvirtDriver, LibvirtError};
