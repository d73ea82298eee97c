//! A real `drydock serve` process for the hostile-input suite: started on
//! 127.0.0.1 with token authentication, under a memory ceiling (a cgroup
//! when this machine lets us make one, else `prlimit --as`), with helpers
//! to read its resident memory, check it still serves, and stop it with
//! SIGTERM while timing the exit.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The admin token every server accepts.
pub(crate) const TOKEN: &str = "hostile-admin-token-7d1e";

/// Resident memory a server may have after an attack.
pub(crate) const RSS_CEILING: u64 = 300 << 20;

/// Memory the server may use at all while under attack.
pub(crate) const MEMORY_LIMIT: u64 = 1 << 30;

/// How the server is held to its memory limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ceiling {
    /// A memory cgroup (v1 or v2) of this directory.
    Cgroup(PathBuf),
    /// `prlimit --as`.
    AddressSpace,
}

/// A running `drydock serve`.
pub(crate) struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    /// A scratch directory the server and the test share.
    pub(crate) dir: tempfile::TempDir,
    /// Where its log goes.
    pub(crate) log: PathBuf,
    /// The memory ceiling in force.
    pub(crate) ceiling: Ceiling,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

static CGROUPS: AtomicUsize = AtomicUsize::new(0);

/// A fresh memory cgroup limited to `limit` bytes, if this machine allows.
fn memory_cgroup(limit: u64) -> Option<PathBuf> {
    let name = format!("drydock-hostile-{}-{}", std::process::id(), CGROUPS.fetch_add(1, Ordering::Relaxed));
    // cgroup v2: one unified hierarchy with a memory controller.
    let unified = Path::new("/sys/fs/cgroup");
    if std::fs::read_to_string(unified.join("cgroup.controllers")).is_ok_and(|controllers| controllers.contains("memory")) {
        let dir = unified.join(&name);
        if std::fs::create_dir(&dir).is_ok() {
            if std::fs::write(dir.join("memory.max"), limit.to_string()).is_ok() {
                let _ = std::fs::write(dir.join("memory.swap.max"), "0");
                return Some(dir);
            }
            let _ = std::fs::remove_dir(&dir);
        }
    }
    // cgroup v1: the memory controller's own hierarchy.
    let v1 = Path::new("/sys/fs/cgroup/memory");
    if v1.join("memory.limit_in_bytes").exists() {
        let dir = v1.join(&name);
        if std::fs::create_dir(&dir).is_ok() {
            if std::fs::write(dir.join("memory.limit_in_bytes"), limit.to_string()).is_ok() {
                let _ = std::fs::write(dir.join("memory.memsw.limit_in_bytes"), limit.to_string());
                return Some(dir);
            }
            let _ = std::fs::remove_dir(&dir);
        }
    }
    None
}

