//! The Redfish driver against the simulator's Redfish BMCs (real HTTP on
//! loopback): power state, off/on, one-time PXE read back, bad credentials,
//! an unreachable BMC. (The sushy-emulator peer runs in scripts/checks.)

use std::time::Duration;

use super::{RedfishConfig, RedfishDriver};
use crate::drivers::{BootDevice, DriverErrorKind, OobDriver, OobTarget, PowerAction, PowerState};

async fn lab() -> drydock_sim::SimLab {
    let scenario: drydock_sim::Scenario = serde_json::from_value(serde_json::json!({
        "machines": [{"hostname": "n1", "status": "Ready",
                      "bmc": {"name": "n1-bmc", "address": "10.99.0.1", "username": "admin", "password": "s3cret"},
                      "interfaces": [{"mac": "52:54:00:00:99:01", "boot": true}], "disks": [{"size": 240057409536u64}]},
                     {"hostname": "n2", "status": "Ready",
                      "bmc": {"name": "n2-bmc", "address": "10.99.0.2", "username": "admin", "password": "other"},
                      "interfaces": [{"mac": "52:54:00:00:99:02", "boot": true}], "disks": [{"size": 240057409536u64}]}]
    }))
    .expect("scenario");
    drydock_sim::SimLab::start(scenario).await.expect("lab")
}

fn target(url: &str, password: &str) -> OobTarget {
    OobTarget {
        node: "n1".into(),
        oob_type: "redfish".into(),
        address: "10.99.0.1".into(),
        port: None,
        account: "admin".into(),
        credential: crate::ids::Secret::new(password),
        parameters: [("redfish_url".to_string(), url.to_string())].into_iter().collect(),
    }
}

fn driver() -> RedfishDriver {
    RedfishDriver::new(RedfishConfig { use_ssl: false, timeout: Duration::from_secs(2), proxy: None }).expect("driver")
}

#[tokio::test]
async fn power_and_boot_round_trip() {
    let lab = lab().await;
    let url = lab.redfish_urls().get("n1-bmc").cloned().expect("bmc url");
    let driver = driver();
    let node = target(&url, "s3cret");
    driver.check(&node).await.expect("check");
    driver.power_action(&node, PowerAction::HardOff).await.expect("off");
    assert_eq!(driver.power_state(&node).await.expect("state"), PowerState::Off);
    driver.power_action(&node, PowerAction::HardOff).await.expect("off again is a no-op");
    driver.set_boot_device(&node, BootDevice::Pxe, false).await.expect("pxe");
    assert_eq!(driver.boot_override(&node).await.expect("read back").as_deref(), Some("Pxe"));
    driver.power_action(&node, PowerAction::On).await.expect("on");
    assert_eq!(driver.power_state(&node).await.expect("state"), PowerState::On);
}

#[tokio::test]
async fn bmcs_behind_a_proxy_are_reached_at_their_design_address() {
    let lab = lab().await;
    let proxy = format!("http://{}", lab.addr());
    let driver = RedfishDriver::new(RedfishConfig { use_ssl: false, timeout: Duration::from_secs(2), proxy: Some(proxy) }).expect("driver");
    let at = |address: &str, password: &str| OobTarget { address: address.into(), parameters: Default::default(), ..target("", password) };
    driver.power_action(&at("10.99.0.1", "s3cret"), PowerAction::On).await.expect("n1 through the proxy");
    assert_eq!(driver.power_state(&at("10.99.0.1", "s3cret")).await.expect("state"), PowerState::On);
    assert_eq!(driver.power_state(&at("10.99.0.2", "other")).await.expect("n2 is a different BMC"), PowerState::Off);
    let error = driver.power_state(&at("10.99.0.2", "s3cret")).await.expect_err("n1's password is wrong for n2");
    assert_eq!(error.kind(), DriverErrorKind::Auth, "{error}");
    let bad = RedfishDriver::new(RedfishConfig { proxy: Some("::user:s3cret@not a url".into()), ..RedfishConfig::default() })
        .expect_err("bad proxy");
    assert!(bad.to_string().contains("bad BMC proxy URL") && !bad.to_string().contains("s3cret"), "{bad}");
}

#[tokio::test]
async fn bad_credentials_and_unreachable_bmcs() {
    let lab = lab().await;
    let url = lab.redfish_urls().get("n1-bmc").cloned().expect("bmc url");
    let driver = driver();
    let error = driver.power_state(&target(&url, "wrong")).await.expect_err("refused");
    assert_eq!(error.kind(), DriverErrorKind::Auth, "{error}");
    assert!(!error.to_string().contains("wrong"), "the password never appears: {error}");

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let started = std::time::Instant::now();
    let error = driver.power_state(&target(&format!("http://127.0.0.1:{port}"), "s3cret")).await.expect_err("nobody there");
    assert_eq!(error.kind(), DriverErrorKind::Transient, "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "fails within the timeout");
}
