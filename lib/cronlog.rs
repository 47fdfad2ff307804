//! Cron run history (`cron_runs`): health and the admin overview show the
//! last run of each cron and whether one was missed.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::db::Sql;
use crate::state::App;

/// Records a finished run; failures to record are logged, never fatal.
pub async fn record(app: &App, name: &str, started_at: DateTime<Utc>, ok: bool, summary: &Value) {
    let result = async {
        let client = app.db.get().await?;
        client
            .execute(
                "INSERT INTO cron_runs (name, started_at, finished_at, ok, summary) VALUES ($1, $2, $3, $4, $5)",
                &[&name, &started_at, &app.clock.now(), &ok, summary],
            )
            .await?;
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(cron = name, error = %format!("{e:#}"), "failed to record a cron run");
    }
}
