//! `GET /metrics`: the Prometheus exposition of the orchestrator's metrics
//! ([`drydock_core::metrics::Metrics`]) and of the HTTP server's own — each
//! request by method, route template and status with its latency, and the
//! requests in flight. Guarded by its own policy rule ([`READ_METRICS`]) unless
//! the server lets anyone scrape (`--metrics-anonymous`). OpenMetrics text
//! when the scraper accepts it (Prometheus does), the Prometheus text
//! format 0.0.4 otherwise; both written by `prometheus-client`.
//!
//! The route label is the route's template (`/api/v1.0/tasks/*`), never the
//! path a client sent; a path no route matches is `other`, and a method
//! outside HTTP's usual ones is `OTHER`, so the label sets stay bounded.

use std::sync::Arc;
use std::time::Duration;

use drydock_core::metrics::FAST_BUCKETS;
use poem::error::ResponseError;
use poem::http::{Method, StatusCode};
use poem::{Endpoint, Request, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::AppState;
use super::auth::RequestContext;

/// The policy rule a scrape needs (unless anonymous scrapes are allowed).
pub const READ_METRICS: &str = "physical_provisioner:read_metrics";

/// OpenMetrics text, what `prometheus-client` writes by default.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

/// Hashed cheaply: one lookup per request.
impl std::hash::Hash for RequestLabels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(drydock_core::metrics::label_fingerprint(&[self.method, self.route], u64::from(self.status)));
    }
}

fn request_histogram() -> Histogram {
    Histogram::new(FAST_BUCKETS.iter().copied())
}

/// The HTTP server's metrics, in a registry of their own that `/metrics`
/// writes after the orchestrator's.
pub struct HttpMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
}

impl std::fmt::Debug for HttpMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpMetrics").finish_non_exhaustive()
    }
}

impl Default for HttpMetrics {
    fn default() -> Self {
        let requests: Family<RequestLabels, Histogram, fn() -> Histogram> = Family::new_with_constructor(request_histogram);
        let in_flight = Gauge::default();
        let mut registry = Registry::with_prefix("drydock_http");
        registry.register_with_unit(
            "request_duration",
            "HTTP requests, by method, route template and status, with their latency",
            Unit::Seconds,
            requests.clone(),
        );
        registry.register("requests_in_flight", "HTTP requests being served", in_flight.clone());
        HttpMetrics { registry, requests, in_flight }
    }
}

/// A request being served: counted in flight until dropped.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl HttpMetrics {
    /// A request started.
    pub fn started(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// A request to `route` (a template) ended with `status` after `elapsed`.
    pub fn observe(&self, method: &Method, route: &'static str, status: StatusCode, elapsed: Duration) {
        let labels = RequestLabels { method: method_label(method), route, status: status.as_u16() };
        self.requests.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The exposition: the orchestrator's registry, then the server's.
pub fn exposition(state: &AppState, openmetrics: bool) -> Result<String, std::fmt::Error> {
    let mut text = String::with_capacity(16 << 10);
    if openmetrics {
        state.orchestrator.metrics().encode_into(&mut text)?;
        prometheus_client::encoding::text::encode_registry(&mut text, &state.http_metrics.registry)?;
        prometheus_client::encoding::text::encode_eof(&mut text)?;
    } else {
        state.orchestrator.metrics().encode_prometheus_into(&mut text)?;
        prometheus_client::encoding::prometheus_text::encode(&mut text, &state.http_metrics.registry)?;
    }
    Ok(text)
}

/// The `GET /metrics` endpoint.
pub struct MetricsEndpoint {
    /// The server's state.
    pub state: Arc<AppState>,
}

impl Endpoint for MetricsEndpoint {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if !self.state.config.metrics_anonymous {
            let context = req.extensions().get::<RequestContext>().cloned().unwrap_or_default();
            if let Err(error) = super::authorize(&self.state, &context, READ_METRICS) {
                return Ok(error.as_response());
            }
        }
        let openmetrics = req.header("accept").is_some_and(|accept| accept.contains("application/openmetrics-text"));
        match exposition(&self.state, openmetrics) {
            Ok(text) => Ok(Response::builder()
                .status(StatusCode::OK)
                .content_type(if openmetrics { OPENMETRICS } else { prometheus_client::encoding::prometheus_text::CONTENT_TYPE })
                .body(text)),
            Err(_) => Ok(super::error::ApiError::framework(StatusCode::INTERNAL_SERVER_ERROR).as_response()),
        }
    }
}
