//! The stored cursor (`catchup_state`, one row per source): every event
//! created at or before `cursor` is durably stored. It only moves forward
//! (`GREATEST`), after the events it passes were stored, so a crash at any
//! point loses nothing: the next run starts from it (minus the overlap).

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use crate::db::Sql;
use crate::state::App;

/// The row of the Stripe catch-up.
pub const NAME: &str = "stripe";

/// The stored state of the catch-up.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Every event created at or before this instant is stored.
    pub cursor: Option<DateTime<Utc>>,
    /// When the last run ended.
    pub last_run_at: Option<DateTime<Utc>>,
    /// When the last run that read its whole window ended.
    pub last_ok_at: Option<DateTime<Utc>>,
    /// `ok`, `partial`, `auth_failed` or `store_failed`.
    pub last_status: Option<String>,
    /// Why the last run stopped early, if it did (a reason code).
    pub last_error: Option<String>,
}

impl State {
    fn from_row(row: &Row) -> Self {
        Self {
            cursor: row.get("cursor_created"),
            last_run_at: row.get("last_run_at"),
            last_ok_at: row.get("last_ok_at"),
            last_status: row.get("last_status"),
            last_error: row.get("last_error"),
        }
    }
}

/// Reads the state (default when the catch-up never ran).
pub async fn load(app: &App) -> anyhow::Result<State> {
    let client = app.db.get().await.context("Failed to get a connection")?;
    let row = client
        .query_opt(
            "SELECT cursor_created, last_run_at, last_ok_at, last_status, last_error
               FROM catchup_state WHERE name = $1",
            &[&NAME],
        )
        .await
        .context("Failed to read the catch-up cursor")?;
    Ok(row.as_ref().map(State::from_row).unwrap_or_default())
}

/// Moves the cursor forward to `to` (never back).
pub async fn advance(app: &App, to: DateTime<Utc>) -> anyhow::Result<()> {
    let client = app.db.get().await.context("Failed to get a connection")?;
    client
        .execute(
            r#"INSERT INTO catchup_state (name, cursor_created, updated_at) VALUES ($1, $2, $3)
               ON CONFLICT (name) DO UPDATE
               SET cursor_created = GREATEST(catchup_state.cursor_created, EXCLUDED.cursor_created),
                   updated_at = EXCLUDED.updated_at"#,
            &[&NAME, &to, &app.clock.now()],
        )
        .await
        .context("Failed to advance the catch-up cursor")?;
    Ok(())
}

/// Records how a run ended: `status`, and the reason it stopped early.
pub async fn finish(app: &App, status: &str, stopped: Option<&str>) -> anyhow::Result<()> {
    let now = app.clock.now();
    let ok_at = (status == "ok").then_some(now);
    let client = app.db.get().await.context("Failed to get a connection")?;
    client
        .execute(
            r#"INSERT INTO catchup_state (name, last_run_at, last_ok_at, last_status, last_error, updated_at)
               VALUES ($1, $2, $3, $4, $5, $2)
               ON CONFLICT (name) DO UPDATE
               SET last_run_at = EXCLUDED.last_run_at,
                   last_ok_at = COALESCE(EXCLUDED.last_ok_at, catchup_state.last_ok_at),
                   last_status = EXCLUDED.last_status,
                   last_error = EXCLUDED.last_error,
                   updated_at = EXCLUDED.updated_at"#,
            &[&NAME, &now, &ok_at, &status, &stopped],
        )
        .await
        .context("Failed to record the catch-up run")?;
    Ok(())
}
