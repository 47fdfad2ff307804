//! `helpdesk_ticket` jobs: each contact (a new ticket, or a repeat contact
//! merged into one) is POSTed to `HELPDESK_WEBHOOK_URL`, signed with
//! Standard Webhooks (`HELPDESK_WEBHOOK_SECRET`). The `webhook-id` is
//! `tkt_<ticket id>_<contact n>`, fixed when the job is enqueued and stored
//! in its payload, so it is the same on every retry and the receiver can
//! dedupe. Body:
//!
//! ```json
//! {"type": "ticket.created" | "ticket.contact_added", "id": "tkt_…_1",
//!  "created_at": "…", "data": {"ticket_id", "contact", "status", "priority",
//!  "needs_human", "reasons", "tags", "email", "name", "subject", "message",
//!  "source", "metadata", "member": {snapshot}}}
//! ```

use crate::db::Sql;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::input::Intake;
use super::rules::Decision;
use crate::jobs::{enqueue, Job, JobError, JobKind, NewJob, Reason};
use crate::state::App;

/// Per-delivery timeout.
pub const TIMEOUT_MS: u64 = 10_000;

/// The stable message id of contact `n` of a ticket.
pub fn webhook_id(ticket_id: Uuid, n: i32) -> String {
    format!("tkt_{}_{n}", ticket_id.simple())
}

/// What one contact's delivery describes.
#[derive(Debug, Clone, Copy)]
pub struct Contact<'a> {
    /// Ticket.
    pub ticket_id: Uuid,
    /// Contact number (1 for the ticket's first).
    pub n: i32,
    /// The contact's own fields.
    pub intake: &'a Intake,
    /// The ticket's decision after this contact.
    pub decision: &'a Decision,
    /// The member snapshot.
    pub snapshot: &'a Value,
    /// The member.
    pub member_id: Uuid,
}

/// Enqueues the delivery of one contact in the caller's transaction.
pub async fn enqueue_contact(
    tx: &impl Sql,
    c: Contact<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let id = webhook_id(c.ticket_id, c.n);
    let body = json!({
        "type": if c.n == 1 { "ticket.created" } else { "ticket.contact_added" },
        "id": id,
        "created_at": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        "data": {
            "ticket_id": c.ticket_id,
            "contact": c.n,
            "status": "open",
            "priority": c.decision.priority.as_str(),
            "needs_human": c.decision.needs_human,
            "reasons": c.decision.reasons,
            "tags": c.decision.tags,
            "email": c.intake.email.as_str(),
            "name": c.intake.name,
            "subject": c.intake.subject,
            "message": c.intake.message,
            "source": c.intake.source.as_str(),
            "metadata": c.intake.metadata.to_json(),
            "member": c.snapshot,
        }
    });
    let job = NewJob {
        kind: JobKind::HelpdeskTicket,
        dedupe_key: format!("helpdesk_ticket:{}:{}", c.ticket_id, c.n),
        payload: json!({ "webhook_id": id, "body": body }),
        member_id: Some(c.member_id),
        sequence: None,
    };
    enqueue(tx, job, now).await
}

/// Delivers one contact.
pub async fn deliver(app: &App, job: &Job) -> Result<(), JobError> {
    let Some(hook) = &app.config.helpdesk else {
        return Err(JobError::permanent(
            Reason::NotConfigured,
            "helpdesk is not configured",
        ));
    };
    let Some(msg_id) = job.payload["webhook_id"].as_str() else {
        return Err(JobError::permanent(
            Reason::MissingData,
            "job has no webhook id",
        ));
    };
    crate::jobs::webhook::post_signed(app, hook, msg_id, &job.payload["body"], TIMEOUT_MS).await
}

crate::one_job_at_a_time!(
    /// The `helpdesk_ticket` job kind's way out (registered in `jobs::registry`).
    HelpdeskTicket,
    deliver
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::standard;

    #[test]
    fn the_webhook_id_is_stable_and_signable() {
        let t = Uuid::parse_str("0192f0c4-6d7e-7a00-8b1c-2d3e4f506172").unwrap();
        let id = webhook_id(t, 2);
        assert_eq!(id, "tkt_0192f0c46d7e7a008b1c2d3e4f506172_2");
        assert_eq!(id, webhook_id(t, 2));
        let secret = crate::secret::Secret::new("whsec_FAKEtestKEY00000");
        assert!(standard::sign(&secret, &id, 1, b"{}").is_ok());
    }
}
