//! Design sources are bounded and governed by a policy: files must be
//! regular (FIFOs, devices and directories refused at once), reads stop at
//! the limit whatever the size claims, roots are checked on the canonical
//! path; HTTP bodies stop at the limit, stalled sources hit their deadlines,
//! error statuses and refused connections say what happened, and the host
//! policy refuses denied names, addresses, resolved addresses and redirect
//! hops before connecting. Every server here listens on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use drydock_core::ids::{DesignRef, Secret};
use drydock_core::ingest::policy::{DenyReason, HostRule, ReferencePolicy, Refusal};
use drydock_core::ingest::source::{DefaultSource, DesignSource, SourceBytes, SourceError, SourceTimeouts, TokenProvider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Fetch with a test-side deadline: a hang is a failure, not a stuck run.
async fn fetch(source: &DefaultSource, reference: &str) -> Result<SourceBytes, SourceError> {
    tokio::time::timeout(Duration::from_secs(20), source.fetch(&DesignRef(reference.to_owned())))
        .await
        .unwrap_or_else(|_| panic!("fetching {reference} hung"))
}

fn rules(list: &[&str]) -> Vec<HostRule> {
    list.iter().map(|text| text.parse().expect("host rule")).collect()
}

fn write(path: &Path, content: &[u8]) {
    std::fs::write(path, content).expect("write");
}

// ---------------------------------------------------------------- files

#[tokio::test]
async fn a_fifo_is_refused_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("site.yaml");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    for reference in [fifo.display().to_string(), format!("file://{}", fifo.display())] {
        let started = Instant::now();
        let error = fetch(&DefaultSource::default(), &reference).await.expect_err("a FIFO");
        assert!(matches!(error, SourceError::NotARegularFile { kind: "FIFO", .. }), "{error:?}");
        assert_eq!(error.to_string(), format!("design {reference} is not a regular file: it is a FIFO"));
        assert!(!error.is_transient());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    // Under a root too (the canonical path is opened).
    let source = DefaultSource::with_policy(ReferencePolicy::server(vec![dir.path().to_path_buf()], Vec::new(), Vec::new()));
    let error = fetch(&source, &fifo.display().to_string()).await.expect_err("a FIFO");
    assert!(matches!(error, SourceError::NotARegularFile { kind: "FIFO", .. }), "{error:?}");
}

#[tokio::test]
async fn devices_and_directories_are_not_regular_files() {
    let source = DefaultSource::default();
    let error = fetch(&source, "file:///dev/zero").await.expect_err("/dev/zero");
    assert!(matches!(error, SourceError::NotARegularFile { kind: "character device", .. }), "{error:?}");
    assert_eq!(error.to_string(), "design file:///dev/zero is not a regular file: it is a character device");
    let error = fetch(&source, "/dev/null").await.expect_err("/dev/null");
    assert!(matches!(error, SourceError::NotARegularFile { kind: "character device", .. }), "{error:?}");

    let dir = tempfile::tempdir().expect("tempdir");
    let error = fetch(&source, &dir.path().display().to_string()).await.expect_err("a directory");
    assert!(matches!(error, SourceError::NotARegularFile { kind: "directory", .. }), "{error:?}");
}

#[tokio::test]
async fn files_are_read_to_the_limit_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big.yaml");
    write(&big, &vec![b'#'; 1 << 20]);
    let source = DefaultSource { max_bytes: Some(1024), ..DefaultSource::default() };
    let error = fetch(&source, &big.display().to_string()).await.expect_err("too large");
    assert!(matches!(error, SourceError::TooLarge { limit: 1024, .. }), "{error:?}");

    // A file whose size says 0 but which holds more: the read itself stops.
    let maps = "/proc/self/maps";
    if std::fs::metadata(maps).is_ok_and(|metadata| metadata.is_file() && metadata.len() == 0) {
        let source = DefaultSource { max_bytes: Some(16), ..DefaultSource::default() };
        let error = fetch(&source, maps).await.expect_err("more than its size says");
        assert!(matches!(error, SourceError::TooLarge { limit: 16, .. }), "{error:?}");
    }

    let exact = dir.path().join("exact.yaml");
    write(&exact, &[b'#'; 1024]);
    let source = DefaultSource { max_bytes: Some(1024), ..DefaultSource::default() };
    assert_eq!(fetch(&source, &exact.display().to_string()).await.expect("at the limit").bytes.len(), 1024);
}

