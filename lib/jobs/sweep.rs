//! The sweep (cron) and `run_now` (right after a request, via `wait_until`).

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::store::{self, Failure, Job};
use super::{dispatch, registry, retry, JobError, JobKind, Reason};
use crate::state::App;

/// Succeeded jobs are kept this long (for the timeline), then pruned.
pub const RETENTION_DAYS: i64 = 7;
/// Rows pruned per sweep at most (bounded so a sweep stays short).
pub const PRUNE_BATCH: i64 = 5_000;

/// What one sweep did (also logged as one line).
#[derive(Debug, Default, Clone, Serialize)]
pub struct SweepSummary {
    /// Jobs claimed.
    pub claimed: u64,
    /// Jobs that succeeded.
    pub succeeded: u64,
    /// Jobs scheduled for another attempt.
    pub retried: u64,
    /// Jobs that went dead.
    pub dead: u64,
    /// Jobs newly held (not configured or paused).
    pub held: u64,
    /// Held jobs released because their integration came back.
    pub released: u64,
    /// Running jobs whose lease had expired, put back.
    pub rescued: u64,
    /// Succeeded jobs pruned.
    pub pruned: u64,
    /// Work the sweep hooks enqueued (CRM reconciliation, grace expiry).
    pub reconciled: u64,
    /// Pending jobs still due when the sweep ended.
    pub remaining_due: i64,
    /// Wall time.
    pub duration_ms: u64,
}

/// One bounded sweep: rescue, hold/release, hooks, then claim and run due
/// jobs kind by kind (CRM first) until none is due or `budget` is spent.
pub async fn sweep(app: &App, budget: Duration) -> anyhow::Result<SweepSummary> {
    let started = Instant::now();
    let mut s = SweepSummary::default();
    let now = app.clock.now();
    let runnable = {
        let client = app
            .db
            .get()
            .await
            .context("Failed to get a connection for the sweep")?;
        s.rescued = store::rescue_expired(&client, now).await?;
        let paused = crate::flags::paused(&client).await?;
        let mut runnable = Vec::new();
        for kind in JobKind::ALL {
            let hold = if !kind.configured(&app.config) {
                Some(Reason::NotConfigured.as_str())
            } else if paused.iter().any(|p| p == kind.integration()) {
                Some(Reason::Paused.as_str())
            } else {
                None
            };
            let n = store::set_held(&client, kind, hold, now).await?;
            if hold.is_some() {
                s.held += n;
            } else {
                s.released += n;
                runnable.push(kind);
            }
        }
        runnable
    };
    for hook in registry::BEFORE_CLAIM {
        s.reconciled += (hook.run)(app, now)
            .await
            .with_context(|| format!("Sweep hook {} failed", hook.name))?;
    }
    'kinds: for kind in runnable {
        loop {
            if started.elapsed() >= budget {
                break 'kinds;
            }
            let jobs = {
                let client = app
                    .db
                    .get()
                    .await
                    .context("Failed to get a connection to claim")?;
                store::claim(&client, kind, kind.batch_size(), None, app.clock.now()).await?
            };
            if jobs.is_empty() {
                break;
            }
            s.claimed += jobs.len() as u64;
            execute(app, kind, jobs, &mut s).await?;
        }
    }
    let now = app.clock.now();
    for hook in registry::PRUNE {
        s.pruned += (hook.run)(app, now)
            .await
            .with_context(|| format!("Prune hook {} failed", hook.name))?;
    }
    let client = app
        .db
        .get()
        .await
        .context("Failed to get a connection to finish the sweep")?;
    s.remaining_due = store::count_due(&client, now).await?;
    s.duration_ms = started.elapsed().as_millis() as u64;
    tracing::info!(
        claimed = s.claimed,
        succeeded = s.succeeded,
        retried = s.retried,
        dead = s.dead,
        held = s.held,
        released = s.released,
        rescued = s.rescued,
        pruned = s.pruned,
        reconciled = s.reconciled,
        remaining_due = s.remaining_due,
        duration_ms = s.duration_ms,
        "sweep done"
    );
    Ok(s)
}

