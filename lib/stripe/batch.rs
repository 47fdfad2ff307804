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

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::apply::{decide, Decision};
use super::billing;
use super::event::{Fact, RawEvent};
use super::ingest::{finish, EventRow, IngestError, Ingested, Via, CLAIM_TTL_MS, DONE_TTL_MS};
use crate::db::{events, Sql, Tx};
use crate::jobs::enqueue::ENQUEUE_MANY;
use crate::members::change::{self, Enqueued};
use crate::members::link::{self, Found};
use crate::members::store;
use crate::state::App;

/// One verified event waiting for its batch.
pub struct Item {
    /// The event.
    pub event: RawEvent,
    /// Its payload (stored as jsonb).
    pub payload: Value,
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
    // Boxed: each round trip nests many statement futures (debug builds
    // keep every layer in the polling frame).
    // The watchdog's "a delivery verified" marker: once per batch, sent
    // alongside the batch's first round trip.
    let marker = async {
        if verified {
            crate::watchdog::signals::stripe_verified(app).await;
        }
    };
    let (alone, ()) = tokio::join!(Box::pin(write(app, entries, now)), marker);
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
        Ok(conn) => conn.begin(),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "no connection for a batch: storing its events one by one");
            return entries;
        }
    };
    let (mut entries, routes) = match Box::pin(first_round_trip(app, &tx, entries, now)).await {
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
    match Box::pin(second_round_trip(&tx, &writing, decisions, now)).await {
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
    if ids.is_empty() {
        return;
    }
    let kv = app.kv.clone();
    tokio::spawn(async move {
        let keys: Vec<String> = ids.iter().map(|id| format!("stripe:{id}")).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        if let Err(e) = kv.set_many(&keys, "done", DONE_TTL_MS).await {
            tracing::warn!(events = keys.len(), error = %e, "could not mark events done in redis");
        }
    });
}

type Routed = (Vec<Entry>, Vec<Route>);

/// Which of a batch's events are stored already (searched by id: migration
/// 0013).
pub const STORED_SQL: &str =
    "SELECT event_id, member_id FROM events WHERE source = 'stripe' AND event_id = ANY($1)";

/// Round trip 1: the claims (Redis) and the locks, the lookup and the
/// stored-event check (Postgres), concurrently; then each entry's route.
async fn first_round_trip(
    app: &App,
    tx: &Tx,
    mut entries: Vec<Entry>,
    now: DateTime<Utc>,
) -> Result<Routed, (Vec<Entry>, anyhow::Error)> {
    let keys: Vec<String> = entries
        .iter()
        .map(|e| format!("stripe:{}", e.item.event.id))
        .collect();
    let claims: Vec<(&str, &str)> = keys
        .iter()
        .zip(&entries)
        .map(|(k, e)| (k.as_str(), e.token.as_deref().unwrap_or_default()))
        .collect();
    let ids: Vec<&str> = entries.iter().map(|e| e.item.event.id.as_str()).collect();
    let identities: Vec<_> = entries
        .iter()
        .filter_map(|e| e.item.fact.as_ref().ok().map(Fact::identity))
        .collect();
    let identities: Vec<_> = identities.iter().collect();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&ids];
    let stored = tx.query(STORED_SQL, &params);
    let (claimed, found) = tokio::join!(
        app.kv.claim_many(&claims, CLAIM_TTL_MS),
        link::lock_and_find_all(tx, &identities, stored)
    );
    let claimed = claimed.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "redis unavailable: Postgres alone decides (degraded)");
        vec![None; keys.len()]
    });
    drop((claims, params, identities));
    let (found, stored) = match found {
        Ok(f) => f,
        Err(e) => {
            // Our claims stay held: the one-by-one path releases them.
            for (entry, held) in entries.iter_mut().zip(claimed) {
                if held != entry.token {
                    entry.token = None;
                }
            }
            return Err((entries, e));
        }
    };
    let stored: HashMap<String, Option<Uuid>> =
        stored.iter().map(|r| (r.get(0), r.get(1))).collect();
    let grace = app.config.past_due_grace_days;
    let mut taken = HashSet::new();
    let routes = entries
        .iter_mut()
        .zip(claimed)
        .map(|(entry, held)| {
            if held != entry.token {
                entry.token = None;
                match held.as_deref() {
                    Some("done") => return Route::Answer(Ok(duplicate(None))),
                    Some(_) => return Route::Answer(Err(IngestError::InFlight)),
                    None => {}
                }
            }
            if let Some(member_id) = stored.get(&entry.item.event.id) {
                // Stored already (Redis was down or lost the marker).
                return Route::Answer(Ok(duplicate(*member_id)));
            }
            route(&entry.item, &found, &mut taken, grace, now)
        })
        .collect();
    Ok((entries, routes))
}

