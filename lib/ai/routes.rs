//! `POST /api/ai/draft` `{"ticket_id"}` (bearer `ADMIN_TOKEN`): asks for a
//! draft of the ticket's latest contact.
//!
//! - a draft for that contact exists → 200 `{"draft_id","job_id":null,"status","draft"}`;
//! - otherwise the `ai_draft` job (deduplicated per ticket + contact) is
//!   enqueued, or requeued when an earlier one died or finished without a
//!   draft (budget), and run right after the response →
//!   202 `{"draft_id":null,"job_id","status":"queued"}`;
//! - unknown ticket → 404 `ticket_not_found`; OpenAI not configured → 409
//!   `ai_not_configured`; body not JSON → 400 `invalid_json`; no valid
//!   `ticket_id` → 422 `invalid_ticket_id`; store down → 503.

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{middleware, Router};
use serde_json::{json, Value};
use uuid::Uuid;

use super::admin::escaped;
use super::{job, store};
use crate::db::Sql;
use crate::http::{ApiError, Background};
use crate::jobs::JobKind;
use crate::state::App;

/// The function's router (admin token required).
pub fn router(app: App) -> Router {
    Router::new()
        .route("/api/ai/draft", post(draft))
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            crate::admin::auth::require_admin,
        ))
        .with_state(app)
}

/// Why a draft request was not accepted.
#[derive(Debug)]
pub enum DraftError {
    /// The body is not JSON: 400.
    InvalidJson,
    /// `ticket_id` missing or not a UUID: 422.
    InvalidTicketId,
    /// OpenAI is not configured: 409.
    NotConfigured,
    /// No such ticket: 404.
    TicketNotFound,
    /// The store failed (logged where it happened): 503.
    Unavailable,
}

impl IntoResponse for DraftError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Self::InvalidJson => (
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "the body is not JSON",
            ),
            Self::InvalidTicketId => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_ticket_id",
                "ticket_id must be a ticket's UUID",
            ),
            Self::NotConfigured => (
                StatusCode::CONFLICT,
                "ai_not_configured",
                "OPENAI_API_KEY is not set: drafting is off",
            ),
            Self::TicketNotFound => (StatusCode::NOT_FOUND, "ticket_not_found", "no such ticket"),
            Self::Unavailable => {
                return ApiError::unavailable("store_unavailable", 5).into_response()
            }
        };
        ApiError::new(status, code, message).into_response()
    }
}

/// What a request found or did.
enum Requested {
    Exists(Value),
    Queued(i64),
    NoTicket,
}

async fn draft(
    State(app): State<App>,
    background: Background,
    body: Bytes,
) -> Result<Response, DraftError> {
    let value: Value = serde_json::from_slice(&body).map_err(|_| DraftError::InvalidJson)?;
    let ticket_id = value["ticket_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or(DraftError::InvalidTicketId)?;
    if app.config.openai.is_none() {
        return Err(DraftError::NotConfigured);
    }
    let requested = request(&app, ticket_id).await.map_err(|e| {
        tracing::error!(ticket_id = %ticket_id, error = %format!("{e:#}"), "draft request failed");
        DraftError::Unavailable
    })?;
    match requested {
        Requested::NoTicket => Err(DraftError::TicketNotFound),
        Requested::Exists(draft) => {
            let body = json!({ "draft_id": draft["id"], "job_id": null, "status": draft["status"], "draft": draft });
            Ok(escaped(StatusCode::OK, &body))
        }
        Requested::Queued(job_id) => {
            let jobs = vec![(JobKind::AiDraft, job_id)];
            background.spawn(async move { crate::jobs::run_now(&app, jobs).await });
            let body = json!({ "draft_id": null, "job_id": job_id, "status": "queued" });
            Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
        }
    }
}

/// Finds the latest contact's draft, or enqueues (or requeues) its job.
async fn request(app: &App, ticket_id: Uuid) -> anyhow::Result<Requested> {
    let now = app.clock.now();
    let tx = app.db.begin().await.context("Failed to get a connection")?;
    let row = tx
        .query_opt(
            "SELECT contact_count, member_id FROM tickets WHERE id = $1 FOR SHARE",
            &[&ticket_id],
        )
        .await
        .context("Failed to look up a ticket")?;
    let Some(row) = row else {
        return Ok(Requested::NoTicket);
    };
    let (n, member_id): (i32, Option<Uuid>) = (row.get(0), row.get(1));
    if let Some(draft) = store::for_contact(&tx, ticket_id, n).await? {
        return Ok(Requested::Exists(draft));
    }
    let id = match job::enqueue_draft(&tx, ticket_id, n, member_id, now).await? {
        Some(id) => id,
        None => requeue(&tx, &job::dedupe_key(ticket_id, n), now).await?,
    };
    tx.commit()
        .await
        .context("Failed to commit a draft request")?;
    Ok(Requested::Queued(id))
}

/// The existing job of a contact; put back to `pending` (attempts reset)
/// when it is dead, discarded, or succeeded without a draft (budget).
async fn requeue(
    tx: &impl crate::db::Sql,
    dedupe_key: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<i64> {
    use crate::jobs::manage::{self, Which};
    let note = "requeued by POST /api/ai/draft";
    let requeued = manage::requeue(tx, Which::Finished(dedupe_key), note, now)
        .await
        .context("Failed to requeue a draft job")?;
    match requeued.first() {
        Some(id) => Ok(*id),
        None => manage::id_by_dedupe_key(tx, dedupe_key)
            .await
            .context("Failed to find a draft job")?
            .context("a contact without its draft job"),
    }
}
