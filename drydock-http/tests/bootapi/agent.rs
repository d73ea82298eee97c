//! The generated cloud-init agent, for real: a `deploy_nodes` task runs
//! against the fake provisioner with the boot-action API live on loopback;
//! each node's user data is "applied" the way cloud-init would (its
//! `write_files` under a scratch root) and its agent runs under `sh`, with
//! `curl` against the server and a stub `systemctl`. The statuses it posts
//! land in the store and so in the deploy task's boot-action report.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use drydock_core::bootaction::cloudinit::{AGENT_PATH, KEY_PATH};
use drydock_core::compile::compile;
use drydock_core::drivers::fake::{FakeKubernetesDriver, FakeNodeDriver, FakeOobDriver, FakeWorld};
use drydock_core::drivers::{MachineStatus, NodeDriver, OobRegistry};
use drydock_core::ids::DesignRef;
use drydock_core::ingest::Ingester;
use drydock_core::ingest::source::DefaultSource;
use drydock_core::orchestrator::{Dependencies, Orchestrator, OrchestratorConfig};
use drydock_core::task::{Action, ActionResult, TaskStatus};
use drydock_http::server::bootactions::BootActionApi;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Route, Server};
use poem_openapi::OpenApiService;

/// One `write_files` entry: path → (mode, content).
fn write_files(user_data: &str) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut files = BTreeMap::new();
    let mut current: Option<(String, u32, bool)> = None;
    let mut in_section = false;
    for line in user_data.lines() {
        if line == "write_files:" {
            in_section = true;
            continue;
        }
        if !in_section {
            continue;
        }
        if !line.starts_with("- ") && !line.starts_with("  ") {
            break;
        }
        let (key, value) = line.trim_start_matches("- ").trim().split_once(": ").expect("key: value");
        match key {
            "path" => current = Some((value.to_owned(), 0o644, false)),
            "permissions" => current.as_mut().expect("entry").1 = u32::from_str_radix(value.trim_matches('\''), 8).expect("octal"),
            "encoding" => current.as_mut().expect("entry").2 = value == "b64",
            "content" => {
                let (path, mode, b64) = current.take().expect("entry");
                let content = if b64 {
                    base64::engine::general_purpose::STANDARD.decode(value).expect("base64")
                } else if value.starts_with('"') {
                    serde_json::from_str::<String>(value).expect("quoted").into_bytes()
                } else {
                    value.as_bytes().to_vec()
                };
                files.insert(path, (mode, content));
            }
            other => panic!("unexpected write_files key {other}"),
        }
    }
    files
}

