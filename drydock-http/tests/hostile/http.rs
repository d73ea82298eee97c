//! The HTTP front door: unauthenticated bodies are never read, bodies in
//! flight share one budget, slow clients are cut off, connections are
//! bounded, and SIGTERM stops the server in bounded time even while a
//! design source stalls.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::support::{Server, TOKEN, raw, read_status};

const BODY_ROUTES: &[&str] = &["/api/v1.0/tasks", "/api/v1.0/nodefilter", "/api/v1.0/validatedesign", "/api/v1.0/designs"];

/// A request head announcing a `length`-byte JSON body.
fn head(route: &str, length: usize, token: Option<&str>) -> String {
    let auth = token.map(|token| format!("X-Auth-Token: {token}\r\n")).unwrap_or_default();
    format!("POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n{auth}\r\n")
}

/// 1: a request without credentials is answered 401 from its headers: the
/// body (announced as 30 MiB, of which 1 KiB is sent) is never waited for.
#[test]
fn unauthenticated_bodies_are_refused_before_they_are_read() {
    let server = Server::start(&[]);
    for route in BODY_ROUTES {
        let mut stream = raw(&server.url);
        stream.write_all(head(route, 30 << 20, None).as_bytes()).expect("head");
        stream.write_all(&[b' '; 1024]).expect("a little body");
        let started = Instant::now();
        assert_eq!(read_status(&mut stream), Some(401), "{route}");
        assert!(started.elapsed() < Duration::from_secs(5), "{route}: answered only after {:?}", started.elapsed());
    }
}

/// 1: a hundred 30 MiB POSTs without a token at once leave the server
/// serving, within its memory ceiling and under 300 MiB afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unauthenticated_bodies_costs_nothing() {
    let mut server = Server::start(&[]);
    let body: &'static [u8] = Box::leak(vec![b' '; 30 << 20].into_boxed_slice());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
    let mut posts = tokio::task::JoinSet::new();
    for index in 0..100 {
        let url = server.at(BODY_ROUTES[index % BODY_ROUTES.len()]);
        let client = client.clone();
        posts.spawn(async move {
            let reply = client.post(url).header("content-type", "application/json").body(body).send().await;
            // The server may close the connection before the client has
            // sent the whole body; otherwise the answer is 401.
            if let Ok(reply) = reply {
                assert_eq!(reply.status().as_u16(), 401);
            }
        });
    }
    while let Some(done) = posts.join_next().await {
        done.expect("request task");
    }
    server.assert_healthy("100 unauthenticated 30 MiB bodies").await;
}

/// 1: authenticated bodies in flight share one budget: past it the answer
/// is 503 with `Retry-After`, and the bytes are given back afterwards.
#[test]
fn bodies_in_flight_share_one_budget() {
    let server = Server::start(&["--body-limit", "16777216", "--body-budget", "33554432", "--body-timeout", "20s"]);
    // Two bodies of 16 MiB announced, 15 MiB of each sent and held open.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = raw(&server.url);
        stream.write_all(head("/api/v1.0/validatedesign", 16 << 20, Some(TOKEN)).as_bytes()).expect("head");
        stream.write_all(&vec![b' '; 15 << 20]).expect("15 MiB");
        held.push(stream);
    }
    // Let the server read what was sent.
    std::thread::sleep(Duration::from_millis(500));
    let mut third = raw(&server.url);
    third.write_all(head("/api/v1.0/validatedesign", 16 << 20, Some(TOKEN)).as_bytes()).expect("head");
    let mut writer = third.try_clone().expect("clone");
    let sender = std::thread::spawn(move || {
        // Fails once the server has answered and closed; that is expected.
        let _ = writer.write_all(&vec![b' '; 8 << 20]);
    });
    let mut response = Vec::new();
    let status = read_status(&mut third);
    assert_eq!(status, Some(503), "the budget is spent");
    use std::io::Read;
    let _ = third.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_ascii_lowercase();
    assert!(text.contains("retry-after: 1"), "{text}");
    assert!(text.contains("\"retry\":true"), "{text}");
    let _ = sender.join();
    drop(held);
    // The held bodies are given back: a new body is read again.
    std::thread::sleep(Duration::from_millis(500));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let reply = server
            .client()
            .post(server.at("/api/v1.0/validatedesign"))
            .header("X-Auth-Token", TOKEN)
            .json(&serde_json::json!({"href": "http://127.0.0.1:1/none.yaml"}))
            .send()
            .await
            .expect("validatedesign");
        assert_ne!(reply.status().as_u16(), 503, "the budget was given back");
    });
}

