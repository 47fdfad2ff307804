//! The founder's app, end to end against real Postgres and Redis, with a
//! fake app receiver and a fake Resend (wiremock) that record every request;
//! each member webhook is verified the way the app would (Standard Webhooks).
//!
//! - [`events_in`]: `POST /api/members/events` (dedupe, concurrency, bad input).
//! - [`access_out`]: `GET /api/members/access`, linking a checkout, webhook order.
//! - [`billing`]: the failed-payment email, grace expiry, retries, metrics.
//! - [`group_commit`]: concurrent events in one transaction per batch.

mod access_out;
mod billing;
mod events_in;
mod group_commit;

use std::time::Duration;

use http::Method;
use opsbridge::secret::Secret;
use opsbridge::signature::standard::{self, StandardHeaders};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{spawn_app_with, TestApp, TestResponse, APP_API_TOKEN};

/// An obviously fake `whsec_` key (valid base64 that spells FAKE...).
pub const APP_WEBHOOK_SECRET: &str = "whsec_FAKEappHOOKkey00";
pub const RESEND_KEY: &str = "re_test_key";

/// The fake app receiver and the fake Resend.
pub struct Fakes {
    pub app: MockServer,
    pub resend: MockServer,
}

impl Fakes {
    /// Both fakes answering 200 (mount other answers first to override).
    pub async fn start() -> Self {
        let fakes = Self {
            app: MockServer::start().await,
            resend: MockServer::start().await,
        };
        Mock::given(method("POST"))
            .and(path("/hooks"))
            .respond_with(ResponseTemplate::new(200))
            .with_priority(10)
            .mount(&fakes.app)
            .await;
        Mock::given(method("POST"))
            .and(path("/emails"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "em_1"})))
            .mount(&fakes.resend)
            .await;
        fakes
    }

    /// The app configured against these fakes.
    pub async fn spawn(&self) -> TestApp {
        let (hooks, resend) = (format!("{}/hooks", self.app.uri()), self.resend.uri());
        spawn_app_with(move |v| {
            v.insert("APP_WEBHOOK_URL".into(), hooks);
            v.insert("APP_WEBHOOK_SECRET".into(), APP_WEBHOOK_SECRET.into());
            v.insert("RESEND_API_KEY".into(), RESEND_KEY.into());
            v.insert("RESEND_BASE_URL".into(), resend);
            v.insert("EMAIL_FROM".into(), "Billing <billing@example.com>".into());
        })
        .await
    }

    /// Every request the app receiver got, in order, each verified as the
    /// app would verify it: `(webhook-id, body)`.
    pub async fn hooks(&self) -> Vec<(String, Value)> {
        let requests = self.app.received_requests().await.unwrap_or_default();
        requests
            .iter()
            .map(|r| {
                let headers = StandardHeaders::from_map(&r.headers).expect("headers");
                let t: i64 = headers.timestamp.expect("timestamp").parse().unwrap();
                standard::verify(
                    &[Secret::new(APP_WEBHOOK_SECRET)],
                    &headers,
                    &r.body,
                    300,
                    t,
                )
                .expect("a valid Standard Webhooks signature");
                (headers.id.unwrap().to_string(), r.body_json().unwrap())
            })
            .collect()
    }

    /// Emails Resend received.
    pub async fn emails(&self) -> Vec<wiremock::Request> {
        self.resend.received_requests().await.unwrap_or_default()
    }
}

/// Waits for background work, then runs the sweep until nothing is due or running.
pub async fn flush(t: &TestApp) {
    for _ in 0..250 {
        if t.count_where("jobs", "state = 'running'").await == 0 {
            t.drain().await;
            if t.count_where("jobs", "state = 'running'").await == 0 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("jobs still running after 5 s");
}

/// POSTs an app event with the token and JSON content type.
pub async fn post_event(t: &TestApp, body: &Value) -> TestResponse {
    let auth = format!("Bearer {APP_API_TOKEN}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    t.request(
        Method::POST,
        "/api/members/events",
        &headers,
        serde_json::to_vec(body).unwrap(),
    )
    .await
}

/// `GET /api/members/access?{query}` with the token.
pub async fn get_access(t: &TestApp, query: &str) -> TestResponse {
    let auth = format!("Bearer {APP_API_TOKEN}");
    let uri = format!("/api/members/access?{query}");
    t.request(
        Method::GET,
        &uri,
        &[("authorization", auth.as_str())],
        axum::body::Body::empty(),
    )
    .await
}

/// A `user.signed_up` event.
pub fn signup(id: &str, user_id: &str, email: &str) -> Value {
    json!({"id": id, "type": "user.signed_up", "user_id": user_id, "email": email,
           "name": "Jane Doe", "source": "landing_page"})
}
