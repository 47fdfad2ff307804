//! `GET /api/admin/members?email=` (or `?stripe_customer_id=`, `?user_id=`,
//! `?id=`):
//! one member and ONE timeline merged from everything opsbridge knows about
//! them — timeline lines (state changes, links, support), stored Stripe
//! events with their outcome, outbox jobs (dead ones included) and tickets
//! and AI drafts (when those tables exist). Newest first, capped.
//!
//! Stripe events come from the `events` table (type, outcome, via), so the
//! timeline's own `stripe_event` lines, which repeat them, are left out.
//! The answer escapes `<`, `>` and `&` inside JSON strings, so stored
//! customer text can never appear as raw HTML in a body.

use crate::db::Sql;
use anyhow::Context;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::auth::Actor;
use crate::http::ApiError;
use crate::members::store::{self, Member};
use crate::state::App;

/// Timeline entries returned by default, and at most.
pub const DEFAULT_LIMIT: i64 = 200;
const MAX_LIMIT: i64 = 500;

/// Routes (the admin router adds the auth layer).
pub fn router(app: App) -> Router {
    Router::new()
        .route("/api/admin/members", get(show))
        .with_state(app)
}

/// Query: exactly one identity, and an optional timeline limit.
#[derive(Debug, Deserialize)]
pub struct Lookup {
    email: Option<String>,
    stripe_customer_id: Option<String>,
    user_id: Option<String>,
    /// The member's own id (links from jobs and tickets).
    id: Option<String>,
    limit: Option<i64>,
}

impl Lookup {
    /// The one identity given, as (`store::find` field, value).
    fn identity(&self) -> Result<(&'static str, &str), ApiError> {
        let given: Vec<(&'static str, &str)> = [
            ("email", &self.email),
            ("stripe_customer_id", &self.stripe_customer_id),
            ("user_id", &self.user_id),
            ("id", &self.id),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| (k, v))
        })
        .collect();
        match given.as_slice() {
            [(k, v)] if v.len() <= 320 => Ok((*k, *v)),
            _ => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_query",
                "give exactly one of email, stripe_customer_id, user_id, id",
            )
            .with_details(json!({ "fields": ["email", "stripe_customer_id", "user_id", "id"] }))),
        }
    }
}

/// JSON with `<`, `>`, `&` escaped (see `crate::http::json`).
pub fn escaped_json(value: &Value) -> Response {
    crate::http::escaped_json(axum::http::StatusCode::OK, value)
}

async fn show(
    State(app): State<App>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<Lookup>,
) -> Result<Response, ApiError> {
    let (field, value) = q.identity()?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let found = async {
        let client = app.db.get().await.context("Failed to get a connection")?;
        let Some(m) = store::find(&client, field, value).await? else {
            return anyhow::Ok(None);
        };
        let entries = timeline(&client, m.id, limit).await?;
        Ok(Some((m, entries)))
    }
    .await
    .map_err(ApiError::store_unavailable)?;
    let Some((m, entries)) = found else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "member_not_found",
            "no member with that identity",
        ));
    };
    tracing::info!(actor = %actor.0, member_id = %m.id, by = field, "admin looked up a member");
    let member = member_json(&m, &app);
    Ok(escaped_json(
        &json!({ "member": member, "timeline": entries, "limit": limit }),
    ))
}

/// The member as the console shows it, access computed now.
fn member_json(m: &Member, app: &App) -> Value {
    let access = m.access_at(app.config.past_due_grace_days, app.clock.now());
    json!({
        "id": m.id,
        "email": m.email,
        "name": m.name,
        "state": m.state.as_str(),
        "plan": m.plan,
        "access": access.level.as_str(),
        "access_until": access.until,
        "access_reason": access.reason,
        "needs_support": m.needs_support,
        "stripe_customer_id": m.stripe_customer_id,
        "crm_contact_id": m.crm_contact_id,
        "support_user_id": m.support_user_id,
        "app_user_id": m.app_user_id,
        "sequence": m.sequence,
        "past_due_since": m.past_due_since,
        "current_period_end": m.current_period_end,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
    })
}

/// Timeline lines, Stripe events and jobs of one member.
const CORE: &str = r#"
    SELECT at, 'timeline' AS source, kind, summary, NULL::text AS outcome, data
      FROM timeline WHERE member_id = $1 AND kind <> 'stripe_event'
    UNION ALL
    SELECT created, 'stripe', type, type || ' (' || outcome || ', via ' || via || ')', outcome,
           jsonb_build_object('event_id', event_id, 'via', via, 'received_at', received_at)
      FROM events WHERE member_id = $1
    UNION ALL
    SELECT updated_at, 'job', kind,
           concat_ws(' ', kind, state, '(' || reason || ')',
                     CASE WHEN attempts > 0 THEN 'after ' || attempts || ' attempt(s)' END), state,
           jsonb_build_object('job_id', id, 'state', state, 'reason', reason, 'attempts', attempts,
                              'upstream_status', upstream_status, 'last_error', last_error,
                              'note', note, 'created_at', created_at)
      FROM jobs WHERE member_id = $1"#;

/// Tickets of one member (only when the support migration is applied).
const TICKETS: &str = r#"
    UNION ALL
    SELECT created_at, 'ticket', 'ticket',
           coalesce(nullif(subject, ''), left(message, 140)), status,
           jsonb_build_object('ticket_id', id, 'priority', priority, 'status', status,
                              'needs_human', needs_human, 'tags', tags, 'contact_count', contact_count,
                              'message', left(message, 2000), 'last_contact_at', last_contact_at)
      FROM tickets WHERE member_id = $1"#;

/// AI drafts of the member's tickets (only when the drafts migration is
/// applied): summary, status and who decided; the reply text stays in the
/// drafts section.
const DRAFTS: &str = r#"
    UNION ALL
    SELECT d.created_at, 'draft', 'ai_draft', d.category || ' draft: ' || d.summary, d.status,
           jsonb_build_object('draft_id', d.id, 'ticket_id', d.ticket_id, 'status', d.status,
                              'reasons', d.reasons, 'approved_by', d.approved_by, 'rejected_by', d.rejected_by,
                              'edited_by', d.edited_by)
      FROM ai_drafts d JOIN tickets t ON t.id = d.ticket_id WHERE t.member_id = $1"#;

/// The merged timeline, newest first, at most `limit` entries.
pub async fn timeline(
    client: &impl Sql,
    member_id: Uuid,
    limit: i64,
) -> anyhow::Result<Vec<Value>> {
    let row = client
        .query_one(
            "SELECT to_regclass('tickets') IS NOT NULL, to_regclass('ai_drafts') IS NOT NULL",
            &[],
        )
        .await
        .context("Failed to look for the support tables")?;
    let tickets = if row.get(0) { TICKETS } else { "" };
    let drafts = if row.get(0) && row.get(1) { DRAFTS } else { "" };
    let sql = format!(
        "SELECT jsonb_build_object('at', at, 'source', source, 'kind', kind, 'summary', summary,
                                   'outcome', outcome, 'data', data)
           FROM ({CORE}{tickets}{drafts}) entries ORDER BY at DESC LIMIT $2"
    );
    let rows = client
        .query(&sql, &[&member_id, &limit])
        .await
        .context("Failed to read a member's timeline")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
