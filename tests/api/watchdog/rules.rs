//! The two rules that resolve on a good signal: Stripe signature failures
//! (a verified delivery) and a failing integration (a successful request).

use chrono::Duration;
#[allow(unused_imports)]
use opsbridge::db::Sql;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{app, forged, incident_rows, one, paid_checkout, runs, slack_fake, slack_texts};
use crate::fake_hubspot::{Upsert, UPSERT_PATH};

#[tokio::test]
async fn signature_failures_open_once_across_repeated_and_concurrent_runs_and_resolve_once_when_a_delivery_verifies(
) {
    let slack = slack_fake().await;
    let t = app(&slack, |_| {}).await;
    for _ in 0..4 {
        forged(&t).await;
    }
    assert_eq!(
        runs(&t).await.opened,
        vec![],
        "4 refusals are under the threshold"
    );
    forged(&t).await;
    let r = runs(&t).await;
    assert_eq!(r.opened, one("stripe_signature_failures"));
    assert_eq!(r.resolved, vec![]);
    assert_eq!(r.last["open"].as_array().unwrap().len(), 1);
    assert_eq!(r.last["rules"]["stripe_signature_failures"], "evaluated");
    t.drain().await;
    let texts = slack_texts(&slack).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("opened: stripe_signature_failures"),
        "{texts:?}"
    );
    assert!(texts[0].contains("STRIPE_WEBHOOK_SECRET"), "{texts:?}");

    // Still failing a few minutes later: open, silent.
    t.clock.advance(Duration::minutes(3));
    forged(&t).await;
    let r = runs(&t).await;
    assert!(r.opened.is_empty() && r.resolved.is_empty(), "{r:?}");
    assert_eq!(r.last["open"].as_array().unwrap().len(), 1);
    t.drain().await;
    assert_eq!(slack_texts(&slack).await.len(), 1);

    // The secret is fixed: a delivery verifies.
    t.clock.advance(Duration::minutes(1));
    paid_checkout(&t, 1).await;
    let r = runs(&t).await;
    assert_eq!(r.resolved, one("stripe_signature_failures"));
    assert_eq!(r.opened, vec![]);
    t.drain().await;
    let texts = slack_texts(&slack).await;
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[1].contains("resolved: stripe_signature_failures, after 4 min"),
        "{texts:?}"
    );
    let rows = incident_rows(&t).await;
    assert_eq!(
        rows,
        vec![("stripe_signature_failures".into(), None, "resolved".into())]
    );
    assert_eq!(runs(&t).await.resolved, vec![], "resolved once");
}

#[tokio::test]
async fn signature_failures_while_verified_events_keep_arriving_do_not_open() {
    let slack = slack_fake().await;
    let t = app(&slack, |_| {}).await;
    for n in 0..3 {
        for _ in 0..4 {
            forged(&t).await;
        }
        paid_checkout(&t, n).await;
        t.clock.advance(Duration::minutes(2));
    }
    let r = runs(&t).await;
    assert_eq!(r.opened, vec![], "{}", r.last);
    assert!(incident_rows(&t).await.is_empty());
}

async fn hubspot(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(UPSERT_PATH))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

fn with_hubspot(
    server: &MockServer,
) -> impl FnOnce(&mut std::collections::HashMap<String, String>) {
    let uri = server.uri();
    move |v| {
        v.insert("HUBSPOT_ACCESS_TOKEN".into(), "pat-FAKE-test-token".into());
        v.insert("HUBSPOT_BASE_URL".into(), uri);
    }
}

#[tokio::test]
async fn a_failing_integration_opens_once_at_three_failed_requests_and_resolves_once_at_its_first_success(
) {
    let slack = slack_fake().await;
    let crm = hubspot(500).await;
    let t = app(&slack, with_hubspot(&crm)).await;
    for n in 0..2 {
        paid_checkout(&t, n).await;
        t.drain().await;
    }
    assert_eq!(
        runs(&t).await.opened,
        vec![],
        "2 failed requests are under the threshold"
    );
    paid_checkout(&t, 2).await;
    t.drain().await;
    let r = runs(&t).await;
    assert_eq!(
        r.opened,
        vec![(
            "integration_failing".to_string(),
            Some("hubspot".to_string())
        )]
    );
    t.drain().await;
    let texts = slack_texts(&slack).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("integration_failing (hubspot)"),
        "{texts:?}"
    );
    assert!(texts[0].contains("upstream_5xx, HTTP 500"), "{texts:?}");

    // HubSpot is back: the retries succeed, in one batch.
    crm.reset().await;
    Mock::given(method("POST"))
        .and(path(UPSERT_PATH))
        .respond_with(Upsert)
        .mount(&crm)
        .await;
    t.clock.advance(Duration::minutes(5));
    t.drain().await;
    let r = runs(&t).await;
    assert_eq!(
        r.resolved,
        vec![(
            "integration_failing".to_string(),
            Some("hubspot".to_string())
        )]
    );
    assert_eq!(r.opened, vec![]);
    t.drain().await;
    let texts = slack_texts(&slack).await;
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[1].contains("resolved: integration_failing (hubspot)"),
        "{texts:?}"
    );
}

#[tokio::test]
async fn a_failed_batch_counts_as_one_request() {
    let slack = slack_fake().await;
    let crm = hubspot(503).await;
    let t = app(&slack, with_hubspot(&crm)).await;
    for n in 0..5 {
        paid_checkout(&t, n).await;
    }
    t.drain().await;
    let row = t
        .db()
        .await
        .query_one("SELECT count(*), sum(jobs)::int8 FROM integration_requests WHERE integration = 'hubspot' AND NOT ok", &[])
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (1, 5));
    assert_eq!(runs(&t).await.opened, vec![]);
    assert_eq!(crm.received_requests().await.unwrap().len(), 1);
    assert_eq!(slack_texts(&slack).await.len(), 0);
}

/// The "verified" marker is written by the first verified delivery of each
/// minute in an instance (the rule reads whole minutes), not by every batch.
#[tokio::test]
async fn the_verified_marker_is_written_once_a_minute_per_instance() {
    let slack = slack_fake().await;
    let t = app(&slack, |_| {}).await;
    let marker = || async {
        t.app
            .kv
            .get("watch:stripe_verified_at")
            .await
            .unwrap()
            .expect("a verified delivery wrote the marker")
    };
    paid_checkout(&t, 0).await;
    let first = marker().await;
    assert_eq!(first, t.clock_now().timestamp_millis().to_string());
    t.clock.advance(Duration::seconds(30));
    paid_checkout(&t, 1).await;
    assert_eq!(marker().await, first, "the same minute: not written again");
    t.clock.advance(Duration::seconds(31));
    paid_checkout(&t, 2).await;
    assert_eq!(
        marker().await,
        t.clock_now().timestamp_millis().to_string(),
        "the next minute's first delivery writes it"
    );
}
