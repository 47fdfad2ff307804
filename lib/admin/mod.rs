//! The admin function (`/api/admin/...`, bearer `ADMIN_TOKEN`): the founder's
//! API and console. Each area is its own router, merged here behind one auth
//! layer.

pub mod auth;
pub mod export;
pub mod flags;
pub mod jobs;
pub mod members;
pub mod overview;
pub mod page;

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
        .merge(crate::product::metrics::router(app.clone()))
        .merge(crate::catchup::admin_router(app.clone()))
        .merge(crate::ai::admin_router(app.clone()))
        .merge(members::router(app.clone()))
        .merge(overview::router(app.clone()))
        .merge(flags::router(app.clone()))
        .merge(export::router(app.clone()))
        .merge(crate::watchdog::admin_router(app.clone()));
    // The console page and its assets are static and public; a browser's
    // `GET /api/admin` gets the page, everything else the authenticated API.
    api.route_layer(middleware::from_fn_with_state(app, auth::require_admin))
        .merge(page::router())
        .route_layer(middleware::from_fn(page::console_for_browsers))
}

/// The API index.
async fn index() -> Json<Value> {
    Json(json!({
        "endpoints": [
            "GET /api/admin/jobs?state=&kind=&reason=&cursor=",
            "GET /api/admin/jobs/{id}",
            "POST /api/admin/jobs/{id}/retry",
            "POST /api/admin/jobs/{id}/discard",
            "POST /api/admin/jobs/retry",
            "GET /api/admin/members?email=|stripe_customer_id=|user_id=|id=",
            "GET /api/admin/overview",
            "GET /api/admin/incidents?status=open|resolved",
            "GET /api/admin/flags",
            "POST /api/admin/flags/{name}",
            "GET /api/admin/events/export?since=&until=&cursor=&limit=",
            "GET /api/admin (Accept: text/html): the console"
        ]
    }))
}
