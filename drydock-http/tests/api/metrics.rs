//! `GET /metrics` after a quickstart-sized run: the example site (6 nodes)
//! provisioned through the API against drydock-sim on loopback (MaaS, and
//! Redfish BMCs behind the simulator's proxy) — prepare_site, prepare_nodes,
//! deploy_nodes, run by the orchestrator's own loop — moves the task,
//! step, driver-call, store, scheduler and HTTP families with the right
//! labels, and no node name or task id becomes a label value. The rule and
//! the anonymous flag guard the endpoint.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use drydock_core::compile::compile;
use drydock_core::drivers::maas::{MaasConfig, MaasDriver};
use drydock_core::drivers::redfish::{RedfishConfig, RedfishDriver};
use drydock_core::drivers::{NodeDriver, OobRegistry};
use drydock_core::ids::Secret;
use drydock_core::ingest::Ingester;
use drydock_core::ingest::source::{DefaultSource, DesignSource};
use drydock_core::lab::{LabOptions, lab_scenario};
use drydock_core::orchestrator::{Dependencies, Orchestrator, OrchestratorConfig};
use drydock_core::store::memory::MemoryStore;
use drydock_core::task::ActionResult;
use drydock_http::server::auth::AuthMode;
use drydock_http::server::policy::Policy;
use drydock_http::server::{AppState, ServerConfig};
use poem::EndpointExt;
use poem::test::TestClient;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::support::{Harness, Setup, harness, site_ref, site_text};

/// The samples of an exposition, `name{labels}` → value (labels as the
/// server wrote them).
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line: {line}"));
            (series.to_owned(), value.parse::<f64>().unwrap_or_else(|_| panic!("a number: {line}")))
        })
        .collect()
}

fn sample(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("{series} in the exposition:\n{}", samples.keys().cloned().collect::<Vec<_>>().join("\n")))
}

