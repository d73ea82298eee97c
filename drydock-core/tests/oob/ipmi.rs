//! The IPMI driver against `ipmi_sim`: power status, on, off, cycle, soft
//! off, PXE set
//! and read back (once and persistent), an Operator-only account (refused:
//! an ipmi-rs limit), wrong credentials, and BMCs that refuse or never
//! answer. The chassis script's state files and `ipmitool -I lanplus -C 3`
//! are the independent oracles.

use std::time::{Duration, Instant};

use drydock_core::drivers::ipmi::{IpmiConfig, IpmiDriver};
use drydock_core::drivers::{BootDevice, DriverErrorKind, OobDriver, OobTarget, PowerAction, PowerState};
use drydock_core::ids::Secret;
use drydock_sim::external::{self, IpmiSim};

fn available() -> bool {
    external::require(
        "ipmi_sim and ipmitool",
        external::ipmi_sim_installed() && external::ipmitool_installed(),
        "apt-get install openipmi ipmitool",
    )
}

fn target(port: u16, account: &str, password: &str) -> OobTarget {
    OobTarget {
        node: "n1".into(),
        oob_type: "ipmi".into(),
        address: "127.0.0.1".into(),
        port: Some(port),
        account: account.into(),
        credential: Secret::new(password),
        parameters: Default::default(),
    }
}

fn driver() -> IpmiDriver {
    IpmiDriver::new(IpmiConfig { reply_timeout: Duration::from_millis(500), session_deadline: Duration::from_secs(3) })
}

fn ipmitool_power(sim: &IpmiSim) -> String {
    sim.ipmitool(&["chassis", "power", "status"]).expect("ipmitool power status").trim().to_owned()
}

/// Wait (briefly) until `check` holds; ipmi_sim applies a cycle's "on" later.
fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check()
}

#[tokio::test]
async fn power_status_on_off_and_cycle() {
    if !available() {
        return;
    }
    let sim = IpmiSim::start("bmc-power").expect("ipmi_sim");
    let driver = driver();
    let node = target(sim.port, external::USER, external::PASSWORD);
    driver.check(&node).await.expect("login");

    assert_eq!(driver.power_state(&node).await.expect("state"), PowerState::Off);
    assert_eq!(ipmitool_power(&sim), "Chassis Power is off");

    driver.power_action(&node, PowerAction::On).await.expect("on");
    assert_eq!(sim.recorded_power(), "1", "the chassis script was told to power on");
    assert_eq!(driver.power_state(&node).await.expect("state"), PowerState::On);
    assert_eq!(ipmitool_power(&sim), "Chassis Power is on");
    let events = sim.events().len();
    driver.power_action(&node, PowerAction::On).await.expect("on again");
    assert_eq!(sim.events().len(), events, "already on: no second request reaches the chassis");

    driver.power_action(&node, PowerAction::HardOff).await.expect("off");
    assert_eq!(sim.recorded_power(), "0");
    assert_eq!(driver.power_state(&node).await.expect("state"), PowerState::Off);
    assert_eq!(ipmitool_power(&sim), "Chassis Power is off");

    // ipmitool turns it on; the driver sees it.
    sim.ipmitool(&["chassis", "power", "on"]).expect("ipmitool on");
    assert_eq!(driver.power_state(&node).await.expect("state"), PowerState::On);

    // A cycle goes off and comes back on (ipmi_sim: after about a second).
    let before = sim.events().len();
    driver.power_action(&node, PowerAction::Cycle).await.expect("cycle");
    assert!(
        eventually(Duration::from_secs(5), || {
            let events = sim.events();
            let new = &events[before.min(events.len())..];
            new.iter().any(|e| e.ends_with("set power 0")) && new.iter().any(|e| e.ends_with("set power 1"))
        }),
        "the chassis saw off then on: {:?}",
        sim.events()
    );
    assert_eq!(driver.power_state(&node).await.expect("state"), PowerState::On);
    assert_eq!(ipmitool_power(&sim), "Chassis Power is on");

    // A soft shutdown reaches the chassis as an ACPI request (the test
    // script's "OS" obeys it at once).
    driver.power_action(&node, PowerAction::SoftOff).await.expect("soft off");
    assert_eq!(sim.events().last().map(String::as_str).map(|e| e.ends_with("set shutdown 1")), Some(true), "{:?}", sim.events());
    assert_eq!(driver.power_state(&node).await.expect("state"), PowerState::Off);
    assert_eq!(ipmitool_power(&sim), "Chassis Power is off");

    // Every session the driver opened was closed: only ipmitool's own is active.
    let sessions = sim.ipmitool(&["session", "info", "active"]).expect("ipmitool session info");
    let active: Vec<&str> = sessions.lines().filter(|l| l.starts_with("active sessions")).collect();
    assert!(!active.is_empty() && active.iter().all(|l| l.trim_end().ends_with(": 1")), "{sessions}");
}

