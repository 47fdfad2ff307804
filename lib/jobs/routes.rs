//! `GET /api/cron/crm-sync` (Vercel cron, bearer `CRON_SECRET`): the retry
//! sweep. Drains due outbox jobs of every kind (CRM first) within a time
//! budget below the function's `maxDuration`, rescues expired leases,
//! reconciles stale CRM copies, prunes, and answers the summary.

use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::http::auth::require_bearer;
use crate::http::ApiError;
use crate::state::App;

/// Sweep budget: the function's `maxDuration` is 60 s; stop claiming at 45 s
/// so the batch in hand and the summary finish in time.
pub const SWEEP_BUDGET_MS: u64 = 45_000;

/// Routes of the crm-sync function.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/api/cron/crm-sync", get(crm_sync))
        .with_state(app)
}

async fn crm_sync(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&headers, app.config.cron_secret.as_ref())?;
    let started = app.clock.now();
    match crate::jobs::sweep(&app, Duration::from_millis(SWEEP_BUDGET_MS)).await {
        Ok(summary) => {
            let body = serde_json::to_value(&summary).unwrap_or_default();
            crate::cronlog::record(&app, "crm-sync", started, true, &body).await;
            Ok(Json(body))
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "sweep failed");
            crate::cronlog::record(&app, "crm-sync", started, false, &serde_json::json!({})).await;
            Err(ApiError::unavailable("sweep_failed", 60))
        }
    }
}
