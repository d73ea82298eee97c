//! The HTTP/1.1 connection loop behind `drydock serve`, with the bounds a
//! server exposed to slow or hostile clients needs: at most
//! `max_connections` connections are served at once (the rest wait in the
//! kernel's listen backlog), a client must send a request's headers within
//! `header_timeout` (which also closes connections idle between requests),
//! and shutdown stops accepting, asks every connection to finish its
//! request and gives up on them after `shutdown_grace`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use poem::http::uri::Scheme;
use poem::{Addr, Endpoint, Response};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Connection bounds.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers (and to start
    /// its next request on a kept-alive connection).
    pub header_timeout: Duration,
    /// Longest shutdown waits for requests in progress.
    pub shutdown_grace: Duration,
}

/// Serve `endpoint` on `listener` until `shutdown` resolves, then drain.
pub async fn run<E>(
    listener: TcpListener,
    endpoint: E,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()>
where
    E: Endpoint<Output = Response> + 'static,
{
    let endpoint = Arc::new(endpoint);
    let local = listener.local_addr()?;
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let closing = CancellationToken::new();
    let connections = TaskTracker::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A slot first, so that past the limit connections wait unaccepted.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little
                    // rather than spin.
                    tracing::warn!(error = %error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        connections.spawn(connection(stream, local, remote, endpoint.clone(), limits, closing.clone(), permit));
    }
    drop(listener);
    closing.cancel();
    connections.close();
    if tokio::time::timeout(limits.shutdown_grace, connections.wait()).await.is_err() {
        tracing::warn!(open = connections.len(), "connections still open after the shutdown grace period; closing them");
    }
    Ok(())
}

async fn connection<E>(
    stream: TcpStream,
    local: SocketAddr,
    remote: SocketAddr,
    endpoint: Arc<E>,
    limits: ConnectionLimits,
    closing: CancellationToken,
    _slot: OwnedSemaphorePermit,
) where
    E: Endpoint<Output = Response> + 'static,
{
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let endpoint = endpoint.clone();
        async move {
            let request: poem::Request =
                (request, poem::web::LocalAddr(Addr::SocketAddr(local)), poem::web::RemoteAddr(Addr::SocketAddr(remote)), Scheme::HTTP)
                    .into();
            let response = endpoint.get_response(request).await;
            Ok::<_, Infallible>(hyper::Response::from(response))
        }
    });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%remote, error = %error, "connection ended with an error");
            }
        }
        () = closing.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
