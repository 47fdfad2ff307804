//! Accepting one contact: ONE Postgres transaction that resolves the member
//! (created as a `lead` once, under the email's advisory lock, which also
//! serialises concurrent contacts from one address), applies the rules,
//! opens a ticket or merges into the open one, flags the member, enqueues
//! the outbox jobs and stores the Idempotency-Key record. Nothing leaves the
//! system here: the jobs run after the response.

use crate::db::{Sql, Tx};
use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use super::helpdesk::{self, Contact};
use super::idempotency::{self, Keyed, Settled, Stored};
use super::input::Intake;
use super::rules::{self, Decision, Priority};
use super::store::{self, OpenTicket};
use crate::jobs::JobKind;
use crate::members::change::Enqueued;
use crate::members::{self, Identity, Member};
use crate::state::App;
use crate::telemetry::mask_email;

/// A repeat contact within this many hours of the open ticket's last
/// contact is merged into it.
pub const MERGE_WINDOW_HOURS: i64 = 24;

/// A stored contact.
#[derive(Debug)]
pub struct Accepted {
    /// The ticket (new, or the open one it merged into).
    pub ticket_id: Uuid,
    /// The member (none for an automatic email from an unknown sender).
    pub member_id: Option<Uuid>,
    /// The ticket's priority after this contact.
    pub priority: Priority,
    /// Merged into an existing ticket.
    pub merged: bool,
    /// The 202 body (also the idempotency record).
    pub response: Stored,
    /// Jobs to run after the response.
    pub jobs: Enqueued,
}

/// The result of [`accept`].
#[derive(Debug)]
pub enum Outcome {
    /// Stored now.
    Accepted(Accepted),
    /// A concurrent request with the same Idempotency-Key committed first
    /// (`Replay` or `Reused`); nothing was stored.
    Settled(Settled),
}

/// Stores one contact (see the module doc).
pub async fn accept(app: &App, intake: &Intake, keyed: Option<&Keyed>) -> anyhow::Result<Outcome> {
    let now = app.clock.now();
    // `BEGIN` goes out with the first statement (`db::Tx`).
    let tx = Tx::new(app.db.get().await.context("Failed to get a connection")?);
    let accepted = store_contact(app, &tx, intake, now).await?;
    if let Some(k) = keyed {
        if !idempotency::record(&tx, k, &accepted.response, now).await? {
            let client = tx.rollback().await.context("Failed to roll back")?;
            let settled = idempotency::settled(&client, k, now).await?;
            return Ok(Outcome::Settled(settled.unwrap_or(Settled::Reused)));
        }
    }
    tx.commit()
        .await
        .context("Failed to commit a support contact")?;
    Ok(Outcome::Accepted(accepted))
}

/// Member, rules, ticket, jobs, flag: everything but the commit. An
/// automatic email is only kept ([`super::auto_reply`]).
async fn store_contact(
    app: &App,
    tx: &impl Sql,
    intake: &Intake,
    now: DateTime<Utc>,
) -> anyhow::Result<Accepted> {
    if intake.automatic {
        return super::auto_reply::store_auto_reply(tx, intake, now).await;
    }
    let email = Some(intake.email.as_str().to_string());
    let identity = Identity {
        email,
        name: intake.name.clone(),
        ..Identity::default()
    };
    let resolved = members::resolve(tx, &identity, now)
        .await?
        .context("an email always resolves to a member")?;
    let (created, member) = (resolved.created(), resolved.member);
    let since = now - Duration::hours(MERGE_WINDOW_HOURS);
    // Reads after the identity locks, sent together; a member created by
    // this contact has no history to read.
    let (open, history) = if created {
        let open = store::find_open(tx, intake.email.as_str(), since).await?;
        (open, store::History::default())
    } else {
        tokio::try_join!(
            store::find_open(tx, intake.email.as_str(), since),
            store::history(tx, member.id),
        )?
    };
    let snapshot = store::snapshot(&member, &history, open.is_none(), now);
    let decision = rules::decide(intake.subject.as_deref(), &intake.message, member.state);
    let (ticket_id, n, decision) =
        write_ticket(tx, open, &member, intake, decision, &snapshot, now).await?;
    let (snapshot, member_id) = (&snapshot, member.id);
    let contact = Contact {
        ticket_id,
        n,
        intake,
        decision: &decision,
        snapshot,
        member_id,
    };
    // AI drafts: `ai_draft` in this transaction when OpenAI is configured and
    // not paused, unless the ticket has an `AI_SKIP_TAGS` tag (see `ai::job`).
    // It never changes the ticket; a `needs_human` draft waits for approval.
    // The three are independent writes, sent together (pipelined).
    let (mut jobs, flagged, draft) = tokio::try_join!(
        enqueue_jobs(app, tx, contact, &member, now),
        flag_member(app, tx, member.clone(), created, ticket_id, n, now),
        crate::ai::enqueue_for_ticket(app, tx, ticket_id, n, now),
    )?;
    jobs.extend(flagged);
    jobs.extend(draft);
    Ok(answer(ticket_id, member_id, n, decision.priority, jobs))
}