#[tokio::test]
async fn files_only_under_a_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("designs");
    std::fs::create_dir(&root).expect("mkdir");
    write(&root.join("site.yaml"), b"---\nschema: x\n");
    std::fs::create_dir(root.join("sub")).expect("mkdir");
    write(&root.join("sub/part.yaml"), b"---\n");
    let outside = dir.path().join("secret.yaml");
    write(&outside, b"secret: 1\n");
    std::os::unix::fs::symlink(&outside, root.join("escape.yaml")).expect("symlink");
    std::os::unix::fs::symlink(root.join("site.yaml"), root.join("inside-link.yaml")).expect("symlink");

    let source = DefaultSource::with_policy(ReferencePolicy::server(vec![root.clone()], Vec::new(), Vec::new()));
    let under = |name: &str| root.join(name).display().to_string();

    // Accepted: under the root, by path, by file:// URL, through a symlink
    // that stays inside, with `..` that stays inside.
    for reference in [
        under("site.yaml"),
        format!("file://{}", under("site.yaml")),
        under("inside-link.yaml"),
        under("sub/../site.yaml"),
        under("sub/part.yaml"),
    ] {
        let fetched = fetch(&source, &reference).await.unwrap_or_else(|error| panic!("{reference}: {error}"));
        assert!(fetched.bytes.starts_with(b"---"), "{reference}");
        assert_eq!(fetched.name, reference.trim_start_matches("file://"), "the name is the path as given");
    }

    // Refused: a symlink escaping, `..` escaping (existing or not), a path
    // outside; the message shows the path as given, never the target.
    for reference in [under("escape.yaml"), under("../secret.yaml"), under("../nothing-here.yaml"), "/etc/hostname".to_owned()] {
        let error = fetch(&source, &reference).await.expect_err("outside");
        assert!(matches!(error, SourceError::Refused { rule: Refusal::OutsideRoots, .. }), "{reference}: {error:?}");
        let message = error.to_string();
        assert_eq!(
            message,
            format!("design {reference} refused: file references are not allowed: the path is outside every --design-root")
        );
        assert!(!error.is_transient());
    }
    // A missing file inside the root is simply not found.
    let error = fetch(&source, &under("missing.yaml")).await.expect_err("missing");
    assert!(matches!(error, SourceError::NotFound { .. }), "{error:?}");

    // No roots: no file references at all.
    let none = DefaultSource::with_policy(ReferencePolicy::server(Vec::new(), Vec::new(), Vec::new()));
    let error = fetch(&none, &under("site.yaml")).await.expect_err("no roots");
    assert!(matches!(error, SourceError::Refused { rule: Refusal::NoFileRoots, .. }), "{error:?}");
    assert!(error.to_string().ends_with("file references are not allowed: no --design-root is configured"), "{error}");

    // The unrestricted default reads anything the user names.
    let fetched = fetch(&DefaultSource::default(), &under("escape.yaml")).await.expect("unrestricted");
    assert_eq!(fetched.bytes, b"secret: 1\n");
}

#[tokio::test]
async fn a_root_reached_through_a_symlink_still_matches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = dir.path().join("real");
    std::fs::create_dir(&real).expect("mkdir");
    write(&real.join("site.yaml"), b"---\n");
    let link: PathBuf = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let source = DefaultSource::with_policy(ReferencePolicy::server(vec![link.clone()], Vec::new(), Vec::new()));
    fetch(&source, &link.join("site.yaml").display().to_string()).await.expect("via the link");
    fetch(&source, &real.join("site.yaml").display().to_string()).await.expect("via the real path");
}

// ---------------------------------------------------------------- HTTP

/// A listener on loopback counting its connections; each one is handed to
/// `serve`.
async fn listen<F, Fut>(serve: F) -> (u16, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(stream));
        }
    });
    (port, connections)
}

