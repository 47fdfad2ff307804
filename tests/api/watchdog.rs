//! The watchdog against real stores and a fake Slack that records what it
//! received: each rule opens once across repeated and concurrent runs,
//! resolves once, stays quiet on the healthy path; the Slack kill switch
//! holds the alerts without losing the incident; the admin listing, health
//! and overview show incidents; each rule's query plans on its index.
//! Shared helpers here; the tests in the submodules.

mod flows;
mod plans;
mod rules;
mod views;

use http::{Method, StatusCode};
#[allow(unused_imports)]
use opsbridge::db::Sql;
use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fixtures::checkout_completed;
use crate::helpers::{spawn_app_with, TestApp, CRON_SECRET};

/// A fake Slack incoming webhook: answers `ok`, records every message.
pub async fn slack_fake() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    server
}

/// The texts Slack received, in order.
pub async fn slack_texts(slack: &MockServer) -> Vec<String> {
    slack
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body["text"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

/// An app alerting to `slack`; jobs run only when the test drains.
pub async fn app(
    slack: &MockServer,
    edit: impl FnOnce(&mut std::collections::HashMap<String, String>),
) -> TestApp {
    let uri = slack.uri();
    spawn_app_with(move |v| {
        v.insert("SLACK_WEBHOOK_URL".into(), uri);
        v.insert("TEST_BACKGROUND".into(), "off".into());
        edit(v);
    })
    .await
}

/// One watchdog run through the cron endpoint.
pub async fn watch(t: &TestApp) -> Value {
    let auth = format!("Bearer {CRON_SECRET}");
    let res = t
        .request(
            Method::GET,
            "/api/cron/watchdog",
            &[("authorization", auth.as_str())],
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    res.json()
}

/// `(kind, key)` of a list of incident references.
fn refs(list: &Value) -> Vec<(String, Option<String>)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_string(),
                i["key"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// What five runs opened and resolved, all together: three at once, then
/// two after each other.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Runs {
    pub opened: Vec<(String, Option<String>)>,
    pub resolved: Vec<(String, Option<String>)>,
    pub last: Value,
}

pub async fn runs(t: &TestApp) -> Runs {
    let (a, b, c) = tokio::join!(watch(t), watch(t), watch(t));
    let d = watch(t).await;
    let e = watch(t).await;
    let mut r = Runs::default();
    for answer in [&a, &b, &c, &d, &e] {
        r.opened.extend(refs(&answer["opened"]));
        r.resolved.extend(refs(&answer["resolved"]));
    }
    r.last = e;
    r
}

/// `(kind, key)` with no key.
pub fn one(kind: &str) -> Vec<(String, Option<String>)> {
    vec![(kind.to_string(), None)]
}

/// Posts a paid checkout for member `n` (signed now).
pub async fn paid_checkout(t: &TestApp, n: usize) {
    let ev = checkout_completed(
        &format!("evt_WD{n:05}"),
        t.clock_now().timestamp() - 5,
        &format!("cus_WD{n:05}"),
        &format!("wd{n}@example.com"),
        None,
    );
    assert_eq!(t.post_stripe(&ev).await.status, StatusCode::OK);
}

/// Posts one delivery with a signature that does not verify.
pub async fn forged(t: &TestApp) {
    let res = t
        .post_stripe_raw(b"{\"id\":\"evt_forged\"}".to_vec(), Some("t=1,v1=00"))
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

/// Rows of `incidents` as (kind, key, status), oldest first.
pub async fn incident_rows(t: &TestApp) -> Vec<(String, Option<String>, String)> {
    t.db()
        .await
        .query("SELECT kind, key, status FROM incidents ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// Pauses or resumes an integration's kill switch.
pub async fn switch(t: &TestApp, name: &str, enabled: bool) {
    let client = t.db().await;
    opsbridge::flags::set(&client, name, enabled, "test", "", t.clock_now())
        .await
        .unwrap();
}
