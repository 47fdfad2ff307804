//! `GET /api/cron/watchdog` (Vercel cron, bearer `CRON_SECRET`): one run,
//! answered as `{"open","opened","resolved","rules",...}`; the alerts it
//! enqueued run right after the answer (the crm-sync sweep retries them).
//! `GET /api/admin/incidents?status=open|resolved` (admin router, behind
//! its token): incidents newest first.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::store;
use crate::http::auth::require_bearer;
use crate::http::{ApiError, Background};
use crate::state::App;

/// Incidents listed at most.
pub const LIST_LIMIT: i64 = 100;

/// Routes of the watchdog function.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/api/cron/watchdog", get(watchdog))
        .with_state(app)
}

/// Admin routes (the admin function adds the auth layer).
pub fn admin_router(app: App) -> Router {
    Router::new()
        .route("/api/admin/incidents", get(list))
        .with_state(app)
}

async fn watchdog(
    State(app): State<App>,
    background: Background,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    require_bearer(&headers, app.config.cron_secret.as_ref())?;
    let started = app.clock.now();
    match super::run(&app).await {
        Ok(mut summary) => {
            let body = serde_json::to_value(&summary).unwrap_or_default();
            crate::cronlog::record(&app, "watchdog", started, true, &body).await;
            let alerts = std::mem::take(&mut summary.alerts);
            if !alerts.is_empty() {
                background.spawn(async move { crate::jobs::run_now(&app, alerts).await });
            }
            Ok(Json(body))
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "watchdog run failed");
            crate::cronlog::record(&app, "watchdog", started, false, &json!({})).await;
            Err(ApiError::unavailable("watchdog_failed", 60))
        }
    }
}

/// The listing's filter.
#[derive(Debug, Deserialize)]
pub struct Filter {
    status: Option<String>,
}

async fn list(State(app): State<App>, Query(f): Query<Filter>) -> Result<Json<Value>, ApiError> {
    let status = crate::http::error::one_of(f.status.as_deref(), store::STATUSES, "status")?;
    let listed = async {
        let client = app.db.get().await?;
        store::list(&client, status, LIST_LIMIT).await
    }
    .await
    .map_err(ApiError::store_unavailable)?;
    let incidents: Vec<Value> = listed.iter().map(store::Incident::to_json).collect();
    Ok(Json(json!({ "incidents": incidents })))
}
