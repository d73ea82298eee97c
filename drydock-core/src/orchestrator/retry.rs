//! Named retry policies: exponential backoff with jitter, a cap on attempts
//! and on total time. The only place backoff numbers live (architecture B5).
//! Whether an error is worth retrying is the caller's predicate (usually
//! [`crate::drivers::DriverError::is_transient`]). Running out of attempts is
//! an error carrying the attempt count and the last error — nothing succeeds
//! by falling off the end of a loop.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// A retry policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Name, for messages.
    pub name: &'static str,
    /// Delay before the second attempt.
    pub initial_delay: Duration,
    /// Growth of the delay per attempt.
    pub multiplier: f64,
    /// Largest delay between attempts.
    pub max_delay: Duration,
    /// Fraction of each delay added or removed at random (0.0 to 1.0).
    pub jitter: f64,
    /// Most attempts, the first included.
    pub max_attempts: u32,
    /// No new attempt starts after this much time.
    pub max_total: Duration,
}

impl RetryPolicy {
    /// MaaS API calls: short network blips.
    pub const MAAS_API: RetryPolicy = RetryPolicy {
        name: "maas_api",
        initial_delay: Duration::from_millis(500),
        multiplier: 2.0,
        max_delay: Duration::from_secs(15),
        jitter: 0.25,
        max_attempts: 6,
        max_total: Duration::from_secs(120),
    };

    /// The MaaS fabric read that MaaS 3.5 sometimes answers empty (upstream:
    /// 10 tries, 10–60 s apart, compat: drivers spec §2.6).
    pub const MAAS_FABRIC_READ: RetryPolicy = RetryPolicy {
        name: "maas_fabric_read",
        initial_delay: Duration::from_secs(10),
        multiplier: 1.5,
        max_delay: Duration::from_secs(60),
        jitter: 0.25,
        max_attempts: 10,
        max_total: Duration::from_secs(600),
    };

    /// BMC commands (IPMI, Redfish): a BMC that drops a packet or is busy.
    pub const BMC_COMMAND: RetryPolicy = RetryPolicy {
        name: "bmc_command",
        initial_delay: Duration::from_millis(500),
        multiplier: 2.0,
        max_delay: Duration::from_secs(5),
        jitter: 0.25,
        max_attempts: 4,
        max_total: Duration::from_secs(30),
    };

    /// A per-node step that failed, run again at once, up to three more
    /// times (compat: the original retries commissioning, deployment and
    /// release three times); the step's own deadline bounds the whole.
    pub const NODE_STEP_AGAIN: RetryPolicy = RetryPolicy {
        name: "node_step_again",
        initial_delay: Duration::ZERO,
        multiplier: 1.0,
        max_delay: Duration::ZERO,
        jitter: 0.0,
        max_attempts: 4,
        max_total: Duration::from_secs(365 * 24 * 3600),
    };

    /// Fetching a design reference (compat: site-design spec §1.2: 3
    /// attempts, 5 s then 25 s apart).
    pub const DESIGN_FETCH: RetryPolicy = RetryPolicy {
        name: "design_fetch",
        initial_delay: Duration::from_secs(5),
        multiplier: 5.0,
        max_delay: Duration::from_secs(25),
        jitter: 0.0,
        max_attempts: 3,
        max_total: Duration::from_secs(60),
    };

    /// The delay before attempt `attempt + 1` (attempt 1 is the first), with
    /// `unit` in [0, 1) supplying the jitter.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(32) as i32;
        let base = self.initial_delay.as_secs_f64() * self.multiplier.powi(exponent);
        let capped = base.min(self.max_delay.as_secs_f64());
        let jittered = capped * (1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0));
        Duration::from_secs_f64(jittered.max(0.0))
    }
}

/// Why [`retry`] gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryError<E> {
    /// The error was not worth retrying.
    #[error("{0}")]
    Permanent(E),
    /// Out of attempts or time.
    #[error("gave up after {attempts} attempts ({policy}): {last}")]
    Exhausted {
        /// The policy.
        policy: &'static str,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: E,
    },
    /// Cancelled while waiting to retry.
    #[error("cancelled after {attempts} attempts")]
    Cancelled {
        /// Attempts made.
        attempts: u32,
    },
}

