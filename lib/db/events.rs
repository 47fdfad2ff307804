//! The `events` table: every inbound event (Stripe, the app) is stored once,
//! `UNIQUE (source, event_id)`, in the same transaction that applies it. Its
//! rows are written here only, one way: [`insert`] (a conflict means the
//! event is already stored, and the caller rolls its attempt back, so
//! Postgres alone keeps exactly-once) and [`record_outcome`].

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::Sql;

/// One event to store.
pub struct NewEvent<'a> {
    /// `stripe` or `app`.
    pub source: &'static str,
    /// The sender's event id (the dedupe key).
    pub event_id: &'a str,
    /// The event type.
    pub event_type: &'a str,
    /// When the sender created it.
    pub created: DateTime<Utc>,
    /// Stripe: live or test mode.
    pub livemode: Option<bool>,
    /// Stripe Connect: the connected account.
    pub account: Option<&'a str>,
    /// Stripe: the API version of the payload.
    pub api_version: Option<&'a str>,
    /// The payload, as jsonb.
    pub payload: &'a Value,
    /// What it did (`applied`, `stale`, ...), or `received` before it is applied.
    pub outcome: &'a str,
    /// How it arrived (`webhook`, `catchup`, `api`).
    pub via: &'a str,
    /// When we received it.
    pub received_at: DateTime<Utc>,
    /// The member it concerned, when known.
    pub member_id: Option<Uuid>,
}

/// Inserts `e`; `None` when an event with its source and id is already stored.
pub async fn insert(tx: &impl Sql, e: &NewEvent<'_>) -> anyhow::Result<Option<i64>> {
    let row = tx
        .query_opt(
            r#"INSERT INTO events (source, event_id, type, created, livemode, account, api_version,
                                   payload, outcome, via, received_at, member_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
               ON CONFLICT (source, event_id) DO NOTHING
               RETURNING id"#,
            &[
                &e.source,
                &e.event_id,
                &e.event_type,
                &e.created,
                &e.livemode,
                &e.account,
                &e.api_version,
                e.payload,
                &e.outcome,
                &e.via,
                &e.received_at,
                &e.member_id,
            ],
        )
        .await
        .context("Failed to store the event")?;
    Ok(row.map(|r| r.get(0)))
}

/// Records what an event did (`applied`, `stale`, `unhandled`, `invalid`)
/// and the member it concerned on its stored row.
pub async fn record_outcome(
    tx: &impl Sql,
    row_id: i64,
    member_id: Option<Uuid>,
    outcome: &str,
) -> anyhow::Result<()> {
    tx.execute(
        "UPDATE events SET member_id = $2, outcome = $3 WHERE id = $1",
        &[&row_id, &member_id, &outcome],
    )
    .await
    .context("Failed to record the event's outcome")?;
    Ok(())
}
