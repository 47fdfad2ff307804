//! A ticket's first contact: one Zendesk ticket with our fields and a
//! private context note, whatever answers get lost, and even after Zendesk
//! forgot the idempotency key.

use super::*;
use crate::fixtures::{checkout_completed, subscription};

#[tokio::test]
async fn a_first_contact_creates_one_zendesk_ticket_with_our_fields_and_a_private_context_note() {
    let fake = Fake::start().await;
    let t = app(&fake).await;
    let now = t.clock_now().timestamp();
    let cus = "cus_QxZendesk01";
    t.post_stripe(&checkout_completed(
        "evt_1ZdCheckout",
        now - 60,
        cus,
        "pay@example.com",
        None,
    ))
    .await;
    let sub = subscription(
        "evt_1ZdSub",
        "customer.subscription.updated",
        now - 30,
        cus,
        "active",
        "pro",
    );
    t.post_stripe(&sub).await;
    let member = t.member_by_email("pay@example.com").await.unwrap();
    let member_id: Uuid = member["id"].as_str().unwrap().parse().unwrap();
    t.db()
        .await
        .execute(
            "INSERT INTO jobs (kind, dedupe_key, payload, member_id, state, max_attempts, reason)
             VALUES ('crm_upsert', 'dead-one', '{}', $1, 'dead', 8, 'auth_failed')",
            &[&member_id],
        )
        .await
        .unwrap();
    let ours = contact(
        &t,
        "pay@example.com",
        None,
        "I want a refund\nfor last month",
    )
    .await;
    t.drain().await;

    let tickets = fake.tickets();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let z = &tickets[0];
    assert_eq!(z.external_id.as_deref(), Some(ours.to_string().as_str()));
    assert_eq!(z.subject, "I want a refund", "the message's first line");
    assert_eq!(z.priority, "high");
    assert_eq!(z.tags, vec!["refund", "opsbridge"]);
    assert_eq!(Some(z.requester_id), fake.user_id("pay@example.com"));
    assert_eq!(z.comments.len(), 2, "{:?}", z.comments);
    assert_eq!(
        (z.comments[0].body.as_str(), z.comments[0].public),
        ("I want a refund\nfor last month", true)
    );
    let note = &z.comments[1];
    assert!(!note.public, "the context is a private note");
    for part in [
        format!("opsbridge context · ticket {ours}"),
        "state active · plan pro".to_string(),
        "Last payment event: checkout.session.completed (evt_1ZdCheckout)".to_string(),
        "Open dead jobs: 1 (crm_upsert)".to_string(),
        "priority high · needs a person".to_string(),
    ] {
        assert!(note.body.contains(&part), "{part:?} not in {}", note.body);
    }
    let posts: Vec<_> = fake
        .requests()
        .await
        .into_iter()
        .filter(|r| r.0 == "POST")
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].2.as_deref(),
        Some(create_key(ours).as_str()),
        "the Idempotency-Key"
    );

    assert_eq!(zendesk_id(&t, ours).await, Some(z.id));
    let auth = format!("Bearer {}", crate::helpers::ADMIN_TOKEN);
    let res = t
        .request(
            Method::GET,
            &format!("/api/admin/tickets/{ours}"),
            &[("authorization", auth.as_str())],
            "",
        )
        .await;
    assert_eq!(res.json()["ticket"]["zendesk_ticket_id"], z.id);
    let member = t.member_by_email("pay@example.com").await.unwrap();
    assert_eq!(member["support_user_id"], z.requester_id.to_string());
    assert_eq!(job(&t, &create_key(ours)).await["state"], "succeeded");
}

#[tokio::test]
async fn a_lost_answer_after_the_ticket_was_created_never_makes_a_second_ticket() {
    let fake = Fake::start().await;
    let t = app(&fake).await;
    fake.lose_next("POST");
    let ours = contact(&t, "jane@example.com", Some("Export"), "How do I export?").await;
    t.drain().await;
    assert_eq!(fake.tickets().len(), 1, "Zendesk created it");
    let j = job(&t, &create_key(ours)).await;
    assert_eq!(
        (j["state"].as_str(), j["reason"].as_str()),
        (Some("pending"), Some("upstream_5xx"))
    );
    assert_eq!(zendesk_id(&t, ours).await, None, "we never saw the answer");

    later(&t, 2).await;
    let tickets = fake.tickets();
    assert_eq!(
        tickets.len(),
        1,
        "the retry got the same ticket back: {tickets:?}"
    );
    let posts: Vec<_> = fake
        .requests()
        .await
        .into_iter()
        .filter(|r| r.0 == "POST")
        .collect();
    assert_eq!(posts.len(), 2);
    assert_eq!(
        posts[0].2, posts[1].2,
        "the same Idempotency-Key both times"
    );
    assert_eq!(zendesk_id(&t, ours).await, Some(tickets[0].id));
    assert_eq!(tickets[0].comments.len(), 2, "message and one note");
    assert_eq!(job(&t, &create_key(ours)).await["state"], "succeeded");
}

