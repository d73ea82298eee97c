//! Redfish flows against the simulated BMCs: session login, token and
//! basic auth, the one-system collection, boot override and reset, and the
//! PXE power-on that enlists an unknown machine in MaaS.

use crate::http::{Client, send};
use base64::Engine as _;

async fn login(base: &str, user: &str, password: &str) -> (u16, String, String) {
    let body = format!(r#"{{"UserName": "{user}", "Password": "{password}"}}"#);
    let answer = send(
        "POST",
        &format!("{base}/redfish/v1/SessionService/Sessions"),
        &[("Content-Type", "application/json".into())],
        body.as_bytes(),
    )
    .await;
    (answer.status, answer.header("x-auth-token").unwrap_or("").to_owned(), answer.header("location").unwrap_or("").to_owned())
}

#[tokio::test]
async fn session_power_and_boot_flow() {
    let client = Client::start(Client::fixture()).await;
    let base = client.lab.redfish_urls().get("node01-bmc").cloned().expect("bmc url");
    let root = send("GET", &format!("{base}/redfish/v1/"), &[], b"").await.json();
    assert_eq!(root["Links"]["Sessions"]["@odata.id"], "/redfish/v1/SessionService/Sessions");
    assert_eq!(login(&base, "admin", "wrong").await.0, 401);
    let (status, token, location) = login(&base, "admin", "password").await;
    assert_eq!(status, 201);
    assert!(location.starts_with("/redfish/v1/SessionService/Sessions/"));
    let no_token = send("GET", &format!("{base}/redfish/v1/Systems"), &[], b"").await;
    assert_eq!(no_token.status, 401);
    let auth = [("X-Auth-Token", token.clone()), ("Content-Type", "application/json".to_owned())];
    let systems = send("GET", &format!("{base}/redfish/v1/Systems"), &auth, b"").await.json();
    assert_eq!(systems["Members@odata.count"], 1);
    let system = systems["Members"][0]["@odata.id"].as_str().unwrap_or("").to_owned();
    let before = send("GET", &format!("{base}{system}"), &auth, b"").await.json();
    assert_eq!(before["PowerState"], "Off");
    let patch = send(
        "PATCH",
        &format!("{base}{system}"),
        &auth,
        br#"{"Boot": {"BootSourceOverrideEnabled": "Once", "BootSourceOverrideTarget": "Pxe"}}"#,
    )
    .await;
    assert_eq!(patch.status, 200);
    assert_eq!(patch.json()["Boot"]["BootSourceOverrideTarget"], "Pxe");
    let reset = send("POST", &format!("{base}{system}/Actions/ComputerSystem.Reset"), &auth, br#"{"ResetType": "On"}"#).await;
    assert_eq!(reset.status, 204);
    let after = send("GET", &format!("{base}{system}"), &auth, b"").await.json();
    assert_eq!(after["PowerState"], "On");
    // The one-time override was consumed by the boot.
    assert_eq!(after["Boot"]["BootSourceOverrideTarget"], "None");
    // MaaS sees the same power state.
    let sid = client.sid("node01");
    assert_eq!(client.get(&format!("machines/{sid}/?op=query_power_state")).await.json()["state"], "on");
    let logout = send("DELETE", &format!("{base}{location}"), &auth, b"").await;
    assert_eq!(logout.status, 204);
    assert_eq!(send("GET", &format!("{base}/redfish/v1/Systems"), &auth, b"").await.status, 401);
    // Basic auth works too.
    let basic = base64::engine::general_purpose::STANDARD.encode("admin:password");
    let with_basic = send("GET", &format!("{base}/redfish/v1/Systems"), &[("Authorization", format!("Basic {basic}"))], b"").await;
    assert_eq!(with_basic.status, 200);
    let log: Vec<(String, String, u16)> =
        client.lab.requests().iter().filter(|r| r.service == "redfish").map(|r| (r.method.clone(), r.auth.clone(), r.status)).collect();
    assert_eq!(log[1], ("POST".to_owned(), "failed".to_owned(), 401));
    assert!(!client.lab.requests().iter().any(|r| r.form.contains_key("Password")), "passwords are not logged");
}

#[tokio::test]
async fn pxe_power_on_enlists_an_unknown_machine() {
    let client = Client::start(Client::fixture()).await;
    assert!(client.lab.system_id_of("node04").is_none());
    let base = client.lab.redfish_urls().get("node04-bmc").cloned().expect("bmc url");
    let (_, token, _) = login(&base, "admin", "password").await;
    let auth = [("X-Auth-Token", token)];
    let systems = send("GET", &format!("{base}/redfish/v1/Systems"), &auth, b"").await.json();
    let system = systems["Members"][0]["@odata.id"].as_str().unwrap_or("").to_owned();
    send("PATCH", &format!("{base}{system}"), &auth, br#"{"Boot": {"BootSourceOverrideTarget": "Pxe"}}"#).await;
    send("POST", &format!("{base}{system}/Actions/ComputerSystem.Reset"), &auth, br#"{"ResetType": "ForceRestart"}"#).await;
    let found = client.get("machines/?op=power_parameters").await.json();
    let sid = found
        .as_object()
        .and_then(|m| m.iter().find(|(_, p)| p["power_address"] == "10.23.104.14").map(|(s, _)| s.clone()))
        .expect("enlisted");
    let machine = client.get(&format!("machines/{sid}/")).await.json();
    assert_eq!(machine["hostname"], "node04");
    assert_eq!(machine["status_name"], "New");
    assert_eq!(machine["power_type"], "redfish");
}

#[tokio::test]
async fn an_external_bmc_reporting_a_pxe_power_on_enlists_its_machine() {
    let client = Client::start(Client::fixture()).await;
    let url = format!("{}/bmcs/node04-bmc/power", client.lab.control_url());
    // Powered on without PXE (sushy's notifier sends its system document): no enlistment.
    let plain = send("PUT", &url, &[], br#"{"name": "node01", "power_state": "On", "boot_device": "Hdd"}"#).await;
    assert_eq!(plain.json()["booted"], true);
    assert!(client.lab.system_id_of("node04").is_none());
    // Off, then on with PXE (ipmi_sim's chassis script): the machine enlists, once.
    send("PUT", &url, &[], br#"{"power": "Off", "pxe": false}"#).await;
    let pxe = send("PUT", &url, &[], br#"{"power": "On", "pxe": true}"#).await;
    assert_eq!(pxe.json()["booted"], true);
    let sid = client.lab.system_id_of("node04").expect("enlisted");
    assert_eq!(client.lab.machine_status(&sid).as_deref(), Some("New"));
    let again = send("PUT", &url, &[], br#"{"power": "On", "pxe": true}"#).await;
    assert_eq!(again.json()["booted"], false, "already on: not a boot");
    assert_eq!(send("PUT", &url, &[], br#"{"power": "sideways"}"#).await.status, 400);
    assert_eq!(send("PUT", &format!("{}/bmcs/nobody/power", client.lab.control_url()), &[], br#""on""#).await.status, 404);
}

#[tokio::test]
async fn bmc_outage_is_a_fault_on_its_path() {
    let client = Client::start(Client::fixture()).await;
    let base = client.lab.redfish_urls().get("node02-bmc").cloned().expect("bmc url");
    let body = br#"{"path_regex": "^/bmc/node02-bmc/", "status": 503, "times": 1}"#;
    send("POST", &format!("{}/faults", client.lab.control_url()), &[], body).await;
    assert_eq!(send("GET", &format!("{base}/redfish/v1/"), &[], b"").await.status, 503);
    assert_eq!(send("GET", &format!("{base}/redfish/v1/"), &[], b"").await.status, 200);
    let record = client.lab.requests().into_iter().find(|r| r.service == "redfish").expect("logged");
    assert_eq!(record.fault.as_deref(), Some("status 503"));
}

#[tokio::test]
async fn per_bmc_ports_serve_redfish_at_the_root() {
    let lab = drydock_sim::SimLab::start_with(
        Client::fixture(),
        drydock_sim::LabOptions { port: 0, bmc_ports: true, ..drydock_sim::LabOptions::default() },
    )
    .await
    .expect("lab starts");
    let base = lab.redfish_urls().get("node02-bmc").cloned().expect("bmc url");
    assert!(!base.contains("/bmc/"));
    let (status, token, _) = login(&base, "admin", "password").await;
    assert_eq!(status, 201);
    let system = send("GET", &format!("{base}/redfish/v1/Systems"), &[("X-Auth-Token", token)], b"").await.json();
    assert_eq!(system["Members@odata.count"], 1);
}
