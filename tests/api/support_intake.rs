//! `POST /api/support/intake` and the admin tickets API: one ticket per
//! conversation, with context, priority and an owner; abuse controls;
//! Idempotency-Key; the signed helpdesk webhook.
//!
//! Rate-limit windows live in Redis with real TTLs (not the test clock), so
//! "recovered" is shown by clearing the counter key, as a window's end does.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Body;
use base64::Engine;
use http::{Method, StatusCode};
use opsbridge::secret::Secret;
use opsbridge::signature::standard::{verify, StandardHeaders};
use opsbridge::support::input::Email;
use opsbridge::support::limits;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fixtures::{checkout_completed, subscription};
use crate::helpers::{spawn_app_with, TestApp, TestResponse};

const URL: &str = "/api/support/intake";
const ORIGIN: &str = "https://www.example.com";
const HELPDESK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const INBOUND_USER: &str = "postmark";
const INBOUND_PASSWORD: &str = "inbound-test-password";

/// The app with the test origin allowed and limits high enough not to
/// interfere; `edit` changes anything else.
async fn app_with(edit: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    spawn_app_with(|v| {
        v.insert("SUPPORT_ALLOWED_ORIGINS".into(), ORIGIN.into());
        v.insert("SUPPORT_RATE_LIMIT_PER_IP".into(), "1000".into());
        v.insert("SUPPORT_RATE_LIMIT_PER_EMAIL".into(), "1000".into());
        v.insert("SUPPORT_INBOUND_USER".into(), INBOUND_USER.into());
        v.insert("SUPPORT_INBOUND_PASSWORD".into(), INBOUND_PASSWORD.into());
        edit(v);
    })
    .await
}

async fn app() -> TestApp {
    app_with(|_| {}).await
}

async fn post(t: &TestApp, body: &Value, headers: &[(&str, &str)]) -> TestResponse {
    let mut h = vec![("content-type", "application/json")];
    h.extend_from_slice(headers);
    t.request(Method::POST, URL, &h, body.to_string()).await
}

async fn post_form(t: &TestApp, body: &'static str) -> TestResponse {
    let h = [("content-type", "application/x-www-form-urlencoded")];
    t.request(Method::POST, URL, &h, body).await
}

fn contact(email: &str, message: &str) -> Value {
    json!({ "email": email, "name": "Jane Doe", "subject": "Help", "message": message, "source": "portal" })
}

