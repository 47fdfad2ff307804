//! The registry: each job kind's delivery, and the work features add to
//! every sweep. Adding a job kind touches its feature (the delivery) and
//! one line here (plus its name and policy in [`super::kind`]).

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::delivery::{Delivery, SweepHook};
use super::JobKind;
use crate::state::App;

/// The delivery of `kind`.
pub fn delivery(kind: JobKind) -> &'static dyn Delivery {
    match kind {
        JobKind::CrmUpsert => &crate::crm::hubspot::CrmUpsert,
        JobKind::AppWebhook => &crate::product::webhook::AppWebhook,
        JobKind::CustomerEmail => &crate::email::CustomerEmail,
        JobKind::SlackAlert => &crate::alerts::SlackAlert,
        JobKind::HelpdeskTicket => &crate::support::helpdesk::HelpdeskTicket,
        JobKind::AiDraft => &crate::ai::job::AiDraft,
    }
}

/// Run by every sweep before it claims jobs; what they enqueue counts as
/// `reconciled` in the summary.
pub const BEFORE_CLAIM: &[&dyn SweepHook] = &[&crate::members::hooks::MemberHooks];

/// Run by every sweep at its end; what they delete counts as `pruned`.
pub const PRUNE: &[&dyn SweepHook] = &[&SucceededJobs, &crate::support::idempotency::IntakeKeys];

/// Succeeded jobs past their retention (`jobs::store::prune`).
struct SucceededJobs;

impl SweepHook for SucceededJobs {
    fn name(&self) -> &'static str {
        "succeeded_jobs"
    }
    fn run<'a>(&'a self, app: &'a App, now: DateTime<Utc>) -> BoxFuture<'a, anyhow::Result<u64>> {
        Box::pin(async move {
            let conn = app.db.get().await?;
            let before = now - chrono::Duration::days(super::sweep::RETENTION_DAYS);
            super::store::prune(&conn, before, super::sweep::PRUNE_BATCH).await
        })
    }
}