/// Read the request head.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => head.extend_from_slice(&buffer[..read]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Answer every request with `status` and `body`.
async fn answer(status: u16, extra: &'static str, body: &'static str) -> (u16, Arc<AtomicUsize>) {
    listen(move |mut stream| async move {
        read_head(&mut stream).await;
        let response = format!("HTTP/1.1 {status} X\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        let _ = stream.write_all(response.as_bytes()).await;
    })
    .await
}

#[tokio::test]
async fn an_endless_chunked_body_stops_at_the_limit() {
    let written = Arc::new(AtomicUsize::new(0));
    let total = written.clone();
    let (port, _) = listen(move |mut stream| {
        let total = total.clone();
        async move {
            read_head(&mut stream).await;
            if stream.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").await.is_err() {
                return;
            }
            let chunk = format!("{:x}\r\n{}\r\n", 64 << 10, "#".repeat(64 << 10));
            // Endless: until the client goes away.
            while stream.write_all(chunk.as_bytes()).await.is_ok() {
                total.fetch_add(64 << 10, Ordering::SeqCst);
            }
        }
    })
    .await;
    let source = DefaultSource { max_bytes: Some(1 << 20), ..DefaultSource::default() };
    let started = Instant::now();
    let error = fetch(&source, &format!("http://127.0.0.1:{port}/site.yaml")).await.expect_err("endless");
    assert!(matches!(error, SourceError::TooLarge { limit: 1048576, .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Bounded: the client stopped reading near the limit (socket buffers aside).
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(written.load(Ordering::SeqCst) < 32 << 20, "{} bytes were sent", written.load(Ordering::SeqCst));

    // A Content-Length over the limit is refused before the body.
    let (port, _) = answer(200, "", "0123456789abcdef0123456789abcdef").await;
    let small = DefaultSource { max_bytes: Some(16), ..DefaultSource::default() };
    let error = fetch(&small, &format!("http://127.0.0.1:{port}/")).await.expect_err("declared too large");
    assert!(matches!(error, SourceError::TooLarge { limit: 16, .. }), "{error:?}");
}

#[tokio::test]
async fn a_stalled_source_hits_its_deadlines() {
    // Headers, a little body, then silence.
    let (port, _) = listen(|mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n---\n").await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
    .await;
    let url = format!("http://127.0.0.1:{port}/site.yaml");

    let idle = DefaultSource {
        timeouts: SourceTimeouts { connect: Duration::from_secs(2), read: Duration::from_millis(300), total: Duration::from_secs(10) },
        ..DefaultSource::default()
    };
    let started = Instant::now();
    let error = fetch(&idle, &url).await.expect_err("stalled");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(error.is_transient(), "{error:?}");
    assert_eq!(error.to_string(), format!("could not read design {url}: no data for 0.3s (read deadline)"));

    let total = DefaultSource {
        timeouts: SourceTimeouts { connect: Duration::from_secs(2), read: Duration::from_secs(30), total: Duration::from_millis(500) },
        ..DefaultSource::default()
    };
    let started = Instant::now();
    let error = fetch(&total, &url).await.expect_err("stalled");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(error.to_string(), format!("could not read design {url}: timed out after 0.5s (total deadline)"));

    // No headers at all.
    let (port, _) = listen(|mut stream| async move {
        read_head(&mut stream).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
    .await;
    let started = Instant::now();
    let error = fetch(&idle, &format!("http://127.0.0.1:{port}/")).await.expect_err("silent");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(error.is_transient(), "{error:?}");
}

#[tokio::test]
async fn source_errors_say_what_happened() {
    let source = DefaultSource::default();
    for status in [401u16, 403] {
        let (port, _) = answer(status, "", "denied").await;
        let reference = format!("http://alice:s3cret@127.0.0.1:{port}/site.yaml");
        let error = fetch(&source, &reference).await.expect_err("unauthorised");
        assert!(matches!(error, SourceError::Unauthorized { status: got, .. } if got == status), "{error:?}");
        assert_eq!(error.to_string(), format!("not authorised to read design http://***@127.0.0.1:{port}/site.yaml (HTTP {status})"));
        assert!(!error.is_transient());
    }
    let (port, _) = answer(404, "", "nope").await;
    let error = fetch(&source, &format!("http://127.0.0.1:{port}/gone.yaml")).await.expect_err("not found");
    assert!(matches!(error, SourceError::NotFound { .. }), "{error:?}");
    assert_eq!(error.to_string(), format!("design http://127.0.0.1:{port}/gone.yaml not found"));

    // Nothing listens: unreachable, and it says so.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    for reference in [format!("http://u:pw@127.0.0.1:{port}/x"), format!("deckhand+http://127.0.0.1:{port}/x")] {
        let error = fetch(&source, &reference).await.expect_err("refused");
        assert!(matches!(error, SourceError::Unreachable { .. }) && error.is_transient(), "{error:?}");
        assert!(error.to_string().ends_with(": connection refused"), "{error}");
        assert!(!error.to_string().contains("pw@"), "{error}");
    }
}

#[tokio::test]
async fn denied_hosts_are_refused_before_connecting() {
    let (port, connections) = answer(200, "", "---\n").await;
    let url = format!("http://127.0.0.1:{port}/site.yaml");

    // Loopback is allowed by default on a server.
    let server = DefaultSource::with_policy(ReferencePolicy::server(Vec::new(), Vec::new(), Vec::new()));
    fetch(&server, &url).await.expect("loopback allowed");
    assert_eq!(connections.load(Ordering::SeqCst), 1);

    // A listed address, a listed range, a listed name.
    for (deny, reference) in
        [("127.0.0.1", url.clone()), ("127.0.0.0/8", url.clone()), ("localhost", format!("http://localhost:{port}/site.yaml"))]
    {
        let source = DefaultSource::with_policy(ReferencePolicy::server(Vec::new(), Vec::new(), rules(&[deny])));
        let error = fetch(&source, &reference).await.expect_err("denied");
        assert!(matches!(error, SourceError::Refused { rule: Refusal::DeniedHost { reason: DenyReason::Listed, .. }, .. }), "{error:?}");
        assert!(error.to_string().ends_with("is denied: listed in --deny-host"), "{error}");
        assert!(!error.is_transient());
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1, "no connection was attempted");

    // The metadata address, even when nothing is listed. (The policy is
    // checked first so a broken policy fails here, not by connecting.)
    let policy = ReferencePolicy::server(Vec::new(), Vec::new(), Vec::new());
    assert!(policy.check_host("169.254.169.254").is_err());
    let error = fetch(&server, "http://169.254.169.254/latest/meta-data/").await.expect_err("metadata");
    assert_eq!(
        error.to_string(),
        "design http://169.254.169.254/latest/meta-data/ refused: host 169.254.169.254 is denied: link-local/metadata address"
    );
    assert!(policy.check_host("[fe80::1]").is_err());
    let error = fetch(&server, "deckhand+http://[fe80::1]:9000/x").await.expect_err("link-local");
    assert!(matches!(error, SourceError::Refused { rule: Refusal::DeniedHost { reason: DenyReason::Special, .. }, .. }), "{error:?}");
}

#[tokio::test]
async fn a_name_resolving_to_a_denied_address_is_refused() {
    let (port, connections) = answer(200, "", "---\n").await;
    let source = DefaultSource::with_policy(ReferencePolicy::server(Vec::new(), Vec::new(), rules(&["127.0.0.0/8", "::1"])));
    let error = fetch(&source, &format!("http://localhost:{port}/site.yaml")).await.expect_err("resolves to a denied address");
    assert!(
        matches!(error, SourceError::Refused { rule: Refusal::DeniedHost { reason: DenyReason::ResolvesToListed, .. }, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert_eq!(
        message,
        format!(
            "design http://localhost:{port}/site.yaml refused: host localhost is denied: it resolves to an address listed in --deny-host"
        )
    );
    assert!(!message.contains("127.0.0.1") && !message.contains("::1"), "{message}");
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_allow_list_admits_only_its_hosts() {
    let (port, connections) = answer(200, "", "---\n").await;
    let by_name = DefaultSource::with_policy(ReferencePolicy::server(Vec::new(), rules(&["localhost"]), Vec::new()));
    fetch(&by_name, &format!("http://localhost:{port}/site.yaml")).await.expect("listed name");
    let error = fetch(&by_name, &format!("http://127.0.0.1:{port}/site.yaml")).await.expect_err("address not listed");
    assert!(matches!(error, SourceError::Refused { rule: Refusal::NotAllowedHost { .. }, .. }), "{error:?}");
    assert!(error.to_string().ends_with("refused: host 127.0.0.1 is not in --allow-host"), "{error}");

    let by_range = DefaultSource::with_policy(ReferencePolicy::server(Vec::new(), rules(&["127.0.0.0/8"]), Vec::new()));
    fetch(&by_range, &format!("http://127.0.0.1:{port}/site.yaml")).await.expect("in the range");
    // A name not listed passes only if every address it resolves to is in an allowed range.
    let elsewhere = DefaultSource::with_policy(ReferencePolicy::server(Vec::new(), rules(&["10.0.0.0/8"]), Vec::new()));
    let error = fetch(&elsewhere, &format!("http://localhost:{port}/site.yaml")).await.expect_err("resolves outside the range");
    assert!(matches!(error, SourceError::Refused { rule: Refusal::NotAllowedHost { .. }, .. }), "{error:?}");
    assert!(error.to_string().ends_with("refused: host localhost is not in --allow-host"), "{error}");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn redirects_are_checked_hop_by_hop() {
    // To the metadata address: refused at the hop.
    let (port, _) = answer(302, "location: http://169.254.169.254/latest/\r\n", "").await;
    let server = DefaultSource::with_policy(ReferencePolicy::server(Vec::new(), Vec::new(), Vec::new()));
    assert!(server.policy.check_host("169.254.169.254").is_err());
    let error = fetch(&server, &format!("http://127.0.0.1:{port}/site.yaml")).await.expect_err("redirected to metadata");
    assert!(matches!(error, SourceError::Refused { rule: Refusal::DeniedHost { reason: DenyReason::Special, .. }, .. }), "{error:?}");

    // Round and round: refused after a few.
    let (port, connections) = listen(|mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 302 Found\r\nlocation: /again\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
    })
    .await;
    let error = fetch(&DefaultSource::default(), &format!("http://127.0.0.1:{port}/loop")).await.expect_err("loop");
    assert!(matches!(error, SourceError::Refused { rule: Refusal::TooManyRedirects { max: 5 }, .. }), "{error:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 6);

    // Followed within the policy.
    let (target, _) = answer(200, "", "---\nfinal: true\n").await;
    let (port, _) = listen(move |mut stream| async move {
        read_head(&mut stream).await;
        let response = format!(
            "HTTP/1.1 301 Moved\r\nlocation: http://127.0.0.1:{target}/site.yaml\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        let _ = stream.write_all(response.as_bytes()).await;
    })
    .await;
    let fetched = fetch(&server, &format!("http://127.0.0.1:{port}/old.yaml")).await.expect("redirected");
    assert_eq!(fetched.bytes, b"---\nfinal: true\n");

    // A Keystone token does not follow a redirect to another origin.
    let with_token = DefaultSource { tokens: Some(Arc::new(FixedToken)), ..DefaultSource::default() };
    let error = fetch(&with_token, &format!("deckhand+http://127.0.0.1:{port}/old.yaml")).await.expect_err("token redirect");
    assert!(matches!(error, SourceError::Refused { rule: Refusal::TokenRedirect, .. }), "{error:?}");
    // Without a token the same redirect is followed.
    fetch(&DefaultSource::default(), &format!("deckhand+http://127.0.0.1:{port}/old.yaml")).await.expect("no token");
}

struct FixedToken;

#[async_trait::async_trait]
impl TokenProvider for FixedToken {
    async fn token(&self) -> Result<Secret, SourceError> {
        Ok(Secret::new("tok-123"))
    }
}
