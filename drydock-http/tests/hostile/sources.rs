//! Design references under the server's reference policy: local files only
//! under `--design-root` and only regular ones (a FIFO or `/dev/zero` is
//! refused from `stat`, also as a queued task that survives a restart),
//! hosts by allow/deny lists with metadata addresses always denied, remote
//! bodies capped while reading, and source errors that say what happened
//! without leaking what the policy protects.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Server, TOKEN};

const SECRET: &str = "kubeconfig-token-3b9f0d";

async fn validate(server: &Server, href: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let reply = server.post_json("/api/v1.0/validatedesign", &json!({"href": href})).await;
    let status = reply.status().as_u16();
    (status, reply.text().await.expect("body"), started.elapsed())
}

fn site_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/site.yaml")).expect("examples/site.yaml")
}

/// 5: files are read only under a design root, by canonical path; 3: only
/// regular files, refused before they are opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_references_follow_the_policy() {
    let outside = tempfile::tempdir().expect("outside");
    let secret = outside.path().join("kubeconfig.yaml");
    std::fs::write(&secret, format!("apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: {SECRET}\n"))
        .expect("secret");
    let roots = tempfile::tempdir().expect("root");
    let root = roots.path().canonicalize().expect("root path");
    std::fs::write(root.join("site.yaml"), site_text()).expect("site");
    std::os::unix::fs::symlink(&secret, root.join("link.yaml")).expect("symlink");
    let fifo = root.join("fifo.yaml");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());

    let mut server = Server::start(&["--design-root", &root.display().to_string(), "--design-root", "/dev"]);
    let (status, body, _) = validate(&server, &format!("file://{}/site.yaml", root.display())).await;
    assert_eq!(status, 200, "{body}");

    for (href, rule) in [
        (format!("file://{}", secret.display()), "outside every --design-root"),
        (format!("file://{}/link.yaml", root.display()), "outside every --design-root"),
        (format!("file://{}/../{}", root.display(), secret.display()), "outside every --design-root"),
        (format!("file://{}", fifo.display()), "FIFO"),
        ("file:///dev/zero".to_owned(), "character device"),
        ("/dev/zero".to_owned(), "character device"),
    ] {
        let (status, body, took) = validate(&server, &href).await;
        assert_eq!(status, 400, "{href}: {body}");
        assert!(body.contains(rule), "{href}: {body}");
        assert!(!body.contains(SECRET), "{href}: the secret leaked: {body}");
        assert!(took < Duration::from_secs(2), "{href} took {took:?}");
    }

    // The designs API reads through the same policy and stores nothing.
    let client = server.client();
    let design: Value =
        client.post(server.at("/api/v1.0/designs")).header("X-Auth-Token", TOKEN).send().await.expect("design").json().await.expect("json");
    let id = design["id"].as_str().expect("id");
    let reply = client
        .post(server.at(&format!("/api/v1.0/designs/{id}/parts")))
        .header("X-Auth-Token", TOKEN)
        .json(&json!({"href": format!("file://{}", secret.display())}))
        .send()
        .await
        .expect("part");
    assert_eq!(reply.status().as_u16(), 400);
    assert!(!reply.text().await.expect("body").contains(SECRET));

    // A queued task on /dev/zero fails cleanly, and the server restarts on
    // the same store without trouble (no crash loop).
    let task: Value = server.create_task("validate_design", "file:///dev/zero").await.json().await.expect("task JSON");
    let task_id = task["task_id"].as_str().expect("task id").to_owned();
    let finished = server.wait_for_task(&task_id, "complete").await;
    assert_eq!(finished["result"]["status"], "failure", "{finished}");
    assert!(finished.to_string().contains("character device"), "{finished}");
    server.assert_healthy("file references").await;
    server.terminate(Duration::from_secs(10));
    let store = format!("redb:{}", server.dir.path().join("state.redb").display());
    let dir = std::mem::replace(&mut server.dir, tempfile::tempdir().expect("scratch"));
    drop(server);
    let mut restarted = Server::start_in(dir, &["--store", &store], &["--leader-grace-period", "1s"]);
    restarted.assert_healthy("a restart after a task on /dev/zero").await;

    // Without a design root, no file is read at all.
    let (status, body, _) = validate(&restarted, &format!("file://{}/site.yaml", root.display())).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("file references are not allowed"), "{body}");
}

/// A loopback HTTP server answering every request with `respond`.
async fn source(respond: fn(tokio::net::TcpStream) -> futures::future::BoxFuture<'static, ()>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request).await;
            tokio::spawn(respond(stream));
        }
    });
    format!("http://{address}/site.yaml")
}

fn endless(mut stream: tokio::net::TcpStream) -> futures::future::BoxFuture<'static, ()> {
    Box::pin(async move {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").await;
        let chunk = format!("{:x}\r\n{}\r\n", 1 << 16, "# padding ".repeat((1 << 16) / 10) + &"#".repeat((1 << 16) % 10));
        while stream.write_all(chunk.as_bytes()).await.is_ok() {}
    })
}

fn unauthorized(mut stream: tokio::net::TcpStream) -> futures::future::BoxFuture<'static, ()> {
    Box::pin(async move {
        let _ = stream.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n").await;
    })
}

