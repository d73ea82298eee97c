//! The fault plan: injected statuses, latency, vanishing fabrics; every
//! fault is visible in the request log.

use crate::http::Client;
use drydock_sim::FaultSpec;

fn fault(kind: &str) -> FaultSpec {
    FaultSpec {
        kind: kind.into(),
        method: None,
        path_regex: None,
        op: None,
        status: None,
        times: None,
        body: None,
        latency_ms: None,
        for_ms: None,
    }
}

#[tokio::test]
async fn burst_of_503_then_recovery() {
    let client = Client::start(Client::fixture()).await;
    client
        .lab
        .add_fault(FaultSpec {
            method: Some("GET".into()),
            path_regex: Some("/machines/$".into()),
            status: Some(503),
            times: Some(2),
            ..fault("status")
        })
        .expect("fault accepted");
    let statuses = [client.get("machines/").await.status, client.get("machines/").await.status, client.get("machines/").await.status];
    assert_eq!(statuses, [503, 503, 200]);
    assert_eq!(client.get("fabrics/").await.status, 200);
    let log = client.lab.requests();
    let faults: Vec<Option<&str>> = log.iter().map(|r| r.fault.as_deref()).collect();
    assert_eq!(faults, vec![Some("status 503"), Some("status 503"), None, None]);
}

#[tokio::test]
async fn op_specific_401_and_control_api_faults() {
    let client = Client::start(Client::fixture()).await;
    let sid = client.sid("node01");
    let body = br#"{"kind": "status", "method": "POST", "op": "deploy", "status": 401, "times": 1}"#;
    let added = crate::http::send("POST", &format!("{}/faults", client.lab.control_url()), &[], body).await;
    assert_eq!(added.status, 200, "{}", added.text());
    assert_eq!(client.post(&format!("machines/{sid}/?op=deploy"), &[]).await.status, 401);
    assert_eq!(client.post(&format!("machines/{sid}/?op=deploy"), &[]).await.status, 200);
    let log = crate::http::send("GET", &format!("{}/requests", client.lab.control_url()), &[], b"").await.json();
    assert_eq!(log[0]["fault"], "status 401");
    assert_eq!(log[0]["op"], "deploy");
    assert_eq!(log[1]["status"], 200);
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let client = Client::start(Client::fixture()).await;
    client.lab.add_fault(FaultSpec { latency_ms: Some(150), times: Some(1), ..fault("latency") }).expect("fault accepted");
    let started = std::time::Instant::now();
    assert_eq!(client.get("version/").await.status, 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
    assert_eq!(client.lab.requests()[0].fault.as_deref(), Some("latency 150ms"));
}

#[tokio::test]
async fn fabrics_vanish_for_a_while() {
    let client = Client::start(Client::fixture()).await;
    client.lab.add_fault(FaultSpec { times: Some(2), ..fault("vanish_fabrics") }).expect("fault accepted");
    let counts: Vec<usize> = [client.get("fabrics/").await, client.get("fabrics/0/").await, client.get("fabrics/").await]
        .iter()
        .map(|a| if a.status == 404 { usize::MAX } else { a.json().as_array().map(Vec::len).unwrap_or(0) })
        .collect();
    assert_eq!(counts, vec![0, usize::MAX, 2]);
}

#[tokio::test]
async fn bad_fault_regex_is_an_error() {
    let client = Client::start(Client::fixture()).await;
    let error = client.lab.add_fault(FaultSpec { path_regex: Some("(".into()), ..fault("status") });
    assert!(error.is_err());
}

#[tokio::test]
async fn lab_stops_when_dropped() {
    let client = Client::start(Client::fixture()).await;
    let addr = client.lab.addr();
    drop(client);
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(stopped.is_ok(), "listener still accepting after drop");
}

#[tokio::test(start_paused = true)]
async fn fabrics_vanish_for_a_simulated_duration() {
    let client = Client::start(Client::fixture()).await;
    client.lab.add_fault(FaultSpec { for_ms: Some(30_000), ..fault("vanish_fabrics") }).expect("fault accepted");
    let count = |a: crate::http::Answer| a.json().as_array().map(Vec::len).unwrap_or(usize::MAX);
    assert_eq!(count(client.get("fabrics/").await), 0);
    assert_eq!(count(client.get("fabrics/").await), 0);
    client.lab.advance(std::time::Duration::from_secs(30));
    assert_eq!(count(client.get("fabrics/").await), 2);
    let notes: Vec<Option<String>> = client.lab.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(notes, vec![Some("vanish_fabrics".to_owned()), Some("vanish_fabrics".to_owned()), None]);
}
