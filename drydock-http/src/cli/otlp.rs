//! OTLP trace export for `drydock serve --otlp-endpoint` (cargo feature
//! `otlp`): a `tracing-opentelemetry` layer over an OTLP/HTTP exporter
//! (protobuf bodies, reqwest's blocking client on the SDK's batch thread),
//! `service.name=drydock`, flushed when the server stops.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// The URL spans are posted to: `endpoint` itself when it has a path,
/// otherwise its `/v1/traces` (the OTLP/HTTP traces path).
pub fn traces_url(endpoint: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(endpoint).map_err(|error| format!("--otlp-endpoint {endpoint:?}: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("--otlp-endpoint {endpoint:?}: not an http(s) URL"));
    }
    if url.path() == "/" || url.path().is_empty() {
        Ok(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
    } else {
        Ok(endpoint.to_owned())
    }
}

/// The exporting tracer provider and the layer feeding it drydock's spans.
pub fn layer<S>(endpoint: &str) -> Result<(SdkTracerProvider, impl Layer<S> + Send + Sync + 'static), String>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
{
    let url = traces_url(endpoint)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .build()
        .map_err(|error| format!("cannot set up the OTLP exporter: {error}"))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder_empty()
                .with_service_name("drydock")
                .with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
                .build(),
        )
        .build();
    let tracer = provider.tracer("drydock");
    // Only drydock's own spans (the exporter's HTTP client must not trace its
    // own exports), every level, and their events at INFO and above.
    let layer = tracing_opentelemetry::layer().with_tracer(tracer).with_filter(tracing_subscriber::filter::filter_fn(|metadata| {
        metadata.target().starts_with("drydock") && (metadata.is_span() || *metadata.level() <= tracing::Level::INFO)
    }));
    Ok((provider, layer))
}

/// Export the spans still buffered and stop the exporter (blocks for at
/// most the exporter's timeout).
pub fn shutdown(provider: SdkTracerProvider) {
    if let Err(error) = provider.shutdown() {
        eprintln!("warning: flushing the OTLP trace export failed: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn a_base_url_gets_the_traces_path_and_a_full_one_is_kept() {
        assert_eq!(traces_url("http://collector:4318").unwrap(), "http://collector:4318/v1/traces");
        assert_eq!(traces_url("http://collector:4318/").unwrap(), "http://collector:4318/v1/traces");
        assert_eq!(traces_url("https://otel.example/custom/traces").unwrap(), "https://otel.example/custom/traces");
        assert!(traces_url("collector:4318").is_err());
        assert!(traces_url("not a url").is_err());
    }
}
