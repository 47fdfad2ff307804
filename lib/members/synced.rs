//! The CRM copy's bookkeeping on `members`: which members a batch concerns
//! and how far each one's CRM copy is synced; and the helpdesk's user id of
//! a member ([`record_support_user`]). The adapters call these; only this
//! module family writes `members`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::store::{Member, COLUMNS};
use crate::db::Sql;

/// The members `ids` (merged ones included: a job may outlive a merge).
pub async fn load_many(db: &impl Sql, ids: &[Uuid]) -> anyhow::Result<HashMap<Uuid, Member>> {
    let rows = db
        .query(
            &format!("SELECT {COLUMNS} FROM members WHERE id = ANY($1)"),
            &[&ids],
        )
        .await?;
    Ok(rows
        .iter()
        .map(Member::from_row)
        .map(|m| (m.id, m))
        .collect())
}

/// One member's sync result: its sequence as sent, and the CRM contact id
/// the CRM answered with (if it named one).
pub struct Synced {
    /// Member.
    pub id: Uuid,
    /// The member's change sequence the CRM now holds.
    pub sequence: i64,
    /// The contact id, to record when the member has none yet.
    pub contact_id: Option<String>,
}

/// Marks members synced up to the sequence sent and records contact ids, in
/// one statement for the whole batch. A contact id another live member
/// already holds is never copied (identities never move between people).
pub async fn mark_crm_synced(
    db: &impl Sql,
    synced: &[Synced],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let ids: Vec<Uuid> = synced.iter().map(|s| s.id).collect();
    let seqs: Vec<i64> = synced.iter().map(|s| s.sequence).collect();
    let contacts: Vec<Option<String>> = synced.iter().map(|s| s.contact_id.clone()).collect();
    db.execute(
        r#"UPDATE members m SET crm_synced_seq = GREATEST(m.crm_synced_seq, u.seq), crm_synced_at = $4,
               crm_contact_id = COALESCE(m.crm_contact_id, u.contact)
           FROM unnest($1::uuid[], $2::bigint[], $3::text[]) AS u(id, seq, contact)
           WHERE m.id = u.id
             AND (u.contact IS NULL OR NOT EXISTS (
                   SELECT 1 FROM members o WHERE o.crm_contact_id = u.contact AND o.id <> m.id AND o.merged_into IS NULL))"#,
        &[&ids, &seqs, &contacts, &now],
    )
    .await?;
    Ok(())
}

/// Records `user_id` (the helpdesk's id of this person, e.g. a Zendesk
/// requester id) as the member's support user id, only when the member has
/// none yet and no other live member holds it (identities never move
/// between people); true when it was recorded. Never exported: the sequence
/// stays as it is.
pub async fn record_support_user(
    db: &impl Sql,
    member_id: Uuid,
    user_id: &str,
) -> anyhow::Result<bool> {
    let n = db
        .execute(
            r#"UPDATE members m SET support_user_id = $2
               WHERE m.id = $1 AND m.support_user_id IS NULL AND m.merged_into IS NULL
                 AND NOT EXISTS (SELECT 1 FROM members o
                                 WHERE o.support_user_id = $2 AND o.merged_into IS NULL)"#,
            &[&member_id, &user_id],
        )
        .await?;
    Ok(n == 1)
}
