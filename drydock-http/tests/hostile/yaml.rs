//! YAML as a weapon: alias bombs spread over many documents are refused by
//! the per-stream budget through the designs API and validatedesign, fast
//! and without storing anything; NUL characters are refused as PyYAML
//! refuses them.

use std::time::{Duration, Instant};

use crate::support::{Server, TOKEN};

/// 40 documents, each a small alias bomb (~123k nodes once expanded).
fn bomb_stream() -> String {
    let mut text = String::new();
    for document in 0..40 {
        text.push_str(&format!(
            "---\nschema: drydock/Network/v1\nmetadata:\n  name: net{document}\n  schema: metadata/Document/v1\ndata:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        ));
        for level in 1..5 {
            let refs = vec![format!("*a{}", level - 1); 10].join(", ");
            text.push_str(&format!("  a{level}: &a{level} [{refs}]\n"));
        }
    }
    text
}

async fn new_design(server: &Server) -> String {
    let created: serde_json::Value = server.post_json("/api/v1.0/designs", &serde_json::json!({})).await.json().await.expect("design JSON");
    created["id"].as_str().expect("id").to_owned()
}

/// 2: the bomb is refused (400 naming the document) before anything is
/// stored, through the designs API, and stopped within a second through
/// validatedesign; the server stays small.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_bombs_are_budgeted_per_design() {
    let server = Server::start(&[]);
    let bomb = bomb_stream();
    let client = server.client();
    let id = new_design(&server).await;
    let reply = client
        .post(server.at(&format!("/api/v1.0/designs/{id}/parts?ingester=yaml")))
        .header("X-Auth-Token", TOKEN)
        .body(bomb.clone())
        .send()
        .await
        .expect("part");
    assert_eq!(reply.status().as_u16(), 400);
    let text = reply.text().await.expect("body");
    assert!(text.contains("alias expansion") && text.contains("in the document at line"), "{text}");
    let parts: serde_json::Value = client
        .get(server.at(&format!("/api/v1.0/designs/{id}/parts")))
        .header("X-Auth-Token", TOKEN)
        .send()
        .await
        .expect("parts")
        .json()
        .await
        .expect("parts JSON");
    assert_eq!(parts, serde_json::json!([]), "nothing was stored");

    // The same bomb through validatedesign, served from a file under a
    // design root.
    let path = server.dir.path().join("bomb.yaml");
    std::fs::write(&path, &bomb).expect("bomb file");
    drop(server);
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("bomb.yaml"), &bomb).expect("bomb file");
    let root = dir.path().display().to_string();
    let store = format!("redb:{}", dir.path().join("state.redb").display());
    let mut server = Server::start_in(dir, &["--store", &store], &["--design-root", &root]);
    let href = format!("file://{root}/bomb.yaml");
    for _ in 0..5 {
        let started = Instant::now();
        let reply = client
            .post(server.at("/api/v1.0/validatedesign"))
            .header("X-Auth-Token", TOKEN)
            .json(&serde_json::json!({"href": href}))
            .send()
            .await
            .expect("validatedesign");
        let took = started.elapsed();
        let status = reply.status().as_u16();
        let text = reply.text().await.expect("body");
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("alias expansion"), "{text}");
        // A guard against a hang, not a speed target (the budget stops it
        // in milliseconds; unbudgeted, it would not end): generous, so a
        // loaded CI machine does not trip it.
        assert!(took < Duration::from_secs(15), "the bomb took {took:?}");
    }
    // Many at once stay within the memory ceiling.
    let mut bombs = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let client = client.clone();
        let url = server.at("/api/v1.0/validatedesign");
        let href = href.clone();
        bombs.spawn(async move {
            let reply = client.post(url).header("X-Auth-Token", TOKEN).json(&serde_json::json!({"href": href})).send().await;
            reply.expect("validatedesign").status().as_u16()
        });
    }
    while let Some(status) = bombs.join_next().await {
        assert_eq!(status.expect("request"), 400);
    }
    server.assert_healthy("alias bombs").await;
}

/// 12: a NUL character is refused with PyYAML's message.
#[tokio::test]
async fn nul_characters_are_refused() {
    let server = Server::start(&[]);
    let id = new_design(&server).await;
    let reply = server
        .client()
        .post(server.at(&format!("/api/v1.0/designs/{id}/parts?ingester=yaml")))
        .header("X-Auth-Token", TOKEN)
        .body("---\nschema: drydock/Region/v1\nmetadata:\n  name: s\u{0}ite\ndata: {}\n")
        .send()
        .await
        .expect("part");
    assert_eq!(reply.status().as_u16(), 400);
    let text = reply.text().await.expect("body");
    assert!(text.contains("unacceptable character #x0000: special characters are not allowed"), "{text}");
    assert!(text.contains("line 4"), "{text}");
}
