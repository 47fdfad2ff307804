//! The admin function (`/api/admin/...`, bearer `ADMIN_TOKEN`): the founder's
//! API and console. Each area is its own router, merged here behind one auth
//! layer.

pub mod auth;
pub mod jobs;

use axum::routing::get;
use axum::{middleware, Json, Router};
use serde_json::{json, Value};

use crate::state::App;

/// Routes of the admin function.
pub fn router(app: App) -> Router {
    let api = Router::new()
        .route("/api/admin", get(index))
        .merge(jobs::router(app.clone()))
        .merge(crate::support::admin_router(app.clone()))
        .merge(crate::app::metrics::router(app.clone()))
        .merge(crate::catchup::admin_router(app.clone()));
    api.route_layer(middleware::from_fn_with_state(app, auth::require_admin))
}

/// The API index.
async fn index() -> Json<Value> {
    Json(json!({
        "endpoints": [
            "GET /api/admin/jobs?state=&kind=&reason=&cursor=",
            "GET /api/admin/jobs/{id}",
            "POST /api/admin/jobs/{id}/retry",
            "POST /api/admin/jobs/{id}/discard",
            "POST /api/admin/jobs/retry"
        ]
    }))
}