fn duplicate(member_id: Option<Uuid>) -> Ingested {
    Ingested {
        duplicate: true,
        member_id,
        jobs: Vec::new(),
    }
}

/// Where one unsettled event goes (see [`Route`]).
fn route(
    item: &Item,
    found: &[crate::members::Member],
    taken: &mut HashSet<Uuid>,
    grace_days: i64,
    now: DateTime<Utc>,
) -> Route {
    let no_member = |outcome| {
        Route::Write(Box::new(Decision {
            member: None,
            lines: Vec::new(),
            outcome,
        }))
    };
    let fact = match &item.fact {
        Ok(Fact::Unhandled) => return no_member("unhandled"),
        Ok(Fact::CustomerDeleted { .. }) => return Route::Alone,
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(event_id = %item.event.id, event_type = %item.event.event_type, error = %e, "event stored but not applied");
            return no_member("invalid");
        }
    };
    let resolved = match link::resolve_found(found, &fact.identity(), now) {
        Found::Nobody => None,
        Found::Several => return Route::Alone,
        Found::One(r) => {
            let id = r.before.as_ref().map(|b| b.id).unwrap_or(r.member.id);
            if !taken.insert(id) {
                return Route::Alone;
            }
            Some(*r)
        }
    };
    let row = event_row(item, now);
    Route::Write(Box::new(decide(resolved, &row, fact, grace_days, now)))
}

fn event_row(item: &Item, now: DateTime<Utc>) -> EventRow<'_> {
    EventRow {
        event: &item.event,
        payload: &item.payload,
        via: item.via,
        received_at: now,
    }
}

/// Round trip 2: every write of the batch as set-based statements, and
/// `COMMIT` behind them. Events with billing effects (emails, alerts: their
/// own statements, some reading first) are written with the others, and
/// `COMMIT` then waits for all their answers (one more round trip).
async fn second_round_trip(
    tx: &Tx,
    entries: &[Entry],
    decisions: Vec<Decision>,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Ingested>> {
    let rows: Vec<EventRow<'_>> = entries.iter().map(|e| event_row(&e.item, now)).collect();
    let mut members = Vec::with_capacity(decisions.len());
    let mut changes = Vec::with_capacity(decisions.len());
    let mut outcomes = Vec::with_capacity(decisions.len());
    for d in decisions {
        outcomes.push(d.outcome);
        let (member, change) = match d.member {
            Some((m, c)) => (Some(m), Some((c, d.lines))),
            None => (None, None),
        };
        members.push(member);
        changes.push(change);
    }
    let member_rows: Vec<change::Rows<'_>> = members
        .iter()
        .zip(changes)
        .filter_map(|(m, c)| {
            let (change, lines) = c?;
            Some(change.rows(m.as_ref()?, now, lines))
        })
        .collect();
    let new_events: Vec<events::NewEvent<'_>> = rows
        .iter()
        .zip(&members)
        .zip(&outcomes)
        .map(|((r, m), o)| r.new_event(m.as_ref().map(|m| m.id), o))
        .collect();
    let with_effects: Vec<(usize, &Fact)> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match &e.item.fact {
            Ok(f) if billing::has_effects(f) => Some((i, f)),
            _ => None,
        })
        .collect();
    let effects =
        futures::future::try_join_all(with_effects.iter().map(|&(i, f)| {
            billing::effects(tx, members[i].as_ref(), &entries[i].item.event, f, now)
        }));
    let writes = async {
        let (enqueued, (), effects) = tokio::try_join!(
            change::write_all(tx, member_rows, now),
            events::insert_all(tx, &new_events),
            effects,
        )?;
        anyhow::Ok((enqueued, effects))
    };
    let (enqueued, effects) = if with_effects.is_empty() {
        tx.prepare_all(&[
            store::INSERT_ALL,
            store::UPDATE_ALL,
            store::TIMELINE_ALL,
            ENQUEUE_MANY,
            events::INSERT_ALL,
        ])
        .await?;
        tx.commit_behind(writes).await?
    } else {
        let written = writes.await?;
        tx.commit_behind(async { Ok(()) }).await?;
        written
    };
    let mut enqueued = enqueued.into_iter();
    let mut effects: HashMap<usize, Enqueued> =
        with_effects.iter().map(|(i, _)| *i).zip(effects).collect();
    Ok(members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut jobs = match m {
                Some(_) => enqueued.next().unwrap_or_default(),
                None => Vec::new(),
            };
            jobs.extend(effects.remove(&i).unwrap_or_default());
            Ingested {
                duplicate: false,
                member_id: m.as_ref().map(|m| m.id),
                jobs,
            }
        })
        .collect())
}