/// The 202 body: `status` is `open` for a new ticket, `merged` when the
/// contact joined the open one.
fn answer(
    ticket_id: Uuid,
    member_id: Uuid,
    n: i32,
    priority: Priority,
    jobs: Enqueued,
) -> Accepted {
    let status = if n == 1 { "open" } else { "merged" };
    let body = json!({ "ticket_id": ticket_id, "priority": priority.as_str(), "status": status });
    Accepted {
        ticket_id,
        member_id: Some(member_id),
        priority,
        merged: n > 1,
        response: Stored { status: 202, body },
        jobs,
    }
}

/// Opens a ticket, or adds contact n+1 to the open one with the combined
/// (never lower) decision. Returns the ticket, the contact number and the
/// ticket's decision.
async fn write_ticket(
    tx: &impl Sql,
    open: Option<OpenTicket>,
    member: &Member,
    intake: &Intake,
    decision: Decision,
    snapshot: &serde_json::Value,
    now: DateTime<Utc>,
) -> anyhow::Result<(Uuid, i32, Decision)> {
    match open {
        None => {
            let id = store::insert(tx, Some(member.id), intake, &decision, snapshot, now).await?;
            Ok((id, 1, decision))
        }
        Some(t) => {
            let combined = t.decision.combine(&decision);
            let n = t.contact_count + 1;
            store::add_contact(tx, t.id, n, intake, &combined, snapshot, now).await?;
            Ok((t.id, n, combined))
        }
    }
}

/// The helpdesk delivery of this contact, its Zendesk delivery when Zendesk
/// is configured, and one Slack alert per ticket once it needs a person or
/// is urgent (masked email only).
async fn enqueue_jobs(
    app: &App,
    tx: &impl Sql,
    c: Contact<'_>,
    member: &Member,
    now: DateTime<Utc>,
) -> anyhow::Result<Enqueued> {
    let mut jobs = Vec::new();
    if let Some(id) = helpdesk::enqueue_contact(tx, c, now).await? {
        jobs.push((JobKind::HelpdeskTicket, id));
    }
    if app.config.zendesk.is_some() {
        let name = member.name.as_deref();
        if let Some(id) = super::zendesk::enqueue_contact(tx, c, name, now).await? {
            jobs.push((JobKind::ZendeskTicket, id));
        }
    }
    if c.decision.alerts() {
        let text = format!(
            ":sos: Support ticket {} needs a person ({}), priority {}, from {} ({}{}).",
            c.ticket_id,
            c.decision.reasons.join(", "),
            c.decision.priority.as_str(),
            mask_email(c.intake.email.as_str()),
            member.state.as_str(),
            member
                .plan
                .as_deref()
                .map(|p| format!(", {p}"))
                .unwrap_or_default(),
        );
        let key = format!("support_ticket:{}", c.ticket_id);
        if let Some(id) = crate::alerts::enqueue_alert(tx, key, text, Some(member.id), now).await? {
            jobs.push((JobKind::SlackAlert, id));
        }
    }
    Ok(jobs)
}

/// Sets `needs_support` (exported with the member's creation when new) and
/// writes the timeline line.
async fn flag_member(
    app: &App,
    tx: &impl Sql,
    member: Member,
    created: bool,
    ticket_id: Uuid,
    n: i32,
    now: DateTime<Utc>,
) -> anyhow::Result<Enqueued> {
    let summary = if n == 1 {
        format!("support ticket {ticket_id} opened")
    } else {
        format!("support contact {n} merged into ticket {ticket_id}")
    };
    let line = members::store::Line {
        kind: "support",
        summary,
        data: json!({ "ticket_id": ticket_id, "contact": n }),
        at: now,
    };
    if created || !member.needs_support {
        let before = (!created).then(|| member.clone());
        let mut m = member;
        m.needs_support = true;
        let grace = app.config.past_due_grace_days;
        return members::save(tx, before.as_ref(), &mut m, grace, now, None, vec![line]).await;
    }
    members::store::timeline(tx, member.id, &[line]).await?;
    Ok(Vec::new())
}
