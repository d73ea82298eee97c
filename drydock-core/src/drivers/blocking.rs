//! Blocking driver libraries (ipmi-rs, libvirt) run on tokio's blocking
//! pool under a deadline: a peer that never answers fails the call with a
//! transient timeout instead of hanging a task, and a panic inside the
//! library becomes a [`DriverError`] (with the given secrets scrubbed from
//! its text) instead of unwinding into the runtime.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use super::{DriverError, DriverErrorKind};

/// How a blocking library's failures are worded: `library` panicked, the
/// `work` thread failed, the `work` did not finish in time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wording {
    /// `the IPMI library`, `libvirt`.
    pub(crate) library: &'static str,
    /// `IPMI session`, `libvirt call`.
    pub(crate) work: &'static str,
}

/// Text of a caught panic, with every non-empty `secret` replaced by `***`.
fn panic_text(panic: &(dyn std::any::Any + Send), secrets: &[String]) -> String {
    let mut text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned());
    for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
        text = text.replace(secret.as_str(), "***");
    }
    text
}

/// Run blocking `job` on tokio's blocking pool: its panics become errors and
/// it must finish within `deadline` (the thread is left to end on its own
/// timeouts; its result is then dropped). `secrets` never appear in the
/// errors made here.
pub(crate) async fn contained<T, F>(
    wording: Wording,
    operation: &'static str,
    endpoint: &str,
    deadline: Duration,
    secrets: Vec<String>,
    job: F,
) -> Result<T, DriverError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, DriverError> + Send + 'static,
{
    let thread_endpoint = endpoint.to_owned();
    let handle = tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(AssertUnwindSafe(job)).unwrap_or_else(|panic| {
            Err(DriverError::new(
                DriverErrorKind::Transient,
                operation,
                thread_endpoint,
                format!("{} panicked: {}", wording.library, panic_text(panic.as_ref(), &secrets)),
            ))
        })
    });
    match tokio::time::timeout(deadline, handle).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => {
            Err(DriverError::new(DriverErrorKind::Transient, operation, endpoint, format!("the {} thread failed: {join}", wording.work)))
        }
        Err(_) => Err(DriverError::new(
            DriverErrorKind::Transient,
            operation,
            endpoint,
            format!("timed out: the {} did not finish within {} ms", wording.work, deadline.as_millis()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORDING: Wording = Wording { library: "the test library", work: "test call" };

    #[tokio::test]
    async fn panics_and_overruns_become_transient_errors() {
        let secrets = vec!["hunter2".to_owned(), String::new()];
        let error = contained::<(), _>(WORDING, "power_state", "10.0.0.1:623", Duration::from_secs(5), secrets.clone(), || {
            panic!("the library blew up with hunter2")
        })
        .await
        .expect_err("panic contained");
        assert_eq!(error.kind(), DriverErrorKind::Transient);
        let text = error.to_string();
        assert!(text.contains("the test library panicked") && text.contains("10.0.0.1:623"), "{text}");
        assert!(!text.contains("hunter2") && text.contains("***"), "{text}");

        let started = std::time::Instant::now();
        let error = contained::<(), _>(WORDING, "power_state", "10.0.0.1:623", Duration::from_millis(200), secrets, || {
            std::thread::sleep(Duration::from_secs(1));
            Ok(())
        })
        .await
        .expect_err("deadline");
        assert_eq!(error.kind(), DriverErrorKind::Transient);
        assert!(error.to_string().contains("timed out: the test call did not finish within 200 ms"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
