//! Kill switches over HTTP: `GET /api/admin/flags` (every integration, with
//! who flipped it, when and why, and whether it is configured at all) and
//! `POST /api/admin/flags/{name}` `{"enabled": bool, "note"?}`. The actor is
//! the authenticated admin credential, the time the server's clock. Pausing
//! holds the integration's jobs; resuming lets the sweep drain them.

use anyhow::Context;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Actor;
use crate::flags::{self, Flag};
use crate::http::ApiError;
use crate::state::App;

/// Longest note kept.
pub const MAX_NOTE_CHARS: usize = 500;

/// Routes (the admin router adds the auth layer).
pub fn router(app: App) -> Router {
    Router::new()
        .route("/api/admin/flags", get(list))
        .route("/api/admin/flags/{name}", post(set))
        .with_state(app)
}

/// `POST` body.
#[derive(Debug, Deserialize)]
pub struct SetFlag {
    enabled: bool,
    #[serde(default)]
    note: Option<String>,
}

/// A flag as JSON, with whether its integration has credentials.
fn flag_json(f: &Flag, app: &App) -> Value {
    let configured = app
        .config
        .integrations()
        .into_iter()
        .find(|(name, _)| *name == f.name)
        .map(|(_, on)| on);
    json!({
        "name": f.name,
        "enabled": f.enabled,
        "updated_by": f.updated_by,
        "note": f.note,
        "updated_at": f.updated_at,
        "configured": configured,
    })
}

async fn list(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    let all = async {
        let client = app.db.get().await.context("Failed to get a connection")?;
        flags::all(&client).await
    }
    .await
    .map_err(ApiError::store_unavailable)?;
    let flags: Vec<Value> = all.iter().map(|f| flag_json(f, &app)).collect();
    Ok(Json(json!({ "flags": flags })))
}

fn parse(body: &[u8]) -> Result<SetFlag, ApiError> {
    serde_json::from_slice(body).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "expected {\"enabled\": true|false, \"note\"?: string}",
        )
    })
}

async fn set(
    State(app): State<App>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    if !flags::INTEGRATIONS.contains(&name.as_str()) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "flag_not_found",
            "no such switch",
        ));
    }
    let b = parse(&body)?;
    let note: String = b
        .note
        .unwrap_or_default()
        .chars()
        .take(MAX_NOTE_CHARS)
        .collect();
    let now = app.clock.now();
    let flag = async {
        let client = app.db.get().await.context("Failed to get a connection")?;
        flags::set(&client, &name, b.enabled, &actor.0, &note, now).await?;
        let all = flags::all(&client).await?;
        anyhow::Ok(all.into_iter().find(|f| f.name == name))
    }
    .await
    .map_err(ApiError::store_unavailable)?;
    tracing::info!(actor = %actor.0, flag = %name, enabled = b.enabled, "admin set a kill switch");
    let flag = flag.map(|f| flag_json(&f, &app)).unwrap_or(Value::Null);
    Ok(Json(json!({ "flag": flag })))
}
