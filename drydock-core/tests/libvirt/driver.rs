//! The driver's operations against the test hypervisor: what it reports is
//! what `virsh` sees in the fixture; power and boot changes hold on the
//! driver's connection and the XML it defines is what libvirt (through
//! `virsh define --validate`) accepts; refused schemes, missing domains,
//! unreachable and stalled hypervisors are clean per-node errors.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use drydock_core::drivers::libvirt::xml::boot_order;
use drydock_core::drivers::libvirt::{LibvirtConfig, LibvirtDriver};
use drydock_core::drivers::{BootDevice, DriverErrorKind, OobDriver, PowerAction, PowerState};
use drydock_sim::external;

use crate::support::{fixture_uri, lab_driver, target, virsh, virsh_installed};

fn ssh_installed() -> bool {
    std::process::Command::new("ssh").arg("-V").stderr(std::process::Stdio::null()).status().is_ok_and(|s| s.success())
}

#[tokio::test]
async fn the_driver_reports_the_fixture_as_virsh_sees_it() {
    if !external::require("virsh", virsh_installed(), "source scripts/setup/libvirt.sh") {
        return;
    }
    let uri = fixture_uri();
    let listed: BTreeMap<String, String> = virsh(&uri, "list --all")
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            Some((fields.get(1)?.to_string(), fields[2..].join(" ")))
        })
        .collect();
    let expected: BTreeMap<String, String> =
        [("n1", "shut off"), ("n2", "running"), ("n3", "shut off")].into_iter().map(|(n, s)| (n.to_owned(), s.to_owned())).collect();
    assert_eq!(listed, expected, "the fixture as virsh lists it");

    let driver = lab_driver(Duration::from_secs(10));
    for (node, state) in &listed {
        let want = if state == "running" { PowerState::On } else { PowerState::Off };
        assert_eq!(driver.power_state(&target(node, &uri)).await.expect("power"), want, "{node}");
        let virsh_order = boot_order(&virsh(&uri, &format!("dumpxml --inactive {node}"))).expect("virsh XML");
        assert_eq!(driver.boot_order(&target(node, &uri)).await.expect("boot order"), virsh_order, "{node}");
        driver.check(&target(node, &uri)).await.expect("check");
    }
}

#[tokio::test]
async fn power_and_boot_changes_hold_on_the_drivers_connection() {
    let uri = fixture_uri();
    let driver = lab_driver(Duration::from_secs(10));
    let (n1, n2, n3) = (target("n1", &uri), target("n2", &uri), target("n3", &uri));

    driver.power_action(&n2, PowerAction::HardOff).await.expect("n2 off");
    assert_eq!(driver.power_state(&n2).await.expect("n2"), PowerState::Off);
    driver.power_action(&n2, PowerAction::HardOff).await.expect("off again: nothing to do");
    driver.power_action(&n1, PowerAction::On).await.expect("n1 on");
    driver.power_action(&n1, PowerAction::On).await.expect("on again: nothing to do");
    assert_eq!(driver.power_state(&n1).await.expect("n1"), PowerState::On);
    driver.power_action(&n3, PowerAction::Cycle).await.expect("n3 cycled from off");
    assert_eq!(driver.power_state(&n3).await.expect("n3"), PowerState::On);
    driver.power_action(&n3, PowerAction::Cycle).await.expect("n3 cycled from on");
    assert_eq!(driver.power_state(&n3).await.expect("n3"), PowerState::On);
    driver.power_action(&n1, PowerAction::SoftOff).await.expect("n1 shut down");
    assert_eq!(driver.power_state(&n1).await.expect("n1"), PowerState::Off, "the test hypervisor's guests obey at once");

    // PXE: network then disk, in the persistent definition; set twice, same.
    for _ in 0..2 {
        driver.set_boot_device(&n1, BootDevice::Pxe, false).await.expect("pxe");
        assert_eq!(driver.boot_order(&n1).await.expect("order"), ["network", "hd"]);
    }
    driver.set_boot_device(&n2, BootDevice::Cdrom, true).await.expect("cdrom");
    assert_eq!(driver.boot_order(&n2).await.expect("order"), ["cdrom", "hd"]);
    driver.set_boot_device(&n2, BootDevice::Disk, true).await.expect("disk");
    assert_eq!(driver.boot_order(&n2).await.expect("order"), ["hd"]);
    let error = driver.set_boot_device(&n2, BootDevice::Bios, false).await.expect_err("bios");
    assert_eq!(error.kind(), DriverErrorKind::Unsupported, "{error}");
    // A running domain keeps running when its definition changes.
    driver.set_boot_device(&n3, BootDevice::Pxe, false).await.expect("pxe on a running domain");
    assert_eq!(driver.power_state(&n3).await.expect("n3"), PowerState::On);
    assert_eq!(driver.boot_order(&n3).await.expect("order"), ["network", "hd"]);

    // Another driver has its own connection: the file's state, untouched.
    let other = lab_driver(Duration::from_secs(10));
    assert_eq!(other.power_state(&n2).await.expect("n2"), PowerState::On);
    assert_eq!(other.boot_order(&n1).await.expect("order"), ["hd"]);

    // libvirt itself, through virsh in one session of its own, accepts the
    // definition the driver made and keeps its boot order.
    if external::require("virsh", virsh_installed(), "source scripts/setup/libvirt.sh") {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("n1.xml");
        std::fs::write(&path, driver.persistent_xml(&n1).await.expect("xml")).expect("write");
        let dumped = virsh(&uri, &format!("define --validate {}; dumpxml --inactive n1", path.display()));
        let xml = &dumped[dumped.find("<domain").expect("a domain in virsh's output")..];
        assert_eq!(boot_order(xml).expect("virsh XML"), ["network", "hd"]);
    }
}

