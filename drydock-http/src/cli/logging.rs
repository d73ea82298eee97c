//! The logs of `drydock serve`: human text or one JSON object per line
//! (timestamp, level, target, message, the event's fields and the spans it
//! happened in), colour only on a terminal, and the one line per request at
//! a level of the operator's choosing (health checks at debug by default);
//! and, with `--otlp-endpoint`, the trace spans exported over OTLP/HTTP.

use std::io::IsTerminal;

use clap::{Args, ValueEnum};

use crate::server::RequestLog;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for a log pipeline.
    Json,
}

/// When text logs are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogColor {
    /// Only when the log goes to a terminal and `NO_COLOR` is not set.
    Auto,
    /// Always (ANSI escape codes even in files).
    Always,
    /// Never.
    Never,
}

/// The level of the per-request log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RequestLogLevel {
    /// Not logged.
    Off,
    /// `ERROR`.
    Error,
    /// `WARN`.
    Warn,
    /// `INFO`.
    Info,
    /// `DEBUG`.
    Debug,
    /// `TRACE`.
    Trace,
}

impl RequestLogLevel {
    fn level(self) -> Option<tracing::Level> {
        match self {
            RequestLogLevel::Off => None,
            RequestLogLevel::Error => Some(tracing::Level::ERROR),
            RequestLogLevel::Warn => Some(tracing::Level::WARN),
            RequestLogLevel::Info => Some(tracing::Level::INFO),
            RequestLogLevel::Debug => Some(tracing::Level::DEBUG),
            RequestLogLevel::Trace => Some(tracing::Level::TRACE),
        }
    }
}

/// Logging options of `drydock serve`.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log format: `text` (human-readable) or `json` (one object per line:
    /// `timestamp`, `level`, `target`, `message`, the event's fields, `span`
    /// and `spans`). Which events are written is set by `RUST_LOG` (default
    /// `info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "DRYDOCK_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Colour in text logs: `auto` (only on a terminal, and not with
    /// `NO_COLOR` set), `always` or `never`.
    #[arg(long, value_enum, default_value_t = LogColor::Auto, env = "DRYDOCK_LOG_COLOR")]
    pub log_color: LogColor,
    /// Level of the one log line per request (method, path, status, elapsed
    /// time, user, request id), or `off`.
    #[arg(long, value_enum, default_value_t = RequestLogLevel::Info)]
    pub request_log_level: RequestLogLevel,
    /// Paths whose requests are logged at debug instead (repeatable): probes
    /// and scrapes would otherwise fill the log.
    #[arg(long = "quiet-request-path", value_name = "PATH", default_values = ["/api/v1.0/health", "/api/v1.0/health/extended", "/metrics"])]
    pub quiet_request_paths: Vec<String>,
    /// Export trace spans (requests, tasks, stages, node steps, driver
    /// calls) to this OTLP/HTTP receiver, e.g. `http://collector:4318`
    /// (`/v1/traces` is appended to a URL without a path). Off by default.
    #[arg(long, value_name = "URL", env = "DRYDOCK_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

impl LogArgs {
    /// The server's per-request log settings.
    pub fn request_log(&self) -> RequestLog {
        RequestLog { level: self.request_log_level.level(), quiet_paths: self.quiet_request_paths.clone() }
    }
}

/// Whether text logs written to standard output are coloured.
fn colour(choice: LogColor) -> bool {
    match choice {
        LogColor::Always => true,
        LogColor::Never => false,
        LogColor::Auto => std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty()) && std::io::stdout().is_terminal(),
    }
}

/// What logging set up that must be closed when the server stops: the OTLP
/// exporter, whose buffered spans are flushed then.
#[derive(Debug, Default)]
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// Flush and stop the trace export, if any (blocking, off the async
    /// workers).
    pub async fn shutdown(self) {
        #[cfg(feature = "otlp")]
        if let Some(provider) = self.provider {
            let _ = tokio::task::spawn_blocking(move || super::otlp::shutdown(provider)).await;
        }
    }
}

/// Install the global subscriber (once; later calls install nothing):
/// `RUST_LOG` (default `info`) decides which spans and events are recorded,
/// the log layer writes them, and with `--otlp-endpoint` an OpenTelemetry
/// layer exports drydock's spans.
pub fn init(args: &LogArgs) -> Result<Telemetry, String> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let log = match args.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer().with_ansi(colour(args.log_color)).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(super::json_log::JsonLines)
            .boxed(),
    };
    // Each layer filters for itself: the log by `RUST_LOG`, the trace export
    // (its own filter) every drydock span, the DEBUG request span included.
    let registry = tracing_subscriber::registry().with(log.with_filter(filter));
    match args.otlp_endpoint.as_deref().filter(|endpoint| !endpoint.is_empty()) {
        None => {
            let _ = registry.try_init();
            Ok(Telemetry::default())
        }
        #[cfg(feature = "otlp")]
        Some(endpoint) => {
            let (provider, layer) = super::otlp::layer(endpoint)?;
            if registry.with(layer).try_init().is_ok() {
                Ok(Telemetry { provider: Some(provider) })
            } else {
                // A subscriber was already installed: nothing would feed it.
                super::otlp::shutdown(provider);
                Ok(Telemetry::default())
            }
        }
        #[cfg(not(feature = "otlp"))]
        Some(_) => Err("--otlp-endpoint: this drydock was built without the `otlp` feature".to_owned()),
    }
}
