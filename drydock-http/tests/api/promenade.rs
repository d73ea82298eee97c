//! `drydock serve` relabelling through Promenade, as an operator runs it:
//! the real binary against drydock-sim's Promenade, with `--promenade-url`
//! and a token, or with Promenade and the token from a (fake) Keystone's
//! catalogue; a `relabel_nodes` task on the example site created and
//! followed through the API. Configuration mistakes exit 2.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use drydock_sim::SimLab;
use poem::{EndpointExt, Route, post};
use serde_json::{Value, json};

fn example() -> (std::path::PathBuf, Vec<String>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/site.yaml").canonicalize().expect("example site");
    let text = std::fs::read_to_string(&path).expect("read");
    let ingested = drydock_core::ingest::Ingester::new().ingest_str(&text, Some("site.yaml")).expect("parses");
    let site = drydock_core::compile::compile(ingested.design).expect("compiles");
    (path, site.nodes().iter().map(|node| node.name().to_owned()).collect())
}

/// A lab whose cluster has the example's nodes; Promenade wants `token`.
async fn lab(nodes: &[String], token: &str) -> SimLab {
    let nodes: BTreeMap<&str, Value> = nodes.iter().map(|name| (name.as_str(), json!({"kubernetes.io/hostname": name}))).collect();
    let scenario = json!({"promenade": {"tokens": [token], "nodes": nodes}});
    SimLab::start(serde_json::from_value(scenario).expect("scenario")).await.expect("lab")
}

/// A Keystone that issues `keystone-token` to the service user, with a
/// catalogue whose `kubernetesprovisioner` internal endpoint is
/// `promenade/api/v1.0`.
async fn fake_keystone(promenade: String) -> String {
    let app = Route::new()
        .at(
            "/v3/auth/tokens",
            post(handler_fn(move |body: Value| {
                let password = body.pointer("/auth/identity/password/user/password").and_then(Value::as_str);
                if password != Some("service-secret") {
                    return poem::Response::builder().status(poem::http::StatusCode::UNAUTHORIZED).finish();
                }
                let catalog = json!({"token": {"expires_at": "2999-01-01T00:00:00.000000Z", "catalog": [
                    {"type": "identity", "endpoints": [{"interface": "internal", "url": "http://127.0.0.1:9/v3"}]},
                    {"type": "kubernetesprovisioner", "endpoints": [
                        {"interface": "public", "url": "https://promenade.example/api/v1.0"},
                        {"interface": "internal", "url": format!("{promenade}/api/v1.0")}]}]}});
                poem::Response::builder()
                    .status(poem::http::StatusCode::CREATED)
                    .header("X-Subject-Token", "keystone-token")
                    .content_type("application/json")
                    .body(catalog.to_string())
            })),
        )
        .boxed();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    format!("http://{address}/v3")
}

/// An endpoint answering each JSON body with `answer` (400 for others).
fn handler_fn(answer: impl Fn(Value) -> poem::Response + Send + Sync + Clone + 'static) -> impl poem::Endpoint<Output = poem::Response> {
    poem::endpoint::make(move |mut request: poem::Request| {
        let answer = answer.clone();
        async move {
            match request.take_body().into_json::<Value>().await {
                Ok(body) => answer(body),
                Err(_) => poem::Response::builder().status(poem::http::StatusCode::BAD_REQUEST).finish(),
            }
        }
    })
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(design_root: &std::path::Path, extra: &[&str]) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["serve", "--auth", "noauth", "--store", "memory", "--listen", &listen, "--poll-interval", "1s"])
        .arg("--design-root")
        .arg(design_root)
        .args(extra)
        .env("RUST_LOG", "error")
        .env_remove("DRYDOCK_PROMENADE_URL")
        .env_remove("DRYDOCK_PROMENADE_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("drydock serve starts");
    let server = Server { child, url: format!("http://{listen}") };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{}/api/v1.0/health", server.url)).send().await.is_ok() {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("drydock serve did not start");
}

