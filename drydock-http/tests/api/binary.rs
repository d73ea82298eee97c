//! The `drydock serve` command as an operator runs it: the OpenAPI document
//! it prints, configuration errors, and a real listener with the noauth
//! warning.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

fn drydock() -> Command {
    Command::new(env!("CARGO_BIN_EXE_drydock"))
}

#[test]
fn print_openapi_is_the_committed_document() {
    let output = drydock().args(["serve", "--print-openapi"]).output().expect("runs");
    assert!(output.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/drydock-v1.0.json");
    let committed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).expect("committed")).expect("JSON");
    assert_eq!(printed, committed);
}

#[test]
fn configuration_errors_exit_2() {
    for (args, message) in [
        (vec!["serve", "--auth", "token"], "--auth token needs --token-file"),
        (vec!["serve", "--auth", "keystone"], "--auth keystone needs --keystone-url"),
        (vec!["serve", "--auth", "noauth", "--store", "mysql://x"], "unknown store"),
        (vec!["serve", "--auth", "keystone-headers", "--trusted-proxy", "nowhere"], "is not an address or network"),
        (vec!["serve", "--auth", "noauth", "--maas-api-url", "http://maas/MAAS"], "needs both --maas-api-url and --maas-api-key"),
    ] {
        let output = drydock().args(&args).env_remove("MAAS_API_KEY").env_remove("MAAS_API_URL").output().expect("runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn serves_with_a_loud_noauth_warning() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let mut child = drydock()
        .args(["serve", "--auth", "noauth", "--store", "memory", "--no-orchestrator", "--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let answer = runtime.block_on(async {
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(response) = client.get(format!("http://127.0.0.1:{port}/versions")).send().await {
                return Some((response.status().as_u16(), response.headers().contains_key("x-drydock-req")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    });
    child.kill().expect("stop the server");
    let _ = child.wait();
    let mut logs = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut logs);
    }
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut logs);
    }
    assert_eq!(answer, Some((200, true)), "{logs}");
    assert!(logs.contains("AUTHENTICATION IS DISABLED"), "{logs}");
}
