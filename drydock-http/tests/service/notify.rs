//! `drydock serve` under `Type=notify`: with `NOTIFY_SOCKET` set it sends
//! `READY=1` once its store is open and its port accepts connections (not
//! before, and not at all when it cannot start), and `STOPPING=1` on
//! SIGTERM before exiting cleanly.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port nothing listens on (the listener is dropped).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

/// A `drydock serve` child, killed if a test fails before it exits.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn serve(port: u16, store: &Path, notify_socket: &str, log: &Path) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["serve", "--auth", "noauth", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--store")
        .arg(format!("redb:{}", store.display()))
        .env("NOTIFY_SOCKET", notify_socket)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("drydock serve starts");
    Server(child)
}

/// The next notification, within `limit`.
fn next_message(socket: &UnixDatagram, limit: Duration) -> Option<String> {
    socket.set_read_timeout(Some(limit)).expect("timeout");
    let mut buffer = [0u8; 4096];
    match socket.recv(&mut buffer) {
        Ok(length) => Some(String::from_utf8(buffer[..length].to_vec()).expect("utf-8 notification")),
        Err(error) if matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => None,
        Err(error) => panic!("receiving a notification: {error}"),
    }
}

fn health_status(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(b"GET /api/v1.0/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response.lines().next().unwrap_or_default().to_owned()
}

/// Wait for `child` to exit (a test failure past `limit`).
fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if started.elapsed() > limit {
            panic!("drydock serve did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ready_once_the_port_accepts_connections_then_stopping_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind the notification socket");
    let (port, store, log) = (free_port(), dir.path().join("state.redb"), dir.path().join("serve.log"));
    let mut child = serve(port, &store, &socket_path.display().to_string(), &log);

    let ready = next_message(&socket, Duration::from_secs(60));
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let Some(ready) = ready else { panic!("no READY=1 within 60 s; log:\n{}", log_text()) };
    // At once, with no retry: the port must already accept connections and
    // the store must be open.
    let connected = TcpStream::connect(("127.0.0.1", port));
    assert!(connected.is_ok(), "READY=1 came before the port accepted connections: {connected:?}");
    assert!(store.exists(), "READY=1 came before the store was opened");
    let lines: Vec<&str> = ready.lines().collect();
    assert_eq!(lines.first(), Some(&"READY=1"), "{ready:?}");
    assert!(lines.contains(&format!("STATUS=serving /api/v1.0 on 127.0.0.1:{port}").as_str()), "{ready:?}");
    assert!(health_status(port).contains("204"), "health check; log:\n{}", log_text());
    assert_eq!(next_message(&socket, Duration::from_millis(200)), None, "one READY=1 only");

    let _ = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status();
    let stopping = next_message(&socket, Duration::from_secs(30));
    let status = wait_exit(&mut child.0, Duration::from_secs(30));
    assert_eq!(stopping.as_deref().and_then(|text| text.lines().next()), Some("STOPPING=1"), "{stopping:?}");
    assert!(status.success(), "exit after SIGTERM: {status:?}; log:\n{}", log_text());
}

#[cfg(target_os = "linux")]
#[test]
fn an_abstract_notification_socket_gets_ready() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("drydock-service-test-{}-{}", std::process::id(), free_port());
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract name");
    let socket = UnixDatagram::bind_addr(&address).expect("bind the abstract socket");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let child = serve(port, &dir.path().join("state.redb"), &format!("@{name}"), &dir.path().join("serve.log"));
    let ready = next_message(&socket, Duration::from_secs(60));
    drop(child);
    assert_eq!(ready.as_deref().and_then(|text| text.lines().next()), Some("READY=1"), "{ready:?}");
}

#[test]
fn no_ready_when_the_server_cannot_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind the notification socket");
    // The port is taken: the store opens, the listener cannot bind.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port();
    let log = dir.path().join("serve.log");
    let mut child = serve(port, &dir.path().join("state.redb"), &socket_path.display().to_string(), &log);
    let status = wait_exit(&mut child.0, Duration::from_secs(60));
    assert_eq!(status.code(), Some(2), "log:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
    assert_eq!(next_message(&socket, Duration::from_millis(100)), None, "READY=1 from a server that failed to start");
}
