//! Later contacts merged into a ticket: comments on its Zendesk ticket by
//! the requester, never a second ticket; they wait for the creation; a
//! ticket deleted in Zendesk is replaced under a fresh key.

use super::*;

fn comment_key(ticket: Uuid, n: i32) -> String {
    format!("zendesk_ticket:{ticket}:{n}")
}

#[tokio::test]
async fn a_merged_contact_becomes_a_comment_by_the_requester_never_a_second_ticket() {
    let fake = Fake::start().await;
    let t = app(&fake).await;
    let ours = contact(&t, "jane@example.com", Some("Export"), "How do I export?").await;
    t.drain().await;
    let again = contact(&t, "jane@example.com", None, "Any news?\nStill stuck").await;
    assert_eq!(again, ours, "merged");
    t.drain().await;

    let tickets = fake.tickets();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let z = &tickets[0];
    let last = z.comments.last().unwrap();
    assert_eq!(z.comments.len(), 3, "message, note, comment");
    assert_eq!(last.body, "Any news?\nStill stuck");
    assert!(last.public);
    assert_eq!(last.author_id, z.requester_id, "written as the customer");
    let reqs = fake.server.received_requests().await.unwrap();
    let put = reqs
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
        .find(|b| b["ticket"]["comment"]["public"] == true)
        .expect("the comment PUT");
    assert_eq!(
        put,
        json!({ "ticket": { "comment": { "body": "Any news?\nStill stuck", "public": true, "author_id": z.requester_id } } })
    );
    assert_eq!(job(&t, &comment_key(ours, 2)).await["state"], "succeeded");
}

#[tokio::test]
async fn a_comment_waits_until_the_tickets_creation_succeeded() {
    let fake = Fake::start().await;
    let t = app(&fake).await;
    fake.fail_next(503, None);
    let ours = contact(&t, "jane@example.com", None, "First").await;
    contact(&t, "jane@example.com", None, "Second").await;
    t.drain().await;
    assert!(fake.tickets().is_empty(), "the creation failed");
    assert!(
        fake.requests().await.iter().all(|r| r.0 != "PUT"),
        "no comment yet"
    );
    let waiting = job(&t, &comment_key(ours, 2)).await;
    assert_eq!(waiting["state"], "pending");
    assert_eq!(waiting["attempts"], 0, "waiting spends no attempt");

    later(&t, 2).await;
    later(&t, 2).await;
    let tickets = fake.tickets();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let bodies: Vec<&str> = tickets[0]
        .comments
        .iter()
        .map(|c| c.body.as_str())
        .collect();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert_eq!(
        (bodies[0], bodies[2]),
        ("First", "Second"),
        "the comment after the creation"
    );
    assert_eq!(job(&t, &comment_key(ours, 2)).await["state"], "succeeded");
}

#[tokio::test]
async fn a_comment_waits_while_the_creation_is_dead_and_creates_the_ticket_once_it_is_discarded() {
    let fake = Fake::start().await;
    let t = app(&fake).await;
    fake.fail_next(422, None);
    let ours = contact(&t, "jane@example.com", None, "First").await;
    contact(&t, "jane@example.com", None, "Second").await;
    t.drain().await;
    assert_eq!(job(&t, &create_key(ours)).await["state"], "dead");
    later(&t, 30).await;
    assert!(fake.tickets().is_empty(), "the comment waits for a person");
    t.db()
        .await
        .execute(
            "UPDATE jobs SET state = 'discarded' WHERE dedupe_key = $1",
            &[&create_key(ours)],
        )
        .await
        .unwrap();
    later(&t, 11).await;
    let tickets = fake.tickets();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0].comments[0].body, "Second");
    assert_eq!(zendesk_id(&t, ours).await, Some(tickets[0].id));
}

#[tokio::test]
async fn a_ticket_deleted_in_zendesk_gets_a_new_one_under_a_fresh_key() {
    let fake = Fake::start().await;
    let t = app(&fake).await;
    let ours = contact(&t, "jane@example.com", None, "First").await;
    t.drain().await;
    let gone = zendesk_id(&t, ours).await.unwrap();
    fake.delete(gone);
    contact(&t, "jane@example.com", None, "Second").await;
    t.drain().await;

    let tickets = fake.tickets();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let new = &tickets[0];
    assert_ne!(new.id, gone);
    assert_eq!(new.comments[0].body, "Second");
    assert!(!new.comments[1].public, "with the context note");
    assert_eq!(zendesk_id(&t, ours).await, Some(new.id));
    let keys: Vec<String> = fake
        .requests()
        .await
        .into_iter()
        .filter(|r| r.0 == "POST")
        .filter_map(|r| r.2)
        .collect();
    let fresh = format!("{}:after:{gone}", comment_key(ours, 2));
    assert_eq!(keys, vec![create_key(ours), fresh]);
    assert_eq!(job(&t, &comment_key(ours, 2)).await["state"], "succeeded");
}

#[tokio::test]
async fn a_lost_answer_to_a_comment_never_adds_it_twice() {
    let fake = Fake::start().await;
    let t = app(&fake).await;
    let ours = contact(&t, "jane@example.com", None, "First").await;
    t.drain().await;
    fake.lose_next("PUT");
    contact(&t, "jane@example.com", None, "Second").await;
    t.drain().await;
    assert_eq!(
        job(&t, &comment_key(ours, 2)).await["reason"],
        "upstream_5xx"
    );
    later(&t, 2).await;
    let z = &fake.tickets()[0];
    let seconds = z.comments.iter().filter(|c| c.body == "Second").count();
    assert_eq!(seconds, 1, "{:?}", z.comments);
    assert_eq!(job(&t, &comment_key(ours, 2)).await["state"], "succeeded");
}
