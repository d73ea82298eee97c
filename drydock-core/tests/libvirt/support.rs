//! Shared by the libvirt tests: the fixture hypervisor's URI, targets of its
//! domains, drivers with short polls, and `virsh` on the same URI.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use drydock_core::drivers::OobTarget;
use drydock_core::drivers::libvirt::{LibvirtConfig, LibvirtDriver};

/// The fixture: domains n1, n2, n3 of seaworthy-virt (n2 running).
pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libvirt/seaworthy-virt.xml")
}

/// `test:///…/seaworthy-virt.xml`.
pub fn fixture_uri() -> String {
    format!("test://{}", fixture().display())
}

/// The OOB target of `node` on the hypervisor at `uri`, as `oob_target`
/// makes it for a libvirt node.
pub fn target(node: &str, uri: &str) -> OobTarget {
    OobTarget {
        node: node.into(),
        oob_type: "libvirt".into(),
        address: drydock_core::drivers::libvirt::uri::redacted(uri),
        port: None,
        account: String::new(),
        credential: Default::default(),
        parameters: [("libvirt_uri".to_owned(), uri.to_owned())].into_iter().collect(),
    }
}

/// A driver allowing test URIs, checking power 3 times 50 ms apart, each
/// call within `deadline`.
pub fn lab_driver(deadline: Duration) -> LibvirtDriver {
    LibvirtDriver::new(LibvirtConfig {
        allow_test_uris: true,
        call_deadline: deadline,
        power_polls: 3,
        power_poll_interval: Duration::from_millis(50),
    })
}

/// Whether `virsh` runs here.
pub fn virsh_installed() -> bool {
    Command::new("virsh").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// `virsh -c <uri> <commands>`: one process, so one connection, for every
/// command of `commands` (separated by `;`). Panics unless it succeeds.
pub fn virsh(uri: &str, commands: &str) -> String {
    let output = Command::new("virsh").args(["-q", "-c", uri, commands]).output().expect("virsh runs");
    assert!(output.status.success(), "virsh {commands}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}
