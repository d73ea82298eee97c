//! The server's one error type, [`ApiError`], and the only place core errors
//! become status codes and the three body formats of the original (compat:
//! api spec §1.1): A `{"type","message","retry"}`, B `{"title"[,
//! "description"]}`, C plain text or empty. A store out of space answers
//! 507 format A with `retry: true` (not in the original; docs/compat.md).

use drydock_core::store::{StoreError, StoreErrorKind};
use poem::http::StatusCode;
use poem::{Response, error::ResponseError};
use std::marker::PhantomData;

use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
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
    /// A format C answer: plain text, or an empty body.
    #[error("{status}")]
    Plain {
        /// The status.
        status: StatusCode,
        /// The body (empty when `None`).
        text: Option<&'static str>,
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
            ApiError::Timeout | ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
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
            ApiError::Framework { status, .. } | ApiError::Plain { status, .. } => *status,
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
            ApiError::Plain { text, .. } => match text {
                Some(text) => Response::builder().status(status).content_type("text/plain; charset=utf-8").body(*text),
                None => Response::builder().status(status).finish(),
            },
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
    /// Always `error`.
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
/// reply type), each with the error envelope except where noted: the
/// operation's contract in the OpenAPI document.
pub trait ErrorSet: Send + Sync + 'static {
    /// The statuses, ascending.
    const STATUSES: &'static [u16];
    /// Its 404 has no body (the original's build-data answer).
    const EMPTY_404: bool = false;
    /// Its 500 is plain text (the original's build-data answer).
    const TEXT_500: bool = false;
}

macro_rules! error_sets {
    ($($(#[$doc:meta])* $name:ident = [$($status:literal),*] $({ $($flag:ident),* })?;)*) => {
        $(
            $(#[$doc])*
            pub struct $name;
            impl ErrorSet for $name {
                const STATUSES: &'static [u16] = &[$($status),*];
                $($(const $flag: bool = true;)*)?
            }
        )*
    };
}

error_sets! {
    /// Extended health: its 503 is the reply's Status document.
    HealthErrors = [401, 403, 413, 500];
    /// A read without a lookup by name.
    ListErrors = [400, 401, 403, 413, 500, 503];
    /// A read of something named in the path.
    ReadErrors = [400, 401, 403, 404, 413, 500, 503];
    /// `GET /tasks/{task_id}/builddata`: 404 without a body, 500 as text.
    BuildDataErrors = [401, 403, 404, 413, 500, 503] { EMPTY_404, TEXT_500 };
    /// A request with a body that reads the store.
    QueryErrors = [400, 401, 403, 408, 413, 500, 503];
    /// `POST /validatedesign`: its 400 is the reply's.
    ValidationErrors = [401, 403, 408, 413, 500, 503];
    /// A request that writes.
    WriteErrors = [400, 401, 403, 404, 408, 413, 500, 503, 507];
    /// `DELETE /tasks`: its 404 is the reply's.
    PurgeErrors = [400, 401, 403, 413, 500, 503, 507];
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
        let envelope = || vec![MetaMediaType { content_type: "application/json", schema: <Envelope as Type>::schema_ref() }];
        let responses = S::STATUSES
            .iter()
            .map(|&status| {
                let (description, content) = match status {
                    404 if S::EMPTY_404 => ("No such task, or it has no build data (no body)", vec![]),
                    500 if S::TEXT_500 => (
                        "The state store failed (`Unexpected error.`)",
                        vec![MetaMediaType { content_type: "text/plain; charset=utf-8", schema: <String as Type>::schema_ref() }],
                    ),
                    _ => (describe(status), envelope()),
                };
                MetaResponse { description, status: Some(status), status_range: None, content, headers: vec![] }
            })
            .collect();
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        <Envelope as Type>::register(registry);
    }
}

/// A handler's result, its errors documented as `S`.
pub type Answer<T, S> = Result<T, Fail<S>>;

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
