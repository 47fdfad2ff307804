//! Kill switches: one flag per integration, stored in Postgres so every
//! instance sees the same. A paused integration's jobs wait as `held`
//! (reason `paused`) and drain when it is resumed; nothing is lost.

use crate::db::Sql;
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The integrations that can be paused (job kinds map onto these).
pub const INTEGRATIONS: &[&str] = &[
    "hubspot",
    "app_webhook",
    "resend",
    "helpdesk",
    "zendesk",
    "slack",
    "openai",
];

/// One switch.
#[derive(Debug, Clone, Serialize)]
pub struct Flag {
    /// Integration name.
    pub name: String,
    /// True when running (the default).
    pub enabled: bool,
    /// Who flipped it last.
    pub updated_by: Option<String>,
    /// Why.
    pub note: Option<String>,
    /// When.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Every switch, defaults included.
pub async fn all(client: &impl Sql) -> anyhow::Result<Vec<Flag>> {
    let rows = client
        .query(
            "SELECT name, enabled, updated_by, note, updated_at FROM feature_flags",
            &[],
        )
        .await
        .context("Failed to read flags")?;
    Ok(INTEGRATIONS
        .iter()
        .map(|name| {
            let row = rows.iter().find(|r| r.get::<_, &str>(0) == *name);
            Flag {
                name: name.to_string(),
                enabled: row.map(|r| r.get(1)).unwrap_or(true),
                updated_by: row.map(|r| r.get(2)),
                note: row.map(|r| r.get(3)),
                updated_at: row.map(|r| r.get(4)),
            }
        })
        .collect())
}

/// Names of paused integrations.
pub async fn paused(client: &impl Sql) -> anyhow::Result<Vec<String>> {
    let rows = client
        .query("SELECT name FROM feature_flags WHERE NOT enabled", &[])
        .await
        .context("Failed to read paused flags")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Sets a switch; false when `name` is not a known integration.
pub async fn set(
    client: &impl Sql,
    name: &str,
    enabled: bool,
    actor: &str,
    note: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    if !INTEGRATIONS.contains(&name) {
        return Ok(false);
    }
    client
        .execute(
            r#"INSERT INTO feature_flags (name, enabled, updated_by, note, updated_at)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (name) DO UPDATE SET enabled = $2, updated_by = $3, note = $4, updated_at = $5"#,
            &[&name, &enabled, &actor, &note, &now],
        )
        .await
        .context("Failed to set a flag")?;
    Ok(true)
}