/// Run `operation` (given the attempt number, from 1) until it succeeds, the
/// error is not `transient`, or `policy` is used up.
pub async fn retry<T, E, F, Fut>(
    policy: &RetryPolicy,
    cancel: &CancellationToken,
    transient: impl Fn(&E) -> bool,
    mut operation: F,
) -> Result<T, RetryError<E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = tokio::time::Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let error = match operation(attempt).await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        if !transient(&error) {
            return Err(RetryError::Permanent(error));
        }
        let delay = policy.delay(attempt, rand::random::<f64>());
        if attempt >= policy.max_attempts || started.elapsed() + delay > policy.max_total {
            return Err(RetryError::Exhausted { policy: policy.name, attempts: attempt, last: error });
        }
        tokio::select! {
            () = cancel.cancelled() => return Err(RetryError::Cancelled { attempts: attempt }),
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// Run a driver call under `policy`, retrying its transient errors, and
/// give back a [`DriverError`](crate::drivers::DriverError) (naming the
/// attempts) when it gives up.
pub async fn retry_driver<T, F, Fut>(policy: &RetryPolicy, operation: F) -> Result<T, crate::drivers::DriverError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, crate::drivers::DriverError>>,
{
    match retry(policy, &CancellationToken::new(), crate::drivers::DriverError::is_transient, operation).await {
        Ok(value) => Ok(value),
        Err(RetryError::Permanent(error)) => Err(error),
        Err(RetryError::Exhausted { attempts, mut last, .. }) => {
            last.detail = format!("{} (after {attempts} attempts)", last.detail);
            Err(last)
        }
        Err(RetryError::Cancelled { attempts }) => Err(crate::drivers::DriverError::new(
            crate::drivers::DriverErrorKind::Permanent,
            "retry",
            policy.name,
            format!("cancelled after {attempts} attempts"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn delays_grow_cap_and_jitter() {
        let policy = RetryPolicy::BMC_COMMAND;
        assert_eq!(policy.delay(1, 0.5), Duration::from_millis(500));
        assert_eq!(policy.delay(2, 0.5), Duration::from_secs(1));
        assert_eq!(policy.delay(10, 0.5), Duration::from_secs(5), "capped");
        assert_eq!(policy.delay(1, 0.0), Duration::from_millis(375));
        assert_eq!(policy.delay(1, 1.0), Duration::from_millis(625));
        let design = RetryPolicy::DESIGN_FETCH;
        assert_eq!((design.delay(1, 0.3), design.delay(2, 0.9)), (Duration::from_secs(5), Duration::from_secs(25)));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_retry_until_success() {
        let calls = AtomicU32::new(0);
        let result: Result<u32, RetryError<&str>> = retry(
            &RetryPolicy::BMC_COMMAND,
            &CancellationToken::new(),
            |_| true,
            |attempt| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move { if attempt < 3 { Err("busy") } else { Ok(attempt) } }
            },
        )
        .await;
        assert_eq!(result, Ok(3));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_stop_at_once_and_exhaustion_carries_the_last_error() {
        let permanent: Result<(), _> =
            retry(&RetryPolicy::MAAS_API, &CancellationToken::new(), |e: &&str| *e != "denied", |_| async { Err("denied") }).await;
        assert_eq!(permanent, Err(RetryError::Permanent("denied")));

        let started = tokio::time::Instant::now();
        let exhausted: Result<(), _> = retry(
            &RetryPolicy::BMC_COMMAND,
            &CancellationToken::new(),
            |_| true,
            |attempt| async move { Err(format!("timeout #{attempt}")) },
        )
        .await;
        assert_eq!(exhausted, Err(RetryError::Exhausted { policy: "bmc_command", attempts: 4, last: "timeout #4".into() }));
        assert!(started.elapsed() < RetryPolicy::BMC_COMMAND.max_total);
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_interrupts_the_wait() {
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            trigger.cancel();
        });
        let result: Result<(), _> = retry(&RetryPolicy::MAAS_FABRIC_READ, &cancel, |_| true, |_| async { Err("empty") }).await;
        assert_eq!(result, Err(RetryError::Cancelled { attempts: 1 }));
    }
}
