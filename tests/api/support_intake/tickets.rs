//! Tickets: one per conversation under concurrency, routing to a person,
//! the member snapshot, the signed helpdesk webhook, resolving.

use super::*;
#[allow(unused_imports)]
use opsbridge::db::Sql;

#[tokio::test]
async fn concurrent_first_contacts_from_one_email_make_one_member_and_one_ticket() {
    let t = app().await;
    let body = |i: usize| contact("New.Person@example.com", &format!("message {i}"));
    let (b0, b1, b2, b3, b4, b5, b6, b7, b8, b9) = (
        body(0),
        body(1),
        body(2),
        body(3),
        body(4),
        body(5),
        body(6),
        body(7),
        body(8),
        body(9),
    );
    let r = tokio::join!(
        post(&t, &b0, &[]),
        post(&t, &b1, &[]),
        post(&t, &b2, &[]),
        post(&t, &b3, &[]),
        post(&t, &b4, &[]),
        post(&t, &b5, &[]),
        post(&t, &b6, &[]),
        post(&t, &b7, &[]),
        post(&t, &b8, &[]),
        post(&t, &b9, &[]),
    );
    let all = [r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9];
    assert!(all.iter().all(|r| r.status == StatusCode::ACCEPTED));
    let bodies: Vec<Value> = all.iter().map(TestResponse::json).collect();
    assert!(bodies
        .iter()
        .all(|b| b["ticket_id"] == bodies[0]["ticket_id"]));
    let opened = bodies.iter().filter(|b| b["status"] == "open").count();
    assert_eq!(opened, 1, "one opens, nine merge: {bodies:?}");
    assert_eq!(
        t.count_where("members", "email_lower = 'new.person@example.com'")
            .await,
        1
    );
    assert_eq!(t.count("tickets").await, 1);
    assert_eq!(t.count_where("tickets", "contact_count = 10").await, 1);
    assert_eq!(t.count("ticket_messages").await, 9);
    assert_eq!(t.count_where("jobs", "kind = 'helpdesk_ticket'").await, 10);
    assert_eq!(
        t.count_where("jobs", "kind = 'crm_upsert'").await,
        1,
        "created once"
    );
}

#[tokio::test]
async fn refund_wording_needs_a_human_and_alerts_slack_once_with_a_masked_email() {
    let t = app().await;
    let res = post(
        &t,
        &contact("jane@example.com", "I want a refund for last month"),
        &[],
    )
    .await;
    assert_eq!(res.json()["priority"], "high");
    let again = post(
        &t,
        &contact("jane@example.com", "Refund please, still waiting"),
        &[],
    )
    .await;
    assert_eq!(again.json()["status"], "merged");
    let ticket = ticket(&t, res.json()["ticket_id"].as_str().unwrap()).await;
    assert_eq!(ticket["needs_human"], true);
    assert_eq!(ticket["tags"], json!(["refund"]));
    assert_eq!(t.count_where("jobs", "kind = 'slack_alert'").await, 1);
    let text: String = t
        .db()
        .await
        .query_one(
            "SELECT payload->>'text' FROM jobs WHERE kind = 'slack_alert'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        text.contains("j***@example.com") && !text.contains("jane@"),
        "{text}"
    );
}

#[tokio::test]
async fn a_paying_members_ticket_snapshot_has_plan_last_payment_and_last_failure() {
    let t = app().await;
    let now = t.clock_now().timestamp();
    let cus = "cus_QxSupport01";
    t.post_stripe(&checkout_completed(
        "evt_1SupCheckout",
        now - 60,
        cus,
        "pay@example.com",
        None,
    ))
    .await;
    let sub = subscription(
        "evt_1SupSub0001",
        "customer.subscription.updated",
        now - 30,
        cus,
        "active",
        "pro",
    );
    t.post_stripe(&sub).await;
    let m = t.member_by_email("pay@example.com").await.unwrap();
    let id = uuid::Uuid::parse_str(m["id"].as_str().unwrap()).unwrap();
    t.db()
        .await
        .execute(
            "INSERT INTO jobs (kind, dedupe_key, payload, member_id, state, max_attempts, reason)
         VALUES ('crm_upsert', 'dead-one', '{}', $1, 'dead', 8, 'auth_failed')",
            &[&id],
        )
        .await
        .unwrap();
    let res = post(&t, &contact("pay@example.com", "How do I add a seat?"), &[]).await;
    assert_eq!(res.json()["priority"], "high");
    let snap =
        ticket(&t, res.json()["ticket_id"].as_str().unwrap()).await["member_snapshot"].clone();
    assert_eq!(
        (snap["state"].as_str(), snap["plan"].as_str()),
        (Some("active"), Some("pro"))
    );
    assert_eq!(
        snap["last_payment_event"]["type"],
        "checkout.session.completed"
    );
    assert_eq!(snap["last_payment_event"]["event_id"], "evt_1SupCheckout");
    assert_eq!(snap["last_failed_step"]["kind"], "crm_upsert");
    assert_eq!(snap["last_failed_step"]["reason"], "auth_failed");
}

