//! The machine state machine in Explicit mode (stepped by the test) and in
//! Auto mode on tokio's paused clock.

use crate::http::Client;
use drydock_sim::{Scenario, SimMode};
use std::time::Duration;

fn explicit() -> Scenario {
    let mut scenario = Client::fixture();
    scenario.mode = SimMode::Explicit;
    scenario
}

async fn status(client: &Client, sid: &str) -> String {
    client.get(&format!("machines/{sid}/")).await.json()["status_name"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn commission_steps_through_testing_to_ready() {
    let client = Client::start(explicit()).await;
    let sid = client.sid("node03");
    let answer = client.post(&format!("machines/{sid}/?op=commission"), &[("skip_bmc_config", "1"), ("enable_ssh", "0")]).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["status_name"], "Commissioning");
    assert_eq!(answer.json()["power_state"], "on");
    // The fixture scripts one failure first.
    assert!(client.lab.step_machine(&sid));
    assert_eq!(status(&client, &sid).await, "Failed commissioning");
    assert_eq!(client.get(&format!("machines/{sid}/")).await.json()["commissioning_status_name"], "Failed");
    client.post(&format!("machines/{sid}/?op=commission"), &[]).await;
    assert!(client.lab.step_machine(&sid));
    assert_eq!(status(&client, &sid).await, "Testing");
    assert!(client.lab.step_machine(&sid));
    let machine = client.get(&format!("machines/{sid}/")).await.json();
    assert_eq!(machine["status_name"], "Ready");
    assert_eq!(machine["power_state"], "off");
    assert_eq!(machine["testing_status_name"], "Passed");
    assert_eq!(machine["blockdevice_set"][0]["partitions"][0]["filesystem"]["mount_point"], "/");
    let flags = client.lab.with_world(|w| w.state());
    assert!(flags["machines"].as_array().is_some_and(|m| !m.is_empty()));
    let results = client.get(&format!("commissioning-results/?system_id={sid}&result_type=0")).await.json();
    let names: Vec<&str> = results.as_array().map(|r| r.iter().filter_map(|x| x["name"].as_str()).collect()).unwrap_or_default();
    assert!(names.contains(&"maas-lshw"), "{names:?}");
    // Nothing is pending any more.
    assert!(!client.lab.step_machine(&sid));
}

#[tokio::test]
async fn deploy_fails_once_then_passes_and_release_erases() {
    let client = Client::start(explicit()).await;
    let sid = client.sid("node03");
    client.post(&format!("machines/{sid}/?op=commission"), &[]).await;
    client.lab.step(1);
    client.post(&format!("machines/{sid}/?op=commission"), &[]).await;
    client.lab.step(2);
    assert_eq!(status(&client, &sid).await, "Ready");
    let bad_series = client.post(&format!("machines/{sid}/?op=deploy"), &[("distro_series", "bionic")]).await;
    assert_eq!(bad_series.status, 400);
    assert!(bad_series.text().contains("is not a valid distro_series"));
    // The failed validation allocated the machine (MaaS allocates first).
    let deploy = client
        .post(
            &format!("machines/{sid}/?op=deploy"),
            &[("distro_series", "ubuntu/xenial"), ("hwe_kernel", "ga-16.04"), ("user_data", "aGVsbG8=")],
        )
        .await;
    assert_eq!(deploy.status, 200, "{}", deploy.text());
    assert_eq!(deploy.json()["status_name"], "Deploying");
    assert_eq!(client.lab.step(5), 1);
    assert_eq!(status(&client, &sid).await, "Failed deployment");
    let again = client.post(&format!("machines/{sid}/?op=deploy"), &[]).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.text(), "Can't deploy a machine that is in the 'Failed deployment' state");
    client.post(&format!("machines/{sid}/?op=release"), &[]).await;
    client.lab.step(1);
    client.post(&format!("machines/{sid}/?op=deploy"), &[("distro_series", "xenial")]).await;
    client.lab.step(1);
    let deployed = client.get(&format!("machines/{sid}/")).await.json();
    assert_eq!(deployed["status_name"], "Deployed");
    assert_eq!(deployed["distro_series"], "xenial");
    let annotate = client.post(&format!("machines/{sid}/?op=set_workload_annotations"), &[("rack", "r1")]).await;
    assert_eq!(annotate.json()["workload_annotations"]["rack"], "r1");
    let release = client.post(&format!("machines/{sid}/?op=release"), &[("erase", "true")]).await;
    assert_eq!(release.json()["status_name"], "Disk erasing");
    client.lab.step(1);
    let released = client.get(&format!("machines/{sid}/")).await.json();
    assert_eq!(released["status_name"], "Ready");
    assert_eq!(released["owner"], serde_json::Value::Null);
    assert_eq!(released["workload_annotations"], serde_json::json!({}));
    let not_releasable = client.post(&format!("machines/{sid}/?op=release"), &[]).await;
    assert_eq!(not_releasable.status, 200, "release of a Ready machine is a no-op");
}