#[tokio::test]
async fn pxe_boot_is_set_and_read_back() {
    if !available() {
        return;
    }
    let sim = IpmiSim::start("bmc-boot").expect("ipmi_sim");
    let driver = driver();
    let node = target(sim.port, external::USER, external::PASSWORD);
    assert_eq!(sim.recorded_boot(), "default");

    driver.set_boot_device(&node, BootDevice::Pxe, false).await.expect("pxe once");
    assert_eq!(sim.recorded_boot(), "pxe");
    let flags = driver.boot_flags(&node).await.expect("read back");
    assert_eq!(flags.flags.device(), Some(BootDevice::Pxe));
    let ipmitool = sim.ipmitool(&["chassis", "bootparam", "get", "5"]).expect("ipmitool bootparam");
    assert!(ipmitool.contains("Force PXE"), "{ipmitool}");

    driver.set_boot_device(&node, BootDevice::Disk, true).await.expect("disk, persistent");
    assert_eq!(sim.recorded_boot(), "default", "ipmi_sim records a forced hard disk as `default`");
    assert_eq!(driver.boot_flags(&node).await.expect("read back").flags.device(), Some(BootDevice::Disk));

    driver.set_boot_device(&node, BootDevice::Pxe, true).await.expect("pxe, persistent");
    assert_eq!(sim.recorded_boot(), "pxe");
    let flags = driver.boot_flags(&node).await.expect("read back");
    assert_eq!(flags.flags.device(), Some(BootDevice::Pxe));
    assert!(sim.events().iter().filter(|e| e.ends_with("set boot pxe")).count() >= 2, "{:?}", sim.events());
}

#[tokio::test]
async fn an_operator_only_account_is_refused_with_a_reason() {
    if !available() {
        return;
    }
    // ipmi-rs asks for Administrator in RAKP 1 and cannot ask for less;
    // ipmi_sim then answers an Operator-only account with a RAKP 2 code that
    // does not verify (pyghmi would retry at Operator). The refusal says
    // what may be wrong, and nothing reaches the chassis.
    let sim = IpmiSim::start("bmc-operator").expect("ipmi_sim");
    let node = target(sim.port, external::OPERATOR, external::PASSWORD);
    let error = driver().power_action(&node, PowerAction::On).await.expect_err("refused");
    assert_eq!(error.kind(), DriverErrorKind::Auth, "{error}");
    assert!(error.to_string().contains("account oper") && error.to_string().contains("Administrator session"), "{error}");
    assert!(sim.events().is_empty());
    // The account itself works (ipmitool logs in at Operator).
    let status = std::process::Command::new("ipmitool")
        .args(["-I", "lanplus", "-C", "3", "-H", "127.0.0.1", "-p", &sim.port.to_string(), "-U", external::OPERATOR])
        .args(["-P", external::PASSWORD, "-L", "OPERATOR", "chassis", "power", "status"])
        .output()
        .expect("ipmitool");
    assert!(String::from_utf8_lossy(&status.stdout).contains("Chassis Power is off"), "{status:?}");
}

#[tokio::test]
async fn wrong_credentials_are_auth_errors() {
    if !available() {
        return;
    }
    let sim = IpmiSim::start("bmc-auth").expect("ipmi_sim");
    let driver = driver();
    let error = driver.power_state(&target(sim.port, external::USER, "not-the-password")).await.expect_err("refused");
    assert_eq!(error.kind(), DriverErrorKind::Auth, "{error}");
    assert!(error.to_string().contains(&format!("127.0.0.1:{}", sim.port)), "names the BMC: {error}");
    assert!(!error.to_string().contains("not-the-password") && !format!("{error:?}").contains("not-the-password"));

    let error = driver.power_action(&target(sim.port, "nobody", external::PASSWORD), PowerAction::On).await.expect_err("refused");
    assert_eq!(error.kind(), DriverErrorKind::Auth, "{error}");
    assert_eq!(sim.recorded_power(), "0", "nothing happened");
    assert!(sim.events().is_empty());
}

#[tokio::test]
async fn unreachable_bmcs_fail_fast_and_transiently() {
    // No peer needed: a closed port and a socket that never answers.
    let driver = driver();
    let closed = external::free_udp_ports(1)[0];
    let started = Instant::now();
    let error = driver.power_state(&target(closed, "admin", "password")).await.expect_err("nobody there");
    assert_eq!(error.kind(), DriverErrorKind::Transient, "{error}");
    assert!(error.to_string().contains(&format!("127.0.0.1:{closed}")), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());

    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let started = Instant::now();
    let error = driver.power_action(&target(port, "admin", "password"), PowerAction::On).await.expect_err("no answer");
    let elapsed = started.elapsed();
    assert_eq!(error.kind(), DriverErrorKind::Transient, "{error}");
    assert!(error.to_string().contains("timed out"), "{error}");
    assert!(elapsed < Duration::from_secs(4), "within the session deadline: {elapsed:?}");

    // The session deadline bounds a BMC that answers too slowly for the
    // whole session even when each reply is within its timeout.
    let slow = IpmiDriver::new(IpmiConfig { reply_timeout: Duration::from_secs(5), session_deadline: Duration::from_millis(700) });
    let started = Instant::now();
    let error = slow.power_state(&target(port, "admin", "password")).await.expect_err("deadline");
    assert_eq!(error.kind(), DriverErrorKind::Transient, "{error}");
    assert!(error.to_string().contains("timed out"), "{error}");
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
}
