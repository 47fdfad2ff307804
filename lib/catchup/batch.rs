//! Ingesting a chunk of listed events (oldest first) through the webhook's
//! own writer (`App::stripe_writer`, `Via::Catchup`): same Redis claim,
//! same group commit, same ordering guard, same outbox jobs.
//!
//! Events of one customer are ingested one after another, in order;
//! different customers are offered to the writer at once, so they share its
//! transactions (up to its batch cap) with each other and with webhook
//! deliveries arriving meanwhile. The result says how long a prefix of the
//! chunk is durably stored: the cursor may pass that prefix only, whatever
//! happened after it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;

use super::stop::Stop;
use crate::db::events::Payload;
use crate::db::Sql;
use crate::members::change::Enqueued;
use crate::state::App;
use crate::stripe::event::RawEvent;
use crate::stripe::writer::MAX_BATCH;
use crate::stripe::{IngestError, Via};

/// Customers ingested at once: enough to fill the writer's batches (one
/// event per customer waits in its queue at a time). Postgres is bounded by
/// the writer (two batches in flight), not by this.
pub const MAX_CONCURRENCY: usize = MAX_BATCH;
/// The webhook may be storing the same event right now: wait for it this
/// long in total (its write takes milliseconds) before stopping the run there.
pub const IN_FLIGHT_WAIT_MS: u64 = 3_000;

/// How one event ended.
#[derive(Debug)]
enum Done {
    /// Stored by this run.
    New(Enqueued),
    /// Already stored (by the webhook or an earlier run).
    Duplicate,
    /// Not a valid event envelope: never storable, passed over.
    Skipped,
}

/// What ingesting a chunk did.
#[derive(Debug, Default)]
pub struct Batch {
    /// Events at the start of the chunk that are all durably stored (or skipped).
    pub stored_prefix: usize,
    /// Events stored by this run.
    pub new: u64,
    /// Events found already stored.
    pub duplicates: u64,
    /// Invalid envelopes passed over.
    pub skipped: u64,
    /// Jobs the new events enqueued.
    pub jobs: Enqueued,
    /// Why the chunk did not complete, if it did not.
    pub stop: Option<Stop>,
}

/// Ingests `events` (oldest first) until done, a failure, or `deadline`.
/// Events already in `events` (one query for the chunk) are duplicates
/// without a claim or a transaction each: the overlap re-reads stay cheap.
pub async fn ingest_chunk(app: &App, events: &[Value], deadline: Instant) -> Batch {
    let ids: Vec<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    let stored = stored_ids(app, &ids).await.unwrap_or_else(|e| {
        tracing::warn!(error = %format!("{e:#}"), "could not pre-check stored events; ingesting all");
        HashSet::new()
    });
    let stored = &stored;
    let results: Vec<Vec<(usize, Result<Done, Stop>)>> = futures::stream::iter(partitions(events))
        .map(|indexes| ingest_in_order(app, events, stored, indexes, deadline))
        .buffer_unordered(MAX_CONCURRENCY)
        .collect()
        .await;
    let mut by_index: Vec<Option<Result<Done, Stop>>> = (0..events.len()).map(|_| None).collect();
    for (i, r) in results.into_iter().flatten() {
        by_index[i] = Some(r);
    }
    tally(by_index)
}

fn tally(by_index: Vec<Option<Result<Done, Stop>>>) -> Batch {
    let mut b = Batch::default();
    let mut prefix_open = true;
    for r in by_index {
        match r {
            Some(Ok(done)) => {
                match done {
                    Done::New(jobs) => {
                        b.new += 1;
                        b.jobs.extend(jobs);
                    }
                    Done::Duplicate => b.duplicates += 1,
                    Done::Skipped => b.skipped += 1,
                }
                if prefix_open {
                    b.stored_prefix += 1;
                }
            }
            Some(Err(stop)) if prefix_open => (prefix_open, b.stop) = (false, Some(stop)),
            None if prefix_open => (prefix_open, b.stop) = (false, Some(Stop::Budget)),
            _ => {}
        }
    }
    b
}

/// One partition's events, in order; stops at its first failure.
async fn ingest_in_order(
    app: &App,
    events: &[Value],
    stored: &HashSet<String>,
    indexes: Vec<usize>,
    deadline: Instant,
) -> Vec<(usize, Result<Done, Stop>)> {
    let mut out = Vec::with_capacity(indexes.len());
    for i in indexes {
        if Instant::now() >= deadline {
            break;
        }
        if events[i]["id"]
            .as_str()
            .is_some_and(|id| stored.contains(id))
        {
            out.push((i, Ok(Done::Duplicate)));
            continue;
        }
        let r = ingest_one(app, &events[i]).await;
        let failed = r.is_err();
        out.push((i, r));
        if failed {
            break;
        }
    }
    out
}

