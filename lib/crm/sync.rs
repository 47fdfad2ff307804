//! One CRM contact per person: which HubSpot request each member of a
//! claimed `crm_upsert` batch needs (DESIGN.md, "The CRM keeps one contact
//! per person").
//!
//! 1. Contacts still owed a merge (two members merged here, each with its
//!    own contact) are merged in HubSpot first, primary = the survivor's.
//! 2. A member with a contact id is updated BY ID, in one batch update: an
//!    email change moves that contact to the new address instead of
//!    creating a second one.
//! 3. A contact HubSpot no longer has (207, `OBJECT_NOT_FOUND`) falls back
//!    to upsert by email, and the new id replaces the stale one.
//! 4. An address another contact holds (409): that contact is merged into
//!    the member's, unless it carries another member's `opsbridge_member_id`
//!    (then the job goes dead, `invalid_payload`, for a person to decide).
//! 5. Members with no contact id are upserted by email, in one batch.
//!
//! One batch request per kind of write; a 400 on a batch of several is
//! retried one member at a time, so one bad contact never blocks the others.

use std::collections::HashMap;

use uuid::Uuid;

use super::hubspot::{input, update_input};
use super::{api, merges};
use crate::config::HubSpot;
use crate::jobs::{Job, JobError, Reason};
use crate::members::synced::{self, mark_crm_synced, Synced};
use crate::members::Member;
use crate::state::App;

/// One member of the batch: its job's index, the member, its email.
#[derive(Clone)]
pub(super) struct Item {
    pub(super) index: usize,
    pub(super) member: Member,
    pub(super) email: String,
}

/// Runs a batch of `crm_upsert` jobs; one result per job, in order.
pub async fn upsert_batch(app: &App, jobs: &[Job]) -> Vec<Result<(), JobError>> {
    let Some(hub) = app.config.hubspot.clone() else {
        let off = JobError::permanent(Reason::NotConfigured, "hubspot is not configured");
        return jobs.iter().map(|_| Err(off.clone())).collect();
    };
    let ids: Vec<Uuid> = jobs.iter().filter_map(|j| j.member_id).collect();
    let members = match load(app, &ids).await {
        Ok(m) => m,
        Err(e) => return jobs.iter().map(|_| Err(JobError::store(&e))).collect(),
    };
    let mut results: Vec<Result<(), JobError>> = Vec::with_capacity(jobs.len());
    let mut items = Vec::new();
    for (index, job) in jobs.iter().enumerate() {
        let member = job.member_id.and_then(|id| members.get(&id));
        let email = member
            .and_then(|m| m.email.clone())
            .filter(|e| e.contains('@'));
        match (member, email) {
            (None, _) => results.push(Err(JobError::permanent(
                Reason::MissingData,
                "member not found",
            ))),
            (Some(_), None) => results.push(Err(JobError::permanent(
                Reason::MissingData,
                "member has no email",
            ))),
            (Some(m), Some(email)) => {
                results.push(Ok(()));
                let email = email.to_lowercase();
                items.push(Item {
                    index,
                    member: m.clone(),
                    email,
                });
            }
        }
    }
    let items = merges::merge_owed(app, &hub, items, &mut results).await;
    let (by_id, by_email): (Vec<Item>, Vec<Item>) = items
        .into_iter()
        .partition(|i| i.member.crm_contact_id.is_some());
    let mut upserts: Vec<(Item, bool)> = by_email.into_iter().map(|i| (i, false)).collect();
    upserts.extend(update_by_id(app, &hub, by_id, &mut results).await);
    upsert_by_email(app, &hub, upserts, &mut results).await;
    results
}

async fn load(app: &App, ids: &[Uuid]) -> anyhow::Result<HashMap<Uuid, Member>> {
    synced::load_many(&app.db.get().await?, ids).await
}

