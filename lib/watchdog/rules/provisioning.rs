//! `provisioning_delayed` (one incident while any member is late): a paid
//! checkout (paid at once, or a delayed payment that settled) or a paid
//! invoice that changed the member's access to active was stored
//! more than `WATCH_PROVISION_MINUTES` ago and the `app_webhook` for that
//! change has not succeeded. Only when the app webhook is configured (off
//! otherwise, and the answer says so). Resolves when every such change is
//! delivered (or a person discarded its job).
//!
//! No new record is written for this: the change's `app_webhook` job is
//! enqueued in the ingest transaction with its cause (`meta.event_type`)
//! and the new state, and its `state` says whether it was delivered. A
//! partial index holds only the undelivered ones.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::config::Config;
use crate::db::Sql;
use crate::watchdog::kind::{clock_time, Clears, Finding, Holding, Kind, Outcome};

/// The late undelivered paid changes (`created_at < $1`), oldest first, with
/// their count. The WHERE clause repeats the predicate of
/// `jobs_paid_access_undelivered` (migration 0011) word for word: that is
/// what lets the planner use the index.
pub const SQL: &str = r#"
SELECT j.id, j.member_id, j.created_at, j.state, j.reason, j.payload->'body'->>'id', count(*) OVER ()
FROM jobs j
WHERE kind = 'app_webhook' AND state <> 'succeeded' AND state <> 'discarded'
  AND payload->'body'->>'type' = 'member.access_changed'
  AND payload->'body'->'data'->>'state' = 'active'
  AND payload->'meta'->>'event_type' IN ('checkout.session.completed', 'checkout.session.async_payment_succeeded',
                                        'invoice.paid', 'invoice.payment_succeeded')
  AND j.created_at < $1
ORDER BY j.created_at
LIMIT 1"#;

/// Why the rule is off when it is.
pub const OFF: &str = "off: the app webhook (APP_WEBHOOK_URL) is not configured";

/// The oldest late change, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Late {
    /// Its `app_webhook` job.
    pub job_id: i64,
    /// The member.
    pub member_id: Option<Uuid>,
    /// When the change was stored.
    pub stored_at: DateTime<Utc>,
    /// The job's state and reason (`held`/`paused`, `dead`/`auth_failed`...).
    pub state: String,
    /// Its reason code, if any.
    pub reason: Option<String>,
    /// The change id (the webhook-id the app dedupes on).
    pub change_id: Option<String>,
    /// How many changes are late.
    pub count: i64,
}

/// Reads the oldest late change and decides.
pub async fn evaluate(
    client: &impl Sql,
    config: &Config,
    now: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    if config.app_webhook.is_none() {
        return Ok(Outcome::Off(OFF));
    }
    let minutes = config.watch.provision_minutes;
    let cutoff = now - Duration::minutes(minutes);
    let row = client.query_opt(SQL, &[&cutoff]).await?;
    let late = row.map(|r| Late {
        job_id: r.get(0),
        member_id: r.get(1),
        stored_at: r.get(2),
        state: r.get(3),
        reason: r.get(4),
        change_id: r.get(5),
        count: r.get(6),
    });
    Ok(Outcome::Evaluated(vec![decide(late.as_ref(), minutes)]))
}

/// The finding: holds while any paid change is late.
pub fn decide(late: Option<&Late>, minutes: i64) -> Finding {
    let holding = late.map(|l| {
        let member = l.member_id.map(|m| m.to_string()).unwrap_or_else(|| "?".into());
        let reason = l.reason.as_deref().map(|r| format!(", {r}")).unwrap_or_default();
        Holding {
            since: l.stored_at,
            summary: format!(
                "{} paid change(s) not delivered to the app after {minutes} min. Oldest: change {} of member {member}, stored {}, job {} ({}{reason}).",
                l.count,
                l.change_id.as_deref().unwrap_or("?"),
                clock_time(l.stored_at),
                l.job_id,
                l.state
            ),
        }
    });
    Finding {
        kind: Kind::ProvisioningDelayed,
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
    fn a_late_change_holds_and_its_summary_carries_ids_only() {
        let late = Late {
            job_id: 42,
            member_id: Some(Uuid::nil()),
            stored_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 48, 0).unwrap(),
            state: "held".into(),
            reason: Some("paused".into()),
            change_id: Some("chg_1".into()),
            count: 2,
        };
        let f = decide(Some(&late), 10);
        assert_eq!(
            f.holding.unwrap().summary,
            "2 paid change(s) not delivered to the app after 10 min. Oldest: change chg_1 of member \
             00000000-0000-0000-0000-000000000000, stored 09:48 UTC, job 42 (held, paused)."
        );
    }

    #[test]
    fn no_late_change_does_not_hold() {
        assert!(decide(None, 10).holding.is_none());
    }
}
