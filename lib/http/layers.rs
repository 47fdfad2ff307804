//! The tower-http stack every function's router gets: request ids (set,
//! validated, propagated), one tracing span per request, security headers,
//! a timeout, and the error envelope.

use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use super::error::envelope;

/// Whole-request cap: webhook senders get an answer (503 if need be) within
/// 10 s whatever the stores do; the statement and pool timeouts are shorter.
pub const REQUEST_TIMEOUT_MS: u64 = 9_500;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps a function's router in the shared stack.
pub fn finish(router: Router) -> Router {
    let headers = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cache-control"),
            HeaderValue::from_static("no-store"),
        ));
    router.layer(
        ServiceBuilder::new()
            .layer(middleware::from_fn(drop_invalid_request_id))
            .layer(SetRequestIdLayer::new(
                X_REQUEST_ID.clone(),
                MakeRequestUuid,
            ))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(span)
                    .on_request(())
                    .on_response(on_response)
                    .on_failure(()),
            )
            .layer(PropagateRequestIdLayer::new(X_REQUEST_ID.clone()))
            .layer(headers)
            .layer(middleware::from_fn(envelope))
            .layer(TimeoutLayer::with_status_code(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Duration::from_millis(REQUEST_TIMEOUT_MS),
            )),
    )
}

/// The request span: ids and the path, never the query string (it may hold
/// an email).
fn span(req: &Request) -> tracing::Span {
    let request_id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        path = %req.uri().path(),
    )
}

fn on_response(res: &Response, latency: Duration, _span: &tracing::Span) {
    tracing::info!(
        status = res.status().as_u16(),
        duration_ms = latency.as_millis() as u64,
        "request done"
    );
}

/// A caller-supplied `x-request-id` is kept only if it is short and plain
/// (`[A-Za-z0-9._-]`, ≤ 64); anything else is replaced, so a hostile id
/// cannot forge log lines.
async fn drop_invalid_request_id(mut req: Request, next: Next) -> Response {
    let valid = req.headers().get(&X_REQUEST_ID).is_some_and(|v| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 64
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
    });
    if !valid {
        req.headers_mut().remove(&X_REQUEST_ID);
    }
    next.run(req).await
}
