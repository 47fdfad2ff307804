//! Lookups the founder's app needs (`product::ingest`): the members holding
//! a user id or an email, and the member a stored event concerned. Kept
//! here so all `members` SQL stays in `members/`.

use anyhow::Context;
use uuid::Uuid;

use super::store::{Member, COLUMNS};
use super::MemberState;
use crate::db::Sql;

/// The live members holding `user_id` as their app user id or `email`,
/// locked, oldest first (the founder's app links by both).
pub async fn lock_user_or_email(
    tx: &impl Sql,
    user_id: &str,
    email: &str,
) -> anyhow::Result<Vec<Member>> {
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM members WHERE merged_into IS NULL
                   AND (app_user_id = $1 OR email_lower = lower($2)) ORDER BY created_at, id FOR UPDATE"
            ),
            &[&user_id, &email],
        )
        .await
        .context("Failed to look up the user")?;
    Ok(rows.iter().map(Member::from_row).collect())
}

/// The member a stored event concerned, with its current state.
pub async fn of_event(
    db: &impl Sql,
    source: &str,
    event_id: &str,
) -> anyhow::Result<Option<(Uuid, MemberState)>> {
    let row = db
        .query_opt(
            r#"SELECT m.id, m.state FROM events e JOIN members m ON m.id = e.member_id
               WHERE e.source = $1 AND e.event_id = $2"#,
            &[&source, &event_id],
        )
        .await
        .context("Failed to look up a stored event's member")?;
    Ok(row.map(|r| {
        let state = MemberState::parse(r.get(1)).unwrap_or(MemberState::Lead);
        (r.get(0), state)
    }))
}
