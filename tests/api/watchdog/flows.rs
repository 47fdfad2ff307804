//! The rules that resolve when they stop holding (a late paid change, an
//! outbox backlog), the healthy path, and the Slack kill switch.

use chrono::Duration;
use http::StatusCode;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{
    app, forged, incident_rows, one, paid_checkout, runs, slack_fake, slack_texts, switch, watch,
};
use crate::fake_hubspot;
use crate::fixtures::{checkout_completed, checkout_session};
use crate::helpers::TestApp;

const APP_WEBHOOK_SECRET: &str = "whsec_FAKEappHOOKkey00";

async fn app_receiver() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

async fn with_app_webhook(slack: &MockServer, receiver: &MockServer) -> TestApp {
    let uri = receiver.uri();
    app(slack, move |v| {
        v.insert("APP_WEBHOOK_URL".into(), uri);
        v.insert("APP_WEBHOOK_SECRET".into(), APP_WEBHOOK_SECRET.into());
    })
    .await
}

/// A delayed payment (SEPA debit) that settles: paid, only later.
async fn delayed_checkout_that_settles(t: &TestApp) {
    let now = t.clock_now().timestamp();
    for (id, kind, at, status) in [
        (
            "evt_WDsepa0001",
            "checkout.session.completed",
            now - 60,
            "unpaid",
        ),
        (
            "evt_WDsepa0002",
            "checkout.session.async_payment_succeeded",
            now - 5,
            "paid",
        ),
    ] {
        let ev = checkout_session(
            id,
            kind,
            at,
            "cus_WDsepa0001",
            "sepa@example.com",
            None,
            status,
        );
        assert_eq!(t.post_stripe(&ev).await.status, StatusCode::OK);
    }
}

/// A checkout that starts a trial: access changes, nothing was paid.
async fn trial_checkout(t: &TestApp) {
    let mut ev = checkout_completed(
        "evt_WDtrial001",
        t.clock_now().timestamp() - 5,
        "cus_WDtrial001",
        "trial@example.com",
        None,
    );
    ev["data"]["object"]["payment_status"] = "no_payment_required".into();
    assert_eq!(t.post_stripe(&ev).await.status, StatusCode::OK);
}

#[tokio::test]
async fn paid_changes_not_delivered_in_time_open_once_and_resolve_once_when_delivered() {
    let slack = slack_fake().await;
    let receiver = app_receiver().await;
    let t = with_app_webhook(&slack, &receiver).await;
    switch(&t, "app_webhook", false).await;
    paid_checkout(&t, 1).await;
    delayed_checkout_that_settles(&t).await;
    trial_checkout(&t).await;
    t.drain().await;
    t.clock.advance(Duration::minutes(9));
    assert_eq!(runs(&t).await.opened, vec![], "not late yet");
    t.clock.advance(Duration::minutes(2));
    let r = runs(&t).await;
    assert_eq!(r.opened, one("provisioning_delayed"));
    assert_eq!(r.last["rules"]["provisioning_delayed"], "evaluated");
    t.drain().await;
    let texts = slack_texts(&slack).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("2 paid change(s) not delivered to the app after 10 min"),
        "{texts:?}"
    );
    assert!(texts[0].contains("(held, paused)"), "{texts:?}");
    assert!(!texts[0].contains("@"), "no email in alert text: {texts:?}");

    switch(&t, "app_webhook", true).await;
    t.drain().await;
    // Paid, delayed (created, then settled) and trial changes: all delivered.
    assert_eq!(receiver.received_requests().await.unwrap().len(), 4);
    let r = runs(&t).await;
    assert_eq!(r.resolved, one("provisioning_delayed"));
    t.drain().await;
    let texts = slack_texts(&slack).await;
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[1].contains("resolved: provisioning_delayed"),
        "{texts:?}"
    );
}

#[tokio::test]
async fn provisioning_is_off_without_the_app_webhook_and_says_so() {
    let slack = slack_fake().await;
    let t = app(&slack, |_| {}).await;
    paid_checkout(&t, 1).await;
    t.drain().await;
    t.clock.advance(Duration::minutes(30));
    let answer = watch(&t).await;
    let rule = answer["rules"]["provisioning_delayed"].as_str().unwrap();
    assert!(
        rule.starts_with("off:") && rule.contains("APP_WEBHOOK_URL"),
        "{answer}"
    );
    assert_eq!(answer["opened"], serde_json::json!([]));
}

