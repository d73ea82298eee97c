//! Waiting until an observed value meets a condition (kube's
//! `await_condition` pattern): poll with a fixed interval, stop at the
//! caller's deadline or on cancellation, and always report the last value
//! observed so a timeout can say where the node got stuck.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// What a condition says about an observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The wait is over.
    Done,
    /// Keep waiting.
    Pending,
    /// The wait can never succeed (a failed phase).
    Failed(String),
}

/// Why a wait ended without success.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError<S, E> {
    /// The deadline passed.
    #[error("timed out after {waited:?}")]
    Timeout {
        /// How long it waited.
        waited: Duration,
        /// The last value observed, if any.
        last: Option<S>,
    },
    /// The condition reported failure.
    #[error("{reason}")]
    Failed {
        /// Why.
        reason: String,
        /// The value that failed it.
        last: S,
    },
    /// Observing failed.
    #[error("observation failed")]
    Observe(E),
    /// Cancelled.
    #[error("cancelled")]
    Cancelled {
        /// The last value observed, if any.
        last: Option<S>,
    },
}

/// Observe every `interval` until `condition` says done or failed, `deadline`
/// passes, or `cancel` fires. The first observation is immediate.
pub async fn wait_until<S, E, F, Fut>(
    mut observe: F,
    condition: impl Fn(&S) -> Verdict,
    interval: Duration,
    deadline: Duration,
    cancel: &CancellationToken,
) -> Result<S, WaitError<S, E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<S, E>>,
{
    let started = tokio::time::Instant::now();
    let mut last = None;
    loop {
        let observed = tokio::select! {
            () = cancel.cancelled() => return Err(WaitError::Cancelled { last }),
            () = tokio::time::sleep_until(started + deadline) => return Err(WaitError::Timeout { waited: started.elapsed(), last }),
            observed = observe() => observed.map_err(WaitError::Observe)?,
        };
        match condition(&observed) {
            Verdict::Done => return Ok(observed),
            Verdict::Failed(reason) => return Err(WaitError::Failed { reason, last: observed }),
            Verdict::Pending => last = Some(observed),
        }
        let next = (tokio::time::Instant::now() + interval).min(started + deadline);
        tokio::select! {
            () = cancel.cancelled() => return Err(WaitError::Cancelled { last }),
            () = tokio::time::sleep_until(next) => {}
        }
        if started.elapsed() >= deadline {
            return Err(WaitError::Timeout { waited: started.elapsed(), last });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn at_least(target: u32) -> impl Fn(&u32) -> Verdict {
        move |value| if *value >= target { Verdict::Done } else { Verdict::Pending }
    }

    #[tokio::test(start_paused = true)]
    async fn polls_until_done() {
        let counter = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let result: Result<u32, WaitError<u32, ()>> = wait_until(
            || async { Ok(counter.fetch_add(1, Ordering::SeqCst)) },
            at_least(3),
            Duration::from_secs(10),
            Duration::from_secs(600),
            &CancellationToken::new(),
        )
        .await;
        assert_eq!(result, Ok(3));
        assert_eq!(started.elapsed(), Duration::from_secs(30), "three intervals, no real sleeping");
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_fires_with_the_last_observation() {
        let result: Result<&str, WaitError<&str, ()>> = wait_until(
            || async { Ok("Deploying") },
            |_| Verdict::Pending,
            Duration::from_secs(10),
            Duration::from_secs(35),
            &CancellationToken::new(),
        )
        .await;
        match result {
            Err(WaitError::Timeout { waited, last }) => {
                assert_eq!(last, Some("Deploying"));
                assert_eq!(waited, Duration::from_secs(35));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_observation_still_times_out_and_failures_stop_early() {
        let result: Result<(), WaitError<(), ()>> =
            wait_until(std::future::pending, |_| Verdict::Done, Duration::from_secs(1), Duration::from_secs(5), &CancellationToken::new())
                .await;
        assert!(matches!(result, Err(WaitError::Timeout { last: None, .. })));
        let failed: Result<&str, WaitError<&str, ()>> = wait_until(
            || async { Ok("Failed deployment") },
            |status| if status.starts_with("Failed") { Verdict::Failed((*status).into()) } else { Verdict::Pending },
            Duration::from_secs(1),
            Duration::from_secs(5),
            &CancellationToken::new(),
        )
        .await;
        assert_eq!(failed, Err(WaitError::Failed { reason: "Failed deployment".into(), last: "Failed deployment" }));
    }
}
