//! The server's one error type, [`ApiError`], and the only place core errors
//! become status codes and the body formats of the original (compat: api
//! spec §1.1): A `{"type","message","retry"}` and B `{"title"[,
//! "description"]}`. Format C (plain text or empty) is not used for errors:
//! the task build-data and purge failures the original answered that way get
//! format A (docs/compat.md), so that every error status of an operation has
//! one documented body. A store out of space answers 507 format A with
//! `retry: true` (not in the original; docs/compat.md).

use drydock_core::store::{StoreError, StoreErrorKind};
use poem::http::StatusCode;
use poem::{Response, error::ResponseError};
use std::marker::PhantomData;

use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::{Example, ToJSON, Type};
use poem_openapi::{Enum, Object};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The caller is not authenticated and the policy denied (401, format A).
    #[error("Unauthenticated")]
    Unauthenticated,
    /// The caller is authenticated but the policy denied (403, format A).
    #[error("Forbidden")]
    Forbidden,
    /// A client error with the original's message (400, format A).
    #[error("{0}")]
    BadRequest(String),
    /// Something named does not exist (404, format A).
    #[error("{0}")]
    NotFound(String),
    /// The body is larger than the configured limit (413, format A).
    #[error("Request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The request took longer than the configured timeout (503, format A,
    /// `retry: true`).
    #[error("Request timed out")]
    Timeout,
    /// The server's budget for request bodies in flight is spent (503,
    /// format A, `retry: true`, with `Retry-After`).
    #[error("Server busy: too many request bodies in flight")]
    Busy,
    /// The client took too long to send the body (408, format A).
    #[error("Request body not received in time")]
    BodyTimeout,
    /// What the request needs is not configured on this server (503,
    /// format A, `retry: false`: asking again will not help until an
    /// operator changes the server's configuration).
    #[error("{0}")]
    NotConfigured(String),
    /// The store failed; the detail is logged, never sent.
    #[error("state store error")]
    Store(#[from] StoreError),
    /// Any other server-side failure; the detail is logged, never sent
    /// (500, format A `Unknown error`).
    #[error("internal error: {0}")]
    Internal(String),
    /// A server-side failure whose text the original sends to the client
    /// (500, format A with this message; validatedesign, compat §1.3.12).
    #[error("{0}")]
    InternalWithMessage(String),
    /// A format B error (router errors, panics).
    #[error("{title}")]
    Framework {
        /// The status.
        status: StatusCode,
        /// The `title`.
        title: String,
    },
}

impl ApiError {
    /// Format B for `status` with the framework's `"<code> <reason>"` title.
    pub fn framework(status: StatusCode) -> ApiError {
        let title = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("Error"));
        ApiError::Framework { status, title }
    }

    /// Log the internal detail of a server-side error once, where it is
    /// turned into a response.
    fn log(&self) {
        match self {
            ApiError::Store(error) if error.kind() != StoreErrorKind::NotFound => {
                tracing::error!(error = %error, "request failed: state store error");
            }
            ApiError::Internal(detail) => tracing::error!(detail = %detail, "request failed"),
            ApiError::InternalWithMessage(detail) => tracing::warn!(detail = %detail, "request failed"),
            _ => {}
        }
    }
}

/// The format A envelope.
pub fn envelope(status: StatusCode, message: &str, retry: bool) -> Response {
    let body = Envelope { kind: EnvelopeType::Error, message: message.to_owned(), retry };
    json_response(status, &body.to_json().unwrap_or_default())
}

/// A JSON response with exactly this body.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    Response::builder().status(status).content_type("application/json").body(body.to_string())
}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Timeout | ApiError::Busy | ApiError::NotConfigured(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Store(error) => match error.kind() {
                StoreErrorKind::NotFound => StatusCode::NOT_FOUND,
                StoreErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                // No space left for the write: 507, worth retrying once space is freed.
                StoreErrorKind::Full => StatusCode::INSUFFICIENT_STORAGE,
                StoreErrorKind::Conflict | StoreErrorKind::Corrupt => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Internal(_) | ApiError::InternalWithMessage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Framework { status, .. } => *status,
        }
    }

    fn as_response(&self) -> Response {
        self.log();
        let status = self.status();
        match self {
            ApiError::Store(error) if error.kind() == StoreErrorKind::Full => {
                envelope(status, "State store full: no space left for writes", true)
            }
            ApiError::Store(error) if error.is_transient() => envelope(status, "State store unavailable", true),
            ApiError::Store(_) | ApiError::Internal(_) => envelope(status, "Unknown error", false),
            ApiError::Timeout => envelope(status, "Request timed out", true),
            ApiError::Busy => {
                let mut response = envelope(status, &self.to_string(), true);
                response.headers_mut().insert("retry-after", poem::http::HeaderValue::from_static(BUSY_RETRY_AFTER));
                response
            }
            ApiError::Framework { title, .. } => {
                json_response(status, &crate::wire::bootaction::error_body(title, None).to_json().unwrap_or_default())
            }
            other => envelope(status, &other.to_string(), false),
        }
    }
}

/// Seconds a client is asked to wait when the server is busy.
const BUSY_RETRY_AFTER: &str = "1";

