//! Money paths towards the app: one dunning email per invoice, grace then
//! none, a failing receiver retried in order, and the admin metrics.

use chrono::Duration;
use http::{Method, StatusCode};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use super::{flush, get_access, post_event, signup, Fakes, RESEND_KEY};
use crate::fixtures::{checkout_completed, invoice};
use crate::helpers::ADMIN_TOKEN;

const CUS: &str = "cus_QxDunning01";

#[tokio::test]
async fn a_failed_payment_sends_one_email_gives_grace_then_none_after_the_window() {
    let fakes = Fakes::start().await;
    let t = fakes.spawn().await;
    post_event(&t, &signup("evt_d0", "usr_dun", "dun@example.com")).await;
    let now = t.clock_now().timestamp();
    let checkout = checkout_completed(
        "evt_1DunCheckout",
        now - 600,
        CUS,
        "dun@example.com",
        Some("usr_dun"),
    );
    t.post_stripe(&checkout).await;
    let failed = invoice(
        "evt_1DunFailed001",
        "invoice.payment_failed",
        now - 5,
        CUS,
        "in_dun1",
        "dun@example.com",
        false,
    );
    let (a, b) = tokio::join!(t.post_stripe(&failed), t.post_stripe(&failed));
    for s in [a.status, b.status] {
        assert!(s == StatusCode::OK || s == StatusCode::CONFLICT, "{s}");
    }
    assert_eq!(t.post_stripe(&failed).await.status, StatusCode::OK);
    // Stripe's next attempt on the same invoice is a new event: still one email.
    let retry = invoice(
        "evt_1DunFailed002",
        "invoice.payment_failed",
        now - 2,
        CUS,
        "in_dun1",
        "dun@example.com",
        false,
    );
    assert_eq!(t.post_stripe(&retry).await.status, StatusCode::OK);
    flush(&t).await;
    let emails = fakes.emails().await;
    assert_eq!(emails.len(), 1, "exactly one follow-up email");
    let mail = &emails[0];
    assert_eq!(mail.headers["idempotency-key"], "dunning/in_dun1");
    assert_eq!(
        mail.headers["authorization"],
        format!("Bearer {RESEND_KEY}").as_str()
    );
    let body: serde_json::Value = mail.body_json().unwrap();
    assert_eq!(body["to"], json!(["dun@example.com"]));
    let link = "https://invoice.stripe.com/i/acct_1Qx/test_in_dun1";
    assert!(
        body["text"].as_str().unwrap().contains(link)
            && body["html"].as_str().unwrap().contains(link)
    );
    let grace = get_access(&t, "user_id=usr_dun").await.json();
    assert_eq!(
        (grace["state"].as_str(), grace["access"].as_str()),
        (Some("past_due"), Some("grace"))
    );
    let until = chrono::DateTime::from_timestamp(now - 5 + 3 * 86400, 0).unwrap();
    assert_eq!(
        grace["access_until"],
        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    assert_eq!(
        fakes.hooks().await.last().unwrap().1["data"]["access"],
        "grace"
    );
    // The grace window runs out with no new Stripe event: the sweep notices.
    t.clock.advance(Duration::days(3));
    flush(&t).await;
    let none = get_access(&t, "user_id=usr_dun").await.json();
    assert_eq!(
        (none["access"].as_str(), none["reason"].as_str()),
        (Some("none"), Some("payment_failed_grace_ended"))
    );
    let hooks = fakes.hooks().await;
    let last = &hooks.last().unwrap().1;
    assert_eq!(last["type"], "member.access_changed");
    assert_eq!(
        (
            last["data"]["access"].as_str(),
            last["data"]["user_id"].as_str()
        ),
        (Some("none"), Some("usr_dun"))
    );
    flush(&t).await;
    assert_eq!(
        fakes.hooks().await.len(),
        hooks.len(),
        "grace expiry is announced once"
    );
}

#[tokio::test]
async fn a_failing_receiver_gets_the_change_again_and_later_changes_wait_their_turn() {
    let fakes = Fakes::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fakes.app)
        .await;
    let t = fakes.spawn().await;
    post_event(&t, &signup("evt_r1", "usr_retry", "retry@example.com")).await;
    flush(&t).await;
    let update = json!({"id": "evt_r2", "type": "user.updated", "user_id": "usr_retry",
                        "email": "retry@example.com", "name": "Renamed"});
    assert_eq!(post_event(&t, &update).await.status, StatusCode::ACCEPTED);
    flush(&t).await;
    assert_eq!(
        fakes.hooks().await.len(),
        1,
        "the later change waits behind the failed one"
    );
    t.clock.advance(Duration::hours(2));
    flush(&t).await;
    let hooks = fakes.hooks().await;
    let seqs: Vec<i64> = hooks
        .iter()
        .map(|(_, b)| b["data"]["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 1, 2], "retried once, then the next change");
    assert_eq!(
        hooks[0].0, hooks[1].0,
        "webhook-id is stable across retries"
    );
    assert_ne!(hooks[1].0, hooks[2].0);
    assert_eq!(hooks[2].1["type"], "member.updated");
    assert_eq!(
        t.count_where("jobs", "kind = 'app_webhook' AND state = 'succeeded'")
            .await,
        2
    );
}

#[tokio::test]
async fn metrics_report_payment_to_access_delay_recovery_and_checkouts() {
    let fakes = Fakes::start().await;
    let t = fakes.spawn().await;
    let now = t.clock_now().timestamp();
    t.post_stripe(&checkout_completed(
        "evt_1MetCheckout1",
        now - 5,
        CUS,
        "met@example.com",
        None,
    ))
    .await;
    flush(&t).await;
    t.clock.advance(Duration::minutes(10));
    let now = t.clock_now().timestamp();
    t.post_stripe(&invoice(
        "evt_1MetFailed0001",
        "invoice.payment_failed",
        now - 1,
        CUS,
        "in_met1",
        "met@example.com",
        false,
    ))
    .await;
    t.post_stripe(&invoice(
        "evt_1MetPaid00001",
        "invoice.paid",
        now,
        CUS,
        "in_met1",
        "met@example.com",
        true,
    ))
    .await;
    flush(&t).await;
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let res = t
        .request(
            Method::GET,
            "/api/admin/metrics",
            &[("authorization", &auth)],
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&res.body)
    );
    let m = res.json();
    assert_eq!(m["payment_to_access"]["samples"], 3);
    assert_eq!(m["payment_to_access"]["p50_ms"], 1000);
    assert_eq!(m["payment_to_access"]["p95_ms"], 4600);
    let rec = &m["failed_payment_recovery"];
    assert_eq!(
        (rec["failed"].as_i64(), rec["recovered_within_24h"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(rec["rate"], 1.0);
    assert_eq!(m["paid_checkouts"], json!({"paid": 1, "reached_active": 1}));
    assert!(m.get("ticket_to_first_draft_ms").is_none());
    let stranger = t.get("/api/admin/metrics").await;
    assert_eq!(stranger.status, StatusCode::UNAUTHORIZED);
}
