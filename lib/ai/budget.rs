//! Daily AI budgets in Redis, checked (and spent) BEFORE every model call:
//! per member and in total, a request count and a token estimate
//! (prompt characters / 4 plus the completion cap). Windows are UTC days
//! (the key carries the date; it expires after [`WINDOW_MS`]).
//!
//! Over any budget: no call; the caller flags the ticket for a person
//! (`ai_budget`). Redis unavailable: fail CLOSED, no call ([`Budget::Unknown`])
//! and the job is retried later: an outage must not become unmetered spend.
//! Spending is counted even when the call then fails (a failed call still
//! cost tokens upstream, and retries are bounded by the outbox).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::config::AiSettings;
use crate::kv::Kv;
use crate::telemetry::hash_email;

/// A day, plus an hour of slack so a window never expires mid-day.
pub const WINDOW_MS: u64 = 25 * 60 * 60 * 1000;

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Within every budget (and now spent).
    Within,
    /// Over the named budget: do not call.
    Over(&'static str),
    /// Redis could not say: do not call (fail closed).
    Unknown,
}

/// One counter and its limit.
struct Counter {
    name: &'static str,
    key: String,
    by: i64,
    limit: i64,
}

fn counters(
    limits: &AiSettings,
    member: Option<Uuid>,
    tokens: i64,
    now: DateTime<Utc>,
) -> Vec<Counter> {
    let day = now.format("%Y-%m-%d");
    let who = member
        .map(|m| hash_email(&m.to_string()))
        .unwrap_or_else(|| "none".into());
    let c = |name, key: String, by, limit| Counter {
        name,
        key,
        by,
        limit,
    };
    vec![
        c(
            "member_requests",
            format!("ai:budget:{day}:member:{who}:requests"),
            1,
            limits.daily_requests_per_member,
        ),
        c(
            "member_tokens",
            format!("ai:budget:{day}:member:{who}:tokens"),
            tokens,
            limits.daily_tokens_per_member,
        ),
        c(
            "global_requests",
            format!("ai:budget:{day}:global:requests"),
            1,
            limits.daily_requests,
        ),
        c(
            "global_tokens",
            format!("ai:budget:{day}:global:tokens"),
            tokens,
            limits.daily_tokens,
        ),
    ]
}

/// Spends one request and `tokens` against every budget; says whether the
/// call may go ahead.
pub async fn spend(
    kv: &Kv,
    limits: &AiSettings,
    member: Option<Uuid>,
    tokens: i64,
    now: DateTime<Utc>,
) -> Budget {
    let mut over = None;
    for c in counters(limits, member, tokens, now) {
        match kv.incr_window(&c.key, c.by, WINDOW_MS).await {
            Ok((n, _)) if n > c.limit => {
                over.get_or_insert(c.name);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "redis unavailable: AI budget unknown, no model call (fail closed)");
                return Budget::Unknown;
            }
        }
    }
    over.map_or(Budget::Within, Budget::Over)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn keys_are_per_utc_day_and_never_hold_the_member_id_in_clear() {
        let limits = AiSettings::default();
        let m = Uuid::parse_str("0192f0c4-6d7e-7a00-8b1c-2d3e4f506172").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 23, 59, 0).unwrap();
        let cs = counters(&limits, Some(m), 900, now);
        assert_eq!(cs.len(), 4);
        assert!(cs
            .iter()
            .all(|c| c.key.starts_with("ai:budget:2026-11-23:")));
        assert!(cs.iter().all(|c| !c.key.contains("0192f0c4")));
        assert_eq!(cs[1].by, 900);
        let tomorrow = counters(&limits, Some(m), 1, now + chrono::Duration::minutes(2));
        assert!(tomorrow[0].key.starts_with("ai:budget:2026-11-24:"));
    }
}
