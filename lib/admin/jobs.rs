//! Admin jobs API: list (keyset paging), show with attempt history, retry or
//! discard one dead job, and bulk redrive with a dry-run count first.
//! Retrying is idempotent: a job already back in `pending` is not retried
//! again, and retry never creates a second job.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Actor;
use crate::db::Sql;
use crate::http::ApiError;
use crate::jobs::manage::{self, DeadFilter, Which};
use crate::state::App;

const STATES: &[&str] = &[
    "pending",
    "running",
    "succeeded",
    "held",
    "dead",
    "discarded",
];

/// Routes.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/api/admin/jobs", get(list))
        .route("/api/admin/jobs/retry", post(bulk_retry))
        .route("/api/admin/jobs/{id}", get(show))
        .route("/api/admin/jobs/{id}/retry", post(retry_one))
        .route("/api/admin/jobs/{id}/discard", post(discard_one))
        .with_state(app)
}

fn invalid(field: &'static str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_filter",
        format!("invalid {field}"),
    )
    .with_details(json!({ "field": field }))
}

fn word(
    v: &Option<String>,
    field: &'static str,
    allowed: Option<&[&str]>,
) -> Result<Option<String>, ApiError> {
    match v {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => {
            let plain = s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit());
            let known = allowed.map(|a| a.contains(&s.as_str())).unwrap_or(true);
            if plain && known {
                Ok(Some(s.clone()))
            } else {
                Err(invalid(field))
            }
        }
    }
}

/// List filters.
#[derive(Debug, Deserialize)]
pub struct Filter {
    state: Option<String>,
    kind: Option<String>,
    reason: Option<String>,
    cursor: Option<i64>,
    limit: Option<i64>,
}

const JOB_JSON: &str = "json_build_object('id', id, 'kind', kind, 'state', state, 'attempts', attempts, \
    'max_attempts', max_attempts, 'run_at', run_at, 'reason', reason, 'upstream_status', upstream_status, \
    'last_error', last_error, 'member_id', member_id, 'sequence', sequence, 'dedupe_key', dedupe_key, \
    'note', note, 'created_at', created_at, 'updated_at', updated_at)::jsonb";

async fn list(State(app): State<App>, Query(f): Query<Filter>) -> Result<Json<Value>, ApiError> {
    let state = word(&f.state, "state", Some(STATES))?;
    let kinds: Vec<&str> = crate::jobs::JobKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    let kind = word(&f.kind, "kind", Some(&kinds))?;
    let reason = word(&f.reason, "reason", None)?;
    let limit = f.limit.unwrap_or(50).clamp(1, 200);
    let client = app.db.get().await.map_err(ApiError::store_unavailable)?;
    let rows = client
        .query(
            &format!(
                "SELECT {JOB_JSON} FROM jobs WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR kind = $2)
                   AND ($3::text IS NULL OR reason = $3) AND ($4::bigint IS NULL OR id < $4)
                 ORDER BY id DESC LIMIT $5"
            ),
            &[&state, &kind, &reason, &f.cursor, &limit],
        )
        .await
        .map_err(ApiError::store_unavailable)?;
    let jobs: Vec<Value> = rows.iter().map(|r| r.get(0)).collect();
    let next = (jobs.len() as i64 == limit)
        .then(|| jobs.last().map(|j| j["id"].clone()))
        .flatten();
    Ok(Json(json!({ "jobs": jobs, "next_cursor": next })))
}

async fn show(State(app): State<App>, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    let client = app.db.get().await.map_err(ApiError::store_unavailable)?;
    let row = client
        .query_opt(&format!("SELECT {JOB_JSON} || jsonb_build_object('history', history, 'payload_keys', (SELECT coalesce(jsonb_agg(k), '[]'::jsonb) FROM jsonb_object_keys(payload) k)) FROM jobs WHERE id = $1"), &[&id])
        .await
        .map_err(ApiError::store_unavailable)?;
    match row {
        Some(r) => Ok(Json(r.get(0))),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "job_not_found",
            "no such job",
        )),
    }
}

async fn retry_one(
    State(app): State<App>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let client = app.db.get().await.map_err(ApiError::store_unavailable)?;
    let now = app.clock.now();
    let note = format!("retried by {}", actor.0);
    let n = manage::requeue(&client, Which::Dead(id), &note, now)
        .await
        .map_err(ApiError::store_unavailable)?
        .len();
    let state = manage::state_of(&client, id)
        .await
        .map_err(ApiError::store_unavailable)?;
    let Some(state) = state else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "job_not_found",
            "no such job",
        ));
    };
    tracing::info!(job_id = id, actor = %actor.0, retried = n == 1, "admin retried a job");
    Ok(Json(json!({ "id": id, "retried": n == 1, "state": state })))
}

/// Discard body.
#[derive(Debug, Deserialize, Default)]
pub struct DiscardBody {
    #[serde(default)]
    note: String,
}

async fn discard_one(
    State(app): State<App>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    // The note is optional: an empty body is a discard without one.
    let parsed: DiscardBody = if body.iter().all(u8::is_ascii_whitespace) {
        DiscardBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "body is not valid JSON",
            )
        })?
    };
    let note: String = parsed.note.chars().take(500).collect();
    let client = app.db.get().await.map_err(ApiError::store_unavailable)?;
    let now = app.clock.now();
    let note = format!("discarded by {}: {note}", actor.0);
    let discarded = manage::discard(&client, id, &note, now)
        .await
        .map_err(ApiError::store_unavailable)?;
    if !discarded {
        let exists = manage::state_of(&client, id)
            .await
            .map_err(ApiError::store_unavailable)?
            .is_some();
        return Err(if exists {
            ApiError::new(
                StatusCode::CONFLICT,
                "job_not_dead",
                "only dead jobs can be discarded",
            )
        } else {
            ApiError::new(StatusCode::NOT_FOUND, "job_not_found", "no such job")
        });
    }
    tracing::info!(job_id = id, actor = %actor.0, "admin discarded a job");
    Ok(Json(json!({ "id": id, "state": "discarded" })))
}

/// Bulk redrive body.
#[derive(Debug, Deserialize)]
pub struct BulkRetry {
    state: String,
    kind: Option<String>,
    reason: Option<String>,
    since: Option<DateTime<Utc>>,
    dry_run: bool,
}

async fn bulk_retry(
    State(app): State<App>,
    Extension(actor): Extension<Actor>,
    Json(b): Json<BulkRetry>,
) -> Result<Json<Value>, ApiError> {
    if b.state != "dead" {
        return Err(invalid("state"));
    }
    let kinds: Vec<&str> = crate::jobs::JobKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    let kind = word(&b.kind, "kind", Some(&kinds))?;
    let reason = word(&b.reason, "reason", None)?;
    let client = app.db.get().await.map_err(ApiError::store_unavailable)?;
    let filter = DeadFilter {
        kind,
        reason,
        since: b.since,
    };
    let matched = manage::count_dead(&client, &filter)
        .await
        .map_err(ApiError::store_unavailable)?;
    if b.dry_run {
        return Ok(Json(
            json!({ "dry_run": true, "matched": matched, "retried": 0 }),
        ));
    }
    let now = app.clock.now();
    let note = format!("bulk retried by {}", actor.0);
    let retried = manage::requeue(&client, Which::DeadWhere(&filter), &note, now)
        .await
        .map_err(ApiError::store_unavailable)?
        .len();
    tracing::info!(actor = %actor.0, matched, retried, "admin bulk retry");
    Ok(Json(
        json!({ "dry_run": false, "matched": matched, "retried": retried }),
    ))
}
