//! An app batch's first round trip: the Redis claims alongside `BEGIN`,
//! the identity locks, the one member lookup, the stored-events check and
//! the newest applied events; then where each event goes ([`Route`]).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Entry, Route};
use crate::db::{Sql, Tx};
use crate::kv::Kv;
use crate::members::{self, Member};
use crate::product::decide::{decide, identity, Decided, Newest, Params, NEWEST_SQL};
use crate::product::events::AppEvent;
use crate::product::ingest::{duplicate, MemberEventError, CLAIM_TTL_MS};
use crate::state::App;

/// Which of a batch's app events are stored already, with their member's
/// state now (searched by id: migration 0013).
pub const STORED_SQL: &str = "SELECT e.event_id, m.id, m.state FROM events e \
     JOIN members m ON m.id = e.member_id WHERE e.source = 'app' AND e.event_id = ANY($1)";

/// Round trip 1: the claims (Redis) and the locks, the lookup, the stored
/// check and the newest applied events (Postgres), concurrently; then each
/// entry's route. On an error every entry keeps its claim, if ours.
pub(super) async fn first_round_trip(
    app: &App,
    tx: &Tx,
    entries: &mut [Entry],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Route>> {
    let claims: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.key.as_str(), e.token.as_deref().unwrap_or_default()))
        .collect();
    let ids: Vec<&str> = entries.iter().map(|e| e.item.event.id.as_str()).collect();
    let owned: Vec<_> = entries.iter().map(|e| identity(&e.item.event)).collect();
    let identities: Vec<_> = owned.iter().collect();
    let mut users: Vec<String> = owned.iter().filter_map(|i| i.user_id.clone()).collect();
    users.sort();
    let (by_id, by_user): (Params<'_>, Params<'_>) = ([&ids], [&users]);
    let stored = tx.query(STORED_SQL, &by_id);
    let newest = tx.query(NEWEST_SQL, &by_user);
    let (claimed, found) = tokio::join!(
        app.kv.claim_batch(&claims, CLAIM_TTL_MS),
        members::link::lock_and_find_all(tx, &identities, async {
            tokio::try_join!(stored, newest)
        })
    );
    drop(claims);
    // Settle the claims first: an entry keeps its token only if the claim
    // is ours; else `others` holds what Redis had (a done marker, someone's
    // claim).
    let others: Vec<Option<String>> = entries
        .iter_mut()
        .zip(claimed)
        .map(|(entry, held)| Kv::settle_claim(&mut entry.token, held))
        .collect();
    let (found, (stored, newest)) = found?;
    let stored: HashMap<String, &tokio_postgres::Row> =
        stored.iter().map(|r| (r.get(0), r)).collect();
    let newest: Newest = newest.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut taken = HashSet::new();
    Ok(entries
        .iter()
        .zip(others)
        .map(|(entry, other)| {
            let event = &entry.item.event;
            match (stored.get(event.id.as_str()), other.as_deref()) {
                (Some(row), _) => Route::Answer(Ok(duplicate(row))),
                // Someone else's claim: that delivery is being stored now.
                (None, Some(held)) if held != "done" => {
                    Route::Answer(Err(MemberEventError::InFlight))
                }
                // Not stored (a done marker Postgres does not confirm is
                // stored anew, as one event alone would).
                (None, _) => route(event, &found, &newest, &mut taken, now),
            }
        })
        .collect())
}

/// Where one unsettled event goes (see [`Route`]).
fn route(
    event: &AppEvent,
    found: &[Member],
    newest: &Newest,
    taken: &mut HashSet<Uuid>,
    now: DateTime<Utc>,
) -> Route {
    match decide(event, found, newest, now) {
        Decided::EmailTaken => Route::Answer(Err(MemberEventError::EmailTaken)),
        Decided::Several => Route::Alone,
        // Two events of the batch finding one member by different
        // identities: the second goes alone, after the batch.
        Decided::Write(w) if !taken.insert(w.member.id) => Route::Alone,
        Decided::Write(w) => Route::Write(w),
    }
}
