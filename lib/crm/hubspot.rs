//! What a member looks like in HubSpot (properties, lifecycle stage), and
//! the `crm_upsert` job kind's delivery. Each job writes the member as it
//! is NOW in Postgres (the payload only names the member), so retries and
//! reorderings converge; [`super::sync`] decides which request each member
//! needs (update by id, or upsert by email) and [`super::api`] sends them.

use serde_json::{json, Value};

use crate::jobs::{Job, JobError};
use crate::members::{Member, MemberState};
use crate::state::App;

/// HubSpot lifecycle stage for a member state. Stages only move forward in
/// HubSpot, so a paused or canceled customer stays `customer` (the
/// `opsbridge_state` property says which).
pub fn lifecycle_stage(state: MemberState) -> &'static str {
    match state {
        MemberState::Lead => "lead",
        MemberState::Trial => "opportunity",
        MemberState::Active
        | MemberState::PastDue
        | MemberState::Paused
        | MemberState::Canceled => "customer",
    }
}

fn split_name(name: Option<&str>) -> (String, String) {
    let name = name.unwrap_or("").trim();
    match name.split_once(' ') {
        Some((first, last)) => (first.to_string(), last.trim().to_string()),
        None => (name.to_string(), String::new()),
    }
}

/// The properties HubSpot holds for one member.
pub fn properties(m: &Member, email: &str) -> Value {
    let (first, last) = split_name(m.name.as_deref());
    let mut props = json!({
        "email": email,
        "lifecyclestage": lifecycle_stage(m.state),
        "opsbridge_member_id": m.id.to_string(),
        "opsbridge_state": m.state.as_str(),
        "opsbridge_plan": m.plan.clone().unwrap_or_default(),
    });
    if !first.is_empty() {
        props["firstname"] = json!(first);
    }
    if !last.is_empty() {
        props["lastname"] = json!(last);
    }
    props
}

/// The batch upsert input for one member (by email: HubSpot has no contact
/// for it yet, as far as we know).
pub fn input(m: &Member, email: &str) -> Value {
    json!({ "idProperty": "email", "id": email, "properties": properties(m, email) })
}

/// The batch update input for one member with a contact id: an email change
/// moves that same contact to the new address.
pub fn update_input(contact_id: &str, m: &Member, email: &str) -> Value {
    json!({ "id": contact_id, "properties": properties(m, email) })
}

/// The `crm_upsert` job kind's way out (registered in `jobs::registry`):
/// a claimed batch goes to HubSpot in one request per kind of write.
pub struct CrmUpsert;

impl crate::jobs::delivery::Delivery for CrmUpsert {
    fn deliver<'a>(
        &'a self,
        app: &'a App,
        job: &'a Job,
    ) -> futures::future::BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            super::sync::upsert_batch(app, std::slice::from_ref(job))
                .await
                .pop()
                .unwrap_or(Ok(()))
        })
    }

    fn deliver_batch<'a>(
        &'a self,
        app: &'a App,
        jobs: &'a [Job],
    ) -> futures::future::BoxFuture<'a, Vec<Result<(), JobError>>> {
        Box::pin(super::sync::upsert_batch(app, jobs))
    }
}
