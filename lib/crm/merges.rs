//! The merging half of one contact per person (see [`super::sync`]):
//! contacts owed a merge because two members were merged here, and an
//! address that another HubSpot contact already holds.

use std::collections::HashMap;

use uuid::Uuid;

use super::api;
use super::hubspot::update_input;
use super::sync::{contact, record, Item};
use crate::config::HubSpot;
use crate::jobs::{JobError, Reason};
use crate::members::synced;
use crate::state::App;

/// Step 1: HubSpot merges owed to members of the batch. A member whose merge
/// fails keeps its error and leaves the batch.
pub(super) async fn merge_owed(
    app: &App,
    hub: &HubSpot,
    items: Vec<Item>,
    results: &mut [Result<(), JobError>],
) -> Vec<Item> {
    let survivors: Vec<Uuid> = items
        .iter()
        .filter(|i| i.member.crm_contact_id.is_some())
        .map(|i| i.member.id)
        .collect();
    if survivors.is_empty() {
        return items;
    }
    let owed = match app.db.get().await {
        Ok(conn) => synced::pending_crm_merges(&conn, &survivors).await,
        Err(e) => Err(e.into()),
    };
    let owed = match owed {
        Ok(o) => o,
        Err(e) => {
            for i in &items {
                results[i.index] = Err(JobError::store(&e));
            }
            return Vec::new();
        }
    };
    let mut kept = Vec::new();
    for mut item in items {
        for merge in owed.iter().filter(|m| m.survivor == item.member.id) {
            let primary = item.member.crm_contact_id.clone().unwrap_or_default();
            let merged = match api::merge(app, hub, &primary, &merge.contact_id).await {
                Ok(id) => synced::crm_contacts_merged(&app.db, merge, &id, app.clock.now())
                    .await
                    .map(|()| id)
                    .map_err(|e| JobError::store(&e)),
                Err(e) => Err(e),
            };
            match merged {
                Ok(id) => item.member.crm_contact_id = Some(id),
                Err(e) => results[item.index] = Err(e),
            }
        }
        if results[item.index].is_ok() {
            kept.push(item);
        }
    }
    kept
}

/// Step 4: the member's new address belongs to contact `existing`. Merged
/// into the member's own contact unless it is another member's; then the
/// update is tried once more.
pub(super) async fn resolve_conflict(
    app: &App,
    hub: &HubSpot,
    item: Item,
    existing: Option<String>,
    results: &mut [Result<(), JobError>],
) -> Vec<(Item, bool)> {
    let Some(other) = existing else {
        results[item.index] = Err(JobError::permanent(
            Reason::InvalidPayload,
            "the new email belongs to another HubSpot contact",
        ));
        return Vec::new();
    };
    let mine = item.member.id.to_string();
    let outcome = match api::member_of(app, hub, &other).await {
        Ok(Some(owner)) if owner != mine => Err(JobError::permanent(
            Reason::InvalidPayload,
            "the new email belongs to another member's HubSpot contact: a person decides",
        )),
        Ok(_) => api::merge(app, hub, contact(&item), &other).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(merged) => {
            let mut item = item;
            item.member.crm_contact_id = Some(merged.clone());
            let inputs = [update_input(&merged, &item.member, &item.email)];
            match api::update(app, hub, &inputs).await {
                Ok(api::Updated {
                    conflict: None,
                    not_found,
                    ..
                }) if not_found.is_empty() => {
                    let ids = HashMap::from([(item.email.clone(), merged)]);
                    record(app, std::slice::from_ref(&item), &ids, true, results).await;
                }
                Ok(_) => {
                    results[item.index] = Err(JobError::Retryable {
                        reason: Reason::Upstream4xx,
                        status: Some(409),
                        retry_after: None,
                        message: "HubSpot still reports a conflict after the merge".into(),
                    })
                }
                Err(e) => results[item.index] = Err(e),
            }
            Vec::new()
        }
        Err(e) => {
            results[item.index] = Err(e);
            Vec::new()
        }
    }
}
