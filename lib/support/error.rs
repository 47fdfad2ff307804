//! The intake's one error enum: variants named for what the caller must do,
//! one status match, stable codes. Field errors list codes only, never the
//! input, so nothing a caller sent is ever reflected.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::input::{FieldErrors, InputError};
use crate::http::ApiError;

/// Why an intake post was not accepted.
#[derive(Debug)]
pub enum IntakeError {
    /// A browser origin outside `SUPPORT_ALLOWED_ORIGINS`: 403.
    OriginNotAllowed,
    /// Inbound provider credentials missing, wrong or not configured: 401.
    Unauthorized(&'static str),
    /// `?provider=` names no provider we accept: 400.
    UnknownProvider,
    /// Not JSON or a form post: 415.
    UnsupportedMediaType,
    /// Over the body limit: 413.
    TooLarge,
    /// The body is not what its content type says: 400 with the code.
    Malformed(&'static str),
    /// Fields failed validation: 422 with `details.fields`.
    Fields(FieldErrors),
    /// The `Idempotency-Key` header is not a usable key: 400.
    InvalidIdempotencyKey,
    /// Slow down: 429 with `Retry-After` seconds.
    RateLimited(u64),
    /// The first request with this key is still running: 409, retry.
    InFlight,
    /// This key was used with another body: 422.
    KeyReused,
    /// Could not be stored: 503, retry.
    Unavailable,
}

impl IntakeError {
    /// A store failure: logged here, once, and answered 503.
    pub fn unavailable(e: &anyhow::Error) -> Self {
        tracing::error!(error = %format!("{e:#}"), "support contact not stored");
        Self::Unavailable
    }
}

impl From<InputError> for IntakeError {
    fn from(e: InputError) -> Self {
        match e {
            InputError::Malformed(code) => Self::Malformed(code),
            InputError::Fields(f) => Self::Fields(f),
        }
    }
}

impl IntakeError {
    /// Status, stable code and message: the one status match.
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            Self::OriginNotAllowed => (S::FORBIDDEN, "origin_not_allowed", "origin not allowed"),
            Self::Unauthorized(code) => (S::UNAUTHORIZED, code, "authentication failed"),
            Self::UnknownProvider => (S::BAD_REQUEST, "unknown_provider", "unknown provider"),
            Self::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send application/json or application/x-www-form-urlencoded",
            ),
            Self::TooLarge => (S::PAYLOAD_TOO_LARGE, "payload_too_large", "body too large"),
            Self::Malformed(code) => (S::BAD_REQUEST, code, "unreadable body"),
            Self::Fields(_) => (S::UNPROCESSABLE_ENTITY, "invalid_fields", "invalid fields"),
            Self::InvalidIdempotencyKey => (
                S::BAD_REQUEST,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1-255 visible ASCII characters",
            ),
            Self::RateLimited(_) => (S::TOO_MANY_REQUESTS, "rate_limited", "too many requests"),
            Self::InFlight => (
                S::CONFLICT,
                "idempotency_in_flight",
                "a request with this Idempotency-Key is in progress; retry later",
            ),
            Self::KeyReused => (
                S::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different body",
            ),
            Self::Unavailable => (S::SERVICE_UNAVAILABLE, "store_unavailable", "retry later"),
        }
    }
}

impl IntoResponse for IntakeError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        let mut e = ApiError::new(status, code, message);
        e.retry_after_secs = match &self {
            Self::RateLimited(secs) => Some(*secs),
            Self::InFlight => Some(1),
            Self::Unavailable => Some(5),
            _ => None,
        };
        if let Self::Fields(fields) = &self {
            e = e.with_details(json!({ "fields": fields }));
        }
        let mut res = e.into_response();
        if let Self::Unauthorized(_) = self {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"support-inbound\""),
            );
        }
        res
    }
}
