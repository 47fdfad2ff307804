//! What others show of the incidents: `checks.incidents` in `/api/health`
//! (`{"ok": true, "open": N}`, never failing: an incident is news for the
//! founder, not a reason for a load balancer to drop the instance) and the
//! open incidents on the admin overview.

use std::time::Duration;

use serde_json::{Map, Value};

use super::store;
use crate::db::Sql;
use crate::health::Check;
use crate::state::App;

/// The check's own time limit (health answers fast even when Postgres hangs).
pub const CHECK_TIMEOUT_MS: u64 = 2_000;

/// `checks.incidents`: the number of open incidents; `ok` is always true
/// (when Postgres cannot answer, `open` is null and `error` says so; the
/// `postgres` check is the one that fails).
pub async fn health_check(app: &App) -> Check {
    let count = async {
        let client = app.db.get().await?;
        let row = client
            .query_one("SELECT count(*) FROM incidents WHERE status = 'open'", &[])
            .await?;
        anyhow::Ok(row.get::<_, i64>(0))
    };
    let mut detail = Map::new();
    match tokio::time::timeout(Duration::from_millis(CHECK_TIMEOUT_MS), count).await {
        Ok(Ok(n)) => {
            detail.insert("open".into(), n.into());
        }
        failed => {
            let error = failed.map_or("timed out".into(), |r| format!("{:#}", r.unwrap_err()));
            tracing::warn!(error = %error, "incidents health check failed");
            detail.insert("open".into(), Value::Null);
            detail.insert("error".into(), "unavailable".into());
        }
    }
    Check {
        name: "incidents",
        ok: true,
        detail,
    }
}

/// The open incidents for the overview (admin listing shape).
pub async fn open_for_overview(client: &impl Sql) -> anyhow::Result<Value> {
    let open = store::open_incidents(client).await?;
    Ok(Value::Array(
        open.iter().map(store::Incident::to_json).collect(),
    ))
}
