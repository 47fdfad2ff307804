//! Saving a member: when anything the app or CRM sees changed (state, plan,
//! access, email, name, user id), the change gets the next `sequence` and
//! enqueues, in the same transaction, ONE app webhook (`webhook-id` = the
//! change id, stable across retries) and ONE CRM upsert.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use crate::db::Sql;

use super::store::{self, Member};
use crate::jobs::{enqueue, JobKind, NewJob};

/// Event type when access changed.
pub const ACCESS_CHANGED: &str = "member.access_changed";
/// Event type for any other change.
pub const UPDATED: &str = "member.updated";

/// Jobs enqueued by a save, for `run_now`.
pub type Enqueued = Vec<(JobKind, i64)>;

/// What the app and the CRM see of a member: a change here is exported.
fn exported(m: &Member) -> [Option<&str>; 6] {
    [
        m.email.as_deref(),
        m.name.as_deref(),
        Some(m.state.as_str()),
        m.plan.as_deref(),
        Some(m.access.as_str()),
        m.app_user_id.as_deref(),
    ]
}

/// The inbound event behind a change (for the payment → access delay).
#[derive(Debug, Clone)]
pub struct Cause {
    /// Event type (`invoice.paid`, `user.signed_up`, ...).
    pub event_type: String,
    /// When the event happened upstream (Stripe `created`).
    pub created: DateTime<Utc>,
}

/// Writes `after` (read as `before`, or just created when `before` is None)
/// and enqueues the change's jobs. Returns the jobs enqueued.
pub async fn save(
    tx: &impl Sql,
    before: Option<&Member>,
    after: &mut Member,
    grace_days: i64,
    now: DateTime<Utc>,
    cause: Option<&Cause>,
) -> anyhow::Result<Enqueued> {
    let access = after.access_at(grace_days, now);
    after.access = access.level.as_str().to_string();
    let changed = match before {
        None => true,
        Some(b) => exported(b) != exported(after),
    };
    let access_changed = before
        .map(|b| b.access != after.access)
        .unwrap_or(after.access != "none");
    let mut jobs = Vec::new();
    if changed {
        after.sequence += 1;
    }
    store::update(tx, after, now).await?;
    if !changed {
        return Ok(jobs);
    }
    let change_id = format!("chg_{}", uuid::Uuid::now_v7().simple());
    let kind = if access_changed {
        ACCESS_CHANGED
    } else {
        UPDATED
    };
    let body = json!({
        "type": kind,
        "id": change_id,
        "created_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": {
            "member_id": after.id,
            "user_id": after.app_user_id,
            "email": after.email,
            "state": after.state.as_str(),
            "plan": after.plan,
            "access": after.access,
            "access_until": access.until.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "sequence": after.sequence,
        }
    });
    let new = |kind: JobKind, key: String, payload: Value| NewJob {
        kind,
        dedupe_key: key,
        payload,
        member_id: Some(after.id),
        sequence: Some(after.sequence),
    };
    let meta = json!({
        "event_type": cause.map(|c| c.event_type.clone()),
        "event_created": cause.map(|c| c.created),
    });
    let webhook = new(
        JobKind::AppWebhook,
        format!("app_webhook:{}:{}", after.id, after.sequence),
        json!({ "body": body, "meta": meta }),
    );
    if let Some(id) = enqueue(tx, webhook, now).await? {
        jobs.push((JobKind::AppWebhook, id));
    }
    let crm = new(
        JobKind::CrmUpsert,
        format!("crm_upsert:{}:{}", after.id, after.sequence),
        json!({ "member_id": after.id, "sequence": after.sequence }),
    );
    if let Some(id) = enqueue(tx, crm, now).await? {
        jobs.push((JobKind::CrmUpsert, id));
    }
    let summary = format!(
        "{} → {} ({} access)",
        before.map(|b| b.state.as_str()).unwrap_or("new"),
        after.state.as_str(),
        after.access
    );
    store::timeline(
        tx,
        after.id,
        "state",
        &summary,
        json!({ "sequence": after.sequence, "change_id": change_id }),
        now,
    )
    .await?;
    Ok(jobs)
}
