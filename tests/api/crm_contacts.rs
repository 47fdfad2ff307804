//! One CRM contact per person (DESIGN.md): an email change moves the same
//! HubSpot contact, a contact deleted in HubSpot is re-created once, an
//! address another contact holds is merged in unless it is another member's,
//! two merged members end as one contact; under retries and concurrent
//! sweeps too. Against a fake HubSpot that remembers its contacts.

#[allow(unused_imports)]
use opsbridge::db::Sql;
use serde_json::{json, Value};

use crate::app_members::post_event;
use crate::fake_hubspot::{Crm, MERGE_PATH, UPDATE_PATH, UPSERT_PATH};
use crate::fixtures::checkout_completed;
use crate::helpers::{spawn_app_with, TestApp};

async fn app_with_crm() -> (TestApp, wiremock::MockServer, Crm) {
    let (server, crm) = Crm::start().await;
    let uri = server.uri();
    let t = spawn_app_with(move |v| {
        v.insert("HUBSPOT_ACCESS_TOKEN".into(), "pat-FAKE-test".into());
        v.insert("HUBSPOT_BASE_URL".into(), uri);
        v.insert("TEST_BACKGROUND".into(), "off".into());
    })
    .await;
    (t, server, crm)
}

fn user_event(id: &str, kind: &str, user: &str, email: &str) -> Value {
    json!({"id": id, "type": kind, "user_id": user, "email": email, "name": "Jane Doe"})
}

async fn requests_to(server: &wiremock::MockServer, p: &str) -> usize {
    let all = server.received_requests().await.unwrap_or_default();
    all.iter().filter(|r| r.url.path() == p).count()
}

async fn contact_of(t: &TestApp, email: &str) -> Option<String> {
    t.member_by_email(email).await?["crm_contact_id"]
        .as_str()
        .map(str::to_string)
}

async fn no_dead_jobs(t: &TestApp) {
    assert_eq!(
        t.count_where("jobs", "state = 'dead'").await,
        0,
        "a job went dead"
    );
}

#[tokio::test]
async fn an_email_change_moves_the_same_contact_to_the_new_address() {
    let (t, server, crm) = app_with_crm().await;
    post_event(
        &t,
        &user_event("evt_c1", "user.signed_up", "usr_c1", "old@example.com"),
    )
    .await;
    t.drain().await;
    let first = contact_of(&t, "old@example.com")
        .await
        .expect("contact recorded");
    post_event(
        &t,
        &user_event("evt_c2", "user.updated", "usr_c1", "new@example.com"),
    )
    .await;
    t.drain().await;
    no_dead_jobs(&t).await;
    let contacts = crm.contacts();
    assert_eq!(contacts.len(), 1, "one contact per person: {contacts:?}");
    assert_eq!(contacts[0].0, first);
    assert_eq!(contacts[0].1["email"], "new@example.com");
    assert_eq!(
        contact_of(&t, "new@example.com").await.as_deref(),
        Some(first.as_str())
    );
    assert_eq!(requests_to(&server, UPSERT_PATH).await, 1);
    assert_eq!(requests_to(&server, UPDATE_PATH).await, 1);
}

#[tokio::test]
async fn a_contact_deleted_in_hubspot_is_created_again_once_without_a_dead_job() {
    let (t, server, crm) = app_with_crm().await;
    post_event(
        &t,
        &user_event("evt_d1", "user.signed_up", "usr_d1", "del@example.com"),
    )
    .await;
    t.drain().await;
    let stale = contact_of(&t, "del@example.com").await.unwrap();
    crm.delete(&stale);
    post_event(
        &t,
        &user_event("evt_d2", "user.updated", "usr_d1", "del2@example.com"),
    )
    .await;
    t.drain().await;
    no_dead_jobs(&t).await;
    let contacts = crm.contacts();
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    assert_ne!(contacts[0].0, stale, "a new contact");
    assert_eq!(
        contact_of(&t, "del2@example.com").await,
        Some(contacts[0].0.clone()),
        "the stale id is replaced"
    );
    assert_eq!(
        requests_to(&server, UPSERT_PATH).await,
        2,
        "created once more, not twice"
    );
}

