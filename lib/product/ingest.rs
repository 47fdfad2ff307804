//! One app event in a transaction of its own, for what the group commit
//! ([`super::writer`], [`super::batch`]) hands over after settling the
//! event's Redis claim on `app_event:<id>`: every event of a batch that
//! failed, and one whose identities several members hold. ONE Postgres
//! transaction (the `events` row with source `app`, the member, its outbox
//! jobs), then the claim becomes a `done` marker kept 30 days.
//! `UNIQUE (source, event_id)` is the durable backstop: with Redis down,
//! Postgres alone keeps exactly-once.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::batch::STORED_SQL;
use super::decide::{decide, identity, Decided, Newest, Params, NEWEST_SQL};
use super::events::AppEvent;
use crate::db::{events, Sql};
use crate::members::change::Enqueued;
use crate::members::{self, store, MemberState};
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

/// Stores an event whose Redis claim is settled (`token`: the claim we
/// hold, if any), then turns the claim into the completed marker, or
/// releases it when nothing was stored.
pub(super) async fn finish(
    app: &App,
    event: &AppEvent,
    token: Option<&str>,
) -> Result<Ingested, MemberEventError> {
    let key = format!("app_event:{}", event.id.as_str());
    let result = store(app, event).await;
    match (&result, token) {
        (Ok(_), _) => {
            if let Err(e) = app.kv.set(&key, "done", DONE_TTL_MS).await {
                tracing::warn!(event_id = event.id.as_str(), error = %e, "could not mark the app event done in redis");
            }
        }
        (Err(_), Some(token)) => {
            let _ = app.kv.del_if_eq(&key, token).await;
        }
        (Err(_), None) => {}
    }
    result
}

/// The answer for an event already stored, from a row of [`STORED_SQL`].
pub(super) fn duplicate(row: &tokio_postgres::Row) -> Ingested {
    Ingested {
        duplicate: true,
        member_id: row.get(1),
        state: MemberState::parse(row.get(2)).unwrap_or(MemberState::Lead),
        jobs: Vec::new(),
    }
}

/// The timeline line of an app event.
pub(super) fn line(event: &AppEvent, outcome: &str, now: DateTime<Utc>) -> store::Line {
    store::Line {
        kind: "app_event",
        summary: format!("{} ({outcome})", event.kind.as_str()),
        data: json!({ "event_id": event.id.as_str(), "source": event.source }),
        at: now,
    }
}

/// The `events` row of an app event, with what it did.
pub(super) fn new_event<'a>(
    event: &'a AppEvent,
    payload: &'a events::Payload,
    member_id: Uuid,
    outcome: &'a str,
    now: DateTime<Utc>,
) -> events::NewEvent<'a> {
    events::NewEvent {
        source: "app",
        event_id: event.id.as_str(),
        event_type: event.kind.as_str(),
        created: event.occurred_at.unwrap_or(now),
        livemode: None,
        account: None,
        api_version: None,
        payload,
        outcome,
        via: "api",
        received_at: now,
        member_id: Some(member_id),
    }
}

/// Round trip 1 locks the identities and reads the member, whether the id
/// is stored and the newest applied event; then the decision in memory
/// (the batch's), and the writes with the `events` row (a conflict there
/// means a concurrent delivery stored it first: a duplicate).
async fn store(app: &App, event: &AppEvent) -> Result<Ingested, MemberEventError> {
    let now = app.clock.now();
    // Keyed: the lookup is a cached statement (see `Tx::keyed`).
    let tx = app
        .db
        .get()
        .await
        .context("Failed to get a connection")?
        .begin_keyed();
    let id = identity(event);
    let ids = vec![event.id.as_str()];
    let users: Vec<String> = id.user_id.iter().cloned().collect();
    let (by_id, by_user): (Params<'_>, Params<'_>) = ([&ids], [&users]);
    let stored = tx.query(STORED_SQL, &by_id);
    let newest = tx.query(NEWEST_SQL, &by_user);
    let (found, (stored, newest)) =
        members::link::lock_and_find_all(&tx, &[&id], async { tokio::try_join!(stored, newest) })
            .await?;
    // Nothing to write (stored already, or refused): roll back, which
    // keeps the connection (a `Tx` dropped open closes it).
    if let Some(row) = stored.first() {
        let _ = tx.rollback().await;
        return Ok(duplicate(row));
    }
    let newest: Newest = newest.iter().map(|r| (r.get(0), r.get(1))).collect();
    let decided = match decide(event, &found, &newest, now) {
        Decided::Write(w) => Some((w.before, w.member, w.outcome)),
        Decided::EmailTaken => None,
        // Merges: the proven resolve, then the same user id rule.
        Decided::Several => {
            let r = members::resolve(&tx, &id, now)
                .await?
                .ok_or_else(|| anyhow::anyhow!("an app event always has an email"))?;
            let taken = id.user_id.is_some() && r.member.app_user_id != id.user_id;
            (!taken).then_some((r.before, r.member, "applied"))
        }
    };
    let Some((before, mut member, outcome)) = decided else {
        let _ = tx.rollback().await;
        return Err(MemberEventError::EmailTaken);
    };
    let grace = app.config.past_due_grace_days;
    let change = members::change::prepare(before.as_ref(), &mut member, grace, now, None);
    let payload = events::Payload::of(&event.to_json());
    let row = new_event(event, &payload, member.id, outcome, now);
    // Independent writes, sent together (pipelined): one round trip.
    let (jobs, inserted) = tokio::try_join!(
        change.write(&tx, &member, now, vec![line(event, outcome, now)]),
        events::insert(&tx, &row),
    )?;
    if inserted.is_none() {
        // Stored meanwhile by a concurrent delivery (Redis down): undo this
        // attempt whole; the first delivery's answer stands.
        let client = tx.rollback().await.context("Failed to roll back")?;
        let row = client
            .query_one(STORED_SQL, &[&ids])
            .await
            .context("Failed to read a stored app event")?;
        return Ok(duplicate(&row));
    }
    tx.commit().await.context("Failed to commit an app event")?;
    tracing::info!(event_id = event.id.as_str(), event_type = event.kind.as_str(), member_id = %member.id, outcome, "app event stored");
    Ok(Ingested {
        duplicate: false,
        member_id: member.id,
        state: member.state,
        jobs,
    })
}
