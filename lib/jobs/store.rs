//! The outbox SQL. A claim takes a lease (not a row lock held across the
//! upstream call): serverless pools are tiny, and holding a connection for a
//! slow HubSpot call would starve the webhook path. The lease outlives the
//! longest function run, a crashed run's jobs are rescued when it expires,
//! and every result is written only while the claim still holds
//! (`state = 'running'` and the same attempt number).

use crate::db::Sql;
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio_postgres::Row;
use uuid::Uuid;

use super::JobKind;

/// Lease of a claimed job: longer than any function's `maxDuration` (60 s).
pub const LEASE_SECS: i64 = 120;
/// Attempt history kept per job.
pub const HISTORY_LEN: i32 = 10;

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Job {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: JobKind,
    /// Payload.
    pub payload: Value,
    /// Member, if any.
    pub member_id: Option<Uuid>,
    /// Per-member order, if any.
    pub sequence: Option<i64>,
    /// Attempts including this one.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// Dedupe key (doubles as the upstream idempotency key).
    pub dedupe_key: String,
}

impl Job {
    fn from_row(row: &Row) -> Option<Self> {
        Some(Self {
            id: row.get("id"),
            kind: JobKind::parse(row.get("kind"))?,
            payload: row.get("payload"),
            member_id: row.get("member_id"),
            sequence: row.get("sequence"),
            attempts: row.get("attempts"),
            max_attempts: row.get("max_attempts"),
            dedupe_key: row.get("dedupe_key"),
        })
    }
}

/// Claims due pending jobs of `kind` (or only those in `ids`), oldest first,
/// skipping rows other sweeps hold. An app webhook is claimable only when no
/// earlier change of the same member is still undelivered.
pub async fn claim(
    client: &impl Sql,
    kind: JobKind,
    limit: i64,
    ids: Option<&[i64]>,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Job>> {
    let rows = client
        .query(
            r#"WITH due AS (
                   SELECT j.id FROM jobs j
                   WHERE j.state = 'pending' AND j.kind = $1 AND j.run_at <= $2
                     AND ($4::bigint[] IS NULL OR j.id = ANY($4))
                     AND (j.kind <> 'app_webhook' OR NOT EXISTS (
                           SELECT 1 FROM jobs p
                           WHERE p.kind = 'app_webhook' AND p.member_id = j.member_id
                             AND p.sequence < j.sequence AND p.state <> 'succeeded'
                             AND p.state <> 'discarded'))
                   ORDER BY j.run_at, j.id
                   LIMIT $3
                   FOR UPDATE SKIP LOCKED)
               UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1,
                      lease_until = $2 + make_interval(secs => $5), updated_at = $2
               FROM due WHERE jobs.id = due.id
               RETURNING jobs.*"#,
            &[&kind.as_str(), &now, &limit, &ids, &(LEASE_SECS as f64)],
        )
        .await
        .context("Failed to claim jobs")?;
    let mut jobs: Vec<Job> = rows.iter().filter_map(Job::from_row).collect();
    jobs.sort_by_key(|j| j.id);
    Ok(jobs)
}

fn history_entry(
    now: DateTime<Utc>,
    attempt: i32,
    outcome: &str,
    duration_ms: u64,
    status: Option<u16>,
) -> Value {
    json!([{ "at": now, "attempt": attempt, "outcome": outcome, "duration_ms": duration_ms, "status": status }])
}

/// Marks jobs succeeded (one statement for a whole batch).
pub async fn succeed(
    client: &impl Sql,
    done: &[(i64, i32)],
    duration_ms: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<u64> {
    if done.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = done.iter().map(|d| d.0).collect();
    let attempts: Vec<i32> = done.iter().map(|d| d.1).collect();
    let entry = history_entry(now, 0, "succeeded", duration_ms, None);
    client
        .execute(
            r#"UPDATE jobs SET state = 'succeeded', lease_until = NULL, reason = NULL, last_error = NULL,
                      upstream_status = NULL, updated_at = $3,
                      history = (CASE WHEN jsonb_array_length(history) >= $5 THEN history - 0 ELSE history END)
                                || jsonb_set($4::jsonb, '{0,attempt}', to_jsonb(jobs.attempts))
               WHERE (id, attempts) IN (SELECT * FROM unnest($1::bigint[], $2::int[]))
                 AND state = 'running'"#,
            &[&ids, &attempts, &now, &entry, &HISTORY_LEN],
        )
        .await
        .context("Failed to record succeeded jobs")
}

/// What to write after a failed attempt.
#[derive(Debug, Clone)]
pub struct Failure<'a> {
    /// `pending` (retry at `run_at`) or `dead`.
    pub state: &'a str,
    /// Next attempt time (retry) or now.
    pub run_at: DateTime<Utc>,
    /// Reason code.
    pub reason: &'a str,
    /// Upstream status.
    pub status: Option<u16>,
    /// Short error text.
    pub error: &'a str,
    /// Whether the attempt is given back (parked, not spent).
    pub refund_attempt: bool,
}

