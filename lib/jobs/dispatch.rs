//! Kind → adapter. Adapters live with their feature (`crm`, `app`, `email`,
//! `alerts`) and classify their own upstream failures.

use crate::db::Sql;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};

use super::{Job, JobError, JobKind, Reason};
use crate::state::App;

/// Jobs of one batch run at once at most (per sweep).
const CONCURRENCY: usize = 8;

/// Runs a claimed batch of one kind; one result per job, in order.
pub async fn run(app: &App, kind: JobKind, jobs: &[Job]) -> Vec<Result<(), JobError>> {
    if kind == JobKind::CrmUpsert {
        return crate::crm::upsert_batch(app, jobs).await;
    }
    // Owned futures (no borrowed closures): keeps the sweep future `Send`.
    let attempts = jobs.iter().cloned().map(|job| {
        let app = app.clone();
        async move {
            match job.kind {
                JobKind::AppWebhook => crate::app::deliver(&app, &job).await,
                JobKind::CustomerEmail => crate::email::send(&app, &job).await,
                JobKind::SlackAlert => crate::alerts::send(&app, &job).await,
                JobKind::HelpdeskTicket => crate::support::helpdesk::deliver(&app, &job).await,
                JobKind::AiDraft => crate::ai::draft(&app, &job).await,
                JobKind::CrmUpsert => crate::crm::upsert_batch(&app, std::slice::from_ref(&job))
                    .await
                    .pop()
                    .unwrap_or(Ok(())),
            }
        }
    });
    stream::iter(attempts).buffered(CONCURRENCY).collect().await
}

/// Side effects of a job going dead, in the transaction that records it:
/// one Slack alert (never for a Slack job itself, to avoid loops); a dead
/// `ai_draft` also sends its ticket to a person (`needs_human`, `ai_failed`).
pub async fn on_dead(
    _app: &App,
    tx: &impl Sql,
    job: &Job,
    error: &JobError,
    reason: Reason,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    if job.kind != JobKind::SlackAlert {
        crate::alerts::enqueue_dead_job(tx, job, error, reason, now).await?;
    }
    if job.kind == JobKind::AiDraft {
        crate::ai::on_dead(tx, job, now).await?;
    }
    Ok(())
}