#[tokio::test]
async fn hang_never_completes() {
    let client = Client::start(explicit()).await;
    let sid = client.sid("node01");
    client.post(&format!("machines/{sid}/?op=deploy"), &[]).await;
    // Script a hang for the next deployment through the control API.
    let control = format!("{}/machines/{sid}/script", client.lab.control_url());
    client.post(&format!("machines/{sid}/?op=release"), &[]).await;
    client.lab.step(1);
    let put = crate::http::send("PUT", &control, &[("Content-Type", "application/json".into())], br#"{"deploy": ["hang"]}"#).await;
    assert_eq!(put.status, 200);
    client.post(&format!("machines/{sid}/?op=deploy"), &[]).await;
    assert_eq!(client.lab.step(10), 0);
    assert_eq!(status(&client, &sid).await, "Deploying");
    let aborted = client.post(&format!("machines/{sid}/?op=abort"), &[]).await;
    assert_eq!(aborted.json()["status_name"], "Allocated");
}

#[tokio::test(start_paused = true)]
async fn auto_mode_completes_on_the_paused_clock() {
    let mut scenario = Client::fixture();
    scenario.durations.deploying_ms = 5_000;
    let client = Client::start(scenario).await;
    let sid = client.sid("node02");
    client.post(&format!("machines/{sid}/?op=deploy"), &[]).await;
    client.lab.advance(Duration::from_millis(4_999));
    assert_eq!(client.lab.machine_status(&sid).as_deref(), Some("Deploying"));
    client.lab.advance(Duration::from_millis(1));
    assert_eq!(client.lab.machine_status(&sid).as_deref(), Some("Deployed"));
}

#[tokio::test]
async fn powered_off_machine_stalls_until_pxe_power_on() {
    let client = Client::start(explicit()).await;
    let sid = client.sid("node01");
    client.post(&format!("machines/{sid}/?op=deploy"), &[]).await;
    // Someone powers the BMC off mid-deployment: the phase cannot progress.
    let power = format!("{}/bmcs/node01-bmc/power", client.lab.control_url());
    crate::http::send("PUT", &power, &[], br#""off""#).await;
    assert_eq!(client.lab.step(1), 0);
    crate::http::send("PUT", &power, &[], br#""on""#).await;
    assert_eq!(client.lab.step(1), 1);
    assert_eq!(status(&client, &sid).await, "Deployed");
}

#[tokio::test]
async fn deploy_validates_kernels_per_release() {
    let client = Client::start(explicit()).await;
    let sid = client.sid("node01");
    let wrong = client.post(&format!("machines/{sid}/?op=deploy"), &[("distro_series", "xenial"), ("hwe_kernel", "hwe-20.04")]).await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.json()["hwe_kernel"].is_array(), "{}", wrong.text());
    let hwe = client.post(&format!("machines/{sid}/?op=deploy"), &[("distro_series", "xenial"), ("hwe_kernel", "hwe-16.04")]).await;
    assert_eq!(hwe.status, 200, "{}", hwe.text());
    assert_eq!(hwe.json()["hwe_kernel"], "hwe-16.04");
    let other = client.sid("node02");
    let default = client.post(&format!("machines/{other}/?op=deploy"), &[("distro_series", "xenial")]).await;
    assert_eq!(default.json()["hwe_kernel"], "ga-16.04");
}

#[tokio::test]
async fn reads_mode_completes_on_the_nth_read() {
    let mut scenario = Client::fixture();
    scenario.mode = SimMode::Reads;
    scenario.durations.reads = 3;
    let client = Client::start(scenario).await;
    let sid = client.sid("node02");
    client.post(&format!("machines/{sid}/?op=deploy"), &[]).await;
    assert_eq!(status(&client, &sid).await, "Deploying");
    let listed = client.get("machines/?hostname=node02").await.json();
    assert_eq!(listed[0]["status_name"], "Deploying");
    // Third read: the transition fires before the answer is rendered.
    assert_eq!(status(&client, &sid).await, "Deployed");
}
