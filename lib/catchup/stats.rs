//! Planner statistics during a large catch-up.

use crate::db::Sql;
use crate::state::App;

/// Tables whose plans depend on their size: the identity lookup (members)
/// and the chunk's stored-events check. Timeline lines and jobs are only
/// inserted or found by a unique key, whatever the statistics say, and
/// autovacuum analyzes them within the minute.
const ANALYZED: &str = "ANALYZE members, events";

/// New events that always justify a refresh on top of the table's size.
const BASE_ROWS: u64 = 50;

/// Refreshes the planner statistics of the ingest's tables when this run's
/// own writes have at least doubled the `events` table since they were last
/// read (50 rows + 100 %). Why: every pooled connection keeps the plan it made
/// for each statement; made on a near-empty table (a fresh install's first
/// catch-up), the identity lookup walks a whole index per event until
/// statistics change, and ANALYZE makes every connection plan again. Plans
/// go wrong when a table's size changes by orders of magnitude, not by 10 %
/// (autovacuum's rule, which it applies within the minute anyway), so a run
/// of 10,000 events on a fresh install analyzes 4 times, not after every
/// chunk (ANALYZE stalls the ingest while it runs); on a large table it
/// never triggers within a run.
pub async fn refresh_if_stale(app: &App, since: &mut u64) {
    // Below the base, no query: most chunks of a run end here.
    if *since < BASE_ROWS {
        return;
    }
    let refresh = async {
        let client = app.db.get().await?;
        let rows: f32 = client
            .query_one(
                "SELECT reltuples FROM pg_class WHERE oid = 'events'::regclass",
                &[],
            )
            .await?
            .get(0);
        if (*since as f32) < BASE_ROWS as f32 + rows.max(0.0) {
            return anyhow::Ok(false);
        }
        client.batch_execute(ANALYZED).await?;
        anyhow::Ok(true)
    };
    match refresh.await {
        Ok(true) => {
            tracing::info!(
                events_since = *since,
                "catch-up refreshed planner statistics"
            );
            *since = 0;
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not refresh planner statistics"),
    }
}
