//! Nodes, node build data and the node filter.

use std::sync::Arc;

use drydock_core::ids::TaskId;
use drydock_http::server::api::{NodeInventory, NodeSummary};
use serde_json::json;

use crate::support::{Setup, admin, build_data, harness_with, normalise, site_ref};

struct Inventory;

#[async_trait::async_trait]
impl NodeInventory for Inventory {
    async fn machines(&self) -> Result<Vec<NodeSummary>, String> {
        Ok(vec![NodeSummary {
            hostname: "n01".into(),
            memory: 131072,
            cpu_count: 48,
            status_name: "Deployed".into(),
            boot_mac: Some("3c:fd:fe:00:11:22".into()),
            power_state: Some("on".into()),
            power_address: Some("10.23.104.12".into()),
            boot_ip: Some("10.23.20.11".into()),
        }])
    }
}

#[tokio::test]
async fn nodes_come_from_the_inventory() {
    let server = harness_with(Setup::default(), ());
    server
        .get("/api/v1.0/nodes")
        .await
        .assert_envelope(503, "No node driver is configured: this server was started without --maas-api-url and --maas-api-key");
    let mut state = drydock_http::server::document_state();
    state.nodes = Some(Arc::new(Inventory));
    state.auth = drydock_http::server::auth::AuthMode::NoAuth { roles: vec!["admin".into()] };
    let client = poem::test::TestClient::new(drydock_http::server::app(Arc::new(state)));
    let response = client.get("/api/v1.0/nodes").send().await;
    response.assert_status_is_ok();
    let body: serde_json::Value = serde_json::from_str(&response.0.into_body().into_string().await.expect("body")).expect("json");
    insta::assert_json_snapshot!("nodes", body);
}

#[tokio::test]
async fn nodes_from_a_simulated_maas() {
    use drydock_core::drivers::maas::client::MaasClient;
    use drydock_core::ids::Secret;
    use drydock_core::ingest::Ingester;
    use drydock_core::lab::{LabOptions, lab_scenario};
    use drydock_http::server::nodes::MaasInventory;

    let text = crate::support::site_text();
    let site = drydock_core::compile::compile(Ingester::new().ingest_str(&text, Some("site")).expect("ingests").design).expect("compiles");
    let scenario = lab_scenario(&site, &LabOptions { enlisted: true, phase_ms: 0, ..LabOptions::default() });
    let lab = drydock_sim::lab::SimLab::start(serde_json::from_value(scenario).expect("scenario")).await.expect("lab");
    let client = MaasClient::new(&lab.maas_url(), &Secret::new(lab.api_key())).expect("client");
    let mut state = drydock_http::server::document_state();
    state.nodes = Some(Arc::new(MaasInventory::new(client)));
    state.auth = drydock_http::server::auth::AuthMode::NoAuth { roles: vec!["admin".into()] };
    let client = poem::test::TestClient::new(drydock_http::server::app(Arc::new(state)));
    let response = client.get("/api/v1.0/nodes").send().await;
    response.assert_status_is_ok();
    let body: serde_json::Value = serde_json::from_str(&response.0.into_body().into_string().await.expect("body")).expect("json");
    let machines = body.as_array().expect("array");
    let mut names: Vec<&str> = machines.iter().filter_map(|machine| machine["hostname"].as_str()).collect();
    names.sort_unstable();
    let mut design: Vec<&str> = site.nodes().iter().map(|node| node.name()).collect();
    design.sort_unstable();
    assert_eq!(names, design);
    for machine in machines {
        assert_eq!(machine["status_name"], "Ready", "{machine}");
        assert!(machine["memory"].as_u64().is_some_and(|memory| memory > 0), "{machine}");
        assert!(machine["power_address"].as_str().is_some_and(|address| !address.is_empty()), "{machine}");
        assert!(machine["boot_mac"].as_str().is_some_and(|mac| mac.len() == 17), "{machine}");
    }
}

#[tokio::test]
async fn node_build_data_all_and_latest() {
    let server = admin();
    let task = TaskId::generate();
    for (generator, age) in [("hello", 3), ("hello", 1), ("bye", 2)] {
        server.store().build_data_insert(&build_data("foo", task, generator, age)).await.expect("insert");
    }
    let all = server.get("/api/v1.0/nodes/foo/builddata").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.json().as_array().map(Vec::len), Some(3));
    for spelling in ["true", "True", "TRUE"] {
        let latest = server.get(&format!("/api/v1.0/nodes/foo/builddata?latest={spelling}")).await.json();
        assert_eq!(latest.as_array().map(Vec::len), Some(2), "{spelling}");
    }
    let latest = server.get("/api/v1.0/nodes/foo/builddata?latest=true").await.json();
    insta::assert_json_snapshot!("node_build_data_latest", normalise(&latest));
    let not_latest = server.get("/api/v1.0/nodes/foo/builddata?latest=yes").await.json();
    assert_eq!(not_latest.as_array().map(Vec::len), Some(3), "only `true` selects latest");
    server.get("/api/v1.0/nodes/bar/builddata").await.assert_envelope(404, "No build data found");
}

#[tokio::test]
async fn node_filter_selects_design_nodes() {
    let server = admin();
    let all = server.post("/api/v1.0/nodefilter", &json!({"design_ref": site_ref(), "node_filter": null})).await;
    assert_eq!(all.status, 200, "{}", all.body);
    let names = all.json();
    assert_eq!(names.as_array().map(Vec::len), Some(6));
    insta::assert_json_snapshot!("nodefilter_all", names);
    let first = names[0].as_str().expect("name").to_owned();
    let one = server
        .post(
            "/api/v1.0/nodefilter",
            &json!({"design_ref": site_ref(), "node_filter": {"filter_set_type": "union", "filter_set": [
                {"filter_type": "intersection", "node_names": [first.clone()], "node_tags": [], "node_labels": {}, "rack_names": []}]}}),
        )
        .await;
    assert_eq!(one.json(), json!([first]));
    let absent = server
        .post(
            "/api/v1.0/nodefilter",
            &json!({"design_ref": site_ref(), "node_filter": {"filter_set_type": "union", "filter_set": [
        {"filter_type": "union", "node_names": ["no-such-node"]}]}}),
        )
        .await;
    assert_eq!(absent.json(), json!([]));
}

#[tokio::test]
async fn node_filter_errors() {
    let server = admin();
    server.post("/api/v1.0/nodefilter", &json!({})).await.assert_envelope(400, "Missing input required value: design_ref");
    server.post("/api/v1.0/nodefilter", &json!({"design_ref": ""})).await.assert_envelope(400, "Missing input required value: design_ref");
    let unreadable = server.post("/api/v1.0/nodefilter", &json!({"design_ref": "file:///no/such/design.yaml"})).await;
    assert_eq!(unreadable.status, 200, "the original answers [] when the design cannot be loaded");
    assert_eq!(unreadable.json(), json!([]));
    for filter in [
        json!("all"),
        json!({"filter_set": []}),
        json!({"filter_set_type": "union", "filter_set": "x"}),
        json!({"filter_set_type": "union", "filter_set": [{"node_names": ["a"]}]}),
        json!({"filter_set_type": "sideways", "filter_set": []}),
    ] {
        let reply = server.post("/api/v1.0/nodefilter", &json!({"design_ref": site_ref(), "node_filter": filter})).await;
        assert_eq!(reply.status, 400, "{filter}: {}", reply.body);
        assert_eq!(reply.json()["type"], "error");
    }
}
