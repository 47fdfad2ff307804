//! Storing one app event, the same way Stripe events are stored: a Redis
//! claim on `app_event:<id>` (fast path; a second delivery while the first
//! is in flight is refused), then ONE Postgres transaction (the `events` row
//! with source `app`, the member, its outbox jobs), then the claim becomes a
//! `done` marker kept 30 days. `UNIQUE (source, event_id)` is the durable
//! backstop: with Redis down, Postgres alone keeps exactly-once.

use crate::db::Sql;
use anyhow::Context;
use serde_json::json;
use uuid::Uuid;

use super::events::{AppEvent, AppEventType};
use crate::members::change::Enqueued;
use crate::members::store;
use crate::members::{self, Identity, Member, MemberState};
use crate::state::App;

/// A claim lives this long while an event is processed (longer than the
/// request timeout; released on failure).
pub const CLAIM_TTL_MS: u64 = 12_000;
/// The completed marker: the app's ids are deduplicated at least 30 days
/// here (and for ever by the `events` row).
pub const DONE_TTL_MS: u64 = 30 * 24 * 3600 * 1000;

/// A stored (or already stored) event.
#[derive(Debug)]
pub struct Ingested {
    /// The id was seen before.
    pub duplicate: bool,
    /// The member it concerns.
    pub member_id: Uuid,
    /// That member's state now.
    pub state: MemberState,
    /// Jobs enqueued (to run right after the response).
    pub jobs: Enqueued,
}

/// Why an event was not stored. Nothing was written in any case.
#[derive(Debug, thiserror::Error)]
pub enum MemberEventError {
    /// The same id is being processed right now: retry later.
    #[error("the same event is in flight")]
    InFlight,
    /// The email belongs to another member (another account): never moved.
    #[error("the email belongs to another member")]
    EmailTaken,
    /// Postgres failed: retry later.
    #[error("could not store the event: {0:#}")]
    Store(anyhow::Error),
}

impl From<anyhow::Error> for MemberEventError {
    fn from(e: anyhow::Error) -> Self {
        Self::Store(e)
    }
}

/// Ingests one valid event.
pub async fn ingest(app: &App, event: &AppEvent) -> Result<Ingested, MemberEventError> {
    let key = format!("app_event:{}", event.id.as_str());
    let token = format!("inflight:{}", Uuid::new_v4().simple());
    let claimed = match app.kv.set_nx(&key, &token, CLAIM_TTL_MS).await {
        Ok(true) => true,
        Ok(false) => match app.kv.get(&key).await {
            Ok(Some(v)) if v == "done" => match stored(app, event).await? {
                Some(dup) => return Ok(dup),
                None => false,
            },
            Ok(Some(_)) => return Err(MemberEventError::InFlight),
            _ => false,
        },
        Err(e) => {
            tracing::warn!(event_id = event.id.as_str(), error = %e, "redis unavailable: Postgres alone decides (degraded)");
            false
        }
    };
    let result = store(app, event).await;
    match &result {
        Ok(_) => {
            if let Err(e) = app.kv.set(&key, "done", DONE_TTL_MS).await {
                tracing::warn!(event_id = event.id.as_str(), error = %e, "could not mark the app event done in redis");
            }
        }
        Err(_) if claimed => {
            let _ = app.kv.del_if_eq(&key, &token).await;
        }
        Err(_) => {}
    }
    result
}

/// The answer for an id already stored, if it is.
async fn stored(app: &App, event: &AppEvent) -> anyhow::Result<Option<Ingested>> {
    let client = app.db.get().await.context("Failed to get a connection")?;
    duplicate(&client, event).await
}

async fn duplicate(
    client: &impl crate::db::Sql,
    event: &AppEvent,
) -> anyhow::Result<Option<Ingested>> {
    let found = crate::members::lookup::of_event(client, "app", event.id.as_str()).await?;
    Ok(found.map(|(member_id, state)| Ingested {
        duplicate: true,
        member_id,
        state,
        jobs: Vec::new(),
    }))
}

