//! Admin drafts API, merged into the admin function behind its token:
//! `GET /api/admin/drafts?status=&limit=` (newest first),
//! `GET /api/admin/drafts/{id}`, `GET /api/admin/drafts/metrics`
//! (ticket → first draft latency, p50/p95 over 30 days), and the review
//! actions in [`super::review`]. A draft answers with every column plus
//! `customer_text` (the message of the contact it answers), so the console
//! can show both side by side. JSON answers escape `<`, `>` and `&`, so
//! stored customer HTML never appears raw in a body.

use anyhow::Context;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{Duration, SecondsFormat};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{review, store};
use crate::db::Sql;
use crate::http::ApiError;
use crate::state::App;

/// Draft statuses, as stored.
pub const STATUSES: &[&str] = &["pending_approval", "ready", "approved", "rejected"];
/// How far back the latency metric looks.
pub const METRICS_WINDOW_DAYS: i64 = 30;

/// Routes (the admin function adds the auth layer).
pub fn admin_router(app: App) -> Router {
    Router::new()
        .route("/api/admin/drafts", get(list))
        .route("/api/admin/drafts/metrics", get(metrics))
        .route("/api/admin/drafts/{id}", get(show))
        .route("/api/admin/drafts/{id}/approve", post(review::approve))
        .route("/api/admin/drafts/{id}/reject", post(review::reject))
        .route("/api/admin/drafts/{id}/edit", post(review::edit))
        .with_state(app)
}

/// A store failure: logged once here, 503 to the caller.
/// 404 `draft_not_found`.
pub(super) fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "draft_not_found", "no such draft")
}

/// A path id, or 404.
pub(super) fn draft_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| not_found())
}

pub(super) use crate::http::escaped_json as escaped;

/// List filters.
#[derive(Debug, Deserialize)]
pub struct Filter {
    status: Option<String>,
    limit: Option<i64>,
}

async fn list(State(app): State<App>, Query(f): Query<Filter>) -> Result<Response, ApiError> {
    let status = crate::http::error::one_of(f.status.as_deref(), STATUSES, "status")?;
    let limit = f.limit.unwrap_or(50).clamp(1, 200);
    let drafts = async {
        let client = app.db.get().await?;
        let sql = format!(
            "SELECT {} WHERE ($1::text IS NULL OR d.status = $1) ORDER BY d.created_at DESC, d.id DESC LIMIT $2",
            store::DRAFT_JSON
        );
        let rows = client
            .query(&sql, &[&status, &limit])
            .await
            .context("Failed to list drafts")?;
        anyhow::Ok(rows.iter().map(|r| r.get::<_, Value>(0)).collect::<Vec<_>>())
    }
    .await
    .map_err(ApiError::store_unavailable)?;
    Ok(escaped(StatusCode::OK, &json!({ "drafts": drafts })))
}

async fn show(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = draft_id(&id)?;
    let draft = async {
        let client = app.db.get().await?;
        store::find(&client, id).await
    }
    .await
    .map_err(ApiError::store_unavailable)?
    .ok_or_else(not_found)?;
    Ok(escaped(StatusCode::OK, &json!({ "draft": draft })))
}

async fn metrics(State(app): State<App>) -> Result<Response, ApiError> {
    let since = app.clock.now() - Duration::days(METRICS_WINDOW_DAYS);
    let row = async {
        let client = app.db.get().await?;
        client
            .query_one(
                r#"WITH first AS (
                       SELECT t.created_at AS ticket_at, min(d.created_at) AS draft_at
                       FROM ai_drafts d JOIN tickets t ON t.id = d.ticket_id
                       GROUP BY t.id, t.created_at
                       HAVING min(d.created_at) >= $1),
                   x AS (SELECT GREATEST(extract(epoch FROM draft_at - ticket_at) * 1000, 0)::float8 AS ms FROM first)
               SELECT (SELECT count(*) FROM x),
                      (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM x),
                      (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) FROM x),
                      (SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb)
                         FROM (SELECT status, count(*) AS n FROM ai_drafts WHERE created_at >= $1 GROUP BY status) s)"#,
                &[&since],
            )
            .await
            .context("Failed to compute draft metrics")
    }
    .await
    .map_err(ApiError::store_unavailable)?;
    let ms = |i: usize| row.get::<_, Option<f64>>(i).map(|v| v.round() as i64);
    let body = json!({
        "window_days": METRICS_WINDOW_DAYS,
        "since": since.to_rfc3339_opts(SecondsFormat::Secs, true),
        "ticket_to_first_draft": { "samples": row.get::<_, i64>(0), "p50_ms": ms(1), "p95_ms": ms(2) },
        "drafts_by_status": row.get::<_, Value>(3),
    });
    Ok(escaped(StatusCode::OK, &body))
}