/// Records one failed attempt; false when the claim was lost (lease expired
/// and the job was rescued meanwhile).
pub async fn fail(
    client: &impl Sql,
    job: &Job,
    f: &Failure<'_>,
    duration_ms: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let entry = history_entry(now, job.attempts, f.reason, duration_ms, f.status);
    let status = f.status.map(i32::from);
    let refund = i32::from(f.refund_attempt);
    let n = client
        .execute(
            r#"UPDATE jobs SET state = $3, run_at = $4, reason = $5, upstream_status = $6, last_error = $7,
                      lease_until = NULL, attempts = attempts - $10, updated_at = $8,
                      history = (CASE WHEN jsonb_array_length(history) >= $11 THEN history - 0 ELSE history END) || $9::jsonb
               WHERE id = $1 AND attempts = $2 AND state = 'running'"#,
            &[
                &job.id,
                &job.attempts,
                &f.state,
                &f.run_at,
                &f.reason,
                &status,
                &f.error,
                &now,
                &entry,
                &refund,
                &HISTORY_LEN,
            ],
        )
        .await
        .context("Failed to record a failed attempt")?;
    Ok(n == 1)
}

/// Puts running jobs whose lease expired back to pending (their worker died);
/// rows another sweep is rescuing are skipped (no deadlock between sweeps).
pub async fn rescue_expired(client: &impl Sql, now: DateTime<Utc>) -> anyhow::Result<u64> {
    client
        .execute(
            r#"UPDATE jobs SET state = 'pending', lease_until = NULL, run_at = $1, updated_at = $1,
                      last_error = 'lease expired: worker did not finish'
               WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_until < $1
                            ORDER BY id FOR UPDATE SKIP LOCKED)"#,
            &[&now],
        )
        .await
        .context("Failed to rescue expired leases")
}

/// Holds pending jobs of a kind (`not_configured` or `paused`), or releases
/// held ones when the kind can run again. Returns rows changed. Rows are
/// locked in id order, skipping those another sweep is changing the same way:
/// two sweeps updating the same rows in different scan orders deadlocked.
pub async fn set_held(
    client: &impl Sql,
    kind: JobKind,
    hold: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let kind = kind.as_str();
    let n = match hold {
        Some(reason) => {
            client
                .execute(
                    r#"UPDATE jobs SET state = 'held', reason = $2, updated_at = $3 WHERE id IN (
                         SELECT id FROM jobs WHERE kind = $1 AND (state = 'pending' OR (state = 'held' AND reason <> $2))
                         ORDER BY id FOR UPDATE SKIP LOCKED)"#,
                    &[&kind, &reason, &now],
                )
                .await
        }
        None => {
            client
                .execute(
                    r#"UPDATE jobs SET state = 'pending', reason = NULL, run_at = $2, updated_at = $2 WHERE id IN (
                         SELECT id FROM jobs WHERE kind = $1 AND state = 'held' ORDER BY id FOR UPDATE SKIP LOCKED)"#,
                    &[&kind, &now],
                )
                .await
        }
    };
    n.context("Failed to hold or release jobs")
}

/// Deletes up to `batch` succeeded jobs older than `before`.
pub async fn prune(client: &impl Sql, before: DateTime<Utc>, batch: i64) -> anyhow::Result<u64> {
    client
        .execute(
            r#"DELETE FROM jobs WHERE id IN (
                   SELECT id FROM jobs WHERE state = 'succeeded' AND updated_at < $1 LIMIT $2)"#,
            &[&before, &batch],
        )
        .await
        .context("Failed to prune jobs")
}

/// Pending jobs due now (for the sweep summary).
pub async fn count_due(client: &impl Sql, now: DateTime<Utc>) -> anyhow::Result<i64> {
    Ok(client
        .query_one(
            "SELECT count(*) FROM jobs WHERE state = 'pending' AND run_at <= $1",
            &[&now],
        )
        .await
        .context("Failed to count due jobs")?
        .get(0))
}
