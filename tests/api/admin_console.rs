//! The admin console: member search with its merged timeline, the overview,
//! kill switches, the event export, and the page itself (served without the
//! token, strict headers, no way for stored text to become markup).
//! Shared helpers here; the tests in the submodules.

mod members;
mod operations;
mod page;

use axum::body::Body;
use http::{Method, StatusCode};
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fake_hubspot::UPSERT_PATH;
use crate::fixtures::checkout_completed;
use crate::helpers::{spawn_app_with, TestApp, TestResponse};

pub const ADMIN: &str = "Bearer test-admin-token";
pub const EMAIL: &str = "Jane.Console@example.com";
pub const CUSTOMER: &str = "cus_ConsoleTest01";

pub async fn admin(t: &TestApp, m: Method, path: &str, body: Option<Value>) -> TestResponse {
    let body = body
        .map(|b| Body::from(b.to_string()))
        .unwrap_or_else(Body::empty);
    let headers = [
        ("authorization", ADMIN),
        ("content-type", "application/json"),
    ];
    t.request(m, path, &headers, body).await
}

pub async fn get_json(t: &TestApp, path: &str) -> (StatusCode, Value) {
    let res = admin(t, Method::GET, path, None).await;
    (res.status, res.json())
}

/// One active member (paid checkout) whose CRM job died (HubSpot answers 400).
pub async fn app_with_member() -> (TestApp, MockServer) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(UPSERT_PATH))
        .respond_with(ResponseTemplate::new(400))
        .mount(&server)
        .await;
    let uri = server.uri();
    let t = spawn_app_with(move |v| {
        v.insert("HUBSPOT_ACCESS_TOKEN".into(), "pat-test".into());
        v.insert("HUBSPOT_BASE_URL".into(), uri);
        v.insert("TEST_BACKGROUND".into(), "off".into());
    })
    .await;
    let created = t.clock_now().timestamp() - 120;
    let ev = checkout_completed(
        "evt_Console0001",
        created,
        CUSTOMER,
        EMAIL,
        Some("usr_console_1"),
    );
    assert_eq!(t.post_stripe(&ev).await.status, StatusCode::OK);
    t.drain().await;
    (t, server)
}

pub fn entries<'a>(timeline: &'a Value, source: &str) -> Vec<&'a Value> {
    let all = timeline.as_array().expect("timeline array");
    all.iter().filter(|e| e["source"] == source).collect()
}
