//! Zendesk, natively: what a contact becomes in Zendesk, decided in the
//! intake transaction and frozen into one `zendesk_ticket` job (delivered by
//! [`super::zendesk_job`] through [`super::zendesk_api`]).
//!
//! - The ticket's first contact → a **create** job (dedupe key and
//!   `Idempotency-Key` `zendesk_ticket:<ticket id>`): `POST /api/v2/tickets`
//!   with `{"ticket": {"subject", "comment": {"body"}, "requester": {"email",
//!   "name"}, "priority", "tags", "external_id": "<ticket id>"}}`, then the
//!   member's context as a private note (`public: false`).
//! - A later contact merged into the ticket → a **comment** job
//!   (`zendesk_ticket:<ticket id>:<n>`): a public comment authored by the
//!   ticket's requester. If no create job exists yet for the ticket (Zendesk
//!   was configured after its first contact), this contact creates it.
//!
//! The request bodies are built here, once, and stored in the job: Zendesk
//! answers 400 to a reused `Idempotency-Key` with another body, so a retry
//! must send exactly the bytes the first attempt sent.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::helpdesk::Contact;
use crate::db::Sql;
use crate::jobs::{enqueue, JobKind, NewJob};

/// Zendesk cuts subjects at this length; ours are cut first, on a character
/// boundary.
pub const MAX_SUBJECT_CHARS: usize = 150;
/// The tag every ticket we create carries (besides the rules' tags).
pub const TAG: &str = "opsbridge";

/// The dedupe key (and `Idempotency-Key`) of a ticket's create job.
pub fn create_key(ticket_id: Uuid) -> String {
    format!("zendesk_ticket:{ticket_id}")
}

/// The dedupe key of the comment job of contact `n`.
pub fn comment_key(ticket_id: Uuid, n: i32) -> String {
    format!("zendesk_ticket:{ticket_id}:{n}")
}

/// The first line of the private note: how a retry recognises a note an
/// earlier attempt already added.
pub fn note_marker(ticket_id: Uuid) -> String {
    format!("opsbridge context · ticket {ticket_id}")
}

/// The contact's subject, else the message's first non-blank line, cut to
/// [`MAX_SUBJECT_CHARS`].
pub fn subject(subject: Option<&str>, message: &str) -> String {
    let line = subject
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .or_else(|| message.lines().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("Support request");
    line.chars().take(MAX_SUBJECT_CHARS).collect()
}

/// The member's dead jobs when the contact came in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadJobs {
    /// How many.
    pub count: i64,
    /// Their kinds, sorted.
    pub kinds: Vec<String>,
}

/// The private note: state, plan, access, last payment event, open dead
/// jobs and what the rules decided. No email address: Zendesk has it as the
/// requester.
pub fn note(c: &Contact<'_>, dead: &DeadJobs) -> String {
    let s = c.snapshot;
    let text = |v: &Value| v.as_str().unwrap_or("none").to_string();
    let payment = match &s["last_payment_event"] {
        Value::Object(e) => format!(
            "{} ({}) at {}",
            e.get("type").map(text).unwrap_or_default(),
            e.get("event_id").map(text).unwrap_or_default(),
            e.get("created").map(text).unwrap_or_default(),
        ),
        _ => "none".to_string(),
    };
    let dead_line = if dead.count == 0 {
        "none".to_string()
    } else {
        format!("{} ({})", dead.count, dead.kinds.join(", "))
    };
    let d = c.decision;
    format!(
        "{}\nMember {} · state {} · plan {} · access {}\nLast payment event: {payment}\n\
         Open dead jobs: {dead_line}\nRules: priority {}{} · reasons: {}",
        note_marker(c.ticket_id),
        c.member_id,
        text(&s["state"]),
        text(&s["plan"]),
        text(&s["access"]),
        d.priority.as_str(),
        if d.needs_human {
            " · needs a person"
        } else {
            ""
        },
        if d.reasons.is_empty() {
            "none".to_string()
        } else {
            d.reasons.join(", ")
        },
    )
}

/// The `POST /api/v2/tickets` body for this contact.
pub fn create_body(c: &Contact<'_>, member_name: Option<&str>) -> Value {
    let email = c.intake.email.as_str();
    let name = c
        .intake
        .name
        .as_deref()
        .or(member_name)
        .unwrap_or_else(|| email.split('@').next().unwrap_or(email));
    let mut tags = c.decision.tags.clone();
    tags.push(TAG.to_string());
    json!({ "ticket": {
        "subject": subject(c.intake.subject.as_deref(), &c.intake.message),
        "comment": { "body": c.intake.message },
        "requester": { "email": email, "name": name },
        "priority": c.decision.priority.as_str(),
        "tags": tags,
        "external_id": c.ticket_id.to_string(),
    }})
}

