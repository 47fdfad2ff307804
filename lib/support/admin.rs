//! Admin tickets API, merged into the admin function behind its token:
//! `GET /api/admin/tickets?status=&limit=` (newest contact first),
//! `GET /api/admin/tickets/{id}` (ticket, member snapshot, every message),
//! `POST /api/admin/tickets/{id}/resolve` (clears the member's
//! `needs_support` once no open ticket is left). JSON answers escape `<`,
//! `>` and `&` (`\u003c` ...), so stored HTML never appears raw in a body.

use crate::db::Sql;
use anyhow::Context;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::admin::auth::Actor;
use crate::http::ApiError;
use crate::members::store as members;
use crate::state::App;

const STATUSES: &[&str] = &["open", "resolved", "merged"];

/// Routes (the admin function adds the auth layer).
pub fn admin_router(app: App) -> Router {
    Router::new()
        .route("/api/admin/tickets", get(list))
        .route("/api/admin/tickets/{id}", get(show))
        .route("/api/admin/tickets/{id}/resolve", post(resolve))
        .with_state(app)
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "ticket_not_found", "no such ticket")
}

fn escaped(value: &Value) -> Response {
    crate::http::escaped_json(StatusCode::OK, value)
}

/// List filters.
#[derive(Debug, Deserialize)]
pub struct Filter {
    status: Option<String>,
    limit: Option<i64>,
}

async fn list(State(app): State<App>, Query(f): Query<Filter>) -> Result<Response, ApiError> {
    let status = crate::http::error::one_of(f.status.as_deref(), STATUSES, "status")?;
    let limit = f.limit.unwrap_or(50).clamp(1, 200);
    let rows = async {
        let client = app.db.get().await?;
        let rows = client
            .query(
                r#"SELECT to_jsonb(t) - 'email_lower' - 'message' || jsonb_build_object('preview', left(t.message, 140))
                   FROM tickets t WHERE ($1::text IS NULL OR t.status = $1)
                   ORDER BY t.last_contact_at DESC, t.id DESC LIMIT $2"#,
                &[&status, &limit],
            )
            .await
            .context("Failed to list tickets")?;
        anyhow::Ok(rows.iter().map(|r| r.get::<_, Value>(0)).collect::<Vec<_>>())
    }
    .await
    .map_err(ApiError::store_unavailable)?;
    Ok(escaped(&json!({ "tickets": rows })))
}

/// One ticket with its messages (contact 1 is the ticket's own).
async fn load(client: &impl Sql, id: Uuid) -> anyhow::Result<Option<Value>> {
    let row = client
        .query_opt(
            r#"SELECT to_jsonb(t) - 'email_lower',
                      jsonb_build_array(jsonb_build_object('contact_n', 1, 'name', t.name, 'subject', t.subject,
                          'message', t.message, 'source', t.source, 'metadata', t.metadata,
                          'received_at', t.created_at))
                      || coalesce((SELECT jsonb_agg(to_jsonb(m) - 'ticket_id' - 'id' ORDER BY m.contact_n)
                                   FROM ticket_messages m WHERE m.ticket_id = t.id), '[]'::jsonb)
               FROM tickets t WHERE t.id = $1"#,
            &[&id],
        )
        .await
        .context("Failed to load a ticket")?;
    Ok(row.map(|r| {
        let mut ticket: Value = r.get(0);
        ticket["messages"] = r.get(1);
        ticket
    }))
}

async fn show(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let ticket = async {
        let client = app.db.get().await?;
        load(&client, id).await
    }
    .await
    .map_err(ApiError::store_unavailable)?
    .ok_or_else(not_found)?;
    Ok(escaped(&json!({ "ticket": ticket })))
}

async fn resolve(
    State(app): State<App>,
    Path(id): Path<String>,
    actor: Option<Extension<Actor>>,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let actor = actor
        .map(|Extension(a)| a.0)
        .unwrap_or_else(|| "admin".into());
    let ticket = resolve_ticket(&app, id, &actor)
        .await
        .map_err(ApiError::store_unavailable)?
        .ok_or_else(not_found)?;
    tracing::info!(ticket_id = %id, actor = %actor, "ticket resolved");
    Ok(escaped(&json!({ "ticket": ticket })))
}

/// Resolves an open ticket (a resolved one is left as is) and answers the
/// ticket; `None` when it does not exist.
async fn resolve_ticket(app: &App, id: Uuid, actor: &str) -> anyhow::Result<Option<Value>> {
    let now = app.clock.now();
    let tx = app.db.begin().await?;
    let row = tx
        .query_opt(
            "SELECT status, member_id FROM tickets WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .context("Failed to lock a ticket")?;
    let Some(row) = row else { return Ok(None) };
    let (status, member_id): (String, Option<Uuid>) = (row.get(0), row.get(1));
    if status == "open" {
        tx.execute(
            "UPDATE tickets SET status = 'resolved', resolved_at = $2, updated_at = $2 WHERE id = $1",
            &[&id, &now],
        )
        .await
        .context("Failed to resolve a ticket")?;
        if let Some(member_id) = member_id {
            clear_flag(&tx, member_id, id, actor, now).await?;
        }
    }
    let ticket = load(&tx, id).await?;
    tx.commit().await.context("Failed to commit a resolve")?;
    Ok(ticket)
}

/// Clears `needs_support` when the member has no other open ticket, and
/// writes the timeline line either way.
async fn clear_flag(
    tx: &impl Sql,
    member_id: Uuid,
    ticket_id: Uuid,
    actor: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let open: i64 = tx
        .query_one(
            "SELECT count(*) FROM tickets WHERE member_id = $1 AND status = 'open'",
            &[&member_id],
        )
        .await
        .context("Failed to count open tickets")?
        .get(0);
    let mut summary = format!("support ticket {ticket_id} resolved");
    if open == 0 {
        if let Some(mut m) = members::lock(tx, member_id).await? {
            if m.needs_support {
                m.needs_support = false;
                members::update(tx, &m, now).await?;
                summary.push_str("; needs_support cleared");
            }
        }
    }
    let line = members::Line {
        kind: "support",
        summary,
        data: json!({ "ticket_id": ticket_id, "actor": actor, "open_tickets": open }),
        at: now,
    };
    members::timeline(tx, member_id, &[line]).await
}
