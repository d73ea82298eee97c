//! The API commands (`task`, `node`, `validatedesign`, `design`, `part`) as a
//! user runs them: the real `drydock` binary against a `drydock serve`
//! started here (127.0.0.1, free port, memory store, token auth, orchestrator
//! running, MaaS on drydock-sim), with JSON output parsed, table rows checked
//! and every error a single line with the right exit code.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const TOKEN: &str = "cli-test-token-5f0c2a";

struct Server {
    child: Child,
    url: String,
    _lab: drydock_sim::lab::SimLab,
    _tokens: tempfile::NamedTempFile,
    _runtime: tokio::runtime::Runtime,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn site() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/site.yaml").canonicalize().expect("examples/site.yaml")
}

fn site_url() -> String {
    format!("file://{}", site().display())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

fn start() -> Server {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let scenario = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["lab", "scenario", "--enlisted", &site().display().to_string()])
        .output()
        .expect("scenario");
    let scenario: Value = serde_json::from_slice(&scenario.stdout).expect("scenario JSON");
    let lab = runtime.block_on(drydock_sim::lab::SimLab::start(serde_json::from_value(scenario).expect("scenario"))).expect("lab");
    let mut tokens = tempfile::NamedTempFile::new().expect("token file");
    write!(tokens, "[[token]]\ntoken = \"{TOKEN}\"\nuser = \"cli\"\nroles = [\"admin\"]\n").expect("write tokens");
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["serve", "--auth", "token", "--store", "memory", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--design-root")
        .arg(site().parent().expect("examples/"))
        .arg("--token-file")
        .arg(tokens.path())
        .args(["--maas-api-url", &lab.maas_url(), "--maas-api-key", &lab.api_key()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("drydock serve starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "drydock serve did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, url: format!("http://127.0.0.1:{port}"), _lab: lab, _tokens: tokens, _runtime: runtime }
}

impl Server {
    fn run(&self, args: &[&str]) -> Output {
        self.run_as(TOKEN, args)
    }

    fn run_as(&self, token: &str, args: &[&str]) -> Output {
        let output = Command::new(env!("CARGO_BIN_EXE_drydock"))
            .args(args)
            .env("DD_URL", &self.url)
            .env("DD_TOKEN", token)
            .env_remove("OS_TOKEN")
            .env("NO_COLOR", "1")
            .output()
            .expect("drydock runs");
        let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(!all.contains(TOKEN), "the token is never printed: {all}");
        output
    }

    fn json(&self, args: &[&str]) -> Value {
        let output = self.run(args);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", text(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{args:?}: not JSON ({error}): {}", text(&output.stdout)))
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Exit code and a single stderr line containing `expected`.
fn assert_fails(output: &Output, code: i32, expected: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(expected), "{expected:?} in {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
}

#[test]
fn tasks_are_created_followed_listed_shown_and_purged() {
    let server = start();
    let site = site().display().to_string();
    let task = server.json(&["task", "create", "-d", &site, "-a", "validate_design", "--block", "--poll-interval", "0.2", "-o", "json"]);
    assert_eq!(task["status"], "complete", "{task}");
    assert_eq!(task["result"]["status"], "success", "{task}");
    // The local file was uploaded through the designs API: the task names
    // the stored design, not a path on the client's machine.
    let design_ref = task["design_ref"].as_str().expect("design_ref");
    assert!(design_ref.starts_with("design://"), "{design_ref}");
    let id = task["task_id"].as_str().expect("task id").to_owned();

    let listed = server.json(&["task", "list", "-o", "json"]);
    assert!(listed.as_array().expect("list").iter().any(|task| task["task_id"] == id.as_str()), "{listed}");
    let table = server.run(&["task", "list"]);
    let table = text(&table.stdout);
    assert!(table.lines().next().is_some_and(|header| header.starts_with("Task ID") && header.contains("Action")), "{table}");
    assert!(table.lines().any(|line| line.starts_with(&id) && line.contains("validate_design") && line.contains("success")), "{table}");

    let shown = server.json(&["task", "show", "-t", &id, "-o", "json"]);
    assert_eq!(shown["task_id"], id.as_str());
    let shown = server.run(&["task", "show", "-t", &id, "--block", "--poll-interval", "0.1"]);
    assert_eq!(shown.status.code(), Some(0));
    assert!(text(&shown.stdout).contains(&format!("Task ID    {id}")), "{}", text(&shown.stdout));
    let yaml = server.run(&["task", "show", "-t", &id, "-o", "yaml"]);
    assert!(text(&yaml.stdout).contains(&format!("\"task_id\": \"{id}\"")), "{}", text(&yaml.stdout));

    assert_fails(&server.run(&["task", "builddata", "-t", &id]), 1, &format!("no build data for task {id}"));
    assert_fails(&server.run(&["task", "show", "-t", "not-a-task"]), 1, "the server answered 404: Task not-a-task does not exist");

    let purged = server.run(&["task", "delete", "--days", "1"]);
    assert_eq!(purged.status.code(), Some(0));
    assert_eq!(text(&purged.stdout).trim(), "Task table purged successfully.");
}

#[test]
fn node_filters_keep_tags_and_reject_unknown_nodes() {
    let server = start();
    let site = site().display().to_string();
    let task = server.json(&["task", "create", "-d", &site, "-a", "validate_design", "-n", "cp-r01-n01", "-t", "gpu,ssd", "-o", "json"]);
    assert_eq!(
        task["node_filter"],
        serde_json::json!({"filter_set_type": "intersection", "filter_set": [
            {"filter_type": "union", "node_names": ["cp-r01-n01"], "node_tags": ["gpu", "ssd"]}]})
    );
    let plain = server.json(&["task", "create", "-d", &site, "-a", "validate_design", "-o", "json"]);
    assert_eq!(plain["node_filter"], Value::Null);
    assert_fails(
        &server.run(&["task", "create", "-d", &site, "-a", "deploy_nodes", "-n", "cp-r01-n01,nosuch"]),
        2,
        "unknown node in the design: nosuch",
    );
    assert_fails(&server.run(&["task", "create", "-d", &site, "-a", "fly"]), 1, "Unsupported action fly");
}

#[test]
fn a_failed_task_makes_block_exit_non_zero() {
    let server = start();
    let broken = tempfile::NamedTempFile::new().expect("file");
    // Valid YAML, an invalid design: the task runs and fails.
    std::fs::write(broken.path(), "schema: drydock/Region/v1\nmetadata: {name: x, schema: metadata/Document/v1}\ndata: 42\n")
        .expect("write");
    let output = server.run(&[
        "task",
        "create",
        "-d",
        &broken.path().display().to_string(),
        "-a",
        "validate_design",
        "--block",
        "--poll-interval",
        "0.2",
        "-o",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let task: Value = serde_json::from_slice(&output.stdout).expect("final task");
    assert_ne!(task["result"]["status"], "success");
    assert!(text(&output.stderr).contains("ended with result"), "{}", text(&output.stderr));
    // As a table: why it failed, and reported as soon as it ended (the
    // default --poll-interval is the longest wait; the first poll is at once).
    let started = Instant::now();
    let output = server.run(&["task", "create", "-d", &broken.path().display().to_string(), "-a", "validate_design", "--block"]);
    let waited = started.elapsed();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    assert!(table.lines().any(|line| line.starts_with("Result") && line.ends_with("failure")), "{table}");
    assert!(table.lines().any(|line| line.starts_with("Succeeded") && line.ends_with(" -")), "no empty cells: {table}");
    assert!(table.contains("Errors\n  document x: Region:v1 schema validation error"), "{table}");
    assert!(waited < Duration::from_secs(10), "--block reported a task that ends at once after {waited:?}");
    let id = table.lines().find_map(|line| line.strip_prefix("Task ID")).expect("task id").trim().to_owned();
    let shown = text(&server.run(&["task", "show", "-t", &id]).stdout);
    assert!(shown.contains("Errors\n  document x: Region:v1 schema validation error"), "{shown}");
    // A local file that is not YAML is refused when it is uploaded.
    std::fs::write(broken.path(), "schema: drydock/Region/v1\nmetadata: {name: x\n").expect("write");
    let output = server.run(&["task", "create", "-d", &broken.path().display().to_string(), "-a", "validate_design"]);
    assert_fails(&output, 1, "was refused by the server: Invalid YAML");
}

#[test]
fn nodes_are_listed_from_maas() {
    let server = start();
    let nodes = server.json(&["node", "list", "-o", "json"]);
    assert_eq!(nodes.as_array().map(Vec::len), Some(6), "{nodes}");
    let table = server.run(&["node", "list"]);
    assert_eq!(table.status.code(), Some(0));
    let table = text(&table.stdout);
    let header: Vec<&str> = table.lines().next().expect("header").split("  ").map(str::trim).filter(|cell| !cell.is_empty()).collect();
    assert_eq!(header, ["Node Name", "Status", "CPUs", "Memory", "PXE MAC", "Mgmt IP", "IPMI IP", "Power State"]);
    assert_eq!(table.lines().count(), 7, "{table}");
    assert!(table.lines().any(|line| line.starts_with("cp-r01-n01 ")), "{table}");
    assert_fails(&server.run(&["node", "builddata", "cp-r01-n01", "--no-latest"]), 1, "No build data found");
}

#[test]
fn designs_validate_and_hold_parts() {
    let server = start();
    let site = site().display().to_string();
    let passed = server.run(&["validatedesign", &site]);
    assert_eq!(passed.status.code(), Some(0), "{}", text(&passed.stderr));
    assert!(text(&passed.stdout).contains("Site design passed validation (0 errors)"), "{}", text(&passed.stdout));
    let report = server.json(&["validatedesign", &site_url(), "-o", "json"]);
    assert_eq!(report["status"], "Success");

    let design = server.json(&["design", "create", "-o", "json"]);
    let id = design["id"].as_str().expect("design id").to_owned();
    let part = server.json(&["part", "create", "-d", &id, "-f", &site, "-o", "json"]);
    assert_eq!(part["sequence"], 0);
    let list = server.run(&["part", "list", "-d", &id]);
    assert!(text(&list.stdout).lines().any(|line| line.starts_with("0 ") && line.contains("request body")), "{}", text(&list.stdout));
    let nodes = server.json(&["part", "show", "-d", &id, "-k", "BaremetalNode", "-o", "json"]);
    assert_eq!(nodes.as_array().map(Vec::len), Some(6), "{nodes}");
    let ids = server.json(&["design", "list", "-o", "json"]);
    assert!(ids.as_array().is_some_and(|ids| ids.iter().any(|listed| listed == id.as_str())), "{ids}");
    let compiled = server.json(&["design", "show", "-d", &id, "-s", "compiled", "-o", "json"]);
    assert_eq!(compiled["nodes"].as_array().map(Vec::len), Some(6), "{compiled}");
    let shown = server.run(&["design", "show", "-d", &id, "--source", "compiled"]);
    assert!(text(&shown.stdout).contains("Nodes      6 (cp-r01-n01"), "{}", text(&shown.stdout));
    let designed = server.run(&["design", "show", "-d", &id]);
    assert!(text(&designed.stdout).lines().any(|line| line.starts_with("0 ")), "{}", text(&designed.stdout));
    assert_fails(&server.run(&["design", "show", "-d", "not-a-design"]), 1, "");
}

#[test]
fn errors_are_one_line_with_exit_codes() {
    let server = start();
    let malformed = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(malformed.path(), "a: [1, 2\nb: {\n").expect("write");
    let malformed = malformed.path().display().to_string();

    assert_fails(&server.run(&["validatedesign", "/no/such/site.yaml"]), 2, "design /no/such/site.yaml not found");
    assert_fails(&server.run(&["task", "create", "-d", "/no/such/site.yaml", "-a", "verify_site"]), 2, "not found");
    let output = server.run(&["validatedesign", &malformed]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("failed validation"), "{}", text(&output.stderr));
    assert_eq!(text(&output.stderr).lines().count(), 1);
    let design = server.json(&["design", "create", "-o", "json"]);
    let id = design["id"].as_str().expect("id");
    assert_fails(&server.run(&["part", "create", "-d", id, "-f", &malformed]), 1, "Invalid YAML");
    assert_fails(&server.run(&["part", "create", "-d", id, "-f", "/no/such/part.yaml"]), 2, "cannot read /no/such/part.yaml");

    assert_fails(&server.run_as("wrong-token", &["task", "list"]), 1, "unauthorized");
    let bad_url = Command::new(env!("CARGO_BIN_EXE_drydock")).args(["task", "list", "--url", "localhost:9000/api"]).output().expect("runs");
    assert_fails(&bad_url, 2, "URL must specify a scheme and hostname, optionally a port");
    let no_url = Command::new(env!("CARGO_BIN_EXE_drydock")).args(["node", "list"]).env_remove("DD_URL").output().expect("runs");
    assert_fails(&no_url, 2, "no Drydock URL");

    let down = format!("http://127.0.0.1:{}", free_port());
    let output =
        Command::new(env!("CARGO_BIN_EXE_drydock")).args(["task", "list", "--url", &down]).env("DD_TOKEN", TOKEN).output().expect("runs");
    assert_fails(&output, 1, &format!("cannot connect: {down}"));
    assert!(!text(&output.stderr).contains(TOKEN));

    let usage = server.run(&["task", "create", "-a", "verify_site"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(text(&usage.stderr).contains("--design-ref"), "{}", text(&usage.stderr));
}

/// A Keystone that issues `TOKEN` to operator/ks-secret in project
/// "service" and lists `drydock_url` as the internal physicalprovisioner.
fn fake_keystone(runtime: &tokio::runtime::Runtime, drydock_url: String) -> String {
    use poem::web::Json;
    use poem::{IntoResponse, Route, handler, post};
    #[handler]
    fn issue(Json(body): Json<Value>, drydock: poem::web::Data<&String>) -> poem::Response {
        let user = &body["auth"]["identity"]["password"]["user"];
        let project = &body["auth"]["scope"]["project"];
        if user["name"] != "operator" || user["password"] != "ks-secret" || project["name"] != "service" {
            return poem::http::StatusCode::UNAUTHORIZED.into_response();
        }
        let catalog = serde_json::json!({"token": {"catalog": [
            {"type": "identity", "endpoints": [{"interface": "internal", "url": "http://keystone"}]},
            {"type": "physicalprovisioner", "endpoints": [{"interface": "internal", "url": format!("{}/api/v1.0", drydock.0)}]}]}});
        Json(catalog).with_status(poem::http::StatusCode::CREATED).with_header("X-Subject-Token", TOKEN).into_response()
    }
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
        let app = poem::EndpointExt::data(Route::new().at("/v3/auth/tokens", post(issue)), drydock_url);
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
        format!("http://{address}/v3")
    })
}

#[test]
fn keystone_password_authentication_finds_the_token_and_the_url() {
    let server = start();
    let keystone = fake_keystone(&server._runtime, server.url.clone());
    let run = |password: &str, extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_drydock"))
            .args(["task", "list", "-o", "json", "--os_auth_url", &keystone, "--os_password", password])
            .args(extra)
            .env_remove("DD_URL")
            .env_remove("DD_TOKEN")
            .env_remove("OS_TOKEN")
            .env("OS_USERNAME", "operator")
            .env("NO_COLOR", "1")
            .output()
            .expect("drydock runs");
        let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(!all.contains(password), "the password is never printed: {all}");
        output
    };
    // The original's option spelling; the URL comes from the catalogue.
    let listed = run("ks-secret", &["--os_project_name", "service"]);
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    assert!(serde_json::from_slice::<Value>(&listed.stdout).expect("JSON").is_array());
    assert_fails(&run("wrong-secret", &["--os_project_name", "service"]), 1, "Unable to authenticate with Keystone");
    assert_fails(&run("ks-secret", &[]), 2, "needs --os_project_name");
}