#[tokio::test]
async fn a_job_due_too_long_opens_an_outbox_backlog_once_and_resolves_once_when_it_runs() {
    let slack = slack_fake().await;
    let crm = fake_hubspot::start().await;
    let uri = crm.uri();
    let t = app(&slack, move |v| {
        v.insert("HUBSPOT_ACCESS_TOKEN".into(), "pat-FAKE-test-token".into());
        v.insert("HUBSPOT_BASE_URL".into(), uri);
    })
    .await;
    paid_checkout(&t, 1).await;
    t.clock.advance(Duration::minutes(14));
    assert_eq!(runs(&t).await.opened, vec![], "due for 14 min only");
    t.clock.advance(Duration::minutes(2));
    let r = runs(&t).await;
    assert_eq!(r.opened, one("outbox_backlog"));
    t.drain().await;
    let r = runs(&t).await;
    assert_eq!(r.resolved, one("outbox_backlog"));
    t.drain().await;
    let texts = slack_texts(&slack).await;
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[0].contains("opened: outbox_backlog") && texts[0].contains("crm_upsert"),
        "{texts:?}"
    );
    assert!(
        texts[1].contains("resolved: outbox_backlog, after 0 s"),
        "{texts:?}"
    );
}

#[tokio::test]
async fn the_healthy_path_opens_nothing_and_sends_nothing() {
    let slack = slack_fake().await;
    let receiver = app_receiver().await;
    let crm = fake_hubspot::start().await;
    let (hook, crm_uri) = (receiver.uri(), crm.uri());
    let t = app(&slack, move |v| {
        v.insert("APP_WEBHOOK_URL".into(), hook);
        v.insert("APP_WEBHOOK_SECRET".into(), APP_WEBHOOK_SECRET.into());
        v.insert("HUBSPOT_ACCESS_TOKEN".into(), "pat-FAKE-test-token".into());
        v.insert("HUBSPOT_BASE_URL".into(), crm_uri);
    })
    .await;
    for n in 0..6 {
        paid_checkout(&t, n).await;
        t.drain().await;
        let r = runs(&t).await;
        assert!(r.opened.is_empty() && r.resolved.is_empty(), "{}", r.last);
        for rule in [
            "stripe_signature_failures",
            "integration_failing",
            "provisioning_delayed",
            "outbox_backlog",
        ] {
            assert_eq!(r.last["rules"][rule], "evaluated", "{}", r.last);
        }
        t.clock.advance(Duration::minutes(4));
    }
    assert!(incident_rows(&t).await.is_empty());
    assert!(slack_texts(&slack).await.is_empty());
    assert_eq!(receiver.received_requests().await.unwrap().len(), 6);
}

#[tokio::test]
async fn a_slack_kill_switch_holds_the_alerts_without_losing_the_incident_and_they_drain_on_resume()
{
    let slack = slack_fake().await;
    let t = app(&slack, |_| {}).await;
    switch(&t, "slack", false).await;
    for _ in 0..5 {
        forged(&t).await;
    }
    assert_eq!(runs(&t).await.opened, one("stripe_signature_failures"));
    t.drain().await;
    t.clock.advance(Duration::minutes(2));
    let r = runs(&t).await;
    assert!(r.opened.is_empty(), "still the same incident: {r:?}");
    assert_eq!(r.last["open"].as_array().unwrap().len(), 1);
    paid_checkout(&t, 1).await;
    assert_eq!(runs(&t).await.resolved, one("stripe_signature_failures"));
    t.drain().await;
    assert!(slack_texts(&slack).await.is_empty(), "held while paused");
    assert_eq!(
        t.count_where(
            "jobs",
            "kind = 'slack_alert' AND state = 'held' AND reason = 'paused'"
        )
        .await,
        2
    );
    assert_eq!(incident_rows(&t).await.len(), 1);

    switch(&t, "slack", true).await;
    t.drain().await;
    let texts = slack_texts(&slack).await;
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|x| x.contains("opened: stripe_signature_failures")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|x| x.contains("resolved: stripe_signature_failures, after 2 min")),
        "{texts:?}"
    );
}
