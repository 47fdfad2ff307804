//! Putting jobs back or taking them out: the one place a job is requeued,
//! discarded or cancelled (the admin API, the AI draft endpoint and Stripe's
//! `invoice.paid` call these), so every requeue resets the same columns:
//! attempts, reason, and the lease (a requeued job must be claimable at
//! once, not after a stale lease runs out).

use chrono::{DateTime, Utc};
use tokio_postgres::Error;

use crate::db::Sql;

/// Which jobs a requeue takes.
#[derive(Debug, Clone, Copy)]
pub enum Which<'a> {
    /// One dead job (the admin's retry).
    Dead(i64),
    /// The job with this dedupe key, when it is dead, discarded or succeeded
    /// (a draft asked for again); locks it first.
    Finished(&'a str),
    /// Every dead job matching the filter (the admin's bulk redrive).
    DeadWhere(&'a DeadFilter),
}

/// A filter over dead jobs; `None` matches anything.
#[derive(Debug, Clone, Default)]
pub struct DeadFilter {
    /// Job kind.
    pub kind: Option<String>,
    /// Reason code.
    pub reason: Option<String>,
    /// Dead (last updated) at or after.
    pub since: Option<DateTime<Utc>>,
}

/// The requeue itself: attempts from zero, due now, lease and reason cleared.
const REQUEUE: &str = "UPDATE jobs SET state = 'pending', attempts = 0, run_at = $2, reason = NULL,
                              lease_until = NULL, note = $3, updated_at = $2";

const DEAD_WHERE: &str = "state = 'dead' AND ($1::text IS NULL OR kind = $1)
      AND ($2::text IS NULL OR reason = $2) AND ($3::timestamptz IS NULL OR updated_at >= $3)";

/// Requeues `which`; returns the ids requeued. `note` says who and why.
pub async fn requeue(
    db: &impl Sql,
    which: Which<'_>,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, Error> {
    let rows = match which {
        Which::Dead(id) => {
            let sql = format!("{REQUEUE} WHERE id = $1 AND state = 'dead' RETURNING id");
            db.query(&sql, &[&id, &now, &note]).await?
        }
        Which::Finished(key) => {
            let sql = format!(
                "WITH found AS (SELECT id FROM jobs WHERE dedupe_key = $1
                                  AND state IN ('dead', 'discarded', 'succeeded') FOR UPDATE)
                 {REQUEUE} WHERE id IN (SELECT id FROM found) RETURNING id"
            );
            db.query(&sql, &[&key, &now, &note]).await?
        }
        Which::DeadWhere(f) => {
            let sql = format!(
                "UPDATE jobs SET state = 'pending', attempts = 0, run_at = $4, reason = NULL,
                        lease_until = NULL, note = $5, updated_at = $4
                 WHERE {DEAD_WHERE} RETURNING id"
            );
            db.query(&sql, &[&f.kind, &f.reason, &f.since, &now, &note])
                .await?
        }
    };
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// How many dead jobs `filter` matches (the bulk redrive's dry run).
pub async fn count_dead(db: &impl Sql, filter: &DeadFilter) -> Result<i64, Error> {
    let sql = format!("SELECT count(*) FROM jobs WHERE {DEAD_WHERE}");
    let row = db
        .query_one(&sql, &[&filter.kind, &filter.reason, &filter.since])
        .await?;
    Ok(row.get(0))
}

/// Discards one dead job; false when it is not dead (or not there).
pub async fn discard(
    db: &impl Sql,
    id: i64,
    note: &str,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let n = db
        .execute(
            "UPDATE jobs SET state = 'discarded', note = $3, updated_at = $2 WHERE id = $1 AND state = 'dead'",
            &[&id, &now, &note],
        )
        .await?;
    Ok(n == 1)
}

/// Cancels the not-yet-sent job with `dedupe_key` (e.g. a follow-up email
/// whose invoice was paid first); returns how many it cancelled.
pub async fn cancel_unsent(
    db: &impl Sql,
    dedupe_key: &str,
    note: &str,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    db.execute(
        "UPDATE jobs SET state = 'discarded', note = $3, updated_at = $2
         WHERE dedupe_key = $1 AND state IN ('pending', 'held')",
        &[&dedupe_key, &now, &note],
    )
    .await
}

/// The state of job `id`, if it exists.
pub async fn state_of(db: &impl Sql, id: i64) -> Result<Option<String>, Error> {
    let row = db
        .query_opt("SELECT state FROM jobs WHERE id = $1", &[&id])
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// The id of the job with `dedupe_key`, if any.
pub async fn id_by_dedupe_key(db: &impl Sql, dedupe_key: &str) -> Result<Option<i64>, Error> {
    let row = db
        .query_opt("SELECT id FROM jobs WHERE dedupe_key = $1", &[&dedupe_key])
        .await?;
    Ok(row.map(|r| r.get(0)))
}
