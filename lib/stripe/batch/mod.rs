//! One transaction for many Stripe events: the write of the group commit
//! ([`super::writer`] forms the batches). Per batch, whatever its size:
//!
//! 1. ONE round trip to each store, concurrently: Redis claims every event
//!    (`SET NX` + `GET`, pipelined), while Postgres gets `BEGIN`, the
//!    identity locks of all events in one sorted order, one lookup of the
//!    members holding them and one look at the `events` already stored.
//! 2. Each event is decided in memory ([`super::apply::decide`], the same
//!    code as one event alone), then ONE round trip carries the writes as
//!    set-based statements (members inserted, members updated, jobs,
//!    timeline, events) with `COMMIT` right behind them.
//!
//! The answer goes out after the commit; the Redis done markers after the
//! answer. Same rules as one event alone: the writer never puts two events
//! that share an identity (or an id) in one batch, so each member sees its
//! events one transaction after the other, in arrival order, and the
//! ordering rule (Stripe `created`, then id) settles stale ones. Anything
//! unusual (a merge, a deleted customer, two events finding one member by
//! different identities) and any failure of the batch goes the proven way:
//! event by event, each in its own transaction (`ingest::finish`),
//! so one bad event never fails the others.

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use uuid::Uuid;

mod claims;
mod writes;

pub use claims::STORED_SQL;

use super::apply::Decision;
use super::event::{Fact, RawEvent};
use super::ingest::{finish, EventRow, IngestError, Ingested, Via, DONE_TTL_MS};
use crate::db::events::{self, Payload};
use crate::state::App;
use claims::first_round_trip;
use writes::second_round_trip;

/// One verified event waiting for its batch.
pub struct Item {
    /// The event.
    pub event: RawEvent,
    /// Its payload (stored as jsonb).
    pub payload: Payload,
    /// Webhook or catch-up.
    pub via: Via,
    /// What it means, or why it cannot be applied.
    pub fact: Result<Fact, String>,
    /// Where its answer goes.
    pub reply: oneshot::Sender<Result<Ingested, IngestError>>,
}

impl Item {
    /// What no other event of its batch may share: its id and the lock keys
    /// of its identities.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = vec![format!("evt:{}", self.event.id)];
        if let Ok(f) = &self.fact {
            keys.extend(f.identity().lock_keys());
        }
        keys
    }

    fn answer(self, result: Result<Ingested, IngestError>) {
        // The request may have gone (client gone): the work stands.
        let _ = self.reply.send(result);
    }
}

/// An event of the batch and the Redis claim we hold for it, if any.
struct Entry {
    item: Item,
    token: Option<String>,
}

/// Where an entry goes after the first round trip.
enum Route {
    /// Into the batch's writes.
    Write(Box<Decision>),
    /// Settled: answered at once (a duplicate, or in flight elsewhere).
    Answer(Result<Ingested, IngestError>),
    /// On its own, in a transaction of its own (merges, deleted customers,
    /// two events finding one member by different identities).
    Alone,
}

/// Runs one batch (events with pairwise distinct [`Item::keys`]).
pub async fn run(app: &App, items: Vec<Item>) {
    let now = app.clock.now();
    let verified = items.iter().any(|i| i.via == Via::Webhook);
    let entries = items
        .into_iter()
        .map(|item| Entry {
            token: Some(format!("inflight:{}", Uuid::new_v4().simple())),
            item,
        })
        .collect();
    // The watchdog's "a delivery verified" marker (at most once a minute),
    // sent alongside the batch's first round trip.
    let marker = async {
        if verified {
            app.stripe_writer.verified.record(app).await;
        }
    };
    let (alone, ()) = tokio::join!(write(app, entries, now), marker);
    for Entry { item, token } in alone {
        let result = finish(app, &item.event, &item.payload, item.via, token.as_deref()).await;
        item.answer(result);
    }
}

/// The batch's two round trips; answers what it settles and returns the
/// entries to store one by one (all of them, claims held, when the batch
/// failed: nothing of it was written).
async fn write(app: &App, entries: Vec<Entry>, now: DateTime<Utc>) -> Vec<Entry> {
    let tx = match app.db.get().await {
        // Keyed: its statements are cached and their plans must stay on
        // the indexes while the tables grow (see `Tx::keyed`).
        Ok(conn) => conn.begin_keyed(),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "no connection for a batch: storing its events one by one");
            return entries;
        }
    };
    let (mut entries, routes) = match first_round_trip(app, &tx, entries, now).await {
        Ok(routed) => routed,
        Err((entries, e)) => {
            tracing::warn!(events = entries.len(), error = %format!("{e:#}"), "batch not stored: storing its events one by one");
            return entries;
        }
    };
    // Settled and lone entries leave the batch now.
    let mut writing = Vec::new();
    let mut alone = Vec::new();
    let mut done = Vec::new();
    for (entry, route) in entries.drain(..).zip(routes) {
        match route {
            Route::Write(d) => writing.push((entry, *d)),
            Route::Alone => alone.push(entry),
            Route::Answer(result) => {
                if matches!(&result, Ok(i) if i.duplicate && entry.token.is_some()) {
                    done.push(entry.item.event.id.clone());
                }
                entry.item.answer(result);
            }
        }
    }
    if writing.is_empty() {
        let _ = tx.rollback().await;
        mark_done(app, done);
        return alone;
    }
    let (writing, decisions): (Vec<Entry>, Vec<Decision>) = writing.into_iter().unzip();
    match second_round_trip(&tx, &writing, decisions, now).await {
        Ok(results) => {
            drop(tx);
            for (entry, result) in writing.into_iter().zip(results) {
                tracing::info!(event_id = %entry.item.event.id, event_type = %entry.item.event.event_type, member_id = ?result.member_id, via = entry.item.via.as_str(), "stripe event stored");
                done.push(entry.item.event.id.clone());
                entry.item.answer(Ok(result));
            }
            mark_done(app, done);
            alone
        }
        Err(e) => {
            drop(tx);
            tracing::warn!(events = writing.len(), error = %format!("{e:#}"), duplicate = events::is_duplicate(&e), "batch not stored: storing its events one by one");
            mark_done(app, done);
            alone.extend(writing);
            alone
        }
    }
}

/// Turns the claims of stored events into completed markers, after the
/// answers (one pipelined round trip, off the answer's path).
fn mark_done(app: &App, ids: Vec<String>) {
    let keys = ids.iter().map(|id| format!("stripe:{id}")).collect();
    app.kv.set_many_later(keys, "done", DONE_TTL_MS);
}

fn event_row(item: &Item, now: DateTime<Utc>) -> EventRow<'_> {
    EventRow {
        event: &item.event,
        payload: &item.payload,
        via: item.via,
        received_at: now,
    }
}