#[tokio::test]
async fn the_helpdesk_gets_one_correctly_signed_webhook_even_when_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/tickets"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/tickets"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let t = app_with(|v| {
        v.insert(
            "HELPDESK_WEBHOOK_URL".into(),
            format!("{}/tickets", server.uri()),
        );
        v.insert("HELPDESK_WEBHOOK_SECRET".into(), HELPDESK_SECRET.into());
    })
    .await;
    let res = post(&t, &contact("jane@example.com", "Help <b>me</b>"), &[]).await;
    let ticket_id = res.json()["ticket_id"].as_str().unwrap().to_string();
    wait_until(
        &t,
        "kind = 'helpdesk_ticket' AND attempts = 1 AND state = 'pending'",
    )
    .await;
    t.clock.advance(chrono::Duration::hours(1));
    t.drain().await;
    t.drain().await;
    assert_eq!(
        t.count_where("jobs", "kind = 'helpdesk_ticket' AND state = 'succeeded'")
            .await,
        1
    );
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 2, "one failed attempt, one delivery");
    let ids: Vec<&str> = received
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap())
        .collect();
    assert_eq!(ids[0], ids[1]);
    assert!(ids[0].starts_with(&format!("tkt_{}", ticket_id.replace('-', ""))));
    for r in &received {
        let h = StandardHeaders::from_map(&r.headers).unwrap();
        let now: i64 = h.timestamp.unwrap().parse().unwrap();
        verify(&[Secret::new(HELPDESK_SECRET)], &h, &r.body, 300, now).expect("valid signature");
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            (body["type"].as_str(), body["data"]["ticket_id"].as_str()),
            (Some("ticket.created"), Some(ticket_id.as_str()))
        );
        assert_eq!(body["data"]["message"], "Help <b>me</b>");
    }
}

#[tokio::test]
async fn resolving_the_last_open_ticket_clears_needs_support_and_the_next_contact_opens_a_new_one()
{
    let t = app().await;
    let auth = format!("Bearer {}", crate::helpers::ADMIN_TOKEN);
    let admin = [("authorization", auth.as_str())];
    let first = post(&t, &contact("jane@example.com", "one"), &[])
        .await
        .json();
    let id = first["ticket_id"].as_str().unwrap();
    let list = t
        .request(
            Method::GET,
            "/api/admin/tickets?status=open",
            &admin,
            Body::empty(),
        )
        .await;
    assert_eq!(list.json()["tickets"][0]["id"], id);
    assert!(list.json()["tickets"][0]["member_snapshot"]["state"].is_string());
    let bad = t
        .request(
            Method::GET,
            "/api/admin/tickets?status=bogus",
            &admin,
            Body::empty(),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing = t
        .request(
            Method::GET,
            "/api/admin/tickets/not-a-uuid",
            &admin,
            Body::empty(),
        )
        .await;
    assert_eq!(missing.json()["error"]["code"], "ticket_not_found");
    let noauth = t
        .request(
            Method::POST,
            &format!("/api/admin/tickets/{id}/resolve"),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(noauth.status, StatusCode::UNAUTHORIZED);
    let done = t
        .request(
            Method::POST,
            &format!("/api/admin/tickets/{id}/resolve"),
            &admin,
            Body::empty(),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.json()["ticket"]["status"], "resolved");
    assert_eq!(done.json()["ticket"]["messages"][0]["message"], "one");
    assert_eq!(
        t.member_by_email("jane@example.com").await.unwrap()["needs_support"],
        false
    );
    let twice = t
        .request(
            Method::POST,
            &format!("/api/admin/tickets/{id}/resolve"),
            &admin,
            Body::empty(),
        )
        .await;
    assert_eq!(twice.status, StatusCode::OK);
    let next = post(&t, &contact("jane@example.com", "two"), &[])
        .await
        .json();
    assert_ne!(next["ticket_id"], first["ticket_id"]);
    assert_eq!(next["status"], "open");
    assert_eq!(
        t.member_by_email("jane@example.com").await.unwrap()["needs_support"],
        true
    );
}

#[tokio::test]
async fn a_repeat_contact_merges_within_24_hours_of_the_last_contact_and_opens_a_new_ticket_after()
{
    let t = app().await;
    let send = |message: &'static str| {
        let t = &t;
        async move {
            post(t, &contact("jane@example.com", message), &[])
                .await
                .json()
        }
    };
    let first = send("one").await;
    t.clock.advance(chrono::Duration::hours(23));
    let second = send("two").await;
    // The window runs from the newest contact, not from the ticket's opening.
    t.clock.advance(chrono::Duration::hours(23));
    let third = send("three").await;
    for merged in [&second, &third] {
        assert_eq!(merged["status"], "merged");
        assert_eq!(merged["ticket_id"], first["ticket_id"]);
    }
    t.clock
        .advance(chrono::Duration::hours(24) + chrono::Duration::minutes(1));
    let fourth = send("four").await;
    assert_eq!(fourth["status"], "open");
    assert_ne!(fourth["ticket_id"], first["ticket_id"]);
    assert_eq!(t.count("ticket_messages").await, 2);

    // The admin listing without a status: newest contact first.
    let auth = format!("Bearer {}", crate::helpers::ADMIN_TOKEN);
    let list = t
        .request(
            Method::GET,
            "/api/admin/tickets",
            &[("authorization", auth.as_str())],
            Body::empty(),
        )
        .await
        .json();
    let ids: Vec<&Value> = list["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["id"])
        .collect();
    assert_eq!(ids, [&fourth["ticket_id"], &first["ticket_id"]]);
}
