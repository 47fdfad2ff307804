//! Money side effects of Stripe events, in the ingest transaction: ONE
//! customer email per invoice and purpose (a failed payment's follow-up, the
//! bank's confirmation request), recovery when the invoice is paid, and
//! human escalation (failed payments, failed delayed checkouts, refunds,
//! disputes and their outcome: never automated).

use crate::db::Sql;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::event::{Fact, InvoiceDue, RawEvent};
use crate::alerts::enqueue_alert;
use crate::email::template;
use crate::jobs::{enqueue, JobKind, NewJob};
use crate::members::change::Enqueued;
use crate::members::Member;
use crate::telemetry::mask_email;

/// True when [`effects`] may do anything for `fact` (every variant named,
/// so a new fact must be decided here: the group commit pipelines `COMMIT`
/// behind the writes only of events without effects).
pub fn has_effects(fact: &Fact) -> bool {
    match fact {
        Fact::InvoiceFailed { .. }
        | Fact::InvoiceActionRequired(_)
        | Fact::InvoicePaid { .. }
        | Fact::CheckoutFailed { .. }
        | Fact::Refund { .. }
        | Fact::Dispute { .. } => true,
        Fact::Checkout { .. }
        | Fact::Subscription { .. }
        | Fact::TrialWillEnd { .. }
        | Fact::Customer { .. }
        | Fact::CustomerDeleted { .. }
        | Fact::Unhandled => false,
    }
}

/// Runs the side effects of `fact`; returns the jobs enqueued.
pub async fn effects(
    tx: &impl Sql,
    member: Option<&Member>,
    event: &RawEvent,
    fact: &Fact,
    now: DateTime<Utc>,
) -> anyhow::Result<Enqueued> {
    let mut jobs = Enqueued::new();
    let member_id = member.map(|m| m.id);
    let who = member
        .map(|m| format!("member {}", m.id))
        .unwrap_or_else(|| "an unknown customer".into());
    let alert = |key: String, text: String| async move {
        let id = enqueue_alert(tx, key, text, member_id, now).await?;
        anyhow::Ok(id.map(|id| (JobKind::SlackAlert, id)))
    };
    match fact {
        Fact::InvoiceFailed { due, final_attempt } => {
            let Some(m) = member else { return Ok(jobs) };
            if already_paid(tx, m, &due.invoice, event.created_at()).await? {
                return Ok(jobs);
            }
            jobs.extend(email(tx, m, due, Purpose::Dunning, now).await?);
            let amount = template::money(due.amount_due, &due.currency);
            let email_note = m
                .email
                .as_deref()
                .map(mask_email)
                .unwrap_or_else(|| "no email".into());
            let invoice = &due.invoice;
            // The final attempt has its own key: the first failure of the
            // same invoice already used the ordinary one.
            let (key, text) = if *final_attempt {
                (format!("payment_failed_final:{invoice}"), format!(":no_entry: Final payment attempt failed for {who} ({email_note}): invoice {invoice}, {amount}. Stripe will not retry; the subscription now does what your Stripe settings say (cancel, mark unpaid or leave past due)."))
            } else {
                (format!("payment_failed:{invoice}"), format!(":credit_card: Payment failed for {who} ({email_note}): invoice {invoice}, {amount}. A follow-up email is queued."))
            };
            jobs.extend(alert(key, text).await?);
        }
        Fact::InvoiceActionRequired(due) => {
            let Some(m) = member else { return Ok(jobs) };
            if paid_at(tx, m.id, &due.invoice).await?.is_none() {
                jobs.extend(email(tx, m, due, Purpose::ActionRequired, now).await?);
            }
        }
        Fact::InvoicePaid { invoice, .. } => {
            tx.execute(
                "UPDATE payment_failures SET recovered_at = $2 WHERE invoice_id = $1 AND recovered_at IS NULL",
                &[invoice, &event.created_at()],
            )
            .await?;
            for purpose in [Purpose::Dunning, Purpose::ActionRequired] {
                crate::jobs::manage::cancel_unsent(
                    tx,
                    &purpose.key(invoice),
                    "invoice paid before the email was sent",
                    now,
                )
                .await?;
            }
        }
        Fact::CheckoutFailed { session, .. } => {
            let text = format!(":warning: The delayed payment of checkout {session} failed for {who}: no access was granted. Follow up with the customer if they still want to buy.");
            jobs.extend(alert(format!("checkout_failed:{session}"), text).await?);
        }
        Fact::Refund {
            charge,
            amount_refunded,
            currency,
            ..
        } => {
            let text = format!(
                ":leftwards_arrow_with_hook: Refund of {} on charge {charge} for {who}. Check it was intended.",
                template::money(*amount_refunded, currency)
            );
            jobs.extend(alert(format!("refund:{}", event.id), text).await?);
        }
        Fact::Dispute {
            dispute,
            charge,
            amount,
            currency,
            reason,
            closed,
            ..
        } => {
            let amount = template::money(*amount, currency);
            let (key, text) = match closed {
                None => (format!("dispute:{charge}"), format!(":rotating_light: Dispute ({reason}) of {amount} on charge {charge} for {who}. Respond in Stripe; access is left to you.")),
                Some(status) => (format!("dispute_closed:{dispute}"), format!("{} Dispute {dispute} ({reason}) of {amount} on charge {charge} for {who} is closed: {}. Access is left to you.", outcome(status).0, outcome(status).1)),
            };
            jobs.extend(alert(key, text).await?);
        }
        _ => {}
    }
    Ok(jobs)
}

