//! Migrations: SQL files under `migrations/`, embedded at compile time,
//! applied in order and recorded in `schema_migrations`.
//!
//! A cold start first reads the newest applied version: one statement, one
//! round trip, and nothing more when the schema is current (the common case:
//! every cold start of every instance). Only when something is pending does
//! it migrate, through `DATABASE_URL_UNPOOLED` / `POSTGRES_URL_NON_POOLING`
//! when set (Neon's and Supabase's direct URLs), else through the pool.
//!
//! All pending files run in ONE transaction that first takes a transaction
//! advisory lock (never a session lock: a transaction pooler would hand the
//! session to someone else), so when many cold starts race, one applies and
//! the others wait, then see everything applied and do nothing. A failed
//! file rolls the whole run back: the schema is never half-migrated.

use anyhow::Context;

use super::{Conn, Db, Sql, Tx};
use crate::config::{Config, Pooler};

/// Every migration, in order: (version, SQL).
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_foundation",
        include_str!("../../migrations/0001_foundation.sql"),
    ),
    (
        "0002_members_events_jobs",
        include_str!("../../migrations/0002_members_events_jobs.sql"),
    ),
    (
        "0003_support",
        include_str!("../../migrations/0003_support.sql"),
    ),
    (
        "0004_stripe_catchup",
        include_str!("../../migrations/0004_stripe_catchup.sql"),
    ),
    (
        "0005_ai_drafts",
        include_str!("../../migrations/0005_ai_drafts.sql"),
    ),
    (
        "0006_deferred_member_keys",
        include_str!("../../migrations/0006_deferred_member_keys.sql"),
    ),
    (
        "0007_no_payload_statistics",
        include_str!("../../migrations/0007_no_payload_statistics.sql"),
    ),
    (
        "0008_unambiguous_lookup_indexes",
        include_str!("../../migrations/0008_unambiguous_lookup_indexes.sql"),
    ),
    (
        "0009_member_paused",
        include_str!("../../migrations/0009_member_paused.sql"),
    ),
    (
        "0010_zendesk",
        include_str!("../../migrations/0010_zendesk.sql"),
    ),
    (
        "0011_watchdog",
        include_str!("../../migrations/0011_watchdog.sql"),
    ),
    (
        "0012_plan_watermark",
        include_str!("../../migrations/0012_plan_watermark.sql"),
    ),
    (
        "0013_events_key_id_first",
        include_str!("../../migrations/0013_events_key_id_first.sql"),
    ),
];

/// Advisory lock key: "opsbridge" in ASCII, so it cannot clash by accident.
const LOCK_KEY: i64 = 0x6f70_7362_7269_6467;

/// How long one migration transaction may run (index builds on a big
/// table), instead of the pool's 5-second statement cap.
const MIGRATION_TIMEOUT_MS: u64 = 120_000;

/// The newest version this build knows.
pub fn latest_version() -> &'static str {
    MIGRATIONS.last().map(|m| m.0).unwrap_or("")
}

/// Cold start: one round trip when the schema is current; otherwise applies
/// what is pending through the direct URL if one is configured, else through
/// `db`. Returns the versions applied.
pub async fn on_start(config: &Config, db: &Db) -> anyhow::Result<Vec<String>> {
    let conn = db
        .get()
        .await
        .context("Failed to get a connection to check the schema")?;
    if current_version(&conn).await?.as_deref() == Some(latest_version()) {
        return Ok(Vec::new());
    }
    drop(conn);
    match &config.database_url_unpooled {
        Some(url) => {
            let direct = super::pool::connect_url(
                url.expose(),
                Pooler::None,
                config.database_ca_cert.as_ref().map(|c| c.expose()),
                1,
            )
            .context("Failed to set up the direct (unpooled) Postgres URL")?;
            run(&direct).await
        }
        None => run(db).await,
    }
}

/// Applies every pending migration; returns the versions it applied.
pub async fn run(db: &Db) -> anyhow::Result<Vec<String>> {
    let tx = db
        .begin()
        .await
        .context("Failed to get a connection to migrate")?;
    let done = apply(&tx).await?;
    tx.commit().await.context("Failed to commit migrations")?;
    Ok(done)
}

async fn apply(tx: &Tx) -> anyhow::Result<Vec<String>> {
    tx.batch_execute(&format!(
        "SET LOCAL statement_timeout = {MIGRATION_TIMEOUT_MS}; SELECT pg_advisory_xact_lock({LOCK_KEY})"
    ))
    .await
    .context("Failed to take the migration lock")?;
    tx.batch_execute(
        r#"CREATE TABLE IF NOT EXISTS schema_migrations (
               version    text PRIMARY KEY,
               applied_at timestamptz NOT NULL DEFAULT now())"#,
    )
    .await
    .context("Failed to create schema_migrations")?;
    let applied: Vec<String> = tx
        .query("SELECT version FROM schema_migrations", &[])
        .await
        .context("Failed to read schema_migrations")?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut done = Vec::new();
    for (version, sql) in MIGRATIONS {
        if applied.iter().any(|a| a == version) {
            continue;
        }
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("Failed to apply migration {version}"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await
        .with_context(|| format!("Failed to record migration {version}"))?;
        done.push(version.to_string());
    }
    Ok(done)
}

/// The newest applied version, if the history table exists.
pub async fn current_version(conn: &Conn) -> anyhow::Result<Option<String>> {
    let row = conn
        .query_opt(
            "SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1",
            &[],
        )
        .await;
    match row {
        Ok(r) => Ok(r.map(|r| r.get(0))),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => Ok(None),
        Err(e) => Err(e).context("Failed to read the schema version"),
    }
}