async fn ingest_one(app: &App, payload: &Value) -> Result<Done, Stop> {
    let event = match RawEvent::from_value(payload) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "listed event is not a valid envelope; skipped");
            return Ok(Done::Skipped);
        }
    };
    let mut waited_ms = 0;
    let mut wait_ms = 25;
    loop {
        let ingested = app
            .stripe_writer
            .ingest(app, event.clone(), Payload::of(payload), Via::Catchup)
            .await;
        match ingested {
            Ok(i) if i.duplicate => return Ok(Done::Duplicate),
            Ok(i) => return Ok(Done::New(i.jobs)),
            Err(IngestError::InFlight) if waited_ms < IN_FLIGHT_WAIT_MS => {
                tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                waited_ms += wait_ms;
                wait_ms *= 2;
            }
            Err(IngestError::InFlight) => return Err(Stop::InFlight),
            Err(IngestError::Store(e)) => {
                tracing::error!(event_id = %event.id, error = %format!("{e:#}"), "catch-up could not store an event");
                return Err(Stop::StoreFailed);
            }
        }
    }
}

/// Most missing event ids a dry run names.
pub const MISSING_SAMPLE: usize = 20;

/// Dry run: counts the listed events not in `events`; writes nothing.
pub async fn count_missing(
    app: &App,
    listed: &[Value],
    missing: &mut u64,
    sample: &mut Vec<String>,
) -> Result<(), Stop> {
    let ids: Vec<&str> = listed.iter().filter_map(|e| e["id"].as_str()).collect();
    let stored = stored_ids(app, &ids).await.map_err(|e| {
        tracing::error!(error = %format!("{e:#}"), "dry run could not read events");
        Stop::StoreFailed
    })?;
    for id in ids.into_iter().filter(|id| !stored.contains(*id)) {
        *missing += 1;
        if sample.len() < MISSING_SAMPLE {
            sample.push(id.to_string());
        }
    }
    Ok(())
}

/// Which of `ids` are in `events`.
async fn stored_ids(app: &App, ids: &[&str]) -> anyhow::Result<HashSet<String>> {
    let client = app.db.get().await?;
    let rows = client
        .query(crate::stripe::batch::STORED_SQL, &[&ids])
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Indexes grouped by who the event concerns, each group in list order.
fn partitions(events: &[Value]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        let g = *by_key.entry(partition_key(e, i)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    groups
}

/// The Stripe customer (the usual link to a member), else the app's user id,
/// else the email, else the event alone.
fn partition_key(event: &Value, index: usize) -> String {
    let o = &event["data"]["object"];
    let id_of = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => m.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    let customer = if o["object"] == "customer" {
        id_of(&o["id"])
    } else {
        id_of(&o["customer"]).or_else(|| id_of(&o["charge"]["customer"]))
    };
    let email = o["customer_email"]
        .as_str()
        .or_else(|| o["customer_details"]["email"].as_str())
        .map(str::to_lowercase);
    customer
        .map(|c| format!("cus:{c}"))
        .or_else(|| {
            o["client_reference_id"]
                .as_str()
                .map(|u| format!("user:{u}"))
        })
        .or_else(|| email.map(|e| format!("email:{e}")))
        .unwrap_or_else(|| format!("event:{index}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_of_one_customer_share_a_partition_in_list_order() {
        let events = vec![
            json!({"data": {"object": {"object": "invoice", "customer": "cus_A"}}}),
            json!({"data": {"object": {"object": "invoice", "customer": "cus_B"}}}),
            json!({"data": {"object": {"object": "customer", "id": "cus_A"}}}),
            json!({"data": {"object": {"object": "dispute", "charge": {"customer": "cus_B"}}}}),
            json!({"data": {"object": {"object": "charge", "customer": null}}}),
            json!({"data": {"object": {"object": "checkout.session", "customer": {"id": "cus_A"}}}}),
        ];
        assert_eq!(
            partitions(&events),
            vec![vec![0, 2, 5], vec![1, 3], vec![4]]
        );
    }

    #[test]
    fn the_stored_prefix_ends_at_the_first_event_not_stored() {
        let b = tally(vec![
            Some(Ok(Done::New(vec![]))),
            Some(Ok(Done::Duplicate)),
            None,
            Some(Ok(Done::New(vec![]))),
        ]);
        assert_eq!((b.stored_prefix, b.new, b.duplicates), (2, 2, 1));
        assert_eq!(b.stop, Some(Stop::Budget));
        let b = tally(vec![Some(Ok(Done::Skipped)), Some(Err(Stop::InFlight))]);
        assert_eq!(
            (b.stored_prefix, b.skipped, b.stop),
            (1, 1, Some(Stop::InFlight))
        );
    }
}