#[tokio::test]
async fn a_lost_answer_to_the_note_never_adds_a_second_note() {
    let fake = Fake::start().await;
    let t = app(&fake).await;
    fake.lose_next("PUT");
    let ours = contact(&t, "jane@example.com", None, "Hello").await;
    t.drain().await;
    assert_eq!(job(&t, &create_key(ours)).await["state"], "pending");
    later(&t, 2).await;
    let z = &fake.tickets()[0];
    assert_eq!(z.comments.len(), 2, "{:?}", z.comments);
    assert_eq!(
        count(&fake, "PUT", &format!("/api/v2/tickets/{}", z.id)).await,
        1
    );
    assert_eq!(
        count(&fake, "POST", "/api/v2/tickets").await,
        1,
        "the link was kept"
    );
    assert_eq!(job(&t, &create_key(ours)).await["state"], "succeeded");
}

#[tokio::test]
async fn a_retry_after_zendesk_forgot_the_key_finds_the_ticket_by_external_id() {
    let fake = Fake::start().await;
    let t = app(&fake).await;
    fake.lose_next("POST");
    let ours = contact(&t, "jane@example.com", None, "Hello").await;
    t.drain().await;
    assert_eq!(fake.tickets().len(), 1, "created, answer lost");
    // The next attempt comes after Zendesk's 2 hours: a POST under the same
    // key would now create a second ticket.
    fake.expire_keys();
    later(&t, 125).await;
    assert_eq!(
        count(&fake, "POST", "/api/v2/tickets").await,
        1,
        "looked up, not created"
    );
    assert_eq!(count(&fake, "GET", "/api/v2/tickets").await, 1);
    let tickets = fake.tickets();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(zendesk_id(&t, ours).await, Some(tickets[0].id));
    assert_eq!(tickets[0].comments.len(), 2, "message and one note");
    assert!(!tickets[0].comments[1].public);
    assert_eq!(job(&t, &create_key(ours)).await["state"], "succeeded");
}

#[tokio::test]
async fn a_retry_within_the_key_window_posts_again_instead_of_looking_up() {
    let fake = Fake::start().await;
    let t = app(&fake).await;
    fake.lose_next("POST");
    let ours = contact(&t, "jane@example.com", None, "Hello").await;
    t.drain().await;
    later(&t, 80).await;
    assert_eq!(count(&fake, "GET", "/api/v2/tickets").await, 0);
    assert_eq!(count(&fake, "POST", "/api/v2/tickets").await, 2);
    assert_eq!(fake.tickets().len(), 1);
    assert_eq!(job(&t, &create_key(ours)).await["state"], "succeeded");
}

#[tokio::test]
async fn another_body_under_the_same_key_is_refused_and_the_job_goes_dead_as_invalid_payload() {
    let fake = Fake::start().await;
    let t = app(&fake).await;
    fake.lose_next("POST");
    let ours = contact(&t, "jane@example.com", None, "Hello").await;
    t.drain().await;
    // Something rewrote the frozen body between attempts.
    t.db()
        .await
        .execute(
            "UPDATE jobs SET payload = jsonb_set(payload, '{create,ticket,subject}', '\"Changed\"') WHERE dedupe_key = $1",
            &[&create_key(ours)],
        )
        .await
        .unwrap();
    later(&t, 2).await;
    let j = job(&t, &create_key(ours)).await;
    assert_eq!(
        (j["state"].as_str(), j["reason"].as_str()),
        (Some("dead"), Some("invalid_payload"))
    );
    assert_eq!(j["upstream_status"], 400);
    assert_eq!(fake.tickets().len(), 1, "no second ticket");
}
