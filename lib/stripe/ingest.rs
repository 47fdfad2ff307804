//! One Stripe event in a transaction of its own, for what the group commit
//! ([`super::writer`], [`super::batch`]) hands over after settling the
//! event's Redis claim: merges, deleted customers, and every event of a
//! batch that failed. ONE Postgres transaction (event row + member + outbox
//! jobs), then the claim becomes a completed marker. The
//! `UNIQUE (source, event_id)` constraint is the durable backstop: with
//! Redis down, Postgres alone keeps exactly-once.

use uuid::Uuid;

use chrono::{DateTime, Utc};

use super::apply::{apply, Applied};
use super::event::{fact, RawEvent};
use crate::db::events::Payload;
use crate::db::{Sql, Tx};
use crate::members::change::Enqueued;
use crate::state::App;

/// A claim lives this long while an event is processed (longer than the
/// request timeout, so it cannot lapse mid-write; released on failure).
pub const CLAIM_TTL_MS: u64 = 12_000;
/// The completed marker outlives Stripe's 3-day retry window.
pub const DONE_TTL_MS: u64 = 80 * 3600 * 1000;

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Stripe's webhook delivery.
    Webhook,
    /// The catch-up cron (Events API).
    Catchup,
}

impl Via {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Catchup => "catchup",
        }
    }
}

/// An ingested event.
#[derive(Debug)]
pub struct Ingested {
    /// Already stored before this delivery.
    pub duplicate: bool,
    /// Member concerned, if any.
    pub member_id: Option<Uuid>,
    /// Jobs enqueued (to run right after the response).
    pub jobs: Enqueued,
}

/// Why an event was not ingested.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The same event is being processed right now: retry later.
    #[error("the same event is in flight")]
    InFlight,
    /// Postgres failed: nothing was written; retry later.
    #[error("could not store the event: {0:#}")]
    Store(anyhow::Error),
}

/// Stores an event whose Redis claim is settled (`token`: the claim we
/// hold, if any), then turns the claim into the completed marker, or
/// releases it when nothing was stored.
pub(super) async fn finish(
    app: &App,
    event: &RawEvent,
    payload: &Payload,
    via: Via,
    token: Option<&str>,
) -> Result<Ingested, IngestError> {
    let key = format!("stripe:{}", event.id);
    match store(app, event, payload, via).await {
        Ok(ingested) => {
            if let Err(e) = app.kv.set(&key, "done", DONE_TTL_MS).await {
                tracing::warn!(event_id = %event.id, error = %e, "could not mark the event done in redis");
            }
            Ok(ingested)
        }
        Err(e) => {
            if let Some(token) = token {
                let _ = app.kv.del_if_eq(&key, token).await;
            }
            Err(IngestError::Store(e))
        }
    }
}

async fn store(
    app: &App,
    event: &RawEvent,
    payload: &Payload,
    via: Via,
) -> anyhow::Result<Ingested> {
    let now = app.clock.now();
    let parsed = fact(event);
    let row = EventRow {
        event,
        payload,
        via,
        received_at: now,
    };
    let tx = Tx::new(app.db.get().await?);
    let applied = match &parsed {
        Ok(f) => apply(&tx, &row, f, app.config.past_due_grace_days, now).await?,
        Err(e) => {
            tracing::warn!(event_id = %event.id, event_type = %event.event_type, error = %e, "event stored but not applied");
            Applied {
                stored: row.insert(&tx, None, "invalid").await?,
                outcome: "invalid",
                ..Default::default()
            }
        }
    };
    if !applied.stored {
        // Already stored (Redis was down or lost the marker): undo this
        // attempt whole; the first delivery's effects stand.
        let client = tx.rollback().await?;
        let member_id = client
            .query_opt(
                "SELECT member_id FROM events WHERE source = 'stripe' AND event_id = $1",
                &[&event.id],
            )
            .await?
            .and_then(|r| r.get(0));
        return Ok(Ingested {
            duplicate: true,
            member_id,
            jobs: Vec::new(),
        });
    }
    tx.commit().await?;
    tracing::info!(event_id = %event.id, event_type = %event.event_type, member_id = ?applied.member_id, outcome = applied.outcome, via = via.as_str(), "stripe event stored");
    Ok(Ingested {
        duplicate: false,
        member_id: applied.member_id,
        jobs: applied.jobs,
    })
}

/// The `events` row of one Stripe event. It is written LAST in the ingest
/// transaction, with what the event did, pipelined with the event's other
/// writes (one statement instead of an insert and an update). A conflict on
/// `UNIQUE (source, event_id)` means the event is already stored: the caller
/// rolls the whole attempt back, so Postgres alone still keeps exactly-once.
pub struct EventRow<'a> {
    /// The event.
    pub event: &'a RawEvent,
    /// Its payload, stored as jsonb.
    pub payload: &'a Payload,
    /// Webhook or catch-up.
    pub via: Via,
    /// When we received it.
    pub received_at: DateTime<Utc>,
}

impl EventRow<'_> {
    /// Inserts the row with its outcome and member; false when the event was
    /// already stored.
    pub async fn insert(
        &self,
        tx: &impl Sql,
        member_id: Option<Uuid>,
        outcome: &str,
    ) -> anyhow::Result<bool> {
        let inserted = crate::db::events::insert(tx, &self.new_event(member_id, outcome)).await?;
        Ok(inserted.is_some())
    }

    /// The row to write, with its outcome and member.
    pub fn new_event<'b>(
        &'b self,
        member_id: Option<Uuid>,
        outcome: &'b str,
    ) -> crate::db::events::NewEvent<'b> {
        let e = self.event;
        crate::db::events::NewEvent {
            source: "stripe",
            event_id: &e.id,
            event_type: &e.event_type,
            created: e.created_at(),
            livemode: Some(e.livemode),
            account: e.account.as_deref(),
            api_version: e.api_version.as_deref(),
            payload: self.payload,
            outcome,
            via: self.via.as_str(),
            received_at: self.received_at,
            member_id,
        }
    }
}
