//! Linking a whole batch of facts at once (the Stripe group commit): one
//! sorted set of identity locks, one lookup, then each fact resolved in
//! memory the way [`super::resolve`] would.

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::{fill_identities, live, new_lead, Identity, Resolved, LOCK_SQL};
use crate::db::Sql;
use crate::members::store::{Member, COLUMNS};

/// What [`resolve_found`] makes of an identity.
#[derive(Debug)]
pub enum Found {
    /// The identity is empty: no member.
    Nobody,
    /// One member (found, or a new lead in memory).
    One(Box<Resolved>),
    /// Several live members hold its identities: a merge (or a conflict),
    /// left to [`super::resolve`] in a transaction of its own.
    Several,
}

/// The member `id` resolves to among `found`, the live members a batch's
/// one lookup returned ([`lock_and_find_all`]) — the same answer as
/// [`super::resolve`] whenever no merge is involved.
pub fn resolve_found(found: &[Member], id: &Identity, now: DateTime<Utc>) -> Found {
    if id.lock_keys().is_empty() {
        return Found::Nobody;
    }
    let email = id.email.as_ref().map(|e| e.to_lowercase());
    let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
    let mut mine = found.iter().filter(|m| {
        same(&m.app_user_id, &id.user_id)
            || same(&m.stripe_customer_id, &id.customer_id)
            || same(&m.email.as_ref().map(|e| e.to_lowercase()), &email)
    });
    let Some(first) = mine.next() else {
        return Found::One(Box::new(new_lead(id, now)));
    };
    if mine.any(|m| m.id != first.id) {
        return Found::Several;
    }
    let mut member = first.clone();
    fill_identities(&mut member, id, &[]);
    Found::One(Box::new(Resolved {
        before: Some(first.clone()),
        member,
    }))
}

/// Takes the advisory locks of every identity in `ids` in one sorted order
/// (so concurrent batches and single resolves never deadlock on them) and,
/// right behind them in the same round trip, finds the live members
/// holding any of them, locked for update; `also` (statements of the same
/// transaction) is sent behind the lookup.
pub async fn lock_and_find_all<T: Send>(
    tx: &crate::db::Tx,
    ids: &[&Identity],
    also: impl std::future::Future<Output = Result<T, tokio_postgres::Error>> + Send,
) -> anyhow::Result<(Vec<Member>, T)> {
    let mut keys: Vec<String> = ids.iter().flat_map(|id| id.lock_keys()).collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Ok((Vec::new(), also.await?));
    }
    let pick = |f: fn(&Identity) -> Option<String>| -> Vec<String> {
        let mut v: Vec<String> = ids.iter().filter_map(|id| f(id)).collect();
        v.sort();
        v.dedup();
        v
    };
    let users = pick(|i| i.user_id.clone());
    let customers = pick(|i| i.customer_id.clone());
    let emails = pick(|i| i.email.as_ref().map(|e| e.to_lowercase()));
    let (sql, params) = lookup_all_sql([&users, &customers, &emails]);
    // A cached statement (at most seven texts, one per set of kinds), so a
    // batch pays no planning (0.16 ms a batch when it was planned for its
    // arrays); `tx` must be `Tx::keyed` so that its generic plan is the
    // indexes' at any table size.
    let lookup = tx.query(&sql, &params);
    let (rows, also) = tx
        .execute_then(LOCK_SQL, &[&keys], async { tokio::try_join!(lookup, also) })
        .await
        .context("Failed to lock and look up members")?;
    Ok((live(&rows), also))
}

/// The one lookup of a batch: a branch per kind of identity the batch
/// carries (an empty array's branch is left out: a plan made for it on a
/// small table scanned another identity's index), each on its own unique
/// index (`= ANY` of a sorted array), like [`super::lookup_sql`]'s. The branch
/// states `IS NOT NULL`, the index's predicate (migration 0008): `= ANY` of
/// a parameter does not imply it, so a cached generic plan could not use the
/// index and scanned the table (measured 12 ms per batch after 16,000
/// members). With it, the generic plan a cached statement settles on is the
/// index scan from an empty table on (`tests/api/fresh_plans.rs`).
pub fn lookup_all_sql(
    arrays: [&Vec<String>; 3],
) -> (String, Vec<&(dyn tokio_postgres::types::ToSql + Sync)>) {
    let columns = ["app_user_id", "stripe_customer_id", "email_lower"];
    let mut branches = Vec::new();
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = Vec::new();
    for (column, values) in columns.into_iter().zip(arrays) {
        if values.is_empty() {
            continue;
        }
        params.push(values);
        let n = params.len();
        branches.push(format!(
            "SELECT * FROM (SELECT {COLUMNS} FROM members \
             WHERE {column} = ANY(${n}) AND {column} IS NOT NULL AND merged_into IS NULL FOR UPDATE) b{n}"
        ));
    }
    (branches.join(" UNION ALL "), params)
}
