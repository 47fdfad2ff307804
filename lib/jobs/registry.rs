//! The registry: each job kind's delivery, and the work features add to
//! every sweep. Adding a job kind touches its feature (the delivery) and
//! one line here (plus its name and policy in [`super::kind`]).

use super::delivery::{Delivery, SweepHook};
use super::JobKind;
use crate::state::App;
use chrono::{DateTime, Utc};

/// The delivery of `kind`.
pub fn delivery(kind: JobKind) -> &'static dyn Delivery {
    match kind {
        JobKind::CrmUpsert => &crate::crm::hubspot::CrmUpsert,
        JobKind::AppWebhook => &crate::product::webhook::AppWebhook,
        JobKind::CustomerEmail => &crate::email::CustomerEmail,
        JobKind::SlackAlert => &crate::alerts::SlackAlert,
        JobKind::HelpdeskTicket => &crate::support::helpdesk::HelpdeskTicket,
        JobKind::ZendeskTicket => &crate::support::zendesk_job::ZendeskTicket,
        JobKind::AiDraft => &crate::ai::job::AiDraft,
    }
}

/// Run by every sweep before it claims jobs; what they enqueue counts as
/// `reconciled` in the summary.
pub const BEFORE_CLAIM: &[SweepHook] = &[crate::members::hooks::SWEEP_HOOK];

/// Run by every sweep at its end; what they delete counts as `pruned`.
pub const PRUNE: &[SweepHook] = &[
    SweepHook {
        name: "succeeded_jobs",
        run: |app, now| Box::pin(prune_succeeded(app, now)),
    },
    crate::support::idempotency::PRUNE_HOOK,
    crate::watchdog::requests::PRUNE_HOOK,
];

/// Succeeded jobs past their retention.
async fn prune_succeeded(app: &App, now: DateTime<Utc>) -> anyhow::Result<u64> {
    let before = now - chrono::Duration::days(super::sweep::RETENTION_DAYS);
    super::store::prune(&app.db.get().await?, before, super::sweep::PRUNE_BATCH).await
}
