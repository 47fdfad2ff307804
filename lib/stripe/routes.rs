//! `POST /api/webhooks/stripe`: verify over the raw bytes, parse, ingest,
//! answer; the outbox jobs run after the response.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use super::event::RawEvent;
use super::{IngestError, Via};
use crate::http::{ApiError, Background};
use crate::signature::{stripe as sig, SignatureError};
use crate::state::App;

/// Largest accepted event (Stripe's are well under 1 MB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Routes of the Stripe webhook function.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/api/webhooks/stripe", post(webhook))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app)
}

/// What went wrong, named for what Stripe (or the operator) must do.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Forged, stale, or signed with another secret: 401, never retried into success.
    #[error("signature: {0}")]
    Signature(#[from] SignatureError),
    /// Signed but not an event: 400.
    #[error("invalid event: {0}")]
    Invalid(String),
    /// The same event is being processed: 409, Stripe retries later.
    #[error("in flight")]
    InFlight,
    /// Could not be stored: 503, Stripe retries.
    #[error("store failed")]
    Unavailable,
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let e = match &self {
            Self::Signature(s) => ApiError::unauthorized(s.code()),
            Self::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_event", m.clone()),
            Self::InFlight => {
                let mut e = ApiError::new(
                    StatusCode::CONFLICT,
                    "in_flight",
                    "this event is being processed; retry later",
                );
                e.retry_after_secs = Some(5);
                e
            }
            Self::Unavailable => ApiError::unavailable("store_unavailable", 10),
        };
        e.into_response()
    }
}

async fn webhook(
    State(app): State<App>,
    background: Background,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, WebhookError> {
    let header = headers
        .get(sig::SIGNATURE_HEADER)
        .map(|v| v.to_str().unwrap_or("not-visible-ascii"));
    let now = app.clock.now();
    if let Err(e) = sig::verify(
        header,
        &body,
        &app.config.stripe_webhook_secrets,
        app.config.stripe_webhook_tolerance_secs,
        now.timestamp(),
    ) {
        tracing::warn!(code = e.code(), "stripe signature rejected");
        count_signature_failure(&app).await;
        return Err(e.into());
    }
    // One JSON parse, into the envelope; the body is stored as it came.
    let event = RawEvent::parse(&body).map_err(|e| WebhookError::Invalid(e.to_string()))?;
    let payload = crate::db::events::Payload::parsed(body);
    // The group commit: concurrent deliveries share one transaction (the
    // watchdog's "a delivery verified" marker is set once a minute).
    let event_id = event.id.clone();
    let ingested = app
        .stripe_writer
        .ingest(&app, event, payload, Via::Webhook)
        .await;
    let ingested = match ingested {
        Ok(i) => i,
        Err(IngestError::InFlight) => return Err(WebhookError::InFlight),
        Err(IngestError::Store(e)) => {
            tracing::error!(event_id = %event_id, error = %format!("{e:#}"), "stripe event not stored");
            return Err(WebhookError::Unavailable);
        }
    };
    if !ingested.jobs.is_empty() {
        let jobs = ingested.jobs;
        background.spawn(async move { crate::jobs::run_now(&app, jobs).await });
    }
    Ok(Json(
        json!({ "received": true, "duplicate": ingested.duplicate }),
    ))
}

/// Signature failures per hour (the admin overview shows the last hour).
async fn count_signature_failure(app: &App) {
    let hour = app.clock.now().timestamp() / 3600;
    let _ = app
        .kv
        .incr_window(&format!("stats:stripe_sig_fail:{hour}"), 1, 2 * 3600 * 1000)
        .await;
    crate::watchdog::signals::stripe_signature_failed(app).await;
}
