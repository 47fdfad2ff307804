//! The error body every endpoint answers with:
//! `{"error":{"code","message","request_id"}}`. 4xx carry a stable `code` the
//! caller can branch on; 5xx an opaque message (the cause is logged once,
//! where it is handled, never sent).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer: status, stable code, human message.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`invalid_signature`, `member_not_found`, ...).
    pub code: &'static str,
    /// Human-readable message; never holds secrets or personal data.
    pub message: String,
    /// Extra JSON merged into the error object (e.g. per-field errors).
    pub details: Option<serde_json::Value>,
    /// `Retry-After` seconds, for 429/503.
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after_secs: None,
        }
    }

    /// 401 with `code`.
    pub fn unauthorized(code: &'static str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, "authentication failed")
    }

    /// 503 with `Retry-After`: the sender should try again.
    pub fn unavailable(code: &'static str, retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            "temporarily unavailable, retry later",
        );
        e.retry_after_secs = Some(retry_after_secs);
        e
    }

    /// 503 `store_unavailable`: our own database failed. The cause is logged
    /// here, once; the caller sees only the code (retry in 5 s).
    pub fn store_unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %format!("{cause:#}"), "store unavailable");
        Self::unavailable("store_unavailable", 5)
    }

    /// Adds details (merged under `error.details`).
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}

/// Reads an optional list filter that must be one of `allowed` (absent or
/// empty = no filter); anything else is 422 `invalid_filter` naming `field`.
pub fn one_of<'a>(
    raw: Option<&'a str>,
    allowed: &[&str],
    field: &'static str,
) -> Result<Option<&'a str>, ApiError> {
    match raw {
        None | Some("") => Ok(None),
        Some(s) if allowed.contains(&s) => Ok(Some(s)),
        Some(_) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_filter",
            format!("{field} must be one of: {}", allowed.join(", ")),
        )
        .with_details(json!({ "field": field }))),
    }
}

/// Marker the envelope middleware finds on our own error responses.
#[derive(Clone)]
struct Enveloped(ApiError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = self.status;
        if let Some(s) = self.retry_after_secs {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res.extensions_mut().insert(Enveloped(self));
        res
    }
}

fn body(e: &ApiError, request_id: &str) -> Body {
    let mut error = json!({"code": e.code, "message": e.message, "request_id": request_id});
    if let Some(d) = &e.details {
        error["details"] = d.clone();
    }
    Body::from(json!({ "error": error }).to_string())
}

/// The code for an error response that did not come from an [`ApiError`]
/// (the router's 404/405, a body-limit 413, a timeout).
fn generic(status: StatusCode) -> ApiError {
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        s if s.is_client_error() => "bad_request",
        _ => "internal",
    };
    let message = if status.is_server_error() {
        "internal error".to_string()
    } else {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    };
    ApiError::new(status, code, message)
}

fn is_json(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

/// Middleware: gives every error response the JSON envelope with the request
/// id (set earlier by the request-id layer).
pub async fn envelope(req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut res = next.run(req).await;
    let status = res.status();
    let error = match res.extensions_mut().remove::<Enveloped>() {
        Some(Enveloped(e)) => e,
        // An error a handler answered with its own JSON (health's 503) stays.
        None if (status.is_client_error() || status.is_server_error()) && !is_json(&res) => {
            generic(status)
        }
        None => return res,
    };
    if status.is_server_error() && error.status.is_server_error() {
        tracing::warn!(
            status = status.as_u16(),
            code = error.code,
            "request failed"
        );
    }
    *res.body_mut() = body(&error, &request_id);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res.headers_mut().remove(header::CONTENT_LENGTH);
    res
}
