//! An app batch's second round trip: every write as set-based statements,
//! with `COMMIT` behind them.

use chrono::{DateTime, Utc};

use super::{Entry, Write};
use crate::db::{events, Tx};
use crate::members::change;
use crate::product::ingest::{line, new_event, Ingested};
use crate::state::App;

/// Round trip 2: every write as set-based statements, `COMMIT` behind them.
pub(super) async fn second_round_trip(
    app: &App,
    tx: &Tx,
    entries: &[Entry],
    decided: Vec<Write>,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Ingested>> {
    let grace = app.config.past_due_grace_days;
    let mut members = Vec::with_capacity(decided.len());
    let mut changes = Vec::with_capacity(decided.len());
    let mut outcomes = Vec::with_capacity(decided.len());
    for mut w in decided {
        let before = w.before.as_ref();
        changes.push(change::prepare(before, &mut w.member, grace, now, None));
        members.push(w.member);
        outcomes.push(w.outcome);
    }
    let payloads: Vec<events::Payload> = entries
        .iter()
        .map(|e| events::Payload::of(&e.item.event.to_json()))
        .collect();
    let rows: Vec<change::Rows<'_>> = changes
        .into_iter()
        .zip(&members)
        .zip(entries.iter().zip(&outcomes))
        .map(|((c, m), (e, o))| c.rows(m, now, vec![line(&e.item.event, o, now)]))
        .collect();
    let new_events: Vec<events::NewEvent<'_>> = entries
        .iter()
        .zip(&payloads)
        .zip(members.iter().zip(&outcomes))
        .map(|((e, p), (m, o))| new_event(&e.item.event, p, m.id, o, now))
        .collect();
    tx.prepare_all(&change::BATCH_WRITES).await?;
    let writes = async {
        let (enqueued, ()) = tokio::try_join!(
            change::write_all(tx, rows, now),
            events::insert_all(tx, &new_events),
        )?;
        anyhow::Ok(enqueued)
    };
    let enqueued = tx.commit_behind(writes).await?;
    Ok(members
        .iter()
        .zip(enqueued)
        .map(|(m, jobs)| Ingested {
            duplicate: false,
            member_id: m.id,
            state: m.state,
            jobs,
        })
        .collect())
}
