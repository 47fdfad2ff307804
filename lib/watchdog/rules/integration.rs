//! `integration_failing` (key: the integration): at least
//! `WATCH_INTEGRATION_FAILURES` failed requests to it in the window (a
//! batch request counts once) and no successful request since the first of
//! them. Resolves when a request to it succeeds.

use chrono::{DateTime, Utc};

use crate::config::WatchSettings;
use crate::db::Sql;
use crate::jobs::JobKind;
use crate::watchdog::kind::{clock_time, Clears, Finding, Holding, Kind, Outcome};
use crate::watchdog::signals::window_start;

/// Per integration (`$1`): the newest success, then the failures after it
/// since the window's start (`$2`) and the newest of them. Each subquery is
/// a range scan of `integration_requests_window` (integration, ok, at).
pub const SQL: &str = r#"
SELECT i.name, s.last_ok, f.failures, f.first_at, l.reason, l.status
FROM unnest($1::text[]) AS i (name)
CROSS JOIN LATERAL (
    SELECT max(r.at) AS last_ok FROM integration_requests r
    WHERE r.integration = i.name AND r.ok = true) s
CROSS JOIN LATERAL (
    SELECT count(*) AS failures, min(r.at) AS first_at FROM integration_requests r
    WHERE r.integration = i.name AND r.ok = false AND r.at >= $2
      AND r.at > coalesce(s.last_ok, '-infinity'::timestamptz)) f
LEFT JOIN LATERAL (
    SELECT r.reason, r.status FROM integration_requests r
    WHERE r.integration = i.name AND r.ok = false AND r.at >= $2
    ORDER BY r.at DESC LIMIT 1) l ON true
ORDER BY i.name"#;

/// The integrations watched: every job kind's.
pub fn integrations() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = JobKind::ALL.iter().map(|k| k.integration()).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// What the query read for one integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// The integration.
    pub name: String,
    /// Its newest successful request, if any.
    pub last_ok: Option<DateTime<Utc>>,
    /// Failed requests in the window after `last_ok`.
    pub failures: i64,
    /// The first of them.
    pub first_at: Option<DateTime<Utc>>,
    /// The newest failure's reason code and HTTP status.
    pub last_reason: Option<String>,
    /// Its upstream HTTP status.
    pub last_status: Option<i32>,
}

/// Reads every integration's counts and decides.
pub async fn evaluate(
    client: &impl Sql,
    watch: &WatchSettings,
    now: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    let names = integrations();
    let rows = client
        .query(SQL, &[&names, &window_start(now, watch.window_minutes)])
        .await?;
    let findings = rows
        .iter()
        .map(|r| {
            let counts = Counts {
                name: r.get(0),
                last_ok: r.get(1),
                failures: r.get(2),
                first_at: r.get(3),
                last_reason: r.get(4),
                last_status: r.get(5),
            };
            decide(&counts, watch)
        })
        .collect();
    Ok(Outcome::Evaluated(findings))
}

/// The finding for one integration.
pub fn decide(c: &Counts, watch: &WatchSettings) -> Finding {
    let holding = match c.first_at {
        Some(first) if c.failures >= watch.integration_failures => {
            let last = match (&c.last_reason, c.last_status) {
                (Some(r), Some(s)) => format!(" (last: {r}, HTTP {s})"),
                (Some(r), None) => format!(" (last: {r})"),
                _ => String::new(),
            };
            Some(Holding {
                since: first,
                summary: format!(
                    "{}: {} failed requests in the last {} min{last}, none succeeded since {}.",
                    c.name,
                    c.failures,
                    watch.window_minutes,
                    clock_time(first)
                ),
            })
        }
        _ => None,
    };
    Finding {
        kind: Kind::IntegrationFailing,
        key: Some(c.name.clone()),
        holding,
        clears: Clears::OnGoodSignal(c.last_ok),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn counts(failures: i64) -> Counts {
        Counts {
            name: "hubspot".into(),
            last_ok: None,
            failures,
            first_at: Some(Utc.with_ymd_and_hms(2026, 11, 23, 10, 2, 0).unwrap()),
            last_reason: Some("auth_failed".into()),
            last_status: Some(401),
        }
    }

    #[test]
    fn three_failures_with_no_success_since_hold_from_the_first() {
        let f = decide(&counts(3), &WatchSettings::default());
        let h = f.holding.unwrap();
        assert_eq!(
            h.since,
            Utc.with_ymd_and_hms(2026, 11, 23, 10, 2, 0).unwrap()
        );
        assert_eq!(
            h.summary,
            "hubspot: 3 failed requests in the last 10 min (last: auth_failed, HTTP 401), none succeeded since 10:02 UTC."
        );
        assert_eq!(f.key.as_deref(), Some("hubspot"));
    }

    #[test]
    fn two_failures_do_not_hold() {
        assert!(decide(&counts(2), &WatchSettings::default())
            .holding
            .is_none());
    }

    #[test]
    fn every_job_kind_s_integration_is_watched_once() {
        let names = integrations();
        assert_eq!(names.len(), 7, "{names:?}");
        assert!(names.contains(&"hubspot") && names.contains(&"zendesk"));
    }
}
