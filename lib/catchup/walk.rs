//! Walking a run's window: slices listed oldest first (the next one while
//! the current one is ingested), each handed to the sink in chunks, the
//! cursor moved after each chunk to the end of the stored prefix.

use std::time::Instant;

use chrono::{TimeZone, Utc};
use serde_json::Value;

use super::batch::{count_missing, ingest_chunk};
use super::fetch::{list_slice, Listed};
use super::run::{Sink, Summary, CHUNK_EVENTS, MAX_SLICE_SECS};
use super::stop::Stop;
use super::{cursor, stats};
use crate::config::StripeApi;
use crate::state::App;

/// Lists and hands over `[from, to]` slice by slice, oldest slice first.
/// The next slice is listed while the current one is ingested. Why: listing
/// is Stripe's latency (a page of 100 takes a few hundred ms) and ingesting
/// is our Postgres; done one after the other, each waits for the other.
pub async fn walk(
    app: &App,
    api: &StripeApi,
    (mut from, to): (i64, i64),
    deadline: Instant,
    sink: &mut Sink,
    s: &mut Summary,
) -> Result<(), Stop> {
    let mut len = MAX_SLICE_SECS;
    let mut prefetched: Option<(i64, Listed)> = None;
    while from <= to {
        let (end, listed) = match prefetched.take() {
            Some(p) => p,
            None => {
                let end = to.min(from + len - 1);
                (
                    end,
                    list_slice(app, api, (from, end), deadline, &mut s.pages).await?,
                )
            }
        };
        let events = match listed {
            Listed::TooLarge => {
                len = ((end - from + 1) / 2).max(1);
                continue;
            }
            Listed::Complete(events) => events,
        };
        s.fetched += events.len() as u64;
        from = end + 1;
        if from > to {
            return take(app, &events, end, deadline, sink, s).await;
        }
        let next_end = to.min(from + len - 1);
        let mut pages = 0;
        let (took, next) = tokio::join!(
            take(app, &events, end, deadline, sink, s),
            list_slice(app, api, (from, next_end), deadline, &mut pages)
        );
        s.pages += pages;
        took?;
        prefetched = Some((next_end, next?));
    }
    Ok(())
}

/// Hands one complete slice (oldest first, ending at `end`) to the sink.
async fn take(
    app: &App,
    events: &[Value],
    end: i64,
    deadline: Instant,
    sink: &mut Sink,
    s: &mut Summary,
) -> Result<(), Stop> {
    if let Sink::DryRun { missing, sample } = sink {
        return count_missing(app, events, missing, sample).await;
    }
    if events.is_empty() {
        return reach(app, sink, s, end).await;
    }
    let mut done = 0;
    for chunk in events.chunks(CHUNK_EVENTS) {
        // Statistics the previous chunks made stale are refreshed while this
        // one is ingested (ANALYZE does not block writes).
        let (b, ()) = tokio::join!(
            ingest_chunk(app, chunk, deadline),
            stats::refresh_if_stale(app, &mut s.since_analyze)
        );
        s.since_analyze += b.new;
        (s.new, s.duplicates, s.skipped) = (
            s.new + b.new,
            s.duplicates + b.duplicates,
            s.skipped + b.skipped,
        );
        s.jobs.extend(b.jobs);
        done += b.stored_prefix;
        let reached = match events.get(done) {
            None => end,
            Some(next) => next["created"].as_i64().unwrap_or(0) - 1,
        };
        reach(app, sink, s, reached).await?;
        if let Some(stop) = b.stop {
            return Err(stop);
        }
    }
    Ok(())
}

/// Every event created at or before `at` is stored: say so, and move the
/// cursor when this run owns it.
async fn reach(app: &App, sink: &Sink, s: &mut Summary, at: i64) -> Result<(), Stop> {
    let Some(at) = Utc.timestamp_opt(at, 0).single() else {
        return Ok(());
    };
    s.reached = s.reached.max(Some(at));
    if let Sink::Cursor = sink {
        cursor::advance(app, at).await.map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "could not move the catch-up cursor");
            Stop::StoreFailed
        })?;
    }
    Ok(())
}