/// 3: a remote body is capped while reading; 5: metadata addresses and
/// denied hosts are refused without a connection; 6: a source's own answer
/// is reported as what it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_references_are_bounded_and_governed() {
    let mut server = Server::start(&["--max-design-bytes", "8388608"]);
    let endless = source(endless).await;
    let (status, body, took) = validate(&server, &endless).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("larger than the limit"), "{body}");
    assert!(took < Duration::from_secs(10), "took {took:?}");

    let (status, body, _) = validate(&server, "http://169.254.169.254/latest/meta-data/").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("169.254.169.254") && body.contains("denied"), "{body}");

    let (status, body, _) = validate(&server, &source(unauthorized).await).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("401"), "{body}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address");
    let (status, body, _) = validate(&server, &format!("http://{closed}/site.yaml")).await;
    assert!(body.contains("connection refused"), "{status}: {body}");
    assert!(!body.contains("not found"), "{body}");
    server.assert_healthy("remote design sources").await;
    drop(server);

    // A deny list (here loopback, by range) refuses names resolving into it
    // and never says what they resolved to.
    let server = Server::start(&["--deny-host", "127.0.0.0/8"]);
    let (status, body, _) = validate(&server, &endless.replace("127.0.0.1", "localhost")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("localhost") && body.contains("denied"), "{body}");
    assert!(!body.contains("127.0.0.1"), "the resolved address leaked: {body}");
}

/// Copy the folder `from` into `to`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("list") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A site repository as a design reference on a server:
/// `pegleg+file:///REPO?site=NAME` under a design root renders and
/// validates (validatedesign and a task), findings name the repository's
/// files; the repository and every file in it are read under the policy (a
/// repository outside the roots, or a file linking out of them, is refused
/// without leaking); a site that does not render is a DD010 report; such a
/// reference is not stored as a part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_repository_references_render_under_the_policy() {
    let outside = tempfile::tempdir().expect("outside");
    let secret = outside.path().join("kubeconfig.yaml");
    std::fs::write(&secret, format!("token: {SECRET}\n")).expect("secret");
    let roots = tempfile::tempdir().expect("root");
    let root = roots.path().canonicalize().expect("root path");
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/treasuremap-v1.9");
    let corpus = match std::env::var_os("DRYDOCK_SHARED") {
        Some(shared) => std::path::PathBuf::from(shared).join("corpus/treasuremap-v1.9"),
        None => corpus,
    };
    let repo = root.join("treasuremap");
    copy_tree(&corpus, &repo);
    let leaky = root.join("leaky");
    copy_tree(&corpus, &leaky);
    std::os::unix::fs::symlink(&secret, leaky.join("site/seaworthy/leak.yaml")).expect("symlink");
    let broken = root.join("broken");
    copy_tree(&corpus, &broken);
    let profile = broken.join("site/seaworthy/profiles/host/cp_r720.yaml");
    let text = std::fs::read_to_string(&profile).expect("profile");
    std::fs::write(&profile, text.replacen("replace\n        path: .interfaces", "delete\n        path: .nowhere", 1)).expect("write");

    let server = Server::start(&["--design-root", &root.display().to_string()]);
    let site_ref = |repo: &std::path::Path, site: &str| format!("pegleg+file://{}?site={site}", repo.display());

    let (status, body, _) = validate(&server, &site_ref(&repo, "seaworthy")).await;
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(report["status"], "Success");
    assert_eq!(report["details"]["messageList"].as_array().map(Vec::len), Some(19), "{body}");

    let task: Value = server.create_task("validate_design", &site_ref(&repo, "airsloop")).await.json().await.expect("task JSON");
    let finished = server.wait_for_task(task["task_id"].as_str().expect("task id"), "complete").await;
    assert_eq!(finished["result"]["status"], "success", "{finished}");

    for (href, expected) in [
        (site_ref(outside.path(), "seaworthy"), "outside every --design-root"),
        (site_ref(&leaky, "seaworthy"), "outside every --design-root"),
        (site_ref(&repo, "nowhere"), "no site nowhere"),
        (site_ref(&repo, "../../etc"), "is not a site name"),
        (format!("pegleg+file://{}", repo.display()), "add ?site=NAME"),
    ] {
        let (status, body, _) = validate(&server, &href).await;
        assert_eq!(status, 400, "{href}: {body}");
        assert!(body.contains(expected), "{href}: {body}");
        assert!(!body.contains(SECRET), "{href}: the secret leaked: {body}");
    }

    let (status, body, _) = validate(&server, &site_ref(&broken, "seaworthy")).await;
    assert_eq!(status, 400, "{body}");
    let report: Value = serde_json::from_str(&body).expect("json");
    let message = &report["details"]["messageList"][0];
    assert_eq!(message["name"], "DD010", "{body}");
    let text = message["message"].as_str().expect("message");
    assert!(text.contains(&format!("{}:", profile.display())) && text.contains("cp_r720-primary"), "{text}");

    let client = server.client();
    let design: Value =
        client.post(server.at("/api/v1.0/designs")).header("X-Auth-Token", TOKEN).send().await.expect("design").json().await.expect("json");
    let id = design["id"].as_str().expect("id");
    let reply = client
        .post(server.at(&format!("/api/v1.0/designs/{id}/parts")))
        .header("X-Auth-Token", TOKEN)
        .json(&json!({"href": site_ref(&repo, "seaworthy")}))
        .send()
        .await
        .expect("part");
    assert_eq!(reply.status().as_u16(), 400);
    assert!(reply.text().await.expect("body").contains("not stored as a part"));
}
