//! The Redfish driver against `sushy-emulator --fake` behind the session
//! wrapper (drivers spec §5.3): power status, on, cycle and off (the emulator
//! applies them a second later, so the test polls), PXE once set and read
//! back, wrong credentials, an unreachable BMC, and a token the BMC expires
//! in the middle of an operation (the driver logs in again).

use std::time::{Duration, Instant};

use drydock_core::drivers::redfish::{RedfishConfig, RedfishDriver};
use drydock_core::drivers::{BootDevice, DriverErrorKind, OobDriver, OobTarget, PowerAction, PowerState};
use drydock_core::ids::Secret;
use drydock_sim::external::{self, Sushy};

fn available() -> bool {
    external::require("sushy-tools", external::sushy_installed(), "pip install sushy-tools, or set DRYDOCK_SUSHY_PYTHON")
}

fn target(url: &str, password: &str) -> OobTarget {
    OobTarget {
        node: "node01".into(),
        oob_type: "redfish".into(),
        address: "127.0.0.1".into(),
        port: None,
        account: external::USER.into(),
        credential: Secret::new(password),
        parameters: [("redfish_url".to_string(), url.to_string())].into_iter().collect(),
    }
}

fn driver() -> RedfishDriver {
    RedfishDriver::new(RedfishConfig { use_ssl: false, timeout: Duration::from_secs(5), proxy: None }).expect("driver")
}

async fn wait_for(driver: &RedfishDriver, node: &OobTarget, wanted: PowerState) -> PowerState {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let state = driver.power_state(node).await.expect("power state");
        if state == wanted || Instant::now() > deadline {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn power_and_pxe_against_sushy() {
    if !available() {
        return;
    }
    let sushy = Sushy::start(0).expect("sushy-emulator");
    let driver = driver();
    let node = target(&sushy.url(), external::PASSWORD);
    assert_eq!(sushy.get_status("/redfish/v1/Systems"), Some(401), "the emulator demands a session token");

    driver.check(&node).await.expect("check");
    assert_eq!(driver.power_state(&node).await.expect("state"), PowerState::Off);

    driver.set_boot_device(&node, BootDevice::Pxe, false).await.expect("pxe once");
    assert_eq!(driver.boot_override(&node).await.expect("read back").as_deref(), Some("Pxe"));

    driver.power_action(&node, PowerAction::On).await.expect("on");
    assert_eq!(wait_for(&driver, &node, PowerState::On).await, PowerState::On);
    // A cycle (ForceRestart) goes off and comes back on.
    driver.power_action(&node, PowerAction::Cycle).await.expect("cycle");
    assert_eq!(wait_for(&driver, &node, PowerState::On).await, PowerState::On);
    driver.power_action(&node, PowerAction::HardOff).await.expect("off");
    assert_eq!(wait_for(&driver, &node, PowerState::Off).await, PowerState::Off);
    assert!(sushy.logins() >= 7, "one login per operation: {}", sushy.logins());
}

#[tokio::test]
async fn bad_credentials_and_unreachable_bmc() {
    if !available() {
        return;
    }
    let sushy = Sushy::start(0).expect("sushy-emulator");
    let driver = driver();
    let error = driver.power_state(&target(&sushy.url(), "wrong-password")).await.expect_err("refused");
    assert_eq!(error.kind(), DriverErrorKind::Auth, "{error}");
    assert!(!error.to_string().contains("wrong-password"), "{error}");
    assert_eq!(sushy.logins(), 0);

    let closed = external::free_tcp_port();
    let started = Instant::now();
    let error = driver.power_state(&target(&format!("http://127.0.0.1:{closed}"), external::PASSWORD)).await.expect_err("nobody");
    assert_eq!(error.kind(), DriverErrorKind::Transient, "{error}");
    assert!(started.elapsed() < Duration::from_secs(6));
}

#[tokio::test]
async fn an_expired_token_means_a_new_login() {
    if !available() {
        return;
    }
    // Every token dies after two authenticated requests; a power action
    // needs three (systems, system, reset) and a boot change two plus the
    // read-back in boot_override.
    let sushy = Sushy::start(2).expect("sushy-emulator");
    let driver = driver();
    let node = target(&sushy.url(), external::PASSWORD);
    driver.power_action(&node, PowerAction::On).await.expect("on, across a token expiry");
    assert_eq!(sushy.logins(), 2, "logged in again once");
    assert_eq!(wait_for(&driver, &node, PowerState::On).await, PowerState::On);
    let logins = sushy.logins();
    driver.set_boot_device(&node, BootDevice::Pxe, false).await.expect("pxe");
    assert_eq!(driver.boot_override(&node).await.expect("read back").as_deref(), Some("Pxe"));
    assert_eq!(sushy.logins(), logins + 2, "a fresh session per operation, no re-login needed within two requests");
}
