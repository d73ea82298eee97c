//! The server's one error type, [`ApiError`], and the only place core errors
//! become status codes and the three body formats of the original (compat:
//! api spec §1.1): A `{"type","message","retry"}`, B `{"title"[,
//! "description"]}`, C plain text or empty. A store out of space answers
//! 507 format A with `retry: true` (not in the original; docs/compat.md).

use drydock_core::store::{StoreError, StoreErrorKind};
use poem::http::StatusCode;
use poem::{Response, error::ResponseError};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry};
use serde_json::json;

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
    json_response(status, &json!({"type": "error", "message": message, "retry": retry}))
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
            ApiError::Framework { title, .. } => json_response(status, &json!({"title": title})),
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

/// The error envelope's schema name in the OpenAPI document.
const ERROR_SCHEMA: &str = "ErrorEnvelope";

impl poem_openapi::ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        let error = |status: u16, description: &'static str| MetaResponse {
            description,
            status: Some(status),
            status_range: None,
            content: vec![MetaMediaType { content_type: "application/json", schema: MetaSchemaRef::Reference(ERROR_SCHEMA.into()) }],
            headers: vec![],
        };
        MetaResponses {
            responses: vec![
                error(400, "Bad request (format A)"),
                error(401, "Unauthenticated: no valid credentials and the policy denies"),
                error(403, "Forbidden: the policy denies the caller"),
                // Some 404s carry no body (the original's build-data and
                // purge answers), so no content is promised.
                MetaResponse {
                    description: "Not found: a format A body, or an empty one where the original answers so",
                    status: Some(404),
                    status_range: None,
                    content: vec![],
                    headers: vec![],
                },
                error(408, "The request body was not received in time"),
                error(413, "Request body too large"),
                error(500, "Unknown error"),
                error(
                    503,
                    "Store unavailable, request timed out, or the server's body budget is spent (retry: true; Retry-After when busy)",
                ),
                error(507, "Store full: no space left for writes (retry: true)"),
            ],
        }
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<ApiError, _>(ERROR_SCHEMA.into(), |_| {
            let mut schema = MetaSchema::new("object");
            schema.title = Some("Drydock error envelope (format A)".into());
            schema.required = vec!["type", "message", "retry"];
            schema.properties = vec![
                ("type", MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))),
                ("message", MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))),
                ("retry", MetaSchemaRef::Inline(Box::new(MetaSchema::new("boolean")))),
            ];
            schema
        });
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
