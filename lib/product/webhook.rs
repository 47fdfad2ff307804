//! `app_webhook` jobs: POST the member change to `APP_WEBHOOK_URL`, signed
//! with Standard Webhooks (`APP_WEBHOOK_SECRET`). `webhook-id` is the change
//! id, stable across retries, so the app can dedupe; the outbox claims one
//! member's changes in `sequence` order, so a later change never overtakes
//! one still retrying.

use chrono::{DateTime, Utc};

use crate::db::Sql;
use crate::jobs::{Job, JobError, Reason};
use crate::state::App;

/// Per-delivery timeout.
pub const TIMEOUT_MS: u64 = 10_000;

/// Delivers one change.
pub async fn deliver(app: &App, job: &Job) -> Result<(), JobError> {
    let Some(hook) = &app.config.app_webhook else {
        return Err(JobError::permanent(
            Reason::NotConfigured,
            "app webhook is not configured",
        ));
    };
    let body = &job.payload["body"];
    let Some(change_id) = body["id"].as_str() else {
        return Err(JobError::permanent(
            Reason::MissingData,
            "job has no change id",
        ));
    };
    crate::jobs::webhook::post_signed(app, hook, change_id, body, TIMEOUT_MS).await?;
    record_delay(app, job, change_id).await;
    Ok(())
}

/// For changes caused by a Stripe payment event, records event → delivery
/// (the payment → access delay metric). Best effort.
async fn record_delay(app: &App, job: &Job, change_id: &str) {
    let meta = &job.payload["meta"];
    let (Some(event_type), Some(created)) = (
        meta["event_type"].as_str(),
        meta["event_created"]
            .as_str()
            .and_then(|c| c.parse::<DateTime<Utc>>().ok()),
    ) else {
        return;
    };
    let result = async {
        let client = app.db.get().await?;
        client
            .execute(
                r#"INSERT INTO access_deliveries (change_id, member_id, event_type, event_created, delivered_at)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (change_id) DO NOTHING"#,
                &[&change_id, &job.member_id, &event_type, &created, &app.clock.now()],
            )
            .await?;
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(job_id = job.id, error = %format!("{e:#}"), "failed to record delivery delay");
    }
}

crate::one_job_at_a_time!(
    /// The `app_webhook` job kind's way out (registered in `jobs::registry`).
    AppWebhook,
    deliver
);
