//! Failures the MaaS driver must report cleanly: a wrong API key (an
//! authentication error, never retried, the key never echoed), a MaaS that
//! stalls (a transient timeout within the read timeout), and a node MaaS
//! does not know (not found, the others unaffected).

use std::time::{Duration, Instant};

use drydock_core::drivers::maas::{MaasConfig, MaasDriver};
use drydock_core::drivers::{DriverErrorKind, NodeDriver};
use drydock_core::ids::Secret;
use serde_json::json;

use super::support::{fullsite, lab};

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_that_names_no_secret() {
    let site = fullsite();
    let lab = lab(&site, true, "explicit").await;
    let secret = "NotTheRightSecretAtAll42";
    let key = format!("drydockLabConsumer:drydockLabToken:{secret}");
    let driver = MaasDriver::new(MaasConfig::new(lab.maas_url(), Secret::new(key))).expect("driver");
    lab.clear_requests();
    let error = driver.check().await.expect_err("refused");
    assert_eq!(error.kind(), DriverErrorKind::Auth, "{error}");
    assert!(!error.is_transient(), "authentication failures are not retried");
    let text = format!("{error} {error:?} {driver:?}");
    assert!(!text.contains(secret), "the key never appears: {text}");
    let requests = lab.requests();
    assert_eq!(requests.len(), 2, "version, then the refused credential check: {requests:?}");
    assert_eq!(requests[1].status, 401);
    let node = &site.nodes()[0];
    assert_eq!(driver.identify(&site, node).await.expect_err("refused").kind(), DriverErrorKind::Auth);
}

#[tokio::test]
async fn a_stalled_maas_is_a_transient_timeout() {
    let site = fullsite();
    let lab = lab(&site, true, "explicit").await;
    let mut config = MaasConfig::new(lab.maas_url(), Secret::new(lab.api_key()));
    config.read_timeout = Duration::from_millis(300);
    let driver = MaasDriver::new(config).expect("driver");
    lab.add_fault(serde_json::from_value(json!({"kind": "latency", "latency_ms": 3000, "path_regex": "machines/$"})).expect("fault"))
        .expect("fault");
    let started = Instant::now();
    let error = driver.identify(&site, &site.nodes()[0]).await.expect_err("stalls");
    assert!(started.elapsed() < Duration::from_secs(2), "gave up at the read timeout, not after the stall");
    assert_eq!(error.kind(), DriverErrorKind::Transient, "{error}");
    assert!(error.to_string().contains("did not answer"), "{error}");
}

#[tokio::test]
async fn a_node_maas_does_not_know_is_not_found() {
    let site = fullsite();
    let lab = lab(&site, true, "explicit").await;
    let driver = super::support::driver(&lab);
    let mut stranger = site.nodes()[0].clone();
    stranger.meta = drydock_core::model::DocMeta::new("drydock/BaremetalNode/v1", "stranger01");
    stranger.boot_mac = Some("52:54:00:ff:ff:ff".into());
    stranger.config.oob_parameters.insert("address".into(), "10.255.255.1".into());
    assert_eq!(driver.identify(&site, &stranger).await.expect("answers"), None);
    assert!(driver.identify(&site, &site.nodes()[1]).await.expect("answers").is_some(), "the others are found");
}
