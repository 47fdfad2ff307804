//! Money side effects of Stripe events, in the ingest transaction: the ONE
//! follow-up per failed invoice (customer email + Slack), recovery when it
//! is paid, and human escalation of refunds and disputes (never automated).

use crate::db::Sql;
use chrono::{DateTime, Utc};

use super::event::{Fact, RawEvent};
use crate::alerts::enqueue_alert;
use crate::email::template;
use crate::jobs::{enqueue, JobKind, NewJob};
use crate::members::change::Enqueued;
use crate::members::Member;
use crate::telemetry::mask_email;

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
    match fact {
        Fact::InvoiceFailed {
            invoice,
            email,
            name,
            hosted_invoice_url,
            amount_due,
            currency,
            ..
        } => {
            let Some(m) = member else { return Ok(jobs) };
            if already_paid(tx, m, invoice, event.created_at()).await? {
                return Ok(jobs);
            }
            let amount = template::money(*amount_due, currency);
            let to = m.email.clone().or_else(|| email.clone());
            if let Some(to) = to {
                let name = m.name.clone().or_else(|| name.clone());
                let job = NewJob {
                    kind: JobKind::CustomerEmail,
                    dedupe_key: format!("dunning/{invoice}"),
                    payload: template::payment_failed(
                        &to,
                        name.as_deref(),
                        &amount,
                        hosted_invoice_url.as_deref(),
                    ),
                    member_id,
                    sequence: None,
                };
                if let Some(id) = enqueue(tx, job, now).await? {
                    jobs.push((JobKind::CustomerEmail, id));
                }
            }
            let email_note = m
                .email
                .as_deref()
                .map(mask_email)
                .unwrap_or_else(|| "no email".into());
            let text = format!(":credit_card: Payment failed for {who} ({email_note}): invoice {invoice}, {amount}. A follow-up email is queued.");
            if let Some(id) = enqueue_alert(
                tx,
                format!("payment_failed:{invoice}"),
                text,
                member_id,
                now,
            )
            .await?
            {
                jobs.push((JobKind::SlackAlert, id));
            }
        }
        Fact::InvoicePaid { invoice, .. } => {
            tx.execute(
                "UPDATE payment_failures SET recovered_at = $2 WHERE invoice_id = $1 AND recovered_at IS NULL",
                &[invoice, &event.created_at()],
            )
            .await?;
            crate::jobs::manage::cancel_unsent(
                tx,
                &format!("dunning/{invoice}"),
                "invoice paid before the follow-up was sent",
                now,
            )
            .await?;
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
            if let Some(id) =
                enqueue_alert(tx, format!("refund:{}", event.id), text, member_id, now).await?
            {
                jobs.push((JobKind::SlackAlert, id));
            }
        }
        Fact::Dispute {
            charge,
            amount,
            currency,
            reason,
            ..
        } => {
            let text = format!(
                ":rotating_light: Dispute ({reason}) of {} on charge {charge} for {who}. Respond in Stripe; access is left to you.",
                template::money(*amount, currency)
            );
            if let Some(id) =
                enqueue_alert(tx, format!("dispute:{charge}"), text, member_id, now).await?
            {
                jobs.push((JobKind::SlackAlert, id));
            }
        }
        _ => {}
    }
    Ok(jobs)
}

/// Records the failure; true when the invoice was already paid (an
/// out-of-order delivery), in which case no follow-up is sent.
async fn already_paid(
    tx: &impl Sql,
    m: &Member,
    invoice: &str,
    failed_at: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let paid_at: Option<DateTime<Utc>> = tx
        .query_opt(
            r#"SELECT created FROM events
               WHERE source = 'stripe' AND member_id = $2 AND type IN ('invoice.paid', 'invoice.payment_succeeded')
                 AND payload -> 'data' -> 'object' ->> 'id' = $1
               ORDER BY created LIMIT 1"#,
            &[&invoice, &m.id],
        )
        .await?
        .map(|r| r.get(0));
    tx.execute(
        r#"INSERT INTO payment_failures (invoice_id, member_id, failed_at, recovered_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (invoice_id) DO UPDATE SET failed_at = LEAST(payment_failures.failed_at, $3)"#,
        &[&invoice, &m.id, &failed_at, &paid_at],
    )
    .await?;
    Ok(paid_at.is_some())
}
