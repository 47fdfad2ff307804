//! A person's decisions on a draft (admin API, behind the admin token):
//! `POST /api/admin/drafts/{id}/approve` records who and when;
//! `/reject` `{"note"}` records who, when and why; `/edit`
//! `{"draft_reply"}` replaces the text before a decision only. An edit goes
//! through the same text guardrails as the model's reply: a `ready` draft
//! whose new text mentions money, refunds, links ... becomes
//! `pending_approval`; a pending draft never becomes ready by an edit.
//! A decided (approved or rejected) draft answers 409 `draft_already_decided`.
//! Approval only marks the draft: sending it stays out of scope.

use crate::db::Sql;
use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::admin::{draft_id, escaped, not_found};
use super::schema::MAX_REPLY_CHARS;
use super::{guard, store};
use crate::admin::auth::Actor;
use crate::http::ApiError;
use crate::state::App;

/// Longest rejection note, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;

fn actor_name(actor: Option<Extension<Actor>>) -> String {
    actor
        .map(|Extension(a)| a.0)
        .unwrap_or_else(|| "admin".into())
}

fn decided() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "draft_already_decided",
        "the draft was already approved or rejected",
    )
}

/// A required, non-blank string field of a JSON body, bounded.
fn text_field(
    body: &Bytes,
    field: &'static str,
    max: usize,
    code: &'static str,
) -> Result<String, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body is not JSON",
        )
    })?;
    match value[field].as_str().map(str::trim) {
        Some(s) if !s.is_empty() && s.chars().count() <= max => Ok(s.to_string()),
        _ => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            format!("{field} must be a non-empty string of at most {max} characters"),
        )
        .with_details(json!({ "field": field }))),
    }
}

/// After an UPDATE that matched nothing: 404 if the draft does not exist,
/// else 409 (it was decided already).
async fn missing_or_decided(client: &impl Sql, id: Uuid) -> Result<ApiError, ApiError> {
    let exists = client
        .query_opt("SELECT 1 FROM ai_drafts WHERE id = $1", &[&id])
        .await
        .context("Failed to look up a draft")
        .map_err(ApiError::store_unavailable)?
        .is_some();
    Ok(if exists { decided() } else { not_found() })
}

/// Runs a decision UPDATE (`params` start with the draft id) and answers
/// with the draft.
async fn decide(
    app: &App,
    id: Uuid,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Response, ApiError> {
    let client = app
        .db
        .get()
        .await
        .context("Failed to get a connection")
        .map_err(ApiError::store_unavailable)?;
    let n = client
        .execute(sql, params)
        .await
        .context("Failed to record a draft decision")
        .map_err(ApiError::store_unavailable)?;
    if n == 0 {
        return Err(missing_or_decided(&client, id).await?);
    }
    let draft = store::find(&client, id)
        .await
        .map_err(ApiError::store_unavailable)?
        .ok_or_else(not_found)?;
    tracing::info!(draft_id = %id, status = %draft["status"], "draft decided");
    Ok(escaped(StatusCode::OK, &json!({ "draft": draft })))
}

/// `POST /api/admin/drafts/{id}/approve`.
pub async fn approve(
    State(app): State<App>,
    Path(id): Path<String>,
    actor: Option<Extension<Actor>>,
) -> Result<Response, ApiError> {
    let id = draft_id(&id)?;
    let (actor, now) = (actor_name(actor), app.clock.now());
    let sql = r#"UPDATE ai_drafts SET status = 'approved', approved_by = $2, approved_at = $3, updated_at = $3
                 WHERE id = $1 AND status IN ('pending_approval', 'ready')"#;
    decide(&app, id, sql, &[&id, &actor, &now]).await
}

/// `POST /api/admin/drafts/{id}/reject` `{"note"}`.
pub async fn reject(
    State(app): State<App>,
    Path(id): Path<String>,
    actor: Option<Extension<Actor>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = draft_id(&id)?;
    let note = text_field(&body, "note", MAX_NOTE_CHARS, "invalid_note")?;
    let (actor, now) = (actor_name(actor), app.clock.now());
    let sql = r#"UPDATE ai_drafts SET status = 'rejected', rejected_by = $2, rejected_at = $3, rejected_note = $4,
                        updated_at = $3
                 WHERE id = $1 AND status IN ('pending_approval', 'ready')"#;
    decide(&app, id, sql, &[&id, &actor, &now, &note]).await
}

/// `POST /api/admin/drafts/{id}/edit` `{"draft_reply"}`.
pub async fn edit(
    State(app): State<App>,
    Path(id): Path<String>,
    actor: Option<Extension<Actor>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = draft_id(&id)?;
    let reply = text_field(&body, "draft_reply", MAX_REPLY_CHARS, "invalid_draft_reply")?;
    let actor = actor_name(actor);
    let now = app.clock.now();
    let draft = async {
        let tx = app.db.begin().await?;
        let row = tx
            .query_opt("SELECT status, reasons FROM ai_drafts WHERE id = $1 FOR UPDATE", &[&id])
            .await
            .context("Failed to lock a draft")?;
        let Some(row) = row else { return anyhow::Ok(Err(not_found())) };
        let (status, mut reasons): (String, Vec<String>) = (row.get(0), row.get(1));
        if status != "pending_approval" && status != "ready" {
            return Ok(Err(decided()));
        }
        for r in guard::text_reasons(&reply, &app.config.ai.link_allowlist) {
            if !reasons.iter().any(|x| x == r) {
                reasons.push(r.to_string());
            }
        }
        let status = if reasons.is_empty() { "ready" } else { "pending_approval" };
        tx.execute(
            r#"UPDATE ai_drafts SET draft_reply = $2, status = $3, reasons = $4, edited_by = $5, edited_at = $6,
                      updated_at = $6 WHERE id = $1"#,
            &[&id, &reply, &status, &reasons, &actor, &now],
        )
        .await
        .context("Failed to edit a draft")?;
        let draft = store::find(&tx, id).await?;
        tx.commit().await.context("Failed to commit an edit")?;
        Ok(draft.ok_or_else(not_found))
    }
    .await
    .map_err(ApiError::store_unavailable)??;
    tracing::info!(draft_id = %id, actor = %actor, status = %draft["status"], "draft edited");
    Ok(escaped(StatusCode::OK, &json!({ "draft": draft })))
}