async fn ticket(t: &TestApp, id: &str) -> Value {
    let id = uuid::Uuid::parse_str(id).unwrap();
    t.db()
        .await
        .query_one("SELECT to_jsonb(t) FROM tickets t WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0)
}

async fn nothing_stored(t: &TestApp) {
    for table in [
        "tickets",
        "ticket_messages",
        "members",
        "jobs",
        "support_idempotency",
    ] {
        assert_eq!(t.count(table).await, 0, "{table} has rows");
    }
}

/// Waits (bounded) until `condition` holds in the database.
async fn wait_until(t: &TestApp, condition: &str) {
    for _ in 0..200 {
        if t.count_where("jobs", condition).await > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for jobs where {condition}");
}

#[tokio::test]
async fn a_valid_json_post_opens_a_ticket_for_a_new_lead() {
    let t = app().await;
    let res = post(
        &t,
        &contact("Jane@Example.com", "Where is my invoice?"),
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let body = res.json();
    assert_eq!(
        (body["priority"].as_str(), body["status"].as_str()),
        (Some("normal"), Some("open"))
    );
    let ticket = ticket(&t, body["ticket_id"].as_str().unwrap()).await;
    assert_eq!(
        (ticket["source"].as_str(), ticket["needs_human"].as_bool()),
        (Some("portal"), Some(false))
    );
    assert_eq!(ticket["member_snapshot"]["state"], "lead");
    assert_eq!(ticket["member_snapshot"]["open_tickets"], 1);
    let m = t
        .member_by_email("jane@example.com")
        .await
        .expect("member created");
    assert_eq!(
        (m["state"].as_str(), m["needs_support"].as_bool()),
        (Some("lead"), Some(true))
    );
    assert_eq!(ticket["member_id"], m["id"]);
    for kind in ["helpdesk_ticket", "crm_upsert", "app_webhook"] {
        assert_eq!(
            t.count_where("jobs", &format!("kind = '{kind}'")).await,
            1,
            "{kind}"
        );
    }
    assert_eq!(t.count_where("jobs", "kind = 'slack_alert'").await, 0);
    assert_eq!(t.count_where("timeline", "kind = 'support'").await, 1);
    assert!(res.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn a_form_post_opens_a_ticket_with_its_metadata() {
    let t = app().await;
    let res = post_form(
        &t,
        "email=sam%40example.org&message=Hi+there&metadata%5Bpage%5D=%2Fpricing&submit=Send",
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let ticket = ticket(&t, res.json()["ticket_id"].as_str().unwrap()).await;
    assert_eq!(ticket["message"], "Hi there");
    assert_eq!(ticket["source"], "form");
    assert_eq!(ticket["metadata"], json!({"page": "/pricing"}));
}

#[tokio::test]
async fn every_invalid_field_answers_422_with_its_code_and_stores_nothing() {
    let t = app().await;
    let long = |n: usize| "x".repeat(n);
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"message": "m"}), "email", "required"),
        (
            json!({"email": "jane@", "message": "m"}),
            "email",
            "invalid_email",
        ),
        (
            json!({"email": 42, "message": "m"}),
            "email",
            "invalid_type",
        ),
        (json!({"email": "a@b.co"}), "message", "required"),
        (
            json!({"email": "a@b.co", "message": "  "}),
            "message",
            "required",
        ),
        (
            json!({"email": "a@b.co", "message": long(10_001)}),
            "message",
            "too_long",
        ),
        (
            json!({"email": "a@b.co", "message": "m", "subject": long(201)}),
            "subject",
            "too_long",
        ),
        (
            json!({"email": "a@b.co", "message": "m", "name": long(201)}),
            "name",
            "too_long",
        ),
        (
            json!({"email": "a@b.co", "message": "m", "source": "fax"}),
            "source",
            "invalid_source",
        ),
        (
            json!({"email": "a@b.co", "message": "m", "metadata": "x"}),
            "metadata",
            "not_an_object",
        ),
        (
            json!({"email": "a@b.co", "message": "m", "metadata": {"n": 1}}),
            "metadata",
            "not_a_string",
        ),
    ];
    for (body, field, code) in cases {
        let res = post(&t, &body, &[]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let e = res.json();
        assert_eq!(e["error"]["code"], "invalid_fields");
        assert_eq!(e["error"]["details"]["fields"][field], code, "{body}");
    }
    nothing_stored(&t).await;
}

#[tokio::test]
async fn other_content_types_oversize_bodies_and_broken_json_are_refused() {
    let t = app().await;
    let body = contact("a@b.co", "m").to_string();
    for ct in [
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        let res = t
            .request(Method::POST, URL, &[("content-type", ct)], body.clone())
            .await;
        assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        assert_eq!(res.json()["error"]["code"], "unsupported_media_type");
    }
    let res = t.request(Method::POST, URL, &[], body.clone()).await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = json!({"email": "a@b.co", "message": "m", "pad": "x".repeat(40 * 1024)});
    let res = post(&t, &huge, &[]).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.json()["error"]["code"], "payload_too_large");
    let h = [("content-type", "application/json")];
    let res = t.request(Method::POST, URL, &h, "{not json").await;
    assert_eq!(
        (res.status, res.json()["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_json"))
    );
    nothing_stored(&t).await;
}

#[tokio::test]
async fn the_ip_limit_answers_429_with_retry_after_and_recovers_when_the_window_ends() {
    let t = app_with(|v| {
        v.insert("SUPPORT_RATE_LIMIT_PER_IP".into(), "2".into());
    })
    .await;
    let ip = [("x-forwarded-for", "203.0.113.9, 10.0.0.1")];
    for i in 0..2 {
        let res = post(&t, &contact(&format!("u{i}@example.com"), "m"), &ip).await;
        assert_eq!(res.status, StatusCode::ACCEPTED);
    }
    let res = post(&t, &contact("u3@example.com", "m"), &ip).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.json()["error"]["code"], "rate_limited");
    let retry: u64 = res.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    let other = [("x-forwarded-for", "198.51.100.4")];
    assert_eq!(
        post(&t, &contact("u4@example.com", "m"), &other)
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let key = limits::ip_key("203.0.113.9".parse().ok());
    let count = t.app.kv.get(&key).await.unwrap().unwrap();
    assert!(t.app.kv.del_if_eq(&key, &count).await.unwrap());
    assert_eq!(
        post(&t, &contact("u3@example.com", "m"), &ip).await.status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn the_email_limit_counts_one_sender_across_addresses_and_recovers() {
    let t = app_with(|v| {
        v.insert("SUPPORT_RATE_LIMIT_PER_EMAIL".into(), "2".into());
    })
    .await;
    for i in 0..2 {
        let ip = format!("198.51.100.{i}");
        let res = post(&t, &contact("jane@example.com", "m"), &[("x-real-ip", &ip)]).await;
        assert_eq!(res.status, StatusCode::ACCEPTED);
    }
    let res = post(
        &t,
        &contact("JANE@example.com", "m"),
        &[("x-real-ip", "198.51.100.9")],
    )
    .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers.contains_key("retry-after"));
    assert_eq!(t.count_where("tickets", "contact_count = 2").await, 1);
    let key = limits::email_key(&Email::parse("jane@example.com").unwrap());
    let count = t.app.kv.get(&key).await.unwrap().unwrap();
    t.app.kv.del_if_eq(&key, &count).await.unwrap();
    assert_eq!(
        post(&t, &contact("jane@example.com", "m"), &[])
            .await
            .status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn with_redis_down_the_limits_fail_open_and_the_contact_is_stored() {
    let t = app_with(|v| {
        v.insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
        v.insert("SUPPORT_RATE_LIMIT_PER_IP".into(), "1".into());
    })
    .await;
    for _ in 0..2 {
        let res = post(
            &t,
            &contact("jane@example.com", "m"),
            &[("idempotency-key", "k-1")],
        )
        .await;
        assert_eq!(res.status, StatusCode::ACCEPTED);
    }
    assert_eq!(t.count("tickets").await, 1);
    assert_eq!(t.count_where("tickets", "contact_count = 1").await, 1);
}

#[tokio::test]
async fn a_filled_honeypot_answers_an_ordinary_202_and_stores_nothing() {
    let t = app().await;
    let mut bot = contact("bot@example.com", "cheap pills");
    bot["website"] = json!("http://spam.example");
    let res = post(&t, &bot, &[]).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let body = res.json();
    assert!(uuid::Uuid::parse_str(body["ticket_id"].as_str().unwrap()).is_ok());
    assert_eq!(body["status"], "open");
    let res = post_form(&t, "email=bot%40example.com&message=x&website=spam").await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    nothing_stored(&t).await;
}

#[tokio::test]
async fn cors_answers_preflights_for_listed_origins_only_and_refuses_other_posts() {
    let t = app().await;
    let preflight = |origin: &'static str| {
        [
            ("origin", origin),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type,idempotency-key",
            ),
        ]
    };
    let res = t
        .request(Method::OPTIONS, URL, &preflight(ORIGIN), Body::empty())
        .await;
    assert!(res.status.is_success(), "{}", res.status);
    assert_eq!(res.headers["access-control-allow-origin"], ORIGIN);
    assert!(res.headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    let allowed = res.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("idempotency-key") && allowed.contains("content-type"));
    let res = t
        .request(
            Method::OPTIONS,
            URL,
            &preflight("https://evil.example"),
            Body::empty(),
        )
        .await;
    assert!(!res.headers.contains_key("access-control-allow-origin"));

    let res = post(&t, &contact("a@b.co", "m"), &[("origin", ORIGIN)]).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    assert_eq!(res.headers["access-control-allow-origin"], ORIGIN);
    let res = post(
        &t,
        &contact("c@d.co", "m"),
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.json()["error"]["code"], "origin_not_allowed");
    assert!(!res.headers.contains_key("access-control-allow-origin"));
    assert!(t.member_by_email("c@d.co").await.is_none());
    assert_eq!(
        post(&t, &contact("e@f.co", "m"), &[]).await.status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn the_same_idempotency_key_and_body_replay_the_first_response() {
    let t = app().await;
    let body = contact("jane@example.com", "first");
    let key = [(
        "idempotency-key",
        "\"8e03978e-40d5-43e8-bc93-6894a57f9324\"",
    )];
    let first = post(&t, &body, &key).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert!(!first.headers.contains_key("idempotent-replayed"));
    t.clock.advance(chrono::Duration::hours(2));
    let again = post(&t, &body, &key).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.json(), first.json());
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(
        (t.count("tickets").await, t.count("ticket_messages").await),
        (1, 0)
    );
    let other = post(&t, &contact("jane@example.com", "changed"), &key).await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.json()["error"]["code"], "idempotency_key_reused");
    let bad = post(&t, &body, &[("idempotency-key", "has space")]).await;
    assert_eq!(bad.json()["error"]["code"], "invalid_idempotency_key");
    t.clock.advance(chrono::Duration::hours(23));
    let expired = post(&t, &body, &key).await;
    assert!(!expired.headers.contains_key("idempotent-replayed"));
    assert_eq!(
        t.count("ticket_messages").await,
        0,
        "after 25 h the contact opens a new ticket"
    );
    assert_eq!(t.count("tickets").await, 2);
}

/// Holds the advisory lock `members::resolve` takes for `email`, so a post
/// from that address stays in flight until the returned transaction ends.
const LOCK_KEY: &str = "hashtextextended('email:' || lower($1), 0)";

async fn wait_for_lock_waiter(t: &TestApp, email: &str) {
    let sql = format!(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
           AND ((classid::bigint << 32) | objid::bigint) = {LOCK_KEY}"
    );
    for _ in 0..300 {
        let waiting: i64 = t
            .db()
            .await
            .query_one(&sql, &[&email])
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the first request never reached the lock");
}

#[tokio::test]
async fn a_key_still_in_flight_answers_409_and_another_body_422() {
    let t = app().await;
    let email = format!("inflight-{}@example.com", uuid::Uuid::new_v4().simple());
    let mut blocker = t.db().await;
    let tx = blocker.transaction().await.unwrap();
    tx.execute(
        &format!("SELECT pg_advisory_xact_lock({LOCK_KEY})"),
        &[&email],
    )
    .await
    .unwrap();
    let key = [("idempotency-key", "key-in-flight")];
    let first = {
        let router = t.router.clone();
        let body = contact(&email, "first").to_string();
        tokio::spawn(async move {
            let req = http::Request::post(URL)
                .header("content-type", "application/json")
                .header("idempotency-key", "key-in-flight")
                .body(Body::from(body))
                .unwrap();
            tower::ServiceExt::oneshot(router, req)
                .await
                .unwrap()
                .status()
        })
    };
    wait_for_lock_waiter(&t, &email).await;
    let res = post(&t, &contact(&email, "first"), &key).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.json()["error"]["code"], "idempotency_in_flight");
    assert!(res.headers.contains_key("retry-after"));
    let res = post(&t, &contact(&email, "other"), &key).await;
    assert_eq!(res.json()["error"]["code"], "idempotency_key_reused");
    tx.commit().await.unwrap();
    assert_eq!(first.await.unwrap(), StatusCode::ACCEPTED);
    let res = post(&t, &contact(&email, "first"), &key).await;
    assert_eq!(res.headers["idempotent-replayed"], "true");
    assert_eq!(t.count("tickets").await, 1);
}

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
async fn hostile_text_is_stored_verbatim_and_never_reflected_unescaped() {
    let t = app().await;
    let script = "<script>alert(document.cookie)</script><img src=x onerror=alert(1)>";
    let body = json!({"email": "x@example.com", "name": "<b>Mallory</b>", "message": script});
    let res = post(&t, &body, &[]).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    assert!(!res.body.contains(&b'<'));
    let id = res.json()["ticket_id"].as_str().unwrap().to_string();
    assert_eq!(ticket(&t, &id).await["message"], script);
    let bad = post(
        &t,
        &json!({"email": "<script>@x.co", "message": script}),
        &[],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!bad.body.contains(&b'<'));
    let auth = format!("Bearer {}", crate::helpers::ADMIN_TOKEN);
    let shown = t
        .request(
            Method::GET,
            &format!("/api/admin/tickets/{id}"),
            &[("authorization", &auth)],
            Body::empty(),
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(!shown.body.contains(&b'<') && !shown.body.contains(&b'>'));
    assert_eq!(
        shown.json()["ticket"]["message"],
        script,
        "escaped, not altered"
    );
    assert_eq!(shown.json()["ticket"]["name"], "<b>Mallory</b>");
}

#[tokio::test]
async fn very_long_unicode_is_accepted_to_the_character_limit() {
    let t = app().await;
    let ok = "語".repeat(10_000);
    let res = post(
        &t,
        &json!({"email": "u@example.com", "message": ok, "subject": "é".repeat(200)}),
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let stored = ticket(&t, res.json()["ticket_id"].as_str().unwrap()).await;
    assert_eq!(stored["message"].as_str().unwrap().chars().count(), 10_000);
    let res = post(
        &t,
        &json!({"email": "u@example.com", "message": "語".repeat(10_001)}),
        &[],
    )
    .await;
    assert_eq!(
        res.json()["error"]["details"]["fields"]["message"],
        "too_long"
    );
    let emoji = post(
        &t,
        &json!({"email": "u@example.com", "message": "😀".repeat(10_000)}),
        &[],
    )
    .await;
    assert_eq!(
        emoji.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "40 KB of UTF-8 is over the 32 KB body limit"
    );
}

#[tokio::test]
async fn null_bytes_and_crlf_in_the_subject_are_refused() {
    let t = app().await;
    let cases = [
        (
            json!({"email": "a@b.co", "message": "a\u{0}b"}),
            "message",
            "control_characters",
        ),
        (
            json!({"email": "a@b.co", "message": "m", "subject": "Hi\r\nBcc: all@example.com"}),
            "subject",
            "line_break",
        ),
        (
            json!({"email": "a@b.co", "message": "m", "subject": "Hi%0d%0aX: y\n"}),
            "subject",
            "line_break",
        ),
        (
            json!({"email": "a@b.co", "message": "m", "name": "\u{0}"}),
            "name",
            "control_characters",
        ),
    ];
    for (body, field, code) in cases {
        let res = post(&t, &body, &[]).await;
        assert_eq!(
            res.json()["error"]["details"]["fields"][field],
            code,
            "{body}"
        );
    }
    let res = post_form(
        &t,
        "email=a%40b.co&message=m&subject=Hi%0D%0ABcc%3A+x%40y.z",
    )
    .await;
    assert_eq!(
        res.json()["error"]["details"]["fields"]["subject"],
        "line_break"
    );
    let res = post_form(&t, "email=a%40b.co&message=a%00b").await;
    assert_eq!(
        res.json()["error"]["details"]["fields"]["message"],
        "control_characters"
    );
    nothing_stored(&t).await;
}

fn postmark_email() -> Value {
    json!({
        "From": "ann@example.net", "FromName": "Ann Lee",
        "FromFull": {"Email": "ann@example.net", "Name": "Ann Lee", "MailboxHash": ""},
        "To": "support@inbound.example.com", "Subject": "Locked out\r\n of my account",
        "MessageID": "22c74902-a0c1-4511-804f-341342852c90", "Date": "Thu, 5 Apr 2026 16:59:01 +0200",
        "TextBody": "Hi,\r\nI can't log in since the update.\u{0}\r\nAnn", "HtmlBody": "<p>Hi</p>",
        "StrippedTextReply": "", "Tag": "", "MailboxHash": "",
        "Headers": [{"Name": "Message-ID", "Value": "<CAF=abc@mail.example.net>"}],
        "Attachments": []
    })
}

fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[tokio::test]
async fn a_postmark_inbound_email_with_basic_auth_becomes_an_email_ticket_once() {
    let t = app().await;
    let url = format!("{URL}?provider=postmark");
    let auth = basic(INBOUND_USER, INBOUND_PASSWORD);
    let h = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let res = t
        .request(Method::POST, &url, &h, postmark_email().to_string())
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    assert_eq!(res.json()["priority"], "high");
    let ticket = ticket(&t, res.json()["ticket_id"].as_str().unwrap()).await;
    assert_eq!(
        (ticket["source"].as_str(), ticket["email"].as_str()),
        (Some("email"), Some("ann@example.net"))
    );
    assert_eq!(ticket["subject"], "Locked out  of my account");
    assert_eq!(
        ticket["message"],
        "Hi,\nI can't log in since the update.\nAnn"
    );
    assert_eq!(ticket["tags"], json!(["account_access"]));
    assert_eq!(
        ticket["metadata"]["email_message_id"],
        "<CAF=abc@mail.example.net>"
    );
    let again = t
        .request(Method::POST, &url, &h, postmark_email().to_string())
        .await;
    assert_eq!(
        again.headers["idempotent-replayed"], "true",
        "Postmark's retry is not a new contact"
    );
    assert_eq!(
        (t.count("tickets").await, t.count("ticket_messages").await),
        (1, 0)
    );
}

#[tokio::test]
async fn a_postmark_post_without_valid_credentials_is_401_and_stores_nothing() {
    let t = app().await;
    let url = format!("{URL}?provider=postmark");
    let body = postmark_email().to_string();
    let wrong = basic(INBOUND_USER, "guess");
    let cases: [(&[(&str, &str)], &str); 2] = [
        (
            &[("content-type", "application/json")],
            "missing_credentials",
        ),
        (
            &[
                ("content-type", "application/json"),
                ("authorization", &wrong),
            ],
            "invalid_credentials",
        ),
    ];
    for (h, code) in cases {
        let res = t.request(Method::POST, &url, h, body.clone()).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json()["error"]["code"], code);
        assert!(res.headers.contains_key("www-authenticate"));
    }
    let unconfigured = app_with(|v| {
        v.remove("SUPPORT_INBOUND_USER");
        v.remove("SUPPORT_INBOUND_PASSWORD");
    })
    .await;
    let auth = basic(INBOUND_USER, INBOUND_PASSWORD);
    let h = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let res = unconfigured
        .request(Method::POST, &url, &h, body.clone())
        .await;
    assert_eq!(res.json()["error"]["code"], "inbound_not_configured");
    let res = t
        .request(Method::POST, &format!("{URL}?provider=mailgun"), &h, body)
        .await;
    assert_eq!(res.json()["error"]["code"], "unknown_provider");
    nothing_stored(&t).await;
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
