//! Stores that fail loudly, through a real server: a full disk is 507 while
//! it is full and writes work again once space is freed (extended health
//! says so meanwhile); a corrupt or truncated redb file is refused at start
//! and left as it was; purges refuse absurd retentions and never delete a
//! task that has not finished.
//!
//! The full-disk case mounts a small tmpfs, which needs root: elsewhere it
//! is skipped with a message, except under `CI=true`, where it fails.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Server, TOKEN};

/// A tmpfs on a fresh directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("tempdir");
        let output = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir.path()).output();
        match output {
            Ok(output) if output.status.success() => Some(Tmpfs { dir }),
            other => {
                let why = other.map_or_else(|error| error.to_string(), |output| String::from_utf8_lossy(&output.stderr).into_owned());
                assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: cannot mount a tmpfs for the full-disk case: {why}");
                eprintln!("skipped: cannot mount a tmpfs (needs root): {}", why.trim());
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

async fn create_task(server: &Server, design_ref: &str) -> reqwest::Response {
    server.create_task("validate_design", design_ref).await
}

/// 8: while the disk is full, writes are 507 (`retry: true`) and extended
/// health reports the store unwritable; once space is freed, writes work
/// again without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_507_until_space_is_freed() {
    let Some(tmpfs) = Tmpfs::mount("8m") else { return };
    let scratch = tempfile::tempdir().expect("scratch");
    let store = format!("redb:{}", tmpfs.dir.path().join("state.redb").display());
    let mut server = Server::start_in(scratch, &["--store", &store], &["--no-orchestrator"]);
    assert_eq!(create_task(&server, "design://none").await.status().as_u16(), 201);
    // Fill the disk: a filler file takes what is left.
    let filler = tmpfs.dir.path().join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 8 << 20]);
    let long = format!("design://{}", "x".repeat(60_000));
    let mut status = 0;
    for _ in 0..200 {
        status = create_task(&server, &long).await.status().as_u16();
        if status != 201 {
            break;
        }
    }
    assert_eq!(status, 507, "a write on a full disk");
    let reply = create_task(&server, &long).await;
    assert_eq!(reply.status().as_u16(), 507);
    let body: Value = reply.json().await.expect("envelope");
    assert_eq!(body["retry"], true, "{body}");
    let health = server.client().get(server.at("/api/v1.0/health/extended")).header("X-Auth-Token", TOKEN).send().await.expect("health");
    assert_eq!(health.status().as_u16(), 503, "extended health reports the store unwritable");
    assert!(health.text().await.expect("body").to_lowercase().contains("full"));

    std::fs::remove_file(&filler).expect("free space");
    assert_eq!(create_task(&server, "design://none").await.status().as_u16(), 201, "writes work again without a restart");
    let health = server.client().get(server.at("/api/v1.0/health/extended")).header("X-Auth-Token", TOKEN).send().await.expect("health");
    assert_eq!(health.status().as_u16(), 200);
    server.assert_healthy("a full disk").await;
    server.terminate(Duration::from_secs(10));
}

/// Run `drydock serve` on `store`, which must refuse to start: its exit
/// code and what it said.
fn serve_refuses(store: &Path) -> (Option<i32>, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["serve", "--auth", "noauth", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--store")
        .arg(format!("redb:{}", store.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("drydock serve");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut text = String::new();
            use std::io::Read;
            let _ = child.stderr.take().expect("stderr").read_to_string(&mut text);
            return (status.code(), text);
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("drydock serve started on a store it must refuse: {}", store.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// 9, 10: a corrupt store (a flipped byte) and a store truncated to 0
/// bytes are refused at start with what to do, and left as they were;
/// `drydock store check` says the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_and_truncated_stores_are_refused() {
    let mut server = Server::start(&["--no-orchestrator"]);
    const MARKER: &str = "design://marker-5c1f9e7a";
    for _ in 0..20 {
        assert_eq!(create_task(&server, MARKER).await.status().as_u16(), 201);
    }
    server.terminate(Duration::from_secs(10));
    let path = server.dir.path().join("state.redb");
    let pristine = std::fs::read(&path).expect("store file");
    assert!(!pristine.is_empty());

    // Flip a byte inside every copy of a stored task record (the file may
    // also hold stale copies in pages no longer in use, which nothing checks).
    let copies: Vec<usize> =
        pristine.windows(MARKER.len()).enumerate().filter(|(_, w)| *w == MARKER.as_bytes()).map(|(at, _)| at).collect();
    assert!(!copies.is_empty(), "a task record in the file");
    let mut damaged = pristine.clone();
    for at in copies {
        damaged[at + 12] ^= 0x20;
    }
    std::fs::write(&path, &damaged).expect("damage");
    let (code, text) = serve_refuses(&path);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("corrupt") && text.contains("drydock store check"), "{text}");
    // The refusal holds: a second start is refused the same way (the file
    // is never "repaired" into a store that has lost its tasks).
    let (code, again) = serve_refuses(&path);
    assert_ne!(code, Some(0), "{again}");
    assert!(again.contains("corrupt"), "{again}");
    let check = Command::new(env!("CARGO_BIN_EXE_drydock")).args(["store", "check"]).arg(&path).output().expect("store check");
    assert_eq!(check.status.code(), Some(1), "{}", String::from_utf8_lossy(&check.stdout));

    // Truncated to nothing: refused, not started as an empty store.
    std::fs::write(&path, b"").expect("truncate");
    let (code, text) = serve_refuses(&path);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains(&path.display().to_string()), "names the file: {text}");
    assert_eq!(std::fs::metadata(&path).map(|metadata| metadata.len()).ok(), Some(0), "nothing was written over it");
    drop(server);
}

/// 11: absurd retentions are 400; a purge never deletes a running task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purges_refuse_absurd_days_and_keep_running_tasks() {
    // A design source that never answers keeps a validate_design running.
    let stall = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let stalled = format!("http://{}/site.yaml", stall.local_addr().expect("address"));
    let server = Server::start(&[]);
    let client = server.client();
    for days in ["-1", "abc", "1e3", "99999999999", "-99999999999"] {
        let reply =
            client.delete(server.at(&format!("/api/v1.0/tasks?days={days}"))).header("X-Auth-Token", TOKEN).send().await.expect("purge");
        assert_eq!(reply.status().as_u16(), 400, "days={days}");
    }
    let task: Value = create_task(&server, &stalled).await.json().await.expect("task");
    let id = task["task_id"].as_str().expect("id").to_owned();
    server.wait_for_task(&id, "running").await;
    let purge = client.delete(server.at("/api/v1.0/tasks?days=0")).header("X-Auth-Token", TOKEN).send().await.expect("purge");
    assert_eq!(purge.status().as_u16(), 200);
    let still = client.get(server.at(&format!("/api/v1.0/tasks/{id}"))).header("X-Auth-Token", TOKEN).send().await.expect("task");
    assert_eq!(still.status().as_u16(), 200, "the running task survived the purge");
    drop(stall);
}