#[tokio::test]
async fn refused_schemes_missing_domains_and_unreachable_hypervisors_fail_per_node() {
    let uri = fixture_uri();
    // Without the switch the test hypervisor is refused before anything is opened.
    let strict = LibvirtDriver::new(LibvirtConfig { power_poll_interval: Duration::from_millis(50), ..LibvirtConfig::default() });
    let error = strict.power_action(&target("n1", &uri), PowerAction::On).await.expect_err("test:// refused");
    assert_eq!(error.kind(), DriverErrorKind::Permanent, "{error}");
    assert!(error.to_string().contains("n1") && error.to_string().contains("scheme 'test' is not supported (only qemu+ssh)"), "{error}");

    let driver = lab_driver(Duration::from_secs(10));
    let error = driver.power_state(&target("n9", &uri)).await.expect_err("no such domain");
    assert_eq!(error.kind(), DriverErrorKind::NotFound, "{error}");
    assert!(error.to_string().contains("no domain named n9"), "{error}");

    let error = driver.check(&target("n1", "test:///nonexistent/drydock-nodes.xml")).await.expect_err("no such file");
    assert!(error.to_string().contains("n1 (test:///nonexistent/drydock-nodes.xml)"), "{error}");
    assert!(error.to_string().contains("cannot connect to the hypervisor"), "{error}");

    if external::require("ssh", ssh_installed(), "source scripts/setup/libvirt.sh") {
        // Nothing listens on loopback port 1.
        let unreachable = "qemu+ssh://drydock:s3cret@127.0.0.1:1/system?no_tty=1";
        let started = Instant::now();
        let error = driver.power_action(&target("n1", unreachable), PowerAction::On).await.expect_err("unreachable");
        let text = error.to_string();
        assert!(text.contains("n1 (qemu+ssh://127.0.0.1:1/system)"), "{text}");
        assert!(!text.contains("s3cret") && !text.contains("drydock:"), "{text}");
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    }
    // The failures left the good hypervisor's connection alone.
    assert_eq!(driver.power_state(&target("n2", &uri)).await.expect("n2"), PowerState::On);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_hypervisor_fails_each_call_at_the_deadline() {
    if !external::require("ssh", ssh_installed(), "source scripts/setup/libvirt.sh") {
        return;
    }
    // Accepts connections and never says a word: ssh waits for a banner.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let stop = Arc::new(AtomicBool::new(false));
    let holder = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            let until = Instant::now() + Duration::from_secs(30);
            while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                if let Ok((stream, _)) = listener.accept() {
                    held.push(stream);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            held.len()
        })
    };
    let stalled = format!("qemu+ssh://127.0.0.1:{port}/system?no_tty=1");
    let driver = lab_driver(Duration::from_millis(1500));
    for attempt in 0..2 {
        let started = Instant::now();
        let error = driver.power_state(&target("n1", &stalled)).await.expect_err("stalled");
        assert_eq!(error.kind(), DriverErrorKind::Transient, "{error}");
        assert!(error.to_string().contains("timed out: the libvirt call did not finish within 1500 ms"), "{error}");
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(4), "attempt {attempt}: {elapsed:?}");
    }
    // Meanwhile the driver serves other hypervisors.
    let started = Instant::now();
    assert_eq!(driver.power_state(&target("n2", &fixture_uri())).await.expect("n2"), PowerState::On);
    assert!(started.elapsed() < Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    let held = holder.join().expect("holder");
    assert!(held >= 1, "ssh connected to the stalled peer");
}
