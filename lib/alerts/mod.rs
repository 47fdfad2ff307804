//! Slack alerts: escalations (refunds, disputes, failed payments, urgent
//! tickets) and dead letters, posted to `SLACK_WEBHOOK_URL` from the outbox.
//! Alert text is built at enqueue time from ids and masked emails only.

use crate::db::Sql;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::jobs::outcome::{classify_status, classify_transport};
use crate::jobs::{enqueue, Job, JobError, JobKind, NewJob, Reason};
use crate::state::App;

/// Enqueues one alert; `dedupe_key` makes repeats of the same cause free.
pub async fn enqueue_alert(
    tx: &impl Sql,
    dedupe_key: String,
    text: String,
    member_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    enqueue(
        tx,
        NewJob {
            kind: JobKind::SlackAlert,
            dedupe_key: format!("slack:{dedupe_key}"),
            payload: json!({ "text": text }),
            member_id,
            sequence: None,
        },
        now,
    )
    .await
}

/// The alert for a job that went dead: one per dead job, except auth
/// failures, which alert once per integration per day (a rotated token kills
/// every job of its kind; one message says it).
pub async fn enqueue_dead_job(
    tx: &impl Sql,
    job: &Job,
    error: &JobError,
    reason: Reason,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let (key, text) = if error.reason() == Reason::AuthFailed {
        (
            format!("auth_failed:{}:{}", job.kind.integration(), now.format("%Y-%m-%d")),
            format!(
                ":rotating_light: {} rejected our credentials (auth_failed): check the token and its scopes. Jobs are dead-lettered; retry them from the admin page once fixed.",
                job.kind.integration()
            ),
        )
    } else {
        (
            format!("dead:{}:{}", job.id, job.attempts),
            format!(
                ":warning: job {} ({}) is dead after {} attempt(s): {}. Retry it from the admin page.",
                job.id,
                job.kind.as_str(),
                job.attempts,
                reason.as_str()
            ),
        )
    };
    enqueue_alert(tx, key, text, job.member_id, now).await
}

/// Posts one alert.
pub async fn send(app: &App, job: &Job) -> Result<(), JobError> {
    let Some(url) = &app.config.slack_webhook_url else {
        return Err(JobError::permanent(
            Reason::NotConfigured,
            "slack is not configured",
        ));
    };
    let res = app
        .http
        .post(url.expose())
        .json(&job.payload)
        .send()
        .await
        .map_err(|e| classify_transport(&e, false))?;
    classify_status(res.status().as_u16(), res.headers(), app.clock.now(), false)
}

crate::one_job_at_a_time!(
    /// The `slack_alert` job kind's way out (registered in `jobs::registry`).
    SlackAlert,
    send
);