/// Enqueues this contact's Zendesk delivery in the caller's transaction
/// (call it only when Zendesk is configured): a create job when the ticket
/// has no Zendesk ticket and no create job yet, else a comment job.
pub async fn enqueue_contact(
    tx: &impl Sql,
    c: Contact<'_>,
    member_name: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let (linked, dead) =
        tokio::try_join!(linked(tx, c.ticket_id, c.n), dead_jobs(tx, c.member_id))?;
    let payload = |op: &str| {
        json!({
            "ticket_id": c.ticket_id, "contact": c.n, "op": op,
            "create": create_body(&c, member_name), "note": note(&c, &dead),
        })
    };
    let job = |op: &str, dedupe_key: String| NewJob {
        kind: JobKind::ZendeskTicket,
        dedupe_key,
        payload: payload(op),
        member_id: Some(c.member_id),
        sequence: None,
    };
    if !linked {
        // `None`: the ticket's create job exists already (ON CONFLICT).
        if let Some(id) = enqueue(tx, job("create", create_key(c.ticket_id)), now).await? {
            return Ok(Some(id));
        }
    }
    enqueue(tx, job("comment", comment_key(c.ticket_id, c.n)), now).await
}

/// Whether the ticket already has its Zendesk ticket (never for contact 1).
async fn linked(tx: &impl Sql, ticket_id: Uuid, n: i32) -> anyhow::Result<bool> {
    if n == 1 {
        return Ok(false);
    }
    let row = tx
        .query_one(
            "SELECT zendesk_ticket_id IS NOT NULL FROM tickets WHERE id = $1",
            &[&ticket_id],
        )
        .await?;
    Ok(row.get(0))
}

/// The member's dead jobs (the note's "open dead jobs").
async fn dead_jobs(tx: &impl Sql, member_id: Uuid) -> anyhow::Result<DeadJobs> {
    let row = tx
        .query_one(
            r#"SELECT count(*), coalesce(array_agg(DISTINCT kind), '{}')
               FROM jobs WHERE member_id = $1 AND state = 'dead'"#,
            &[&member_id],
        )
        .await?;
    Ok(DeadJobs {
        count: row.get(0),
        kinds: row.get(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::members::MemberState;
    use crate::support::input::{Email, Metadata, Source};
    use crate::support::{input::Intake, rules};

    fn intake(subject: Option<&str>, message: &str, name: Option<&str>) -> Intake {
        Intake {
            email: Email::parse("jane@example.com").unwrap(),
            name: name.map(str::to_string),
            subject: subject.map(str::to_string),
            message: message.to_string(),
            source: Source::Form,
            metadata: Metadata::default(),
            automatic: false,
        }
    }

    #[test]
    fn the_subject_is_the_contacts_else_the_first_line_cut_at_150_characters() {
        assert_eq!(subject(Some(" Help "), "body"), "Help");
        assert_eq!(
            subject(Some("  "), "\n\n  First line \nsecond"),
            "First line"
        );
        let long = "é".repeat(400);
        assert_eq!(subject(None, &long).chars().count(), MAX_SUBJECT_CHARS);
    }

    #[test]
    fn the_create_body_has_zendesks_shape_with_our_rules_and_tag() {
        let i = intake(None, "I want a refund\nthanks", None);
        let d = rules::decide(None, &i.message, MemberState::Active);
        let snap = json!({ "state": "active", "plan": "pro", "access": "full" });
        let t = Uuid::nil();
        let c = Contact {
            ticket_id: t,
            n: 1,
            intake: &i,
            decision: &d,
            snapshot: &snap,
            member_id: t,
        };
        let b = create_body(&c, None);
        assert_eq!(
            b,
            json!({ "ticket": {
                "subject": "I want a refund",
                "comment": { "body": "I want a refund\nthanks" },
                "requester": { "email": "jane@example.com", "name": "jane" },
                "priority": "high",
                "tags": ["refund", "opsbridge"],
                "external_id": t.to_string(),
            }})
        );
        let dead = DeadJobs {
            count: 2,
            kinds: vec!["app_webhook".into(), "crm_upsert".into()],
        };
        let n = note(&c, &dead);
        assert!(n.starts_with(&note_marker(t)), "{n}");
        assert!(n.contains("state active · plan pro"), "{n}");
        assert!(n.contains("Last payment event: none"), "{n}");
        assert!(
            n.contains("Open dead jobs: 2 (app_webhook, crm_upsert)"),
            "{n}"
        );
        assert!(n.contains("priority high · needs a person"), "{n}");
        assert!(!n.contains("jane@example.com"), "no email in the note");
    }
}
