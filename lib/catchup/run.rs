//! One bounded catch-up run: the window from the stored cursor (minus the
//! overlap; on the first run, the look-back) to now, never older than
//! Stripe's 30-day retention, walked in time slices from the oldest end.
//! Each slice is listed completely (newest first across pages), then
//! ingested oldest first in chunks; after each chunk the cursor moves to the
//! end of the stored prefix. A stop (budget, Stripe, Postgres) leaves the
//! cursor there, so the next run resumes without a gap.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::stop::Stop;
use super::walk::walk;
use super::{cursor, stats, status};
use crate::config::StripeApi;
use crate::members::change::Enqueued;
use crate::state::App;

/// The cron's budget: its `maxDuration` is 60 s; stop listing and ingesting
/// at 45 s so the jobs, the cursor and the answer finish in time.
pub const RUN_BUDGET_MS: u64 = 45_000;
/// Re-read this much before the cursor on every run: Stripe's list is
/// eventually consistent, so an event may become listable after later ones.
pub const OVERLAP_SECS: i64 = 600;
/// Stripe keeps events for 30 days: never list further back.
pub const RETENTION_DAYS: i64 = 30;
/// The longest slice listed at once (shorter when a slice is too large).
pub const MAX_SLICE_SECS: i64 = 24 * 3600;
/// Events ingested between two cursor writes.
pub const CHUNK_EVENTS: usize = 500;
/// New jobs are run in groups this large, while the budget lasts.
pub const JOBS_PER_GROUP: usize = 50;

/// What a run did (answered and logged as one line).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    /// `ok` (whole window read), `partial`, `auth_failed` or `store_failed`.
    pub status: &'static str,
    /// Events listed.
    pub fetched: u64,
    /// Events stored by this run.
    pub new: u64,
    /// Events found already stored.
    pub duplicates: u64,
    /// Listed events that are not valid envelopes (never stored).
    pub skipped: u64,
    /// List pages read.
    pub pages: u64,
    /// Wall time.
    pub duration_ms: u64,
    /// Every event created at or before this instant is stored.
    pub reached: Option<DateTime<Utc>>,
    /// Why the run stopped early (a reason code), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<&'static str>,
    /// Jobs the new events enqueued.
    #[serde(skip)]
    pub jobs: Enqueued,
    /// Events stored since this run last refreshed the planner statistics.
    #[serde(skip)]
    pub(super) since_analyze: u64,
}

/// What happens to each listed slice.
#[derive(Debug)]
pub enum Sink {
    /// Ingest and move the stored cursor (the cron).
    Cursor,
    /// Ingest only (a manual range).
    Ingest,
    /// Count the listed events missing from `events`; write nothing.
    DryRun {
        /// Missing so far.
        missing: u64,
        /// The first missing event ids.
        sample: Vec<String>,
    },
}

/// Where the window starts (Unix seconds).
pub fn window_start(cursor: Option<DateTime<Utc>>, now: i64, lookback_hours: i64) -> i64 {
    let start = match cursor {
        Some(c) => c.timestamp() - OVERLAP_SECS,
        None => now - lookback_hours * 3600,
    };
    start.max(now - RETENTION_DAYS * 86_400)
}

/// The cron's run; `None` when `STRIPE_SECRET_KEY` is not set.
pub async fn catch_up(app: &App) -> anyhow::Result<Option<Summary>> {
    let Some(api) = app.config.stripe_api.clone() else {
        return Ok(None);
    };
    let started = Instant::now();
    let deadline = started + Duration::from_millis(RUN_BUDGET_MS);
    let state = cursor::load(app).await?;
    let now = app.clock.now().timestamp();
    let from = window_start(state.cursor, now, app.config.stripe_catchup_lookback_hours);
    let mut s = Summary::default();
    let stop = walk(app, &api, (from, now), deadline, &mut Sink::Cursor, &mut s)
        .await
        .err();
    stats::refresh_if_stale(app, &mut s.since_analyze).await;
    s.status = status_of(stop);
    s.stopped = stop.map(Stop::code);
    run_jobs(app, std::mem::take(&mut s.jobs), deadline).await;
    if stop == Some(Stop::AuthFailed) {
        status::alert_auth_failed(app).await;
    }
    if s.new > 0 {
        status::alert_if_lost(app).await;
    }
    if let Err(e) = cursor::finish(app, s.status, s.stopped).await {
        tracing::error!(error = %format!("{e:#}"), "could not record the catch-up run");
    }
    s.duration_ms = started.elapsed().as_millis() as u64;
    log(&s, "stripe catch-up done");
    Ok(Some(s))
}

/// A manual run over `[since, until]` (never moves the cursor).
pub async fn catch_up_range(
    app: &App,
    api: &StripeApi,
    (since, until): (i64, i64),
    budget: Duration,
    sink: &mut Sink,
) -> Summary {
    let started = Instant::now();
    let deadline = started + budget;
    let mut s = Summary::default();
    let stop = walk(app, api, (since, until), deadline, sink, &mut s)
        .await
        .err();
    stats::refresh_if_stale(app, &mut s.since_analyze).await;
    s.status = status_of(stop);
    s.stopped = stop.map(Stop::code);
    run_jobs(app, std::mem::take(&mut s.jobs), deadline).await;
    s.duration_ms = started.elapsed().as_millis() as u64;
    log(&s, "stripe manual catch-up done");
    s
}

fn status_of(stop: Option<Stop>) -> &'static str {
    match stop {
        None => "ok",
        Some(Stop::AuthFailed) => "auth_failed",
        Some(Stop::StoreFailed) => "store_failed",
        Some(_) => "partial",
    }
}

fn log(s: &Summary, message: &str) {
    tracing::info!(
        status = s.status,
        fetched = s.fetched,
        new = s.new,
        duplicates = s.duplicates,
        skipped = s.skipped,
        pages = s.pages,
        duration_ms = s.duration_ms,
        reached = ?s.reached,
        stopped = s.stopped,
        "{message}"
    );
}

/// Runs the new jobs now, a group at a time, while the budget lasts; the
/// rest wait for the sweep.
async fn run_jobs(app: &App, jobs: Enqueued, deadline: Instant) {
    for group in jobs.chunks(JOBS_PER_GROUP) {
        if Instant::now() >= deadline {
            tracing::info!("catch-up budget spent: the sweep runs the remaining jobs");
            break;
        }
        crate::jobs::run_now(app, group.to_vec()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const NOW: i64 = 1_795_428_000;

    #[test]
    fn the_first_run_looks_back_and_later_runs_overlap_the_cursor() {
        assert_eq!(window_start(None, NOW, 72), NOW - 72 * 3600);
        let cursor = Utc.timestamp_opt(NOW - 3600, 0).single();
        assert_eq!(window_start(cursor, NOW, 72), NOW - 3600 - OVERLAP_SECS);
    }

    #[test]
    fn the_window_never_reaches_past_thirty_days() {
        let oldest = NOW - 30 * 86_400;
        assert_eq!(window_start(None, NOW, 24 * 365), oldest);
        let cursor = Utc.timestamp_opt(NOW - 90 * 86_400, 0).single();
        assert_eq!(window_start(cursor, NOW, 72), oldest);
    }
}