/// Create a relabel_nodes task and wait for it to complete.
async fn relabel(server: &Server, design: &std::path::Path) -> Value {
    let client = reqwest::Client::new();
    let body = json!({"action": "relabel_nodes", "design_ref": format!("file://{}", design.display())});
    let created: Value =
        client.post(format!("{}/api/v1.0/tasks", server.url)).json(&body).send().await.expect("create").json().await.expect("JSON");
    let id = created["task_id"].as_str().expect("task id").to_owned();
    for _ in 0..400 {
        let task: Value = client.get(format!("{}/api/v1.0/tasks/{id}", server.url)).send().await.expect("show").json().await.expect("JSON");
        if task["status"] == "complete" {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {id} did not complete");
}

fn sorted(value: &Value) -> Vec<String> {
    let mut names: Vec<String> = value.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_relabels_through_promenade_at_its_url() {
    let (design, names) = example();
    let lab = lab(&names, "promenade-token").await;
    let gone = names[3].clone();
    lab.remove_kubernetes_node(&gone);
    let root = design.parent().expect("examples dir");
    let server = serve(root, &["--promenade-url", &lab.promenade_url(), "--promenade-token", "promenade-token"]).await;

    let task = relabel(&server, &design).await;
    assert_eq!(task["result"]["status"], "partial_success", "{task:#}");
    assert_eq!(sorted(&task["result"]["failures"]), vec![gone.clone()], "{task:#}");
    assert_eq!(task["result"]["successes"].as_array().map(Vec::len), Some(names.len() - 1), "{task:#}");
    for name in names.iter().filter(|name| **name != gone) {
        let labels = lab.node_labels(name).expect("node");
        assert_eq!(labels.get("site").map(String::as_str), Some("synth7"), "{name}: {labels:?}");
        assert_eq!(labels.get("kubernetes.io/hostname"), Some(name), "{name}: {labels:?}");
    }
    let requests = lab.requests();
    assert_eq!(requests.len(), names.len());
    assert!(
        requests
            .iter()
            .filter(|record| !record.path.ends_with(&format!("/{gone}")))
            .all(|record| record.auth == "ok" && record.status == 200)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_finds_promenade_and_its_token_in_keystone() {
    let (design, names) = example();
    let lab = lab(&names, "keystone-token").await;
    let keystone = fake_keystone(lab.promenade_url()).await;
    let root = design.parent().expect("examples dir");
    let server = serve(
        root,
        &[
            "--keystone-url",
            &keystone,
            "--keystone-username",
            "drydock",
            "--keystone-password",
            "service-secret",
            "--keystone-project-id",
            "service",
        ],
    )
    .await;
    let task = relabel(&server, &design).await;
    assert_eq!(task["result"]["status"], "success", "{task:#}");
    assert_eq!(sorted(&task["result"]["successes"]), {
        let mut names = names.clone();
        names.sort();
        names
    });
    let requests = lab.requests();
    assert_eq!(requests.len(), names.len(), "the catalogue's path dropped: {requests:#?}");
    assert!(requests.iter().all(|record| record.auth == "ok" && record.path.starts_with("/api/v1.0/node-labels/")), "{requests:#?}");
}

#[test]
fn promenade_configuration_errors_exit_2() {
    for (args, message) in [
        (vec!["serve", "--auth", "noauth", "--promenade-token", "t"], "--promenade-token needs --promenade-url"),
        (vec!["serve", "--auth", "noauth", "--promenade-url", "ftp://promenade/"], "--promenade-url: Promenade URL"),
        (vec!["serve", "--auth", "noauth", "--promenade-url", "http://user:s3cret@promenade/"], "user info is not allowed"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_drydock"))
            .args(&args)
            .env_remove("DRYDOCK_PROMENADE_URL")
            .env_remove("DRYDOCK_PROMENADE_TOKEN")
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!stderr.contains("s3cret"), "{stderr}");
    }
}

/// A Keystone that counts the tokens it issues (`token-1`, `token-2`, …),
/// each expiring at `expires_at`.
async fn counting_keystone(expires_at: &'static str) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let issued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = issued.clone();
    let app = Route::new().at(
        "/v3/auth/tokens",
        post(handler_fn(move |_| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            poem::Response::builder()
                .status(poem::http::StatusCode::CREATED)
                .header("X-Subject-Token", format!("token-{n}"))
                .content_type("application/json")
                .body(json!({"token": {"expires_at": expires_at, "catalog": []}}).to_string())
        })),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    (format!("http://{address}/v3"), issued)
}

fn service_user(url: &str) -> drydock_http::keystone::PasswordAuth {
    drydock_http::keystone::PasswordAuth {
        auth_url: url.to_owned(),
        username: "drydock".into(),
        user_domain_name: "default".into(),
        password: drydock_core::ids::Secret::new("service-secret"),
        project: drydock_http::keystone::ProjectScope::Id("service".into()),
    }
}

#[tokio::test]
async fn the_service_session_keeps_its_token_until_it_expires_or_is_refused() {
    use drydock_core::drivers::promenade::ServiceAuth;
    use std::sync::atomic::Ordering;

    let (url, issued) = counting_keystone("2999-01-01T00:00:00Z").await;
    let session = drydock_http::keystone::ServiceSession::new(service_user(&url)).expect("session");
    assert_eq!(session.token(false).await.expect("token").expose(), "token-1");
    assert_eq!(session.token(false).await.expect("token").expose(), "token-1", "kept");
    assert_eq!(session.endpoint("kubernetesprovisioner", "internal").await.expect("catalogue"), None);
    assert_eq!(session.token(true).await.expect("token").expose(), "token-1", "a token seconds old counts as renewed");
    assert_eq!(issued.load(Ordering::SeqCst), 1);

    // A token about to expire is replaced before use.
    let (url, issued) = counting_keystone("2000-01-01T00:00:00Z").await;
    let session = drydock_http::keystone::ServiceSession::new(service_user(&url)).expect("session");
    assert_eq!(session.token(false).await.expect("token").expose(), "token-1");
    assert_eq!(session.token(false).await.expect("token").expose(), "token-2");
    assert_eq!(issued.load(Ordering::SeqCst), 2);

    // Keystone refusing the service user is an auth error; down, an unavailable one.
    let mut unreachable = service_user("http://127.0.0.1:9/v3");
    unreachable.password = drydock_core::ids::Secret::new("wrong");
    let down = drydock_http::keystone::ServiceSession::new(unreachable).expect("session");
    let error = down.token(false).await.expect_err("nothing listens");
    assert!(matches!(error, drydock_core::drivers::promenade::AuthError::Unavailable(_)), "{error:?}");
    assert!(!error.to_string().contains("wrong"), "{error}");
    let keystone = fake_keystone("http://127.0.0.1:9".into()).await;
    let mut refused = service_user(&keystone);
    refused.password = drydock_core::ids::Secret::new("wrong");
    let session = drydock_http::keystone::ServiceSession::new(refused).expect("session");
    let error = session.token(false).await.expect_err("refused");
    assert!(matches!(error, drydock_core::drivers::promenade::AuthError::Refused(_)), "{error:?}");
    assert!(error.to_string().contains("HTTP 401") && !error.to_string().contains("wrong"), "{error}");
}