/// An emoji and words for a closed dispute's `status`.
fn outcome(status: &str) -> (&'static str, String) {
    match status {
        "won" => (":white_check_mark:", "won (the funds come back)".into()),
        "lost" => (":x:", "lost (the funds stay with the cardholder)".into()),
        "warning_closed" => (
            ":white_check_mark:",
            "inquiry closed without becoming a chargeback".into(),
        ),
        "prevented" => (":white_check_mark:", "prevented".into()),
        other => (":grey_question:", other.to_string()),
    }
}

/// Why a customer email about an invoice goes out.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    /// A payment failed: the follow-up (`dunning/<invoice id>`).
    Dunning,
    /// The bank asks the customer to confirm (`action_required/<invoice id>`).
    ActionRequired,
}

impl Purpose {
    /// The job's dedupe key, also Resend's `Idempotency-Key`.
    fn key(self, invoice: &str) -> String {
        match self {
            Self::Dunning => format!("dunning/{invoice}"),
            Self::ActionRequired => format!("action_required/{invoice}"),
        }
    }
}

/// Enqueues the `purpose` email of `due`: ONE per invoice however often the
/// event comes. To the member's email, else the invoice's; none without
/// either.
async fn email(
    tx: &impl Sql,
    m: &Member,
    due: &InvoiceDue,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<(JobKind, i64)>> {
    let Some(to) = m.email.clone().or_else(|| due.email.clone()) else {
        return Ok(None);
    };
    let name = m.name.as_deref().or(due.name.as_deref());
    let amount = template::money(due.amount_due, &due.currency);
    let url = due.hosted_invoice_url.as_deref();
    let payload = match purpose {
        Purpose::Dunning => template::payment_failed(&to, name, &amount, url),
        Purpose::ActionRequired => {
            let Some(p) = template::payment_action_required(&to, name, &amount, url) else {
                tracing::warn!(member_id = %m.id, invoice_id = %due.invoice, "no hosted invoice link: confirmation email not sent");
                return Ok(None);
            };
            p
        }
    };
    let job = NewJob {
        kind: JobKind::CustomerEmail,
        dedupe_key: purpose.key(&due.invoice),
        payload,
        member_id: Some(m.id),
        sequence: None,
    };
    Ok(enqueue(tx, job, now)
        .await?
        .map(|id| (JobKind::CustomerEmail, id)))
}

/// When the member's invoice was first paid, if a paid event is stored (an
/// out-of-order delivery: nothing is asked of the customer any more).
async fn paid_at(
    tx: &impl Sql,
    member_id: Uuid,
    invoice: &str,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    Ok(tx
        .query_opt(
            r#"SELECT created FROM events
               WHERE source = 'stripe' AND member_id = $2 AND type IN ('invoice.paid', 'invoice.payment_succeeded')
                 AND payload -> 'data' -> 'object' ->> 'id' = $1
               ORDER BY created LIMIT 1"#,
            &[&invoice, &member_id],
        )
        .await?
        .map(|r| r.get(0)))
}

/// Records the failure; true when the invoice was already paid (an
/// out-of-order delivery), in which case no follow-up is sent.
async fn already_paid(
    tx: &impl Sql,
    m: &Member,
    invoice: &str,
    failed_at: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let paid_at = paid_at(tx, m.id, invoice).await?;
    tx.execute(
        r#"INSERT INTO payment_failures (invoice_id, member_id, failed_at, recovered_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (invoice_id) DO UPDATE SET failed_at = LEAST(payment_failures.failed_at, $3)"#,
        &[&invoice, &m.id, &failed_at, &paid_at],
    )
    .await?;
    Ok(paid_at.is_some())
}
