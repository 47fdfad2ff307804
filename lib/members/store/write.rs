//! Writing member rows: one member or many with the same two statements
//! (`unnest` of column arrays).

use anyhow::Context;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Member;
use crate::db::Sql;

/// Inserts a member made by [`Member::new_lead`], with every field as it
/// stands now.
pub async fn insert(client: &impl Sql, m: &Member, now: DateTime<Utc>) -> anyhow::Result<()> {
    write_all(client, &[(m, true)], now).await
}

/// Writes every mutable field of `m`.
pub async fn update(client: &impl Sql, m: &Member, now: DateTime<Utc>) -> anyhow::Result<()> {
    write_all(client, &[(m, false)], now).await
}

/// Inserts the members marked `true` (made by [`Member::new_lead`]) and
/// updates every mutable field of the others: at most two statements for
/// any number of members (a batch of Stripe events, `unnest` of column
/// arrays), sent together.
pub async fn write_all(
    client: &impl Sql,
    members: &[(&Member, bool)],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let new: Vec<&Member> = members.iter().filter(|m| m.1).map(|m| m.0).collect();
    let old: Vec<&Member> = members.iter().filter(|m| !m.1).map(|m| m.0).collect();
    let inserted = async {
        if new.is_empty() {
            return Ok(());
        }
        let c = Columns::of(&new);
        let created: Vec<DateTime<Utc>> = new.iter().map(|m| m.created_at).collect();
        let mut params = c.params();
        params.push(&now);
        params.push(&created);
        client
            .execute(INSERT_ALL, &params)
            .await
            .context("Failed to insert members")
            .map(drop)
    };
    let updated = async {
        if old.is_empty() {
            return Ok(());
        }
        let c = Columns::of(&old);
        let mut params = c.params();
        params.push(&now);
        client
            .execute(UPDATE_ALL, &params)
            .await
            .context("Failed to update members")
            .map(drop)
    };
    tokio::try_join!(inserted, updated)?;
    Ok(())
}

/// The statements of [`write_all`] (public for callers that prepare their
/// statements before pipelining them behind `COMMIT`).
pub const INSERT_ALL: &str = r#"INSERT INTO members (id, email, name, state, plan, needs_support, stripe_customer_id,
       crm_contact_id, support_user_id, app_user_id, last_event_created, last_event_id,
       past_due_since, current_period_end, sequence, access, plan_event_created, plan_event_id,
       updated_at, created_at)
   SELECT i, e, n, st, pl, ns, cu, cr, su, au, lc, li, pd, pe, sq, ac, qc, qi, $19, ca
   FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[],
               $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::text[],
               $13::timestamptz[], $14::timestamptz[], $15::int8[], $16::text[],
               $17::timestamptz[], $18::text[], $20::timestamptz[])
        AS t (i, e, n, st, pl, ns, cu, cr, su, au, lc, li, pd, pe, sq, ac, qc, qi, ca)"#;

/// See [`INSERT_ALL`].
pub const UPDATE_ALL: &str = r#"UPDATE members AS m SET email = t.e, name = t.n, state = t.st, plan = t.pl,
       needs_support = t.ns, stripe_customer_id = t.cu, crm_contact_id = t.cr,
       support_user_id = t.su, app_user_id = t.au, last_event_created = t.lc,
       last_event_id = t.li, past_due_since = t.pd, current_period_end = t.pe,
       sequence = t.sq, access = t.ac, plan_event_created = t.qc, plan_event_id = t.qi,
       updated_at = $19
   FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[],
               $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::text[],
               $13::timestamptz[], $14::timestamptz[], $15::int8[], $16::text[],
               $17::timestamptz[], $18::text[])
        AS t (i, e, n, st, pl, ns, cu, cr, su, au, lc, li, pd, pe, sq, ac, qc, qi)
   WHERE m.id = t.i"#;

/// Members as column arrays ($1..$18 of [`INSERT_ALL`] and [`UPDATE_ALL`]).
struct Columns<'a> {
    id: Vec<Uuid>,
    email: Vec<Option<&'a str>>,
    name: Vec<Option<&'a str>>,
    state: Vec<&'static str>,
    plan: Vec<Option<&'a str>>,
    needs_support: Vec<bool>,
    customer: Vec<Option<&'a str>>,
    crm: Vec<Option<&'a str>>,
    support: Vec<Option<&'a str>>,
    user: Vec<Option<&'a str>>,
    last_created: Vec<Option<DateTime<Utc>>>,
    last_id: Vec<Option<&'a str>>,
    past_due_since: Vec<Option<DateTime<Utc>>>,
    period_end: Vec<Option<DateTime<Utc>>>,
    sequence: Vec<i64>,
    access: Vec<&'a str>,
    plan_created: Vec<Option<DateTime<Utc>>>,
    plan_id: Vec<Option<&'a str>>,
}

impl<'a> Columns<'a> {
    fn of(members: &[&'a Member]) -> Self {
        let col = |f: fn(&'a Member) -> Option<&'a str>| members.iter().map(|m| f(m)).collect();
        Self {
            id: members.iter().map(|m| m.id).collect(),
            email: col(|m| m.email.as_deref()),
            name: col(|m| m.name.as_deref()),
            state: members.iter().map(|m| m.state.as_str()).collect(),
            plan: col(|m| m.plan.as_deref()),
            needs_support: members.iter().map(|m| m.needs_support).collect(),
            customer: col(|m| m.stripe_customer_id.as_deref()),
            crm: col(|m| m.crm_contact_id.as_deref()),
            support: col(|m| m.support_user_id.as_deref()),
            user: col(|m| m.app_user_id.as_deref()),
            last_created: members.iter().map(|m| m.last_event_created).collect(),
            last_id: col(|m| m.last_event_id.as_deref()),
            past_due_since: members.iter().map(|m| m.past_due_since).collect(),
            period_end: members.iter().map(|m| m.current_period_end).collect(),
            sequence: members.iter().map(|m| m.sequence).collect(),
            access: members.iter().map(|m| m.access.as_str()).collect(),
            plan_created: members.iter().map(|m| m.plan_event_created).collect(),
            plan_id: col(|m| m.plan_event_id.as_deref()),
        }
    }

    fn params(&self) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        vec![
            &self.id,
            &self.email,
            &self.name,
            &self.state,
            &self.plan,
            &self.needs_support,
            &self.customer,
            &self.crm,
            &self.support,
            &self.user,
            &self.last_created,
            &self.last_id,
            &self.past_due_since,
            &self.period_end,
            &self.sequence,
            &self.access,
            &self.plan_created,
            &self.plan_id,
        ]
    }
}
