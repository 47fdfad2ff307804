//! `POST /api/webhooks/stripe`: verified, deduplicated, durable, in order.
//!
//! - [`group_commit`]: concurrent deliveries in one transaction, with the
//!   rules of one event alone.
//! - [`lifecycle`]: pause and resume, checkouts paid by a delayed method.
//! - [`money`]: the bank's confirmation request, the final failed attempt,
//!   a dispute's outcome, a deleted customer.

mod group_commit;
mod lifecycle;
mod money;

use axum::body::Body;
use http::{Method, StatusCode};
use opsbridge::db::Sql;
use serde_json::Value;

use crate::fixtures::*;
use crate::helpers::{sign_stripe, spawn_app, spawn_app_with, TestApp};

const CUS: &str = "cus_QxTestJane01";

async fn no_rows_anywhere(t: &TestApp) {
    for table in ["events", "members", "jobs", "timeline"] {
        assert_eq!(t.count(table).await, 0, "{table} has rows");
    }
}

#[tokio::test]
async fn a_signed_checkout_is_stored_and_the_member_becomes_active() {
    let t = spawn_app().await;
    let now = t.clock_now().timestamp();
    let res = t
        .post_stripe(&checkout_completed(
            "evt_1Checkout01",
            now - 5,
            CUS,
            "Jane@Example.com",
            None,
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.json(),
        serde_json::json!({"received": true, "duplicate": false})
    );
    let m = t.member_by_email("jane@example.com").await.expect("member");
    assert_eq!(m["state"], "active");
    assert_eq!(m["access"], "full");
    assert_eq!(m["stripe_customer_id"], CUS);
    assert_eq!(t.count_where("jobs", "kind = 'crm_upsert'").await, 1);
    assert_eq!(t.count_where("jobs", "kind = 'app_webhook'").await, 1);
    assert_eq!(
        t.count_where("events", "outcome = 'applied' AND api_version IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn a_repeated_delivery_is_a_duplicate_and_changes_nothing() {
    let t = spawn_app().await;
    let now = t.clock_now().timestamp();
    let ev = checkout_completed("evt_1Checkout02", now - 5, CUS, "jane@example.com", None);
    assert_eq!(t.post_stripe(&ev).await.json()["duplicate"], false);
    let res = t.post_stripe(&ev).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["duplicate"], true);
    assert_eq!(t.count("events").await, 1);
    assert_eq!(t.count("jobs").await, 2);
}

#[tokio::test]
async fn forged_stale_missing_oversize_and_malformed_deliveries_are_refused_with_no_rows() {
    let t = spawn_app().await;
    let now = t.clock_now().timestamp();
    let body = serde_json::to_vec(&checkout_completed(
        "evt_1Forged0001",
        now,
        CUS,
        "jane@example.com",
        None,
    ))
    .unwrap();
    let cases: Vec<(Vec<u8>, Option<String>, StatusCode, &str)> = vec![
        (
            body.clone(),
            None,
            StatusCode::UNAUTHORIZED,
            "missing_signature",
        ),
        (
            body.clone(),
            Some(format!("t={now},v1={}", "0".repeat(64))),
            StatusCode::UNAUTHORIZED,
            "signature_mismatch",
        ),
        (
            body.clone(),
            Some(format!("t={now},v1=")),
            StatusCode::UNAUTHORIZED,
            "signature_mismatch",
        ),
        (
            body.clone(),
            Some(format!("t={now},v0=abc")),
            StatusCode::UNAUTHORIZED,
            "no_v1_signature",
        ),
        (
            body.clone(),
            Some("garbage".into()),
            StatusCode::UNAUTHORIZED,
            "malformed_signature",
        ),
        (
            body.clone(),
            Some(sign_stripe(&body, now - 301)),
            StatusCode::UNAUTHORIZED,
            "timestamp_out_of_tolerance",
        ),
        (
            body.clone(),
            Some(sign_stripe(&body, now + 3600)),
            StatusCode::UNAUTHORIZED,
            "timestamp_out_of_tolerance",
        ),
        (
            b"{not json".to_vec(),
            Some(sign_stripe(b"{not json", now)),
            StatusCode::BAD_REQUEST,
            "invalid_event",
        ),
        (
            br#"{"id":"x"}"#.to_vec(),
            Some(sign_stripe(br#"{"id":"x"}"#, now)),
            StatusCode::BAD_REQUEST,
            "invalid_event",
        ),
    ];
    for (body, sig, status, code) in cases {
        let res = t.post_stripe_raw(body, sig.as_deref()).await;
        assert_eq!(res.status, status, "{code}");
        assert_eq!(res.json()["error"]["code"], code);
        assert!(
            !String::from_utf8_lossy(&res.body).contains("whsec_"),
            "secret leaked"
        );
    }
    let mut tampered = body.clone();
    let sig = sign_stripe(&body, now);
    tampered[10] ^= 1;
    assert_eq!(
        t.post_stripe_raw(tampered, Some(&sig)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let huge = vec![b' '; 1024 * 1024 + 1];
    let res = t
        .post_stripe_raw(huge.clone(), Some(&sign_stripe(&huge, now)))
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.json()["error"]["code"], "payload_too_large");
    no_rows_anywhere(&t).await;
}

#[tokio::test]
async fn a_get_is_405_with_allow_post() {
    let t = spawn_app().await;
    let res = t
        .request(Method::GET, "/api/webhooks/stripe", &[], Body::empty())
        .await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers["allow"], "POST");
}

#[tokio::test]
async fn an_unknown_event_type_is_stored_and_acknowledged() {
    let t = spawn_app().await;
    let now = t.clock_now().timestamp();
    let ev = event(
        "evt_1Unknown001",
        "product.created",
        now,
        serde_json::json!({"id": "prod_1", "object": "product"}),
    );
    assert_eq!(t.post_stripe(&ev).await.status, StatusCode::OK);
    assert_eq!(t.count_where("events", "outcome = 'unhandled'").await, 1);
    assert_eq!(t.count("members").await, 0);
}

#[tokio::test]
async fn an_event_in_flight_gets_409_so_stripe_retries_later() {
    let t = spawn_app().await;
    let now = t.clock_now().timestamp();
    let ev = checkout_completed("evt_1InFlight01", now, CUS, "jane@example.com", None);
    t.app
        .kv
        .set("stripe:evt_1InFlight01", "inflight:other", 10_000)
        .await
        .unwrap();
    let res = t.post_stripe(&ev).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.json()["error"]["code"], "in_flight");
    assert_eq!(t.count("events").await, 0);
}

#[tokio::test]
async fn invalid_amounts_or_statuses_are_stored_but_never_applied() {
    let t = spawn_app().await;
    let now = t.clock_now().timestamp();
    let mut ev = invoice(
        "evt_1BadAmount1",
        "invoice.payment_failed",
        now,
        CUS,
        "in_bad1",
        "jane@example.com",
        false,
    );
    ev["data"]["object"]["amount_due"] = serde_json::json!(-5);
    assert_eq!(t.post_stripe(&ev).await.status, StatusCode::OK);
    let mut ev2 = subscription(
        "evt_1BadStatus1",
        "customer.subscription.updated",
        now,
        CUS,
        "vip_forever",
        "pro",
    );
    ev2["data"]["object"]["currency"] = Value::from("usd");
    assert_eq!(t.post_stripe(&ev2).await.status, StatusCode::OK);
    assert_eq!(t.count_where("events", "outcome = 'invalid'").await, 2);
    assert_eq!(t.count("members").await, 0);
    assert_eq!(t.count("jobs").await, 0);
}

#[tokio::test]
async fn metadata_never_grants_access() {
    let t = spawn_app().await;
    let now = t.clock_now().timestamp();
    let mut ev = checkout_completed("evt_1Metadata01", now, CUS, "jane@example.com", None);
    ev["data"]["object"]["payment_status"] = Value::from("unpaid");
    ev["data"]["object"]["metadata"] =
        serde_json::json!({"state": "active", "access": "full", "admin": "true"});
    t.post_stripe(&ev).await;
    let m = t.member_by_email("jane@example.com").await.unwrap();
    assert_eq!(m["state"], "lead");
    assert_eq!(m["access"], "none");
}

#[tokio::test]
async fn postgres_unreachable_answers_503_and_the_retry_succeeds() {
    let good = spawn_app().await;
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let p = prefix.clone();
    let bad = spawn_app_with(move |v| {
        v.insert(
            "DATABASE_URL".into(),
            "postgres://u@127.0.0.1:1/db?sslmode=disable".into(),
        );
        v.insert("MIGRATE_ON_START".into(), "false".into());
        v.insert("REDIS_KEY_PREFIX".into(), p);
    })
    .await;
    let p2 = prefix.clone();
    let schema = good.place.clone();
    let good = spawn_app_with(move |v| {
        v.insert("DATABASE_URL".into(), crate::helpers::schema_url(&schema));
        v.insert("REDIS_KEY_PREFIX".into(), p2);
    })
    .await;
    let now = good.clock_now().timestamp();
    let ev = checkout_completed("evt_1PgDown0001", now, CUS, "jane@example.com", None);
    let res = bad.post_stripe(&ev).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers.contains_key("retry-after"));
    let res = good.post_stripe(&ev).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.json()["duplicate"],
        false,
        "the failed write's claim was released"
    );
    assert_eq!(good.count("events").await, 1);
}

/// The body is stored as it came (the bytes the signature covered): a
/// number beyond what a float holds keeps its exact digits.
#[tokio::test]
async fn the_payload_is_stored_as_it_came_with_exact_numbers() {
    let t = spawn_app().await;
    let now = t.clock_now().timestamp();
    let event = checkout_completed("evt_exact", now - 5, "cus_Exact", "exact@example.com", None);
    let body = serde_json::to_string(&event).unwrap();
    let big = "123456789012345678901234567890.000000000000000000001";
    let body = format!(r#"{{"x_big":{big},{}"#, &body[1..]);
    let sig = sign_stripe(body.as_bytes(), now);
    let res = t.post_stripe_raw(body.into_bytes(), Some(&sig)).await;
    assert_eq!(res.status, StatusCode::OK);
    let stored: String = t
        .db()
        .await
        .query_one("SELECT (payload->'x_big')::text FROM events", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, big);
}

/// `\u0000` is valid JSON that `jsonb` refuses: such an event (a NUL in
/// free text a customer typed into Stripe) is stored with U+FFFD in its
/// place, not refused on every retry.
#[tokio::test]
async fn a_nul_escape_in_the_body_is_stored_as_a_replacement_character() {
    let t = spawn_app().await;
    let now = t.clock_now().timestamp();
    let event = checkout_completed("evt_nul", now - 5, "cus_Nul", "nul@example.com", None);
    let body = serde_json::to_string(&event).unwrap();
    let body = format!(r#"{{"x_note":"a\u0000b",{}"#, &body[1..]);
    let sig = sign_stripe(body.as_bytes(), now);
    let res = t.post_stripe_raw(body.into_bytes(), Some(&sig)).await;
    assert_eq!(res.status, StatusCode::OK);
    let stored: String = t
        .db()
        .await
        .query_one(
            "SELECT payload->>'x_note' FROM events WHERE event_id = 'evt_nul'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, "a\u{FFFD}b");
    assert!(t.member_by_email("nul@example.com").await.is_some());
}
