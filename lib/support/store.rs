//! The tickets SQL the intake runs inside its one transaction: find the open
//! ticket a repeat contact merges into, take the member snapshot, insert a
//! ticket or add a contact to one.

use crate::db::Sql;
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::input::Intake;
use super::rules::{Decision, Priority};
use crate::members::Member;

/// Stripe event types that count as the member's "last payment event".
pub const PAYMENT_EVENTS: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
];

/// An open ticket a repeat contact merges into (row locked).
#[derive(Debug, Clone)]
pub struct OpenTicket {
    /// Id.
    pub id: Uuid,
    /// Contacts so far.
    pub contact_count: i32,
    /// What the rules decided so far.
    pub decision: Decision,
}

/// The newest open ticket of the email `$1` contacted after `$2`, locked.
/// Its plan on empty tables is checked in `tests/api/fresh_plans.rs`.
pub const OPEN_TICKET_SQL: &str = r#"SELECT id, contact_count, priority, needs_human, reasons, tags
    FROM tickets WHERE email_lower = lower($1) AND status = 'open' AND last_contact_at > $2
    ORDER BY last_contact_at DESC LIMIT 1 FOR UPDATE"#;

/// The newest open ticket of `email` contacted after `since`, locked.
pub async fn find_open(
    tx: &impl Sql,
    email: &str,
    since: DateTime<Utc>,
) -> anyhow::Result<Option<OpenTicket>> {
    let row = tx
        .query_opt(OPEN_TICKET_SQL, &[&email, &since])
        .await
        .context("Failed to look for an open ticket")?;
    Ok(row.map(|r| OpenTicket {
        id: r.get(0),
        contact_count: r.get(1),
        decision: Decision {
            priority: Priority::parse(r.get(2)),
            needs_human: r.get(3),
            reasons: r.get(4),
            tags: r.get(5),
        },
    }))
}

/// What the member's history adds to a ticket's snapshot.
#[derive(Debug, Default)]
pub struct History {
    /// The newest payment event (`event_id`, `type`, `created`).
    pub last_payment_event: Option<Value>,
    /// The newest dead job (`job_id`, `kind`, `reason`, `at`).
    pub last_failed_step: Option<Value>,
    /// Open tickets before this contact.
    pub open_tickets: i64,
}

/// Reads the member's [`History`] (one statement). A member created by this
/// contact has none: callers skip the read.
pub async fn history(tx: &impl Sql, member_id: Uuid) -> anyhow::Result<History> {
    let types: Vec<&str> = PAYMENT_EVENTS.to_vec();
    let row = tx
        .query_one(
            r#"SELECT
                 (SELECT jsonb_build_object('event_id', e.event_id, 'type', e.type, 'created', e.created)
                    FROM events e WHERE e.member_id = $1 AND e.source = 'stripe' AND e.type = ANY($2)
                    ORDER BY e.created DESC, e.id DESC LIMIT 1),
                 (SELECT jsonb_build_object('job_id', j.id, 'kind', j.kind, 'reason', j.reason, 'at', j.updated_at)
                    FROM jobs j WHERE j.member_id = $1 AND j.state = 'dead'
                    ORDER BY j.updated_at DESC, j.id DESC LIMIT 1),
                 (SELECT count(*) FROM tickets t WHERE t.member_id = $1 AND t.status = 'open')"#,
            &[&member_id, &types],
        )
        .await
        .context("Failed to read the member snapshot")?;
    Ok(History {
        last_payment_event: row.get(0),
        last_failed_step: row.get(1),
        open_tickets: row.get(2),
    })
}

/// The member context stored on the ticket: state, plan, access, last payment
/// event, last failed automation step, open ticket count (counting this
/// contact when it opens a ticket).
pub fn snapshot(m: &Member, h: &History, adding_ticket: bool, now: DateTime<Utc>) -> Value {
    json!({
        "member_id": m.id,
        "state": m.state.as_str(),
        "plan": m.plan,
        "access": m.access,
        "last_payment_event": h.last_payment_event,
        "last_failed_step": h.last_failed_step,
        "open_tickets": h.open_tickets + i64::from(adding_ticket),
        "taken_at": now,
    })
}

/// Inserts a new open ticket; returns its id. Only an automatic email has
/// no member (see `auto_reply`).
pub async fn insert(
    tx: &impl Sql,
    member_id: Option<Uuid>,
    intake: &Intake,
    d: &Decision,
    snapshot: &Value,
    now: DateTime<Utc>,
) -> anyhow::Result<Uuid> {
    let row = tx
        .query_one(
            r#"INSERT INTO tickets (member_id, email, name, subject, message, source, metadata, priority,
                   needs_human, reasons, tags, member_snapshot, created_at, updated_at, last_contact_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $13)
               RETURNING id"#,
            &[
                &member_id,
                &intake.email.as_str(),
                &intake.name,
                &intake.subject,
                &intake.message,
                &intake.source.as_str(),
                &intake.metadata.to_json(),
                &d.priority.as_str(),
                &d.needs_human,
                &d.reasons,
                &d.tags,
                snapshot,
                &now,
            ],
        )
        .await
        .context("Failed to insert a ticket")?;
    Ok(row.get(0))
}

/// Stores contact `n`'s message on a ticket.
pub async fn insert_message(
    tx: &impl Sql,
    ticket_id: Uuid,
    n: i32,
    intake: &Intake,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    tx.execute(
        r#"INSERT INTO ticket_messages (ticket_id, contact_n, name, subject, message, source, metadata, received_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        &[
            &ticket_id,
            &n,
            &intake.name,
            &intake.subject,
            &intake.message,
            &intake.source.as_str(),
            &intake.metadata.to_json(),
            &now,
        ],
    )
    .await
    .context("Failed to add a message to a ticket")?;
    Ok(())
}

/// Adds contact `n` to an open ticket with the combined decision (never
/// lower) and a fresh snapshot.
pub async fn add_contact(
    tx: &impl Sql,
    ticket_id: Uuid,
    n: i32,
    intake: &Intake,
    d: &Decision,
    snapshot: &Value,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    insert_message(tx, ticket_id, n, intake, now).await?;
    tx.execute(
        r#"UPDATE tickets SET contact_count = $2, priority = $3, needs_human = $4, reasons = $5,
               tags = $6, member_snapshot = $7, last_contact_at = $8, updated_at = $8
           WHERE id = $1"#,
        &[
            &ticket_id,
            &n,
            &d.priority.as_str(),
            &d.needs_human,
            &d.reasons,
            &d.tags,
            snapshot,
            &now,
        ],
    )
    .await
    .context("Failed to update a ticket")?;
    Ok(())
}

/// Adds a tag to a ticket (once). The only ticket field a model may change.
pub async fn add_tag(client: &impl Sql, ticket_id: Uuid, tag: &str) -> anyhow::Result<()> {
    client
        .execute(
            "UPDATE tickets SET tags = array_append(tags, $2) WHERE id = $1 AND NOT ($2 = ANY(tags))",
            &[&ticket_id, &tag],
        )
        .await
        .context("Failed to tag a ticket")?;
    Ok(())
}

/// Flags a ticket for a person with `reason` (our code decides this, never
/// the model's output).
pub async fn flag_ticket(
    client: &impl Sql,
    ticket_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    client
        .execute(
            r#"UPDATE tickets SET needs_human = true, updated_at = $3,
                      reasons = CASE WHEN $2 = ANY(reasons) THEN reasons ELSE array_append(reasons, $2) END
               WHERE id = $1"#,
            &[&ticket_id, &reason, &now],
        )
        .await
        .context("Failed to flag a ticket for a person")?;
    Ok(())
}
