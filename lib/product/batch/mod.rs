//! One transaction for many app events: the write of their group commit
//! ([`super::writer`] forms the batches). Per batch, whatever its size:
//!
//! 1. ONE round trip to each store, concurrently: Redis claims every event
//!    (`SET NX` + `GET`, pipelined), while Postgres gets `BEGIN`, the
//!    identity locks of all events in one sorted order, one lookup of the
//!    members holding them, the events already stored, and the newest app
//!    event applied to each member found by user id (the stale rule).
//! 2. Each event is decided in memory ([`super::decide`], the same code as
//!    one event alone), then ONE round trip carries the writes as set-based
//!    statements (members inserted, members updated, jobs, timeline,
//!    events) with `COMMIT` right behind them.
//!
//! The answers go out after the commit; the Redis done markers after the
//! answers. The writer never puts two events sharing an identity (or an id)
//! in one batch, so each member sees its events one transaction after the
//! other, in arrival order. `email_taken` is answered from the decision and
//! writes nothing; an event whose identities several members hold, one that
//! finds a member another event of the batch found, and every event of a
//! failed batch go the proven way: alone (`product::ingest::finish`), so one
//! bad event never fails the others.

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use uuid::Uuid;

mod claims;
mod writes;

pub use claims::STORED_SQL;

use super::decide::{identity, Write};
use super::events::AppEvent;
use super::ingest::{finish, Ingested, MemberEventError, DONE_TTL_MS};
use crate::db::events;
use crate::state::App;
use claims::first_round_trip;
use writes::second_round_trip;

/// One valid app event waiting for its batch.
pub struct Item {
    /// The event.
    pub event: AppEvent,
    /// Where its answer goes.
    pub reply: oneshot::Sender<Result<Ingested, MemberEventError>>,
}

impl Item {
    /// What no other event of its batch may share: its id and the lock keys
    /// of its identities.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = vec![format!("evt:{}", self.event.id.as_str())];
        keys.extend(identity(&self.event).lock_keys());
        keys
    }

    fn answer(self, result: Result<Ingested, MemberEventError>) {
        // The request may have gone (client gone): the work stands.
        let _ = self.reply.send(result);
    }
}

/// An event of the batch and the Redis claim we hold for it, if any.
struct Entry {
    item: Item,
    key: String,
    token: Option<String>,
}

/// Where an entry goes after the first round trip.
enum Route {
    /// Into the batch's writes.
    Write(Box<Write>),
    /// Settled: answered at once (a duplicate, in flight, email taken).
    Answer(Result<Ingested, MemberEventError>),
    /// On its own, in a transaction of its own.
    Alone,
}

/// Runs one batch (events with pairwise distinct [`Item::keys`]).
pub async fn run(app: &App, items: Vec<Item>) {
    let entries = items
        .into_iter()
        .map(|item| Entry {
            key: format!("app_event:{}", item.event.id.as_str()),
            token: Some(format!("inflight:{}", Uuid::new_v4().simple())),
            item,
        })
        .collect();
    for Entry { item, token, .. } in write(app, entries, app.clock.now()).await {
        let result = finish(app, &item.event, token.as_deref()).await;
        item.answer(result);
    }
}

/// The batch's two round trips; answers what it settles and returns the
/// entries to store one by one (all of them, claims held, when the batch
/// failed: nothing of it was written).
async fn write(app: &App, mut entries: Vec<Entry>, now: DateTime<Utc>) -> Vec<Entry> {
    let tx = match app.db.get().await {
        // Keyed: its lookup is a cached statement (see `Tx::keyed`).
        Ok(conn) => conn.begin_keyed(),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "no connection for a batch: storing its app events one by one");
            return entries;
        }
    };
    let routes = match first_round_trip(app, &tx, &mut entries, now).await {
        Ok(routes) => routes,
        Err(e) => {
            tracing::warn!(events = entries.len(), error = %format!("{e:#}"), "batch not stored: storing its app events one by one");
            return entries;
        }
    };
    let (mut writing, mut alone, mut done, mut release) = (vec![], vec![], vec![], vec![]);
    for (entry, route) in entries.into_iter().zip(routes) {
        match route {
            Route::Write(w) => writing.push((entry, *w)),
            Route::Alone => alone.push(entry),
            Route::Answer(Err(e)) if entry.token.is_some() => release.push((entry, e)),
            Route::Answer(result) => {
                if entry.token.is_some() {
                    done.push(entry.key.clone());
                }
                entry.item.answer(result);
            }
        }
    }
    release_then_answer(app, release);
    if writing.is_empty() {
        let _ = tx.rollback().await;
        mark_done(app, done);
        return alone;
    }
    let (writing, decided): (Vec<Entry>, Vec<_>) = writing.into_iter().unzip();
    match second_round_trip(app, &tx, &writing, decided, now).await {
        Ok(results) => {
            drop(tx);
            for (entry, result) in writing.into_iter().zip(results) {
                let event = &entry.item.event;
                tracing::info!(event_id = event.id.as_str(), event_type = event.kind.as_str(), member_id = %result.member_id, "app event stored");
                done.push(entry.key.clone());
                entry.item.answer(Ok(result));
            }
            mark_done(app, done);
            alone
        }
        Err(e) => {
            drop(tx);
            tracing::warn!(events = writing.len(), error = %format!("{e:#}"), duplicate = events::is_duplicate(&e), "batch not stored: storing its app events one by one");
            mark_done(app, done);
            alone.extend(writing);
            alone
        }
    }
}

/// Turns the claims of stored events into completed markers, after the
/// answers (one pipelined round trip, off the answer's path).
fn mark_done(app: &App, keys: Vec<String>) {
    app.kv.set_many_later(keys, "done", DONE_TTL_MS);
}

/// Releases our claims of events refused without a write (`email_taken`),
/// then answers them, so a corrected retry is never taken for one in flight
/// (off the batch's path: the others' writes do not wait for it).
fn release_then_answer(app: &App, refused: Vec<(Entry, MemberEventError)>) {
    if refused.is_empty() {
        return;
    }
    let kv = app.kv.clone();
    tokio::spawn(async move {
        for (entry, e) in refused {
            if let Some(token) = &entry.token {
                let _ = kv.del_if_eq(&entry.key, token).await;
            }
            entry.item.answer(Err(e));
        }
    });
}
