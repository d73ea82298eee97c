//! systemd's readiness protocol (`sd_notify(3)`) for `drydock serve` under
//! `Type=notify` (deploy/drydock.service): when the service manager set
//! `NOTIFY_SOCKET`, the server sends `READY=1` once its store is open and its
//! listener is bound (connections are accepted from then on), and
//! `STOPPING=1` when it starts shutting down. A message is one datagram of
//! `KEY=VALUE` lines on that Unix socket: a path, or an abstract socket
//! written with a leading `@`. Without `NOTIFY_SOCKET` nothing is sent.

use std::io;
use std::os::unix::net::UnixDatagram;

/// The variable the service manager sets to its notification socket.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Send `state` (newline-separated `KEY=VALUE` assignments) to the socket
/// named by `$NOTIFY_SOCKET`. `Ok(false)`: the variable is not set (not
/// started by systemd, or not as `Type=notify`), nothing was sent.
pub fn notify(state: &str) -> io::Result<bool> {
    match std::env::var_os(NOTIFY_SOCKET) {
        Some(socket) if !socket.is_empty() => send(&socket.to_string_lossy(), state).map(|()| true),
        _ => Ok(false),
    }
}

/// Send `state` to the notification socket `socket` (a path, or `@name`
/// for an abstract socket).
pub fn send(socket: &str, state: &str) -> io::Result<()> {
    let sender = UnixDatagram::unbound()?;
    if let Some(name) = socket.strip_prefix('@') {
        send_abstract(&sender, name, state)
    } else if socket.starts_with('/') {
        sender.send_to(state.as_bytes(), socket).map(drop)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{NOTIFY_SOCKET}={socket:?} is neither a path nor an abstract socket (@name)"),
        ))
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_abstract(sender: &UnixDatagram, name: &str, state: &str) -> io::Result<()> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    sender.send_to_addr(state.as_bytes(), &address).map(drop)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send_abstract(_: &UnixDatagram, name: &str, _: &str) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, format!("abstract socket @{name}: only Linux has them")))
}

/// Tell the service manager the server is ready; `status` is shown by
/// `systemctl status`. A failure is logged, never fatal: the server works
/// either way (systemd then reports the start as timed out).
pub fn ready(status: &str) {
    report(&format!("READY=1\nSTATUS={status}"));
}

/// Tell the service manager the server is shutting down.
pub fn stopping() {
    report("STOPPING=1\nSTATUS=shutting down");
}

fn report(state: &str) {
    match notify(state) {
        Ok(true) => tracing::debug!(state = %state.replace('\n', " "), "notified the service manager"),
        Ok(false) => {}
        Err(error) => tracing::warn!(error = %error, "cannot notify the service manager ({NOTIFY_SOCKET})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(socket: &UnixDatagram) -> String {
        let mut buffer = [0u8; 256];
        let length = socket.recv(&mut buffer).expect("a datagram");
        String::from_utf8(buffer[..length].to_vec()).expect("utf-8")
    }

    #[test]
    fn sends_to_a_path_and_to_an_abstract_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).expect("bind");
        send(&path.display().to_string(), "READY=1\nSTATUS=x").expect("send to a path");
        assert_eq!(received(&listener), "READY=1\nSTATUS=x");

        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            let name = format!("drydock-notify-test-{}", std::process::id());
            let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("name");
            let listener = UnixDatagram::bind_addr(&address).expect("bind abstract");
            send(&format!("@{name}"), "STOPPING=1").expect("send to an abstract socket");
            assert_eq!(received(&listener), "STOPPING=1");
        }
    }

    #[test]
    fn refuses_a_relative_name_and_reports_a_missing_socket() {
        let error = send("notify.sock", "READY=1").expect_err("relative");
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(send(&dir.path().join("absent.sock").display().to_string(), "READY=1").is_err());
    }
}
