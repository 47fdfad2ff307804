//! A batch's second round trip: every write as set-based statements, with
//! `COMMIT` behind them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{event_row, Entry};
use crate::db::{events, Tx};
use crate::members::change::{self, Enqueued};
use crate::stripe::apply::Decision;
use crate::stripe::billing;
use crate::stripe::event::Fact;
use crate::stripe::ingest::{EventRow, Ingested};

pub(super) async fn second_round_trip(
    tx: &Tx,
    entries: &[Entry],
    decisions: Vec<Decision>,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Ingested>> {
    let rows: Vec<EventRow<'_>> = entries.iter().map(|e| event_row(&e.item, now)).collect();
    let mut members = Vec::with_capacity(decisions.len());
    let mut changes = Vec::with_capacity(decisions.len());
    let mut outcomes = Vec::with_capacity(decisions.len());
    for d in decisions {
        outcomes.push(d.outcome);
        let (member, change) = match d.member {
            Some((m, c)) => (Some(m), Some((c, d.lines))),
            None => (None, None),
        };
        members.push(member);
        changes.push(change);
    }
    let member_rows: Vec<change::Rows<'_>> = members
        .iter()
        .zip(changes)
        .filter_map(|(m, c)| {
            let (change, lines) = c?;
            Some(change.rows(m.as_ref()?, now, lines))
        })
        .collect();
    let new_events: Vec<events::NewEvent<'_>> = rows
        .iter()
        .zip(&members)
        .zip(&outcomes)
        .map(|((r, m), o)| r.new_event(m.as_ref().map(|m| m.id), o))
        .collect();
    let with_effects: Vec<(usize, &Fact)> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match &e.item.fact {
            Ok(f) if billing::has_effects(f) => Some((i, f)),
            _ => None,
        })
        .collect();
    let effects =
        futures::future::try_join_all(with_effects.iter().map(|&(i, f)| {
            billing::effects(tx, members[i].as_ref(), &entries[i].item.event, f, now)
        }));
    let writes = async {
        let (enqueued, (), effects) = tokio::try_join!(
            change::write_all(tx, member_rows, now),
            events::insert_all(tx, &new_events),
            effects,
        )?;
        anyhow::Ok((enqueued, effects))
    };
    let (enqueued, effects) = if with_effects.is_empty() {
        tx.prepare_all(&change::BATCH_WRITES).await?;
        tx.commit_behind(writes).await?
    } else {
        // A billing effect reads before it writes (was this invoice paid
        // already?), so its statements cannot all leave in the first poll:
        // the writes are awaited, then `COMMIT` goes alone.
        let written = writes.await?;
        tx.commit_now().await?;
        written
    };
    let mut enqueued = enqueued.into_iter();
    let mut effects: HashMap<usize, Enqueued> =
        with_effects.iter().map(|(i, _)| *i).zip(effects).collect();
    Ok(members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut jobs = match m {
                Some(_) => enqueued.next().unwrap_or_default(),
                None => Vec::new(),
            };
            jobs.extend(effects.remove(&i).unwrap_or_default());
            Ingested {
                duplicate: false,
                member_id: m.as_ref().map(|m| m.id),
                jobs,
            }
        })
        .collect())
}
