//! Access out: the access endpoint, a checkout linked to the signed-up
//! user, a paused subscription, and member webhooks delivered in `sequence`
//! order.

use http::{Method, StatusCode};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::Value;

use super::{flush, get_access, post_event, signup, Fakes};
use crate::fixtures::{checkout_completed, invoice, subscription};
use crate::helpers::{spawn_app, ADMIN_TOKEN};

const CUS: &str = "cus_QxAppLink01";

#[tokio::test]
async fn the_access_endpoint_refuses_strangers_answers_now_and_is_never_cached() {
    let t = spawn_app().await;
    let created = post_event(&t, &signup("evt_a1", "usr_acc", "Acc@Example.com")).await;
    let no_token = t.get("/api/members/access?user_id=usr_acc").await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
    assert_eq!(no_token.json()["error"]["code"], "missing_token");
    let wrong = t
        .request(
            Method::GET,
            "/api/members/access?user_id=usr_acc",
            &[("authorization", &format!("Bearer {ADMIN_TOKEN}"))],
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(wrong.json()["error"]["code"], "invalid_token");
    let neither = get_access(&t, "").await;
    assert_eq!(neither.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        neither.json()["error"]["details"]["fields"]["user_id"],
        "missing"
    );
    let unknown = get_access(&t, "email=nobody%40example.com").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"]["code"], "member_not_found");
    assert!(!String::from_utf8_lossy(&unknown.body).contains("nobody"));
    let by_email = get_access(&t, "email=ACC%40example.COM").await;
    assert_eq!(by_email.status, StatusCode::OK);
    assert_eq!(by_email.headers["cache-control"], "no-store");
    let a = by_email.json();
    assert_eq!(a["member_id"], created.json()["member_id"]);
    assert_eq!(
        (
            a["user_id"].as_str(),
            a["state"].as_str(),
            a["access"].as_str(),
            a["reason"].as_str()
        ),
        (
            Some("usr_acc"),
            Some("lead"),
            Some("none"),
            Some("no_subscription")
        )
    );
    assert!(a["access_until"].is_null() && a["plan"].is_null());
    assert_eq!(a["updated_at"], "2026-11-23T10:00:00Z");
    // user_id wins over email.
    let both = get_access(&t, "user_id=usr_other&email=acc%40example.com").await;
    assert_eq!(both.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_checkout_for_a_signed_up_user_lands_on_the_same_member_with_full_access() {
    let fakes = Fakes::start().await;
    let t = fakes.spawn().await;
    let signed = post_event(
        &t,
        &signup("evt_link_1", "usr_link", "jane.doe@example.com"),
    )
    .await;
    flush(&t).await;
    let now = t.clock_now().timestamp();
    let ev = checkout_completed(
        "evt_1LinkCheckout",
        now - 5,
        CUS,
        "Jane.Doe@EXAMPLE.com",
        Some("usr_link"),
    );
    assert_eq!(t.post_stripe(&ev).await.status, StatusCode::OK);
    flush(&t).await;
    assert_eq!(t.count("members").await, 1);
    let access = get_access(&t, "user_id=usr_link").await.json();
    assert_eq!(access["member_id"], signed.json()["member_id"]);
    assert_eq!(
        (access["state"].as_str(), access["access"].as_str()),
        (Some("active"), Some("full"))
    );
    let hooks = fakes.hooks().await;
    let full: Vec<&Value> = hooks
        .iter()
        .map(|(_, b)| b)
        .filter(|b| b["data"]["access"] == "full")
        .collect();
    assert_eq!(full.len(), 1, "one webhook granting access: {hooks:?}");
    assert_eq!(full[0]["type"], "member.access_changed");
    assert_eq!(full[0]["data"]["user_id"], "usr_link");
    assert_eq!(full[0]["data"]["member_id"], signed.json()["member_id"]);
    let m = t.member_by_email("jane.doe@example.com").await.unwrap();
    assert_eq!(m["stripe_customer_id"], CUS);
}

#[tokio::test]
async fn a_paused_member_has_no_access_and_the_app_hears_it_both_ways() {
    let fakes = Fakes::start().await;
    let t = fakes.spawn().await;
    post_event(&t, &signup("evt_pause_0", "usr_pause", "pause@example.com")).await;
    let t0 = t.clock_now().timestamp() - 600;
    let sub = |id: &str, kind: &str, at: i64, status: &str| {
        subscription(id, kind, t0 + at, CUS, status, "pro")
    };
    let email = "pause@example.com";
    t.post_stripe(&checkout_completed(
        "evt_1PauseCo01",
        t0,
        CUS,
        email,
        Some("usr_pause"),
    ))
    .await;
    t.post_stripe(&sub(
        "evt_1PausePa01",
        "customer.subscription.paused",
        100,
        "paused",
    ))
    .await;
    flush(&t).await;
    let paused = get_access(&t, "user_id=usr_pause").await.json();
    assert_eq!(
        (
            paused["state"].as_str(),
            paused["access"].as_str(),
            paused["reason"].as_str()
        ),
        (Some("paused"), Some("none"), Some("paused"))
    );
    assert!(paused["access_until"].is_null());
    let last = fakes.hooks().await.last().unwrap().1.clone();
    assert_eq!(last["type"], "member.access_changed");
    assert_eq!(
        (
            last["data"]["state"].as_str(),
            last["data"]["access"].as_str()
        ),
        (Some("paused"), Some("none"))
    );
    t.post_stripe(&sub(
        "evt_1PauseRe01",
        "customer.subscription.resumed",
        200,
        "active",
    ))
    .await;
    flush(&t).await;
    let hooks = fakes.hooks().await;
    let states: Vec<(&str, &str)> = hooks
        .iter()
        .map(|(_, b)| {
            (
                b["data"]["state"].as_str().unwrap(),
                b["data"]["access"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("lead", "none"),
            ("active", "full"),
            ("paused", "none"),
            ("active", "full")
        ]
    );
    assert_eq!(
        get_access(&t, "user_id=usr_pause").await.json()["access"],
        "full"
    );
}

/// Checkout, a failed payment and its recovery, each delivered twice, in the
/// order `seed` shuffles them, with sweeps in between.
async fn shuffled_billing(seed: u64) {
    let fakes = Fakes::start().await;
    let t = fakes.spawn().await;
    post_event(&t, &signup("evt_shuf_0", "usr_shuf", "shuf@example.com")).await;
    let t0 = t.clock_now().timestamp() - 600;
    let email = "shuf@example.com";
    let mut events = vec![
        checkout_completed("evt_1ShufCheckout", t0, CUS, email, Some("usr_shuf")),
        invoice(
            "evt_1ShufFailed01",
            "invoice.payment_failed",
            t0 + 100,
            CUS,
            "in_shuf",
            email,
            false,
        ),
        invoice(
            "evt_1ShufPaid0001",
            "invoice.paid",
            t0 + 200,
            CUS,
            "in_shuf",
            email,
            true,
        ),
    ];
    events.extend(events.clone());
    events.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(t.post_stripe(ev).await.status, StatusCode::OK);
        if i % 2 == 1 {
            flush(&t).await;
        }
    }
    flush(&t).await;
    let hooks = fakes.hooks().await;
    let sequences: Vec<i64> = hooks
        .iter()
        .map(|(_, b)| b["data"]["sequence"].as_i64().unwrap())
        .collect();
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "seed {seed}: {sequences:?}"
    );
    let last = &hooks.last().unwrap().1["data"];
    let access = get_access(&t, "user_id=usr_shuf").await.json();
    assert_eq!(last["access"], access["access"], "seed {seed}");
    assert_eq!(last["state"], access["state"], "seed {seed}");
    assert_eq!(
        access["access"], "full",
        "seed {seed}: the newest event says paid"
    );
    assert_eq!(
        t.count_where("jobs", "kind = 'app_webhook' AND state <> 'succeeded'")
            .await,
        0
    );
}

#[tokio::test]
async fn shuffled_and_repeated_billing_events_deliver_increasing_sequences_ending_at_the_current_access(
) {
    for seed in [1, 7, 42, 2026] {
        shuffled_billing(seed).await;
    }
}
