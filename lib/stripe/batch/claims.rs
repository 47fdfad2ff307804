//! A batch's first round trip: the Redis claims alongside `BEGIN`, the
//! identity locks, the one member lookup and the stored-events check; then
//! where each event goes ([`Route`]).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{event_row, Entry, Item, Route};
use crate::db::{Sql, Tx};
use crate::kv::Kv;
use crate::members::link::{self, Found};
use crate::state::App;
use crate::stripe::apply::{decide, Decision};
use crate::stripe::event::Fact;
use crate::stripe::ingest::{IngestError, Ingested, CLAIM_TTL_MS};

pub(super) type Routed = (Vec<Entry>, Vec<Route>);

/// Which of a batch's events are stored already (searched by id: migration
/// 0013).
pub const STORED_SQL: &str =
    "SELECT event_id, member_id FROM events WHERE source = 'stripe' AND event_id = ANY($1)";

/// Round trip 1: the claims (Redis) and the locks, the lookup and the
/// stored-event check (Postgres), concurrently; then each entry's route.
pub(super) async fn first_round_trip(
    app: &App,
    tx: &Tx,
    mut entries: Vec<Entry>,
    now: DateTime<Utc>,
) -> Result<Routed, (Vec<Entry>, anyhow::Error)> {
    let keys: Vec<String> = entries
        .iter()
        .map(|e| format!("stripe:{}", e.item.event.id))
        .collect();
    let claims: Vec<(&str, &str)> = keys
        .iter()
        .zip(&entries)
        .map(|(k, e)| (k.as_str(), e.token.as_deref().unwrap_or_default()))
        .collect();
    let ids: Vec<&str> = entries.iter().map(|e| e.item.event.id.as_str()).collect();
    let identities: Vec<_> = entries
        .iter()
        .filter_map(|e| e.item.fact.as_ref().ok().map(Fact::identity))
        .collect();
    let identities: Vec<_> = identities.iter().collect();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&ids];
    let stored = tx.query(STORED_SQL, &params);
    let (claimed, found) = tokio::join!(
        app.kv.claim_batch(&claims, CLAIM_TTL_MS),
        link::lock_and_find_all(tx, &identities, stored)
    );
    drop((claims, params, identities));
    // Settle the claims first: an entry keeps its token only if the claim
    // is ours (the one-by-one path then releases or completes it); else
    // `others` holds what Redis had (a done marker, someone's claim).
    let others: Vec<Option<String>> = entries
        .iter_mut()
        .zip(claimed)
        .map(|(entry, held)| Kv::settle_claim(&mut entry.token, held))
        .collect();
    let (found, stored) = match found {
        Ok(f) => f,
        Err(e) => return Err((entries, e)),
    };
    let stored: HashMap<String, Option<Uuid>> =
        stored.iter().map(|r| (r.get(0), r.get(1))).collect();
    let grace = app.config.past_due_grace_days;
    let mut taken = HashSet::new();
    let routes = entries
        .iter()
        .zip(others)
        .map(|(entry, other)| match other.as_deref() {
            Some("done") => Route::Answer(Ok(duplicate(None))),
            Some(_) => Route::Answer(Err(IngestError::InFlight)),
            // Stored already (Redis was down or lost the marker).
            None => match stored.get(&entry.item.event.id) {
                Some(member_id) => Route::Answer(Ok(duplicate(*member_id))),
                None => route(&entry.item, &found, &mut taken, grace, now),
            },
        })
        .collect();
    Ok((entries, routes))
}

fn duplicate(member_id: Option<Uuid>) -> Ingested {
    Ingested {
        duplicate: true,
        member_id,
        jobs: Vec::new(),
    }
}

/// Where one unsettled event goes (see [`Route`]).
fn route(
    item: &Item,
    found: &[crate::members::Member],
    taken: &mut HashSet<Uuid>,
    grace_days: i64,
    now: DateTime<Utc>,
) -> Route {
    let no_member = |outcome| {
        Route::Write(Box::new(Decision {
            member: None,
            lines: Vec::new(),
            outcome,
        }))
    };
    let fact = match &item.fact {
        Ok(Fact::Unhandled) => return no_member("unhandled"),
        Ok(Fact::CustomerDeleted { .. }) => return Route::Alone,
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(event_id = %item.event.id, event_type = %item.event.event_type, error = %e, "event stored but not applied");
            return no_member("invalid");
        }
    };
    let resolved = match link::resolve_found(found, &fact.identity(), now) {
        Found::Nobody => None,
        Found::Several => return Route::Alone,
        Found::One(r) => {
            let id = r.before.as_ref().map(|b| b.id).unwrap_or(r.member.id);
            if !taken.insert(id) {
                return Route::Alone;
            }
            Some(*r)
        }
    };
    let row = event_row(item, now);
    Route::Write(Box::new(decide(resolved, &row, fact, grace_days, now)))
}
