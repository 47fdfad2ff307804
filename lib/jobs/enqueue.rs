//! Putting work into the outbox, always in the caller's transaction (the
//! business write and its jobs commit together). A job's `dedupe_key` is
//! unique: the same change or the same alert is never queued twice.

use crate::db::Sql;
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::JobKind;

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Kind.
    pub kind: JobKind,
    /// Unique per entity + operation: the same change cannot be queued twice.
    pub dedupe_key: String,
    /// What the adapter needs.
    pub payload: Value,
    /// The member concerned, if any.
    pub member_id: Option<Uuid>,
    /// Per-member order (app webhooks).
    pub sequence: Option<i64>,
}

/// Enqueues in the caller's transaction; `None` when a job with the same
/// dedupe key exists already (the change was queued before).
pub async fn enqueue(
    tx: &impl Sql,
    job: NewJob,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let row = tx
        .query_opt(
            r#"INSERT INTO jobs (kind, dedupe_key, payload, member_id, sequence, max_attempts, run_at, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7)
               ON CONFLICT (dedupe_key) DO NOTHING
               RETURNING id"#,
            &[
                &job.kind.as_str(),
                &job.dedupe_key,
                &job.payload,
                &job.member_id,
                &job.sequence,
                &job.kind.policy().max_attempts,
                &now,
            ],
        )
        .await
        .context("Failed to enqueue a job")?;
    Ok(row.map(|r| r.get(0)))
}

/// Enqueues several jobs with one statement (a change's app webhook and CRM
/// upsert); for each job, in order, its id or `None` when its dedupe key
/// exists already.
pub async fn enqueue_many(
    tx: &impl Sql,
    jobs: &[&NewJob],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Option<i64>>> {
    insert_rows(tx, ENQUEUE_MANY, jobs, now).await
}

/// Inserts jobs whose dedupe keys cannot exist yet, with one statement and
/// no conflict clause: the group commit's change jobs, keyed by their member
/// and its new `sequence`, which the member's lock makes unique. Why: the
/// speculative insertion of `ON CONFLICT` costs an index probe and a WAL
/// record per job; should a key exist after all, the statement fails, the
/// batch rolls back and its events go one by one ([`enqueue_many`]).
pub async fn insert_new(
    tx: &impl Sql,
    jobs: &[&NewJob],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Option<i64>>> {
    insert_rows(tx, INSERT_NEW, jobs, now).await
}

async fn insert_rows(
    tx: &impl Sql,
    sql: &str,
    jobs: &[&NewJob],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Option<i64>>> {
    let kinds: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
    let keys: Vec<&str> = jobs.iter().map(|j| j.dedupe_key.as_str()).collect();
    let members: Vec<Option<Uuid>> = jobs.iter().map(|j| j.member_id).collect();
    let sequences: Vec<Option<i64>> = jobs.iter().map(|j| j.sequence).collect();
    let attempts: Vec<i32> = jobs.iter().map(|j| j.kind.policy().max_attempts).collect();
    let payloads: Vec<&Value> = jobs.iter().map(|j| &j.payload).collect();
    let rows = tx
        .query(
            sql,
            &[
                &kinds, &keys, &payloads, &members, &sequences, &attempts, &now,
            ],
        )
        .await
        .context("Failed to enqueue jobs")?;
    let ids: std::collections::HashMap<String, i64> =
        rows.iter().map(|r| (r.get(1), r.get(0))).collect();
    Ok(keys.iter().map(|k| ids.get(*k).copied()).collect())
}

/// The statement of [`enqueue_many`] (public for callers that prepare their
/// statements before pipelining them behind `COMMIT`).
pub const ENQUEUE_MANY: &str = r#"INSERT INTO jobs (kind, dedupe_key, payload, member_id, sequence, max_attempts, run_at, created_at, updated_at)
               SELECT k, d, p, m, s, a, $7, $7, $7
               FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::uuid[], $5::int8[], $6::int4[]) AS t (k, d, p, m, s, a)
               ON CONFLICT (dedupe_key) DO NOTHING
               RETURNING id, dedupe_key"#;

/// The statement of [`insert_new`].
pub const INSERT_NEW: &str = r#"INSERT INTO jobs (kind, dedupe_key, payload, member_id, sequence, max_attempts, run_at, created_at, updated_at)
               SELECT k, d, p, m, s, a, $7, $7, $7
               FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::uuid[], $5::int8[], $6::int4[]) AS t (k, d, p, m, s, a)
               RETURNING id, dedupe_key"#;