/// Poll the task until it is complete; its result.
async fn wait_for(server: &Harness, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let task = server.get(&format!("/api/v1.0/tasks/{id}")).await.json();
        if task["status"] == "complete" {
            return task["result"]["status"].as_str().expect("result").to_owned();
        }
        assert!(Instant::now() < deadline, "task {id} did not finish: {task}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_moves_the_task_step_driver_store_and_http_metrics() {
    let site = compile(Ingester::new().ingest_str(&site_text(), Some("site")).expect("ingests").design).expect("compiles");
    let nodes: Vec<String> = site.nodes().iter().map(|node| node.name().to_owned()).collect();
    let scenario = lab_scenario(&site, &LabOptions { phase_ms: 0, ..LabOptions::default() });
    let lab = drydock_sim::lab::SimLab::start(serde_json::from_value(scenario).expect("scenario")).await.expect("lab");
    let maas = MaasDriver::new(MaasConfig::new(lab.maas_url(), Secret::new(lab.api_key()))).expect("maas");
    let proxy = lab.maas_url().trim_end_matches("/MAAS").to_owned();
    let redfish =
        RedfishDriver::new(RedfishConfig { use_ssl: false, timeout: Duration::from_secs(5), proxy: Some(proxy) }).expect("redfish");
    let source: Arc<dyn DesignSource> = Arc::new(DefaultSource::default());
    let deps = Dependencies {
        store: Arc::new(MemoryStore::new()),
        source: source.clone(),
        node_driver: Some(Arc::new(maas) as Arc<dyn NodeDriver>),
        oob: OobRegistry::new(vec![Arc::new(redfish)]),
        kubernetes: None,
    };
    let config = OrchestratorConfig {
        poll_interval: Duration::from_millis(200),
        status_poll: Duration::from_millis(50),
        power_poll: Duration::from_millis(50),
        bootaction_final_status: Duration::from_secs(60),
        ..OrchestratorConfig::default()
    };
    let orchestrator = Orchestrator::with_metrics(deps, config, drydock_core::metrics::Metrics::new());
    let auth = AuthMode::NoAuth { roles: vec!["admin".into()] };
    let state = Arc::new(AppState::new(orchestrator.clone(), source, auth, Policy::default(), ServerConfig::default()));
    let server = Harness { client: TestClient::new(drydock_http::server::app(state.clone()).boxed()), state: state.clone() };
    let shutdown = CancellationToken::new();
    let runner = tokio::spawn({
        let (orchestrator, shutdown) = (orchestrator.clone(), shutdown.clone());
        async move { orchestrator.run(shutdown).await }
    });
    // The nodes "report" their boot actions as they come up (the quickstart
    // runs their cloud-init agents; here the store is told directly).
    let store = state.store.clone();
    let reporter = tokio::spawn({
        let nodes = nodes.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                for node in &nodes {
                    for row in store.bootaction_status_for_node(node).await.unwrap_or_default() {
                        if row.action_status == ActionResult::Incomplete {
                            let _ = store.bootaction_status_update(row.action_id, ActionResult::Success).await;
                        }
                    }
                }
            }
        }
    });

    let mut ids = Vec::new();
    for action in ["prepare_site", "prepare_nodes", "deploy_nodes"] {
        let created = server.post("/api/v1.0/tasks", &json!({"action": action, "design_ref": site_ref()})).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let id = created.json()["task_id"].as_str().expect("task_id").to_owned();
        assert_eq!(wait_for(&server, &id).await, "success", "{action}");
        ids.push(id);
    }
    reporter.abort();

    // The loop notices the last execution ended just after the task is
    // stored complete: wait for the running gauge to drop.
    let deadline = Instant::now() + Duration::from_secs(10);
    while samples(&server.get("/metrics").await.body).get("drydock_tasks_running") != Some(&0.0) {
        assert!(Instant::now() < deadline, "drydock_tasks_running stays above 0");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let scraped = server.send(crate::support::Call::get("/metrics").header("accept", "application/openmetrics-text")).await;
    assert_eq!(scraped.status, 200, "{}", scraped.body);
    assert_eq!(scraped.header("content-type"), Some("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    assert!(scraped.body.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    let text = &scraped.body;
    let found = samples(text);
    let n = nodes.len() as f64;

    // Tasks.
    for action in ["prepare_site", "prepare_nodes", "deploy_nodes"] {
        assert_eq!(sample(&found, &format!("drydock_tasks_created_total{{action=\"{action}\"}}")), 1.0);
        assert_eq!(sample(&found, &format!("drydock_tasks_finished_total{{action=\"{action}\",result=\"success\"}}")), 1.0);
        assert_eq!(sample(&found, &format!("drydock_task_duration_seconds_count{{action=\"{action}\",result=\"success\"}}")), 1.0);
        assert!(sample(&found, &format!("drydock_task_duration_seconds_sum{{action=\"{action}\",result=\"success\"}}")) > 0.0);
        assert_eq!(
            sample(&found, &format!("drydock_task_duration_seconds_bucket{{le=\"+Inf\",action=\"{action}\",result=\"success\"}}")),
            1.0
        );
    }
    // Per-node steps: each deploy step once per node, done.
    for step in ["apply_node_networking", "apply_node_storage", "apply_node_platform", "deploy_node", "configure_hardware"] {
        assert_eq!(sample(&found, &format!("drydock_node_step_duration_seconds_count{{step=\"{step}\",outcome=\"done\"}}")), n, "{step}");
    }
    assert!(sample(&found, "drydock_site_step_duration_seconds_count{step=\"create_network_template\",outcome=\"done\"}") >= 1.0);
    // Driver calls, MaaS and Redfish, by operation and outcome.
    assert_eq!(sample(&found, "drydock_driver_call_duration_seconds_count{driver=\"maas\",operation=\"deploy\",outcome=\"ok\"}"), n);
    assert_eq!(sample(&found, "drydock_driver_call_duration_seconds_count{driver=\"maas\",operation=\"commission\",outcome=\"ok\"}"), n);
    assert!(sample(&found, "drydock_driver_call_duration_seconds_count{driver=\"maas\",operation=\"machine_status\",outcome=\"ok\"}") >= n);
    assert!(
        sample(&found, "drydock_driver_call_duration_seconds_count{driver=\"redfish\",operation=\"power_action\",outcome=\"ok\"}") >= n
    );
    assert!(
        sample(&found, "drydock_driver_call_duration_seconds_count{driver=\"redfish\",operation=\"set_boot_device\",outcome=\"ok\"}") >= n
    );
    // The store, by backend.
    assert!(
        sample(&found, "drydock_store_operation_duration_seconds_count{backend=\"memory\",operation=\"task_update\",outcome=\"ok\"}") > 0.0
    );
    assert!(
        sample(&found, "drydock_store_operation_duration_seconds_count{backend=\"memory\",operation=\"task_admit\",outcome=\"ok\"}") > 0.0
    );
    // The scheduler: three tasks started here, none running now, one replica.
    assert_eq!(sample(&found, "drydock_scheduler_admitted_total{how=\"started\"}"), 3.0);
    assert_eq!(sample(&found, "drydock_scheduler_admitted_total{how=\"taken_over\"}"), 0.0);
    assert_eq!(sample(&found, "drydock_tasks_running"), 0.0);
    assert_eq!(sample(&found, "drydock_tasks_queued"), 0.0);
    assert_eq!(sample(&found, "drydock_orchestrator_running"), 1.0);
    assert!(sample(&found, "drydock_scheduler_passes_total") >= 3.0);
    assert_eq!(sample(&found, "drydock_scheduler_slots"), 16.0);
    // HTTP by route template and status.
    assert_eq!(
        sample(&found, "drydock_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1.0/tasks\",status=\"201\"}"),
        3.0
    );
    assert!(
        sample(&found, "drydock_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1.0/tasks/*\",status=\"200\"}") >= 3.0
    );
    assert_eq!(sample(&found, "drydock_http_requests_in_flight"), 1.0, "the scrape itself");
    assert_eq!(sample(&found, "drydock_build_info{version=\"0.1.0\"}"), 1.0);
    // Bounded labels: no node name, task id or credential anywhere.
    for name in &nodes {
        assert!(!text.contains(name.as_str()), "node name {name} in the metrics");
    }
    for id in &ids {
        assert!(!text.contains(id.as_str()), "task id {id} in the metrics");
    }
    assert!(!text.contains(&lab.api_key()), "the MaaS key in the metrics");

    // Without an OpenMetrics Accept: the Prometheus text format, same numbers.
    let plain = server.get("/metrics").await;
    assert_eq!(plain.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert!(!plain.body.contains("# EOF"));
    let plain = samples(&plain.body);
    assert_eq!(sample(&plain, "drydock_tasks_created_total{action=\"deploy_nodes\"}"), 1.0);

    // An unknown path is one label value, whatever it is.
    server.get("/no/such/thing/42").await;
    server.get("/another-unknown").await;
    let again = samples(&server.get("/metrics").await.body);
    assert_eq!(sample(&again, "drydock_http_request_duration_seconds_count{method=\"GET\",route=\"other\",status=\"404\"}"), 2.0);

    shutdown.cancel();
    runner.await.expect("runner").expect("runner ends cleanly");
    let after = samples(&server.get("/metrics").await.body);
    assert_eq!(sample(&after, "drydock_orchestrator_running"), 0.0);
}

#[tokio::test]
async fn the_rule_and_the_anonymous_flag_guard_metrics() {
    let reader = || AuthMode::NoAuth { roles: vec!["reader".into()] };
    let denied = harness(Setup { auth: reader(), ..Setup::default() });
    denied.get("/metrics").await.assert_envelope(403, "Forbidden");
    let anonymous =
        harness(Setup { auth: reader(), config: ServerConfig { metrics_anonymous: true, ..ServerConfig::default() }, ..Setup::default() });
    let reply = anonymous.get("/metrics").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("drydock_build_info"));
    let policy = Policy::with_overrides(&[("physical_provisioner:read_metrics".into(), "role:reader".into())]);
    let allowed = harness(Setup { auth: reader(), policy, ..Setup::default() });
    assert_eq!(allowed.get("/metrics").await.status, 200);
    // Only GET.
    let admin = crate::support::admin();
    let reply = admin.post("/metrics", &json!({})).await;
    assert_eq!(reply.status, 405, "{}", reply.body);
    assert_eq!(reply.header("allow"), Some("GET"));
}