/// What type of envelope (always `error`).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename = "ErrorType", rename_all = "lowercase")]
pub enum EnvelopeType {
    /// An error.
    Error,
}

/// The error envelope (format A) of every `/api/v1.0` error except the
/// boot-action API's.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "ErrorEnvelope", example)]
pub struct Envelope {
    // Always `error`. (A plain comment: see `wire::types` on enum fields.)
    #[allow(missing_docs)]
    #[oai(rename = "type")]
    pub kind: EnvelopeType,
    /// What went wrong.
    pub message: String,
    /// Whether the same request may succeed later.
    pub retry: bool,
}

impl Example for Envelope {
    fn example() -> Self {
        Envelope { kind: EnvelopeType::Error, message: "Task 6d7f9a3c-52e1-4e0b-9b1a-2f4c8d3e7a10 does not exist".into(), retry: false }
    }
}

/// The error statuses one operation answers with (besides those of its
/// reply type), all with one body schema: the operation's contract in the
/// OpenAPI document. Generated clients (progenitor) need every error status
/// of an operation to have the same body type, so an operation whose reply
/// has an error status with another body documents a `oneOf` of that body
/// and the envelope on every error status.
pub trait ErrorSet: Send + Sync + 'static {
    /// The statuses, ascending.
    const STATUSES: &'static [u16];
    /// The schema of every error body (the envelope unless overridden).
    fn body_schema() -> MetaSchemaRef {
        <Envelope as Type>::schema_ref()
    }
    /// Registers the schemas [`ErrorSet::body_schema`] refers to.
    fn register_body(registry: &mut Registry) {
        <Envelope as Type>::register(registry);
    }
}

macro_rules! error_sets {
    ($($(#[$doc:meta])* $name:ident = [$($status:literal),*] $(as $body:ty)?;)*) => {
        $(
            $(#[$doc])*
            pub struct $name;
            impl ErrorSet for $name {
                const STATUSES: &'static [u16] = &[$($status),*];
                $(
                    fn body_schema() -> MetaSchemaRef {
                        <$body as Type>::schema_ref()
                    }
                    fn register_body(registry: &mut Registry) {
                        <$body as Type>::register(registry);
                    }
                )?
            }
        )*
    };
}

error_sets! {
    /// Extended health: its 503 is the reply's; every error body is a
    /// Status document or the envelope.
    HealthErrors = [401, 403, 413, 500] as crate::server::api::HealthFailure;
    /// A read without a lookup by name.
    ListErrors = [400, 401, 403, 413, 500, 503];
    /// A read of something named in the path.
    ReadErrors = [400, 401, 403, 404, 413, 500, 503];
    /// `GET /tasks/{task_id}/builddata`.
    BuildDataErrors = [401, 403, 404, 413, 500, 503];
    /// A request with a body that reads the store.
    QueryErrors = [400, 401, 403, 408, 413, 500, 503];
    /// `POST /validatedesign`: its 400 is the reply's; every error body is
    /// a Status document or the envelope.
    ValidationErrors = [401, 403, 408, 413, 500, 503] as crate::server::api::ValidationFailure;
    /// A request that writes.
    WriteErrors = [400, 401, 403, 404, 408, 413, 500, 503, 507];
    /// `DELETE /tasks`: a purge that failed is 404.
    PurgeErrors = [400, 401, 403, 404, 413, 500, 503, 507];
}

fn describe(status: u16) -> &'static str {
    match status {
        400 => "Bad request",
        401 => "Unauthenticated: no valid credentials and the policy denies",
        403 => "Forbidden: the policy denies the caller",
        404 => "Not found",
        408 => "The request body was not received in time",
        413 => "Request body too large",
        500 => "Unknown error",
        503 => "Store unavailable, request timed out, or the server's body budget is spent (retry: true; Retry-After when busy)",
        507 => "Store full: no space left for writes (retry: true)",
        _ => "Error",
    }
}

/// A handler's error, documented as the error set `S`: an [`ApiError`]
/// (whose answer it is) with the operation's contract attached.
pub struct Fail<S>(pub ApiError, PhantomData<fn() -> S>);

impl<S> From<ApiError> for Fail<S> {
    fn from(error: ApiError) -> Self {
        Fail(error, PhantomData)
    }
}

impl<S> From<StoreError> for Fail<S> {
    fn from(error: StoreError) -> Self {
        Fail(ApiError::from(error), PhantomData)
    }
}

impl<S> std::fmt::Debug for Fail<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<S> std::fmt::Display for Fail<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<S> std::error::Error for Fail<S> {}

impl<S: ErrorSet> ResponseError for Fail<S> {
    fn status(&self) -> StatusCode {
        self.0.status()
    }

    fn as_response(&self) -> Response {
        self.0.as_response()
    }
}

impl<S: ErrorSet> poem_openapi::ApiResponse for Fail<S> {
    fn meta() -> MetaResponses {
        let responses = S::STATUSES
            .iter()
            .map(|&status| MetaResponse {
                description: describe(status),
                status: Some(status),
                status_range: None,
                content: vec![MetaMediaType { content_type: "application/json", schema: S::body_schema() }],
                headers: vec![],
            })
            .collect();
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        S::register_body(registry);
    }
}

/// A handler's result, its errors documented as `S`.
pub type Answer<T, S> = Result<T, Fail<S>>;

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