/// Runs the given new jobs now (after a response). Kinds that are not
/// configured or are paused are left for the sweep to hold.
pub async fn run_now(app: &App, ids: Vec<(JobKind, i64)>) {
    for kind in JobKind::ALL {
        let of_kind: Vec<i64> = ids
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, id)| *id)
            .collect();
        if of_kind.is_empty() || !kind.configured(&app.config) {
            continue;
        }
        if let Err(e) = run_kind_now(app, kind, of_kind).await {
            tracing::warn!(kind = kind.as_str(), error = %format!("{e:#}"), "run_now failed; the sweep will retry");
        }
    }
}

async fn run_kind_now(app: &App, kind: JobKind, ids: Vec<i64>) -> anyhow::Result<()> {
    let jobs = {
        let client = app.db.get().await?;
        let paused = crate::flags::paused(&client).await?;
        if paused.iter().any(|p| p == kind.integration()) {
            return Ok(());
        }
        store::claim(
            &client,
            kind,
            ids.len() as i64,
            Some(ids.as_slice()),
            app.clock.now(),
        )
        .await?
    };
    if !jobs.is_empty() {
        let mut s = SweepSummary::default();
        execute(app, kind, jobs, &mut s).await?;
    }
    Ok(())
}

/// Runs one claimed batch and records every result.
async fn execute(
    app: &App,
    kind: JobKind,
    jobs: Vec<Job>,
    s: &mut SweepSummary,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let results = dispatch::run(app, kind, &jobs).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    let now = app.clock.now();
    let client = app
        .db
        .get()
        .await
        .context("Failed to get a connection to record results")?;
    let done: Vec<(i64, i32)> = jobs
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_ok())
        .map(|(j, _)| (j.id, j.attempts))
        .collect();
    // The watchdog's request record, pipelined with the success write.
    let (succeeded, ()) = tokio::join!(
        store::succeed(&client, &done, duration_ms, now),
        crate::watchdog::record_requests(&client, kind, &results, now)
    );
    s.succeeded += succeeded?;
    let mut client = Some(client);
    for (job, result) in jobs.iter().zip(results) {
        if let Err(e) = result {
            let conn = match client.take() {
                Some(c) => c,
                None => app.db.get().await.context("Failed to get a connection")?,
            };
            let (dead, conn) = record_failure(conn, job, &e, duration_ms, now).await?;
            client = Some(conn);
            if dead {
                s.dead += 1;
            } else {
                s.retried += 1;
            }
        }
    }
    Ok(())
}

/// Writes one failure: retry later, park, or dead (with one Slack alert, in
/// the same transaction). Returns true when the job went dead, and the
/// connection for the next one.
async fn record_failure(
    client: crate::db::Conn,
    job: &Job,
    e: &JobError,
    duration_ms: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<(bool, crate::db::Conn)> {
    let message = e.to_string();
    let (state, run_at, reason, refund) = match e {
        JobError::Park { until, reason, .. } => ("pending", *until, *reason, true),
        JobError::Permanent { reason, .. } => ("dead", now, *reason, false),
        JobError::Retryable { .. } if job.attempts >= job.max_attempts => {
            ("dead", now, Reason::MaxAttempts, false)
        }
        JobError::Retryable {
            reason,
            retry_after,
            ..
        } => {
            let wait = retry::next_delay(job.kind.policy(), job.attempts, *retry_after);
            let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
            ("pending", at, *reason, false)
        }
    };
    let failure = Failure {
        state,
        run_at,
        reason: reason.as_str(),
        status: e.status(),
        error: &message,
        refund_attempt: refund,
    };
    let tx = client.begin();
    let recorded = store::fail(&tx, job, &failure, duration_ms, now).await?;
    if recorded && state == "dead" {
        dispatch::on_dead(&tx, job, e, reason, now).await?;
    }
    let client = tx
        .commit_keep()
        .await
        .context("Failed to commit a failure")?;
    tracing::warn!(
        job_id = job.id, kind = job.kind.as_str(), attempt = job.attempts, state,
        reason = reason.as_str(), status = e.status(), error = %message, "job attempt failed"
    );
    Ok((recorded && state == "dead", client))
}
