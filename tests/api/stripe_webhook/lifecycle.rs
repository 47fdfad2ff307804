//! The subscription lifecycle beyond paid/failed/canceled: pause and resume
//! (with their ordering), and checkouts paid by a delayed method.

use http::{Method, StatusCode};
use opsbridge::db::Sql;
use serde_json::Value;

use crate::fixtures::*;
use crate::helpers::{spawn_app, TestApp, ADMIN_TOKEN};

/// The member as the admin console shows it (`GET /api/admin/members`).
pub async fn console_member(t: &TestApp, customer: &str) -> Value {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let res = t
        .request(
            Method::GET,
            &format!("/api/admin/members?stripe_customer_id={customer}"),
            &[("authorization", &auth)],
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    res.json()
}

async fn state(t: &TestApp, customer: &str) -> (String, String, String) {
    let m = &console_member(t, customer).await["member"];
    let s = |k: &str| m[k].as_str().unwrap_or_default().to_string();
    (s("state"), s("access"), s("access_reason"))
}

fn owned(s: (&str, &str, &str)) -> (String, String, String) {
    (s.0.into(), s.1.into(), s.2.into())
}

#[tokio::test]
async fn a_paused_subscription_loses_access_and_resuming_it_brings_access_back() {
    let t = spawn_app().await;
    let base = t.clock_now().timestamp() - 500;
    let cus = "cus_QxPause01";
    let sub = |id: &str, kind: &str, at: i64, status: &str| {
        subscription(id, kind, base + at, cus, status, "pro")
    };
    t.post_stripe(&checkout_completed(
        "evt_1Pause0001",
        base,
        cus,
        "pause@example.com",
        None,
    ))
    .await;
    let paused = sub(
        "evt_1Pause0002",
        "customer.subscription.paused",
        100,
        "paused",
    );
    assert_eq!(t.post_stripe(&paused).await.status, StatusCode::OK);
    assert_eq!(state(&t, cus).await, owned(("paused", "none", "paused")));
    let resumed = sub(
        "evt_1Pause0003",
        "customer.subscription.resumed",
        200,
        "active",
    );
    t.post_stripe(&resumed).await;
    assert_eq!(state(&t, cus).await, owned(("active", "full", "active")));
    // An update to status `paused` pauses too (it was `canceled` before).
    let updated = sub(
        "evt_1Pause0004",
        "customer.subscription.updated",
        300,
        "paused",
    );
    t.post_stripe(&updated).await;
    assert_eq!(state(&t, cus).await, owned(("paused", "none", "paused")));
    assert_eq!(
        t.count_where("jobs", "kind = 'app_webhook'").await,
        4,
        "one change per transition: active, paused, active, paused"
    );
}

#[tokio::test]
async fn a_stale_pause_never_overrides_a_newer_resume() {
    let t = spawn_app().await;
    let base = t.clock_now().timestamp() - 500;
    let cus = "cus_QxPause02";
    let resumed = subscription(
        "evt_1Stale0002",
        "customer.subscription.resumed",
        base + 200,
        cus,
        "active",
        "pro",
    );
    let paused = subscription(
        "evt_1Stale0001",
        "customer.subscription.paused",
        base + 100,
        cus,
        "paused",
        "pro",
    );
    t.post_stripe(&resumed).await;
    t.post_stripe(&paused).await;
    assert_eq!(state(&t, cus).await, owned(("active", "full", "active")));
    assert_eq!(
        t.count_where(
            "events",
            "outcome = 'stale' AND type = 'customer.subscription.paused'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn resuming_maps_the_subscription_status_as_an_update_does() {
    let t = spawn_app().await;
    let base = t.clock_now().timestamp() - 500;
    let cases = [
        ("trialing", ("trial", "full", "trial")),
        ("active", ("active", "full", "active")),
        ("past_due", ("past_due", "grace", "payment_failed_grace")),
    ];
    for (n, (status, expected)) in cases.into_iter().enumerate() {
        let cus = format!("cus_QxResume{n}");
        let ev = |k: &str, kind: &str, at: i64, status: &str| {
            subscription(
                &format!("evt_1Resume{n}{k}"),
                kind,
                base + at,
                &cus,
                status,
                "pro",
            )
        };
        t.post_stripe(&ev("a", "customer.subscription.paused", 10, "paused"))
            .await;
        assert_eq!(state(&t, &cus).await.0, "paused");
        t.post_stripe(&ev("b", "customer.subscription.resumed", 20, status))
            .await;
        assert_eq!(state(&t, &cus).await, owned(expected), "{status}");
    }
}

#[tokio::test]
async fn an_unpaid_checkout_links_a_lead_and_the_settled_payment_makes_it_active() {
    let t = spawn_app().await;
    // A SEPA debit settles days after the checkout.
    let base = t.clock_now().timestamp() - 4 * 86400;
    let cus = "cus_QxSepa01";
    let session = |id: &str, kind: &str, at: i64, status: &str| {
        checkout_session(
            id,
            kind,
            base + at,
            cus,
            "sepa@example.com",
            Some("usr_sepa"),
            status,
        )
    };
    let completed = session("evt_1Sepa00001", "checkout.session.completed", 0, "unpaid");
    assert_eq!(t.post_stripe(&completed).await.status, StatusCode::OK);
    let m = t.member_by_email("sepa@example.com").await.expect("member");
    assert_eq!(
        (m["state"].as_str(), m["access"].as_str()),
        (Some("lead"), Some("none"))
    );
    assert_eq!(
        (m["stripe_customer_id"].as_str(), m["app_user_id"].as_str()),
        (Some(cus), Some("usr_sepa")),
        "linked while the debit settles"
    );
    let settled = session(
        "evt_1Sepa00002",
        "checkout.session.async_payment_succeeded",
        3 * 86400,
        "paid",
    );
    t.post_stripe(&settled).await;
    assert_eq!(state(&t, cus).await, owned(("active", "full", "active")));
    assert_eq!(t.count("members").await, 1);
    assert_eq!(t.count_where("jobs", "kind = 'slack_alert'").await, 0);
}

#[tokio::test]
async fn a_failed_delayed_payment_alerts_once_and_changes_nothing() {
    let t = spawn_app().await;
    let base = t.clock_now().timestamp() - 500;
    let cus = "cus_QxSepa02";
    let session = |id: &str, kind: &str, at: i64| {
        checkout_session(
            id,
            kind,
            base + at,
            cus,
            "sepafail@example.com",
            None,
            "unpaid",
        )
    };
    t.post_stripe(&session("evt_1SepaF0001", "checkout.session.completed", 0))
        .await;
    let failed = session(
        "evt_1SepaF0002",
        "checkout.session.async_payment_failed",
        100,
    );
    let (a, b) = tokio::join!(t.post_stripe(&failed), t.post_stripe(&failed));
    assert!(a.status.is_success() || b.status.is_success());
    t.post_stripe(&failed).await;
    assert_eq!(
        state(&t, cus).await,
        owned(("lead", "none", "no_subscription"))
    );
    let alerts = t
        .db()
        .await
        .query(
            "SELECT dedupe_key, payload->>'text' FROM jobs WHERE kind = 'slack_alert'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1);
    let (key, text): (String, String) = (alerts[0].get(0), alerts[0].get(1));
    assert_eq!(key, "slack:checkout_failed:cs_test_QxSepa02");
    assert!(text.contains("delayed payment") && !text.contains("sepafail@"));
}

#[tokio::test]
async fn pauses_and_resumes_in_any_order_end_in_the_newest_state() {
    use rand::{seq::SliceRandom, SeedableRng};
    let t = spawn_app().await;
    let base = t.clock_now().timestamp() - 1000;
    // Each life: checkout, then pause/resume turns; the newest event wins.
    let lives = [
        (4, ("active", "full", "active")),
        (3, ("paused", "none", "paused")),
    ];
    for (n, (turns, expected)) in lives.into_iter().enumerate() {
        let cus = format!("cus_QxTurns{n}");
        let mut events = vec![checkout_completed(
            &format!("evt_1Turns{n}0"),
            base,
            &cus,
            &format!("turns{n}@example.com"),
            None,
        )];
        for k in 1..=turns {
            let (kind, status) = match k % 2 {
                1 if k == 3 => ("customer.subscription.updated", "paused"),
                1 => ("customer.subscription.paused", "paused"),
                _ => ("customer.subscription.resumed", "active"),
            };
            let id = format!("evt_1Turns{n}{k}");
            events.push(subscription(&id, kind, base + 100 * k, &cus, status, "pro"));
        }
        events.extend(events.clone());
        events.shuffle(&mut rand::rngs::StdRng::seed_from_u64(n as u64 + 7));
        for ev in &events {
            assert_eq!(t.post_stripe(ev).await.status, StatusCode::OK);
        }
        assert_eq!(state(&t, &cus).await, owned(expected), "life {n}");
    }
}