async fn store(app: &App, event: &AppEvent) -> Result<Ingested, MemberEventError> {
    let now = app.clock.now();
    let tx = app.db.begin().await.context("Failed to get a connection")?;
    let payload = event.to_json();
    let new = crate::db::events::NewEvent {
        source: "app",
        event_id: event.id.as_str(),
        event_type: event.kind.as_str(),
        created: event.occurred_at.unwrap_or(now),
        livemode: None,
        account: None,
        api_version: None,
        payload: &payload,
        outcome: "received",
        via: "api",
        received_at: now,
        member_id: None,
    };
    let inserted = crate::db::events::insert(&tx, &new)
        .await
        .context("Failed to store the app event")?;
    let Some(row_id) = inserted else {
        return duplicate(&tx, event)
            .await?
            .ok_or_else(|| anyhow::anyhow!("stored app event has no member").into());
    };
    let (before, mut member, outcome) = member_for(&tx, event, now).await?;
    let grace = app.config.past_due_grace_days;
    let change = members::change::prepare(before.as_ref(), &mut member, grace, now, None);
    let line = store::Line {
        kind: "app_event",
        summary: format!("{} ({outcome})", event.kind.as_str()),
        data: json!({ "event_id": event.id.as_str(), "source": event.source }),
        at: now,
    };
    // Independent writes, sent together (pipelined): one round trip.
    let (jobs, ()) = tokio::try_join!(
        change.write(&tx, &member, now, vec![line]),
        crate::db::events::record_outcome(&tx, row_id, Some(member.id), outcome),
    )?;
    tx.commit().await.context("Failed to commit an app event")?;
    tracing::info!(event_id = event.id.as_str(), event_type = event.kind.as_str(), member_id = %member.id, outcome, "app event stored");
    Ok(Ingested {
        duplicate: false,
        member_id: member.id,
        state: member.state,
        jobs,
    })
}

type Resolved = (Option<Member>, Member, &'static str);

/// The member the event concerns, as it was (`None` when just created) and
/// with the event applied, plus the outcome (`applied` or `stale`).
async fn member_for(
    tx: &impl Sql,
    event: &AppEvent,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Resolved, MemberEventError> {
    let identity = Identity {
        user_id: event.user_id.as_ref().map(|u| u.as_str().to_string()),
        email: Some(event.email.as_str().to_string()),
        name: event.name.clone(),
        customer_id: None,
    };
    members::link::lock(tx, &identity).await?;
    if let Some(user_id) = &identity.user_id {
        if let Some(found) = known_user(tx, user_id, event).await? {
            let before = found.clone();
            let mut after = found;
            let outcome = if newest_for(tx, &after, event).await? {
                apply_profile(&mut after, event);
                "applied"
            } else {
                "stale"
            };
            return Ok((Some(before), after, outcome));
        }
    }
    let resolved = members::resolve(tx, &identity, now)
        .await?
        .ok_or_else(|| anyhow::anyhow!("an app event always has an email"))?;
    if identity.user_id.is_some() && resolved.member.app_user_id != identity.user_id {
        return Err(MemberEventError::EmailTaken);
    }
    // `resolve` fills missing identities in memory only: the stored row is
    // the true "before", so linking a user id counts as a change.
    Ok((resolved.before, resolved.member, "applied"))
}

/// `user.updated` sets the email and name; a repeated signup or a lead only
/// fills what the member lacks (first contact does not rewrite a profile).
fn apply_profile(m: &mut Member, event: &AppEvent) {
    let email = Some(event.email.as_str().to_string());
    if event.kind == AppEventType::Updated {
        m.email = email;
        m.name = event.name.clone().or(m.name.take());
    } else {
        m.email = m.email.take().or(email);
        m.name = m.name.take().or(event.name.clone());
    }
}

/// The live member holding `user_id`, locked; `EmailTaken` when the event's
/// email belongs to another live member that is, or may be, someone else.
async fn known_user(
    tx: &impl Sql,
    user_id: &str,
    event: &AppEvent,
) -> Result<Option<Member>, MemberEventError> {
    let found =
        crate::members::lookup::lock_user_or_email(tx, user_id, event.email.as_str()).await?;
    let by_user = found
        .iter()
        .find(|m| m.app_user_id.as_deref() == Some(user_id));
    let holder = found
        .iter()
        .find(|m| m.app_user_id.as_deref() != Some(user_id));
    match (by_user, holder) {
        (Some(_), Some(_)) => Err(MemberEventError::EmailTaken),
        (None, Some(h)) if h.app_user_id.is_some() => Err(MemberEventError::EmailTaken),
        (by_user, _) => Ok(by_user.cloned()),
    }
}

/// Whether `event` is not older than the newest app event already applied to
/// `m` (so a late `user.updated` never overwrites a newer email).
async fn newest_for(tx: &impl Sql, m: &Member, event: &AppEvent) -> anyhow::Result<bool> {
    let Some(at) = event.occurred_at else {
        return Ok(true);
    };
    let newer_exists: bool = tx
        .query_one(
            r#"SELECT EXISTS (SELECT 1 FROM events WHERE source = 'app' AND member_id = $1
                                AND outcome = 'applied' AND created > $2)"#,
            &[&m.id, &at],
        )
        .await
        .context("Failed to check app event order")?
        .get(0);
    Ok(!newer_exists)
}
