//! Stripe webhook signals for `stripe_signature_failures`, kept in Redis:
//! refused deliveries per minute (one counter per minute, expiring after
//! the longest window) and the time of the last verified delivery.
//!
//! Why Redis: a refused delivery is the one request anyone on the internet
//! can send at any rate, so counting it must cost no Postgres write (the
//! overview's hourly counter lives there for the same reason). Why a
//! "last verified" marker and not the `events` rows: a verified delivery of
//! an event already stored (Stripe retrying what the catch-up recovered)
//! writes no row, yet proves the secret is right again.
//!
//! Recording is best effort: with Redis down nothing is counted, and the
//! rule reports itself unavailable rather than healthy.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

use crate::kv::{Kv, KvError};
use crate::state::App;

/// Per-minute counter keys: `watch:stripe_sig_fail:<unix minute>`.
const FAILED_PREFIX: &str = "watch:stripe_sig_fail:";
/// Epoch milliseconds of the last verified delivery.
const VERIFIED_KEY: &str = "watch:stripe_verified_at";
/// A minute's counter outlives the longest window (60 min) by a little.
const FAILED_TTL_MS: u64 = 62 * 60 * 1000;
/// The marker outlives any window; once gone, "never verified" is as good.
const VERIFIED_TTL_MS: u64 = 7 * 24 * 3600 * 1000;

fn minute_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

/// Counts one refused delivery in the current minute.
pub async fn stripe_signature_failed(app: &App) {
    let key = format!("{FAILED_PREFIX}{}", minute_of(app.clock.now()));
    if let Err(e) = app.kv.incr_window(&key, 1, FAILED_TTL_MS).await {
        tracing::warn!(error = %e, "could not count a signature failure for the watchdog");
    }
}

/// Records that deliveries verify, for one instance: Redis is written at
/// most once a minute (the first verified delivery of each minute). The rule
/// compares the marker with whole-minute window starts only, so a marker
/// from earlier in the current minute decides exactly as a fresh one would,
/// and a renewal burst costs Redis one write a minute instead of one per
/// batch.
#[derive(Debug, Default)]
pub struct VerifiedMarker {
    /// The minute last written (0: none yet).
    minute: AtomicI64,
}

impl VerifiedMarker {
    /// Records that a delivery verified just now.
    pub async fn record(&self, app: &App) {
        let now = app.clock.now();
        let minute = minute_of(now);
        if self.minute.load(Ordering::Relaxed) == minute {
            return;
        }
        let at = now.timestamp_millis().to_string();
        match app.kv.set(VERIFIED_KEY, &at, VERIFIED_TTL_MS).await {
            // Only a write that landed counts: after an error, the next
            // delivery tries again.
            Ok(()) => self.minute.store(minute, Ordering::Relaxed),
            Err(e) => {
                tracing::warn!(error = %e, "could not record a verified delivery for the watchdog")
            }
        }
    }
}

/// What the window holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StripeWindow {
    /// Refused deliveries in the last `minutes` minutes (by whole minutes:
    /// the current one and the `minutes - 1` before it).
    pub failures: i64,
    /// The last verified delivery, if Redis remembers one.
    pub verified_at: Option<DateTime<Utc>>,
}

/// Reads the window ending at `now`: one GET per minute, sent together
/// (the connection pipelines them), plus the marker.
pub async fn stripe_window(
    kv: &Kv,
    now: DateTime<Utc>,
    minutes: i64,
) -> Result<StripeWindow, KvError> {
    let last = minute_of(now);
    let keys: Vec<String> = (last - minutes + 1..=last)
        .map(|m| format!("{FAILED_PREFIX}{m}"))
        .collect();
    let (counts, verified) = tokio::join!(
        futures::future::join_all(keys.iter().map(|k| kv.get(k))),
        kv.get(VERIFIED_KEY)
    );
    let mut failures = 0;
    for c in counts {
        failures += c?.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    }
    let verified_at = verified?
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(DateTime::from_timestamp_millis);
    Ok(StripeWindow {
        failures,
        verified_at,
    })
}

/// The start of the window ending at `now`.
pub fn window_start(now: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    now - Duration::minutes(minutes)
}
