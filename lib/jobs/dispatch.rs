//! Kind → delivery, through [`super::registry`]: the outbox knows no feature.
//! Deliveries live with their feature and classify their own upstream
//! failures.

use chrono::{DateTime, Utc};

use super::{registry, Job, JobError, JobKind, Reason};
use crate::db::Tx;
use crate::state::App;

/// Runs a claimed batch of one kind; one result per job, in order.
pub async fn run(app: &App, kind: JobKind, jobs: &[Job]) -> Vec<Result<(), JobError>> {
    registry::delivery(kind).deliver_batch(app, jobs).await
}

/// Side effects of a job going dead, in the transaction that records it:
/// one Slack alert (never for a Slack job itself, to avoid loops), then
/// whatever its kind adds (a dead `ai_draft` sends its ticket to a person).
pub async fn on_dead(
    tx: &Tx,
    job: &Job,
    error: &JobError,
    reason: Reason,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    if job.kind != JobKind::SlackAlert {
        crate::alerts::enqueue_dead_job(tx, job, error, reason, now).await?;
    }
    registry::delivery(job.kind).on_dead(tx, job, now).await
}
