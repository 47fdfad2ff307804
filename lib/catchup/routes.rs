//! HTTP: `GET /api/cron/stripe-catchup` (Vercel cron, bearer `CRON_SECRET`)
//! and, merged into the admin function behind its auth, `GET` (status) and
//! `POST /api/admin/stripe/catchup` (a chosen range, or a dry run that only
//! counts what is missing).

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::run::{self, Sink, Summary, RETENTION_DAYS};
use super::status;
use crate::admin::auth::Actor;
use crate::http::auth::require_bearer;
use crate::http::ApiError;
use crate::state::App;

/// The cron's name in `cron_runs`.
pub const CRON_NAME: &str = "stripe-catchup";
/// A manual run's budget: the admin function's `maxDuration` is 30 s.
pub const ADMIN_BUDGET_MS: u64 = 25_000;

/// Routes of the stripe-catchup cron function.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/api/cron/stripe-catchup", get(cron))
        .with_state(app)
}

/// Admin routes (the admin router adds the auth layer).
pub fn admin_router(app: App) -> Router {
    Router::new()
        .route("/api/admin/stripe/catchup", get(show).post(manual))
        .with_state(app)
}

async fn cron(State(app): State<App>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    require_bearer(&headers, app.config.cron_secret.as_ref())?;
    let started = app.clock.now();
    let summary = match run::catch_up(&app).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "stripe catch-up failed");
            crate::cronlog::record(&app, CRON_NAME, started, false, &json!({})).await;
            return Err(ApiError::unavailable("store_unavailable", 60));
        }
    };
    let Some(s) = summary else {
        let body = json!({ "status": "not_configured" });
        crate::cronlog::record(&app, CRON_NAME, started, true, &body).await;
        return Ok(Json(body));
    };
    let body = serde_json::to_value(&s).unwrap_or_default();
    let ok = !matches!(s.status, "auth_failed" | "store_failed");
    crate::cronlog::record(&app, CRON_NAME, started, ok, &body).await;
    if s.status == "store_failed" {
        return Err(ApiError::unavailable("store_unavailable", 60));
    }
    Ok(Json(body))
}

async fn show(State(app): State<App>) -> Json<Value> {
    let check = status::health_check(&app).await;
    let mut body = Value::Object(check.detail);
    body["ok"] = check.ok.into();
    Json(body)
}

/// `POST /api/admin/stripe/catchup` body.
#[derive(Debug, Deserialize)]
pub struct Manual {
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    dry_run: bool,
}

/// The range to list: `until` defaults to (and stops at) now; `since` is
/// clamped to Stripe's 30-day retention.
fn range(b: &Manual, now: DateTime<Utc>) -> Result<(i64, i64, bool), ApiError> {
    let until = b.until.unwrap_or(now).min(now).timestamp();
    let oldest = now.timestamp() - RETENTION_DAYS * 86_400;
    let since = b.since.timestamp().max(oldest);
    if since > until {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_range",
            "since must be before until and within the last 30 days",
        ));
    }
    Ok((since, until, b.since.timestamp() < oldest))
}

async fn manual(
    State(app): State<App>,
    Extension(actor): Extension<Actor>,
    Json(b): Json<Manual>,
) -> Result<Json<Value>, ApiError> {
    let Some(api) = app.config.stripe_api.clone() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_configured",
            "STRIPE_SECRET_KEY is not set",
        ));
    };
    let (since, until, clamped) = range(&b, app.clock.now())?;
    let mut sink = if b.dry_run {
        Sink::DryRun {
            missing: 0,
            sample: Vec::new(),
        }
    } else {
        Sink::Ingest
    };
    let budget = Duration::from_millis(ADMIN_BUDGET_MS);
    let s = run::catch_up_range(&app, &api, (since, until), budget, &mut sink).await;
    tracing::info!(actor = %actor.0, dry_run = b.dry_run, since, until, status = s.status, "admin stripe catch-up");
    match s.status {
        "auth_failed" => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "stripe_auth_failed",
            "Stripe refused STRIPE_SECRET_KEY",
        )),
        "store_failed" => Err(ApiError::unavailable("store_unavailable", 10)),
        _ => Ok(Json(answer(&s, &sink, (since, until), clamped))),
    }
}

fn answer(s: &Summary, sink: &Sink, (since, until): (i64, i64), clamped: bool) -> Value {
    let mut body = json!({
        "since": DateTime::from_timestamp(since, 0),
        "until": DateTime::from_timestamp(until, 0),
        "since_clamped": clamped,
        "complete": s.status == "ok",
    });
    if let Sink::DryRun { missing, sample } = sink {
        body["dry_run"] = true.into();
        body["listed"] = s.fetched.into();
        body["missing"] = (*missing).into();
        body["missing_sample"] = json!(sample);
        body["pages"] = s.pages.into();
        body["duration_ms"] = s.duration_ms.into();
        body["stopped"] = json!(s.stopped);
    } else if let (Value::Object(b), Ok(Value::Object(summary))) =
        (&mut body, serde_json::to_value(s))
    {
        b.insert("dry_run".into(), false.into());
        b.extend(summary);
    }
    body
}
