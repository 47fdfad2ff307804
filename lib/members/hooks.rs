//! Member work the sweep does on every run, before it claims jobs:
//! - grace expiry: a `past_due` member whose grace ended gets access `none`
//!   and its app webhook without any new Stripe event;
//! - CRM reconciliation: a member whose CRM copy is older than its last
//!   change, with no CRM job queued or dead-lettered, gets a fresh upsert, so
//!   the CRM converges to Postgres (never the reverse).

use anyhow::Context;
use serde_json::json;
use uuid::Uuid;

use super::{change, store};
use crate::jobs::{enqueue, JobKind, NewJob};
use crate::state::App;

/// Members handled per hook per sweep (bounded work per run).
pub const HOOK_BATCH: i64 = 500;
/// A change is left this long to sync normally before reconciliation steps in.
pub const RECONCILE_AFTER_SECS: f64 = 120.0;

/// Runs every hook; returns how many members were touched.
pub async fn sweep_hooks(app: &App, client: &impl crate::db::Sql) -> anyhow::Result<u64> {
    Ok(expire_grace(app, client).await? + reconcile_crm(app, client).await?)
}

async fn expire_grace(app: &App, client: &impl crate::db::Sql) -> anyhow::Result<u64> {
    let now = app.clock.now();
    let grace = app.config.past_due_grace_days as i32;
    let ids: Vec<Uuid> = client
        .query(
            r#"SELECT id FROM members WHERE state = 'past_due' AND access <> 'none' AND merged_into IS NULL
                 AND past_due_since + make_interval(days => $2) <= $1 LIMIT $3"#,
            &[&now, &grace, &HOOK_BATCH],
        )
        .await
        .context("Failed to find expired grace periods")?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut n = 0;
    for id in ids {
        let tx = app.db.begin().await.context("Failed to get a connection")?;
        if let Some(before) = store::lock(&tx, id).await? {
            let mut after = before.clone();
            change::save(
                &tx,
                Some(&before),
                &mut after,
                app.config.past_due_grace_days,
                now,
                None,
                Vec::new(),
            )
            .await?;
            tx.commit()
                .await
                .context("Failed to commit a grace expiry")?;
            tracing::info!(member_id = %id, "grace period ended: access none");
            n += 1;
        }
    }
    Ok(n)
}

async fn reconcile_crm(app: &App, client: &impl crate::db::Sql) -> anyhow::Result<u64> {
    let now = app.clock.now();
    let rows = client
        .query(
            r#"SELECT m.id, m.sequence FROM members m
               WHERE m.crm_synced_seq < m.sequence AND m.merged_into IS NULL
                 AND m.updated_at < $1::timestamptz - make_interval(secs => $2::float8)
                 AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.kind = 'crm_upsert' AND j.member_id = m.id
                                   AND j.state IN ('pending', 'running', 'held', 'dead'))
               LIMIT $3"#,
            &[&now, &RECONCILE_AFTER_SECS, &HOOK_BATCH],
        )
        .await
        .context("Failed to find members with a stale CRM copy")?;
    let mut n = 0;
    for row in rows {
        let (id, seq): (Uuid, i64) = (row.get(0), row.get(1));
        let job = NewJob {
            kind: JobKind::CrmUpsert,
            dedupe_key: format!("crm_reconcile:{id}:{seq}"),
            payload: json!({ "member_id": id, "sequence": seq, "reconcile": true }),
            member_id: Some(id),
            sequence: Some(seq),
        };
        if enqueue(client, job, now).await?.is_some() {
            n += 1;
        }
    }
    Ok(n)
}

/// Registered in `jobs::registry`: run before every sweep claims jobs.
pub const SWEEP_HOOK: crate::jobs::delivery::SweepHook = crate::jobs::delivery::SweepHook {
    name: "members",
    run: |app, _now| Box::pin(async move { sweep_hooks(app, &app.db.get().await?).await }),
};
