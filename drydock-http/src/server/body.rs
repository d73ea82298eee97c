//! The request-body extractor every endpoint with a body uses. It does not
//! read the body: a handler authorises the caller first and only then calls
//! [`RawBody::read`], so an unauthenticated request is answered without its
//! body ever being read. Reading is capped while reading (the declared
//! `Content-Length` is never trusted: 413 beyond the limit) and draws on one
//! server-wide byte budget for bodies in flight ([`BodyBudget`]: 503 with
//! `Retry-After` when it is spent) that is held until the bytes are dropped.
//! Parsing is left to the handler so each endpoint can answer with the
//! original's exact messages. `T` only documents the body's schema in the
//! OpenAPI document.

use std::marker::PhantomData;
use std::sync::Arc;

use futures::StreamExt;
use poem::{Body, Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;

/// The bytes every request body being read or held may take together.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    permits: Arc<Semaphore>,
}

impl BodyBudget {
    /// A budget of `bytes` (at most `u32::MAX`).
    pub fn new(bytes: usize) -> Self {
        BodyBudget { permits: Arc::new(Semaphore::new(bytes.min(u32::MAX as usize))) }
    }

    /// Bytes not held by any body now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    fn take(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        let bytes = u32::try_from(bytes).ok()?;
        self.permits.clone().try_acquire_many_owned(bytes).ok()
    }
}

/// How bodies are read, put into each request's extensions by the pipeline.
#[derive(Debug, Clone)]
pub struct BodyPolicy {
    /// Largest body, in bytes (413 beyond).
    pub limit: usize,
    /// The shared budget of bytes in flight (503 when spent).
    pub budget: BodyBudget,
    /// Longest the whole body may take to arrive (408 beyond).
    pub timeout: std::time::Duration,
}

/// Default body limit when the pipeline did not set one (tests of handlers).
const DEFAULT_LIMIT: usize = 1 << 20;

/// Default body deadline when the pipeline did not set one.
const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A request body documented as `application/json` with schema `T`, not
/// yet read: authorise, then [`read`](RawBody::read) it.
pub struct RawBody<T> {
    body: Option<Body>,
    policy: Option<BodyPolicy>,
    content_type: Option<String>,
    marker: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for RawBody<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawBody").field("content_type", &self.content_type).finish_non_exhaustive()
    }
}

impl<T> RawBody<T> {
    /// Read the body, at most the configured limit (413 beyond), holding
    /// its bytes against the server's budget (503 `retry` when spent).
    pub async fn read(self) -> Result<ReadBody, ApiError> {
        let timeout = self.policy.as_ref().map_or(DEFAULT_TIMEOUT, |policy| policy.timeout);
        tokio::time::timeout(timeout, self.read_unbounded()).await.map_err(|_| ApiError::BodyTimeout)?
    }

    async fn read_unbounded(self) -> Result<ReadBody, ApiError> {
        let RawBody { body, policy, content_type, .. } = self;
        let limit = policy.as_ref().map_or(DEFAULT_LIMIT, |policy| policy.limit);
        let mut bytes = Vec::new();
        let mut held: Option<OwnedSemaphorePermit> = None;
        if let Some(body) = body {
            let mut stream = std::pin::pin!(body.into_bytes_stream());
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|error| ApiError::BadRequest(format!("cannot read the request body: {error}")))?;
                if bytes.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
                if let Some(policy) = &policy {
                    let permit = policy.budget.take(chunk.len()).ok_or(ApiError::Busy)?;
                    match held.as_mut() {
                        Some(held) => held.merge(permit),
                        None => held = Some(permit),
                    }
                }
                bytes.extend_from_slice(&chunk);
            }
        }
        Ok(ReadBody { bytes, content_type, _held: held })
    }
}

/// A request body that has been read. Its bytes count against the
/// server's body budget until it is dropped.
pub struct ReadBody {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    _held: Option<OwnedSemaphorePermit>,
}

impl std::fmt::Debug for ReadBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadBody").field("len", &self.bytes.len()).field("content_type", &self.content_type).finish()
    }
}

impl ReadBody {
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
        Ok(RawBody {
            body: body.take().ok(),
            policy: request.extensions().get::<BodyPolicy>().cloned(),
            content_type: request.header("content-type").map(str::to_owned),
            marker: PhantomData,
        })
    }
}

/// A response body that is already JSON text (serialised straight from
/// borrowed views, without a `Value` tree), documented as `S`. The bytes
/// are shared, not copied: several responses may send one rendered text.
#[derive(Debug)]
pub struct JsonText<S>(pub hyper::body::Bytes, pub PhantomData<S>);

impl<S> JsonText<S> {
    /// Wrap JSON text.
    pub fn new(text: impl Into<hyper::body::Bytes>) -> Self {
        JsonText(text.into(), PhantomData)
    }
}

impl<S: Type + Send> poem_openapi::payload::Payload for JsonText<S> {
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
