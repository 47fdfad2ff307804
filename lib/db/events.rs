//! The `events` table: every inbound event (Stripe, the app) is stored once,
//! `UNIQUE (source, event_id)`, before it is applied.

use anyhow::Context;
use uuid::Uuid;

use super::Sql;

/// Records what an event did (`applied`, `stale`, `unhandled`, `invalid`)
/// and the member it concerned on its stored row.
pub async fn record_outcome(
    tx: &impl Sql,
    row_id: i64,
    member_id: Option<Uuid>,
    outcome: &str,
) -> anyhow::Result<()> {
    tx.execute(
        "UPDATE events SET member_id = $2, outcome = $3 WHERE id = $1",
        &[&row_id, &member_id, &outcome],
    )
    .await
    .context("Failed to record the event's outcome")?;
    Ok(())
}
