//! Design references over HTTP against a small server on loopback: basic
//! auth from the URL, a Keystone token for `deckhand+http`, and clean errors
//! for 401, 404, 500 and a closed port.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use drydock_core::ids::{DesignRef, Secret};
use drydock_core::ingest::source::{DefaultSource, DesignSource, SourceError, TokenProvider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serve `status` and `body` to every request; record each request's head.
async fn serve(status: u16, body: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = vec![0u8; 8192];
            let read = stream.read(&mut buffer).await.unwrap_or(0);
            seen.lock().expect("lock").push(String::from_utf8_lossy(&buffer[..read]).into_owned());
            let response = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    (port, requests)
}

struct FixedToken;

#[async_trait]
impl TokenProvider for FixedToken {
    async fn token(&self) -> Result<Secret, SourceError> {
        Ok(Secret::new("tok-123"))
    }
}

#[tokio::test]
async fn http_with_basic_auth_and_deckhand_with_a_token() {
    let (port, requests) = serve(200, "---\nschema: drydock/Region/v1\n").await;
    let source = DefaultSource { tokens: Some(Arc::new(FixedToken)), ..DefaultSource::default() };

    let fetched = source.fetch(&DesignRef(format!("http://alice:s3cret@127.0.0.1:{port}/site.yaml"))).await.expect("fetch");
    assert!(fetched.bytes.starts_with(b"---\nschema: drydock/Region/v1"));
    assert!(!fetched.name.contains("s3cret"), "the name used in diagnostics hides the password");
    let fetched = source.fetch(&DesignRef(format!("deckhand+http://127.0.0.1:{port}/api/v1.0/revisions/1/rendered-documents"))).await;
    assert!(fetched.is_ok());

    let heads = requests.lock().expect("lock").clone();
    assert!(heads[0].starts_with("GET /site.yaml "), "{}", heads[0]);
    assert!(heads[0].to_lowercase().contains("authorization: basic ywxpy2u6cznjcmv0"), "{}", heads[0]);
    assert!(heads[1].starts_with("GET /api/v1.0/revisions/1/rendered-documents "), "{}", heads[1]);
    assert!(heads[1].to_lowercase().contains("x-auth-token: tok-123"), "{}", heads[1]);
}

#[tokio::test]
async fn http_errors_are_classified() {
    let source = DefaultSource::default();
    for (status, check) in [
        (401, (|e: &SourceError| matches!(e, SourceError::Unauthorized { status: 401, .. })) as fn(&SourceError) -> bool),
        (404, |e| matches!(e, SourceError::NotFound { .. })),
        (503, |e| matches!(e, SourceError::Unreachable { .. }) && e.is_transient()),
    ] {
        let (port, _) = serve(status, "nope").await;
        let error = source.fetch(&DesignRef(format!("http://u:pw@127.0.0.1:{port}/x"))).await.expect_err("fails");
        assert!(check(&error), "{status}: {error:?}");
        assert!(!error.to_string().contains("pw@"), "{error}");
    }
    // Nothing listens on this port: unreachable, retryable, no hang.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let error = source.fetch(&DesignRef(format!("http://127.0.0.1:{port}/x"))).await.expect_err("refused");
    assert!(error.is_transient(), "{error:?}");
}
