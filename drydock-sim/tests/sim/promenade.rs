//! The Promenade node-labels API against the lab's cluster: Promenade's
//! answers and checks in its order (route, method, token, body, node),
//! label replacement that keeps `kubernetes.io` labels, deployed machines
//! joining, the control API and injected faults.

use crate::http::send;
use drydock_sim::{FaultSpec, Scenario, SimLab};
use serde_json::json;

async fn lab(tokens: &[&str]) -> SimLab {
    let scenario: Scenario = serde_json::from_value(json!({
        "machines": [{"hostname": "deployed-1", "status": "Deployed"}, {"hostname": "ready-1", "status": "Ready"}],
        "promenade": {"tokens": tokens, "nodes": {"seeded": {"kubernetes.io/hostname": "seeded", "old": "1", "stays": "a"}}},
    }))
    .expect("scenario");
    SimLab::start(scenario).await.expect("lab")
}

fn json_headers(token: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = vec![("Content-Type", "application/json".to_owned())];
    if let Some(token) = token {
        headers.push(("X-Auth-Token", token.to_owned()));
    }
    headers
}

#[tokio::test]
async fn labels_are_replaced_and_echoed_as_promenade_does() {
    let lab = lab(&[]).await;
    let url = format!("{}/api/v1.0/node-labels/seeded", lab.promenade_url());
    let answer = send("PUT", &url, &json_headers(None), br#"{"stays": "b", "new": "c"}"#).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["status"], "Success");
    assert_eq!(body["reason"], "Update node labels");
    assert_eq!(body["code"], "200 OK");
    assert_eq!(body["kind"], "Status");
    let labels = lab.node_labels("seeded").expect("node");
    let want: std::collections::BTreeMap<String, String> =
        [("kubernetes.io/hostname", "seeded"), ("new", "c"), ("stays", "b")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    assert_eq!(labels, want, "`old` removed, kubernetes.io kept");

    // A deployed machine is a node with its kubelet's labels; a Ready one is not.
    let deployed = lab.node_labels("deployed-1").expect("deployed machines join");
    assert_eq!(deployed.get("kubernetes.io/hostname").map(String::as_str), Some("deployed-1"));
    let missing = send("PUT", &format!("{}/api/v1.0/node-labels/ready-1", lab.promenade_url()), &json_headers(None), b"{}").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["message"], "Node not found");
    assert_eq!(missing.json()["code"], "404 Not Found");

    let log: Vec<(String, u16)> = lab.requests().iter().filter(|r| r.service == "promenade").map(|r| (r.path.clone(), r.status)).collect();
    assert_eq!(log, vec![("/api/v1.0/node-labels/seeded".to_owned(), 200), ("/api/v1.0/node-labels/ready-1".to_owned(), 404)]);
    assert_eq!(lab.requests()[0].form.get("new"), Some(&vec!["c".to_owned()]), "the labels sent are logged");
}

#[tokio::test]
async fn bad_requests_are_refused_in_promenades_order() {
    let lab = lab(&["good"]).await;
    let url = format!("{}/api/v1.0/node-labels/seeded", lab.promenade_url());
    /// Method, URL, headers, body and the status Promenade answers.
    type Case<'a> = (&'a str, String, Vec<(&'a str, String)>, &'a [u8], u16);
    let cases: Vec<Case> = vec![
        ("PUT", format!("{}/api/v1.0/node-labels", lab.promenade_url()), json_headers(None), b"{}", 404),
        ("GET", url.clone(), json_headers(Some("good")), b"", 405),
        ("PUT", url.clone(), json_headers(None), b"{}", 401),
        ("PUT", url.clone(), json_headers(Some("stale")), b"{}", 401),
        ("PUT", url.clone(), vec![("X-Auth-Token", "good".into())], b"{}", 400),
        ("PUT", url.clone(), json_headers(Some("good")), b"{not json", 400),
        ("PUT", url.clone(), json_headers(Some("good")), b"[1]", 500),
        ("PUT", url.clone(), json_headers(Some("good")), br#"{"n": 1}"#, 503),
        ("PUT", url.clone(), json_headers(Some("good")), br#"{"n": "1"}"#, 200),
    ];
    for (method, url, headers, body, want) in cases {
        let answer = send(method, &url, &headers, body).await;
        assert_eq!(answer.status, want, "{method} {url} {headers:?} {}: {}", String::from_utf8_lossy(body), answer.text());
        if want != 200 {
            assert_eq!(answer.json()["status"], "Failure", "{}", answer.text());
        }
    }
    assert_eq!(lab.node_labels("seeded").and_then(|labels| labels.get("n").cloned()).as_deref(), Some("1"));
}

#[tokio::test]
async fn faults_and_the_control_api() {
    let lab = lab(&[]).await;
    let fault: FaultSpec = serde_json::from_value(json!({"status": 500, "path_regex": "/node-labels/seeded$", "times": 1})).expect("fault");
    lab.add_fault(fault).expect("fault");
    let url = format!("{}/api/v1.0/node-labels/seeded", lab.promenade_url());
    assert_eq!(send("PUT", &url, &json_headers(None), b"{}").await.status, 500);
    assert_eq!(send("PUT", &url, &json_headers(None), b"{}").await.status, 200, "the fault fired once");

    let control = lab.control_url();
    let joined = send("PUT", &format!("{control}/promenade/nodes/extra"), &[], br#"{"a": "b"}"#).await;
    assert_eq!(joined.status, 200);
    let nodes = send("GET", &format!("{control}/promenade/nodes"), &[], b"").await.json();
    assert_eq!(nodes["nodes"]["extra"], json!({"a": "b"}));
    assert!(nodes["nodes"]["deployed-1"].is_object(), "{nodes}");
    assert_eq!(send("DELETE", &format!("{control}/promenade/nodes/deployed-1"), &[], b"").await.status, 200);
    assert_eq!(lab.node_labels("deployed-1"), None, "a node removed does not join again");
    let gone = send("PUT", &format!("{}/api/v1.0/node-labels/deployed-1", lab.promenade_url()), &json_headers(None), b"{}").await;
    assert_eq!(gone.status, 404);
}