/// Apply `user_data`'s files under `root` and run its agent there, with a
/// `systemctl` stub that logs its arguments; `enable` exits with `systemctl_rc`.
async fn run_agent(user_data: &str, root: &Path, systemctl_rc: i32) -> (std::process::Output, String) {
    assert!(user_data.contains(&format!("runcmd:\n- [\"{AGENT_PATH}\"]\n")), "{user_data}");
    for (path, (mode, content)) in write_files(user_data) {
        let target = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::write(&target, content).expect("write");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let bin = root.join("test-bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let log = root.join("systemctl.log");
    std::fs::write(
        bin.join("systemctl"),
        format!("#!/bin/sh\necho \"$*\" >> '{}'\n[ \"$1\" = enable ] && exit {systemctl_rc}\nexit 0\n", log.display()),
    )
    .expect("stub");
    std::fs::set_permissions(bin.join("systemctl"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let output = tokio::process::Command::new("sh")
        .arg(root.join(AGENT_PATH.trim_start_matches('/')))
        .env("DRYDOCK_BOOTACTION_ROOT", root)
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
        .output()
        .await
        .expect("sh runs");
    (output, std::fs::read_to_string(&log).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_init_agents_fetch_install_and_report_into_the_deploy_task() {
    let design = format!("{}/../examples/site.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&design).expect("example site");
    let site = compile(Ingester::new().ingest_str(&text, None).expect("ingest").design).expect("compile");
    let nodes: Vec<String> = site.nodes().iter().map(|node| node.name().to_owned()).collect();
    let with_actions: Vec<String> = nodes
        .iter()
        .filter(|node| site.node_position(node).is_some_and(|position| site.boot_actions_for(position).any(|action| action.signaling)))
        .cloned()
        .collect();
    assert!(with_actions.len() >= 2, "the example site has signalling boot actions");
    let failing = with_actions.last().cloned().expect("a node");

    let store: Arc<dyn drydock_core::store::StateStore> = Arc::new(drydock_core::store::memory::MemoryStore::new());
    let source = Arc::new(DefaultSource::default());
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("bind");
    let address = acceptor.local_addr()[0].as_socket_addr().copied().expect("socket address");
    let report_url = format!("http://{address}/api/v1.0/bootactions/");
    let api = BootActionApi::new(store.clone(), source.clone()).with_report_url(report_url.clone());
    let server =
        tokio::spawn(Server::new_with_acceptor(acceptor).run(Route::new().nest("/", OpenApiService::new(api, "bootactions", "1.0"))));

    let world = FakeWorld::new();
    for node in &nodes {
        world.enlist(node, MachineStatus::Ready);
    }
    let deps = Dependencies {
        store: store.clone(),
        source,
        node_driver: Some(Arc::new(FakeNodeDriver(world.clone())) as Arc<dyn NodeDriver>),
        oob: OobRegistry::new(vec![Arc::new(FakeOobDriver(world.clone()))]),
        kubernetes: Some(Arc::new(FakeKubernetesDriver(world.clone()))),
    };
    let config = OrchestratorConfig {
        poll_interval: Duration::from_millis(50),
        status_poll: Duration::from_millis(20),
        power_poll: Duration::from_millis(20),
        bootaction_final_status: Duration::from_secs(120),
        bootaction_report_url: report_url.clone(),
        ..OrchestratorConfig::default()
    };
    let orchestrator = Orchestrator::new(deps, config);
    let task =
        orchestrator.submit(Action::DeployNodes, DesignRef(format!("file://{design}")), None, Some("tester".into())).await.expect("submit");
    let running = tokio::spawn({
        let orchestrator = orchestrator.clone();
        async move { orchestrator.execute(task.id).await }
    });

    // Wait for every node's deployment request.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let user_data = loop {
        let seen = world.user_data.lock().expect("lock").clone();
        if with_actions.iter().all(|node| seen.contains_key(node)) {
            break seen;
        }
        assert!(tokio::time::Instant::now() < deadline, "deployments started: {:?}", seen.keys());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    for node in &with_actions {
        let text = &user_data[node];
        assert!(text.starts_with("#cloud-config\n"));
        assert!(text.contains(&format!("- path: {KEY_PATH}\n  permissions: '0600'\n")), "the key is still delivered");
        let root = tempfile::tempdir().expect("root");
        let rc = if *node == failing { 1 } else { 0 };
        let (output, systemctl) = run_agent(text, root.path(), rc).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains(&std::fs::read_to_string(root.path().join(KEY_PATH.trim_start_matches('/'))).expect("key")));
        if *node == failing {
            assert!(!output.status.success(), "a failing systemctl fails the agent");
            assert!(stderr.contains("cannot enable"), "{stderr}");
            continue;
        }
        assert!(output.status.success(), "{node}: {stderr}");
        // The files and units landed under the root with their modes.
        let script = root.path().join("usr/local/bin/synth-firstboot.sh");
        assert_eq!(std::fs::metadata(&script).expect("file installed").permissions().mode() & 0o777, 0o755);
        assert!(std::fs::read_to_string(&script).expect("script").contains(&format!("generated for {node}.")));
        let unit = root.path().join("lib/systemd/system/synth-firstboot.service");
        assert_eq!(std::fs::metadata(&unit).expect("unit installed").permissions().mode() & 0o777, 0o644);
        assert_eq!(systemctl, "daemon-reload\nenable synth-firstboot.service\nstart --no-block synth-firstboot.service\n", "{node}");
    }

    let finished = tokio::time::timeout(Duration::from_secs(120), running).await.expect("task finishes").expect("join").expect("execute");
    server.abort();
    assert_eq!(finished.status, TaskStatus::Complete);
    assert_eq!(finished.result.failures, std::slice::from_ref(&failing), "{:?}", finished.result);
    let mut expected: Vec<_> = with_actions.iter().filter(|node| **node != failing).cloned().collect();
    expected.extend(nodes.iter().filter(|node| !with_actions.contains(node)).cloned());
    let mut successes = finished.result.successes.clone();
    successes.sort();
    expected.sort();
    assert_eq!(successes, expected);

    for node in &with_actions {
        for row in store.bootaction_status_for_node(node).await.expect("rows") {
            let expected = match (row.action_status, node == &failing) {
                (ActionResult::Unreported, _) => ActionResult::Unreported,
                (_, true) => ActionResult::Failure,
                _ => ActionResult::Success,
            };
            assert_eq!(row.action_status, expected, "{node} {}", row.action_name);
        }
    }
    let children = store.task_get_many(&finished.subtasks).await.expect("children");
    let deploy = children.iter().find(|task| task.action == Action::DeployNode).expect("deploy task");
    for node in &with_actions {
        // The node's own deploy_node task (the one in its context) holds what it reported.
        let context = store.bootaction_context(node).await.expect("context").expect("context exists");
        let node_task = store.task_get(context.task_id).await.expect("node task");
        assert_eq!((node_task.action, node_task.parent), (Action::DeployNode, Some(deploy.id)), "{node}");
        let messages = store.result_messages(node_task.id).await.expect("messages");
        let from_node: Vec<_> = messages.iter().filter(|m| m.context_type == "bootaction").map(|m| (m.message.as_str(), m.error)).collect();
        assert_eq!(from_node[0], ("Bootaction starting execution.", false), "{node}: {from_node:?}");
        if *node == failing {
            assert!(from_node.contains(&("Bootaction execution failed.", true)), "{from_node:?}");
            assert!(from_node.iter().any(|(m, error)| *error && m.starts_with("cannot enable synth-firstboot.service")), "{from_node:?}");
            assert!(from_node.iter().any(|(m, error)| *error && m.ends_with("reported status failure")), "{from_node:?}");
        } else {
            assert!(from_node.contains(&("Bootaction execution successful.", false)), "{from_node:?}");
            assert!(from_node.iter().any(|(m, _)| m.ends_with(&format!("units enabled and started on {node}."))), "{from_node:?}");
        }
    }
    let report = children.iter().find(|task| task.action == Action::BootactionReport).expect("report task");
    let report_messages: Vec<_> = store.result_messages(report.id).await.expect("messages").into_iter().map(|m| m.message).collect();
    assert!(report_messages.contains(&"Boot action firstboot completed with status failure".to_string()), "{report_messages:?}");
    assert!(report_messages.contains(&"Boot action firstboot completed with status success".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_with_a_wrong_key_fails_closed_and_changes_nothing() {
    use drydock_core::bootaction::IdentityKey;
    use drydock_core::bootaction::cloudinit::{ReportedAction, agent_script, user_data};

    use crate::support::{FULLSITE, MemorySource, deploy};

    let store: Arc<dyn drydock_core::store::StateStore> = Arc::new(drydock_core::store::memory::MemoryStore::new());
    let source = Arc::new(MemorySource::fullsite());
    let deployed = deploy(store.as_ref(), &source.site(FULLSITE), FULLSITE, "compute01").await;
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("bind");
    let address = acceptor.local_addr()[0].as_socket_addr().copied().expect("socket address");
    let report_url = format!("http://{address}/api/v1.0/bootactions/");
    let api = BootActionApi::new(store.clone(), source).with_report_url(report_url.clone());
    let server =
        tokio::spawn(Server::new_with_acceptor(acceptor).run(Route::new().nest("/", OpenApiService::new(api, "bootactions", "1.0"))));

    let helloworld = ReportedAction { action_id: deployed.id("helloworld"), name: "helloworld".into() };
    let agent = agent_script("compute01", &report_url, &[helloworld]);
    let wrong = IdentityKey::generate();
    let root = tempfile::tempdir().expect("root");
    let (output, systemctl) = run_agent(&user_data(&Default::default(), &wrong, &report_url, &agent), root.path(), 0).await;
    server.abort();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot fetch files") && stderr.contains("cannot fetch units"), "{stderr}");
    assert!(stderr.contains("got HTTP 403"), "{stderr}");
    assert!(!stderr.contains(&wrong.to_hex()) && !stderr.contains(&deployed.key.to_hex()), "no key in the agent's output");
    assert!(systemctl.is_empty(), "nothing enabled: {systemctl}");
    assert!(!root.path().join("var/tmp/hello.sh").exists(), "nothing installed");
    let row = store.bootaction_status_get(deployed.id("helloworld")).await.expect("row");
    assert_eq!(row.action_status, ActionResult::Incomplete, "a wrong key cannot report");
    assert!(store.result_messages(deployed.task.id).await.expect("messages").is_empty());
}
