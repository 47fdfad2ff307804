//! The health router.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::state::App;

/// Routes of the health function.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/api/health", get(health))
        .with_state(app)
}

/// 200 when every check passes, 503 with the failing checks otherwise.
async fn health(State(app): State<App>) -> impl IntoResponse {
    let report = super::run_checks(&app).await;
    let status = if report.ok() {
        StatusCode::OK
    } else {
        tracing::warn!(failing = ?report.failing(), "health degraded");
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report.to_json()))
}