impl Server {
    /// A server on a fresh redb store with `extra` serve options.
    pub(crate) fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("scratch directory");
        let store = format!("redb:{}", dir.path().join("state.redb").display());
        Server::start_in(dir, &["--store", &store], extra)
    }

    /// A server in `dir` with `store` options (`--store …`) and `extra` ones.
    pub(crate) fn start_in(dir: tempfile::TempDir, store: &[&str], extra: &[&str]) -> Server {
        let tokens = dir.path().join("tokens.toml");
        let mut file = std::fs::File::create(&tokens).expect("token file");
        write!(file, "[[token]]\ntoken = \"{TOKEN}\"\nuser = \"admin\"\nroles = [\"admin\"]\n").expect("write tokens");
        let port = free_port();
        let log = dir.path().join("server.log");
        let cgroup = memory_cgroup(MEMORY_LIMIT);
        let mut command = match &cgroup {
            Some(_) => Command::new(env!("CARGO_BIN_EXE_drydock")),
            None => {
                let mut command = Command::new("prlimit");
                // Address space, not resident memory: allow for the
                // allocator's and the threads' reservations.
                command.arg(format!("--as={}", MEMORY_LIMIT * 4)).arg("--").arg(env!("CARGO_BIN_EXE_drydock"));
                command
            }
        };
        command
            .args(["serve", "--auth", "token", "--listen", &format!("127.0.0.1:{port}"), "--poll-interval", "1s"])
            .arg("--token-file")
            .arg(&tokens)
            .args(store)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        let child = command.spawn().expect("drydock serve starts");
        let ceiling = match cgroup {
            Some(dir) => {
                let procs = dir.join("cgroup.procs");
                std::fs::write(&procs, child.id().to_string()).expect("the server joins its memory cgroup");
                Ceiling::Cgroup(dir)
            }
            None => Ceiling::AddressSpace,
        };
        let mut server = Server { child: Some(child), url: format!("http://127.0.0.1:{port}"), dir, log, ceiling };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = server.child.as_mut().and_then(|child| child.try_wait().ok().flatten()) {
                panic!("drydock serve exited with {status}: {}", server.log_text());
            }
            assert!(Instant::now() < deadline, "drydock serve did not listen: {}", server.log_text());
            std::thread::sleep(Duration::from_millis(25));
        }
        server
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Its log so far.
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its resident memory in bytes (0 once it has exited).
    pub(crate) fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    }

    /// Whether the process is still running.
    pub(crate) fn alive(&mut self) -> bool {
        self.child.as_mut().is_some_and(|child| child.try_wait().ok().flatten().is_none())
    }

    /// A client with short timeouts.
    pub(crate) fn client(&self) -> reqwest::Client {
        reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client")
    }

    /// `path` on this server.
    pub(crate) fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// GET `path` as the admin; the JSON body.
    pub(crate) async fn get_json(&self, path: &str) -> serde_json::Value {
        let reply = self.client().get(self.at(path)).header("X-Auth-Token", TOKEN).send().await.expect("GET");
        reply.json().await.unwrap_or_else(|error| panic!("GET {path}: not JSON: {error}"))
    }

    /// POST `body` to `path` as the admin.
    pub(crate) async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client().post(self.at(path)).header("X-Auth-Token", TOKEN).json(body).send().await.expect("POST")
    }

    /// Create a task as the admin (the reply, whatever its status).
    pub(crate) async fn create_task(&self, action: &str, design_ref: &str) -> reqwest::Response {
        self.post_json("/api/v1.0/tasks", &serde_json::json!({"action": action, "design_ref": design_ref})).await
    }

    /// Poll task `id` until its status is `status` (within 60 s); the task.
    pub(crate) async fn wait_for_task(&self, id: &str, status: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let task = self.get_json(&format!("/api/v1.0/tasks/{id}")).await;
            if task["status"] == status {
                return task;
            }
            assert!(Instant::now() < deadline, "task {id} never reached {status}: {task}");
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Panic unless the process runs, answers `/health` with 204 and an
    /// authenticated task listing with 200, with resident memory under
    /// [`RSS_CEILING`].
    pub(crate) async fn assert_healthy(&mut self, after: &str) {
        assert!(self.alive(), "the server died after {after}: {}", self.log_tail());
        let client = self.client();
        let health = client.get(self.at("/api/v1.0/health")).send().await.unwrap_or_else(|error| panic!("after {after}: {error}"));
        assert_eq!(health.status().as_u16(), 204, "health after {after}");
        let tasks = client.get(self.at("/api/v1.0/tasks")).header("X-Auth-Token", TOKEN).send().await.expect("tasks");
        assert_eq!(tasks.status().as_u16(), 200, "task listing after {after}");
        let rss = self.rss();
        assert!(rss < RSS_CEILING, "resident memory after {after} is {} MiB", rss >> 20);
    }

    /// The last lines of the log.
    pub(crate) fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, and how long the process took to exit (panics past `limit`,
    /// after killing it).
    pub(crate) fn terminate(&mut self, limit: Duration) -> Duration {
        let mut child = self.child.take().expect("running");
        let started = Instant::now();
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        loop {
            if child.try_wait().ok().flatten().is_some() {
                return started.elapsed();
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!("drydock serve was still running {limit:?} after SIGTERM: {}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Ceiling::Cgroup(dir) = &self.ceiling {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// A raw HTTP/1.1 connection, for requests reqwest will not send (a body
/// shorter than its `Content-Length`, headers one byte at a time).
pub(crate) fn raw(url: &str) -> TcpStream {
    let address = url.trim_start_matches("http://");
    let stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    stream
}

/// Read a raw response's status line (`HTTP/1.1 401 …`) → 401.
pub(crate) fn read_status(stream: &mut TcpStream) -> Option<u16> {
    use std::io::Read;
    let mut buffer = Vec::new();
    let mut byte = [0u8; 1];
    while !buffer.ends_with(b"\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => buffer.push(byte[0]),
            _ => return None,
        }
    }
    String::from_utf8_lossy(&buffer).split_whitespace().nth(1)?.parse().ok()
}
