//! Planner statistics during a large catch-up.

use crate::state::App;

/// Tables an ingest reads by index on its hot path.
const ANALYZED: &str = "ANALYZE members, events, jobs, timeline";

/// Refreshes the planner statistics of the ingest's tables when this run's
/// own writes have made them stale (autovacuum's rule, 50 rows + 10 %, applied
/// at once instead of within the minute). Why: every pooled connection keeps
/// the plan it made for each statement; made on a near-empty table (a fresh
/// install's first catch-up), the identity lookup walks a whole index per
/// event until statistics change, and ANALYZE makes every connection plan
/// again. On a large table this never triggers within a run.
pub async fn refresh_if_stale(app: &App, since: &mut u64) {
    let refresh = async {
        let client = app.db.get().await?;
        let rows: f32 = client
            .query_one(
                "SELECT reltuples FROM pg_class WHERE oid = 'members'::regclass",
                &[],
            )
            .await?
            .get(0);
        if (*since as f32) < 50.0 + 0.1 * rows.max(0.0) {
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
