//! Linking an inbound fact to the right person: the app's `user_id` (a
//! Checkout Session's `client_reference_id`), then the Stripe customer id,
//! then the email compared case-insensitively. Never two members for one
//! person: identities are locked (advisory locks, in a fixed order) before
//! the lookup, so concurrent first contacts create one member; two members
//! that turn out to be one person are merged into the older one.

use crate::db::Sql;
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::json;

mod batch;

pub use batch::{lock_and_find_all, lookup_all_sql, resolve_found, Found};

use super::store::{self, Member, COLUMNS};

/// What an inbound fact tells about who it concerns.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// The app's user id.
    pub user_id: Option<String>,
    /// Stripe customer id.
    pub customer_id: Option<String>,
    /// Email (any case).
    pub email: Option<String>,
    /// Name, if known (used only when creating).
    pub name: Option<String>,
}

impl Identity {
    /// The advisory-lock keys of this identity, sorted.
    pub fn lock_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = [
            self.user_id.as_ref().map(|u| format!("user:{u}")),
            self.customer_id.as_ref().map(|c| format!("cus:{c}")),
            self.email
                .as_ref()
                .map(|e| format!("email:{}", e.to_lowercase())),
        ]
        .into_iter()
        .flatten()
        .collect();
        keys.sort();
        keys
    }
}

/// Takes the transaction-scoped advisory locks of every identity in `id`,
/// in a fixed order (the locks [`resolve`] takes; re-entrant, so a caller may
/// lock first, look, then resolve). False when the identity is empty.
pub async fn lock(tx: &impl Sql, id: &Identity) -> anyhow::Result<bool> {
    let keys = id.lock_keys();
    if keys.is_empty() {
        return Ok(false);
    }
    tx.execute(LOCK_SQL, &[&keys])
        .await
        .context("Failed to lock an identity")?;
    Ok(true)
}

/// One statement for all keys: `unnest` yields them in array order (sorted),
/// so every transaction takes them in the same order (no deadlock).
pub const LOCK_SQL: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k";

/// A resolved member: as stored before this fact (`None` when just created)
/// and with the fact's identities filled in (to be written by `save`).
#[derive(Debug)]
pub struct Resolved {
    /// The stored row (the true "before" of an exported change).
    pub before: Option<Member>,
    /// The member with missing identities filled in memory.
    pub member: Member,
}

impl Resolved {
    /// True when the member was created by this resolve.
    pub fn created(&self) -> bool {
        self.before.is_none()
    }
}

