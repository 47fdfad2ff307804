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
    /// The member's recorded contact id is stale (HubSpot no longer has it):
    /// `contact_id` replaces it.
    pub replace: bool,
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
    let replace: Vec<bool> = synced.iter().map(|s| s.replace).collect();
    db.execute(
        r#"UPDATE members m SET crm_synced_seq = GREATEST(m.crm_synced_seq, u.seq), crm_synced_at = $4,
               crm_contact_id = CASE WHEN u.replace THEN u.contact ELSE COALESCE(m.crm_contact_id, u.contact) END
           FROM unnest($1::uuid[], $2::bigint[], $3::text[], $5::bool[]) AS u(id, seq, contact, replace)
           WHERE m.id = u.id
             AND (u.contact IS NULL OR NOT EXISTS (
                   SELECT 1 FROM members o WHERE o.crm_contact_id = u.contact AND o.id <> m.id AND o.merged_into IS NULL))"#,
        &[&ids, &seqs, &contacts, &now, &replace],
    )
    .await?;
    Ok(())
}

/// A member merged into a survivor whose HubSpot contact is another one:
/// the two contacts still have to be merged in HubSpot.
pub struct PendingMerge {
    /// The surviving member.
    pub survivor: Uuid,
    /// The member merged into it.
    pub merged: Uuid,
    /// The merged member's contact, to merge into the survivor's.
    pub contact_id: String,
}

/// The HubSpot merges still owed to `survivors` (members merged into them
/// whose own contact is not the survivor's).
pub async fn pending_crm_merges(
    db: &impl Sql,
    survivors: &[Uuid],
) -> anyhow::Result<Vec<PendingMerge>> {
    let rows = db
        .query(
            r#"SELECT g.merged_into, g.id, g.crm_contact_id FROM members g JOIN members s ON s.id = g.merged_into
               WHERE g.merged_into = ANY($1) AND g.crm_contact_id IS NOT NULL
                 AND g.crm_contact_id IS DISTINCT FROM s.crm_contact_id"#,
            &[&survivors],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| PendingMerge {
            survivor: r.get(0),
            merged: r.get(1),
            contact_id: r.get(2),
        })
        .collect())
}

/// Records a merge done in HubSpot, once: the merged member no longer holds
/// a contact, the survivor holds the merged one (HubSpot may give it a new
/// id), and the survivor's timeline says so.
pub async fn crm_contacts_merged(
    db: &crate::db::Db,
    merge: &PendingMerge,
    merged_contact: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let tx = db.begin().await?;
    // Once: a concurrent sweep that merged the same pair first leaves
    // nothing to record (HubSpot answered its second merge 404).
    let cleared = tx
        .execute(
            "UPDATE members SET crm_contact_id = NULL WHERE id = $1 AND crm_contact_id = $2",
            &[&merge.merged, &merge.contact_id],
        )
        .await?;
    if cleared == 0 {
        return Ok(());
    }
    tx.execute(
        "UPDATE members SET crm_contact_id = $2 WHERE id = $1 AND merged_into IS NULL",
        &[&merge.survivor, &merged_contact],
    )
    .await?;
    let line = super::store::Line {
        kind: "crm_merge",
        summary: "merged the CRM contact of a merged member into this member's".into(),
        data: serde_json::json!({ "merged_member_id": merge.merged, "crm_contact_id": merged_contact }),
        at: now,
    };
    super::store::timeline(&tx, merge.survivor, &[line]).await?;
    tx.commit().await?;
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