/// Steps 2 to 4: members with a contact id, updated by id. Returns the ones
/// whose contact HubSpot no longer has, for an upsert by email that
/// replaces the stale id.
async fn update_by_id(
    app: &App,
    hub: &HubSpot,
    items: Vec<Item>,
    results: &mut [Result<(), JobError>],
) -> Vec<(Item, bool)> {
    if items.is_empty() {
        return Vec::new();
    }
    let inputs: Vec<_> = items
        .iter()
        .map(|i| update_input(contact(i), &i.member, &i.email))
        .collect();
    let answer = api::update(app, hub, &inputs).await;
    let several = items.len() > 1;
    match answer {
        // Which member collided is not said for a batch: one at a time.
        Ok(api::Updated {
            conflict: Some(_), ..
        }) if several => alone(app, hub, items, results).await,
        Err(JobError::Permanent {
            reason: Reason::InvalidPayload,
            ..
        }) if several => alone(app, hub, items, results).await,
        Ok(api::Updated {
            conflict: Some(existing),
            ..
        }) => {
            let item = items.into_iter().next().expect("one item");
            merges::resolve_conflict(app, hub, item, existing, results).await
        }
        Ok(updated) => {
            let (gone, done): (Vec<Item>, Vec<Item>) = items
                .into_iter()
                .partition(|i| updated.not_found.contains(contact(i)));
            record(app, &done, &HashMap::new(), false, results).await;
            gone.into_iter().map(|i| (i, true)).collect()
        }
        Err(e) => {
            for i in &items {
                results[i.index] = Err(e.clone());
            }
            Vec::new()
        }
    }
}

/// Each member of a batch that failed as a whole, updated on its own.
async fn alone(
    app: &App,
    hub: &HubSpot,
    items: Vec<Item>,
    results: &mut [Result<(), JobError>],
) -> Vec<(Item, bool)> {
    let mut gone = Vec::new();
    for item in items {
        gone.extend(Box::pin(update_by_id(app, hub, vec![item], results)).await);
    }
    gone
}

/// Step 5: upsert by email (`replace`: the member's recorded contact is gone).
async fn upsert_by_email(
    app: &App,
    hub: &HubSpot,
    items: Vec<(Item, bool)>,
    results: &mut [Result<(), JobError>],
) {
    if items.is_empty() {
        return;
    }
    let mut seen = std::collections::HashSet::new();
    let inputs: Vec<_> = items
        .iter()
        .filter(|(i, _)| seen.insert(i.email.clone()))
        .map(|(i, _)| input(&i.member, &i.email))
        .collect();
    match api::upsert(app, hub, &inputs).await {
        Ok(contacts) => {
            for replace in [false, true] {
                let part: Vec<Item> = items
                    .iter()
                    .filter(|(_, r)| *r == replace)
                    .map(|(i, _)| i.clone())
                    .collect();
                record(app, &part, &contacts, replace, results).await;
            }
        }
        Err(JobError::Permanent {
            reason: Reason::InvalidPayload,
            ..
        }) if items.len() > 1 => {
            for one in items {
                Box::pin(upsert_by_email(app, hub, vec![one], results)).await;
            }
        }
        Err(e) => {
            for (i, _) in &items {
                results[i.index] = Err(e.clone());
            }
        }
    }
}

/// Marks members synced up to the sequence sent and records contact ids.
/// A failure here fails the jobs (`store`): the write reached HubSpot, and
/// the retry converges (an update by id, or an upsert by the same email).
pub(super) async fn record(
    app: &App,
    items: &[Item],
    contacts: &HashMap<String, String>,
    replace: bool,
    results: &mut [Result<(), JobError>],
) {
    if items.is_empty() {
        return;
    }
    let synced: Vec<Synced> = items
        .iter()
        .map(|i| Synced {
            id: i.member.id,
            sequence: i.member.sequence,
            contact_id: contacts.get(&i.email).cloned(),
            replace,
        })
        .collect();
    let written = match app.db.get().await {
        Ok(conn) => mark_crm_synced(&conn, &synced, app.clock.now()).await,
        Err(e) => Err(e.into()),
    };
    if let Err(e) = written {
        for i in items {
            results[i.index] = Err(JobError::store(&e));
        }
    }
}

pub(super) fn contact(item: &Item) -> &str {
    item.member.crm_contact_id.as_deref().unwrap_or_default()
}
