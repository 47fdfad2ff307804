//! The drafts SQL (`ai_drafts`, one row per ticket contact: the unique
//! `(ticket_id, contact_n)` ties every model call to one draft row, so a
//! rescued or repeated job can never store two), plus the only two ticket
//! writes AI work may make: add an `ai:<category>` tag, and flag the
//! ticket `needs_human` with a reason (budget, failure). Nothing here
//! touches members, priority, status, ownership, access or billing.

use crate::db::Sql;
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::guard::Verdict;
use super::openai::Completion;
use super::prompt::{CustomerContact, PromptInput};

/// What drafting one contact needs from the ticket and member.
#[derive(Debug, Clone)]
pub struct TicketContext {
    /// Ticket.
    pub ticket_id: Uuid,
    /// Member, if linked.
    pub member_id: Option<Uuid>,
    /// The rules' flag.
    pub needs_human: bool,
    /// Member state (`lead` when unknown).
    pub member_state: String,
    /// Member plan.
    pub plan: Option<String>,
    /// (contact n, subject, message): the first contact, and the drafted one
    /// when it is a later contact.
    pub contacts: Vec<(i32, Option<String>, String)>,
    /// A draft exists already for this contact.
    pub drafted: bool,
}

impl TicketContext {
    /// The raw customer text (subjects and messages), for the guardrails.
    pub fn customer_text(&self) -> String {
        self.contacts
            .iter()
            .map(|(_, subject, message)| format!("{}\n{message}", subject.as_deref().unwrap_or("")))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The prompt's input (approved fields only).
    pub fn prompt_input(&self) -> PromptInput<'_> {
        PromptInput {
            member_state: &self.member_state,
            plan: self.plan.as_deref(),
            contacts: self
                .contacts
                .iter()
                .map(|(n, subject, message)| CustomerContact {
                    n: *n,
                    subject: subject.as_deref(),
                    message,
                })
                .collect(),
        }
    }
}

/// Loads contact `n` of a ticket; `None` when the ticket or contact is gone.
pub async fn context(
    client: &impl Sql,
    ticket_id: Uuid,
    n: i32,
) -> anyhow::Result<Option<TicketContext>> {
    let row = client
        .query_opt(
            r#"SELECT t.member_id, t.needs_human, coalesce(m.state, 'lead'), m.plan, t.subject, t.message,
                      cm.subject, cm.message,
                      EXISTS (SELECT 1 FROM ai_drafts d WHERE d.ticket_id = t.id AND d.contact_n = $2)
               FROM tickets t
               LEFT JOIN members m ON m.id = t.member_id
               LEFT JOIN ticket_messages cm ON cm.ticket_id = t.id AND cm.contact_n = $2
               WHERE t.id = $1"#,
            &[&ticket_id, &n],
        )
        .await
        .context("Failed to load a ticket for drafting")?;
    let Some(r) = row else { return Ok(None) };
    let mut contacts = vec![(1, r.get(4), r.get(5))];
    if n > 1 {
        let Some(message) = r.get::<_, Option<String>>(7) else {
            return Ok(None);
        };
        contacts.push((n, r.get(6), message));
    }
    Ok(Some(TicketContext {
        ticket_id,
        member_id: r.get(0),
        needs_human: r.get(1),
        member_state: r.get(2),
        plan: r.get(3),
        contacts,
        drafted: r.get(8),
    }))
}

/// Stores a draft (first writer wins); returns its id when this call stored it.
pub async fn insert(
    client: &impl Sql,
    ticket_id: Uuid,
    n: i32,
    c: &Completion,
    v: &Verdict,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Uuid>> {
    let d = &c.draft;
    let flags = json!({
        "mentions_billing_change": d.mentions_billing_change,
        "mentions_access_change": d.mentions_access_change,
        "mentions_refund": d.mentions_refund,
    });
    let reasons: Vec<&str> = v.reasons.clone();
    let row = client
        .query_opt(
            r#"INSERT INTO ai_drafts (ticket_id, contact_n, status, category, urgency, summary, draft_reply,
                   flags, confidence, reasons, model, prompt_tokens, completion_tokens, latency_ms,
                   created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
               ON CONFLICT (ticket_id, contact_n) DO NOTHING
               RETURNING id"#,
            &[
                &ticket_id,
                &n,
                &v.status.as_str(),
                &d.category.as_str(),
                &d.urgency.as_str(),
                &d.summary.trim(),
                &d.draft_reply.trim(),
                &flags,
                &d.confidence,
                &reasons,
                &c.model,
                &c.prompt_tokens,
                &c.completion_tokens,
                &c.latency_ms,
                &now,
            ],
        )
        .await
        .context("Failed to store a draft")?;
    Ok(row.map(|r| r.get(0)))
}

// Tickets belong to `support`, which owns the table: a draft's tag and a
// flag for a person are written there.
pub use crate::support::store::{add_tag, flag_ticket};

/// The draft JSON the API answers with: every column, plus the text of the
/// contact it answers (`customer_text`, `customer_subject`).
pub const DRAFT_JSON: &str = r#"to_jsonb(d) || jsonb_build_object(
        'customer_text', coalesce(cm.message, t.message),
        'customer_subject', CASE WHEN d.contact_n = 1 THEN t.subject ELSE cm.subject END)
    FROM ai_drafts d
    JOIN tickets t ON t.id = d.ticket_id
    LEFT JOIN ticket_messages cm ON cm.ticket_id = d.ticket_id AND cm.contact_n = d.contact_n"#;

/// One draft by id.
pub async fn find(client: &impl Sql, id: Uuid) -> anyhow::Result<Option<Value>> {
    let sql = format!("SELECT {DRAFT_JSON} WHERE d.id = $1");
    let row = client
        .query_opt(&sql, &[&id])
        .await
        .context("Failed to load a draft")?;
    Ok(row.map(|r| r.get(0)))
}

/// The draft of a ticket's contact `n`, if any.
pub async fn for_contact(
    client: &impl Sql,
    ticket_id: Uuid,
    n: i32,
) -> anyhow::Result<Option<Value>> {
    let sql = format!("SELECT {DRAFT_JSON} WHERE d.ticket_id = $1 AND d.contact_n = $2");
    let row = client
        .query_opt(&sql, &[&ticket_id, &n])
        .await
        .context("Failed to load a ticket's draft")?;
    Ok(row.map(|r| r.get(0)))
}
