//! Scale benchmark (issue 6): a lab of 10,000 machines must start in under
//! 2 s and answer a full machine list in at most 300 ms using at most
//! 500 MiB. Run with `cargo bench -p drydock-sim --bench scale`
//! (optionally `-- 20000` for another size). Prints one JSON line and exits
//! non-zero when a target is missed. Linux only for the memory figure.

use drydock_sim::{Scenario, SimLab};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn list_machines(lab: &SimLab) -> (u16, usize, Duration) {
    let key = lab.api_key();
    let parts: Vec<&str> = key.split(':').collect();
    let auth = format!(
        "OAuth oauth_nonce=\"1\", oauth_timestamp=\"1\", oauth_signature_method=\"PLAINTEXT\", oauth_consumer_key=\"{}\", oauth_token=\"{}\", oauth_signature=\"%26{}\"",
        parts[0], parts[1], parts[2]
    );
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(lab.addr()).await.expect("connect");
    let request =
        format!("GET /MAAS/api/2.0/machines/ HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n", lab.addr());
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut body = Vec::with_capacity(128 << 20);
    stream.read_to_end(&mut body).await.expect("read");
    let elapsed = started.elapsed();
    let status = String::from_utf8_lossy(&body[..12.min(body.len())]).split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, body.len(), elapsed)
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let machines: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10_000);
    let started = Instant::now();
    let lab = SimLab::start(Scenario::generated(machines)).await.expect("lab starts");
    let startup = started.elapsed();
    // Wait until the background warm-up has rendered every machine.
    let warm_started = Instant::now();
    while !lab.with_world(|w| w.machines_rendered()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let warm = warm_started.elapsed();
    let mut lists = Vec::new();
    for _ in 0..5 {
        let (status, bytes, elapsed) = list_machines(&lab).await;
        assert_eq!(status, 200);
        lists.push((bytes, elapsed));
    }
    let best = lists.iter().map(|l| l.1).min().unwrap_or_default();
    let worst = lists.iter().map(|l| l.1).max().unwrap_or_default();
    let rss = peak_rss_mib().unwrap_or(0.0);
    let ok = startup < Duration::from_secs(2) && worst <= Duration::from_millis(300) && rss <= 500.0;
    println!(
        "{{\"machines\": {machines}, \"startup_ms\": {}, \"warm_up_ms\": {}, \"list_bytes\": {}, \"list_best_ms\": {}, \"list_worst_ms\": {}, \"peak_rss_mib\": {rss:.0}, \"targets_met\": {ok}}}",
        startup.as_millis(),
        warm.as_millis(),
        lists[0].0,
        best.as_millis(),
        worst.as_millis()
    );
    if !ok {
        std::process::exit(1);
    }
}
