//! Customer emails through Resend (`POST {RESEND_BASE_URL}/emails`): the
//! failed-payment follow-up and the bank's confirmation request. Fixed
//! templates only ([`template`]), never model-written; `Idempotency-Key` is
//! the job's dedupe key (`dunning/<invoice id>`, `action_required/<invoice
//! id>`), so a retried job never sends twice.

pub mod template;

use std::time::Duration;

use serde_json::json;

use crate::jobs::outcome::{classify_status, classify_transport};
use crate::jobs::{Job, JobError, Reason};
use crate::state::App;

/// Per-request timeout.
pub const TIMEOUT_MS: u64 = 10_000;

/// Sends one email job (payload: `to`, `subject`, `text`, `html`, and the
/// template's `category`, sent as a Resend tag).
pub async fn send(app: &App, job: &Job) -> Result<(), JobError> {
    let Some(resend) = &app.config.resend else {
        return Err(JobError::permanent(
            Reason::NotConfigured,
            "resend is not configured",
        ));
    };
    let p = &job.payload;
    let Some(to) = p["to"].as_str().filter(|t| t.contains('@')) else {
        return Err(JobError::permanent(Reason::MissingData, "no recipient"));
    };
    let body = json!({
        "from": resend.from,
        "to": [to],
        "subject": p["subject"],
        "text": p["text"],
        "html": p["html"],
        "tags": [{ "name": "category", "value": p["category"].as_str().unwrap_or("dunning") }],
    });
    let res = app
        .http
        .post(format!("{}/emails", resend.base_url))
        .bearer_auth(resend.api_key.expose())
        .header("Idempotency-Key", &job.dedupe_key)
        .timeout(Duration::from_millis(TIMEOUT_MS))
        .json(&body)
        .send()
        .await
        .map_err(|e| classify_transport(&e, false))?;
    classify_status(res.status().as_u16(), res.headers(), app.clock.now(), false)
}

crate::one_job_at_a_time!(
    /// The `customer_email` job kind's way out (registered in `jobs::registry`).
    CustomerEmail,
    send
);
