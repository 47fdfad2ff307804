//! Automatic emails (out-of-office replies, bounces, list mail: see
//! [`automatic`]): acknowledged as usual (202) and kept for the
//! record, but they page nobody: no Slack alert, no helpdesk webhook, no
//! Zendesk job, no AI draft. An autoresponder answering our own emails would
//! otherwise open tickets and alerts forever.
//!
//! The email joins the sender's open ticket (the one a person would merge it
//! into), which gets the tag [`TAG`]; without one it is stored as a ticket
//! that is already resolved, tagged [`TAG`]. The rules do not run (an
//! out-of-office saying "for refunds, call…" is not a refund request), the
//! ticket's priority and last-contact time stay as they were (so a robot
//! cannot keep a ticket open for merging), and no member is created or
//! flagged for an unknown sender.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use super::accept::{Accepted, MERGE_WINDOW_HOURS};
use super::idempotency::Stored;
use super::input::Intake;
use super::rules::{Decision, Priority};
use super::store::{self, History};
use crate::db::Sql;
use crate::members::{self, Identity};

/// The tag of a ticket an automatic email joined or opened.
pub const TAG: &str = "auto_reply";

/// Whether an email's headers (name, value) mark it automatic:
/// `Auto-Submitted` other than `no` (RFC 3834; parameters after `;`
/// ignored), `X-Autoreply` or `X-Autorespond` present, or `Precedence`
/// `bulk`, `junk`, `list` or `auto_reply`. `X-Auto-Response-Suppress` is no
/// sign: Outlook sets it on ordinary mail too. Names and values compare
/// case-insensitively.
pub fn automatic<'a>(mut headers: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
    headers.any(|(name, value)| {
        let value = value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.trim().to_ascii_lowercase().as_str() {
            "auto-submitted" => !value.is_empty() && value != "no",
            "x-autoreply" | "x-autorespond" => true,
            "precedence" => ["bulk", "junk", "list", "auto_reply"].contains(&value.as_str()),
            _ => false,
        }
    })
}

/// Stores an automatic email (see the module doc), inside the intake's
/// transaction.
pub async fn store_auto_reply(
    tx: &impl Sql,
    intake: &Intake,
    now: DateTime<Utc>,
) -> anyhow::Result<Accepted> {
    let email = intake.email.as_str();
    let identity = Identity {
        email: Some(email.to_string()),
        ..Identity::default()
    };
    // The email's lock serialises this with the sender's other contacts.
    members::link::lock(tx, &identity).await?;
    let since = now - Duration::hours(MERGE_WINDOW_HOURS);
    let (member, open) = tokio::try_join!(
        members::store::find(tx, "email", email),
        store::find_open(tx, email, since),
    )?;
    let member_id = member.as_ref().map(|m| m.id);
    let (ticket_id, n, priority) = match open {
        Some(t) => {
            let n = t.contact_count + 1;
            join(tx, t.id, n, intake, now).await?;
            (t.id, n, t.decision.priority)
        }
        None => {
            let decision = Decision {
                priority: Priority::Normal,
                needs_human: false,
                reasons: vec![TAG.to_string()],
                tags: vec![TAG.to_string()],
            };
            let snapshot = member
                .as_ref()
                .map(|m| store::snapshot(m, &History::default(), false, now))
                .unwrap_or_else(|| json!({}));
            let id = store::insert(tx, member_id, intake, &decision, &snapshot, now).await?;
            resolve(tx, id, now).await?;
            (id, 1, Priority::Normal)
        }
    };
    if let Some(member_id) = member_id {
        let line = members::store::Line {
            kind: "support",
            summary: format!("automatic email kept on ticket {ticket_id}; nobody paged"),
            data: json!({ "ticket_id": ticket_id, "contact": n, "auto_reply": true }),
            at: now,
        };
        members::store::timeline(tx, member_id, &[line]).await?;
    }
    let status = if n == 1 { "resolved" } else { "merged" };
    let body = json!({ "ticket_id": ticket_id, "priority": priority.as_str(), "status": status });
    Ok(Accepted {
        ticket_id,
        member_id,
        priority,
        merged: n > 1,
        response: Stored { status: 202, body },
        jobs: Vec::new(),
    })
}

/// Adds the email as contact `n` of an open ticket and tags the ticket,
/// leaving its decision and last-contact time alone.
async fn join(
    tx: &impl Sql,
    ticket_id: Uuid,
    n: i32,
    intake: &Intake,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    super::store::insert_message(tx, ticket_id, n, intake, now).await?;
    tx.execute(
        r#"UPDATE tickets SET contact_count = $2, updated_at = $3,
                  tags = CASE WHEN $4 = ANY(tags) THEN tags ELSE array_append(tags, $4) END
           WHERE id = $1"#,
        &[&ticket_id, &n, &now, &TAG],
    )
    .await?;
    Ok(())
}

/// Marks a ticket an automatic email opened as resolved at once.
async fn resolve(tx: &impl Sql, ticket_id: Uuid, now: DateTime<Utc>) -> anyhow::Result<()> {
    tx.execute(
        "UPDATE tickets SET status = 'resolved', resolved_at = $2 WHERE id = $1",
        &[&ticket_id, &now],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::automatic;

    fn auto(pairs: &[(&str, &str)]) -> bool {
        automatic(pairs.iter().copied())
    }

    #[test]
    fn each_automatic_header_marks_an_email_automatic() {
        for (name, value) in [
            ("Auto-Submitted", "auto-replied"),
            (
                "auto-submitted",
                "Auto-Generated; owner-email=\"x@example.com\"",
            ),
            ("X-Autoreply", "yes"),
            ("X-Autorespond", "Out of office"),
            ("Precedence", "bulk"),
            ("Precedence", "Junk"),
            ("Precedence", "list"),
            ("Precedence", "auto_reply"),
        ] {
            assert!(
                auto(&[("Message-ID", "<a@b>"), (name, value)]),
                "{name}: {value}"
            );
        }
    }

    #[test]
    fn ordinary_headers_do_not_mark_an_email_automatic() {
        for (name, value) in [
            ("Auto-Submitted", "no"),
            ("Auto-Submitted", " NO "),
            ("X-Auto-Response-Suppress", "All"),
            ("X-Auto-Response-Suppress", "OOF, AutoReply"),
            ("Precedence", "first-class"),
            ("Subject", "Auto-Submitted: auto-replied"),
        ] {
            assert!(!auto(&[(name, value)]), "{name}: {value}");
        }
        assert!(!auto(&[]));
    }
}
