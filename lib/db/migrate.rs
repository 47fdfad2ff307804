//! Migrations: SQL files under `migrations/`, embedded at compile time,
//! applied in order and recorded in `schema_migrations`.
//!
//! All pending files run in ONE transaction that first takes a transaction
//! advisory lock, so when many cold starts race, one applies and the others
//! wait, then see everything applied and do nothing. A failed file rolls the
//! whole run back: the schema is never half-migrated.

use anyhow::Context;
use deadpool_postgres::Pool;

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
];

/// Advisory lock key: "opsbridge" in ASCII, so it cannot clash by accident.
const LOCK_KEY: i64 = 0x6f70_7362_7269_6467;

/// The newest version this build knows.
pub fn latest_version() -> &'static str {
    MIGRATIONS.last().map(|m| m.0).unwrap_or("")
}

/// Applies every pending migration; returns the versions it applied.
pub async fn run(pool: &Pool) -> anyhow::Result<Vec<String>> {
    let mut client = pool
        .get()
        .await
        .context("Failed to get a connection to migrate")?;
    let tx = client
        .transaction()
        .await
        .context("Failed to begin migration")?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
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
    tx.commit().await.context("Failed to commit migrations")?;
    Ok(done)
}

/// The newest applied version, if the history table exists.
pub async fn current_version(client: &tokio_postgres::Client) -> anyhow::Result<Option<String>> {
    let row = client
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
