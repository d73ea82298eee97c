//! The request-body extractor every endpoint with a body uses: reads at most
//! the configured number of bytes (413 beyond), records whether the declared
//! content type is JSON, and leaves parsing to the handler so each endpoint
//! can answer with the original's exact messages. `T` only documents the
//! body's schema in the OpenAPI document.

use std::marker::PhantomData;

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::error::ApiError;

/// The body size limit, put into each request's extensions by the pipeline.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Default body limit when the pipeline did not set one (tests of handlers).
const DEFAULT_LIMIT: usize = 1 << 20;

/// A raw request body documented as `application/json` with schema `T`.
pub struct RawBody<T> {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    marker: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for RawBody<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawBody").field("len", &self.bytes.len()).field("content_type", &self.content_type).finish()
    }
}

impl<T> RawBody<T> {
    /// Whether the declared media type is JSON (parameters such as
    /// `charset` are accepted; compat §1.1 fix).
    pub fn is_json(&self) -> bool {
        self.content_type.as_deref().is_some_and(|value| {
            let media = value.split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case("application/json") || media.to_ascii_lowercase().ends_with("+json")
        })
    }

    /// Whether the body is empty (or only whitespace).
    pub fn is_empty(&self) -> bool {
        self.bytes.iter().all(u8::is_ascii_whitespace)
    }

    /// Parse the body as JSON.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.bytes)
    }
}

impl<'a, T: Type> ApiExtractor<'a> for RawBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType { content_type: "application/json", schema: T::schema_ref() }],
            required: true,
        })
    }

    async fn from_request(request: &'a Request, body: &mut RequestBody, _: ExtractParamOptions<()>) -> poem::Result<Self> {
        let limit = request.extensions().get::<BodyLimit>().map_or(DEFAULT_LIMIT, |limit| limit.0);
        let content_type = request.header("content-type").map(str::to_owned);
        let bytes = match body.take() {
            Ok(body) => body.into_bytes_limit(limit).await.map_err(|error| match error {
                poem::error::ReadBodyError::PayloadTooLarge => ApiError::PayloadTooLarge { limit },
                other => ApiError::BadRequest(format!("cannot read the request body: {other}")),
            })?,
            Err(_) => Default::default(),
        };
        Ok(RawBody { bytes: bytes.to_vec(), content_type, marker: PhantomData })
    }
}

/// A response body that is already JSON text (serialised straight from
/// borrowed views, without a `Value` tree), documented as `S`.
#[derive(Debug)]
pub struct JsonText<S>(pub String, pub PhantomData<S>);

impl<S> JsonText<S> {
    /// Wrap JSON text.
    pub fn new(text: String) -> Self {
        JsonText(text, PhantomData)
    }
}

impl<S: super::schema::Shape> poem_openapi::payload::Payload for JsonText<S> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        S::schema_ref()
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        S::register(registry);
    }
}

impl<S: Send> poem::IntoResponse for JsonText<S> {
    fn into_response(self) -> poem::Response {
        poem::Response::builder().content_type("application/json; charset=utf-8").body(self.0)
    }
}