/// The member this identity belongs to, locked for update; a new `lead`
/// when none matches, made in memory only: the caller's save
/// ([`super::save`] or [`super::change::Change::write`] with `before: None`)
/// inserts it, in this transaction. `None` only when the identity is empty.
pub async fn resolve(
    tx: &impl Sql,
    id: &Identity,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Resolved>> {
    let keys = id.lock_keys();
    if keys.is_empty() {
        return Ok(None);
    }
    // The lookup goes out right behind the locks, in one round trip, and
    // runs strictly after them (`execute_then`): it sees a member that a
    // concurrent transaction holding the same lock has just created. (A
    // join would not do: it may send the lookup first.)
    let (sql, params) = lookup_sql(id);
    let rows = tx
        .execute_then(LOCK_SQL, &[&keys], tx.query(&sql, &params))
        .await
        .context("Failed to lock and look up members")?;
    let found = live(&rows);
    // Link order: user id, then customer id, then email.
    let primary = found
        .iter()
        .find(|m| id.user_id.is_some() && m.app_user_id == id.user_id)
        .or_else(|| {
            found
                .iter()
                .find(|m| id.customer_id.is_some() && m.stripe_customer_id == id.customer_id)
        })
        .or_else(|| found.first())
        .cloned();
    let Some(primary) = primary else {
        return Ok(Some(new_lead(id, now)));
    };
    let mut survivor = primary;
    let mut others = Vec::new();
    let survivor_id = survivor.id;
    for other in found.into_iter().filter(|m| m.id != survivor_id) {
        if conflicts(&survivor, &other) {
            tracing::warn!(member_id = %survivor.id, other_member_id = %other.id, "identity conflict: not merging");
            others.push(other);
            continue;
        }
        survivor = merge(tx, survivor, other, now).await?;
    }
    // The survivor as stored (merges write it), before identities are filled.
    let before = Some(survivor.clone());
    fill_identities(&mut survivor, id, &others);
    Ok(Some(Resolved {
        before,
        member: survivor,
    }))
}

/// The members a lookup returned, oldest first, each once (a member holding
/// several of the identities is returned by several branches).
fn live(rows: &[tokio_postgres::Row]) -> Vec<Member> {
    let mut found: Vec<Member> = rows.iter().map(Member::from_row).collect();
    found.sort_by_key(|m| (m.created_at, m.id));
    found.dedup_by_key(|m| m.id);
    found
}

/// A new lead for `id`, in memory: written by the caller's save, with its
/// final state (`before: None`).
fn new_lead(id: &Identity, now: DateTime<Utc>) -> Resolved {
    let mut member = Member::new_lead(id.email.as_deref(), id.name.as_deref(), now);
    fill_identities(&mut member, id, &[]);
    Resolved {
        before: None,
        member,
    }
}

/// The statement finding the live members holding any identity in `id`
/// (locked; never empty: `id` has at least one identity, or it has no lock
/// keys): one unique-index lookup per identity the fact carries. Why
/// not one `OR` over the columns with NULL for the missing ones: a prepared
/// statement keeps the plan made while the table was small (a fresh install
/// catching up days of events), and such a plan may walk a whole partial
/// index per event, even for a NULL that can match nothing, until the next
/// ANALYZE. At most 7 statement texts, each cached. A row updated
/// concurrently is re-checked against its branch, `merged_into IS NULL`
/// included. Each branch can use only its own identity's index (migration
/// 0008); `tests/api/fresh_plans.rs` checks the plan on empty tables.
pub fn lookup_sql(id: &Identity) -> (String, Vec<&(dyn tokio_postgres::types::ToSql + Sync)>) {
    let wanted = [
        ("app_user_id = $N", &id.user_id),
        ("stripe_customer_id = $N", &id.customer_id),
        ("email_lower = lower($N)", &id.email),
    ];
    let mut branches = Vec::new();
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = Vec::new();
    for (condition, value) in wanted {
        let Some(value) = value else { continue };
        params.push(value);
        let condition = condition.replace("$N", &format!("${}", params.len()));
        branches.push(format!(
            "SELECT * FROM (SELECT {COLUMNS} FROM members WHERE {condition} AND merged_into IS NULL FOR UPDATE) b{}",
            params.len()
        ));
    }
    (branches.join(" UNION ALL "), params)
}

/// Records identities the member lacks, unless another (conflicting) member
/// holds them: an identity never moves between people.
fn fill_identities(m: &mut Member, id: &Identity, others: &[Member]) {
    let held = |f: &dyn Fn(&Member) -> Option<String>, v: &Option<String>| {
        others.iter().any(|o| f(o).is_some() && f(o) == *v)
    };
    if m.app_user_id.is_none() && !held(&|o| o.app_user_id.clone(), &id.user_id) {
        m.app_user_id = id.user_id.clone();
    }
    if m.stripe_customer_id.is_none() && !held(&|o| o.stripe_customer_id.clone(), &id.customer_id) {
        m.stripe_customer_id = id.customer_id.clone();
    }
    let lower = |e: &Option<String>| e.as_ref().map(|e| e.to_lowercase());
    if m.email.is_none() && !held(&|o| lower(&o.email), &lower(&id.email)) {
        m.email = id.email.clone();
    }
    if m.name.is_none() {
        m.name = id.name.clone();
    }
}

/// Two members conflict when they hold different values of the same
/// identity: they are different people, whatever else matches.
fn conflicts(a: &Member, b: &Member) -> bool {
    let differ =
        |x: &Option<String>, y: &Option<String>| matches!((x, y), (Some(x), Some(y)) if x != y);
    differ(&a.app_user_id, &b.app_user_id) || differ(&a.stripe_customer_id, &b.stripe_customer_id)
}

/// Merges two members into the older one (deterministic whatever the order
/// of events): identities are combined, the better-informed billing state
/// wins, history moves over, and the merge goes on the timeline.
async fn merge(tx: &impl Sql, a: Member, b: Member, now: DateTime<Utc>) -> anyhow::Result<Member> {
    let (mut keep, gone) = if (a.created_at, a.id) <= (b.created_at, b.id) {
        (a, b)
    } else {
        (b, a)
    };
    tx.execute(
        "UPDATE members SET merged_into = $1, updated_at = $2 WHERE id = $3",
        &[&keep.id, &now, &gone.id],
    )
    .await
    .context("Failed to retire a merged member")?;
    keep.email = keep.email.or(gone.email.clone());
    keep.name = keep.name.or(gone.name.clone());
    keep.app_user_id = keep.app_user_id.or(gone.app_user_id.clone());
    keep.stripe_customer_id = keep.stripe_customer_id.or(gone.stripe_customer_id.clone());
    keep.crm_contact_id = keep.crm_contact_id.or(gone.crm_contact_id.clone());
    keep.support_user_id = keep.support_user_id.or(gone.support_user_id.clone());
    keep.needs_support |= gone.needs_support;
    keep.sequence = keep.sequence.max(gone.sequence);
    let gone_newer = match (&gone.last_event_created, &keep.last_event_created) {
        (Some(g), Some(k)) => (g, &gone.last_event_id) > (k, &keep.last_event_id),
        (Some(_), None) => true,
        _ => false,
    };
    if gone_newer || (keep.state == super::MemberState::Lead && keep.last_event_created.is_none()) {
        keep.state = gone.state;
        keep.past_due_since = gone.past_due_since;
        keep.last_event_created = gone.last_event_created;
        keep.last_event_id = gone.last_event_id.clone();
    }
    // The plan and period: from whichever took the newer subscription event.
    let gone_plan_newer = match &gone.plan_event_created {
        Some(g) => keep.is_plan_newer(*g, gone.plan_event_id.as_deref().unwrap_or("")),
        None => keep.plan_event_created.is_none() && (gone_newer || keep.plan.is_none()),
    };
    if gone_plan_newer {
        keep.plan = gone.plan.clone().or(keep.plan);
        keep.current_period_end = gone.current_period_end;
        keep.plan_event_created = gone.plan_event_created;
        keep.plan_event_id = gone.plan_event_id.clone();
    }
    for table in ["events", "timeline", "tickets"] {
        tx.execute(
            &format!("UPDATE {table} SET member_id = $1 WHERE member_id = $2"),
            &[&keep.id, &gone.id],
        )
        .await
        .with_context(|| format!("Failed to move {table} to the merged member"))?;
    }
    store::update(tx, &keep, now).await?;
    let line = store::Line {
        kind: "merge",
        summary: "merged a duplicate member into this one".into(),
        data: json!({ "merged_member_id": gone.id }),
        at: now,
    };
    store::timeline(tx, keep.id, &[line]).await?;
    // Each had its own CRM contact: the two are merged in HubSpot by the
    // survivor's next CRM sync (`crm::sync`), queued here with the merge.
    let both_in_crm =
        matches!((&keep.crm_contact_id, &gone.crm_contact_id), (Some(k), Some(g)) if k != g);
    if both_in_crm {
        let job = crate::jobs::NewJob {
            kind: crate::jobs::JobKind::CrmUpsert,
            dedupe_key: format!("crm_merge:{}:{}", keep.id, gone.id),
            payload: json!({ "member_id": keep.id, "merged_member_id": gone.id }),
            member_id: Some(keep.id),
            sequence: None,
        };
        crate::jobs::enqueue(tx, job, now).await?;
    }
    tracing::info!(member_id = %keep.id, merged_member_id = %gone.id, "members merged");
    Ok(keep)
}