/// 1: a body larger than the limit is refused while reading, whatever
/// `Content-Length` says.
#[test]
fn the_body_limit_holds_while_reading() {
    let server = Server::start(&["--body-limit", "1048576"]);
    let mut stream = raw(&server.url);
    // Chunked: no Content-Length to check up front.
    stream
        .write_all(b"POST /api/v1.0/validatedesign HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Auth-Token: ")
        .expect("head");
    stream.write_all(format!("{TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n").as_bytes()).expect("head");
    let mut writer = stream.try_clone().expect("clone");
    let sender = std::thread::spawn(move || {
        let chunk = vec![b' '; 64 << 10];
        for _ in 0..64 {
            if writer.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).is_err()
                || writer.write_all(&chunk).is_err()
                || writer.write_all(b"\r\n").is_err()
            {
                return;
            }
        }
    });
    assert_eq!(read_status(&mut stream), Some(413));
    let _ = sender.join();
}

/// 4: clients that trickle header bytes are cut off after the header
/// timeout, and connections beyond the limit wait unaccepted only until the
/// timeout frees slots (300 slow clients, 100 slots, 1 s: about 3 s).
#[test]
fn slow_clients_cannot_hold_the_server() {
    let server = Server::start(&["--header-timeout", "1s", "--max-connections", "100"]);
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut stream = raw(&server.url);
        stream.write_all(b"GET /api/v1.0/health HTTP/1.1\r\nHost: x\r\n").expect("partial head");
        slow.push(stream);
    }
    let started = Instant::now();
    // Keep trickling a header byte a second on every connection.
    let trickle = std::thread::spawn(move || {
        for _ in 0..10 {
            std::thread::sleep(Duration::from_secs(1));
            for stream in &mut slow {
                let _ = stream.write_all(b"X");
            }
        }
        slow
    });
    // Even with every slot taken by a slow client, a real request is
    // served once the header timeout has freed slots.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let health = server.client().get(server.at("/api/v1.0/health")).send().await.expect("health");
        assert_eq!(health.status().as_u16(), 204);
    });
    assert!(started.elapsed() < Duration::from_secs(8), "health took {:?}", started.elapsed());
    let mut slow = trickle.join().expect("trickle");
    // Every slow connection has been closed by the server by now (end of
    // stream, or reset because the trickle wrote after the close).
    use std::io::Read;
    let closed = slow
        .iter_mut()
        .filter_map(|stream| {
            stream.set_read_timeout(Some(Duration::from_millis(100))).expect("timeout");
            let mut buffer = [0u8; 256];
            let closed = match stream.read(&mut buffer) {
                Ok(0) => true,
                Ok(_) => false,
                Err(error) => !matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
            };
            closed.then_some(())
        })
        .count();
    assert_eq!(closed, 300, "slow connections still open after 10 s with a 1 s header timeout");
}

/// A loopback "design source" that accepts connections and never answers.
fn stalling_source() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/site.yaml", listener.local_addr().expect("address"));
    (listener, url)
}

/// 7: SIGTERM stops the server within 10 s while a validatedesign request
/// and a validate_design task are stuck on a stalled design source; the
/// task is not lost: the next server finds it and finishes it.
#[test]
fn sigterm_stops_the_server_while_io_is_stuck() {
    let (_stall, design) = stalling_source();
    let mut server = Server::start(&["--shutdown-grace", "2s"]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let task_id = runtime.block_on(async {
        let created = server.create_task("validate_design", &design).await;
        assert_eq!(created.status().as_u16(), 201);
        let task: serde_json::Value = created.json().await.expect("task JSON");
        let href = serde_json::json!({"href": design});
        let _ = tokio::time::timeout(Duration::from_secs(3), server.post_json("/api/v1.0/validatedesign", &href)).await;
        task["task_id"].as_str().expect("task id").to_owned()
    });
    let took = server.terminate(Duration::from_secs(10));
    assert!(took < Duration::from_secs(10), "exit took {took:?}");

    // The task is still there for the next server, which runs it to an end
    // (the stalled source now refuses: it is gone).
    drop(_stall);
    let store = format!("redb:{}", server.dir.path().join("state.redb").display());
    let dir = std::mem::replace(&mut server.dir, tempfile::tempdir().expect("scratch"));
    drop(server);
    let restarted = Server::start_in(dir, &["--store", &store], &["--leader-grace-period", "1s"]);
    runtime.block_on(async {
        let task = restarted.wait_for_task(&task_id, "complete").await;
        assert_eq!(task["result"]["status"], "failure", "{task}");
    });
}
