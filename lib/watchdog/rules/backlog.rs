//! `outbox_backlog`: a job has been due (its `run_at` passed) for more than
//! `WATCH_BACKLOG_MINUTES`. Resolves when no due job is that old. Held jobs
//! (not configured, paused) are not due: they wait on purpose.

use chrono::{DateTime, Duration, Utc};

use crate::config::WatchSettings;
use crate::db::Sql;
use crate::jobs::JobKind;
use crate::watchdog::kind::{clock_time, Clears, Finding, Holding, Kind, Outcome};

/// Most jobs counted per kind (the count is for the summary; the oldest
/// job decides).
pub const COUNT_CAP: i64 = 1_000;

/// Per kind (`$1`): the oldest pending job due before `$2`, and how many
/// are (capped at `$3`). Both read `jobs_due` (kind, run_at) WHERE state =
/// 'pending'; kinds with nothing overdue return no row.
pub const SQL: &str = r#"
SELECT k.kind, d.id, d.run_at, c.overdue
FROM unnest($1::text[]) AS k (kind)
CROSS JOIN LATERAL (
    SELECT j.id, j.run_at FROM jobs j
    WHERE j.state = 'pending' AND j.kind = k.kind AND j.run_at < $2
    ORDER BY j.run_at LIMIT 1) d
CROSS JOIN LATERAL (
    SELECT count(*) AS overdue FROM (
        SELECT 1 FROM jobs j
        WHERE j.state = 'pending' AND j.kind = k.kind AND j.run_at < $2
        LIMIT $3) x) c
ORDER BY d.run_at"#;

/// The oldest overdue job of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    /// Job kind.
    pub kind: String,
    /// The oldest overdue job.
    pub job_id: i64,
    /// When it became due.
    pub due_at: DateTime<Utc>,
    /// Overdue jobs of the kind (capped).
    pub count: i64,
}

/// Reads every kind's oldest overdue job and decides.
pub async fn evaluate(
    client: &impl Sql,
    watch: &WatchSettings,
    now: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    let kinds: Vec<&str> = JobKind::ALL.iter().map(|k| k.as_str()).collect();
    let cutoff = now - Duration::minutes(watch.backlog_minutes);
    let rows = client.query(SQL, &[&kinds, &cutoff, &COUNT_CAP]).await?;
    let overdue: Vec<Overdue> = rows
        .iter()
        .map(|r| Overdue {
            kind: r.get(0),
            job_id: r.get(1),
            due_at: r.get(2),
            count: r.get(3),
        })
        .collect();
    Ok(Outcome::Evaluated(vec![decide(
        &overdue,
        watch.backlog_minutes,
    )]))
}

/// The finding: holds while any kind has an overdue job (oldest first).
pub fn decide(overdue: &[Overdue], minutes: i64) -> Finding {
    let holding = overdue.first().map(|oldest| {
        let total: i64 = overdue.iter().map(|o| o.count).sum();
        let kinds: Vec<&str> = overdue.iter().map(|o| o.kind.as_str()).collect();
        Holding {
            since: oldest.due_at,
            summary: format!(
                "The outbox is backed up: {total} job(s) due for more than {minutes} min ({}). Oldest: job {} ({}), due since {}.",
                kinds.join(", "),
                oldest.job_id,
                oldest.kind,
                clock_time(oldest.due_at)
            ),
        }
    });
    Finding {
        kind: Kind::OutboxBacklog,
        key: None,
        holding,
        clears: Clears::WhenNotHolding,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_oldest_overdue_job_names_the_incident() {
        let at = |m| Utc.with_ymd_and_hms(2026, 11, 23, 9, m, 0).unwrap();
        let overdue = vec![
            Overdue {
                kind: "crm_upsert".into(),
                job_id: 7,
                due_at: at(30),
                count: 12,
            },
            Overdue {
                kind: "slack_alert".into(),
                job_id: 9,
                due_at: at(40),
                count: 1,
            },
        ];
        let h = decide(&overdue, 15).holding.unwrap();
        assert_eq!(h.since, at(30));
        assert_eq!(
            h.summary,
            "The outbox is backed up: 13 job(s) due for more than 15 min (crm_upsert, slack_alert). \
             Oldest: job 7 (crm_upsert), due since 09:30 UTC."
        );
    }

    #[test]
    fn nothing_overdue_does_not_hold() {
        assert!(decide(&[], 15).holding.is_none());
    }
}
