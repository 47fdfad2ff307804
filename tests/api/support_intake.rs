//! `POST /api/support/intake` and the admin tickets API: one ticket per
//! conversation, with context, priority and an owner; abuse controls;
//! Idempotency-Key; the signed helpdesk webhook. Shared helpers here, the
//! tests by area below.

#[allow(unused_imports)]
use opsbridge::db::Sql;
mod abuse;
mod auto_reply;
mod idempotency;
mod inbound;
mod input;
mod tickets;

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
const HELPDESK_SECRET: &str = "whsec_FAKEhelpdeskKEY0";
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