#[tokio::test]
async fn an_address_held_by_a_free_contact_is_merged_into_the_members_own() {
    let (t, server, crm) = app_with_crm().await;
    post_event(
        &t,
        &user_event("evt_f1", "user.signed_up", "usr_f1", "mine@example.com"),
    )
    .await;
    t.drain().await;
    let mine = contact_of(&t, "mine@example.com").await.unwrap();
    // A person created a contact for the new address in HubSpot by hand.
    crm.add(json!({"email": "free@example.com", "firstname": "Typed"}));
    post_event(
        &t,
        &user_event("evt_f2", "user.updated", "usr_f1", "free@example.com"),
    )
    .await;
    t.drain().await;
    no_dead_jobs(&t).await;
    let contacts = crm.contacts();
    assert_eq!(contacts.len(), 1, "merged: {contacts:?}");
    assert_eq!(contacts[0].0, mine, "the member's own contact survives");
    assert_eq!(contacts[0].1["email"], "free@example.com");
    assert_eq!(requests_to(&server, MERGE_PATH).await, 1);
}

#[tokio::test]
async fn an_address_held_by_another_members_contact_goes_to_a_person() {
    let (t, _server, crm) = app_with_crm().await;
    post_event(
        &t,
        &user_event("evt_o1", "user.signed_up", "usr_o1", "one@example.com"),
    )
    .await;
    t.drain().await;
    crm.add(json!({"email": "two@example.com", "opsbridge_member_id": uuid::Uuid::new_v4().to_string()}));
    post_event(
        &t,
        &user_event("evt_o2", "user.updated", "usr_o1", "two@example.com"),
    )
    .await;
    t.drain().await;
    assert_eq!(crm.contacts().len(), 2, "nothing merged");
    let dead = t
        .db()
        .await
        .query_one("SELECT count(*) FROM jobs WHERE kind = 'crm_upsert' AND state = 'dead' AND reason = 'invalid_payload'", &[])
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(dead, 1, "dead letter for a person to decide");
}

#[tokio::test]
async fn two_members_merged_become_one_contact_even_with_sweeps_at_once() {
    let (t, server, crm) = app_with_crm().await;
    let now = t.clock_now().timestamp();
    // Two people as far as we know: an app user, and a Stripe customer with another email.
    post_event(
        &t,
        &user_event("evt_m1", "user.signed_up", "usr_m1", "app@example.com"),
    )
    .await;
    t.post_stripe(&checkout_completed(
        "evt_1MergeA001",
        now,
        "cus_MRG1",
        "pay@example.com",
        None,
    ))
    .await;
    t.drain().await;
    assert_eq!(crm.contacts().len(), 2);
    // A checkout naming the app user and that customer: one person.
    let link = checkout_completed(
        "evt_1MergeB001",
        now + 10,
        "cus_MRG1",
        "pay@example.com",
        Some("usr_m1"),
    );
    t.post_stripe(&link).await;
    assert_eq!(t.count_where("members", "merged_into IS NULL").await, 1);
    let (a, b) = tokio::join!(t.drain(), t.drain());
    assert_eq!(a.dead + b.dead, 0);
    t.drain().await;
    no_dead_jobs(&t).await;
    let contacts = crm.contacts();
    assert_eq!(
        contacts.len(),
        1,
        "one contact for the merged member: {contacts:?}"
    );
    // Two sweeps may both ask HubSpot; the second finds nothing left to merge.
    assert!(requests_to(&server, MERGE_PATH).await >= 1, "merged");
    let live: Value = t
        .db()
        .await
        .query_one(
            "SELECT to_jsonb(m) FROM members m WHERE merged_into IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        live["crm_contact_id"].as_str(),
        Some(contacts[0].0.as_str())
    );
    let lines = t.count_where("timeline", "kind = 'crm_merge'").await;
    assert_eq!(lines, 1, "the merge is on the timeline");
}
