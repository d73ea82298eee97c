//! The connection behind [`PostgresStore::task_events`](super::PostgresStore):
//! one dedicated connection per store (never one of the pool's) that runs
//! `LISTEN drydock_tasks` and turns each notification into a change of a
//! `watch` counter. The writers `NOTIFY` in the statement that queues a task
//! or flags one for termination, so the notification is sent when, and only
//! if, that write commits. A dropped connection is opened again after a
//! backoff (100 ms doubling to 5 s); each time it is listening again the
//! counter changes once, since notifications sent meanwhile were lost.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

/// The notification channel.
pub(super) const CHANNEL: &str = "drydock_tasks";

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A running listener; dropping it (with the last clone of the store) stops
/// the connection.
pub(super) struct Listener {
    events: watch::Sender<u64>,
    stop: CancellationToken,
}

impl Listener {
    /// Start listening on `runtime`.
    pub(super) fn start(runtime: &tokio::runtime::Handle, mut config: tokio_postgres::Config, target: String) -> Listener {
        // A silently dead peer is noticed within about a minute, not hours.
        config.keepalives(true).keepalives_idle(Duration::from_secs(30));
        let (events, _) = watch::channel(0);
        let stop = CancellationToken::new();
        runtime.spawn(run(config, target, events.clone(), stop.clone()));
        Listener { events, stop }
    }

    /// A new receiver (its current value seen).
    pub(super) fn subscribe(&self) -> watch::Receiver<u64> {
        self.events.subscribe()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn bump(events: &watch::Sender<u64>) {
    events.send_modify(|count| *count = count.wrapping_add(1));
}

async fn run(config: tokio_postgres::Config, target: String, events: watch::Sender<u64>, stop: CancellationToken) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            outcome = session(&config, &events, &mut backoff) => outcome,
        };
        match outcome {
            Ok(()) => tracing::warn!(target = %target, "the PostgreSQL LISTEN connection closed; reconnecting"),
            Err(error) => tracing::warn!(target = %target, error = %error, "the PostgreSQL LISTEN connection failed; reconnecting"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection: listen, then forward notifications until it ends.
async fn session(
    config: &tokio_postgres::Config,
    events: &watch::Sender<u64>,
    backoff: &mut Duration,
) -> Result<(), tokio_postgres::Error> {
    // `client` must outlive the loop below (the connection closes when it
    // is dropped).
    let (client, mut connection) = config.connect(NoTls).await?;
    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
    let sql = format!("LISTEN {CHANNEL}");
    let listen = client.batch_execute(&sql);
    tokio::pin!(listen);
    loop {
        tokio::select! {
            result = &mut listen => {
                result?;
                break;
            }
            message = messages.next() => match message {
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error),
                None => return Ok(()),
            },
        }
    }
    *backoff = MIN_BACKOFF;
    // Listening (again): whatever was queued meanwhile is looked at now.
    bump(events);
    while let Some(message) = messages.next().await {
        if let AsyncMessage::Notification(_) = message? {
            bump(events);
        }
    }
    // `client` lived until here: dropping it would close the connection.
    Ok(())
}
